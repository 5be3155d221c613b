package gen

import (
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/dingbook/dingbook"
)

// Admin is one administrator of the organisation as DingTalk reports it:
// SysLevel 1 is the primary admin (主管理员, one per organisation), 2 a
// sub-admin (子管理员) who manages only the departments in Scope and
// everything below them.
type Admin struct {
	UserID   string  `json:"userid"`
	SysLevel int     `json:"sys_level"`
	Scope    []int64 `json:"dept_ids"`
}

// Kinds of Account.
const (
	// AccountOutsider: a DingTalk user who never belonged to the org
	// (getbyunionid answers 60121).
	AccountOutsider = "outsider"
	// AccountLeft: a former member; Account.UserID is the old userid.
	AccountLeft = "left"
	// AccountExternal: an external contact (外部联系人) of the org who has
	// a DingTalk account; Account.UserID is the external contact's userid
	// and getbyunionid answers contact_type 1.
	AccountExternal = "external"
	// AccountOtherOrg: a member of another organisation (Account.CorpID).
	AccountOtherOrg = "other-org"
)

// Account is a DingTalk account that is not a member of the organisation
// but can reach its login page: the people a login must refuse. Members'
// accounts are the people themselves (Person.UnionID).
type Account struct {
	Kind      string `json:"kind"`
	UnionID   string `json:"unionid"`
	UserID    string `json:"userid,omitempty"`
	Name      string `json:"name"`
	StateCode string `json:"state_code,omitempty"`
	Mobile    string `json:"mobile,omitempty"`
	Email     string `json:"email,omitempty"`
	CorpID    string `json:"corp_id,omitempty"`
}

// seeded returns a deterministic number for (seed, key).
func seeded(seed int64, key string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%s", seed, key)
	return h.Sum64()
}

// AdminsOf derives the admin state of org (deterministic from the org, so
// from the generator's seed): the people flagged admin are the
// administrators; the primary admin (sys_level 1) is the first admin who
// is also the boss, else the first admin; every other admin is a sub-admin
// (sys_level 2) whose scope is the first-level department above their
// first department (the first first-level department when they sit at the
// root) and, for about half of them (by a hash of the userid), one more
// first-level department. The simulator derives it again after the org
// changes, so it must not depend on anything but the org.
func AdminsOf(org *dingbook.Org) []Admin {
	tree := dingbook.NewTree(org.Depts)
	top := tree.Children(dingbook.RootDeptID)
	primary := -1
	for i := range org.People {
		if p := &org.People[i]; p.Admin && (primary < 0 || (p.Boss && !org.People[primary].Boss)) {
			primary = i
		}
	}
	var out []Admin
	for i := range org.People {
		p := &org.People[i]
		if !p.Admin {
			continue
		}
		if i == primary {
			out = append(out, Admin{UserID: p.UserID, SysLevel: 1, Scope: []int64{dingbook.RootDeptID}})
			continue
		}
		a := Admin{UserID: p.UserID, SysLevel: 2}
		if len(top) == 0 {
			a.Scope = []int64{dingbook.RootDeptID}
			out = append(out, a)
			continue
		}
		first := top[0]
		if len(p.Depts) > 0 {
			if d := firstLevel(tree, p.Depts[0].DeptID); d != 0 {
				first = d
			}
		}
		a.Scope = []int64{first}
		if r := seeded(0, p.UserID); r%2 == 1 && len(top) > 1 {
			if other := top[int(r/2%uint64(len(top)))]; other != first {
				a.Scope = append(a.Scope, other)
			}
		}
		out = append(out, a)
	}
	return out
}

// firstLevel returns the child of the root on the path to dept (0 for the
// root itself or an unknown department).
func firstLevel(tree *dingbook.Tree, dept int64) int64 {
	for hops := 0; hops < 64; hops++ {
		d := tree.Dept(dept)
		if d == nil || d.ID == dingbook.RootDeptID {
			return 0
		}
		if d.ParentID == dingbook.RootDeptID {
			return d.ID
		}
		dept = d.ParentID
	}
	return 0
}

// OtherCorpID is the corpId of the other organisation whose members an
// Account of kind AccountOtherOrg belongs to.
func OtherCorpID(seed int64) string {
	return fmt.Sprintf("ding%016x", seeded(seed, "other-org"))
}

// AccountsOf returns the non-member accounts of org, deterministically
// from org and seed: three outsiders, two former members, the accounts of
// the first two external contacts and two members of another organisation.
func AccountsOf(org *dingbook.Org, seed int64) []Account {
	union := func(kind string, i int) string {
		const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		r := seeded(seed, kind+strconv.Itoa(i))
		b := make([]byte, 20)
		for k := range b {
			b[k] = chars[r%uint64(len(chars))]
			r = r*6364136223846793005 + 1442695040888963407
		}
		return string(b) + "iE"
	}
	var out []Account
	outsiders := []string{"路人甲", "Budi Santoso", "Alex Stranger"}
	for i, n := range outsiders {
		out = append(out, Account{Kind: AccountOutsider, UnionID: union(AccountOutsider, i), Name: n,
			StateCode: "86", Mobile: "1770000" + fmt.Sprintf("%04d", i), Email: fmt.Sprintf("stranger%d@mail.example.net", i)})
	}
	for i, n := range []string{"离职者张", "Dewi Pergi"} {
		out = append(out, Account{Kind: AccountLeft, UnionID: union(AccountLeft, i), Name: n,
			UserID:    "departed" + strconv.Itoa(80000+i),
			StateCode: "86", Mobile: "1780000" + fmt.Sprintf("%04d", i), Email: fmt.Sprintf("former%d@mail.example.net", i)})
	}
	for i := 0; i < len(org.External) && i < 2; i++ {
		e := &org.External[i]
		out = append(out, Account{Kind: AccountExternal, UnionID: union(AccountExternal, i), Name: e.Name, UserID: e.UserID,
			StateCode: e.StateCode, Mobile: e.Mobile, Email: e.Email})
	}
	for i, n := range []string{"别家员工", "Other Corp Member"} {
		out = append(out, Account{Kind: AccountOtherOrg, UnionID: union(AccountOtherOrg, i), Name: n,
			UserID: "other" + strconv.Itoa(1000+i), CorpID: OtherCorpID(seed),
			StateCode: "86", Mobile: "1790000" + fmt.Sprintf("%04d", i), Email: fmt.Sprintf("other%d@other.example.org", i)})
	}
	return out
}
