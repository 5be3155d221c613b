package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/diff"
	"github.com/dingbook/dingbook/policy"
)

// What the admin pages of 'dingbook serve' show, limited to the admin's
// scope: a sub-admin sees the people and departments their admin scope
// covers (sub-departments included), the primary admin everything.

// AdminQuality is the quality report of the latest complete snapshot as
// an admin may see it.
type AdminQuality struct {
	Snapshot int64
	TakenAt  time.Time
	// People, PeopleWithProblems and Counts cover the admin's people only.
	People, PeopleWithProblems int
	Counts                     map[dingbook.Problem]int
	// Departments are the scope's departments (clean's completeness over
	// each department's direct members), in tree order.
	Departments []clean.DeptQuality
}

// scopeOf is the session's Viewer over a snapshot's departments and the
// Select that keeps only the people it administers (nil for the primary
// admin).
func scopeOf(s *Session, depts []dingbook.Department) (Viewer, func(*dingbook.Person) *dingbook.Person) {
	v := ViewerOf(s, nil, dingbook.NewTree(depts))
	if v.Primary {
		return v, nil
	}
	return v, func(p *dingbook.Person) *dingbook.Person {
		if v.Administers(p) {
			return p
		}
		return nil
	}
}

// ScopedQuality analyses the latest complete snapshot (App.Quality) over
// the people the session's admin administers, and keeps the departments
// of their scope.
// A report is computed once per snapshot and scope (a view of 100,000
// people reads the whole snapshot).
func (a *App) ScopedQuality(ctx context.Context, s *Session) (*AdminQuality, error) {
	id, err := a.DB.LatestCompleteSnapshotID(ctx)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("quality %d %s", id, scopeKey(s))
	if q, ok := a.admin.get(key); ok {
		return q.(*AdminQuality), nil
	}
	q, err := a.scopedQuality(ctx, s, id)
	if err == nil {
		a.admin.put(key, q)
	}
	return q, err
}

func (a *App) scopedQuality(ctx context.Context, s *Session, id int64) (*AdminQuality, error) {
	sd, err := a.DB.Directory(ctx, id)
	if err != nil {
		return nil, err
	}
	v, sel := scopeOf(s, sd.Departments())
	res, err := a.Quality(ctx, QualityOptions{Snapshot: id, Select: sel})
	if err != nil {
		return nil, err
	}
	r := res.Report
	out := &AdminQuality{Snapshot: id, TakenAt: sd.TakenAt(), People: r.People, PeopleWithProblems: r.PeopleWithProblems, Counts: r.Counts}
	for _, d := range r.Departments {
		if v.Primary || v.Scope[d.DeptID] {
			out.Departments = append(out.Departments, d)
		}
	}
	return out, nil
}

// ScopedDiff is App.Diff of the last two snapshots as the session's admin
// may see it: for a sub-admin only the joiners administered in the newer
// snapshot, the leavers administered in the older one, and the moves and
// changes of people administered in either; departments are named only
// when in scope (a move out of scope shows no destination), and the
// sides' people count the scope's.
// The values quoted are those of pol's default profile (pol is the
// policy the server holds; nil: the built-in defaults). Like
// ScopedQuality, a result is computed once per pair of snapshots, policy
// (its hash) and scope.
func (a *App) ScopedDiff(ctx context.Context, s *Session, pol *policy.Policy) (*DiffResult, error) {
	if pol == nil {
		pol = policy.Default()
	}
	list, err := a.DB.Snapshots(ctx) // newest first
	if err != nil {
		return nil, err
	}
	key := ""
	if len(list) >= 2 {
		key = fmt.Sprintf("diff %d %d %s %s", list[1].ID, list[0].ID, pol.Hash, scopeKey(s))
		if d, ok := a.admin.get(key); ok {
			return d.(*DiffResult), nil
		}
	}
	d, err := a.scopedDiff(ctx, s, pol)
	if err == nil && key != "" && d.From.Snapshot == list[1].ID && d.To.Snapshot == list[0].ID {
		a.admin.put(key, d)
	}
	return d, err
}

func (a *App) scopedDiff(ctx context.Context, s *Session, pol *policy.Policy) (*DiffResult, error) {
	res, err := a.diff(ctx, nil, pol)
	if err != nil || slices.Contains(s.Roles, RoleAdmin) {
		return res, err
	}
	// userid → the departments in scope, per side
	side := func(id int64) (map[string]string, error) {
		sd, err := a.DB.Directory(ctx, id)
		if err != nil {
			return nil, err
		}
		tree := dingbook.NewTree(sd.Departments())
		v := ViewerOf(s, nil, tree)
		in := map[string]string{}
		err = sd.EachPerson(ctx, func(p *dingbook.Person) error {
			if !v.Administers(p) {
				return nil
			}
			var paths []string
			for _, m := range p.Depts {
				if v.Scope[m.DeptID] {
					paths = append(paths, tree.PathString(m.DeptID, "/"))
				}
			}
			in[p.UserID] = strings.Join(paths, ", ")
			return nil
		})
		return in, err
	}
	from, err := side(res.From.Snapshot)
	if err != nil {
		return nil, err
	}
	to, err := side(res.To.Snapshot)
	if err != nil {
		return nil, err
	}
	rep := *res.Report
	rep.From.People, rep.To.People = len(from), len(to)
	rep.Joiners, rep.Leavers, rep.Moves, rep.Changes = []diff.Person{}, []diff.Person{}, []diff.Move{}, []diff.Change{}
	for _, p := range res.Joiners {
		if d, ok := to[p.UserID]; ok {
			p.Depts = d
			rep.Joiners = append(rep.Joiners, p)
		}
	}
	for _, p := range res.Leavers {
		if d, ok := from[p.UserID]; ok {
			p.Depts = d
			rep.Leavers = append(rep.Leavers, p)
		}
	}
	for _, m := range res.Moves {
		f, inF := from[m.UserID]
		t, inT := to[m.UserID]
		if inF || inT {
			m.From, m.To = f, t
			rep.Moves = append(rep.Moves, m)
		}
	}
	for _, c := range res.Changes {
		_, inF := from[c.UserID]
		_, inT := to[c.UserID]
		if inF || inT {
			rep.Changes = append(rep.Changes, c)
		}
	}
	rep.Counts = diff.Counts{Joiners: len(rep.Joiners), Leavers: len(rep.Leavers), Moves: len(rep.Moves), Changed: len(rep.Changes)}
	return &DiffResult{Report: &rep, Profile: res.Profile}, nil
}

// PullRecord is one pull of the audit log with the receipt stored with
// its snapshot (nil for a pull that stored none).
type PullRecord struct {
	audit.Record
	Receipt *dingbook.Receipt
}

// RecentPulls returns the last n pulls of the audit log (by the CLI, the
// schedule or an admin), newest first, each with its snapshot's receipt.
func (a *App) RecentPulls(ctx context.Context, n int) ([]PullRecord, error) {
	recs, err := a.AuditRecords(ctx, audit.Filter{Action: audit.ActionPull, Limit: n})
	if err != nil {
		return nil, err
	}
	out := make([]PullRecord, 0, len(recs))
	for i := len(recs) - 1; i >= 0; i-- {
		pr := PullRecord{Record: recs[i]}
		if pr.Snapshot != 0 {
			if pr.Receipt, err = a.DB.SnapshotReceipt(ctx, pr.Snapshot); err != nil {
				return nil, err
			}
		}
		out = append(out, pr)
	}
	return out, nil
}

// Audit verify states (VerifyState).
const (
	AuditOK     = "ok"
	AuditBroken = "broken"
	AuditAnchor = "anchor"
)

// VerifyState sums a verification up: the chain is whole (AuditOK), a
// record is edited, missing or out of order (AuditBroken, at FirstBad),
// or the chain and its head anchor disagree (AuditAnchor).
func VerifyState(v *audit.VerifyResult) string {
	switch {
	case v.OK:
		return AuditOK
	case v.Anchor:
		return AuditAnchor
	}
	return AuditBroken
}

// AuditPage returns page (from 1) of the audit log, size records a page,
// newest first: the store seeks to it (LIMIT/OFFSET), so a late page
// does not read the newer records.
func (a *App) AuditPage(ctx context.Context, page, size int) ([]audit.Record, error) {
	recs, err := a.AuditRecords(ctx, audit.Filter{Limit: size, Skip: (max(page, 1) - 1) * size})
	slices.Reverse(recs)
	return recs, err
}

// verifyMaxAge is how long CachedVerifyAudit trusts a verification of an
// unchanged head: an edit that leaves the head as it was (a record in the
// middle rewritten behind the store's back) shows within this time, or at
// the next record.
const verifyMaxAge = 10 * time.Minute

// verified is a verification and when it ran.
type verified struct {
	res *audit.VerifyResult
	at  time.Time
}

// CachedVerifyAudit is VerifyAudit(ctx, "") for the audit pages, which
// show the verify status on every view: the result is kept by the
// chain's head (seq and hash) and the head anchor file's content, so a
// view while neither changed reads no record (up to verifyMaxAge). The
// CLI's 'audit verify' always walks the chain.
func (a *App) CachedVerifyAudit(ctx context.Context) (*audit.VerifyResult, error) {
	seq, hash, err := a.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	anchor, _ := os.ReadFile(filepath.Join(a.DB.Dir, audit.HeadFile))
	key := fmt.Sprintf("verify %d %s %q", seq, hash, anchor)
	if v, ok := a.admin.get(key); ok && a.now().Sub(v.(verified).at) < verifyMaxAge {
		return v.(verified).res, nil
	}
	res, err := a.VerifyAudit(ctx, "")
	if err == nil {
		a.admin.put(key, verified{res: res, at: a.now()})
	}
	return res, err
}

// scopeKey names what a session's admin may see: everything (the primary
// admin) or their scope's departments.
func scopeKey(s *Session) string {
	if slices.Contains(s.Roles, RoleAdmin) {
		return "all"
	}
	if !slices.Contains(s.Roles, RoleSubAdmin) {
		return "none"
	}
	ids := slices.Clone(s.AdminScope)
	slices.Sort(ids)
	return fmt.Sprint(ids)
}

// adminCache keeps the admin pages' latest reports, at most
// adminCacheSize; it forgets them all when full (a new snapshot makes
// every key new).
type adminCache struct {
	mu sync.Mutex
	m  map[string]any
}

const adminCacheSize = 32

func (c *adminCache) get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

func (c *adminCache) put(key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= adminCacheSize {
		c.m = map[string]any{}
	}
	c.m[key] = v
}
