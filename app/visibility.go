package app

import (
	"slices"

	"github.com/dingbook/dingbook"
)

// Viewer is who looks at the directory: a session's person with their
// own departments in the snapshot and, for a sub-admin, the departments
// their admin scope covers (sub-departments included).
type Viewer struct {
	UserID string
	// Primary: the primary admin (sees the whole organisation).
	Primary bool
	// Scope holds every department a sub-admin administers (the scope's
	// departments and their descendants); empty for everyone else.
	Scope map[int64]bool
	// Depts are the viewer's own departments.
	Depts []int64
}

// ViewerOf makes the Viewer of a session over a snapshot's tree: the
// admin scope is widened to sub-departments, the viewer's departments
// are their memberships in the snapshot (self nil: not in it).
func ViewerOf(s *Session, self *dingbook.Person, tree *dingbook.Tree) Viewer {
	v := Viewer{UserID: s.UserID, Primary: slices.Contains(s.Roles, RoleAdmin)}
	if self != nil {
		v.Depts = self.DeptIDs()
	}
	if !v.Primary && slices.Contains(s.Roles, RoleSubAdmin) {
		v.Scope = map[int64]bool{}
		for _, id := range s.AdminScope {
			for _, d := range tree.Descendants(id) {
				v.Scope[d] = true
			}
		}
	}
	return v
}

// Administers reports whether p is within the viewer's admin scope: the
// primary admin administers everyone, a sub-admin the members of a
// department in their scope.
func (v Viewer) Administers(p *dingbook.Person) bool {
	if v.Primary {
		return true
	}
	for _, m := range p.Depts {
		if v.Scope[m.DeptID] {
			return true
		}
	}
	return false
}

// CanSee reports whether DingTalk would show p to the viewer at all:
// everyone sees themselves and unrestricted staff; access-restricted
// staff are visible only to admins within scope and to members of one
// of their own departments.
func (v Viewer) CanSee(p *dingbook.Person) bool {
	if !p.Restricted || p.UserID == v.UserID || v.Administers(p) {
		return true
	}
	for _, m := range p.Depts {
		if slices.Contains(v.Depts, m.DeptID) {
			return true
		}
	}
	return false
}

// SeesMobile reports whether the viewer may see p's mobile: a person who
// hid it (hide_mobile) or is in executive (senior) mode has it hidden from
// every employee but themselves and the admins within whose scope they
// are (who see it in DingTalk's admin console).
func (v Viewer) SeesMobile(p *dingbook.Person) bool {
	return !mobileHidden(p) || p.UserID == v.UserID || v.Administers(p)
}

// mobileHidden reports whether DingTalk hides p's mobile from colleagues
// (hide_mobile or executive mode).
func mobileHidden(p *dingbook.Person) bool { return p.HideMobile || p.Senior }

// SeesExternal reports whether the viewer may see external contact e
// (follower is the person following it in the snapshot, nil when gone).
// DingTalk's model has exactly three grantees (serve.md §B, from the
// extcontact/create and update docs): the follower (follower_user_id),
// the people in share_user_ids and the members of the departments in
// share_dept_ids; with subdepts (policy serve.external_share_subdepartments,
// default true: serve.md §B leaves DingTalk's rule unconfirmed and
// advises the setting) also the members of their sub-departments. Admins
// manage all external contacts in DingTalk's console (serve.md §B:
// 管理后台 > 通讯录 > 外部联系人, and its rule "plus dingbook admins"), so
// the primary admin sees them all and a sub-admin those followed by a
// person they administer or shared with a department of their scope.
func (v Viewer) SeesExternal(e *dingbook.ExternalContact, follower *dingbook.Person, tree *dingbook.Tree, subdepts bool) bool {
	if v.Primary || (v.UserID != "" && (e.FollowerUserID == v.UserID || slices.Contains(e.ShareUserIDs, v.UserID))) {
		return true
	}
	if follower != nil && follower.UserID == e.FollowerUserID && len(v.Scope) > 0 && v.Administers(follower) {
		return true
	}
	for _, s := range e.ShareDeptIDs {
		if v.Scope[s] {
			return true
		}
		for _, d := range v.Depts {
			if d == s || (subdepts && below(tree, d, s)) {
				return true
			}
		}
	}
	return false
}

// below reports whether department d is a descendant of department top.
func below(tree *dingbook.Tree, d, top int64) bool {
	seen := 0
	for dd := tree.Dept(d); dd != nil && seen < 1000; dd = tree.Dept(dd.ParentID) {
		if dd.ParentID == top {
			return true
		}
		if dd.ParentID == dd.ID {
			return false
		}
		seen++
	}
	return false
}
