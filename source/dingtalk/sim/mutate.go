package sim

import (
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"slices"

	"github.com/dingbook/dingbook"
)

// Changing the organisation (for tests): every change is visible to the
// next API call and fires the contact events DingTalk would (events.go).
//
// Choices where the doc is silent:
//   - A move between departments is a user_modify_org whose diffInfo
//     holds "deptIdList" (internal apps get no user_dept_change); a
//     change of department leadership holds "leaderInDepts" (the ids of
//     the departments led); a change of order within a department fires
//     nothing.
//   - One UpdateUser may fire several events: org_admin_add/remove when
//     the admin flag changes, user_active_org when active turns true, and
//     user_modify_org for any other changed field.
//   - A leaver is dropped from the departments' manager lists; other
//     people's manager_userid keeps naming them (DingTalk does not clear
//     it either, as far as is known).
//   - RemoveDept refuses a department that still has members or
//     sub-departments, as the console does.

// diffKeys maps Person fields to the camelCase keys of diffInfo.
var diffKeys = []struct {
	key string
	get func(p *dingbook.Person) any
}{
	{"name", func(p *dingbook.Person) any { return p.Name }},
	{"mobile", func(p *dingbook.Person) any { return p.Mobile }},
	{"stateCode", func(p *dingbook.Person) any { return p.StateCode }},
	{"hideMobile", func(p *dingbook.Person) any { return p.HideMobile }},
	{"telephone", func(p *dingbook.Person) any { return p.Telephone }},
	{"email", func(p *dingbook.Person) any { return p.Email }},
	{"orgEmail", func(p *dingbook.Person) any { return p.OrgEmail }},
	{"jobNumber", func(p *dingbook.Person) any { return p.JobNumber }},
	{"title", func(p *dingbook.Person) any { return p.Title }},
	{"workPlace", func(p *dingbook.Person) any { return p.WorkPlace }},
	{"remark", func(p *dingbook.Person) any { return p.Remark }},
	{"managerUserid", func(p *dingbook.Person) any { return p.ManagerUserID }},
	{"hiredDate", func(p *dingbook.Person) any { return p.HiredDate }},
	{"extension", func(p *dingbook.Person) any { return p.Extension }},
	{"deptIdList", func(p *dingbook.Person) any { return p.DeptIDs() }},
	{"leaderInDepts", func(p *dingbook.Person) any {
		var ids []int64
		for _, m := range p.Depts {
			if m.Leader {
				ids = append(ids, m.DeptID)
			}
		}
		return ids
	}},
}

// copyPerson returns p with its own Depts and Extension.
func copyPerson(p *dingbook.Person) dingbook.Person {
	c := *p
	c.Depts = slices.Clone(p.Depts)
	c.Extension = maps.Clone(p.Extension)
	return c
}

// change runs fn on the people and departments, which it may change in
// place, and re-indexes. The first change copies the people so that the
// caller's Truth is never modified; fn copies a person (copyPerson) or a
// department's manager list before changing what they share with it, and
// checks everything before it changes anything: its error leaves the
// organisation as it was.
func (s *Server) change(fn func(people []dingbook.Person, depts []dingbook.Department) ([]dingbook.Person, []dingbook.Department, error)) error {
	s.data.Lock()
	defer s.data.Unlock()
	if !s.owned {
		s.org.People = slices.Clone(s.org.People)
		s.owned = true
	}
	people, depts, err := fn(s.org.People, s.org.Depts)
	if err != nil {
		return err
	}
	s.org.People, s.org.Depts = people, depts
	s.index()
	return nil
}

func (s *Server) checkDepts(p *dingbook.Person) error {
	if len(p.Depts) == 0 {
		return fmt.Errorf("sim: %s belongs to no department", p.UserID)
	}
	for _, m := range p.Depts {
		if s.tree.Dept(m.DeptID) == nil {
			return fmt.Errorf("sim: %s: no department %d", p.UserID, m.DeptID)
		}
	}
	return nil
}

// AddUser adds p (a new userid, in existing departments) and fires
// user_add_org.
func (s *Server) AddUser(p dingbook.Person) error {
	err := s.change(func(people []dingbook.Person, depts []dingbook.Department) ([]dingbook.Person, []dingbook.Department, error) {
		if p.UserID == "" || s.people[p.UserID] != nil {
			return nil, nil, fmt.Errorf("sim: AddUser: userid %q is empty or taken", p.UserID)
		}
		if err := s.checkDepts(&p); err != nil {
			return nil, nil, err
		}
		return append(people, copyPerson(&p)), depts, nil
	})
	if err != nil {
		return err
	}
	s.fire(EventUserAdd, []string{p.UserID}, nil, nil)
	return nil
}

// UpdateUser changes a person with fn (which must keep the userid) and
// fires the events the change implies: org_admin_add or org_admin_remove,
// user_active_org, and user_modify_org with a diffInfo of the changed
// fields.
func (s *Server) UpdateUser(userid string, fn func(p *dingbook.Person)) error {
	var before, after dingbook.Person
	err := s.change(func(people []dingbook.Person, depts []dingbook.Department) ([]dingbook.Person, []dingbook.Department, error) {
		i := slices.IndexFunc(people, func(p dingbook.Person) bool { return p.UserID == userid })
		if i < 0 {
			return nil, nil, fmt.Errorf("sim: UpdateUser: no user %q", userid)
		}
		before = copyPerson(&people[i])
		after = copyPerson(&people[i])
		fn(&after)
		if after.UserID != userid {
			return nil, nil, fmt.Errorf("sim: UpdateUser: the userid of %q cannot change", userid)
		}
		if err := s.checkDepts(&after); err != nil {
			return nil, nil, err
		}
		people[i] = copyPerson(&after)
		if before.Admin != after.Admin {
			s.login.adminFlagChanged(&dingbook.Org{People: people, Depts: depts}, userid, after.Admin)
		}
		if after.Restricted {
			s.restricted[userid] = true
		} else {
			delete(s.restricted, userid)
		}
		return people, depts, nil
	})
	if err != nil {
		return err
	}
	ids := []string{userid}
	if before.Admin != after.Admin {
		typ := EventAdminAdd
		if !after.Admin {
			typ = EventAdminRemove
		}
		s.fire(typ, ids, nil, nil)
	}
	if !before.Active && after.Active {
		s.fire(EventUserActive, ids, nil, nil)
	}
	prev, curr := map[string]any{}, map[string]any{}
	for _, k := range diffKeys {
		a, b := k.get(&before), k.get(&after)
		if fmt.Sprint(a) == fmt.Sprint(b) {
			continue
		}
		prev[k.key], curr[k.key] = a, b
	}
	if len(curr) > 0 {
		s.fire(EventUserModify, ids, nil, map[string]any{"prev": prev, "curr": curr, "userid": userid})
	}
	return nil
}

// MoveUser makes a person a member of exactly depts (keeping order and
// leader flag where they stay) and fires user_modify_org.
func (s *Server) MoveUser(userid string, depts ...int64) error {
	return s.UpdateUser(userid, func(p *dingbook.Person) {
		var ms []dingbook.Membership
		for _, d := range depts {
			m, ok := p.Membership(d)
			if !ok {
				m = dingbook.Membership{DeptID: d}
			}
			ms = append(ms, m)
		}
		p.Depts = ms
	})
}

// SetAdmin makes a person an admin or not and fires org_admin_add or
// org_admin_remove.
func (s *Server) SetAdmin(userid string, admin bool) error {
	return s.UpdateUser(userid, func(p *dingbook.Person) { p.Admin = admin })
}

// RemoveUser makes a person leave the organisation and fires
// user_leave_org; from then on v2/user/get answers 60121,
// v1.0/contact/empLeaveRecords lists the leaver, they are no longer an
// admin, and their DingTalk account is a former member's
// (gen.AccountLeft): a login is refused as LoginConfig.LeaverLookup says.
func (s *Server) RemoveUser(userid string) error {
	var gone dingbook.Person
	err := s.change(func(people []dingbook.Person, depts []dingbook.Department) ([]dingbook.Person, []dingbook.Department, error) {
		i := slices.IndexFunc(people, func(p dingbook.Person) bool { return p.UserID == userid })
		if i < 0 {
			return nil, nil, fmt.Errorf("sim: RemoveUser: no user %q", userid)
		}
		gone = people[i]
		for j := range depts {
			depts[j].ManagerUserIDs = slices.DeleteFunc(slices.Clone(depts[j].ManagerUserIDs), func(u string) bool { return u == userid })
		}
		if gone.UnionID != "" {
			// the DingTalk account stays: a former member's (login.go)
			s.login.addAccount(leaverAccount(&gone))
		}
		return slices.Delete(people, i, i+1), depts, nil
	})
	if err != nil {
		return err
	}
	s.recordLeave(gone)
	s.fire(EventUserLeave, []string{userid}, nil, nil)
	return nil
}

// AddDept adds a department under an existing parent and fires
// org_dept_create.
func (s *Server) AddDept(d dingbook.Department) error {
	err := s.change(func(people []dingbook.Person, depts []dingbook.Department) ([]dingbook.Person, []dingbook.Department, error) {
		if d.ID <= dingbook.RootDeptID || s.tree.Dept(d.ID) != nil {
			return nil, nil, fmt.Errorf("sim: AddDept: id %d is invalid or taken", d.ID)
		}
		if s.tree.Dept(d.ParentID) == nil {
			return nil, nil, fmt.Errorf("sim: AddDept %d: no parent %d", d.ID, d.ParentID)
		}
		return people, append(depts, d), nil
	})
	if err != nil {
		return err
	}
	s.fire(EventDeptCreate, nil, []int64{d.ID}, nil)
	return nil
}

// UpdateDept changes a department with fn (which must keep its id; a new
// parent must exist and lie outside the department) and fires
// org_dept_modify.
func (s *Server) UpdateDept(id int64, fn func(d *dingbook.Department)) error {
	err := s.change(func(people []dingbook.Person, depts []dingbook.Department) ([]dingbook.Person, []dingbook.Department, error) {
		i := slices.IndexFunc(depts, func(d dingbook.Department) bool { return d.ID == id })
		if i < 0 {
			return nil, nil, fmt.Errorf("sim: UpdateDept: no department %d", id)
		}
		d := depts[i]
		d.ManagerUserIDs = slices.Clone(d.ManagerUserIDs)
		fn(&d)
		if d.ID != id {
			return nil, nil, fmt.Errorf("sim: UpdateDept: the id of department %d cannot change", id)
		}
		if id != dingbook.RootDeptID && (s.tree.Dept(d.ParentID) == nil || slices.Contains(s.tree.Descendants(id), d.ParentID)) {
			return nil, nil, fmt.Errorf("sim: UpdateDept %d: parent %d is missing or inside it", id, d.ParentID)
		}
		depts[i] = d
		return people, depts, nil
	})
	if err != nil {
		return err
	}
	s.fire(EventDeptModify, nil, []int64{id}, nil)
	return nil
}

// RemoveDept removes an empty department (no members, no
// sub-departments) and fires org_dept_remove; from then on
// v2/department/get answers 60003.
func (s *Server) RemoveDept(id int64) error {
	err := s.change(func(people []dingbook.Person, depts []dingbook.Department) ([]dingbook.Person, []dingbook.Department, error) {
		if id == dingbook.RootDeptID || s.tree.Dept(id) == nil {
			return nil, nil, fmt.Errorf("sim: RemoveDept: no department %d (or the root)", id)
		}
		if len(s.tree.Children(id)) > 0 || len(s.members[id]) > 0 {
			return nil, nil, fmt.Errorf("sim: RemoveDept %d: it still has members or sub-departments", id)
		}
		return people, slices.DeleteFunc(depts, func(d dingbook.Department) bool { return d.ID == id }), nil
	})
	if err != nil {
		return err
	}
	s.fire(EventDeptRemove, nil, []int64{id}, nil)
	return nil
}

// RandomChange makes one random change through the API above (a joiner,
// a new title, a move or a leaver) and describes it; `dingbook sim
// --churn` calls it periodically so that a Stream client sees events.
func (s *Server) RandomChange(rng *mrand.Rand) (string, error) {
	s.data.RLock()
	n := len(s.org.People)
	var p dingbook.Person
	if n > 0 {
		p = s.org.People[rng.IntN(n)]
	}
	dept := s.org.Depts[rng.IntN(len(s.org.Depts))].ID
	s.data.RUnlock()
	op := rng.IntN(4)
	if n < 2 {
		op = 0
	}
	if _, in := p.Membership(dept); op == 2 && in {
		op = 1 // a move into a department the person is in changes nothing
	}
	switch op {
	case 0:
		s.events.mu.Lock()
		s.events.churn++
		id := fmt.Sprintf("churn%04d", s.events.churn)
		s.events.mu.Unlock()
		return "user_add_org " + id, s.AddUser(dingbook.Person{UserID: id, Name: "新同事" + id[5:], Active: true,
			Depts: []dingbook.Membership{{DeptID: dept}}})
	case 1:
		title := []string{"工程师", "高级工程师", "产品经理", "设计师", "销售经理"}[rng.IntN(5)]
		return "user_modify_org " + p.UserID + " title " + title, s.UpdateUser(p.UserID, func(q *dingbook.Person) { q.Title = title })
	case 2:
		return fmt.Sprintf("user_modify_org %s moved to %d", p.UserID, dept), s.MoveUser(p.UserID, dept)
	default:
		return "user_leave_org " + p.UserID, s.RemoveUser(p.UserID)
	}
}
