package sim

import (
	"sort"

	"github.com/dingbook/dingbook/source/gen"
)

// The default role group "默认" and its roles (ids from the doc's sample,
// serve.md §A.3).
const (
	roleGroupDefault = int64(1507113577)
	rolePrimaryAdmin = int64(1507113578)
	roleSubAdmin     = int64(1507113579)
	roleOwner        = int64(1507113580) // 负责人
	roleLeader       = int64(1507113581) // 主管
)

var roleNames = map[int64]string{rolePrimaryAdmin: "主管理员", roleSubAdmin: "子管理员", roleOwner: "负责人", roleLeader: "主管"}

// roleIDs in the doc's order.
var roleIDs = []int64{roleOwner, roleLeader, rolePrimaryAdmin, roleSubAdmin}

func roleEntry(id int64) map[string]any {
	return map[string]any{"group_name": "默认", "id": id, "name": roleNames[id]}
}

// adminRoles returns the admin entries of a person's v2/user/get role_list.
func (s *Server) adminRoles(userid string) []any {
	_, adminOf := s.adminState()
	a, ok := adminOf[userid]
	if !ok {
		return nil
	}
	if a.SysLevel == 1 {
		return []any{roleEntry(rolePrimaryAdmin)}
	}
	return []any{roleEntry(roleSubAdmin)}
}

func (s *Server) userListAdmin(c *call) {
	out := []any{}
	seq, _ := s.adminState()
	for _, a := range seq {
		out = append(out, map[string]any{"userid": a.UserID, "sys_level": a.SysLevel})
	}
	s.ok(c, out)
}

// userByUnionID answers topapi/user/getbyunionid: members contact_type 0,
// external contacts' accounts contact_type 1, everyone else 60121 (former
// members too, unless LeaverLookup is "stale").
func (s *Server) userByUnionID(c *call) {
	key := c.params["unionid"]
	if key == "" || len(key) > 100 {
		s.fail(c, 400002, msgBadParam)
		return
	}
	if p := s.byUnion[key]; p != nil {
		if !c.app.userInRange(p) {
			s.fail(c, 50002, msgUserOutOfRange)
			return
		}
		s.ok(c, map[string]any{"contact_type": 0, "userid": p.UserID})
		return
	}
	if a := s.login.accounts[key]; a != nil {
		switch {
		case a.Kind == gen.AccountExternal:
			s.ok(c, map[string]any{"contact_type": 1, "userid": a.UserID})
			return
		case a.Kind == gen.AccountLeft && s.login.cfg.LeaverLookup == "stale":
			s.ok(c, map[string]any{"contact_type": 0, "userid": a.UserID})
			return
		}
	}
	s.fail(c, 60121, "找不到该用户")
}

// adminScope answers topapi/user/get_admin_scope (no result wrapper).
func (s *Server) adminScope(c *call) {
	uid := c.params["userid"]
	if uid == "" {
		s.fail(c, 40036, "参数为空")
		return
	}
	if s.people[uid] == nil {
		s.fail(c, 60121, "找不到员工")
		return
	}
	body := map[string]any{"errcode": 0, "errmsg": "ok"}
	_, adminOf := s.adminState()
	a, admin := adminOf[uid]
	switch {
	case admin && a.SysLevel == 1 && s.login.cfg.PrimaryScope == "empty":
		body["dept_ids"] = []any{}
	case admin:
		ids := []any{}
		for _, d := range a.Scope {
			ids = append(ids, d)
		}
		body["dept_ids"] = ids
	case s.login.cfg.NonAdminScope != "omit":
		body["dept_ids"] = []any{}
	}
	s.reply(c, body)
}

// ---- roles (topapi/role/…) ----

func (s *Server) roleList(c *call) {
	size, present, ok := c.intParam("size")
	if !present {
		size, ok = 20, true
	}
	if !ok || size < 1 || size > 200 {
		s.fail(c, 40069, "无效的size")
		return
	}
	off, present, ok := c.intParam("offset")
	if present && (!ok || off < 0) {
		s.fail(c, 40068, "无效的偏移量")
		return
	}
	groups := []any{}
	if off == 0 {
		roles := []any{}
		for _, id := range roleIDs {
			roles = append(roles, map[string]any{"id": id, "name": roleNames[id]})
		}
		groups = append(groups, map[string]any{"groupId": roleGroupDefault, "name": "默认", "roles": roles})
	}
	s.ok(c, map[string]any{"hasMore": false, "list": groups})
}

// roleMembers returns the members of a role with their manage scopes.
func (s *Server) roleMembers(role int64) []map[string]any {
	scopes := func(ids []int64) []any {
		out := []any{}
		for _, id := range ids {
			if d := s.tree.Dept(id); d != nil {
				out = append(out, map[string]any{"dept_id": id, "name": d.Name})
			}
		}
		return out
	}
	var out []map[string]any
	switch role {
	case rolePrimaryAdmin, roleSubAdmin:
		seq, _ := s.adminState()
		for _, a := range seq {
			if (a.SysLevel == 1) == (role == rolePrimaryAdmin) {
				out = append(out, map[string]any{"userid": a.UserID, "name": s.people[a.UserID].Name, "manageScopes": scopes(a.Scope)})
			}
		}
	case roleLeader:
		for i := range s.org.People {
			p := &s.org.People[i]
			var led []int64
			for _, m := range p.Depts {
				if m.Leader {
					led = append(led, m.DeptID)
				}
			}
			if len(led) > 0 {
				out = append(out, map[string]any{"userid": p.UserID, "name": p.Name, "manageScopes": scopes(led)})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i]["userid"].(string) < out[j]["userid"].(string) })
	return out
}

func (s *Server) roleSimpleList(c *call) {
	role, present, ok := c.intParam("role_id")
	if !present || !ok || roleNames[role] == "" {
		s.fail(c, 33011, "无效的roleId")
		return
	}
	members := s.roleMembers(role)
	lo, hi, ok := s.offsetSize(c, len(members))
	if !ok {
		return
	}
	list := []any{}
	for _, m := range members[lo:hi] {
		list = append(list, m)
	}
	s.ok(c, map[string]any{"hasMore": hi < len(members), "list": list})
}

func (s *Server) roleGet(c *call) {
	role, present, ok := c.intParam("roleId")
	if !present || !ok || roleNames[role] == "" {
		s.fail(c, 33011, "无效的roleId")
		return
	}
	s.reply(c, map[string]any{"errcode": 0, "errmsg": "ok", "role": map[string]any{"groupId": roleGroupDefault, "name": roleNames[role]}})
}

func (s *Server) roleGroup(c *call) {
	g, present, ok := c.intParam("group_id")
	if !present || !ok || g != roleGroupDefault {
		s.fail(c, 400002, msgBadParam)
		return
	}
	roles := []any{}
	for _, id := range roleIDs {
		roles = append(roles, map[string]any{"role_id": id, "role_name": roleNames[id]})
	}
	s.reply(c, map[string]any{"errcode": 0, "errmsg": "ok", "role_group": map[string]any{"group_name": "默认", "roles": roles}})
}
