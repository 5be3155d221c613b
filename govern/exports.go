package govern

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/internal/fileutil"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

// Export states.
const (
	StatePresent = "present"
	StateExpired = "expired" // past its expiry, not purged yet
	StatePurged  = "purged"
	StateMissing = "missing" // not expired, but the file is gone
)

// Export is one registered bundle.
type Export struct {
	ID       string     `json:"id"`
	Created  time.Time  `json:"created"`
	Actor    string     `json:"actor"`
	Action   string     `json:"action"`
	Path     string     `json:"path"`
	Seal     string     `json:"seal"`
	SHA256   string     `json:"sha256"`
	Bytes    int64      `json:"bytes"`
	Rows     int        `json:"rows"`
	Expires  time.Time  `json:"expires"`
	Purged   *time.Time `json:"purged,omitempty"`
	AuditSeq int64      `json:"audit_seq"`
	State    string     `json:"state"`
}

// registerExport returns the writes that go with an export's audit
// record (audit.AppendWith): the bundle's registration, its holding with
// the people's hashes, and the removal of its intent, so that all of them
// and the record land in one transaction.
func registerExport(pol *policy.Policy, req *Request, path, sum string, n int64, holders []uint64) func(*store.Tx, audit.Record) error {
	return func(tx *store.Tx, rec audit.Record) error {
		e := store.ExportRow{ID: rec.ExportID, Created: rec.Time, Actor: rec.Actor, Action: req.Action, Path: path, Seal: rec.Seal,
			SHA256: sum, Bytes: n, Rows: rec.Rows, Expires: *rec.Expires, AuditSeq: rec.Seq}
		// a grant's bundle is a holding of its own (a grant may give
		// several), keyed by its export id and naming the grant
		kind, grant := store.KindExport, ""
		if req.Grant != nil {
			kind, grant = store.KindGrant, req.Grant.ID
		}
		h := &store.Holding{Kind: kind, Ref: rec.ExportID, GrantID: grant, Time: rec.Time, Actor: rec.Actor, Purpose: rec.Purpose, Basis: rec.Basis,
			Recipient: nonEmpty(rec.Recipient, pol.Company), RecipientCountry: nonEmpty(rec.RecipientCountry, pol.Country), Fields: rec.Fields, Snapshot: rec.Snapshot,
			Expires: *rec.Expires, AuditSeq: rec.Seq}
		if err := tx.RegisterExport(e, h, holders); err != nil {
			return err
		}
		if req.Recording != nil {
			if err := req.Recording(tx); err != nil {
				return err
			}
		}
		return tx.DeleteExportIntent(rec.ExportID)
	}
}

// ListExports returns every registered export, oldest first, with its
// state at now.
func ListExports(ctx context.Context, db *store.DB, now time.Time) ([]Export, error) {
	rows, err := db.Exports(ctx)
	if err != nil {
		return nil, err
	}
	var out []Export
	for _, r := range rows {
		e := Export{ID: r.ID, Created: r.Created, Actor: r.Actor, Action: r.Action, Path: r.Path, Seal: r.Seal, SHA256: r.SHA256,
			Bytes: r.Bytes, Rows: r.Rows, Expires: r.Expires, Purged: r.Purged, AuditSeq: r.AuditSeq}
		switch {
		case e.Purged != nil:
			e.State = StatePurged
		case !now.Before(e.Expires):
			e.State = StateExpired
		default:
			if _, err := os.Stat(e.Path); errors.Is(err, os.ErrNotExist) {
				e.State = StateMissing
			} else {
				e.State = StatePresent
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// SweepOrphans deletes the bundles of exports whose process died between
// sealing the bundle and recording it (their intent is left and no live
// process holds their private directory), and records each sweep in the
// audit log in the transaction that drops the intent: after it, a bundle
// exists only with its record. Run and Purge call it; with dryRun it only
// lists them.
func SweepOrphans(ctx context.Context, db *store.DB, pol *policy.Policy, actor string, now time.Time, dryRun bool) ([]PurgeItem, error) {
	intents, err := db.ExportIntents(ctx)
	if err != nil || len(intents) == 0 {
		return nil, err
	}
	exps, err := db.Exports(ctx)
	if err != nil {
		return nil, err
	}
	var items []PurgeItem
	for _, in := range intents {
		if _, err := os.Stat(in.Workdir); err == nil && !fileutil.Orphaned(in.Workdir) {
			continue // its export is still running
		}
		it := PurgeItem{Kind: "orphan", ID: in.ID, Path: in.Path, Why: "interrupted between sealing and recording"}
		if dryRun {
			items = append(items, it)
			continue
		}
		detail := "deleted"
		for _, e := range exps {
			// A recorded export written over the orphan (--overwrite) keeps
			// its bundle; an orphan written over a recorded one does not.
			if e.Path != in.Path || e.ID == in.ID || e.Purged != nil {
				continue
			}
			if sum, _, err := hashFile(in.Path); err == nil && sum == e.SHA256 {
				detail = "kept: the path holds recorded export " + e.ID
			}
		}
		if detail == "deleted" {
			if err := os.Remove(in.Path); errors.Is(err, os.ErrNotExist) {
				detail = "file already gone"
			} else if err != nil {
				audit.Append(ctx, db, audit.Record{Time: now, Actor: actor, Action: audit.ActionPurge, Outcome: audit.OutcomeFailed, ExportID: in.ID,
					Reason: "cannot delete the bundle of an interrupted export: " + err.Error(), PolicyHash: pol.Hash, Outputs: []audit.Output{{Path: in.Path}}})
				return items, fmt.Errorf("sweep the bundle of interrupted export %s: %w", in.ID, err)
			}
		}
		rec, err := audit.AppendWith(ctx, db, audit.Record{Time: now, Actor: actor, Action: audit.ActionPurge, Outcome: audit.OutcomeOK, ExportID: in.ID,
			Reason: "bundle of an export interrupted between sealing and recording", PolicyHash: pol.Hash, Outputs: []audit.Output{{Path: in.Path}},
			Details: map[string]string{"kind": "orphan", "result": detail, "started": in.Created.Format(time.RFC3339), "by": in.Actor, "action": in.Action}},
			func(tx *store.Tx, _ audit.Record) error { return tx.DeleteExportIntent(in.ID) })
		if err != nil {
			return items, err
		}
		it.AuditSeq = rec.Seq
		items = append(items, it)
	}
	return items, nil
}

// PurgeItem is one thing Purge deletes (or would delete).
type PurgeItem struct {
	Kind     string `json:"kind"` // "export", "orphan", "snapshot", "sheet" or "tmp"
	ID       string `json:"id"`
	Path     string `json:"path,omitempty"`
	Why      string `json:"why"`
	AuditSeq int64  `json:"audit_seq,omitempty"`
}

// PurgeOptions control Purge.
type PurgeOptions struct {
	DryRun bool
	Actor  string
	Now    time.Time
	// ClearSheet removes the data rows of a pushed spreadsheet whose
	// retention ended and returns how many went; nil leaves such sheets
	// listed but not cleared.
	ClearSheet func(ctx context.Context, s PushedSheet) (int, error)
}

// Purge deletes expired bundles, clears the rows of pushed spreadsheets
// whose retention ended (PurgeOptions.ClearSheet), deletes the snapshots older than the policy's
// snapshot_keep (always keeping the latest), and sweeps orphaned private
// directories. Each deletion is recorded in the audit log. With DryRun it
// only reports what would go.
func Purge(ctx context.Context, db *store.DB, pol *policy.Policy, opt PurgeOptions) ([]PurgeItem, error) {
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	actor := nonEmpty(opt.Actor, "unknown")
	var items []PurgeItem
	if !opt.DryRun {
		for _, d := range Sweep(db.Dir) {
			items = append(items, PurgeItem{Kind: "tmp", Path: d, Why: "private directory left by an interrupted command"})
		}
	}
	orphans, err := SweepOrphans(ctx, db, pol, actor, now, opt.DryRun)
	items = append(items, orphans...)
	if err != nil {
		return items, err
	}
	exps, err := ListExports(ctx, db, now)
	if err != nil {
		return nil, err
	}
	for _, e := range exps {
		if e.State != StateExpired {
			continue
		}
		it := PurgeItem{Kind: "export", ID: e.ID, Path: e.Path, Why: "expired " + e.Expires.Format(time.RFC3339)}
		if opt.DryRun {
			items = append(items, it)
			continue
		}
		detail := "deleted"
		if err := os.Remove(e.Path); errors.Is(err, os.ErrNotExist) {
			detail = "file already gone"
		} else if err != nil {
			rec := audit.Record{Time: now, Actor: actor, Action: audit.ActionPurge, Outcome: audit.OutcomeFailed, ExportID: e.ID,
				Reason: "cannot delete expired bundle: " + err.Error(), PolicyHash: pol.Hash,
				Outputs: []audit.Output{{Path: e.Path, SHA256: e.SHA256, Bytes: e.Bytes}}}
			audit.Append(ctx, db, rec)
			return items, fmt.Errorf("purge export %s: %w", e.ID, err)
		}
		exp := e.Expires
		rec, err := audit.AppendWith(ctx, db, audit.Record{Time: now, Actor: actor, Action: audit.ActionPurge, Outcome: audit.OutcomeOK,
			ExportID: e.ID, Reason: "export expired", Rows: e.Rows, Seal: e.Seal, Expires: &exp, PolicyHash: pol.Hash,
			Outputs: []audit.Output{{Path: e.Path, SHA256: e.SHA256, Bytes: e.Bytes}},
			Details: map[string]string{"kind": "export", "result": detail}},
			func(tx *store.Tx, _ audit.Record) error { return tx.MarkExportPurged(e.ID, now) })
		if err != nil {
			return items, err
		}
		it.AuditSeq = rec.Seq
		items = append(items, it)
	}
	sheets, err := purgeSheets(ctx, db, pol.Hash, actor, now, opt)
	items = append(items, sheets...)
	if err != nil {
		return items, err
	}
	if keep := time.Duration(pol.SnapshotKeep); keep > 0 {
		snaps, err := db.Snapshots(ctx) // newest first
		if err != nil {
			return items, err
		}
		for i, s := range snaps {
			if i == 0 || now.Sub(s.TakenAt) <= keep {
				continue // the latest is always kept
			}
			it := PurgeItem{Kind: "snapshot", ID: strconv.FormatInt(s.ID, 10),
				Why: fmt.Sprintf("taken %s, older than snapshot_keep %s", s.TakenAt.Format(time.RFC3339), policy.FormatKeep(keep))}
			if opt.DryRun {
				items = append(items, it)
				continue
			}
			rec, err := audit.AppendWith(ctx, db, audit.Record{Time: now, Actor: actor, Action: audit.ActionPurge, Outcome: audit.OutcomeOK,
				Snapshot: s.ID, Tenant: s.CorpID, Rows: s.People, Reason: "snapshot older than snapshot_keep", PolicyHash: pol.Hash,
				Details: map[string]string{"kind": "snapshot", "taken_at": s.TakenAt.Format(time.RFC3339)}},
				func(tx *store.Tx, _ audit.Record) error { return tx.DeleteSnapshot(s.ID) })
			if err != nil {
				return items, fmt.Errorf("purge snapshot %d: %w", s.ID, err)
			}
			it.AuditSeq = rec.Seq
			items = append(items, it)
		}
	}
	return items, nil
}
