package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/format/vcard"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/source/dingtalk/stream"
	"github.com/dingbook/dingbook/store"
)

// The live directory (issue 12 §2): the latest complete snapshot (the
// base) plus the revisions after it (store/revision.go). A Stream event
// is re-read from DingTalk and committed as one revision (ApplyEvent);
// a new complete snapshot becomes the base through a bridging revision
// of cause "pull" that records what the events had missed (the drift),
// so the revision numbers, which are the CardDAV sync tokens, run on
// across bases.
//
// The in-memory index (people.go) follows the log without a full
// rebuild: a new index is made from the old one (copy-on-write: an index
// is never changed once built, so readers holding the old one are safe),
// reusing every unchanged person's record, then swapped in under the
// cache's lock. The snapshot's key indexes (keyIndex) are kept with an
// overlay of what changed since (positions moved by leavers, stale
// people, the changed people's own keys), built again in the background
// once the overlay holds 5% of the people. When only existing people
// changed (the usual event) the positions, the id map and the tree are
// shared too (patch); a joiner, a leaver or a department rebuilds the
// maps from memory, and a renamed department puts its members in the
// overlay. ApplyEvent brings the index up to date right after its commit,
// so readers rarely wait for it. BenchmarkLiveApply measures it at
// 100,000 people, BenchmarkLiveSearch a search over an overlay.

// liveState serialises the writers of the log: events and bridges.
type liveState struct {
	mu sync.Mutex
}

// liveDirectory returns the index of the live directory, bridging to a
// new base first when a newer complete snapshot appeared (a pull by the
// CLI or the schedule is picked up without a restart). The latest
// snapshot and revision are looked up again only after a commit
// (store.DB.Generation). A reader does not wait for another's bridge or
// build of a new base's index: it is served the index it had meanwhile.
func (a *App) liveDirectory(ctx context.Context) (*peopleIndex, error) {
	return a.liveIndex(ctx, false, false)
}

// WarmDirectory brings the live directory's index up to date now (a
// bridge to a new base, its index built): a pull in the serving process
// calls it right after storing its snapshot, so that no reader meets the
// work (readers keep the old index while it runs).
func (a *App) WarmDirectory(ctx context.Context) error {
	_, err := a.liveIndex(ctx, false, true)
	return err
}

// liveIndex is liveDirectory; locked says the caller holds a.live.mu,
// wait that it waits for (or does) a bridge or a new base's index being
// made elsewhere instead of taking the index it had (a writer of the
// log must apply its change to the newest base).
func (a *App) liveIndex(ctx context.Context, locked, wait bool) (*peopleIndex, error) {
	// nothing committed since the last look: the cached index is current
	gen, err := a.DB.Generation(ctx)
	if err != nil {
		return nil, err
	}
	a.people.mu.Lock()
	idx := a.people.idx
	current := idx != nil && a.people.gen == gen
	a.people.mu.Unlock()
	if current {
		return idx, nil
	}
	idx, stale, err := a.liveLookup(ctx, locked, wait || locked)
	if err != nil {
		return nil, err
	}
	a.people.mu.Lock()
	if a.people.idx == idx && !stale {
		// up to date with every commit before gen was read
		a.people.gen = gen
	}
	a.people.mu.Unlock()
	return idx, nil
}

// liveLookup is liveIndex after a commit: it looks for a new base and new
// revisions. Without wait, a new base (its bridge and its index) is made
// in the background (warmLater) and the index the App had is returned
// meanwhile (stale: not the newest); only without one does the caller
// wait. New revisions of the same base are applied at once (quick).
func (a *App) liveLookup(ctx context.Context, locked, wait bool) (idx *peopleIndex, stale bool, err error) {
	id, err := a.DB.LatestCompleteSnapshotID(ctx)
	if err != nil {
		return nil, false, err
	}
	last, err := a.DB.LatestRevision(ctx)
	if err != nil {
		return nil, false, err
	}
	if last == nil || last.Base != id {
		if old := a.cachedIndex(); old != nil && !wait {
			a.warmLater()
			return old, true, nil
		}
		if !locked {
			a.live.mu.Lock()
		}
		_, err := a.bridge(ctx, id)
		if !locked {
			a.live.mu.Unlock()
		}
		if err != nil {
			return nil, false, err
		}
		if last, err = a.DB.LatestRevision(ctx); err != nil {
			return nil, false, err
		}
	}
	return a.indexAt(ctx, id, last.Rev, wait)
}

// holdAt calls the tests' hold at stage, if set; its error is the
// stage's.
func (a *App) holdAt(ctx context.Context, stage string) error {
	a.people.mu.Lock()
	hold := a.people.hold
	a.people.mu.Unlock()
	if hold != nil {
		return hold(ctx, stage)
	}
	return nil
}

// cachedIndex is the index the App holds (nil: none).
func (a *App) cachedIndex() *peopleIndex {
	a.people.mu.Lock()
	defer a.people.mu.Unlock()
	return a.people.idx
}

// warmLater makes the live directory's new base (WarmDirectory) on a
// goroutine of the App, unless one does already; readers meanwhile keep
// the index the App has.
func (a *App) warmLater() {
	a.people.mu.Lock()
	defer a.people.mu.Unlock()
	if a.people.warming {
		return
	}
	a.people.warming = a.goBackground(func(ctx context.Context) {
		err := a.WarmDirectory(ctx)
		a.people.mu.Lock()
		a.people.warming = false
		// a failure is kept: the next read makes the new base itself and
		// answers its error (indexAt), instead of serving the old index
		// for ever
		a.people.warmErr = err
		a.people.mu.Unlock()
	})
}

// warmFailed reports whether the last background warm-up failed.
func (a *App) warmFailed() bool {
	a.people.mu.Lock()
	defer a.people.mu.Unlock()
	return a.people.warmErr != nil
}

// indexAt returns the index of base id with every revision up to rev,
// from the cached one when it can. The store is read and the index made
// without a.people.mu (readers go on with the cached index); the result
// replaces the cached one only if it is newer (install). A new base's
// index is built by one goroutine at a time (a.people.build); without
// wait, it is built in the background (warmLater) and the cached index
// returned meanwhile (stale).
func (a *App) indexAt(ctx context.Context, id, rev int64, wait bool) (idx *peopleIndex, stale bool, err error) {
	old := a.cachedIndex()
	if old != nil && old.snapshot == id && old.rev >= rev {
		return old, false, nil
	}
	if old == nil || old.snapshot != id {
		if old != nil && !wait && !a.warmFailed() {
			a.warmLater()
			return old, true, nil
		}
		a.people.build.Lock()
		defer a.people.build.Unlock()
		// the build may have been done meanwhile
		if old = a.cachedIndex(); old != nil && old.snapshot == id && old.rev >= rev {
			return old, false, nil
		}
	}
	if old != nil && old.snapshot == id {
		revs, err := a.DB.Revisions(ctx, old.rev, rev)
		if err != nil {
			return nil, false, err
		}
		if idx, err = old.apply(ctx, revs, rev); err != nil {
			return nil, false, err
		}
		return a.install(idx), false, nil
	}
	// the old index stays for the readers meanwhile: the peak memory
	// holds two indexes while the new one is built
	if err := a.holdAt(ctx, "build"); err != nil {
		return nil, false, err
	}
	if idx, err = a.buildIndex(ctx, id); err != nil {
		return nil, false, err
	}
	start, err := a.DB.BaseStart(ctx, id)
	if err != nil {
		return nil, false, err
	}
	revs, err := a.DB.Revisions(ctx, start, rev)
	if err != nil {
		return nil, false, err
	}
	if idx, err = idx.apply(ctx, revs, rev); err != nil {
		return nil, false, err
	}
	return a.install(idx), false, nil
}

// install makes idx the cached index unless the cached one is as new
// (revisions are numbered across bases), and returns idx.
func (a *App) install(idx *peopleIndex) *peopleIndex {
	a.people.mu.Lock()
	defer a.people.mu.Unlock()
	if cur := a.people.idx; cur == nil || cur.rev < idx.rev {
		if cur == nil || cur.snapshot != idx.snapshot {
			a.people.warmErr = nil // a new base is made: reads go back to warming in the background
		}
		a.people.idx = idx
		a.rebuildLater(idx)
	}
	return idx
}

// rebuildLater builds idx's key indexes again in the background when
// its overlay outgrew overlayMax (a.people.mu held), on a goroutine of
// the App (App.Close cancels it and waits for it): readers and events
// go on with the overlay meanwhile; the rebuilt index replaces idx only
// if it is still the latest (else the next revision tries again, and an
// overlay twice over the limit is rebuilt at once, follow).
func (a *App) rebuildLater(idx *peopleIndex) {
	if idx.ov == nil || len(idx.ov.people) <= overlayMax(len(idx.people)) || a.people.rebuilding {
		return
	}
	a.people.rebuilding = a.goBackground(func(ctx context.Context) {
		_ = a.holdAt(ctx, "rebuild") // a test's pause only
		var f *peopleIndex
		if ctx.Err() == nil { // else the App is closing
			f = idx.derive(idx.rev)
			f.ov = nil
			f.names, f.others = f.keys()
		}
		a.people.mu.Lock()
		defer a.people.mu.Unlock()
		a.people.rebuilding = false
		if f != nil && a.people.idx == idx && ctx.Err() == nil {
			a.people.idx = f
		}
	})
}

// apply returns a new index: idx with the event revisions of its base
// among revs (the others are in the base already, or belong to older
// bases) and rev set to last. idx itself is not changed.
func (idx *peopleIndex) apply(ctx context.Context, revs []store.Revision, last int64) (*peopleIndex, error) {
	changed := map[string]*dingbook.Person{} // userid → after (nil: gone)
	var order []string
	deptList := idx.deptList
	deptsChanged := false
	for _, r := range revs {
		if r.Cause != store.CauseEvent || r.Base != idx.snapshot {
			continue
		}
		for _, c := range r.People {
			if c.Op == store.OpUpsert && c.After == nil {
				continue // only the card changed (a department's path)
			}
			if _, ok := changed[c.UserID]; !ok {
				order = append(order, c.UserID)
			}
			changed[c.UserID] = c.After
		}
		if len(r.Depts) > 0 {
			if !deptsChanged {
				deptList = slices.Clone(deptList)
				deptsChanged = true
			}
			for _, d := range r.Depts {
				i := slices.IndexFunc(deptList, func(x dingbook.Department) bool { return x.ID == d.ID })
				switch {
				case d.After == nil && i >= 0:
					deptList = slices.Delete(deptList, i, i+1)
				case d.After != nil && i >= 0:
					deptList[i] = *d.After
				case d.After != nil:
					deptList = append(deptList, *d.After)
				}
			}
		}
	}
	if len(changed) == 0 && !deptsChanged {
		return idx.derive(last), nil
	}
	if !deptsChanged && !slices.ContainsFunc(order, func(u string) bool { return changed[u] == nil || idx.person(u) == nil }) {
		return idx.patch(ctx, changed, last)
	}
	// the people after: the unchanged keep their place, joiners follow;
	// shift takes idx's positions to the new ones (nil: the same, no
	// leaver), fresh are the changed people's and joiners' new ones
	people := make([]dingbook.Person, 0, len(idx.people)+len(changed))
	english := make([]string, 0, cap(people))
	var shift, fresh []int32
	if slices.ContainsFunc(order, func(u string) bool { return changed[u] == nil && idx.person(u) != nil }) {
		shift = make([]int32, len(idx.people))
	}
	for i := range idx.people {
		p := &idx.people[i]
		after, ok := changed[p.UserID]
		if shift != nil {
			shift[i] = int32(len(people))
		}
		switch {
		case !ok:
			// an unchanged person's English names are kept (the index
			// no longer holds the custom fields they came from)
			people = append(people, *p)
			english = append(english, idx.english[i])
		case after != nil:
			fresh = append(fresh, int32(len(people)))
			people = append(people, *trimmed(after))
			english = append(english, englishOf(after))
		default:
			shift[i] = -1
		}
	}
	for _, u := range order {
		if _, ok := idx.byID[u]; !ok && changed[u] != nil {
			fresh = append(fresh, int32(len(people)))
			people = append(people, *trimmed(changed[u]))
			english = append(english, englishOf(changed[u]))
		}
	}
	// the headcounts change only with a joiner, a leaver, a move or a
	// department
	depts := idx.depts
	moved := deptsChanged
	for u, after := range changed {
		before := idx.person(u)
		moved = moved || before == nil || after == nil || !slices.Equal(before.DeptIDs(), after.DeptIDs())
	}
	if moved {
		org := &dingbook.Org{Name: idx.depts.Org, Depts: deptList, People: people}
		var err error
		if depts, err = departmentsOf(ctx, dingbook.OrgDirectory{Org: org}, idx.snapshot); err != nil {
			return nil, err
		}
	}
	n := &peopleIndex{snapshot: idx.snapshot, rev: last, deptList: deptList, tree: dingbook.NewTree(deptList), depts: depts,
		people: people, english: english}
	n.maps()
	if deptsChanged {
		// a department's name is a key of its members: those of the
		// departments renamed, added or removed have keys anew
		renamed := map[int64]bool{}
		for _, d := range idx.deptList {
			if nd := n.tree.Dept(d.ID); nd == nil || nd.Name != d.Name {
				renamed[d.ID] = true
			}
		}
		for _, d := range deptList {
			if idx.tree.Dept(d.ID) == nil {
				renamed[d.ID] = true
			}
		}
		for i := range people {
			if slices.ContainsFunc(people[i].Depts, func(m dingbook.Membership) bool { return renamed[m.DeptID] }) {
				fresh = append(fresh, int32(i))
			}
		}
	}
	n.follow(idx, shift, fresh)
	return n, nil
}

// derive is a new index sharing everything of idx (an index is never
// changed once built), at revision last.
func (idx *peopleIndex) derive(last int64) *peopleIndex {
	return &peopleIndex{snapshot: idx.snapshot, rev: last, deptList: idx.deptList, tree: idx.tree, depts: idx.depts,
		deptPos: idx.deptPos, people: idx.people, english: idx.english, byID: idx.byID, names: idx.names, others: idx.others, ov: idx.ov}
}

// patch is apply's fast path when only existing people changed: the
// positions, the id map and the tree stay, shared with idx (an index is
// never changed once built); the headcounts are recounted only after a
// move.
func (idx *peopleIndex) patch(ctx context.Context, changed map[string]*dingbook.Person, last int64) (*peopleIndex, error) {
	n := idx.derive(last)
	n.people, n.english = slices.Clone(idx.people), slices.Clone(idx.english)
	moved := false
	var fresh []int32
	for u, after := range changed {
		i := idx.byID[u]
		p := &n.people[i]
		moved = moved || !slices.Equal(p.DeptIDs(), after.DeptIDs())
		*p, n.english[i] = *trimmed(after), englishOf(after)
		fresh = append(fresh, int32(i))
	}
	n.follow(idx, nil, fresh)
	if moved {
		org := &dingbook.Org{Name: idx.depts.Org, Depts: idx.deptList, People: n.people}
		depts, err := departmentsOf(ctx, dingbook.OrgDirectory{Org: org}, idx.snapshot)
		if err != nil {
			return nil, err
		}
		n.depts = depts
		n.deptPos = make(map[int64]int, len(depts.Departments))
		for i, d := range depts.Departments {
			n.deptPos[d.ID] = i
		}
	}
	return n, nil
}

// overlay is what changed in the live directory since its index's key
// indexes (names, others) were built over the people then (the base
// positions): a revision is applied without building them again (at
// 100,000 people that takes most of a second). A search takes the base
// keys' matches to their current positions, leaving out the stale ones,
// and adds the matches of the changed people's own keys.
type overlay struct {
	// pos takes a base position to the current one (-1: gone; the
	// people stay in order, joiners at the end); nil: the same
	pos []int32
	// stale holds the current positions whose base keys no longer hold:
	// changed people, members of renamed departments
	stale bitset
	// people are the current positions of the changed people and the
	// joiners (ascending), names and others their own keys (scanned,
	// without grams: they are few)
	people        []int32
	names, others keyIndex
}

// overlayMax is the most people an overlay holds before the key indexes
// are built again (in the background, rebuildLater; at once past twice
// as many): 5% of the people (at least 64).
var overlayMax = func(people int) int { return max(people/20, 64) }

// follow gives n (made from idx by a revision: moved takes idx's
// positions to n's, nil: the same; fresh are n's positions of the people
// whose keys changed, joiners included) idx's key indexes with an
// overlay, or builds them again when the overlay grew past twice
// overlayMax (past overlayMax, rebuildLater does it in the background).
func (n *peopleIndex) follow(idx *peopleIndex, moved, fresh []int32) {
	to := func(i int32) int32 {
		if moved == nil {
			return i
		}
		return moved[i]
	}
	ov := &overlay{stale: newBitset(len(n.people))}
	if old := idx.ov; old == nil {
		ov.pos = moved
	} else {
		ov.pos = old.pos
		if moved != nil && old.pos != nil {
			ov.pos = make([]int32, len(old.pos))
			for b, i := range old.pos {
				ov.pos[b] = -1
				if i >= 0 {
					ov.pos[b] = moved[i]
				}
			}
		} else if moved != nil {
			ov.pos = moved
		}
		old.stale.each(func(i int) bool {
			if j := to(int32(i)); j >= 0 {
				ov.stale.add(j)
			}
			return true
		})
		for _, i := range old.people {
			if j := to(i); j >= 0 {
				ov.people = append(ov.people, j)
			}
		}
	}
	for _, i := range fresh {
		if int(i) < len(n.people) {
			ov.stale.add(i)
		}
	}
	ov.people = append(ov.people, fresh...)
	slices.Sort(ov.people)
	ov.people = slices.Compact(ov.people)
	if len(ov.people) > 2*overlayMax(len(n.people)) {
		n.ov = nil
		n.names, n.others = n.keys()
		return
	}
	var nb, ob keyBuilder
	for _, i := range ov.people {
		n.searchKeys(&n.people[i], n.english[i], func(k string) { nb.add(i, k) }, func(k string) { ob.add(i, k) })
	}
	ov.names, ov.others = nb.keys(), ob.keys()
	n.names, n.others, n.ov = idx.names, idx.others, ov
}

// person returns userid's record in the index, or nil.
func (idx *peopleIndex) person(userid string) *dingbook.Person {
	if i, ok := idx.byID[userid]; ok {
		return &idx.people[i]
	}
	return nil
}

// Bridge makes snapshot id the live directory's base when it is not yet
// (a pull just stored it): it records what differs between the live
// directory and the snapshot as a revision of cause "pull" and returns
// it (nil: id was the base already). Pull calls it after a complete pull
// once the log is in use; the live directory calls it when it finds a
// newer base.
func (a *App) Bridge(ctx context.Context, id int64) (*store.Revision, error) {
	a.live.mu.Lock()
	defer a.live.mu.Unlock()
	return a.bridge(ctx, id)
}

// reconcile makes a complete pull's snapshot the live directory's base
// when the log is in use (dingbook serve ran on this state), and returns
// the drift by kind (nil when the log is not in use or the snapshot does
// not qualify as a base: without restricted staff counted). The pull
// read each person once, at some time while it ran: what an event
// changed meanwhile may be older in the snapshot than in the live
// directory (a mobile hidden, a person gone), so whoever the previous
// base's events named since the pull began is read again through c and
// applied over the new base (rereadAfter).
func (a *App) reconcile(ctx context.Context, c *dingtalk.Client, pol *policy.Policy, snap *dingbook.Snapshot) (map[string]int, error) {
	last, err := a.DB.LatestRevision(ctx)
	if err != nil || last == nil {
		return nil, err
	}
	if id, err := a.DB.LatestCompleteSnapshotID(ctx); err != nil || id != snap.ID {
		return nil, nil
	}
	r, err := a.Bridge(ctx, snap.ID)
	if err != nil {
		return nil, err
	}
	began := snap.TakenAt
	if snap.Receipt != nil {
		began = began.Add(-snap.Receipt.Duration)
	}
	if r == nil {
		// bridged already: the live directory found the snapshot on a
		// read between the pull's save and now
		start, err := a.DB.BaseStart(ctx, snap.ID)
		if err != nil {
			return nil, err
		}
		revs, err := a.DB.Revisions(ctx, start-1, start)
		if err != nil || len(revs) != 1 || revs[0].Cause != store.CausePull {
			return nil, err
		}
		r = &revs[0]
	}
	if err := a.rereadAfter(ctx, c, pol, snap.ID, began); err != nil {
		return nil, err
	}
	return r.DriftCounts(), nil
}

// pruneRevisions drops the live directory's revisions older than the
// policy's serve.revisions_keep and those of purged snapshots, except
// base's (the new base a complete pull just reconciled): the log does not
// grow for ever, and a device whose sync token is older syncs afresh
// (BookSince: ErrSyncToken, 403 valid-sync-token).
func (a *App) pruneRevisions(ctx context.Context, pol *policy.Policy, base int64) error {
	keep := policy.DefaultRevisionsKeep
	if pol != nil && pol.Serve.RevisionsKeep > 0 {
		keep = time.Duration(pol.Serve.RevisionsKeep)
	}
	return a.DB.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.PruneRevisions(a.now().Add(-keep), base)
		return err
	})
}

// rereadAfter reads again the people and departments that the events of
// the base before base (the snapshot just bridged to) named from began
// on, and commits what differs from base as one revision
// (ApplyEvent, event type "reconcile").
func (a *App) rereadAfter(ctx context.Context, c *dingtalk.Client, pol *policy.Policy, base int64, began time.Time) error {
	bridged, err := a.DB.BaseStart(ctx, base)
	if err != nil || bridged <= 1 {
		return err
	}
	prev, err := a.DB.RevisionBase(ctx, bridged-1)
	if err != nil {
		return err
	}
	from, err := a.DB.BaseStart(ctx, prev)
	if err != nil {
		return err
	}
	revs, err := a.DB.Revisions(ctx, from-1, bridged-1)
	if err != nil {
		return err
	}
	ev := stream.Event{Type: "reconcile"}
	for _, r := range revs {
		if r.Cause != store.CauseEvent || r.Base != prev || r.At.Before(began) {
			continue
		}
		for _, p := range r.People {
			if p.After != nil || p.Op == store.OpRemove { // not a card alone (a department's path: its department is read)
				ev.UserIDs = append(ev.UserIDs, p.UserID)
			}
		}
		for _, d := range r.Depts {
			ev.DeptIDs = append(ev.DeptIDs, d.ID)
		}
	}
	if len(ev.UserIDs)+len(ev.DeptIDs) == 0 || c == nil {
		return nil
	}
	slices.Sort(ev.UserIDs)
	slices.Sort(ev.DeptIDs)
	ev.UserIDs, ev.DeptIDs = slices.Compact(ev.UserIDs), slices.Compact(ev.DeptIDs)
	_, err = a.ApplyEvent(ctx, c, pol, ev)
	return err
}

// bridge is Bridge with a.live.mu held.
func (a *App) bridge(ctx context.Context, id int64) (*store.Revision, error) {
	last, err := a.DB.LatestRevision(ctx)
	if err != nil || (last != nil && last.Base == id) {
		return nil, err
	}
	r := &store.Revision{At: a.now(), Cause: store.CausePull, Base: id}
	var old *peopleIndex
	if last != nil {
		old, _, err = a.indexAt(ctx, last.Base, last.Rev, true)
		var de *dingbook.Error
		if errors.As(err, &de) && de.Code == dingbook.ENOTFOUND {
			old, err = nil, nil // the old base was purged: start afresh
		}
		if err != nil {
			return nil, err
		}
	}
	if err := a.holdAt(ctx, "bridge"); err != nil {
		return nil, err
	}
	if old == nil {
		// the log starts here: no token before it is valid
		r.Reset = true
	} else if err := a.drift(ctx, old, id, r); err != nil {
		return nil, err
	}
	if err := a.DB.Write(ctx, func(tx *store.Tx) error { return tx.AddRevision(r) }); err != nil {
		return nil, err
	}
	if counts := r.DriftCounts(); len(counts) > 0 && a.Drift != nil {
		a.Drift(counts)
	}
	return r, nil
}

// drift fills r with the differences between the live directory old and
// snapshot id: the people whose card or visibility differ, the
// departments that differ.
func (a *App) drift(ctx context.Context, old *peopleIndex, id int64, r *store.Revision) error {
	sd, err := a.DB.Directory(ctx, id)
	if err != nil {
		return err
	}
	newDepts := sd.Departments()
	tree := dingbook.NewTree(newDepts)
	trees := newTreePair(old.tree, tree)
	seen := make(map[string]bool, len(old.people))
	err = sd.EachPerson(ctx, func(p *dingbook.Person) error {
		seen[p.UserID] = true
		before := old.person(p.UserID)
		if before == nil || trees.cardDiffers(before, trimmed(p)) {
			r.People = append(r.People, store.PersonChange{UserID: p.UserID, Op: store.OpUpsert, After: p, Before: before})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range old.people {
		if p := &old.people[i]; !seen[p.UserID] {
			r.People = append(r.People, store.PersonChange{UserID: p.UserID, Op: store.OpRemove, Before: p})
		}
	}
	was := map[int64]dingbook.Department{}
	for _, d := range old.deptList {
		was[d.ID] = d
	}
	for i := range newDepts {
		d := &newDepts[i]
		if w, ok := was[d.ID]; !ok || !sameDept(&w, d) {
			r.Depts = append(r.Depts, store.DeptChange{ID: d.ID, After: d})
		}
		delete(was, d.ID)
	}
	for _, id := range slices.Sorted(maps.Keys(was)) {
		r.Depts = append(r.Depts, store.DeptChange{ID: id})
	}
	return nil
}

// cardDiffers reports whether a and b (in their trees) differ in what a
// book shows: the card, or who may see it and its mobile.
func cardDiffers(a *dingbook.Person, ta *dingbook.Tree, b *dingbook.Person, tb *dingbook.Tree) bool {
	if sameJSON(a, b) && ta == tb {
		return false
	}
	return renderDiffers(a, ta, b, tb)
}

// renderDiffers is cardDiffers past its comparison of the records: it
// renders both cards.
func renderDiffers(a *dingbook.Person, ta *dingbook.Tree, b *dingbook.Person, tb *dingbook.Tree) bool {
	if a.Restricted != b.Restricted || a.HideMobile != b.HideMobile || a.Senior != b.Senior || !slices.Equal(a.DeptIDs(), b.DeptIDs()) {
		return true
	}
	return vcard.CardFor(a, ta, vcard.Options{}).String() != vcard.CardFor(b, tb, vcard.Options{}).String()
}

// treePair compares people's cards across two department trees (a
// live directory's and a new snapshot's) without rendering the cards of
// people whose records are the same and whose departments show the same
// in both trees: what a card takes from its tree is the root's name (the
// company) and a department's path.
type treePair struct {
	a, b *dingbook.Tree
	// company reports whether the root is the same in both trees
	company bool
	// same caches whether a department shows the same in both trees:
	// present in both or in neither, with the same path
	same map[int64]bool
}

func newTreePair(a, b *dingbook.Tree) *treePair {
	ra, rb := a.Dept(dingbook.RootDeptID), b.Dept(dingbook.RootDeptID)
	company := (ra == nil) == (rb == nil) && (ra == nil || ra.Name == rb.Name)
	return &treePair{a: a, b: b, company: company, same: map[int64]bool{}}
}

// sameDept reports whether department id shows the same in both trees.
func (t *treePair) sameDept(id int64) bool {
	same, ok := t.same[id]
	if !ok {
		da, db := t.a.Dept(id), t.b.Dept(id)
		same = (da == nil) == (db == nil) && (da == nil || slices.Equal(t.a.Path(id), t.b.Path(id)))
		t.same[id] = same
	}
	return same
}

// cardDiffers is cardDiffers(a, t.a, b, t.b), rendering the two cards
// only when the records differ or one of the person's departments (or the
// root) shows differently in the two trees.
func (t *treePair) cardDiffers(a, b *dingbook.Person) bool {
	// records equal as values encode the same: the two encodings are
	// made only when they are not (an empty list beside a missing one)
	if (reflect.DeepEqual(a, b) || sameJSON(a, b)) && (t.a == t.b || t.company && !slices.ContainsFunc(a.Depts, func(m dingbook.Membership) bool { return !t.sameDept(m.DeptID) })) {
		return false
	}
	return renderDiffers(a, t.a, b, t.b)
}

// differs reports whether after, a re-read of before (idx's record),
// differs in anything idx holds: beside the card, what the directory's
// page shows and the search finds (job number, work place, English
// names).
func (idx *peopleIndex) differs(before, after *dingbook.Person) bool {
	return !sameJSON(before, trimmed(after)) || idx.english[idx.byID[before.UserID]] != englishOf(after)
}

// sameDept reports whether two records of a department agree on what the
// directory shows of it: its name and place in the tree (its manager list
// or order are not shown, and DingTalk changes them without an event).
func sameDept(a, b *dingbook.Department) bool {
	return a.ID == b.ID && a.Name == b.Name && a.ParentID == b.ParentID
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// EventDeduper is the Stream client's durable Deduper: an event is seen
// when its eventId is in the revision log, where ApplyEvent commits it
// with its change, so a redelivered event is applied once, across
// restarts too.
type EventDeduper struct{ App *App }

// Seen implements stream.Deduper (a database error counts as not seen:
// ApplyEvent then finds the event applied and does nothing).
func (d EventDeduper) Seen(id string) bool {
	ok, _ := d.App.DB.EventApplied(context.Background(), id)
	return ok
}

// Done implements stream.Deduper: ApplyEvent already recorded the id.
func (EventDeduper) Done(string) {}

// EventResult is what ApplyEvent did.
type EventResult struct {
	// Rev is the revision committed (0: none, the event was applied
	// already).
	Rev int64
	// Changes counts the cards the revision changed.
	Changes int
	// SessionsEnded and AppPasswordsRevoked count a leaver's sessions and
	// app passwords ended.
	SessionsEnded, AppPasswordsRevoked int
	// RolesChanged counts the people whose roles an admin change changed
	// in their sessions and app passwords (0 or 1).
	RolesChanged int
}

// ApplyEvent applies one Stream contact event to the live directory: it
// re-reads what the event names (v2/user/get, v2/department/get; 60121
// or 60003 means gone, 50002 or 50004 out of the contact range, which a
// pull would not list either), ends a leaver's sessions and app passwords,
// gives an admin change's person their new roles in their sessions and
// app passwords (as a pull does, with the policy pol's roles), and commits
// the changes with the event's id as one revision. An error leaves
// nothing committed: the event is to be delivered again. Before any
// complete snapshot (no base) only the sessions' part is done (a leaver's
// end, an admin change's roles) and the rest is dropped (Rev 0, no
// error): the first complete pull reads what the event changed.
func (a *App) ApplyEvent(ctx context.Context, c *dingtalk.Client, pol *policy.Policy, ev stream.Event) (*EventResult, error) {
	res := &EventResult{}
	if ev.ID != "" {
		if ok, err := a.DB.EventApplied(ctx, ev.ID); err != nil || ok {
			return res, err
		}
	}
	base, err := a.hasBase(ctx)
	if err != nil {
		return nil, err
	}
	var known *peopleIndex // for the departments' sizes (restrictedCheck)
	if base {
		if known, err = a.liveDirectory(ctx); err != nil {
			return nil, err
		}
	}
	rc := restrictedCheck{c: c, idx: known}
	if len(ev.UserIDs) > 1 {
		// a reconcile names many people, mostly of the same departments:
		// each department is listed once
		rc.listed = map[int64]map[string]bool{}
	}
	// re-read outside the lock: DingTalk may be slow, readers must not wait
	users := map[string]*dingbook.Person{}
	for _, u := range ev.UserIDs {
		p, err := c.GetUser(ctx, u)
		switch {
		case dingtalk.Code(err) == dingtalk.CodeUserNotFound, dingtalk.Code(err) == dingtalk.CodeUserOutOfRange:
			// gone, or out of the app's contact range: not in the
			// directory, as a pull would not list them
			users[u] = nil
		case err != nil:
			return nil, fmt.Errorf("re-reading user %s of event %s (%s): %w", u, ev.ID, ev.Type, err)
		case !base:
			users[u] = p // only whether they are gone matters
		default:
			if p.Restricted, err = rc.restricted(ctx, p); err != nil {
				return nil, fmt.Errorf("checking whether user %s of event %s is access-restricted: %w", u, ev.ID, err)
			}
			users[u] = p
		}
	}
	depts := map[int64]*dingbook.Department{}
	for _, id := range ev.DeptIDs {
		if !base {
			break // nothing to apply them to
		}
		d, err := c.GetDept(ctx, id)
		switch {
		case dingtalk.Code(err) == dingtalk.CodeDeptNotFound, dingtalk.Code(err) == dingtalk.CodeDeptOutOfRange:
			depts[id] = nil
		case err != nil:
			return nil, fmt.Errorf("re-reading department %d of event %s (%s): %w", id, ev.ID, ev.Type, err)
		default:
			depts[id] = d
		}
	}
	// who left or changed role loses what they held at once (idempotent:
	// a redelivery repeats it harmlessly)
	actor := "dingtalk-event:" + ev.Type
	for u, p := range users {
		var err error
		var n int
		switch {
		case p == nil:
			n, err = a.EndSessions(ctx, u, actor, "left the organisation (DingTalk event "+ev.Type+")")
			res.SessionsEnded += n
			if err == nil {
				n, err = a.RevokeUserAppPasswords(ctx, u, actor, "left the organisation (DingTalk event "+ev.Type+")")
				res.AppPasswordsRevoked += n
			}
		case ev.Type == stream.AdminAdd || ev.Type == stream.AdminRemove:
			n, err = a.roleChanged(ctx, c, pol, u, ev.Type)
			res.RolesChanged += n
		}
		if err != nil {
			return nil, err
		}
	}
	if !base {
		// no complete snapshot yet: the directory's change cannot be
		// applied, and need not be (the first complete pull reads the
		// organisation as it is then); the event is acknowledged, not
		// answered LATER for ever
		return res, nil
	}

	a.live.mu.Lock()
	defer a.live.mu.Unlock()
	idx, err := a.liveIndex(ctx, true, true)
	if err != nil {
		return nil, err
	}
	r := &store.Revision{At: a.now(), Cause: store.CauseEvent, EventID: ev.ID, EventType: ev.Type, Base: idx.snapshot}
	// an admin change changes what that person's book holds: recorded as
	// a change of their own record, their next sync starts afresh
	admin := ev.Type == stream.AdminAdd || ev.Type == stream.AdminRemove
	for _, u := range slices.Sorted(maps.Keys(users)) {
		before, after := idx.person(u), users[u]
		switch {
		case after == nil && before != nil:
			r.People = append(r.People, store.PersonChange{UserID: u, Op: store.OpRemove, Before: before})
		case after != nil && (before == nil || admin || idx.differs(before, after)):
			r.People = append(r.People, store.PersonChange{UserID: u, Op: store.OpUpsert, After: after, Before: before})
		}
	}
	deptList := slices.Clone(idx.deptList)
	var renamed []int64 // renamed or moved: their members' cards may change
	for _, id := range slices.Sorted(maps.Keys(depts)) {
		d := depts[id]
		i := slices.IndexFunc(deptList, func(x dingbook.Department) bool { return x.ID == id })
		switch {
		case d == nil && i < 0, d != nil && i >= 0 && sameDept(&deptList[i], d):
			continue
		case d == nil:
			deptList = slices.Delete(deptList, i, i+1)
		case i < 0:
			deptList = append(deptList, *d)
		default:
			deptList[i] = *d
			renamed = append(renamed, id)
		}
		r.Depts = append(r.Depts, store.DeptChange{ID: id, After: d})
	}
	if len(renamed) > 0 {
		// the cards that show a renamed or moved department's path: its
		// members' and its sub-departments'
		tree := dingbook.NewTree(deptList)
		under := map[int64]bool{}
		for _, id := range renamed {
			for _, t := range []*dingbook.Tree{idx.tree, tree} {
				for _, x := range t.Descendants(id) {
					under[x] = true
				}
			}
		}
		for j := range idx.people {
			p := &idx.people[j]
			if _, ok := users[p.UserID]; ok || !slices.ContainsFunc(p.Depts, func(m dingbook.Membership) bool { return under[m.DeptID] }) {
				continue
			}
			if cardDiffers(p, idx.tree, p, tree) {
				// the card changed, the record did not: no After
				r.People = append(r.People, store.PersonChange{UserID: p.UserID, Op: store.OpUpsert, Before: p})
			}
		}
	}
	err = a.DB.Write(ctx, func(tx *store.Tx) error { return tx.AddRevision(r) })
	if errors.Is(err, store.ErrEventApplied) {
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	res.Rev, res.Changes = r.Rev, len(r.People)
	// the index follows now, off the readers' path
	_, _, err = a.indexAt(ctx, idx.snapshot, r.Rev, true)
	return res, err
}

// hasBase reports whether the live directory has a base: a complete
// snapshot that marks restricted staff.
func (a *App) hasBase(ctx context.Context) (bool, error) {
	_, err := a.DB.LatestCompleteSnapshotID(ctx)
	var de *dingbook.Error
	if errors.As(err, &de) && de.Code == dingbook.ENOTFOUND {
		return false, nil
	}
	return err == nil, err
}

// trimmed is p as the index keeps it (a copy).
func trimmed(p *dingbook.Person) *dingbook.Person {
	q := *p
	trim(&q)
	return &q
}

// restrictedCheck tells whether re-read people are access-restricted
// staff.
type restrictedCheck struct {
	c *dingtalk.Client
	// idx, if set, gives the departments' sizes: the smallest is listed
	// first
	idx *peopleIndex
	// listed, if set, keeps each department's listing (the userids it
	// shows without contain_access_limit) for the next person; else a
	// listing stops where the person is found
	listed map[int64]map[string]bool
}

// restricted reports whether p is access-restricted staff: absent from
// every one of their departments' listings without contain_access_limit
// (how a pull with CountRestricted marks them). The departments are
// listed smallest first, and the first listing that shows p ends the
// check: a person who is not restricted (nearly everyone) costs the
// pages of their smallest department up to them, not every page of
// every department (a person directly in a department of thousands).
func (rc *restrictedCheck) restricted(ctx context.Context, p *dingbook.Person) (bool, error) {
	depts := p.DeptIDs()
	if rc.idx != nil {
		size := func(id int64) int {
			if i, ok := rc.idx.deptPos[id]; ok {
				return rc.idx.depts.Departments[i].Headcount
			}
			return 0 // new: not listed yet
		}
		slices.SortStableFunc(depts, func(x, y int64) int { return size(x) - size(y) })
	}
	for _, d := range depts {
		set, ok := rc.listed[d]
		if ok {
			if set[p.UserID] {
				return false, nil
			}
			continue
		}
		if rc.listed != nil {
			set = map[string]bool{}
		}
		var cursor dingtalk.Cursor
		for {
			page, err := rc.c.ListSimple(ctx, d, cursor, dingtalk.PageSize, false)
			if err != nil {
				return false, err
			}
			found := false
			for _, u := range page.List {
				found = found || string(u.UserID) == p.UserID
				if set != nil {
					set[string(u.UserID)] = true
				}
			}
			if found && set == nil {
				return false, nil
			}
			if !bool(page.HasMore) {
				break
			}
			cursor = page.NextCursor
		}
		if set != nil {
			rc.listed[d] = set
			if set[p.UserID] {
				return false, nil
			}
		}
	}
	return len(depts) > 0, nil
}

// roleChanged follows an admin change of userid as a pull's role
// refresh does (setRoles, roles.go): their sessions and app passwords
// take the roles and admin scope DingTalk and the policy give now (a
// demoted admin gets 403 at their next admin request, without logging in
// again), audited as a role change. It returns 1 when their roles
// changed, 0 when they hold nothing or their roles are the same (an
// event delivered again).
func (a *App) roleChanged(ctx context.Context, c *dingtalk.Client, pol *policy.Policy, userid, why string) (int, error) {
	held, err := a.DB.HeldRolesOf(ctx, userid)
	if err != nil {
		return 0, err
	}
	if len(held) == 0 {
		return 0, nil
	}
	admins, err := c.ListAdmin(ctx)
	if err != nil {
		return 0, fmt.Errorf("re-reading the admins for event %s: %w", why, err)
	}
	changed, err := a.setRoles(ctx, c, pol, held, admins, "DingTalk's admin list changed (event "+why+")")
	return len(changed), err
}

// ownChange records, when the live directory's log is in use, that what
// the people userids may see changed though their records did not (their
// roles, changed by a pull): a change of their own record in a revision
// of cause "pull" on the current base (the index does not follow it), so
// their next sync is refused and starts afresh (BookSince): a demoted
// admin's device drops what they may no longer see, a promoted one's
// gains it. An admin event records it in its own revision instead.
func (a *App) ownChange(ctx context.Context, userids []string) error {
	if len(userids) == 0 {
		return nil
	}
	a.live.mu.Lock()
	defer a.live.mu.Unlock()
	last, err := a.DB.LatestRevision(ctx)
	if err != nil || last == nil {
		return err
	}
	idx, err := a.liveIndex(ctx, true, true)
	if err != nil {
		return err
	}
	r := &store.Revision{At: a.now(), Cause: store.CausePull, Base: idx.snapshot}
	for _, u := range userids {
		// the card alone (no After): the record is the same
		r.People = append(r.People, store.PersonChange{UserID: u, Op: store.OpUpsert, Before: idx.person(u)})
	}
	return a.DB.Write(ctx, func(tx *store.Tx) error { return tx.AddRevision(r) })
}
