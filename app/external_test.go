package app_test

import (
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

// The visibility table of an external contact (issue 10 §4, serve.md §B):
// its follower, the people it is shared with, the members of a shared
// department and (with the policy's switch on) of its sub-departments, the
// primary admin, a sub-admin whose scope holds the follower or a shared
// department; nobody else.
func TestSeesExternal(t *testing.T) {
	// 1 root ─ 2 销售部 ─ 3 华东区 ─ 4 上海组; 1 ─ 5 法务部
	tree := dingbook.NewTree([]dingbook.Department{{ID: 1, Name: "公司"}, {ID: 2, ParentID: 1, Name: "销售部"},
		{ID: 3, ParentID: 2, Name: "华东区"}, {ID: 4, ParentID: 3, Name: "上海组"}, {ID: 5, ParentID: 1, Name: "法务部"}})
	follower := &dingbook.Person{UserID: "f1", Depts: []dingbook.Membership{{DeptID: 5}}}
	e := &dingbook.ExternalContact{UserID: "ext1", Name: "潘潘", FollowerUserID: "f1", ShareUserIDs: []string{"u1"}, ShareDeptIDs: []int64{2}}
	scope := func(ids ...int64) map[int64]bool {
		m := map[int64]bool{}
		for _, id := range ids {
			for _, d := range tree.Descendants(id) {
				m[d] = true
			}
		}
		return m
	}
	for _, tc := range []struct {
		name        string
		v           app.Viewer
		on, off     bool // with sub-departments included, and without
		followerNil bool
	}{
		{name: "follower", v: app.Viewer{UserID: "f1", Depts: []int64{5}}, on: true, off: true},
		{name: "shared user", v: app.Viewer{UserID: "u1", Depts: []int64{5}}, on: true, off: true},
		{name: "member of the shared department", v: app.Viewer{UserID: "m2", Depts: []int64{2}}, on: true, off: true},
		{name: "member of its sub-department", v: app.Viewer{UserID: "m3", Depts: []int64{3}}, on: true, off: false},
		{name: "member of a sub-sub-department", v: app.Viewer{UserID: "m4", Depts: []int64{4}}, on: true, off: false},
		{name: "unrelated employee", v: app.Viewer{UserID: "x1", Depts: []int64{5}}, on: false, off: false},
		{name: "employee of the root only", v: app.Viewer{UserID: "x2", Depts: []int64{1}}, on: false, off: false},
		{name: "nobody", v: app.Viewer{}, on: false, off: false},
		{name: "primary admin", v: app.Viewer{UserID: "a1", Primary: true, Depts: []int64{1}}, on: true, off: true},
		{name: "sub-admin of the follower's department", v: app.Viewer{UserID: "s1", Scope: scope(5), Depts: []int64{1}}, on: true, off: true},
		{name: "sub-admin of the follower's department, follower gone", v: app.Viewer{UserID: "s1", Scope: scope(5), Depts: []int64{1}}, followerNil: true},
		{name: "sub-admin of a shared sub-department's parent", v: app.Viewer{UserID: "s2", Scope: scope(2), Depts: []int64{1}}, on: true, off: true},
		{name: "sub-admin of an unrelated scope", v: app.Viewer{UserID: "s3", Scope: scope(4), Depts: []int64{1}}, on: false, off: false},
	} {
		f := follower
		if tc.followerNil {
			f = nil
		}
		if got := tc.v.SeesExternal(e, f, tree, true); got != tc.on {
			t.Errorf("%s, sub-departments included: %v, want %v", tc.name, got, tc.on)
		}
		if got := tc.v.SeesExternal(e, f, tree, false); got != tc.off {
			t.Errorf("%s, sub-departments not included: %v, want %v", tc.name, got, tc.off)
		}
	}
}

func TestParseBookVersion(t *testing.T) {
	for _, tc := range []struct {
		in    string
		s, w  int64
		valid bool
	}{{"12.3", 12, 3, true}, {"12", 12, -1, true}, {"12.0", 12, 0, true}, {"0.1", 0, 0, false}, {"x", 0, 0, false}, {"12.-1", 0, 0, false}, {"12.x", 0, 0, false}} {
		s, w, ok := app.ParseBookVersion(tc.in)
		if ok != tc.valid || (ok && (s != tc.s || w != tc.w)) {
			t.Errorf("%q: %d %d %v", tc.in, s, w, ok)
		}
	}
	if v := (&app.Book{Snapshot: 7, Withdrawn: 2}).Version(); v != "7.2" {
		t.Errorf("Version %q", v)
	}
}
