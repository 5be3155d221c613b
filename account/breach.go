package account

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/format/csv"
	"github.com/dingbook/dingbook/internal/fileutil"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

// Audit actions of this package.
const (
	ActionBreachStart   = "breach-start"
	ActionBreachReport  = "breach-report"
	ActionBreachClose   = "breach-close"
	ActionSubjectReport = "subject-report"
	ActionConsent       = "consent"
	ActionWipe          = "wipe"
)

// NoticeHours is the breach clock: UU PDP Art. 46 wants written notice
// within 3 × 24 hours; PIPL Art. 57 "immediately".
const NoticeHours = 72

// Langs are the languages of the reports.
var Langs = []string{"en", "id", "zh"}

// BreachStart says which holding was lost and when it was found out.
type BreachStart struct {
	Kind, Ref    string // store.KindExport (a bundle), KindGrant, KindShare, KindDevice
	DiscoveredAt time.Time
	Description  string
	Actor        string
	Now          time.Time
}

// StartBreach opens an incident: it revokes what can be revoked (a grant,
// a share's links, a device's app password: the holding is marked revoked
// and the server refuses it from then on; a bundle is out of dingbook's
// hands), counts the people and fields affected from the holding, starts
// the 72-hour clock at the discovery, and records it all in the audit
// chain.
func StartBreach(ctx context.Context, db *store.DB, pol *policy.Policy, b BreachStart) (*store.Incident, error) {
	if strings.TrimSpace(b.Description) == "" {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "breach start needs --description", Hint: "say what happened, e.g. --description \"laptop with the bundle stolen from a car\""}
	}
	if b.DiscoveredAt.IsZero() {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "breach start needs --discovered-at", Hint: "give when the breach was discovered, e.g. --discovered-at 2026-11-30T08:15:00+07:00: the 72-hour clock runs from then"}
	}
	if b.DiscoveredAt.After(b.Now.Add(time.Minute)) {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "--discovered-at " + b.DiscoveredAt.Format(time.RFC3339) + " is in the future", Hint: "give the time the breach was discovered"}
	}
	hs, err := db.FindHoldings(ctx, b.Kind, b.Ref)
	if err != nil {
		return nil, err
	}
	// a grant's bundle discarded before anyone could fetch it (revoked
	// and purged at once) exposed nobody: the incident covers the others
	if given := slices.DeleteFunc(slices.Clone(hs), func(h store.Holding) bool { return h.Revoked != nil && h.Purged != nil }); len(given) > 0 {
		hs = given
	}
	h, err := merged(ctx, db, hs)
	if err != nil {
		return nil, err
	}
	revoked := []string{}
	if b.Kind != store.KindExport {
		revoked = append(revoked, b.Kind+" "+b.Ref)
	}
	var rnd [2]byte
	rand.Read(rnd[:])
	in := &store.Incident{
		ID: "inc-" + b.Now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(rnd[:]), OpenedAt: b.Now,
		DiscoveredAt: b.DiscoveredAt, Deadline: b.DiscoveredAt.Add(NoticeHours * time.Hour),
		Description: b.Description, HoldingID: h.ID, People: h.People, Fields: h.Fields, Revoked: revoked,
	}
	for _, x := range hs {
		in.HoldingIDs = append(in.HoldingIDs, x.ID)
	}
	rec := audit.Record{Time: b.Now, Actor: nonEmpty(b.Actor, "unknown"), Action: ActionBreachStart, Reason: b.Description,
		Fields: h.Fields, Rows: h.People, PolicyHash: pol.Hash,
		Details: map[string]string{"incident": in.ID, "holding_kind": h.Kind, "holding_id": h.Ref,
			"discovered_at": rfc(in.DiscoveredAt), "deadline": rfc(in.Deadline), "revoked": strings.Join(revoked, ", ")}}
	if h.GrantID != "" {
		var refs []string
		for _, x := range hs {
			refs = append(refs, x.Ref)
		}
		rec.Details["grant"], rec.Details["holdings"] = h.GrantID, strings.Join(refs, ",")
	}
	if h.Kind == store.KindExport {
		rec.ExportID = h.Ref
	}
	// The revocation, the record and the incident: one transaction.
	_, err = audit.AppendWith(ctx, db, rec, func(tx *store.Tx, out audit.Record) error {
		if b.Kind != store.KindExport {
			for _, x := range hs {
				if _, err := tx.RevokeHolding(x.ID, b.Now); err != nil {
					return fmt.Errorf("revoke %s %s: %w", b.Kind, b.Ref, err)
				}
			}
		}
		in.AuditSeq = out.Seq
		return tx.AddIncident(in)
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

// Affected is one person in a breach, from the newest snapshot holding them.
type Affected struct {
	UserID, Name, Email, OrgEmail, Mobile string
}

// AffectedPeople matches the incident's holdings (one, or a grant's
// bundles) against every stored person. It returns those found (newest
// snapshot first, each once) and how many of the holdings' people no
// snapshot knows any more.
func AffectedPeople(ctx context.Context, db *store.DB, holdingIDs ...int64) ([]Affected, int, error) {
	hs, err := holdingsByID(ctx, db, holdingIDs)
	if err != nil {
		return nil, 0, err
	}
	return affected(ctx, db, hs)
}

// holdingsByID reads the holdings ids name.
func holdingsByID(ctx context.Context, db *store.DB, ids []int64) ([]store.Holding, error) {
	hs := make([]store.Holding, 0, len(ids))
	for _, id := range ids {
		x, err := db.HoldingByID(ctx, id)
		if err != nil {
			return nil, err
		}
		hs = append(hs, *x)
	}
	return hs, nil
}

// peopleHashes are the keyed hashes of the people of hs, each once, by the
// hash scheme their holding used.
func peopleHashes(ctx context.Context, db *store.DB, hs []store.Holding) (map[int]map[uint64]bool, error) {
	people := map[int]map[uint64]bool{}
	for _, x := range hs {
		sums, err := db.HoldingHashes(ctx, x.ID)
		if err != nil {
			return nil, err
		}
		if people[x.Hashing] == nil {
			people[x.Hashing] = make(map[uint64]bool, len(sums))
		}
		for _, s := range sums {
			people[x.Hashing][s] = true
		}
	}
	return people, nil
}

// affected is AffectedPeople for holdings already read.
func affected(ctx context.Context, db *store.DB, hs []store.Holding) ([]Affected, int, error) {
	key, err := store.HolderKey(db.Dir)
	if err != nil {
		return nil, 0, err
	}
	// the hashes sought, by the scheme their holding used
	want, err := peopleHashes(ctx, db, hs)
	if err != nil {
		return nil, 0, err
	}
	hashers := map[int]*store.Hasher{}
	for scheme := range want {
		hashers[scheme] = store.NewHasherScheme(key, scheme)
	}
	var out []Affected
	err = db.EachStoredPerson(ctx, func(_ int64, p *dingbook.Person) error {
		k := store.PersonKey(p)
		if k == "" {
			return nil
		}
		found := false
		for scheme, w := range want {
			if s := hashers[scheme].Sum(k); w[s] {
				delete(w, s)
				found = true
			}
		}
		if found {
			out = append(out, Affected{UserID: p.UserID, Name: p.Name, Email: p.Email, OrgEmail: p.OrgEmail, Mobile: p.Mobile})
		}
		return nil
	})
	unresolved := 0
	for _, w := range want {
		unresolved += len(w)
	}
	return out, unresolved, err
}

// Report is what BreachReport wrote.
type Report struct {
	Incident   string   `json:"incident"`
	Files      []string `json:"files"`
	People     int      `json:"people"`
	Unresolved int      `json:"unresolved"`
	Deadline   string   `json:"deadline"`
	HoursLeft  float64  `json:"hours_left"`
}

// HoursLeft is the time to the deadline in hours, rounded down to a tenth
// (negative when overdue).
func HoursLeft(in *store.Incident, now time.Time) float64 {
	return math.Floor(in.Deadline.Sub(now).Hours()*10) / 10
}

// BreachReport drafts the notices of incident id in lang into dir: to the
// authority (incident-ID-authority.LANG.txt), to each affected person (the
// text with «name» placeholders, incident-ID-notice.LANG.txt, and the
// mail-merge list incident-ID-people.csv). Files are 0600, written
// atomically; the report is recorded in the audit chain.
func BreachReport(ctx context.Context, db *store.DB, pol *policy.Policy, id, lang, dir, actor string, now time.Time) (*Report, error) {
	if !slices.Contains(Langs, lang) {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--lang %q is not known", lang), Hint: "use --lang en, id or zh"}
	}
	in, err := db.FindIncident(ctx, id)
	if err != nil {
		return nil, err
	}
	hs, err := holdingsByID(ctx, db, in.HoldingIDs)
	if err != nil {
		return nil, err
	}
	h, err := merged(ctx, db, hs)
	if err != nil {
		return nil, err
	}
	seal := ""
	if r, err := audit.Get(ctx, db, h.AuditSeq); err == nil {
		seal = r.Seal
	}
	people, unresolved, err := affected(ctx, db, hs)
	if err != nil {
		return nil, err
	}
	d := noticeData{in: in, h: h, pol: pol, seal: seal, now: now, unresolved: unresolved}
	if err := fileutil.MkdirPrivate(dir); err != nil {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot create " + dir, Hint: "choose a writable --out directory", Err: err}
	}
	base := filepath.Join(dir, "incident-"+in.ID)
	files := map[string][]byte{
		base + "-authority." + lang + ".txt": []byte(authorityNotice(&d, lang)),
		base + "-notice." + lang + ".txt":    []byte(personNotice(&d, lang)),
	}
	var buf bytes.Buffer
	w, err := csv.New(&buf, csv.Options{Encoding: csv.UTF8BOM})
	if err != nil {
		return nil, err
	}
	w.Write([]string{"userid", "name", "email", "org_email", "mobile", "fields", "language"})
	for _, p := range people {
		w.Write([]string{p.UserID, p.Name, p.Email, p.OrgEmail, p.Mobile, strings.Join(h.Fields, " "), lang})
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	files[base+"-people.csv"] = buf.Bytes()
	rep := &Report{Incident: in.ID, People: len(people), Unresolved: unresolved, Deadline: rfc(in.Deadline), HoursLeft: HoursLeft(in, now)}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := fileutil.WriteFile(name, files[name], true); err != nil {
			return nil, &dingbook.Error{Code: dingbook.EINVALID, Message: "cannot write " + name, Hint: "choose a writable --out directory", Err: err}
		}
		abs, _ := filepath.Abs(name)
		rep.Files = append(rep.Files, abs)
	}
	outs := make([]audit.Output, len(rep.Files))
	for i, f := range rep.Files {
		outs[i] = audit.Output{Path: f}
	}
	_, err = audit.Append(ctx, db, audit.Record{Time: now, Actor: nonEmpty(actor, "unknown"), Action: ActionBreachReport, Fields: h.Fields,
		Rows: len(people), Outputs: outs, PolicyHash: pol.Hash,
		Details: map[string]string{"incident": in.ID, "lang": lang, "unresolved": strconv.Itoa(unresolved), "hours_left": strconv.FormatFloat(rep.HoursLeft, 'f', 1, 64)}})
	return rep, err
}

// merged is the holding an incident names: hs's one, or for a grant's
// bundles (oldest first) one holding over them all, named by the grant:
// the fields of any, the people of any (each once), the latest expiry.
func merged(ctx context.Context, db *store.DB, hs []store.Holding) (*store.Holding, error) {
	h := hs[0]
	if len(hs) == 1 {
		return &h, nil
	}
	h.Ref = h.GrantID
	for _, x := range hs {
		for _, f := range x.Fields {
			if !slices.Contains(h.Fields, f) {
				h.Fields = append(h.Fields, f)
			}
		}
		if x.Expires.After(h.Expires) {
			h.Expires = x.Expires
		}
	}
	people, err := peopleHashes(ctx, db, hs)
	if err != nil {
		return nil, err
	}
	h.People = 0
	for _, p := range people {
		h.People += len(p)
	}
	return &h, nil
}

func nonEmpty(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// CloseBreach closes incident id (the notices are sent, or it proved no
// breach), saying why; it is recorded in the audit chain.
func CloseBreach(ctx context.Context, db *store.DB, pol *policy.Policy, id, reason, actor string, now time.Time) error {
	if strings.TrimSpace(reason) == "" {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "breach close needs --reason", Hint: "say why the incident is closed, e.g. --reason \"authority and 120 people notified on 2026-12-01\""}
	}
	in, err := db.FindIncident(ctx, id)
	if err != nil {
		return err
	}
	// The close and its record: one transaction.
	_, err = audit.AppendWith(ctx, db, audit.Record{Time: now, Actor: nonEmpty(actor, "unknown"), Action: ActionBreachClose, Reason: reason, PolicyHash: pol.Hash,
		Details: map[string]string{"incident": in.ID, "hours_left": strconv.FormatFloat(HoursLeft(in, now), 'f', 1, 64)}},
		func(tx *store.Tx, _ audit.Record) error {
			open, err := tx.CloseIncident(in.ID, now)
			if err == nil && !open {
				err = &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("incident %s is closed already", id), Hint: "'dingbook breach list --all' shows it"}
			}
			return err
		})
	return err
}
