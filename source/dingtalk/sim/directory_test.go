package sim_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

func numStr(v any) string {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

func asList(v any) []any { l, _ := v.([]any); return l }

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

// walkDepts lists every department id reachable from root with listsub.
func walkDepts(t *testing.T, h *harness, tok string) []int64 {
	t.Helper()
	out := []int64{1}
	for i := 0; i < len(out); i++ {
		r := h.post("/topapi/v2/department/listsub", tok, map[string]any{"dept_id": out[i]})
		wantCode(t, r, "0")
		for _, d := range asList(r.body["result"]) {
			id, _ := strconv.ParseInt(numStr(asMap(d)["dept_id"]), 10, 64)
			if numStr(asMap(d)["parent_id"]) != strconv.FormatInt(out[i], 10) {
				t.Fatalf("listsub(%d) returned a non-child: %v", out[i], d)
			}
			out = append(out, id)
		}
	}
	return out
}

// pageAll pages v2/user/list through dept with size, returning the items.
func pageAll(t *testing.T, h *harness, tok string, dept int64, size int, extra map[string]any) []map[string]any {
	t.Helper()
	var items []map[string]any
	cursor := "0"
	for calls := 0; ; calls++ {
		body := map[string]any{"dept_id": dept, "cursor": cursor, "size": size}
		for k, v := range extra {
			body[k] = v
		}
		r := h.post("/topapi/v2/user/list", tok, body)
		wantCode(t, r, "0")
		res := r.result()
		for _, it := range asList(res["list"]) {
			items = append(items, asMap(it))
		}
		if numStr(res["has_more"]) != "true" {
			if _, has := res["next_cursor"]; has {
				t.Fatalf("next_cursor with has_more=false: %s", r.raw)
			}
			return items
		}
		next := numStr(res["next_cursor"])
		if c, _ := strconv.Atoi(cursor); next != strconv.Itoa(c+len(asList(res["list"]))) {
			t.Fatalf("next_cursor %s after cursor %s + %d", next, cursor, len(asList(res["list"])))
		}
		cursor = next
		if calls > 10000 {
			t.Fatal("paging does not end")
		}
	}
}

// checklist 14, 17, 18: walking the org reaches everyone exactly once per
// membership, with direct members only and per-department order/leader.
func TestWalkWholeOrg(t *testing.T) {
	tr := gen.Generate(gen.Options{Users: 1500, Depts: 60, Seed: 9})
	h := newSim(t, sim.Config{Truth: tr})
	tok := h.token()
	depts := walkDepts(t, h, tok)
	if len(depts) != len(tr.Org.Depts) {
		t.Fatalf("walk found %d departments, org has %d", len(depts), len(tr.Org.Depts))
	}
	byID := map[string]*dingbook.Person{}
	for i := range tr.Org.People {
		byID[tr.Org.People[i].UserID] = &tr.Org.People[i]
	}
	seen := map[string]int{}
	for _, d := range depts {
		items := pageAll(t, h, tok, d, 100, map[string]any{"contain_access_limit": true})
		direct := 0
		for _, it := range items {
			uid := it["userid"].(string)
			p := byID[uid]
			m, ok := p.Membership(d)
			if !ok {
				t.Fatalf("dept %d listed %s who is not a direct member", d, uid)
			}
			direct++
			seen[uid]++
			if numStr(it["dept_order"]) != strconv.FormatInt(m.Order, 10) {
				t.Fatalf("%s in %d: dept_order %s, want exactly %d", uid, d, numStr(it["dept_order"]), m.Order)
			}
			if it["leader"] != m.Leader {
				t.Fatalf("%s in %d: leader %v, want %v", uid, d, it["leader"], m.Leader)
			}
			var ids []string
			for _, x := range asList(it["dept_id_list"]) {
				ids = append(ids, numStr(x))
			}
			var want []string
			for _, x := range p.DeptIDs() {
				want = append(want, strconv.FormatInt(x, 10))
			}
			if !reflect.DeepEqual(ids, want) {
				t.Fatalf("%s: dept_id_list %v, want %v", uid, ids, want)
			}
		}
		// matches the department's owning_member_count
		g := h.post("/topapi/v2/department/get", tok, map[string]any{"dept_id": d})
		if numStr(g.result()["owning_member_count"]) != strconv.Itoa(direct) {
			t.Fatalf("dept %d: owning_member_count %v, listed %d", d, g.result()["owning_member_count"], direct)
		}
	}
	for _, p := range tr.Org.People {
		if seen[p.UserID] != len(p.Depts) {
			t.Fatalf("%s seen %d times, has %d memberships", p.UserID, seen[p.UserID], len(p.Depts))
		}
	}
	if len(seen) != len(tr.Org.People) {
		t.Fatalf("saw %d people of %d", len(seen), len(tr.Org.People))
	}
	// user/count and listid agree
	c := h.post("/topapi/user/count", tok, map[string]any{"only_active": false})
	if numStr(c.result()["count"]) != strconv.Itoa(len(tr.Org.People)) {
		t.Errorf("count %s", c.raw)
	}
	inactive := len(tr.Problems[dingbook.ProblemInactive])
	c = h.post("/topapi/user/count", tok, map[string]any{"only_active": true})
	if numStr(c.result()["count"]) != strconv.Itoa(len(tr.Org.People)-inactive) {
		t.Errorf("active count %s, want %d", c.raw, len(tr.Org.People)-inactive)
	}
	root := h.post("/topapi/v2/department/get", tok, map[string]any{"dept_id": 1})
	if numStr(root.result()["member_count"]) != strconv.Itoa(len(tr.Org.People)) {
		t.Errorf("root member_count %v", root.result()["member_count"])
	}
}

// checklist 17: restricted staff only with contain_access_limit=true.
func TestRestrictedStaff(t *testing.T) {
	h := newSim(t, sim.Config{})
	tok := h.token()
	restricted := map[string]bool{}
	for _, u := range h.truth.Restricted {
		restricted[u] = true
	}
	if len(restricted) == 0 {
		t.Fatal("test org has no restricted staff")
	}
	var with, without int
	found := 0
	for _, d := range h.truth.Org.Depts {
		for _, it := range pageAll(t, h, tok, d.ID, 7, nil) {
			without++
			if restricted[it["userid"].(string)] {
				t.Fatalf("restricted %s listed without contain_access_limit", it["userid"])
			}
		}
		for _, it := range pageAll(t, h, tok, d.ID, 100, map[string]any{"contain_access_limit": "true"}) {
			with++
			if restricted[it["userid"].(string)] {
				found++
			}
		}
	}
	if found == 0 || with-without != found {
		t.Fatalf("with %d, without %d, restricted found %d", with, without, found)
	}
	// listsimple follows the same rule
	u := h.truth.Restricted[0]
	p := findPerson(h.truth, u)
	r := h.post("/topapi/user/listsimple", tok, map[string]any{"dept_id": p.Depts[0].DeptID, "cursor": 0, "size": 100})
	if strings.Contains(string(r.raw), `"`+u+`"`) {
		t.Error("listsimple lists restricted staff by default")
	}
	r = h.post("/topapi/user/listsimple", tok, map[string]any{"dept_id": p.Depts[0].DeptID, "cursor": 0, "size": 100, "contain_access_limit": true})
	if !strings.Contains(string(r.raw), `"`+u+`"`) {
		t.Error("listsimple hides restricted staff with contain_access_limit")
	}
	// listid includes them
	r = h.post("/topapi/user/listid", tok, map[string]any{"dept_id": p.Depts[0].DeptID})
	if !strings.Contains(string(r.raw), `"`+u+`"`) {
		t.Errorf("listid omits restricted %s: %s", u, r.raw)
	}
}

func findPerson(tr *gen.Truth, uid string) *dingbook.Person {
	for i := range tr.Org.People {
		if tr.Org.People[i].UserID == uid {
			return &tr.Org.People[i]
		}
	}
	return nil
}

// checklist 12, 20: exact values, int64 orders, extension string, get.
func TestUserGetFields(t *testing.T) {
	h := newSim(t, sim.Config{})
	tok := h.token()
	var multi, managed, unmanaged *dingbook.Person
	for i := range h.truth.Org.People {
		p := &h.truth.Org.People[i]
		if len(p.Depts) > 1 && len(p.Extension) > 0 && multi == nil {
			multi = p
		}
		if p.ManagerUserID != "" && managed == nil {
			managed = p
		}
		if p.ManagerUserID == "" && unmanaged == nil {
			unmanaged = p
		}
	}
	if multi == nil || managed == nil || unmanaged == nil {
		t.Fatal("test org lacks a multi-department person with extension fields or managers")
	}
	r := h.post("/topapi/v2/user/get", tok, map[string]any{"userid": multi.UserID})
	wantCode(t, r, "0")
	res := r.result()
	orders := asList(res["dept_order_list"])
	if len(orders) != len(multi.Depts) {
		t.Fatalf("dept_order_list %v", orders)
	}
	for i, o := range orders {
		if numStr(asMap(o)["order"]) != strconv.FormatInt(multi.Depts[i].Order, 10) {
			t.Errorf("order %v, want exactly %d", asMap(o)["order"], multi.Depts[i].Order)
		}
		// the raw JSON carries the exact digits (no float rounding)
		if !strings.Contains(string(r.raw), `"order":`+strconv.FormatInt(multi.Depts[i].Order, 10)) {
			t.Errorf("raw JSON lacks order %d", multi.Depts[i].Order)
		}
	}
	if len(asList(res["leader_in_dept"])) != len(multi.Depts) {
		t.Errorf("leader_in_dept %v", res["leader_in_dept"])
	}
	ext, ok := res["extension"].(string)
	if !ok {
		t.Fatalf("extension is not a JSON string: %T", res["extension"])
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(ext), &m); err != nil || !reflect.DeepEqual(m, multi.Extension) {
		t.Errorf("extension %q → %v, want %v", ext, m, multi.Extension)
	}
	if multi.HiredDate != 0 && numStr(res["hired_date"]) != strconv.FormatInt(multi.HiredDate, 10) {
		t.Errorf("hired_date %v, want %d ms", res["hired_date"], multi.HiredDate)
	}
	for _, k := range []string{"role_list", "real_authed", "senior", "active", "admin", "boss", "unionid", "dept_id_list"} {
		if _, has := res[k]; !has {
			t.Errorf("v2/user/get lacks %s", k)
		}
	}
	if _, has := res["dept_order"]; has {
		t.Error("v2/user/get has a list-only dept_order")
	}
	g := h.post("/topapi/v2/user/get", tok, map[string]any{"userid": managed.UserID}).result()
	if g["manager_userid"] != managed.ManagerUserID {
		t.Errorf("manager_userid %v, want %s", g["manager_userid"], managed.ManagerUserID)
	}
	g = h.post("/topapi/v2/user/get", tok, map[string]any{"userid": unmanaged.UserID}).result()
	if _, has := g["manager_userid"]; has {
		t.Error("manager_userid present although unset")
	}
	// list items never carry manager_userid
	l := h.post("/topapi/v2/user/list", tok, map[string]any{"dept_id": managed.Depts[0].DeptID, "cursor": 0, "size": 100})
	if strings.Contains(string(l.raw), "manager_userid") {
		t.Error("v2/user/list carries manager_userid")
	}
	nf := h.post("/topapi/v2/user/get", tok, map[string]any{"userid": "nobody-here"})
	if string(nf.raw) != `{"errcode":60121,"errmsg":"找不到该用户","request_id":"`+nf.str("request_id")+`"}` {
		t.Errorf("unknown user: %s", nf.raw)
	}
	wantCode(t, h.post("/topapi/v2/user/get", tok, `{}`), "400002")
}

// checklist 10, 17: validation codes and body encodings.
func TestValidation(t *testing.T) {
	h := newSim(t, sim.Config{})
	tok := h.token()
	for _, c := range []struct {
		path, body, code string
	}{
		{"/topapi/v2/user/list", `{"dept_id":1,"cursor":0,"size":0}`, "40035"},
		{"/topapi/v2/user/list", `{"dept_id":1,"cursor":0,"size":101}`, "40035"},
		{"/topapi/v2/user/list", `{"dept_id":1,"cursor":-1,"size":10}`, "40035"},
		{"/topapi/v2/user/list", `{"dept_id":1,"cursor":100001,"size":10}`, "40035"},
		{"/topapi/v2/user/list", `{"dept_id":0,"cursor":0,"size":10}`, "40035"},
		{"/topapi/v2/user/list", `{"cursor":0,"size":10}`, "40035"},
		{"/topapi/v2/user/list", `{"dept_id":1,"size":10}`, "40035"},
		{"/topapi/v2/user/list", `{"dept_id":1,"cursor":0,"size":10,"order_field":"name"}`, "40035"},
		{"/topapi/v2/user/list", `{"dept_id":1,"cursor":0,"size":10,"contain_access_limit":"yes"}`, "40035"},
		{"/topapi/v2/user/list", `{"dept_id":"1","cursor":"100000","size":"100","contain_access_limit":"true","order_field":"entry_desc"}`, "0"},
		{"/topapi/v2/user/list", `{"dept_id":999,"cursor":0,"size":10}`, "60003"},
		{"/topapi/user/listsimple", `{"dept_id":1,"cursor":0,"size":101}`, "40069"},
		{"/topapi/user/listsimple", `{"dept_id":1,"cursor":-5,"size":10}`, "40068"},
		{"/topapi/user/listsimple", `{"dept_id":1,"cursor":0,"size":10}`, "0"},
		{"/topapi/user/listsimple", `{"dept_id":999,"cursor":0,"size":10}`, "60003"},
		{"/topapi/user/count", `{}`, "400002"},
		{"/topapi/user/count", `{"only_active":"maybe"}`, "40035"},
		{"/topapi/user/count", `{"only_active":"true"}`, "0"},
		{"/topapi/v2/department/listsubid", `{}`, "400002"},
		{"/topapi/v2/department/listsubid", `{"dept_id":999}`, "60003"},
		{"/topapi/v2/department/get", `{"dept_id":"999"}`, "60003"},
		{"/topapi/v2/department/listsub", `{"dept_id":999}`, "60003"},
		{"/topapi/v2/department/listparentbydept", `{"dept_id":999}`, "60003"},
		{"/topapi/v2/department/listparentbyuser", `{"userid":"ghost"}`, "33012"},
		{"/topapi/user/listid", `{"dept_id":999}`, "60003"},
		{"/topapi/user/listid", `{}`, "400002"},
		{"/topapi/v2/user/list", `{not json`, "400002"},
	} {
		r := h.post(c.path, tok, c.body)
		if r.errcode() != c.code {
			t.Errorf("%s %s: errcode %s, want %s (%s)", c.path, c.body, r.errcode(), c.code, r.raw)
		}
	}
	// GET on a POST API
	if r := h.get("/topapi/user/count?access_token=" + tok); r.errcode() != "43002" {
		t.Errorf("GET on POST API: %s", r.raw)
	}
}

// checklist 10: form bodies work like JSON ones.
func TestFormBody(t *testing.T) {
	h := newSim(t, sim.Config{})
	tok := h.token()
	j := h.post("/topapi/v2/user/list", tok, map[string]any{"dept_id": 1, "cursor": 0, "size": 5, "contain_access_limit": true})
	f := h.postForm("/topapi/v2/user/list", map[string][]string{"access_token": {tok}, "dept_id": {"1"}, "cursor": {"0"}, "size": {"5"}, "contain_access_limit": {"true"}})
	wantCode(t, f, "0")
	if !reflect.DeepEqual(j.result(), f.result()) {
		t.Errorf("form and JSON differ:\n%s\n%s", j.raw, f.raw)
	}
}

// checklist 14, 16: department APIs.
func TestDepartments(t *testing.T) {
	h := newSim(t, sim.Config{Extras: true})
	tok := h.token()
	tree := dingbook.NewTree(h.truth.Org.Depts)
	var deep int64
	for _, d := range h.truth.Org.Depts {
		if len(tree.Path(d.ID)) >= 4 {
			deep = d.ID
		}
	}
	if deep == 0 {
		t.Fatal("no deep department")
	}
	// listsubid = children
	r := h.post("/topapi/v2/department/listsubid", tok, map[string]any{"dept_id": 1})
	var got []int64
	for _, x := range asList(r.result()["dept_id_list"]) {
		v, _ := strconv.ParseInt(numStr(x), 10, 64)
		got = append(got, v)
	}
	if !reflect.DeepEqual(got, tree.Children(1)) {
		t.Errorf("listsubid(1) %v, want %v", got, tree.Children(1))
	}
	// listsub without dept_id = root's children
	a := h.post("/topapi/v2/department/listsub", tok, `{}`)
	b := h.post("/topapi/v2/department/listsub", tok, `{"dept_id":1}`)
	if len(asList(a.body["result"])) == 0 || !reflect.DeepEqual(a.body["result"], b.body["result"]) {
		t.Errorf("listsub without dept_id: %s", a.raw)
	}
	if !strings.Contains(string(b.raw), `"ext":"{\"faceCount\":\"1\"}"`) {
		t.Errorf("Extras: no ext in %s", b.raw)
	}
	// parents
	p := h.post("/topapi/v2/department/listparentbydept", tok, map[string]any{"dept_id": deep})
	pl := asList(p.result()["parent_id_list"])
	if numStr(pl[0]) != strconv.FormatInt(deep, 10) || numStr(pl[len(pl)-1]) != "1" || len(pl) != len(tree.Path(deep))+1 {
		t.Errorf("listparentbydept(%d) = %v", deep, pl)
	}
	var multi *dingbook.Person
	for i := range h.truth.Org.People {
		if len(h.truth.Org.People[i].Depts) > 1 {
			multi = &h.truth.Org.People[i]
			break
		}
	}
	u := h.post("/topapi/v2/department/listparentbyuser", tok, map[string]any{"userid": multi.UserID})
	if n := len(asList(u.result()["parent_list"])); n != len(multi.Depts) {
		t.Errorf("listparentbyuser: %d entries for %d memberships", n, len(multi.Depts))
	}
	// get: detail with counts and managers; root has no parent_id
	g := h.post("/topapi/v2/department/get", tok, map[string]any{"dept_id": deep}).result()
	d := tree.Dept(deep)
	if g["name"] != d.Name || numStr(g["parent_id"]) != strconv.FormatInt(d.ParentID, 10) ||
		numStr(g["member_count"]) != strconv.Itoa(d.MemberCount) || numStr(g["owning_member_count"]) != strconv.Itoa(d.OwningMemberCount) {
		t.Errorf("get(%d) = %v, want %+v", deep, g, d)
	}
	if _, has := h.post("/topapi/v2/department/get", tok, `{"dept_id":1}`).result()["parent_id"]; has {
		t.Error("root has a parent_id")
	}
	// ListsubWithoutDept "error"
	h2 := newSim(t, sim.Config{ListsubWithoutDept: "error"})
	wantCode(t, h2.post("/topapi/v2/department/listsub", h2.token(), `{}`), "400002")
}

// checklist 13: empty fields sent as "" or omitted; extras.
func TestEmptyFieldsAndExtras(t *testing.T) {
	var blank *dingbook.Person
	for i := range smallTruth.Org.People {
		p := &smallTruth.Org.People[i]
		if p.Telephone == "" && p.Remark == "" {
			blank = p
			break
		}
	}
	for _, mode := range []string{"empty", "omit"} {
		h := newSim(t, sim.Config{EmptyFields: mode, Extras: mode == "omit"})
		res := h.post("/topapi/v2/user/get", h.token(), map[string]any{"userid": blank.UserID}).result()
		_, hasTel := res["telephone"]
		_, hasRemark := res["remark"]
		if mode == "empty" && (res["telephone"] != "" || res["remark"] != "") {
			t.Errorf("empty mode: telephone %v remark %v", res["telephone"], res["remark"])
		}
		if mode == "omit" && (hasTel || hasRemark) {
			t.Errorf("omit mode: telephone/remark present")
		}
		_, hasCT := res["create_time"]
		_, hasUE := res["union_emp_ext"]
		if (mode == "omit") != (hasCT && hasUE) {
			t.Errorf("extras=%v: create_time %v union_emp_ext %v", mode == "omit", hasCT, hasUE)
		}
	}
}

// checklist 19: field gating.
func TestFieldGating(t *testing.T) {
	app := sim.DefaultApp()
	app.NoMobileField, app.NoEmailField = true, true
	h := newSim(t, sim.Config{Apps: []sim.App{app}})
	tok := h.token()
	var p *dingbook.Person
	for i := range h.truth.Org.People {
		q := &h.truth.Org.People[i]
		if q.Mobile != "" && q.Email != "" && q.OrgEmail != "" && q.WorkPlace != "" && len(q.Extension) > 0 {
			p = q
			break
		}
	}
	gated := []string{"mobile", "state_code", "email", "org_email", "work_place", "remark", "extension", "org_email_type"}
	g := h.post("/topapi/v2/user/get", tok, map[string]any{"userid": p.UserID})
	l := h.post("/topapi/v2/user/list", tok, map[string]any{"dept_id": p.Depts[0].DeptID, "cursor": 0, "size": 100, "contain_access_limit": true})
	for _, k := range gated {
		if strings.Contains(string(g.raw), `"`+k+`"`) || strings.Contains(string(l.raw), `"`+k+`"`) {
			t.Errorf("gated field %s present", k)
		}
	}
	if g.result()["name"] != p.Name || g.result()["title"] != p.Title {
		t.Errorf("ungated fields missing: %s", g.raw)
	}
	// and with the permissions, present
	h2 := newSim(t, sim.Config{})
	g2 := h2.post("/topapi/v2/user/get", h2.token(), map[string]any{"userid": p.UserID}).result()
	if g2["mobile"] != p.Mobile || g2["state_code"] != p.StateCode || g2["email"] != p.Email || g2["org_email"] != p.OrgEmail {
		t.Errorf("full app: %v", g2)
	}
}

// checklist 21: listid, listadmin, getbymobile, getbyunionid, auth/scopes.
func TestOtherUserAPIs(t *testing.T) {
	h := newSim(t, sim.Config{})
	tok := h.token()
	d := h.truth.Org.Depts[3].ID
	r := h.post("/topapi/user/listid", tok, map[string]any{"dept_id": d})
	var got []string
	for _, x := range asList(r.result()["userid_list"]) {
		got = append(got, x.(string))
	}
	var want []string
	for _, p := range h.truth.Org.People {
		if _, ok := p.Membership(d); ok {
			want = append(want, p.UserID)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("listid(%d) %v, want %v", d, got, want)
	}
	a := h.post("/topapi/user/listadmin", tok, `{}`)
	admins := asList(a.body["result"])
	if len(admins) == 0 || numStr(asMap(admins[0])["sys_level"]) != "1" {
		t.Errorf("listadmin %s", a.raw)
	}
	var p *dingbook.Person
	for i := range h.truth.Org.People {
		q := &h.truth.Org.People[i]
		if q.Active && q.Mobile != "" && len(q.Mobile) == 11 {
			p = q
			break
		}
	}
	m := h.post("/topapi/v2/user/getbymobile", tok, map[string]any{"mobile": p.Mobile})
	if m.result()["userid"] != p.UserID {
		t.Errorf("getbymobile %s", m.raw)
	}
	wantCode(t, h.post("/topapi/v2/user/getbymobile", tok, map[string]any{"mobile": "13000000000"}), "60121")
	u := h.post("/topapi/user/getbyunionid", tok, map[string]any{"unionid": p.UnionID})
	if u.result()["userid"] != p.UserID || numStr(u.result()["contact_type"]) != "0" {
		t.Errorf("getbyunionid %s", u.raw)
	}
	s := h.get("/auth/scopes?access_token=" + tok)
	if s.errcode() != "0" || s.body["result"] != nil || !strings.Contains(string(s.raw), `"auth_org_scopes":{"authed_dept":[1],"authed_user":[]}`) {
		t.Errorf("auth/scopes %s", s.raw)
	}
}

// checklist 12 with StringNumbers: quoted numbers keep their digits.
func TestStringNumbers(t *testing.T) {
	h := newSim(t, sim.Config{StringNumbers: true})
	tok := h.token()
	r := h.post("/topapi/v2/user/list", tok, map[string]any{"dept_id": 1, "cursor": 0, "size": 2, "contain_access_limit": true})
	if _, ok := r.body["errcode"].(string); !ok || r.errcode() != "0" {
		t.Fatalf("errcode not quoted: %s", r.raw)
	}
	res := r.result()
	if res["has_more"] != "true" && res["has_more"] != "false" {
		t.Errorf("has_more not quoted: %v", res["has_more"])
	}
	it := asMap(asList(res["list"])[0])
	uid := it["userid"].(string)
	p := findPerson(h.truth, uid)
	m, _ := p.Membership(1)
	if it["dept_order"] != strconv.FormatInt(m.Order, 10) {
		t.Errorf("dept_order %v, want %q", it["dept_order"], strconv.FormatInt(m.Order, 10))
	}
	if it["active"] != strconv.FormatBool(p.Active) {
		t.Errorf("active %v", it["active"])
	}
}

// checklist 28: external contacts.
func TestExternalContacts(t *testing.T) {
	h := newSim(t, sim.Config{})
	tok := h.token()
	n := len(h.truth.Org.External)
	if n < 10 {
		t.Fatalf("only %d external contacts", n)
	}
	var all []any
	for off := 0; ; off += 7 {
		r := h.post("/topapi/extcontact/list", tok, map[string]any{"offset": off, "size": 7})
		wantCode(t, r, "0")
		if _, has := r.body["result"]; has {
			t.Fatal("extcontact/list uses results, not result")
		}
		page := asList(r.body["results"])
		all = append(all, page...)
		if len(page) < 7 {
			break
		}
	}
	if len(all) != n {
		t.Errorf("paged %d of %d", len(all), n)
	}
	wantCode(t, h.post("/topapi/extcontact/list", tok, `{"offset":0,"size":101}`), "40069")
	wantCode(t, h.post("/topapi/extcontact/list", tok, `{"offset":-1,"size":10}`), "40068")
	e := h.truth.Org.External[3]
	g := h.post("/topapi/extcontact/get", tok, map[string]any{"user_id": e.UserID})
	if g.result()["name"] != e.Name || g.result()["mobile"] != e.Mobile {
		t.Errorf("extcontact/get %s", g.raw)
	}
	wantCode(t, h.post("/topapi/extcontact/get", tok, `{"user_id":"nobody"}`), "33012")
	lg := h.post("/topapi/extcontact/listlabelgroups", tok, `{"offset":0,"size":10}`)
	if len(asList(lg.body["results"])) == 0 {
		t.Errorf("listlabelgroups %s", lg.raw)
	}
}
