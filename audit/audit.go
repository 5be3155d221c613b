// Package audit is dingbook's audit trail: an append-only, hash-chained log
// in the state database (table audit_log, store/migration/003_audit.sql).
// audit computes and checks the chain; its rows are read and written
// through store's methods, and AppendWith lets a caller write what a
// record records (an export's registration and holding, a purge's
// deletion) in the record's own transaction.
//
// Every pull, export, convert, import, purge and policy change is recorded,
// as is every failed or refused attempt. A record holds who, when, what,
// why (purpose, legal basis, justification), which fields and departments,
// how many rows, the output files' paths and SHA-256, the seal, the expiry
// and the outcome; never personal data itself.
//
// # Chain
//
// Record n stores prev_hash = hash of record n-1 (64 zeros for the first)
// and hash = SHA-256("dingbook-audit-v1" 0x00 n 0x00 prev_hash 0x00 data),
// where data is the record's canonical JSON as stored. SQLite triggers
// refuse UPDATE and DELETE, and every append also writes the head (seq and
// hash) to audit.head in the state directory, so that Verify catches
// edited, deleted, reordered and truncated records even when the triggers
// were dropped. While audit.head and the log disagree (missing,
// unreadable, behind or ahead), Append refuses to write and Verify fails,
// until Acknowledge records the gap ('dingbook audit acknowledge'). Head
// returns the head hash for anchoring elsewhere (a ticket, an e-mail);
// VerifyAgainst checks an anchored hash.
package audit

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/fileutil"
	"github.com/dingbook/dingbook/store"
)

// Actions recorded in the log.
const (
	ActionExport       = "export"
	ActionConvert      = "convert"
	ActionImport       = "import"
	ActionPull         = "pull"
	ActionPush         = "push" // rows written to a Google Sheet
	ActionPurge        = "purge"
	ActionPolicyChange = "policy-change"
	// ActionAcknowledge records an administrator's acknowledgement of a
	// gap between the log and its anchor (Acknowledge).
	ActionAcknowledge = "audit-acknowledge"
	// ActionLogin records a 'dingbook serve' login, admitted or refused;
	// ActionLogout the end of a session (a logout, or a leaver's sessions
	// ended).
	ActionLogin  = "login"
	ActionLogout = "logout"
	// ActionAppPassword records a CardDAV app password created or
	// revoked (Details["op"]: "create", "revoke"; a leaver's are revoked
	// by the pull).
	ActionAppPassword = "app-password"
)

// Outcomes.
const (
	OutcomeOK      = "ok"
	OutcomeFailed  = "failed"
	OutcomeRefused = "refused"
)

// GenesisHash is the prev_hash of the first record.
var GenesisHash = strings.Repeat("0", 64)

// HeadFile is the name of the head anchor file in the state directory.
const HeadFile = "audit.head"

// Output is one file an action wrote (or deleted).
type Output struct {
	Path   string `json:"path"`
	Name   string `json:"name,omitempty"` // entry name inside a bundle
	Format string `json:"format,omitempty"`
	Rows   int    `json:"rows,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Record is one audit log entry. Seq, PrevHash and Hash are set by Append.
type Record struct {
	Seq      int64  `json:"-"`
	PrevHash string `json:"-"`
	Hash     string `json:"-"`

	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Outcome string    `json:"outcome"`
	// Reason explains a failed or refused outcome.
	Reason string `json:"reason,omitempty"`

	ExportID string `json:"export_id,omitempty"`
	Tenant   string `json:"tenant,omitempty"`
	Snapshot int64  `json:"snapshot,omitempty"`
	Source   string `json:"source,omitempty"`

	Purpose       string `json:"purpose,omitempty"`
	Basis         string `json:"basis,omitempty"`
	Justification string `json:"justification,omitempty"`

	Profile              string   `json:"profile,omitempty"`
	Fields               []string `json:"fields,omitempty"`
	DeptScope            []string `json:"dept_scope,omitempty"`
	Masks                []string `json:"masks,omitempty"`
	IncludeHiddenMobiles bool     `json:"include_hidden_mobiles,omitempty"`

	Rows    int      `json:"rows,omitempty"`
	Outputs []Output `json:"outputs,omitempty"`
	Seal    string   `json:"seal,omitempty"`
	// Expires is the export's expiry (nil when not an export).
	Expires    *time.Time `json:"expires,omitempty"`
	PolicyHash string     `json:"policy_hash,omitempty"`
	// Recipient and the references a transfer carried (issue 13).
	Recipient        string `json:"recipient,omitempty"`
	RecipientCountry string `json:"recipient_country,omitempty"`
	Contract         string `json:"contract,omitempty"`
	Mechanism        string `json:"mechanism,omitempty"`
	ConsentRef       string `json:"consent_ref,omitempty"`
	PIA              string `json:"pia,omitempty"`
	// Details holds further non-personal facts (e.g. "snapshot_deleted").
	Details map[string]string `json:"details,omitempty"`
}

// ChainHash computes a record's hash from its seq, prev_hash and data.
func ChainHash(seq int64, prev, data string) string {
	h := sha256.New()
	h.Write([]byte("dingbook-audit-v1\x00"))
	h.Write([]byte(strconv.FormatInt(seq, 10)))
	h.Write([]byte{0})
	h.Write([]byte(prev))
	h.Write([]byte{0})
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil))
}

// Append adds r to the log and returns it with Seq, PrevHash and Hash set.
// A zero Time is set to now; Outcome defaults to "ok". It refuses to write
// (an *dingbook.Error) while the log and its anchor audit.head disagree
// (see CheckAnchor) until Acknowledge records the gap.
func Append(ctx context.Context, db *store.DB, r Record) (Record, error) {
	return appendRecord(ctx, db, r, false, nil)
}

// AppendWith is Append with more writes in the same transaction: then
// runs after r is inserted (r has its Seq and Hash) and before the commit,
// so that r and what then writes (an export's registration and holding,
// the removal of a swept orphan) land together or not at all.
func AppendWith(ctx context.Context, db *store.DB, r Record, then func(tx *store.Tx, r Record) error) (Record, error) {
	return appendRecord(ctx, db, r, false, then)
}

// Acknowledge records, as an administrator's decision with reason, the
// gap between the log and its anchor that makes Append refuse (a missing,
// unreadable or lagging audit.head, or a log shorter than its anchor).
// The record (action audit-acknowledge) holds what the anchor and the log
// said; dingbook writes again after it. Without a gap it refuses.
func Acknowledge(ctx context.Context, db *store.DB, actor, reason string) (Record, error) {
	if strings.TrimSpace(reason) == "" {
		return Record{}, &dingbook.Error{Code: dingbook.EINVALID, Message: "an acknowledgement needs a reason", Hint: "say what was investigated", Field: "reason"}
	}
	return appendRecord(ctx, db, Record{Actor: actor, Action: ActionAcknowledge, Reason: reason}, true, nil)
}

func appendRecord(ctx context.Context, db *store.DB, r Record, ack bool, then func(*store.Tx, Record) error) (Record, error) {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Time = r.Time.UTC().Round(time.Microsecond)
	if r.Outcome == "" {
		r.Outcome = OutcomeOK
	}
	if r.Expires != nil {
		e := r.Expires.UTC().Round(time.Second)
		r.Expires = &e
	}
	if r.Action == "" || r.Actor == "" {
		return r, fmt.Errorf("audit: record needs an action and an actor")
	}
	// Not the request context: an interrupted command must still be able
	// to record that it failed.
	actx := context.WithoutCancel(ctx)
	path := filepath.Join(db.Dir, HeadFile)
	var old []byte // the anchor as it was, restored if the commit fails
	anchored := false
	err := db.Write(actx, func(tx *store.Tx) error {
		// The write transaction holds the database's write lock from its
		// start: the head read here is the head the record follows.
		last, prev, err := tx.AuditHead()
		if err != nil {
			return err
		}
		r.Seq = last + 1
		r.PrevHash = cmp.Or(prev, GenesisHash)
		if db.Dir != "" {
			var a anchor
			a, old = readAnchor(db.Dir)
			gap := a.gap(last, prev)
			switch {
			case ack && gap == "":
				return &dingbook.Error{Code: dingbook.EINVALID, Message: "nothing to acknowledge: the audit log and " + HeadFile + " agree",
					Hint: "run 'dingbook audit verify' to check the whole log"}
			case ack:
				r.Details = map[string]string{"gap": gap, "log_seq": strconv.FormatInt(last, 10), "log_hash": cmp.Or(prev, GenesisHash),
					"anchor": strings.ToValidUTF8(strings.TrimSpace(string(old[:min(len(old), 200)])), "?")}
			case gap != "":
				return anchorError(r.Action, gap)
			}
		}
		data, err := json.Marshal(&r)
		if err != nil {
			return err
		}
		r.Hash = ChainHash(r.Seq, r.PrevHash, string(data))
		if err := tx.AppendAudit(store.AuditRow{Seq: r.Seq, Time: r.Time.Format(time.RFC3339Nano), Actor: r.Actor, Action: r.Action, Outcome: r.Outcome,
			Data: string(data), PrevHash: r.PrevHash, Hash: r.Hash}); err != nil {
			return err
		}
		if then != nil {
			if err := then(tx, r); err != nil {
				return err
			}
		}
		// The anchor is written while the transaction holds the write
		// lock, so that no other process sees the log and the anchor
		// disagree; if it cannot be written (a full disk), the record is
		// rolled back.
		if db.Dir != "" {
			if err := writeAnchor(path, []byte(fmt.Sprintf("%d %s\n", r.Seq, r.Hash))); err != nil {
				return &dingbook.Error{Code: dingbook.EINTERNAL, Message: fmt.Sprintf("audit: cannot write the head anchor %s, so the %s was not recorded", path, r.Action),
					Hint: "free space in the state directory (DINGBOOK_HOME) and run the command again", Err: err}
			}
			anchored = true
		}
		return nil
	})
	if err != nil && anchored {
		// The commit failed after the anchor moved: put it back.
		if old != nil {
			writeAnchor(path, old)
		} else {
			os.Remove(path)
		}
		return r, fmt.Errorf("audit: commit: %w", err)
	}
	return r, err
}

// writeAnchor writes audit.head atomically (a variable, so tests can make
// it fail as a full disk would).
var writeAnchor = defaultWriteAnchor

func defaultWriteAnchor(path string, data []byte) error { return fileutil.WriteFile(path, data, true) }

// anchor is what audit.head says: the seq and hash of the last record.
type anchor struct {
	seq        int64
	hash       string
	missing    bool
	unreadable bool
}

// readAnchor reads dir's audit.head; raw is its content (nil when missing).
func readAnchor(dir string) (a anchor, raw []byte) {
	b, err := os.ReadFile(filepath.Join(dir, HeadFile))
	if errors.Is(err, os.ErrNotExist) {
		return anchor{missing: true}, nil
	}
	if err != nil {
		return anchor{unreadable: true}, nil
	}
	if _, err := fmt.Sscanf(string(b), "%d %s", &a.seq, &a.hash); err != nil || a.seq < 0 {
		return anchor{unreadable: true}, b
	}
	return a, b
}

// gap says how the anchor and the log's head (seq, hash; 0 and "" for an
// empty log) disagree, and which is behind; "" when they agree.
func (a anchor) gap(seq int64, hash string) string {
	switch {
	case a.unreadable:
		return fmt.Sprintf("the head anchor %s is unreadable (the log ends at record %d)", HeadFile, seq)
	case a.missing && seq == 0:
		return ""
	case a.missing:
		return fmt.Sprintf("the head anchor %s is missing although the log has %d records (it was deleted, and maybe the newest records with it)", HeadFile, seq)
	case a.seq > seq:
		return fmt.Sprintf("the log is behind its anchor: %s says %d records, the log ends at record %d (records %d to %d were deleted)", HeadFile, a.seq, seq, seq+1, a.seq)
	case a.seq < seq:
		return fmt.Sprintf("the anchor is behind the log: %s names record %d, the log ends at record %d (an anchor write failed, or %s was replaced by an old copy)", HeadFile, a.seq, seq, HeadFile)
	case a.hash != hash:
		return fmt.Sprintf("record %d differs from the head anchor in %s", seq, HeadFile)
	}
	return ""
}

func anchorError(action, gap string) error {
	return &dingbook.Error{Code: dingbook.EINTERNAL, Message: fmt.Sprintf("the audit log refuses to record this %s: %s", action, gap),
		Hint: "run 'dingbook audit verify' and keep a copy of the state directory for investigation; once investigated, an administrator records the gap with 'dingbook audit acknowledge --reason TEXT', and dingbook writes again"}
}

// CheckAnchor returns the error Append would return now because the log
// and its anchor disagree (nil when they agree), so that a command can
// refuse before doing its work.
//
// It reads the log's head and the anchor under the write lock, as Append
// does: outside it, a concurrent Append (which writes the anchor just
// before its commit) would show an anchor one record ahead of the log.
func CheckAnchor(ctx context.Context, db *store.DB, action string) error {
	if db.Dir == "" {
		return nil
	}
	var gapErr error
	err := db.Write(ctx, func(tx *store.Tx) error {
		seq, hash, err := tx.AuditHead()
		if err != nil {
			return err
		}
		a, _ := readAnchor(db.Dir)
		if gap := a.gap(seq, hash); gap != "" {
			gapErr = anchorError(action, gap)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return gapErr
}

// fromRow decodes a stored row; data is the hashed JSON and cols the
// copy columns (time, actor, action, outcome) for Verify.
func fromRow(row store.AuditRow) (Record, [4]string, error) {
	var r Record
	err := json.Unmarshal([]byte(row.Data), &r)
	r.Seq, r.PrevHash, r.Hash = row.Seq, row.PrevHash, row.Hash
	return r, [4]string{row.Time, row.Actor, row.Action, row.Outcome}, err
}

// Filter selects records for List.
type Filter struct {
	Since, Until time.Time // zero: unbounded
	Action       string
	Actor        string
	Limit        int // 0: all
	// Skip leaves out the newest Skip matching records (with Limit: a
	// page of the log, read by seeking).
	Skip int
}

// List returns records matching f in seq order.
func List(ctx context.Context, db *store.DB, f Filter) ([]Record, error) {
	var out []Record
	err := db.EachAudit(ctx, store.AuditQuery{Since: f.Since, Until: f.Until, Action: f.Action, Actor: f.Actor, Last: f.Limit, Skip: f.Skip}, func(row store.AuditRow) error {
		r, _, err := fromRow(row)
		if err != nil {
			return fmt.Errorf("audit record %d: %w", r.Seq, err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// Get returns record seq.
func Get(ctx context.Context, db *store.DB, seq int64) (Record, error) {
	row, ok, err := db.AuditRecord(ctx, seq)
	if err != nil {
		return Record{}, err
	}
	if !ok {
		return Record{}, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("no audit record %d", seq), Hint: "run 'dingbook audit list' to see the records"}
	}
	r, _, err := fromRow(row)
	return r, err
}

// GetSeqs returns the records numbered seqs, by seq (a number without a
// record is left out), read together rather than one by one.
func GetSeqs(ctx context.Context, db *store.DB, seqs []int64) (map[int64]Record, error) {
	rows, err := db.AuditRecordsBySeq(ctx, seqs)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]Record, len(rows))
	for _, row := range rows {
		r, _, err := fromRow(row)
		if err != nil {
			return nil, fmt.Errorf("audit record %d: %w", row.Seq, err)
		}
		out[r.Seq] = r
	}
	return out, nil
}

// Head returns the last record's seq and hash (0 and GenesisHash when the
// log is empty).
func Head(ctx context.Context, db *store.DB) (int64, string, error) {
	seq, hash, err := db.AuditHead(ctx)
	return seq, cmp.Or(hash, GenesisHash), err
}

// LastPolicyHash returns the policy hash recorded by the last successful
// policy-change record, or "" if there is none.
func LastPolicyHash(ctx context.Context, db *store.DB) (string, error) {
	row, ok, err := db.LastAudit(ctx, ActionPolicyChange, OutcomeOK)
	if err != nil || !ok {
		return "", err
	}
	var r Record
	if err := json.Unmarshal([]byte(row.Data), &r); err != nil {
		return "", err
	}
	return r.PolicyHash, nil
}

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	OK       bool   `json:"ok"`
	Records  int    `json:"records"`
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
	// FirstBad is the seq of the first record found edited, missing or out
	// of order (0 when OK).
	FirstBad int64  `json:"first_bad,omitempty"`
	Problem  string `json:"problem,omitempty"`
	// Anchor: the chain is whole but disagrees with its head anchor
	// (audit.head, or the anchor VerifyAgainst was given); Problem says how.
	Anchor bool `json:"-"`
	// Acknowledged are the seqs of audit-acknowledge records: gaps between
	// the log and its anchor an administrator recorded (audit show N).
	Acknowledged []int64 `json:"acknowledged,omitempty"`
}

// Verify walks the whole chain and checks every link, every hash, the copy
// columns, and the head anchor file. It reports the first bad record.
func Verify(ctx context.Context, db *store.DB) (*VerifyResult, error) {
	return VerifyAgainst(ctx, db, "")
}

// VerifyAgainst is Verify plus a check that the chain contains anchor (a
// head hash printed earlier by 'dingbook audit head').
func VerifyAgainst(ctx context.Context, db *store.DB, anchor string) (*VerifyResult, error) {
	res := &VerifyResult{HeadHash: GenesisHash}
	bad := func(seq int64, format string, args ...any) (*VerifyResult, error) {
		res.OK = false
		res.FirstBad = seq
		res.Problem = fmt.Sprintf(format, args...)
		return res, nil
	}
	badAnchor := func(seq int64, format string, args ...any) (*VerifyResult, error) {
		res.Anchor = true
		return bad(seq, format, args...)
	}
	prevHash := GenesisHash
	var expect int64 = 1
	anchorFound := anchor == ""
	hashes := map[int64]string{}
	errBad := errors.New("bad record") // stops the walk at the first bad record
	err := db.EachAudit(ctx, store.AuditQuery{Stored: true}, func(row store.AuditRow) error {
		r, cols, err := fromRow(row)
		switch {
		case r.Seq > expect:
			if expect == r.Seq-1 {
				bad(expect, "record %d is missing (deleted): record %d follows record %d", expect, r.Seq, expect-1)
			} else {
				bad(expect, "records %d to %d are missing (deleted): record %d follows record %d", expect, r.Seq-1, r.Seq, expect-1)
			}
			return errBad
		case r.Seq < expect:
			bad(r.Seq, "record %d is out of order: it comes after record %d (records were reordered)", r.Seq, expect-1)
			return errBad
		}
		if r.PrevHash != prevHash {
			bad(r.Seq, "record %d does not link to record %d (prev_hash differs): records were deleted, inserted or reordered", r.Seq, r.Seq-1)
			return errBad
		}
		if ChainHash(r.Seq, r.PrevHash, row.Data) != r.Hash {
			bad(r.Seq, "record %d was edited: its hash does not match its contents", r.Seq)
			return errBad
		}
		if err != nil {
			bad(r.Seq, "record %d is corrupt: %v", r.Seq, err)
			return errBad
		}
		want := [4]string{r.Time.Format(time.RFC3339Nano), r.Actor, r.Action, r.Outcome}
		if cols != want {
			bad(r.Seq, "record %d was edited: its time/actor/action/outcome columns differ from the hashed record", r.Seq)
			return errBad
		}
		if r.Hash == anchor {
			anchorFound = true
		}
		if r.Action == ActionAcknowledge {
			res.Acknowledged = append(res.Acknowledged, r.Seq)
		}
		hashes[r.Seq] = r.Hash
		prevHash = r.Hash
		res.Records++
		res.HeadSeq = r.Seq
		res.HeadHash = r.Hash
		expect = r.Seq + 1
		return nil
	})
	if errors.Is(err, errBad) {
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	if db.Dir != "" {
		// The log and its anchor must agree; a gap an administrator
		// acknowledged is behind the acknowledgement's record, which
		// Append anchored.
		a, _ := readAnchor(db.Dir)
		switch {
		case a.unreadable:
			return badAnchor(res.HeadSeq+1, "the head anchor %s is unreadable", HeadFile)
		case a.missing && res.Records > 0:
			return badAnchor(res.HeadSeq+1, "the head anchor %s is missing although the log has %d records", HeadFile, res.Records)
		case a.missing:
		case a.seq > res.HeadSeq:
			return badAnchor(res.HeadSeq+1, "records %d to %d are missing: the log was truncated after record %d (anchor %s says %d records); the log is behind its anchor", res.HeadSeq+1, a.seq, res.HeadSeq, HeadFile, a.seq)
		case a.seq < res.HeadSeq:
			return badAnchor(a.seq+1, "the anchor is behind the log: %s names record %d, the log ends at record %d; records %d to %d are not anchored (an anchor write failed, or %s was replaced by an old copy)", HeadFile, a.seq, res.HeadSeq, a.seq+1, res.HeadSeq, HeadFile)
		case hashes[a.seq] != a.hash:
			return badAnchor(a.seq, "record %d differs from the head anchor in %s", a.seq, HeadFile)
		}
	}
	if !anchorFound {
		return badAnchor(res.HeadSeq+1, "the anchored head hash %.16s… is not in the log: records up to it were edited or removed", anchor)
	}
	res.OK = true
	return res, nil
}
