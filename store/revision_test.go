package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/store"
)

func TestRevisionLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := db.LatestRevision(ctx); r != nil || err != nil {
		t.Fatalf("empty log: %v %v", r, err)
	}
	add := func(r *store.Revision) error {
		return db.Write(ctx, func(tx *store.Tx) error { return tx.AddRevision(r) })
	}
	before := &dingbook.Person{UserID: "u1", Name: "王芳", Mobile: "13800000000", Restricted: true,
		Depts: []dingbook.Membership{{DeptID: 2}}}
	after := &dingbook.Person{UserID: "u1", Name: "王芳", Mobile: "13900000000", Depts: []dingbook.Membership{{DeptID: 3}}}
	r1 := &store.Revision{At: time.Now(), Cause: store.CausePull, Base: 1, Reset: true}
	r2 := &store.Revision{At: time.Now(), Cause: store.CauseEvent, EventID: "ev-1", EventType: "user_modify_org", Base: 1,
		People: []store.PersonChange{{UserID: "u1", Op: store.OpUpsert, After: after, Before: before}},
		Depts:  []store.DeptChange{{ID: 3, After: &dingbook.Department{ID: 3, Name: "销售"}}}}
	r3 := &store.Revision{At: time.Now(), Cause: store.CauseEvent, EventID: "ev-2", Base: 1,
		People: []store.PersonChange{{UserID: "u1", Op: store.OpRemove, Before: after}, {UserID: "u2", Op: store.OpUpsert, After: &dingbook.Person{UserID: "u2"}}}}
	for _, r := range []*store.Revision{r1, r2, r3} {
		if err := add(r); err != nil {
			t.Fatal(err)
		}
	}
	if r1.Rev != 1 || r2.Rev != 2 || r3.Rev != 3 {
		t.Fatalf("revs %d %d %d", r1.Rev, r2.Rev, r3.Rev)
	}
	// the same event again, also after a reopen, is refused and writes nothing
	db.Close()
	if db, err = store.Open(ctx, dir); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dup := &store.Revision{At: time.Now(), Cause: store.CauseEvent, EventID: "ev-1", Base: 1}
	if err := add(dup); !errors.Is(err, store.ErrEventApplied) {
		t.Fatalf("a duplicate event: %v", err)
	}
	if ok, err := db.EventApplied(ctx, "ev-2"); !ok || err != nil {
		t.Fatalf("EventApplied(ev-2) = %v %v", ok, err)
	}
	if ok, _ := db.EventApplied(ctx, "ev-9"); ok {
		t.Fatal("ev-9 applied?")
	}
	if last, _ := db.LatestRevision(ctx); last.Rev != 3 || last.EventID != "ev-2" {
		t.Fatalf("latest %+v", last)
	}
	if reset, _ := db.LastReset(ctx); reset != 1 {
		t.Fatalf("last reset %d", reset)
	}
	revs, err := db.Revisions(ctx, 1, 0)
	if err != nil || len(revs) != 2 {
		t.Fatalf("revisions after 1: %d %v", len(revs), err)
	}
	if p := revs[0].People[0]; p.After.Mobile != "13900000000" || p.Before.Mobile != "" || !p.Before.Restricted || p.Before.Depts[0].DeptID != 2 {
		t.Errorf("revision 2's change: after %+v before %+v (before keeps only what decides visibility)", p.After, p.Before)
	}
	if d := revs[0].Depts; len(d) != 1 || d[0].After.Name != "销售" {
		t.Errorf("revision 2's departments %+v", d)
	}
	if len(revs[1].People) != 2 || revs[1].People[0].After != nil {
		t.Errorf("revision 3 %+v", revs[1].People)
	}
	// since revision 1: u1's first change (before = as at 1), then u2
	ch, err := db.ChangedSince(ctx, 1)
	if err != nil || len(ch) != 2 || ch[0].UserID != "u1" || ch[0].Before.Depts[0].DeptID != 2 || ch[1].UserID != "u2" || ch[1].Before != nil {
		t.Fatalf("changed since 1: %+v %v", ch, err)
	}
	if ch, _ := db.ChangedSince(ctx, 3); len(ch) != 0 {
		t.Fatalf("changed since 3: %+v", ch)
	}
}

// An event revision on a base that is no longer the latest (another
// process bridged to a new snapshot meanwhile) is refused, nothing
// written: the live directory's index would leave it out.
func TestRevisionOnOldBase(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	add := func(r *store.Revision) error {
		return db.Write(ctx, func(tx *store.Tx) error { return tx.AddRevision(r) })
	}
	for _, r := range []*store.Revision{
		{At: time.Now(), Cause: store.CausePull, Base: 1, Reset: true},
		{At: time.Now(), Cause: store.CausePull, Base: 2},
	} {
		if err := add(r); err != nil {
			t.Fatal(err)
		}
	}
	late := &store.Revision{At: time.Now(), Cause: store.CauseEvent, EventID: "ev-late", Base: 1,
		People: []store.PersonChange{{UserID: "u1", Op: store.OpUpsert, After: &dingbook.Person{UserID: "u1"}}}}
	if err := add(late); !errors.Is(err, store.ErrBaseChanged) {
		t.Fatalf("an event on the old base: %v, want ErrBaseChanged", err)
	}
	if ok, err := db.EventApplied(ctx, "ev-late"); ok || err != nil {
		t.Errorf("the refused event is in the log: %v %v", ok, err)
	}
	late.Base = 2
	if err := add(late); err != nil || late.Rev != 3 {
		t.Errorf("the event on the new base: rev %d %v", late.Rev, err)
	}
}

// PruneRevisions deletes the revisions older than the cutoff and those
// of purged bases, with their changes, never the current base's; the
// tokens before what is kept are then before LastReset.
func TestPruneRevisions(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var bases []int64
	for range 3 {
		s := &dingbook.Snapshot{Source: "test", TakenAt: time.Now(), Org: dingbook.Org{Name: "x"}, Receipt: &dingbook.Receipt{Complete: true}}
		if err := db.SaveSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
		bases = append(bases, s.ID)
	}
	old, recent := time.Now().Add(-40*24*time.Hour), time.Now().Add(-time.Hour)
	change := []store.PersonChange{{UserID: "u1", Op: store.OpUpsert, After: &dingbook.Person{UserID: "u1"}}}
	for i, r := range []*store.Revision{
		{At: old, Cause: store.CausePull, Base: bases[0], Reset: true},                       // 1: too old
		{At: old, Cause: store.CauseEvent, EventID: "e1", Base: bases[0], People: change},    // 2: too old
		{At: recent, Cause: store.CausePull, Base: 999, People: change},                      // 3: its base purged
		{At: recent, Cause: store.CausePull, Base: bases[1], People: change},                 // 4: kept
		{At: recent, Cause: store.CauseEvent, EventID: "e2", Base: bases[1], People: change}, // 5: kept
		{At: old, Cause: store.CausePull, Base: bases[2], People: change},                    // 6: the current base's
		{At: recent, Cause: store.CauseEvent, EventID: "e3", Base: bases[2], People: change}, // 7
	} {
		if err := db.Write(ctx, func(tx *store.Tx) error { return tx.AddRevision(r) }); err != nil || r.Rev != int64(i+1) {
			t.Fatalf("revision %d: %v", r.Rev, err)
		}
	}
	var n int
	err = db.Write(ctx, func(tx *store.Tx) (err error) {
		n, err = tx.PruneRevisions(time.Now().Add(-30*24*time.Hour), bases[2])
		return err
	})
	if err != nil || n != 3 {
		t.Fatalf("pruned %d %v, want 3", n, err)
	}
	revs, err := db.Revisions(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kept []int64
	for _, r := range revs {
		kept = append(kept, r.Rev)
		if len(r.People) != 1 {
			t.Errorf("revision %d lost its change", r.Rev)
		}
	}
	if fmt.Sprint(kept) != "[4 5 6 7]" {
		t.Errorf("kept %v, want [4 5 6 7]", kept)
	}
	if reset, err := db.LastReset(ctx); reset != 4 || err != nil {
		t.Errorf("the first valid token %d %v, want 4", reset, err)
	}
}
