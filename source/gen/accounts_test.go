package gen_test

import (
	"reflect"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/gen"
)

func TestAdminState(t *testing.T) {
	for _, seed := range []int64{1, 3, 7, 42} {
		tr := gen.Generate(gen.Options{Users: 1200, Depts: 60, Seed: seed})
		tree := dingbook.NewTree(tr.Org.Depts)
		people := map[string]*dingbook.Person{}
		for i := range tr.Org.People {
			people[tr.Org.People[i].UserID] = &tr.Org.People[i]
		}
		primaries, subs := 0, 0
		for _, a := range tr.Admins {
			p := people[a.UserID]
			if p == nil || !p.Admin {
				t.Fatalf("seed %d: admin %s is not an admin member", seed, a.UserID)
			}
			switch a.SysLevel {
			case 1:
				primaries++
				if !reflect.DeepEqual(a.Scope, []int64{dingbook.RootDeptID}) {
					t.Errorf("seed %d: primary scope %v", seed, a.Scope)
				}
			case 2:
				subs++
				if len(a.Scope) == 0 {
					t.Errorf("seed %d: sub-admin %s has no scope", seed, a.UserID)
				}
				for _, d := range a.Scope {
					if dd := tree.Dept(d); dd == nil || dd.ParentID != dingbook.RootDeptID {
						t.Errorf("seed %d: sub-admin %s: scope %d is not a first-level department", seed, a.UserID, d)
					}
				}
			default:
				t.Errorf("seed %d: sys_level %d", seed, a.SysLevel)
			}
		}
		admins := 0
		for _, p := range tr.Org.People {
			if p.Admin {
				admins++
			}
		}
		if primaries != 1 || subs < 2 || primaries+subs != admins {
			t.Errorf("seed %d: %d primary, %d sub-admins, %d people flagged admin", seed, primaries, subs, admins)
		}
		if !reflect.DeepEqual(tr.Admins, gen.AdminsOf(&tr.Org)) {
			t.Errorf("seed %d: AdminsOf is not deterministic", seed)
		}
	}
}

func TestAccounts(t *testing.T) {
	tr := gen.Generate(gen.Options{Users: 400, Depts: 25, Seed: 3})
	members := map[string]bool{}
	for _, p := range tr.Org.People {
		members[p.UnionID] = true
		members[p.UserID] = true
	}
	ext := map[string]bool{}
	for _, e := range tr.Org.External {
		ext[e.UserID] = true
	}
	kinds := map[string]int{}
	seen := map[string]bool{}
	for _, a := range tr.Accounts {
		kinds[a.Kind]++
		if a.UnionID == "" || seen[a.UnionID] || members[a.UnionID] || members[a.UserID] {
			t.Errorf("account %+v: unionid empty, repeated or a member's", a)
		}
		seen[a.UnionID] = true
		if a.Kind == gen.AccountExternal && !ext[a.UserID] {
			t.Errorf("external account %+v is no external contact", a)
		}
		if a.Kind == gen.AccountOtherOrg && (a.CorpID == "" || a.CorpID == tr.Org.CorpID) {
			t.Errorf("other-org account %+v: corpId", a)
		}
	}
	for _, k := range []string{gen.AccountOutsider, gen.AccountLeft, gen.AccountExternal, gen.AccountOtherOrg} {
		if kinds[k] == 0 {
			t.Errorf("no %s account", k)
		}
	}
	other := gen.Generate(gen.Options{Users: 400, Depts: 25, Seed: 4})
	if reflect.DeepEqual(tr.Accounts[0], other.Accounts[0]) {
		t.Error("different seeds gave the same accounts")
	}
}
