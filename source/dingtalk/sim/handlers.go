package sim

import (
	"encoding/json"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/gen"
)

// ---- range ----

func (app *appState) deptInRange(id int64) bool {
	return app.rangeDepts == nil || app.rangeDepts[id]
}

func (app *appState) userInRange(p *dingbook.Person) bool {
	if app.rangeDepts == nil {
		return true
	}
	if app.rangeUsers[p.UserID] {
		return true
	}
	for _, m := range p.Depts {
		if app.rangeDepts[m.DeptID] {
			return true
		}
	}
	return false
}

const (
	msgDeptNotFound   = "未找到对应部门"
	msgDeptOutOfRange = "请求的部门id不在授权范围内"
	msgUserOutOfRange = "请求的员工userid不在授权范围内"
	msgBadParam       = "无效的参数"
)

// deptParam reads a required department id; it answers the error itself
// and returns ok=false.
func (s *Server) deptParam(c *call, required bool) (*dingbook.Department, bool) {
	id, present, ok := c.intParam("dept_id")
	if !present {
		if required {
			s.fail(c, 400002, msgBadParam)
			return nil, false
		}
		id = dingbook.RootDeptID
	} else if !ok {
		s.fail(c, 400002, msgBadParam)
		return nil, false
	}
	d := s.tree.Dept(id)
	if d == nil {
		s.fail(c, 60003, msgDeptNotFound)
		return nil, false
	}
	return d, true
}

// ---- departments ----

func (s *Server) deptListsub(c *call) {
	if _, present := c.params["dept_id"]; !present && s.cfg.ListsubWithoutDept == "error" {
		s.fail(c, 400002, msgBadParam)
		return
	}
	d, ok := s.deptParam(c, false)
	if !ok {
		return
	}
	if !c.app.deptInRange(d.ID) {
		s.fail(c, 50004, msgDeptOutOfRange)
		return
	}
	out := []any{}
	for _, id := range s.tree.Children(d.ID) {
		if !c.app.deptInRange(id) {
			continue
		}
		ch := s.tree.Dept(id)
		m := map[string]any{"dept_id": ch.ID, "name": ch.Name, "parent_id": ch.ParentID,
			"create_dept_group": true, "auto_add_user": true}
		if s.cfg.Extras {
			m["ext"] = `{"faceCount":"1"}`
			m["from_union_org"] = false
			m["tags"] = ""
		}
		out = append(out, m)
	}
	s.ok(c, out)
}

func (s *Server) deptListsubid(c *call) {
	d, ok := s.deptParam(c, true)
	if !ok {
		return
	}
	ids := append([]int64{}, s.tree.Children(d.ID)...)
	s.ok(c, map[string]any{"dept_id_list": ids})
}

func (s *Server) deptGet(c *call) {
	d, ok := s.deptParam(c, true)
	if !ok {
		return
	}
	if s.readFails(strconv.FormatInt(d.ID, 10)) {
		s.fail(c, -1, "系统繁忙")
		return
	}
	if !c.app.deptInRange(d.ID) {
		s.fail(c, 50004, msgDeptOutOfRange)
		return
	}
	m := map[string]any{
		"dept_id":                d.ID,
		"name":                   d.Name,
		"order":                  d.Order,
		"create_dept_group":      true,
		"auto_add_user":          true,
		"group_contain_sub_dept": false,
		"outer_dept":             d.Outer,
		"hide_dept":              d.Hidden,
		"auto_approve_apply":     false,
		"member_count":           d.MemberCount,
		"owning_member_count":    d.OwningMemberCount,
		"dept_manager_userid_list": func() []any {
			l := []any{}
			for _, u := range d.ManagerUserIDs {
				l = append(l, u)
			}
			return l
		}(),
	}
	if d.ID != dingbook.RootDeptID {
		m["parent_id"] = d.ParentID
	}
	if len(d.ManagerUserIDs) > 0 {
		m["org_dept_owner"] = d.ManagerUserIDs[0]
	}
	s.text(m, "source_identifier", "")
	s.text(m, "brief", "")
	if s.cfg.Extras {
		m["ext"] = `{"faceCount":"1"}`
		m["union_dept_ext"] = map[string]any{}
		m["create_time"] = "2021-03-01T02:00:00.000Z"
	}
	s.ok(c, m)
}

func (s *Server) deptParentsByDept(c *call) {
	d, ok := s.deptParam(c, true)
	if !ok {
		return
	}
	s.ok(c, map[string]any{"parent_id_list": s.parents(d.ID)})
}

// parents returns [id, parent, …, 1].
func (s *Server) parents(id int64) []int64 {
	out := []int64{}
	for cur := s.tree.Dept(id); cur != nil && len(out) < 64; cur = s.tree.Dept(cur.ParentID) {
		out = append(out, cur.ID)
		if cur.ID == dingbook.RootDeptID {
			break
		}
	}
	return out
}

func (s *Server) deptParentsByUser(c *call) {
	uid := c.params["userid"]
	if uid == "" {
		s.fail(c, 400002, msgBadParam)
		return
	}
	p := s.people[uid]
	if p == nil {
		s.fail(c, 33012, "无效的userId")
		return
	}
	list := []any{}
	for _, m := range p.Depts {
		list = append(list, map[string]any{"parent_dept_id_list": s.parents(m.DeptID)})
	}
	s.ok(c, map[string]any{"parent_list": list})
}

// ---- users ----

// text sets a text field following EmptyFields.
func (s *Server) text(m map[string]any, key, val string) {
	if val == "" && s.cfg.EmptyFields == "omit" {
		return
	}
	m[key] = val
}

// texts sets p's text fields keys (field keys, which are DingTalk's) in m
// following EmptyFields, read through the domain's accessor table.
func (s *Server) texts(m map[string]any, p *dingbook.Person, keys ...string) {
	for _, k := range keys {
		s.text(m, k, *dingbook.TextOf(k)(p))
	}
}

// flags sets p's flag fields keys in m.
func flags(m map[string]any, p *dingbook.Person, keys ...string) {
	for _, k := range keys {
		m[k] = *dingbook.FlagOf(k)(p)
	}
}

// userObject builds a user as v2/user/list (dept != 0: dept_order and
// leader of that department) or v2/user/get (dept == 0) returns it.
func (s *Server) userObject(p *dingbook.Person, app *appState, dept int64) map[string]any {
	m := map[string]any{"userid": p.UserID, "name": p.Name, "dept_id_list": p.DeptIDs()}
	flags(m, p, "hide_mobile", "active", "admin", "boss", "exclusive_account")
	s.texts(m, p, "unionid", "avatar")
	if !app.ISV {
		s.texts(m, p, "telephone")
	}
	s.texts(m, p, "job_number", "title")
	if !app.NoMobileField && !app.ISV {
		s.texts(m, p, "state_code", "mobile")
	}
	if !app.NoEmailField && !app.ISV {
		s.texts(m, p, "email", "org_email", "work_place", "remark")
		if len(p.Extension) > 0 {
			b, _ := json.Marshal(p.Extension)
			m["extension"] = string(b)
		}
	}
	if p.HiredDate != 0 && !app.ISV {
		m["hired_date"] = p.HiredDate
	}
	if p.ExclusiveAccount {
		m["login_id"] = p.LoginID
		m["exclusive_account_type"] = "dingtalk"
	}
	if dept != 0 {
		ms, _ := p.Membership(dept)
		m["dept_order"] = ms.Order
		m["leader"] = ms.Leader
	} else {
		if p.ManagerUserID != "" {
			m["manager_userid"] = p.ManagerUserID
		}
		orders, leaders := []any{}, []any{}
		isLeader := false
		for _, ms := range p.Depts {
			orders = append(orders, map[string]any{"dept_id": ms.DeptID, "order": ms.Order})
			leaders = append(leaders, map[string]any{"dept_id": ms.DeptID, "leader": ms.Leader})
			isLeader = isLeader || ms.Leader
		}
		m["dept_order_list"] = orders
		m["leader_in_dept"] = leaders
		roles := []any{}
		if isLeader {
			roles = append(roles, roleEntry(roleLeader))
		}
		roles = append(roles, s.adminRoles(p.UserID)...)
		m["role_list"] = roles
		flags(m, p, "real_authed", "senior")
		if !app.NoEmailField && !app.ISV && p.OrgEmail != "" {
			m["org_email_type"] = p.OrgEmailType
		}
		if s.cfg.Extras {
			m["union_emp_ext"] = map[string]any{}
			pos := []any{}
			for i, ms := range p.Depts {
				pos = append(pos, map[string]any{"dept_id": ms.DeptID, "is_main": i == 0, "title": p.Title, "work_place": p.WorkPlace})
			}
			m["dept_position_list"] = pos
		}
	}
	if s.cfg.Extras {
		ct := p.HiredDate
		if ct == 0 {
			ct = 1600000000000
		}
		m["create_time"] = time.UnixMilli(ct).UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return m
}

// opaqueShift is added to offsets to make OpaqueCursor cursors.
const opaqueShift = 7

var orderFields = map[string]bool{"custom": true, "entry_asc": true, "entry_desc": true, "modify_asc": true, "modify_desc": true}

// listing returns the direct members of dept in order, without restricted
// staff unless withRestricted.
func (s *Server) listing(dept int64, order string, withRestricted bool) []*dingbook.Person {
	key := sortKey{dept, order}
	if !withRestricted {
		key.order += "|visible"
	}
	s.mu.Lock()
	l, ok := s.sorted[key]
	s.mu.Unlock()
	if ok {
		return l
	}
	base := s.members[dept]
	l = make([]*dingbook.Person, 0, len(base))
	for _, p := range base {
		if withRestricted || !s.restricted[p.UserID] {
			l = append(l, p)
		}
	}
	modified := func(p *dingbook.Person) uint32 {
		h := fnv.New32a()
		h.Write([]byte(p.UserID))
		return h.Sum32()
	}
	switch order {
	case "entry_asc", "entry_desc":
		sort.SliceStable(l, func(i, j int) bool {
			if l[i].HiredDate != l[j].HiredDate {
				return l[i].HiredDate < l[j].HiredDate
			}
			return l[i].UserID < l[j].UserID
		})
	case "modify_asc", "modify_desc":
		sort.SliceStable(l, func(i, j int) bool {
			a, b := modified(l[i]), modified(l[j])
			if a != b {
				return a < b
			}
			return l[i].UserID < l[j].UserID
		})
	}
	if strings.HasSuffix(order, "_desc") {
		for i, j := 0, len(l)-1; i < j; i, j = i+1, j-1 {
			l[i], l[j] = l[j], l[i]
		}
	}
	s.mu.Lock()
	s.sorted[key] = l
	s.mu.Unlock()
	return l
}

// page reads dept_id/cursor/size/order_field/contain_access_limit, answers
// validation errors with the given codes and returns the page.
func (s *Server) page(c *call, codeDept, codeCursor, codeSize int, msgCursor, msgSize string) (dept int64, list []*dingbook.Person, next int64, more, ok bool) {
	id, present, okv := c.intParam("dept_id")
	if !present || !okv || id < 1 {
		s.fail(c, codeDept, msgForCode(codeDept))
		return
	}
	cursor, present, okv := c.intParam("cursor")
	if !present || !okv || cursor < 0 || cursor > 100000 {
		s.fail(c, codeCursor, msgCursor)
		return
	}
	if s.cfg.OpaqueCursor && cursor != 0 {
		if cursor < opaqueShift {
			s.fail(c, codeCursor, msgCursor)
			return
		}
		cursor -= opaqueShift
	}
	size, present, okv := c.intParam("size")
	if !present || !okv || size < 1 || size > 100 {
		s.fail(c, codeSize, msgSize)
		return
	}
	order := "custom"
	if o, present := c.params["order_field"]; present && o != "" {
		if !orderFields[o] {
			s.fail(c, codeDept, msgForCode(codeDept))
			return
		}
		order = o
	}
	withRestricted := false
	if _, present := c.params["contain_access_limit"]; present {
		v, _, okb := c.boolParam("contain_access_limit")
		if !okb {
			s.fail(c, codeDept, msgForCode(codeDept))
			return
		}
		withRestricted = v
	}
	if lang := c.params["language"]; len(lang) > 6 {
		s.fail(c, codeDept, msgForCode(codeDept))
		return
	}
	if s.tree.Dept(id) == nil {
		if !c.app.deptInRange(id) && c.app.rangeDepts != nil {
			s.fail(c, 50004, msgDeptOutOfRange)
			return
		}
		s.fail(c, 60003, msgDeptNotFound)
		return
	}
	if !c.app.deptInRange(id) {
		s.fail(c, 50004, msgDeptOutOfRange)
		return
	}
	all := s.listing(id, order, withRestricted)
	lo := min(int(cursor), len(all))
	hi := min(lo+int(size), len(all))
	next = int64(hi)
	if s.cfg.OpaqueCursor {
		next += opaqueShift
	}
	return id, all[lo:hi], next, hi < len(all), true
}

func msgForCode(code int) string {
	switch code {
	case 40035:
		return "参数非法"
	case 400002:
		return msgBadParam
	}
	return "错误"
}

func (s *Server) userList(c *call) {
	dept, list, next, more, ok := s.page(c, 40035, 40035, 40035, "参数非法", "参数非法")
	if !ok {
		return
	}
	items := make([]any, 0, len(list))
	for _, p := range list {
		items = append(items, s.userObject(p, c.app, dept))
	}
	res := map[string]any{"has_more": more, "list": items}
	if more {
		res["next_cursor"] = next
	}
	s.ok(c, res)
}

func (s *Server) userListSimple(c *call) {
	_, list, next, more, ok := s.page(c, 400002, 40068, 40069, "无效的偏移量", "无效的size")
	if !ok {
		return
	}
	items := make([]any, 0, len(list))
	for _, p := range list {
		items = append(items, map[string]any{"userid": p.UserID, "name": p.Name})
	}
	res := map[string]any{"has_more": more, "list": items}
	if more {
		res["next_cursor"] = next
	}
	s.ok(c, res)
}

func (s *Server) userGet(c *call) {
	if s.readFails(c.params["userid"]) {
		s.fail(c, -1, "系统繁忙")
		return
	}
	if p := s.findUser(c, "userid", 64, s.people, "找不到该用户"); p != nil {
		s.ok(c, s.userObject(p, c.app, 0))
	}
}

// findUser reads the key parameter (1..maxLen characters, else 400002),
// looks it up in index (else 60121 with notFound) and checks the app's
// contact range (else 50002). It answers the error itself and then
// returns nil.
func (s *Server) findUser(c *call, param string, maxLen int, index map[string]*dingbook.Person, notFound string) *dingbook.Person {
	key := c.params[param]
	if key == "" || len(key) > maxLen {
		s.fail(c, 400002, msgBadParam)
		return nil
	}
	if param == "mobile" {
		key = strings.TrimPrefix(key, "+86")
	}
	p := index[key]
	if p == nil {
		s.fail(c, 60121, notFound)
		return nil
	}
	if !c.app.userInRange(p) {
		s.fail(c, 50002, msgUserOutOfRange)
		return nil
	}
	return p
}

func (s *Server) userListID(c *call) {
	id, present, ok := c.intParam("dept_id")
	if !present || !ok || id < 1 {
		s.fail(c, 400002, msgBadParam)
		return
	}
	if s.tree.Dept(id) == nil {
		s.fail(c, 60003, msgDeptNotFound)
		return
	}
	ids := []string{}
	for _, p := range s.members[id] {
		ids = append(ids, p.UserID)
	}
	s.ok(c, map[string]any{"userid_list": ids})
}

func (s *Server) userCount(c *call) {
	active, present, ok := c.boolParam("only_active")
	if !present {
		s.fail(c, 400002, "参数为空")
		return
	}
	if !ok {
		s.fail(c, 40035, "不合法的参数")
		return
	}
	n := 0
	for i := range s.org.People {
		if !active || s.org.People[i].Active {
			n++
		}
	}
	s.ok(c, map[string]any{"count": n})
}

func (s *Server) userByMobile(c *call) {
	if p := s.findUser(c, "mobile", 15, s.byMobile, "未找到该用户"); p != nil {
		s.ok(c, map[string]any{"userid": p.UserID})
	}
}

// authScopes answers GET /auth/scopes (no result wrapper).
func (s *Server) authScopes(c *call) {
	depts := []any{}
	users := []any{}
	if c.app.rangeDepts == nil {
		depts = append(depts, dingbook.RootDeptID)
	} else {
		for _, d := range c.app.RangeDepts {
			depts = append(depts, d)
		}
		for _, u := range c.app.RangeUsers {
			users = append(users, u)
		}
	}
	fields := []any{"jobnumber", "isLeader", "name", "position", "isAdmin", "avatar", "department", "userid", "deviceId", "isHide"}
	if !c.app.NoMobileField {
		fields = append(fields, "mobile")
	}
	if !c.app.NoEmailField {
		fields = append(fields, "email")
	}
	s.reply(c, map[string]any{
		"errcode":         0,
		"errmsg":          "ok",
		"auth_user_field": fields,
		"condition_field": []any{},
		"auth_org_scopes": map[string]any{"authed_user": users, "authed_dept": depts},
	})
}

// ---- external contacts ----

func (s *Server) extObject(e *dingbook.ExternalContact, app *appState) map[string]any {
	m := map[string]any{"userid": e.UserID, "name": e.Name, "follower_user_id": e.FollowerUserID}
	s.text(m, "company_name", e.CompanyName)
	s.text(m, "title", e.Title)
	s.text(m, "address", e.Address)
	s.text(m, "remark", e.Remark)
	if !app.NoMobileField && !app.ISV {
		s.text(m, "mobile", e.Mobile)
		s.text(m, "state_code", e.StateCode)
	}
	if !app.NoEmailField {
		s.text(m, "email", e.Email)
	}
	labels := []any{}
	for _, l := range e.LabelIDs {
		labels = append(labels, l)
	}
	m["label_ids"] = labels
	sd := []any{}
	for _, d := range e.ShareDeptIDs {
		sd = append(sd, d)
	}
	m["share_dept_ids"] = sd
	su := []any{}
	for _, u := range e.ShareUserIDs {
		su = append(su, u)
	}
	m["share_user_ids"] = su
	return m
}

// offsetSize reads the optional offset/size pair of the extcontact APIs.
func (s *Server) offsetSize(c *call, n int) (lo, hi int, ok bool) {
	off, offPresent, offOK := c.intParam("offset")
	size, sizePresent, sizeOK := c.intParam("size")
	if sizePresent && (!sizeOK || size < 1 || size > 100) {
		s.fail(c, 40069, "无效的size")
		return 0, 0, false
	}
	if offPresent && (!offOK || off < 0) {
		s.fail(c, 40068, "无效的偏移量")
		return 0, 0, false
	}
	if !offPresent || !sizePresent {
		return 0, n, true
	}
	lo = min(int(off), n)
	return lo, min(lo+int(size), n), true
}

func (s *Server) extList(c *call) {
	s.extMu.RLock()
	defer s.extMu.RUnlock()
	lo, hi, ok := s.offsetSize(c, len(s.org.External))
	if !ok {
		return
	}
	out := []any{}
	for i := lo; i < hi; i++ {
		out = append(out, s.extObject(&s.org.External[i], c.app))
	}
	s.reply(c, map[string]any{"errcode": 0, "errmsg": "ok", "results": out})
}

// labelGroups are gen.ExternalLabels grouped as listlabelgroups answers
// them ("color" a signed int, as DingTalk's example).
var labelGroups = func() []map[string]any {
	var out []map[string]any
	for _, l := range gen.ExternalLabels {
		if len(out) == 0 || out[len(out)-1]["name"] != l.Group {
			out = append(out, map[string]any{"name": l.Group, "color": -15220075, "labels": []any{}})
		}
		g := out[len(out)-1]
		g["labels"] = append(g["labels"].([]any), map[string]any{"name": l.Name, "id": l.ID})
	}
	return out
}()

func (s *Server) extLabelGroups(c *call) {
	lo, hi, ok := s.offsetSize(c, len(labelGroups))
	if !ok {
		return
	}
	out := []any{}
	for _, g := range labelGroups[lo:hi] {
		// copy: quoting mutates maps
		b, _ := json.Marshal(g)
		var m map[string]any
		json.Unmarshal(b, &m)
		out = append(out, m)
	}
	s.reply(c, map[string]any{"errcode": 0, "errmsg": "ok", "results": out})
}

func (s *Server) extGet(c *call) {
	id := c.params["user_id"]
	if id == "" || len(id) > 64 {
		s.fail(c, 400002, msgBadParam)
		return
	}
	s.extMu.RLock()
	defer s.extMu.RUnlock()
	e := s.ext[id]
	if e == nil {
		s.fail(c, 33012, "无效的userId")
		return
	}
	s.ok(c, s.extObject(e, c.app))
}
