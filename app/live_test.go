package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/dingtalk/stream"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
)

// addEvent commits an event revision on the live directory's base.
func addEvent(t *testing.T, a *app.App, id string, people []store.PersonChange, depts []store.DeptChange) int64 {
	t.Helper()
	ctx := context.Background()
	base, err := a.DB.LatestCompleteSnapshotID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := &store.Revision{At: time.Now(), Cause: store.CauseEvent, EventID: id, Base: base, People: people, Depts: depts}
	if err := a.DB.Write(ctx, func(tx *store.Tx) error { return tx.AddRevision(r) }); err != nil {
		t.Fatal(err)
	}
	return r.Rev
}

// liveApp is an App over dirOrg's complete snapshot.
func liveApp(t *testing.T) (*app.App, dingbook.Org) {
	t.Helper()
	org := dirOrg()
	return appOver(t, org), org
}

// appOver is an App over org as its complete snapshot.
func appOver(t *testing.T, org dingbook.Org) *app.App {
	t.Helper()
	a, err := app.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	saveDir(t, a, org, true)
	return a
}

func personOf(org dingbook.Org, userid string) *dingbook.Person {
	for i := range org.People {
		if org.People[i].UserID == userid {
			p := org.People[i]
			return &p
		}
	}
	return nil
}

// TestLiveIndexFollowsRevisions: the index applied revision by revision
// (copy-on-write, its key indexes with an overlay) equals one built
// afresh from the snapshot and the log, for search, people and the tree
// with its headcounts; after every revision its searches (Chinese,
// pinyin, initials, English names, titles, departments, job numbers)
// find what an index built afresh from the same people finds, with the
// overlay and when it outgrew its limit (the key indexes built again).
func TestLiveIndexFollowsRevisions(t *testing.T) {
	t.Run("overlay", func(t *testing.T) { testLiveIndex(t, true) })
	t.Run("rebuilt", func(t *testing.T) {
		defer app.SetOverlayMax(func(int) int { return 1 })()
		testLiveIndex(t, false)
	})
}

func testLiveIndex(t *testing.T, overlay bool) {
	ctx := context.Background()
	a, org := liveApp(t)
	boss := dirSessions()["primary"]
	if _, err := a.DirectoryTree(ctx); err != nil {
		t.Fatal(err)
	}
	queries := []string{"张三", "王", "五", "zhangsan", "wangwu", "zhou", "zs", "ww", "zb", "carol", "Carol Wang", "zoe zhou", "zz", "cw",
		"account", "regional", "auditor", "工程师", "manager", "sales", "sales east", "研发", "研发部", "research", "legal", "a-0001",
		"a", "e", "zh", "an", "孙七", "新人", "xinren", "erin", "<img"}
	rebuilt := false
	same := func(step string) {
		t.Helper()
		live, fresh, overlaid, err := a.SearchLiveAndFresh(ctx, boss, queries)
		if err != nil {
			t.Fatal(err)
		}
		rebuilt = rebuilt || overlaid < 0
		if overlay && overlaid < 0 && step != "the snapshot" {
			t.Errorf("%s: no overlay, the key indexes were built again", step)
		}
		for i, q := range queries {
			if !slices.Equal(live[i], fresh[i]) {
				t.Errorf("%s: search %q: live %v, afresh %v", step, q, live[i], fresh[i])
			}
		}
	}
	same("the snapshot")
	alice := personOf(org, "alice")
	moved := *alice
	moved.Title, moved.Depts = "Regional Lead", []dingbook.Membership{{DeptID: 3}}
	zoe := &dingbook.Person{UserID: "zoe", Name: "周八", Active: true, Depts: []dingbook.Membership{{DeptID: 4}},
		Extension: map[string]string{"english_name": "Zoe Zhou"}}
	addEvent(t, a, "e1", []store.PersonChange{{UserID: "zoe", Op: store.OpUpsert, After: zoe}}, nil)
	if p, err := a.Person(ctx, boss, "zoe"); err != nil || p.Name != "周八" {
		t.Fatalf("the joiner: %+v %v", p, err)
	}
	same("a joiner")
	addEvent(t, a, "e2", []store.PersonChange{{UserID: "sam", Op: store.OpRemove, Before: personOf(org, "sam")},
		{UserID: "alice", Op: store.OpUpsert, After: &moved, Before: alice}}, nil)
	same("a leaver and a change")
	addEvent(t, a, "e3", nil, []store.DeptChange{{ID: 4, After: &dingbook.Department{ID: 4, Name: "Research", ParentID: 1}},
		{ID: 5, After: &dingbook.Department{ID: 5, Name: "Legal", ParentID: 1}}})
	same("a department renamed, one added")

	// only existing people change: the fast path (positions kept)
	carol := personOf(org, "carol")
	carol2 := *carol
	carol2.Title, carol2.Depts = "Auditor", []dingbook.Membership{{DeptID: 2}}
	addEvent(t, a, "e4", []store.PersonChange{{UserID: "carol", Op: store.OpUpsert, After: &carol2, Before: carol}}, nil)
	if ps, _ := a.SearchPeople(ctx, boss, "auditor"); !slices.Equal(userids(ps), []string{"carol"}) {
		t.Errorf("the changed title: %v", userids(ps))
	}
	same("a change in place")
	// a second leaver (positions moved twice), a joiner in the new
	// department, a department removed
	xin := &dingbook.Person{UserID: "xin", Name: "新人", Title: "Counsel", Active: true, Depts: []dingbook.Membership{{DeptID: 5}}}
	bob := personOf(org, "bob")
	bob2 := *bob
	bob2.Name = "李四四"
	addEvent(t, a, "e5", []store.PersonChange{{UserID: "yan", Op: store.OpRemove, Before: personOf(org, "yan")},
		{UserID: "xin", Op: store.OpUpsert, After: xin}, {UserID: "bob", Op: store.OpUpsert, After: &bob2, Before: bob}}, nil)
	same("a second leaver, a joiner")
	addEvent(t, a, "e6", nil, []store.DeptChange{{ID: 5, After: &dingbook.Department{ID: 5, Name: "Legal & Compliance", ParentID: 1}}})
	same("the new department renamed")
	addEvent(t, a, "e7", []store.PersonChange{{UserID: "xin", Op: store.OpRemove, Before: xin},
		{UserID: "bob", Op: store.OpUpsert, After: bob, Before: &bob2}}, nil)
	same("the joiner left, a change undone")
	if !overlay && !rebuilt {
		t.Error("the overlay over its limit did not build the key indexes again")
	}

	look := func(a *app.App) string {
		t.Helper()
		var out []any
		for _, q := range []string{"zoe", "zhou", "research", "研发部", "regional", "孙七", "sales", "carol", "auditor"} {
			ps, err := a.SearchPeople(ctx, boss, q)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, q, userids(ps))
		}
		_, err := a.Person(ctx, boss, "sam")
		out = append(out, "sam", errors.Is(err, err) && err != nil)
		tree, err := a.DirectoryTree(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dv, err := a.Department(ctx, boss, 3)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tree.Departments, userids(dv.People))
		b, _ := json.Marshal(out)
		return string(b)
	}
	live := look(a)
	// what the changes must show
	if ps, _ := a.SearchPeople(ctx, boss, "Zoe Zhou"); !slices.Equal(userids(ps), []string{"zoe"}) {
		t.Errorf("English name of the joiner: %v", userids(ps))
	}
	if ps, _ := a.SearchPeople(ctx, boss, "research"); !slices.Contains(userids(ps), "erin") || !slices.Contains(userids(ps), "zoe") {
		t.Errorf("the renamed department's members: %v", userids(ps))
	}
	if ps, _ := a.SearchPeople(ctx, boss, "孙七"); len(ps) != 0 {
		t.Errorf("the leaver is still found: %v", userids(ps))
	}
	tree, _ := a.DirectoryTree(ctx)
	counts := map[int64]int{}
	for _, d := range tree.Departments {
		counts[d.ID] = d.Headcount
	}
	if counts[2] != 1 || counts[3] != 3 || counts[4] != 2 || counts[5] != 0 || len(tree.Departments) != 5 {
		t.Errorf("headcounts after the revisions: %v (%d departments)", counts, len(tree.Departments))
	}
	// a fresh process builds the same from the snapshot and the log
	b, err := app.Open(ctx, a.DB.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if fresh := look(b); fresh != live {
		t.Errorf("incremental and fresh indexes differ:\n live  %s\n fresh %s", live, fresh)
	}
}

// twoCounsels builds a's index, then commits an event retitling alice
// and bob "Counsel" and "Chief Counsel".
func twoCounsels(t *testing.T, a *app.App, org dingbook.Org) {
	t.Helper()
	if _, err := a.DirectoryTree(context.Background()); err != nil {
		t.Fatal(err)
	}
	alice, bob := personOf(org, "alice"), personOf(org, "bob")
	alice2, bob2 := *alice, *bob
	alice2.Title, bob2.Title = "Counsel", "Chief Counsel"
	addEvent(t, a, "e1", []store.PersonChange{{UserID: "alice", Op: store.OpUpsert, After: &alice2, Before: alice},
		{UserID: "bob", Op: store.OpUpsert, After: &bob2, Before: bob}}, nil)
}

// TestLiveIndexRebuildsInBackground: an overlay past its limit (here 1
// person) is replaced by key indexes built afresh in the background,
// finding the same.
func TestLiveIndexRebuildsInBackground(t *testing.T) {
	defer app.SetOverlayMax(func(int) int { return 1 })()
	ctx := context.Background()
	a, org := liveApp(t)
	boss := dirSessions()["primary"]
	twoCounsels(t, a, org)
	queries := []string{"counsel", "account", "张三", "lisi", "sales"}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		live, fresh, overlaid, err := a.SearchLiveAndFresh(ctx, boss, queries)
		if err != nil {
			t.Fatal(err)
		}
		for i, q := range queries {
			if !slices.Equal(live[i], fresh[i]) {
				t.Errorf("search %q: live %v, afresh %v", q, live[i], fresh[i])
			}
		}
		if !slices.Equal(live[0], []string{"alice", "bob"}) {
			t.Errorf("counsel: %v", live[0])
		}
		if overlaid < 0 {
			return
		}
		if overlaid != 2 || time.Now().After(deadline) {
			t.Fatalf("the overlay of %d people was not rebuilt", overlaid)
		}
	}
}

// TestCloseStopsRebuild: the index's background rebuild belongs to the
// App: Close cancels it and returns only once it has ended, so no
// goroutine outlives the App (or reads its closed database).
func TestCloseStopsRebuild(t *testing.T) {
	defer app.SetOverlayMax(func(int) int { return 1 })()
	ctx := context.Background()
	a, org := liveApp(t)
	started := make(chan struct{})
	var ended atomic.Bool
	a.HoldAt(func(ctx context.Context, stage string) {
		if stage != "rebuild" {
			return
		}
		close(started)
		<-ctx.Done() // held until the App closes
		ended.Store(true)
	})
	twoCounsels(t, a, org)
	if _, err := a.DirectoryTree(ctx); err != nil { // applies the revision: the overlay outgrew its limit
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no background rebuild started")
	}
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not cancel the background rebuild")
	}
	if !ended.Load() {
		t.Error("Close returned while the background rebuild still ran")
	}
}

// TestReadersKeepOldIndex: while a new snapshot becomes the base (its
// bridge, then its index built, here by the pulling goroutine's
// WarmDirectory), readers are answered at once from the index they had,
// not held until the work ends; once it ends they see the new base.
func TestReadersKeepOldIndex(t *testing.T) {
	ctx := context.Background()
	a, org := liveApp(t)
	boss := dirSessions()["primary"]
	title := func() string {
		t.Helper()
		p, err := a.Person(ctx, boss, "alice")
		if err != nil {
			t.Fatal(err)
		}
		return p.Title
	}
	before := title()
	for _, stage := range []string{"bridge", "build"} {
		next := org
		next.People = slices.Clone(org.People)
		next.People[slices.IndexFunc(next.People, func(p dingbook.Person) bool { return p.UserID == "alice" })].Title = "Title after " + stage
		saveDir(t, a, next, true)
		entered, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		a.HoldAt(func(_ context.Context, s string) {
			if s == stage {
				once.Do(func() { close(entered); <-release })
			}
		})
		warmed := make(chan error, 1)
		go func() { warmed <- a.WarmDirectory(ctx) }()
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the warm never reached it", stage)
		}
		read := make(chan string, 1)
		go func() {
			p, err := a.Person(ctx, boss, "alice")
			if err != nil {
				read <- err.Error()
				return
			}
			read <- p.Title
		}()
		select {
		case got := <-read:
			if got != before {
				t.Errorf("%s: a reader meanwhile got %q, want the old index's %q", stage, got, before)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: a reader waited for the new base's work", stage)
		}
		close(release)
		if err := <-warmed; err != nil {
			t.Fatal(err)
		}
		a.HoldAt(nil)
		if before = title(); before != "Title after "+stage {
			t.Errorf("after the %s: %q", stage, before)
		}
	}
}

// TestBookSince: the changes since a token come from the log, seen by the
// viewer: a card for who is visible now, a removal for who was visible
// then and is not now, nothing for who was never visible; after a change
// of the viewer's own record the token is refused (a sync afresh), never
// answered with removals naming people the viewer could not see.
func TestBookSince(t *testing.T) {
	ctx := context.Background()
	a, org := liveApp(t)
	bob := dirSessions()["sales-east"] // dept 3; sees dave (restricted, dept 3), not erin (restricted, dept 4)
	pol := policy.Default()
	start, err := a.AddressBook(ctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	if ch, err := a.BookSince(ctx, bob, pol, start.Rev, start.Withdrawn); err != nil || len(ch.Changed)+len(ch.Removed) != 0 || ch.Rev != start.Rev {
		t.Fatalf("nothing changed: %+v %v", ch, err)
	}
	at := func(id string, f func(p *dingbook.Person)) store.PersonChange {
		before := personOf(org, id)
		after := *before
		f(&after)
		return store.PersonChange{UserID: id, Op: store.OpUpsert, After: &after, Before: before}
	}
	rev := addEvent(t, a, "m1", []store.PersonChange{
		at("alice", func(p *dingbook.Person) { p.Mobile = "13999999999" }),
		at("dave", func(p *dingbook.Person) { p.Depts = []dingbook.Membership{{DeptID: 4}} }),
		at("erin", func(p *dingbook.Person) { p.Title = "Secret" }),
	}, nil)
	ch, err := a.BookSince(ctx, bob, pol, start.Rev, start.Withdrawn)
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, c := range ch.Changed {
		changed = append(changed, c.Name)
	}
	if !slices.Equal(changed, []string{"alice.vcf"}) || !slices.Equal(ch.Removed, []string{"dave.vcf"}) || ch.Rev != rev {
		t.Errorf("since %d: changed %v removed %v rev %d", start.Rev, changed, ch.Removed, ch.Rev)
	}
	// bob himself moves to dept 2: what he could see at rev is not known,
	// and removing every card he cannot see now would name erin, whom he
	// never could see: his token is refused, and a fresh book has neither
	addEvent(t, a, "m2", []store.PersonChange{at("bob", func(p *dingbook.Person) { p.Depts = []dingbook.Membership{{DeptID: 2}} })}, nil)
	now, err := a.AddressBook(ctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	if ch, err := a.BookSince(ctx, bob, pol, rev, 0); !errors.Is(err, app.ErrSyncToken) {
		t.Errorf("after bob's move: %+v %v, want ErrSyncToken", ch, err)
	}
	// in dept 2 bob sees neither restricted person of dept 4
	if now.Card("dave.vcf") != nil || now.Card("erin.vcf") != nil || len(now.Cards) != len(org.People)-2 {
		t.Errorf("after bob's move: %d cards of %d", len(now.Cards), len(org.People))
	}
	// tokens outside the log
	for _, tok := range []int64{0, -1, now.Rev + 1} {
		if _, err := a.BookSince(ctx, bob, pol, tok, 0); !errors.Is(err, app.ErrSyncToken) {
			t.Errorf("token %d: %v", tok, err)
		}
	}
}

// TestApplyEventOutOfRange: an event naming someone outside the app's
// contact range (v2/user/get answers 50002) is applied as "not in the
// directory", as a pull would not list them, instead of failing for ever
// (it would be answered LATER at every delivery).
func TestApplyEventOutOfRange(t *testing.T) {
	ctx := context.Background()
	truth := gen.Generate(gen.Options{Users: 60, Depts: 5, Seed: 3})
	var inRange int64
	for _, d := range truth.Org.Depts {
		if d.ID != dingbook.RootDeptID {
			inRange = d.ID
			break
		}
	}
	key := sim.DefaultApp()
	key.RangeDepts = []int64{inRange}
	ts := httptest.NewServer(sim.New(sim.Config{Truth: truth, QPS: -1, Apps: []sim.App{key}}))
	defer ts.Close()
	c := dingtalk.New(dingtalk.Config{BaseURL: ts.URL, AppKey: key.Key, AppSecret: key.Secret, QPS: 1000})
	a, err := app.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// the directory as the app may see it: the range's people
	org := truth.Org
	org.People = slices.DeleteFunc(slices.Clone(org.People), func(p dingbook.Person) bool { return !slices.Contains(p.DeptIDs(), inRange) })
	saveDir(t, a, org, true)
	var outsider string
	for _, p := range truth.Org.People {
		if !slices.Contains(p.DeptIDs(), inRange) && len(p.Depts) > 0 {
			outsider = p.UserID
			break
		}
	}
	if _, err := c.GetUser(ctx, outsider); dingtalk.Code(err) != dingtalk.CodeUserOutOfRange {
		t.Fatalf("the outsider's re-read: %v, want 50002", err)
	}
	res, err := a.ApplyEvent(ctx, c, policy.Default(), stream.Event{ID: "out-1", Type: stream.UserModify, UserIDs: []string{outsider}})
	if err != nil || res.Rev == 0 || res.Changes != 0 {
		t.Errorf("an event outside the contact range: %+v %v", res, err)
	}
}

// TestBookSinceExternal: a sync token names the live directory's
// revision and the consent withdrawals applied; the external contacts'
// cards since a token are compared only when the base, the withdrawals
// or a follower changed: a withdrawal removes its card, a new base gives
// the changed and newly shared cards, a follower's move changes nothing
// for an employee and removes, for a sub-admin, only the cards they saw;
// a token naming a withdrawal not made is refused.
func TestBookSinceExternal(t *testing.T) {
	ctx := context.Background()
	a := externalApp(t)
	pol := policy.Default()
	bob := dirSessions()["sales-east"] // dept 3: sees x1 and x2, not x3
	since := func(b *app.Book) (changed []string, ch *app.BookChanges) {
		t.Helper()
		rev, w, ok := app.ParseBookVersion(b.Version())
		if !ok {
			t.Fatalf("token %q", b.Version())
		}
		ch, err := a.BookSince(ctx, bob, pol, rev, w)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ch.Changed {
			changed = append(changed, c.Name)
		}
		slices.Sort(changed)
		slices.Sort(ch.Removed)
		return changed, ch
	}
	book := func() *app.Book {
		t.Helper()
		b, err := a.BookWithExternal(ctx, bob, pol)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	start := book()
	if start.Card("external-x1.vcf") == nil || start.Card("external-x2.vcf") == nil || start.Card("external-x3.vcf") != nil || start.Withdrawn != 0 {
		t.Fatalf("bob's first book: %d cards, withdrawn %d", len(start.Cards), start.Withdrawn)
	}
	if changed, ch := since(start); len(changed)+len(ch.Removed) != 0 || ch.Version() != start.Version() {
		t.Errorf("nothing changed: %v %v %s", changed, ch.Removed, ch.Version())
	}
	// a withdrawal: the same revision, the card removed
	if err := a.DB.Write(ctx, func(tx *store.Tx) error { _, err := tx.WithdrawExternal("x2", time.Now(), "carol"); return err }); err != nil {
		t.Fatal(err)
	}
	changed, ch := since(start)
	if len(changed) != 0 || !slices.Equal(ch.Removed, []string{"external-x2.vcf"}) || ch.Rev != start.Rev || ch.Withdrawn == 0 {
		t.Errorf("after the withdrawal: changed %v removed %v, token %s", changed, ch.Removed, ch.Version())
	}
	afterWithdrawal := book()
	if afterWithdrawal.Version() != ch.Version() {
		t.Errorf("the book's token %s, the sync's %s", afterWithdrawal.Version(), ch.Version())
	}
	if _, err := a.BookSince(ctx, bob, pol, start.Rev, ch.Withdrawn+1); !errors.Is(err, app.ErrSyncToken) {
		t.Errorf("a token naming a withdrawal not made: %v", err)
	}
	// a new base: x1 changed, x3 now shared with bob, x4 new but not his
	org2 := dirOrg()
	org2.External = []dingbook.ExternalContact{
		{UserID: "x1", Name: "客户一", CompanyName: "乙公司", FollowerUserID: "alice", ShareDeptIDs: []int64{3}},
		{UserID: "x2", Name: "客户二", FollowerUserID: "carol", ShareUserIDs: []string{"bob"}},
		{UserID: "x3", Name: "客户三", FollowerUserID: "carol", ShareUserIDs: []string{"bob"}},
		{UserID: "x4", Name: "客户四", FollowerUserID: "carol"},
		{UserID: "x5", Name: "客户五", FollowerUserID: "yan"},
	}
	saveDir(t, a, org2, true)
	pickUp(t, a)
	changed, ch = since(afterWithdrawal)
	if !slices.Equal(changed, []string{"external-x1.vcf", "external-x3.vcf"}) || len(ch.Removed) != 0 || ch.Rev <= afterWithdrawal.Rev {
		t.Errorf("across the new base: changed %v removed %v", changed, ch.Removed)
	}
	newBase := book()
	// sam, sub-admin of Sales, sees x5 through its follower yan (Sales),
	// none of carol's (R&D)
	sam := dirSessions()["sub-admin"]
	samBase, err := a.BookWithExternal(ctx, sam, pol)
	if err != nil {
		t.Fatal(err)
	}
	if samBase.Card("external-x5.vcf") == nil || samBase.Card("external-x3.vcf") != nil || samBase.Card("external-x4.vcf") != nil {
		t.Fatalf("sam's book: %d cards", len(samBase.Cards))
	}
	// x1's and x5's followers move to R&D: bob sees x1 through his
	// department, whatever its follower's, so only their cards change
	// for him; sam no longer sees x5, and his removals name only what he
	// saw (not x2, x3 or x4, which he never could)
	var moves []store.PersonChange
	for _, u := range []string{"alice", "yan"} {
		p := personOf(org2, u)
		moved := *p
		moved.Depts = []dingbook.Membership{{DeptID: 4}}
		moves = append(moves, store.PersonChange{UserID: u, Op: store.OpUpsert, After: &moved, Before: p})
	}
	addEvent(t, a, "followers-move", moves, nil)
	changed, ch = since(newBase)
	if !slices.Equal(changed, []string{"alice.vcf", "yan.vcf"}) || len(ch.Removed) != 0 {
		t.Errorf("after the follower's move: changed %v removed %v", changed, ch.Removed)
	}
	ch, err = a.BookSince(ctx, sam, pol, samBase.Rev, samBase.Withdrawn)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.Removed, []string{"external-x5.vcf"}) || slices.ContainsFunc(ch.Changed, func(c app.BookCard) bool { return c.Name == "external-x5.vcf" }) {
		t.Errorf("sam after the follower's move: removed %v", ch.Removed)
	}
}

// simApp is an App and the simulator of a small generated organisation,
// with a client of it.
func simApp(t *testing.T) (*app.App, *sim.Server, *dingtalk.Client, *gen.Truth) {
	t.Helper()
	truth := gen.Generate(gen.Options{Users: 30, Depts: 3, Seed: 5})
	s := sim.New(sim.Config{Truth: truth, QPS: -1})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	key := sim.DefaultApp()
	c := dingtalk.New(dingtalk.Config{BaseURL: ts.URL, AppKey: key.Key, AppSecret: key.Secret, QPS: 1000})
	a, err := app.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, s, c, truth
}

// TestApplyEventDirectoryField: an event changing only what the
// directory shows beside the card (job number, work place) is applied:
// the person's page and the search follow it at once, not at the next
// pull.
func TestApplyEventDirectoryField(t *testing.T) {
	ctx := context.Background()
	a, s, c, truth := simApp(t)
	saveDir(t, a, truth.Org, true)
	var who string
	for _, p := range truth.Org.People {
		if p.Active && !p.Restricted && len(p.Depts) > 0 {
			who = p.UserID
			break
		}
	}
	if err := s.UpdateUser(who, func(p *dingbook.Person) { p.JobNumber, p.WorkPlace = "JN-EVENT-7", "新工位" }); err != nil {
		t.Fatal(err)
	}
	res, err := a.ApplyEvent(ctx, c, policy.Default(), stream.Event{ID: "jn-1", Type: stream.UserModify, UserIDs: []string{who}})
	if err != nil || res.Rev == 0 || res.Changes != 1 {
		t.Fatalf("the event: %+v %v", res, err)
	}
	boss := dirSessions()["primary"]
	p, err := a.Person(ctx, boss, who)
	if err != nil || p.JobNumber != "JN-EVENT-7" || p.WorkPlace != "新工位" {
		t.Errorf("after the event: %+v %v", p, err)
	}
	hits, err := a.SearchPeople(ctx, boss, "jn-event-7")
	if err != nil || !slices.Equal(userids(hits), []string{who}) {
		t.Errorf("a search for the new job number: %v %v", userids(hits), err)
	}
}

// TestApplyEventWithoutBase: before any complete snapshot an event is
// not answered LATER for ever: a leaver's sessions and app passwords end
// at once (they need no directory), and the other events are
// acknowledged without a revision (the first pull reads what they
// changed).
func TestApplyEventWithoutBase(t *testing.T) {
	ctx := context.Background()
	a, s, c, truth := simApp(t)
	pol := policy.Default()
	var leaver, stayer string
	for _, p := range truth.Org.People {
		if p.Active && !p.Admin && len(p.Depts) > 0 {
			if leaver == "" {
				leaver = p.UserID
			} else if stayer == "" {
				stayer = p.UserID
			}
		}
	}
	var tokens []string
	for _, u := range []string{leaver, stayer} {
		token, sess, err := a.Login(ctx, &dingtalk.Identity{UserID: u}, app.LoginOptions{Via: "browser"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.CreateAppPassword(ctx, sess, "phone"); err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, token)
	}
	if err := s.UpdateUser(stayer, func(p *dingbook.Person) { p.Title = "无基线" }); err != nil {
		t.Fatal(err)
	}
	res, err := a.ApplyEvent(ctx, c, pol, stream.Event{ID: "nb-1", Type: stream.UserModify, UserIDs: []string{stayer}})
	if err != nil || res.Rev != 0 || res.SessionsEnded != 0 {
		t.Errorf("a change without a base: %+v %v, want acknowledged, nothing applied", res, err)
	}
	if err := s.RemoveUser(leaver); err != nil {
		t.Fatal(err)
	}
	res, err = a.ApplyEvent(ctx, c, pol, stream.Event{ID: "nb-2", Type: stream.UserLeave, UserIDs: []string{leaver}})
	if err != nil || res.SessionsEnded != 1 || res.AppPasswordsRevoked != 1 || res.Rev != 0 {
		t.Errorf("a leaver without a base: %+v %v, want 1 session and 1 app password ended", res, err)
	}
	for i, token := range tokens {
		sess, err := a.Session(ctx, token, app.SessionLimits{})
		if err != nil || (sess != nil) != (i == 1) {
			t.Errorf("session %d after the leaver's event: %+v %v", i, sess, err)
		}
	}
	if n, err := a.DB.UserSessions(ctx, stayer); err != nil || n != 1 {
		t.Errorf("the stayer's sessions: %d %v", n, err)
	}
	if r, err := a.DB.LatestRevision(ctx); r != nil || err != nil {
		t.Errorf("a revision without a base: %+v %v", r, err)
	}
}

// TestPullPrunesRevisions: a complete pull drops the revisions older
// than serve.revisions_keep (of the bases before the new one): a device
// whose token is older is refused (ErrSyncToken: CardDAV's 403
// valid-sync-token) and syncs afresh; a token since the new base is
// still answered.
func TestPullPrunesRevisions(t *testing.T) {
	ctx := context.Background()
	a, s, c, truth := simApp(t)
	var mu sync.Mutex
	now := time.Now()
	a.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	pol := policy.Default()
	pol.Serve.RevisionsKeep = policy.Duration(7 * 24 * time.Hour)
	pull := func() *app.PullResult {
		t.Helper()
		res, err := a.Pull(ctx, pol, app.PullOptions{Actor: "tester", Client: c, CountRestricted: true})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	pull()
	var who *dingbook.Person
	for i := range truth.Org.People {
		if p := &truth.Org.People[i]; p.Active && !p.Admin && !p.Restricted && len(p.Depts) > 0 {
			who = p
			break
		}
	}
	sess := &app.Session{UserID: who.UserID, Roles: app.RolesOf(0)}
	book, err := a.AddressBook(ctx, sess) // the log starts
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range truth.Org.People[len(truth.Org.People)-2:] {
		if err := s.UpdateUser(u.UserID, func(p *dingbook.Person) { p.Title = "改名" }); err != nil {
			t.Fatal(err)
		}
		if _, err := a.ApplyEvent(ctx, c, pol, stream.Event{ID: "t-" + u.UserID, Type: stream.UserModify, UserIDs: []string{u.UserID}}); err != nil {
			t.Fatal(err)
		}
	}
	// a week and a day later, the next pull
	mu.Lock()
	now = now.Add(8 * 24 * time.Hour)
	mu.Unlock()
	res := pull()
	if res.Drift == nil {
		t.Fatal("the log was not in use")
	}
	revs, err := a.DB.Revisions(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range revs {
		if r.Base != res.Snapshot.ID {
			t.Errorf("revision %d of base %d (%s) was kept past serve.revisions_keep", r.Rev, r.Base, r.At)
		}
	}
	if len(revs) == 0 {
		t.Fatal("the new base's revisions were pruned")
	}
	if _, err := a.BookSince(ctx, sess, pol, book.Rev, book.Withdrawn); !errors.Is(err, app.ErrSyncToken) {
		t.Errorf("a token older than the revisions kept: %v, want ErrSyncToken", err)
	}
	fresh, err := a.AddressBook(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	if ch, err := a.BookSince(ctx, sess, pol, fresh.Rev, fresh.Withdrawn); err != nil || len(ch.Changed)+len(ch.Removed) != 0 {
		t.Errorf("a token of the new base: %+v %v", ch, err)
	}
}

// TestApplyEventRestrictedCost: whether a re-read person is
// access-restricted is found by listing their smallest department first,
// stopping where they are listed, and an event naming many people lists
// each department once; a person moved into a department as restricted
// staff still becomes restricted.
func TestApplyEventRestrictedCost(t *testing.T) {
	ctx := context.Background()
	truth := gen.Generate(gen.Options{Users: 400, Depts: 4, Seed: 11})
	var big, small int64
	for _, d := range truth.Org.Depts {
		if d.ID == dingbook.RootDeptID {
			continue
		}
		if big == 0 {
			big = d.ID
		} else if small == 0 {
			small = d.ID
		}
	}
	// 300 people directly in big (three pages of listsimple), a few in
	// small; who is in both, big first
	var who string
	var many []string
	for i := range truth.Org.People {
		p := &truth.Org.People[i]
		p.Restricted = false
		switch {
		case i < 300:
			p.Depts = []dingbook.Membership{{DeptID: big}}
			if i%50 == 0 {
				many = append(many, p.UserID)
			}
		case i < 305:
			p.Depts = []dingbook.Membership{{DeptID: small}}
		}
	}
	truth.Restricted = nil
	who = truth.Org.People[299].UserID
	truth.Org.People[299].Depts = []dingbook.Membership{{DeptID: big}, {DeptID: small}}
	s := sim.New(sim.Config{Truth: truth, QPS: -1})
	ts := httptest.NewServer(s)
	defer ts.Close()
	key := sim.DefaultApp()
	c := dingtalk.New(dingtalk.Config{BaseURL: ts.URL, AppKey: key.Key, AppSecret: key.Secret, QPS: 1000})
	a, err := app.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	saveDir(t, a, truth.Org, true)
	pol := policy.Default()
	lists := func(ev stream.Event) int {
		t.Helper()
		before := s.Calls()["/topapi/user/listsimple"]
		if _, err := a.ApplyEvent(ctx, c, pol, ev); err != nil {
			t.Fatal(err)
		}
		return s.Calls()["/topapi/user/listsimple"] - before
	}
	if err := s.UpdateUser(who, func(p *dingbook.Person) { p.Title = "改" }); err != nil {
		t.Fatal(err)
	}
	if n := lists(stream.Event{ID: "r-1", Type: stream.UserModify, UserIDs: []string{who}}); n != 1 {
		t.Errorf("a person in a small and a big department: %d listsimple pages, want 1 (the small one's)", n)
	}
	for _, u := range many {
		if err := s.UpdateUser(u, func(p *dingbook.Person) { p.Title = "改" }); err != nil {
			t.Fatal(err)
		}
	}
	pages := 0 // of one listing of big
	for cursor := dingtalk.Cursor(nil); ; pages++ {
		page, err := c.ListSimple(ctx, big, cursor, dingtalk.PageSize, false)
		if err != nil {
			t.Fatal(err)
		}
		if !bool(page.HasMore) {
			pages++
			break
		}
		cursor = page.NextCursor
	}
	if n := lists(stream.Event{ID: "r-2", Type: "reconcile", UserIDs: many}); n != pages || pages < 3 {
		t.Errorf("%d people of one department of 300: %d listsimple pages, want %d (listed once)", len(many), n, pages)
	}
	// moved into small as restricted staff: restricted
	moved := truth.Org.People[0].UserID
	if err := s.UpdateUser(moved, func(p *dingbook.Person) { p.Restricted, p.Depts = true, []dingbook.Membership{{DeptID: small}} }); err != nil {
		t.Fatal(err)
	}
	lists(stream.Event{ID: "r-3", Type: stream.UserModify, UserIDs: []string{moved}})
	emp := &app.Session{UserID: truth.Org.People[1].UserID, Roles: app.RolesOf(0)} // in big: may not see small's restricted staff
	if _, err := a.Person(ctx, emp, moved); err == nil {
		t.Error("the person moved into a department as restricted staff is visible outside it")
	}
	boss := &app.Session{UserID: truth.Org.People[1].UserID, Roles: app.RolesOf(1)}
	if p, err := a.Person(ctx, boss, moved); err != nil || p.Departments[0].ID != small {
		t.Errorf("the moved person as the admin sees them: %+v %v", p, err)
	}
}

// TestReconcileKeepsEventsDuringPull: a pull reads each person once
// while it runs; an event applied after the pull read someone (here: a
// mobile hidden) must not be undone by the pull's older snapshot when it
// becomes the base: whoever the events named since the pull began is
// read again and applied over the new base.
func TestReconcileKeepsEventsDuringPull(t *testing.T) {
	ctx := context.Background()
	a, s, c, truth := simApp(t)
	pol := policy.Default()
	saveDir(t, a, truth.Org, true)
	var who string
	for _, p := range truth.Org.People {
		if p.Active && !p.Restricted && !p.HideMobile && !p.Senior && p.Mobile != "" && len(p.Depts) > 0 {
			who = p.UserID
			break
		}
	}
	var colleague *app.Session
	for _, p := range truth.Org.People {
		if p.Active && !p.Admin && p.UserID != who {
			colleague = &app.Session{UserID: p.UserID, Roles: app.RolesOf(0)}
			break
		}
	}
	mobile := func() string {
		t.Helper()
		p, err := a.Person(ctx, colleague, who)
		if err != nil {
			t.Fatal(err)
		}
		return p.Mobile
	}
	if mobile() == "" {
		t.Fatal("the mobile is hidden before the event")
	}
	// the pull begins and reads who (the truth as it is now) ...
	began := time.Now()
	pulled := &dingbook.Snapshot{Source: "test", Org: truth.Org, Receipt: &dingbook.Receipt{Complete: true}}
	// ... who hides their mobile, the event is applied ...
	if err := s.UpdateUser(who, func(p *dingbook.Person) { p.HideMobile = true }); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ApplyEvent(ctx, c, pol, stream.Event{ID: "hide-1", Type: stream.UserModify, UserIDs: []string{who}}); err != nil {
		t.Fatal(err)
	}
	if mobile() != "" {
		t.Fatal("the event did not hide the mobile")
	}
	// ... and the pull ends, its snapshot older than the event for who
	pulled.TakenAt = time.Now()
	pulled.Receipt.Duration = pulled.TakenAt.Sub(began)
	if err := a.DB.SaveSnapshot(ctx, pulled); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reconcile(ctx, c, pol, pulled); err != nil {
		t.Fatal(err)
	}
	if m := mobile(); m != "" {
		t.Errorf("the new base shows the mobile hidden during the pull: %q", m)
	}
}

// TestReconcileAfterReadBridged: when the live directory found the
// pull's snapshot on a read (between the pull's save and its reconcile)
// and bridged to it first, the pull still reports the drift.
func TestReconcileAfterReadBridged(t *testing.T) {
	ctx := context.Background()
	a, org := liveApp(t)
	if _, err := a.DirectoryTree(ctx); err != nil { // the log starts
		t.Fatal(err)
	}
	org2 := org
	org2.People = slices.Clone(org.People)
	org2.People[0].Title = "漂移"
	snap := &dingbook.Snapshot{Source: "test", TakenAt: time.Now(), Org: org2, Receipt: &dingbook.Receipt{Complete: true}}
	if err := a.DB.SaveSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DirectoryTree(ctx); err != nil { // a read bridges first
		t.Fatal(err)
	}
	drift, err := a.Reconcile(ctx, nil, policy.Default(), snap)
	if err != nil || drift["change"] != 1 {
		t.Errorf("the pull's drift after a read bridged: %v %v, want one change", drift, err)
	}
}

// A new base whose background warm-up fails is not hidden behind the old
// index for ever: the next read makes the new base itself and answers its
// error; once the work succeeds, reads see the new base.
func TestWarmFailureSurfaces(t *testing.T) {
	ctx := context.Background()
	a, org := liveApp(t)
	boss := dirSessions()["primary"]
	if _, err := a.Person(ctx, boss, "alice"); err != nil {
		t.Fatal(err)
	}
	next := org
	next.People = slices.Clone(org.People)
	next.People[slices.IndexFunc(next.People, func(p dingbook.Person) bool { return p.UserID == "alice" })].Title = "Title after the failure"
	saveDir(t, a, next, true)
	boom := errors.New("the new base cannot be built")
	a.FailAt("build", boom)
	// the first read is answered from the old index while the warm-up
	// runs (and fails) in the background
	if _, err := a.Person(ctx, boss, "alice"); err != nil {
		t.Fatalf("the first read after the new snapshot: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := a.Person(ctx, boss, "alice")
		if errors.Is(err, boom) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("reads kept the old index after the warm-up failed; its error never surfaced")
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.FailAt("build", nil)
	p, err := a.Person(ctx, boss, "alice")
	if err != nil || p.Title != "Title after the failure" {
		t.Fatalf("after the failure cleared: %+v %v", p, err)
	}
}

// BenchmarkReconcileDrift measures a reconciling pull's work in app at
// 100,000 people (Reconcile: the bridge to the new snapshot and its
// drift), the snapshot saved before the clock starts: one person's title
// changed and one department renamed (its members' cards change), the
// rest of the organisation as it was. The live directory's index of the
// old base is made before, off the clock.
func BenchmarkReconcileDrift(b *testing.B) {
	ctx := context.Background()
	a, people, base := liveBench(b, 100_000)
	snap, err := a.DB.LoadSnapshot(ctx, base)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		next := &dingbook.Snapshot{Source: "bench", TakenAt: time.Now(), Org: snap.Org, Receipt: &dingbook.Receipt{Complete: true}}
		next.Org.People = slices.Clone(snap.Org.People)
		next.Org.People[i*7919%len(people)].Title = fmt.Sprint("pulled ", i)
		next.Org.Depts = slices.Clone(snap.Org.Depts)
		d := &next.Org.Depts[1+i%(len(next.Org.Depts)-1)]
		d.Name = fmt.Sprint(d.Name, " ", i)
		if err := a.DB.SaveSnapshot(ctx, next); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		drift, err := a.Reconcile(ctx, nil, policy.Default(), next)
		if err != nil || drift["change"] == 0 {
			b.Fatalf("drift %v, %v", drift, err)
		}
		b.StopTimer()
		if err := a.WarmDirectory(ctx); err != nil { // the next bridge's old index, made off the clock
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
