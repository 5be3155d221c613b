package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

// dirOrg: 1 Company → 2 Sales → 3 Sales East; 1 → 4 R&D.
func dirOrg() dingbook.Org {
	in := func(d int64) []dingbook.Membership { return []dingbook.Membership{{DeptID: d}} }
	return dingbook.Org{CorpID: "ding1", Name: "Company", Depts: []dingbook.Department{
		{ID: 1, Name: "Company"}, {ID: 2, Name: "Sales", ParentID: 1}, {ID: 3, Name: "Sales East", ParentID: 2}, {ID: 4, Name: "研发部", ParentID: 1},
	}, People: []dingbook.Person{
		{UserID: "alice", Name: "张三", Title: "Account Manager", JobNumber: "A-0001", StateCode: "86", Mobile: "13800000001", Active: true, Depts: in(2)},
		{UserID: "bob", Name: "李四", Mobile: "13800000002", HideMobile: true, Active: true, Depts: in(3)},
		{UserID: "carol", Name: "王五", Mobile: "13800000003", Senior: true, Active: true, Depts: in(4), Extension: map[string]string{"english_name": "Carol Wang"}},
		{UserID: "dave", Name: "赵六", Mobile: "13800000004", Restricted: true, Active: true, Depts: in(3)},
		{UserID: "erin", Name: "Erin <img src=x onerror=alert(1)>", Mobile: "13800000005", Restricted: true, HideMobile: true, Active: true, Depts: in(4)},
		{UserID: "sam", Name: "孙七", Title: "工程师", Mobile: "13800000006", Active: true, Depts: in(4)},
		// a name that is also a department's: found by name first
		{UserID: "yan", Name: "研发", Active: true, Depts: in(2)},
	}}
}

func dirSessions() map[string]*app.Session {
	return map[string]*app.Session{
		"primary":    {UserID: "boss", Roles: app.RolesOf(1), AdminScope: []int64{1}},
		"sub-admin":  {UserID: "sam", Roles: app.RolesOf(2), AdminScope: []int64{2}},
		"sales-east": {UserID: "bob", Roles: app.RolesOf(0)},
		"rnd":        {UserID: "carol", Roles: app.RolesOf(0)},
		"dave":       {UserID: "dave", Roles: app.RolesOf(0)},
		"outsider":   {UserID: "nobody", Roles: app.RolesOf(0)},
	}
}

// TestVisibility is the table of what each kind of viewer may see of each
// kind of person: see them at all, and see their mobile.
func TestVisibility(t *testing.T) {
	org := dirOrg()
	tree := dingbook.NewTree(org.Depts)
	byID := map[string]*dingbook.Person{}
	for i := range org.People {
		byID[org.People[i].UserID] = &org.People[i]
	}
	// "s": sees the person, "m": sees the mobile too, "": sees nothing.
	want := map[string]map[string]string{
		// the primary admin sees everyone and every mobile
		"primary": {"alice": "m", "bob": "m", "carol": "m", "dave": "m", "erin": "m"},
		// a sub-admin of Sales (sub-departments included) administers
		// bob and dave; erin is restricted in R&D, the sub-admin's own
		// department; carol's senior mode hides her mobile from them
		"sub-admin": {"alice": "m", "bob": "m", "carol": "s", "dave": "m", "erin": "s"},
		// bob (Sales East): dave is restricted in bob's own department
		"sales-east": {"alice": "m", "bob": "m", "carol": "s", "dave": "m", "erin": ""},
		// carol (R&D): erin is restricted in carol's department, her
		// mobile hidden; dave is restricted elsewhere
		"rnd": {"alice": "m", "bob": "s", "carol": "m", "dave": "", "erin": "s"},
		// dave sees himself
		"dave": {"alice": "m", "bob": "s", "carol": "s", "dave": "m", "erin": ""},
		// someone in no department of the snapshot
		"outsider": {"alice": "m", "bob": "s", "carol": "s", "dave": "", "erin": ""},
	}
	for name, s := range dirSessions() {
		v := app.ViewerOf(s, byID[s.UserID], tree)
		for uid, w := range want[name] {
			p := byID[uid]
			got := ""
			if v.CanSee(p) {
				got = "s"
				if v.SeesMobile(p) {
					got = "m"
				}
			}
			if got != w {
				t.Errorf("%s viewing %s: %q, want %q", name, uid, got, w)
			}
		}
	}
}

func saveDir(t *testing.T, a *app.App, org dingbook.Org, complete bool) {
	t.Helper()
	s := &dingbook.Snapshot{Source: "test", TakenAt: time.Now(), Org: org, Receipt: &dingbook.Receipt{Complete: complete}}
	if err := a.DB.SaveSnapshot(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// pickUp is the portal's first read after a pull by another process
// (the CLI's): it is answered from the index the App had and starts the
// new base's bridge and index in the background; pickUp waits for them.
func pickUp(t *testing.T, a *app.App) {
	t.Helper()
	ctx := context.Background()
	id, err := a.DB.LatestCompleteSnapshotID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); a.CachedSnapshot() != id; time.Sleep(5 * time.Millisecond) {
		if _, err := a.DirectoryTree(ctx); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new snapshot %d was not picked up", id)
		}
	}
}

func userids(ps []app.DirPerson) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.UserID)
	}
	return out
}

func TestSearchPeople(t *testing.T) {
	a, err := app.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	emp := dirSessions()["rnd"]
	if _, err := a.SearchPeople(ctx, emp, "zs"); err == nil {
		t.Fatal("a search without a snapshot succeeded")
	}
	if got, err := a.SearchPeople(ctx, emp, ""); err != nil || len(got) != 0 {
		t.Fatalf("an empty search without a snapshot: %v %v", got, err)
	}
	saveDir(t, a, dirOrg(), true)
	for q, want := range map[string][]string{
		"张三":              {"alice"},
		"zhangsan":        {"alice"},
		"Zhang San":       {"alice"},
		"zs":              {"alice"},
		"ZS":              {"alice"},
		"a-0001":          {"alice"},
		"account manager": {"alice"},
		"sales east":      {"bob"}, // dave is restricted there
		"研发":              {"yan", "carol", "erin", "sam"},
		"carol wang":      {"carol"},
		"cw":              {"carol"},
		"gongchengshi":    nil, // titles are not read as pinyin
		"工程师":             {"sam"},
		"zhaoliu":         nil, // dave, restricted elsewhere
		"":                nil,
		"   ":             nil,
	} {
		got, err := a.SearchPeople(ctx, emp, q)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(userids(got), want) {
			t.Errorf("search %q: %v, want %v", q, userids(got), want)
		}
	}
	// the mobile of a person who hid it is absent
	got, _ := a.SearchPeople(ctx, emp, "lisi")
	if len(got) != 1 || got[0].Mobile != "" || !got[0].MobileHidden {
		t.Errorf("bob's hidden mobile: %+v", got)
	}
	got, _ = a.SearchPeople(ctx, emp, "zhangsan")
	if len(got) != 1 || got[0].Mobile != "13800000001" || got[0].MobileHidden || !slices.Equal(got[0].Departments, []app.DirDept{{ID: 2, Name: "Sales"}}) {
		t.Errorf("alice: %+v", got)
	}

	// a person the viewer may not see is not found, like a stranger
	for _, uid := range []string{"dave", "nosuch"} {
		_, err := a.Person(ctx, emp, uid)
		var de *dingbook.Error
		if !errors.As(err, &de) || de.Code != dingbook.ENOTFOUND {
			t.Errorf("Person(%s) as an R&D employee: %v", uid, err)
		}
	}
	if p, err := a.Person(ctx, dirSessions()["primary"], "dave"); err != nil || p.Mobile != "13800000004" {
		t.Errorf("Person(dave) as the primary admin: %+v %v", p, err)
	}

	// a department page lists the visible direct members
	dv, err := a.Department(ctx, emp, 3)
	if err != nil || !slices.Equal(userids(dv.People), []string{"bob"}) || dv.Headcount != 2 || dv.Name != "Sales East" {
		t.Errorf("department 3: %+v %v", dv, err)
	}
	dv, err = a.Department(ctx, emp, 2)
	if err != nil || len(dv.Children) != 1 || dv.Children[0].ID != 3 || dv.HeadcountWithSub != 4 {
		t.Errorf("department 2: %+v %v", dv, err)
	}

	// an incomplete snapshot is ignored; a new complete one is picked up
	org := dirOrg()
	org.People[0].Name = "张三丰"
	saveDir(t, a, org, false)
	if got, _ := a.SearchPeople(ctx, emp, "zhangsanfeng"); len(got) != 0 {
		t.Errorf("the incomplete snapshot was searched: %v", userids(got))
	}
	saveDir(t, a, org, true)
	pickUp(t, a)
	if got, _ := a.SearchPeople(ctx, emp, "zhangsanfeng"); !slices.Equal(userids(got), []string{"alice"}) {
		t.Errorf("the new snapshot was not picked up: %v", userids(got))
	}

	// a complete snapshot that did not mark the restricted staff (a pull
	// without CountRestricted) is not used: it would show them to everyone
	org = dirOrg()
	org.People[0].Name = "张无忌"
	s := &dingbook.Snapshot{Source: "test", TakenAt: time.Now(), Org: org, Receipt: &dingbook.Receipt{Complete: true, Restricted: -1}}
	if err := a.DB.SaveSnapshot(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.SearchPeople(ctx, emp, "zhangwuji"); len(got) != 0 {
		t.Errorf("a snapshot without restricted marks was searched: %v", userids(got))
	}
	if got, _ := a.SearchPeople(ctx, emp, "zhangsanfeng"); !slices.Equal(userids(got), []string{"alice"}) {
		t.Errorf("the last marked snapshot is no longer searched: %v", userids(got))
	}
}

// TestSearchOrderAndLimit: a search gives at most SearchLimit people,
// those found by name first, then those found by job number, title or
// department, each group in the snapshot's order, each person once (a
// person found both ways counts as found by name), the people the viewer
// may not see left out without taking a place.
func TestSearchOrderAndLimit(t *testing.T) {
	a, err := app.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	org := dingbook.Org{CorpID: "ding1", Name: "Company", Depts: []dingbook.Department{{ID: 1, Name: "Company"}, {ID: 2, Name: "销售部", ParentID: 1}}}
	var want []string
	for i := range 120 {
		p := dingbook.Person{UserID: fmt.Sprintf("u%03d", i), Name: fmt.Sprintf("李%d", i), Title: "王牌销售", Active: true,
			Depts: []dingbook.Membership{{DeptID: 2}}}
		if i >= 100 {
			// found by name (and by title)
			p.Name = fmt.Sprintf("王%d", i)
		}
		if i%10 == 3 {
			// restricted in a department the viewer is not in
			p.Restricted = true
		}
		org.People = append(org.People, p)
	}
	for i := 100; i < 120; i++ {
		if i%10 != 3 {
			want = append(want, fmt.Sprintf("u%03d", i))
		}
	}
	for i := 0; len(want) < app.SearchLimit; i++ {
		if i%10 != 3 {
			want = append(want, fmt.Sprintf("u%03d", i))
		}
	}
	saveDir(t, a, org, true)
	emp := &app.Session{UserID: "outsider", Roles: app.RolesOf(0)}
	got, err := a.SearchPeople(ctx, emp, "王")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(userids(got), want) {
		t.Errorf("search 王:\n got %v\nwant %v", userids(got), want)
	}
	// every match of a shared title, in order, to the limit
	got, _ = a.SearchPeople(ctx, emp, "销售")
	if len(got) != app.SearchLimit || got[0].UserID != "u000" || got[3].UserID != "u004" {
		t.Errorf("search 销售: %d people, starting %v", len(got), userids(got)[:min(5, len(got))])
	}
	// a department's name and a job number
	if got, _ := a.SearchPeople(ctx, emp, "销售部"); len(got) != app.SearchLimit {
		t.Errorf("search 销售部: %d people", len(got))
	}
	if got, _ := a.SearchPeople(ctx, emp, "李119"); len(got) != 0 {
		t.Errorf("search 李119 (renamed 王119): %v", userids(got))
	}
	if got, _ := a.SearchPeople(ctx, emp, "李99"); !slices.Equal(userids(got), []string{"u099"}) {
		t.Errorf("search 李99: %v", userids(got))
	}
	// a query of one byte (scanned) and of two (looked up by bigram)
	for _, q := range []string{"1", "11"} {
		want = nil
		for _, p := range org.People {
			if strings.Contains(p.Name, q) && !p.Restricted && len(want) < app.SearchLimit {
				want = append(want, p.UserID)
			}
		}
		if got, _ := a.SearchPeople(ctx, emp, q); len(want) < 5 || !slices.Equal(userids(got), want) {
			t.Errorf("search %s:\n got %v\nwant %v", q, userids(got), want)
		}
	}
}
