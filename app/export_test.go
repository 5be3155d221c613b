package app

import (
	"context"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/dingtalk"
)

// SaveGrant writes g as Bundle and Download do when they end: tests hand
// it a copy read before a revocation, as a bundle's export racing one.
func (gs *Grants) SaveGrant(ctx context.Context, g *Grant, step string) error {
	return gs.save(ctx, g, step, g.Grantee, "", nil, nil)
}

// OnStage calls f as Bundle reaches each stage ("export", "exported"):
// tests revoke a grant there, as another request or process would.
func (gs *Grants) OnStage(f func(stage string)) { gs.stage = f }

// SearchLiveAndFresh searches the live directory's index (as it follows
// the revisions, with its overlay) and an index built afresh from the
// same people for s with each query, and returns both results (userids)
// and the number of people in the live index's overlay (-1: none).
func (a *App) SearchLiveAndFresh(ctx context.Context, s *Session, queries []string) (live, fresh [][]string, overlaid int, err error) {
	idx, err := a.directory(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	f := &peopleIndex{snapshot: idx.snapshot, rev: idx.rev, deptList: idx.deptList, tree: idx.tree, depts: idx.depts,
		people: idx.people, english: idx.english}
	f.finish()
	ids := func(ps []DirPerson) []string {
		out := []string{}
		for _, p := range ps {
			out = append(out, p.UserID)
		}
		return out
	}
	for _, q := range queries {
		q = normQuery(q)
		live = append(live, ids(idx.search(idx.viewer(s), q)))
		fresh = append(fresh, ids(f.search(f.viewer(s), q)))
	}
	overlaid = -1
	if idx.ov != nil {
		overlaid = len(idx.ov.people)
	}
	return live, fresh, overlaid, nil
}

// SetOverlayMax sets the most people the live index's overlay holds
// (people: how many there are) and returns a function restoring it.
func SetOverlayMax(fn func(people int) int) (restore func()) {
	old := overlayMax
	overlayMax = fn
	return func() { overlayMax = old }
}

// Reconcile is what a complete pull does with its stored snapshot snap
// once the live directory's log is in use (reconcile).
func (a *App) Reconcile(ctx context.Context, c *dingtalk.Client, pol *policy.Policy, snap *dingbook.Snapshot) (map[string]int, error) {
	return a.reconcile(ctx, c, pol, snap)
}

// HoldAt makes the live index's work call hold at each stage ("bridge",
// "build", and "rebuild" on the background rebuild's goroutine with the
// App's background context).
func (a *App) HoldAt(hold func(ctx context.Context, stage string)) {
	a.people.mu.Lock()
	defer a.people.mu.Unlock()
	a.people.hold = nil
	if hold != nil {
		a.people.hold = func(ctx context.Context, stage string) error { hold(ctx, stage); return nil }
	}
}

// FailAt makes the live index's work fail with err at stage (err nil:
// it no longer fails).
func (a *App) FailAt(stage string, err error) {
	a.people.mu.Lock()
	defer a.people.mu.Unlock()
	a.people.hold = nil
	if err != nil {
		a.people.hold = func(_ context.Context, s string) error {
			if s == stage {
				return err
			}
			return nil
		}
	}
}

// CachedSnapshot is the snapshot of the index the App holds (0: none).
func (a *App) CachedSnapshot() int64 {
	if idx := a.cachedIndex(); idx != nil {
		return idx.snapshot
	}
	return 0
}
