package sim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
)

// wsClient is a raw Stream client: it speaks the wire protocol by hand so
// that the tests see the frames exactly as the simulator sends them.
type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
}

type wireFrame struct {
	SpecVersion string            `json:"specVersion"`
	Type        string            `json:"type"`
	Time        int64             `json:"time"`
	Headers     map[string]string `json:"headers"`
	Data        string            `json:"data"`
}

func (h *harness) openStream(subs ...map[string]string) *wsClient {
	h.t.Helper()
	app := sim.DefaultApp()
	if subs == nil {
		subs = []map[string]string{{"type": "EVENT", "topic": "*"}, {"type": "SYSTEM", "topic": "ping"}}
	}
	r := h.v1("/v1.0/gateway/connections/open", "", map[string]any{"clientId": app.Key, "clientSecret": app.Secret, "subscriptions": subs, "ua": "test"})
	if r.status != 200 || r.str("ticket") == "" || !strings.HasPrefix(r.str("endpoint"), "ws://") {
		h.t.Fatalf("connections/open: %d %s", r.status, r.raw)
	}
	ws, _, err := websocket.Dial(context.Background(), r.str("endpoint")+"?ticket="+r.str("ticket"), nil)
	if err != nil {
		h.t.Fatalf("dial: %v", err)
	}
	h.t.Cleanup(func() { ws.CloseNow() })
	// the ticket is single-use
	if _, resp, err := websocket.Dial(context.Background(), r.str("endpoint")+"?ticket="+r.str("ticket"), nil); err == nil || resp == nil || resp.StatusCode != 401 {
		h.t.Fatalf("a used ticket was accepted again (err %v)", err)
	}
	c := &wsClient{t: h.t, ws: ws}
	waitUntil(h.t, func() bool { return h.srv.StreamConnections() > 0 }, "the connection to register")
	return c
}

// next reads the next frame of type typ (others are skipped).
func (c *wsClient) next(typ string) wireFrame {
	c.t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, b, err := c.ws.Read(ctx)
		cancel()
		if err != nil {
			c.t.Fatalf("reading a %s frame: %v", typ, err)
		}
		var f wireFrame
		if err := json.Unmarshal(b, &f); err != nil {
			c.t.Fatalf("frame %s: %v", b, err)
		}
		if f.Type == typ {
			return f
		}
	}
}

func (c *wsClient) answer(f wireFrame, status string) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]any{"code": 200, "message": "OK",
		"headers": map[string]string{"messageId": f.Headers["messageId"], "contentType": "application/json"},
		"data":    fmt.Sprintf(`{"status":%q,"message":"x"}`, status)})
	if err := c.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatal(err)
	}
}

func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func eventData(t *testing.T, f wireFrame) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(f.Data), &m); err != nil {
		t.Fatalf("EVENT data %q is not a JSON object: %v", f.Data, err)
	}
	return m
}

func TestStreamFramesAckAndLater(t *testing.T) {
	h := newSim(t, sim.Config{Stream: sim.StreamConfig{LaterDelay: time.Minute, AckTimeout: time.Hour}})
	c := h.openStream()
	newcomer := dingbook.Person{UserID: "newcomer01", Name: "新同事", Active: true, Depts: []dingbook.Membership{{DeptID: 1}}}
	if err := h.srv.AddUser(newcomer); err != nil {
		t.Fatal(err)
	}
	f := c.next("EVENT")
	hd := f.Headers
	for _, k := range []string{"messageId", "eventId", "eventBornTime", "eventCorpId", "eventUnifiedAppId", "time"} {
		if hd[k] == "" {
			t.Errorf("EVENT header %s missing: %v", k, hd)
		}
	}
	if hd["eventType"] != "user_add_org" || hd["topic"] != "*" || hd["contentType"] != "application/json" || f.SpecVersion != "1.0" {
		t.Fatalf("EVENT frame headers %v", hd)
	}
	d := eventData(t, f)
	if ids, _ := d["userId"].([]any); len(ids) != 1 || ids[0] != "newcomer01" {
		t.Fatalf("user_add_org data %s", f.Data)
	}
	if ts, ok := d["timeStamp"].(string); !ok || ts != hd["eventBornTime"] {
		t.Fatalf("timeStamp %v is not the born time as a string", d["timeStamp"])
	}
	// LATER: redelivered after LaterDelay, same eventId, new messageId
	c.answer(f, "LATER")
	waitUntil(t, func() bool { return h.srv.StreamStats().Laters == 1 }, "the LATER answer")
	h.clock.Add(time.Minute + time.Second)
	g := c.next("EVENT")
	if g.Headers["eventId"] != hd["eventId"] || g.Headers["messageId"] == hd["messageId"] {
		t.Fatalf("redelivery headers %v after %v", g.Headers, hd)
	}
	if q, _ := h.srv.Pending(""); q != 1 {
		t.Fatalf("queued %d before the ack, want 1", q)
	}
	c.answer(g, "SUCCESS")
	waitUntil(t, func() bool { q, _ := h.srv.Pending(""); return q == 0 }, "the ack to empty the queue")
	// no answer: redelivered after AckTimeout
	if err := h.srv.SetAdmin("newcomer01", true); err != nil {
		t.Fatal(err)
	}
	f = c.next("EVENT")
	if f.Headers["eventType"] != "org_admin_add" {
		t.Fatalf("SetAdmin fired %s", f.Headers["eventType"])
	}
	h.clock.Add(time.Hour + time.Second)
	g = c.next("EVENT")
	if g.Headers["eventId"] != f.Headers["eventId"] {
		t.Fatalf("after the ack timeout, got %v, want %s again", g.Headers, f.Headers["eventId"])
	}
	st := h.srv.StreamStats()
	if st.Timeouts != 1 || st.Acks != 1 || st.Frames != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStreamPingAndDisconnect(t *testing.T) {
	h := newSim(t, sim.Config{Now: time.Now, Stream: sim.StreamConfig{PingEvery: 10 * time.Millisecond}})
	c := h.openStream()
	p := c.next("SYSTEM")
	if p.Headers["topic"] != "ping" || p.Headers["messageId"] == "" || p.Data == "" {
		t.Fatalf("ping frame %+v", p)
	}
	b, _ := json.Marshal(map[string]any{"code": 200, "message": "OK", "data": p.Data,
		"headers": map[string]string{"messageId": p.Headers["messageId"], "contentType": "application/json"}})
	c.ws.Write(context.Background(), websocket.MessageText, b)
	waitUntil(t, func() bool { return h.srv.StreamStats().Pongs == 1 }, "the pong to count")
	h.srv.Disconnect()
	for {
		f := c.next("SYSTEM")
		if f.Headers["topic"] == "disconnect" {
			break
		}
	}
}

func TestStreamOpenRejectsBadSecret(t *testing.T) {
	h := newSim(t, sim.Config{})
	r := h.v1("/v1.0/gateway/connections/open", "", map[string]any{"clientId": sim.DefaultAppKey, "clientSecret": "wrong"})
	if r.status != 400 || r.str("code") != "invalidClientIdOrSecret" {
		t.Fatalf("bad secret: %d %s", r.status, r.raw)
	}
	r = h.get("/gateway/connect?ticket=nonsense")
	if r.status != 401 {
		t.Fatalf("unknown ticket: %d %s", r.status, r.raw)
	}
}

func TestStreamDuplicateAndSubscriptions(t *testing.T) {
	h := newSim(t, sim.Config{Faults: sim.Faults{DuplicateEvents: true}})
	// subscribed to department events only
	c := h.openStream(map[string]string{"type": "EVENT", "topic": "org_dept_create"})
	if err := h.srv.AddUser(dingbook.Person{UserID: "u-ignored", Name: "x", Depts: []dingbook.Membership{{DeptID: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.AddDept(dingbook.Department{ID: 990001, Name: "新部门", ParentID: 1}); err != nil {
		t.Fatal(err)
	}
	a, b := c.next("EVENT"), c.next("EVENT")
	if a.Headers["eventType"] != "org_dept_create" || a.Headers["eventId"] != b.Headers["eventId"] || a.Headers["messageId"] == b.Headers["messageId"] {
		t.Fatalf("duplicate frames %v / %v", a.Headers, b.Headers)
	}
	if d := eventData(t, a); fmt.Sprint(d["deptId"]) != "[990001]" {
		t.Fatalf("org_dept_create data %s", a.Data)
	}
	c.answer(a, "SUCCESS")
	c.answer(b, "SUCCESS")
	waitUntil(t, func() bool { return h.srv.StreamStats().Acks == 1 }, "one ack")
	if q, _ := h.srv.Pending(""); q != 1 { // the user event waits for a subscriber
		t.Fatalf("queued %d, want the unsubscribed user_add_org only", q)
	}
}

// TestChangesReachREST checks that every change is visible to the next
// API call and fires the documented event with the documented data.
func TestChangesReachREST(t *testing.T) {
	h := newSim(t, sim.Config{Faults: sim.Faults{BacklogWhileDisconnected: true}})
	tok := h.token()
	var victim, mover dingbook.Person
	for _, p := range h.srv.Org().People {
		if len(p.Depts) == 1 && p.Depts[0].DeptID != 1 && !p.Admin && p.Active {
			if victim.UserID == "" {
				victim = p
			} else if mover.UserID == "" && p.Depts[0].DeptID != victim.Depts[0].DeptID {
				mover = p
			}
		}
	}
	truthName := mover.Name
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.srv.AddDept(dingbook.Department{ID: 880001, Name: "增长组", ParentID: 1, Order: 5}))
	must(h.srv.AddUser(dingbook.Person{UserID: "joiner01", Name: "王新", Mobile: "13800000001", StateCode: "86", Active: true,
		Depts: []dingbook.Membership{{DeptID: 880001, Order: 1}}}))
	must(h.srv.UpdateUser(mover.UserID, func(p *dingbook.Person) { p.Title = "总监"; p.Name = "改名" }))
	must(h.srv.MoveUser(mover.UserID, 880001))
	must(h.srv.RemoveUser(victim.UserID))
	must(h.srv.SetAdmin("joiner01", true))
	must(h.srv.UpdateDept(880001, func(d *dingbook.Department) { d.Name = "增长部" }))
	if err := h.srv.RemoveDept(880001); err == nil {
		t.Fatal("RemoveDept of a department with members succeeded")
	}
	must(h.srv.AddDept(dingbook.Department{ID: 880002, Name: "临时", ParentID: 880001}))
	must(h.srv.RemoveDept(880002))
	// a refused change changes nothing, not even what fn changed first
	if err := h.srv.UpdateUser("joiner01", func(p *dingbook.Person) {
		p.Title = "不该出现"
		p.Depts = []dingbook.Membership{{DeptID: 123456789}}
	}); err == nil {
		t.Fatal("UpdateUser into a missing department succeeded")
	}
	if err := h.srv.UpdateUser(mover.UserID, func(p *dingbook.Person) { p.Depts[0].Order = 42 }); err != nil {
		t.Fatal(err)
	}
	if h.truth.Org.People[slices.IndexFunc(h.truth.Org.People, func(p dingbook.Person) bool { return p.UserID == mover.UserID })].Name != truthName {
		t.Fatal("a change reached the caller's Truth")
	}
	if m := h.truth.Org.People[slices.IndexFunc(h.truth.Org.People, func(p dingbook.Person) bool { return p.UserID == mover.UserID })].Depts[0]; m.Order == 42 || m.DeptID == 880001 {
		t.Fatal("a membership change reached the caller's Truth")
	}

	r := h.post("/topapi/v2/user/get", tok, map[string]any{"userid": "joiner01"})
	wantCode(t, r, "0")
	if r.result()["name"] != "王新" || r.result()["admin"] != true || strings.Contains(string(r.raw), "不该出现") {
		t.Fatalf("joiner: %s", r.raw)
	}
	r = h.post("/topapi/v2/user/get", tok, map[string]any{"userid": victim.UserID})
	wantCode(t, r, "60121")
	r = h.post("/topapi/v2/user/list", tok, map[string]any{"dept_id": 880001, "cursor": 0, "size": 100})
	wantCode(t, r, "0")
	if got := string(r.raw); !strings.Contains(got, `"joiner01"`) || !strings.Contains(got, `"`+mover.UserID+`"`) || !strings.Contains(got, "总监") {
		t.Fatalf("v2/user/list of the new department: %s", r.raw)
	}
	r = h.post("/topapi/v2/department/get", tok, map[string]any{"dept_id": 880001})
	if r.result()["name"] != "增长部" || r.num("errcode") != "0" || fmt.Sprint(r.result()["member_count"]) != "2" {
		t.Fatalf("department/get: %s", r.raw)
	}
	wantCode(t, h.post("/topapi/v2/department/get", tok, map[string]any{"dept_id": 880002}), "60003")
	if !strings.Contains(string(h.post("/topapi/user/listadmin", tok, map[string]any{}).raw), `"joiner01"`) {
		t.Fatal("user/listadmin misses the new admin")
	}

	// the events, from the backlog (no client was connected)
	r = h.get("/call_back/get_call_back_failed_result?access_token=" + tok)
	wantCode(t, r, "0")
	var got []string
	list, _ := r.body["failed_list"].([]any)
	for _, x := range list {
		e := x.(map[string]any)
		tag := e["call_back_tag"].(string)
		data, _ := json.Marshal(e[tag])
		got = append(got, tag+" "+string(data))
		if e["event_time"] == nil {
			t.Fatalf("entry without event_time: %v", e)
		}
	}
	corp := `"corpid":"` + h.srv.Org().CorpID + `"`
	if h.srv.Org().CorpID == "" {
		corp = `"corpid":"dingsimcorp0000000000000000000001"`
	}
	want := []string{
		`org_dept_create {` + corp + `,"deptid":[880001]}`,
		`user_add_org {` + corp + `,"userid":["joiner01"]}`,
		`user_modify_org {` + corp + `,"userid":["` + mover.UserID + `"]}`,
		`user_modify_org {` + corp + `,"userid":["` + mover.UserID + `"]}`,
		`user_leave_org {` + corp + `,"userid":["` + victim.UserID + `"]}`,
		`org_admin_add {` + corp + `,"userid":["joiner01"]}`,
		`org_dept_modify {` + corp + `,"deptid":[880001]}`,
		`org_dept_create {` + corp + `,"deptid":[880002]}`,
		`org_dept_remove {` + corp + `,"deptid":[880002]}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("backlog:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.body["has_more"] != false {
		t.Fatalf("has_more %v", r.body["has_more"])
	}
	// handed out once
	r = h.get("/call_back/get_call_back_failed_result?access_token=" + tok)
	if l, _ := r.body["failed_list"].([]any); len(l) != 0 {
		t.Fatalf("the backlog was handed out twice: %s", r.raw)
	}
}

func TestModifyDiffInfoOnTheWire(t *testing.T) {
	h := newSim(t, sim.Config{})
	c := h.openStream()
	var p dingbook.Person
	for _, x := range h.srv.Org().People {
		if len(x.Depts) == 1 && !x.Active {
			p = x
			break
		}
	}
	if p.UserID == "" {
		p = h.srv.Org().People[0]
		// deactivating fires nothing (active is not a diffInfo key)
		if err := h.srv.UpdateUser(p.UserID, func(q *dingbook.Person) { q.Active = false }); err != nil {
			t.Fatal(err)
		}
		p.Active = false
	}
	other := h.srv.Org().Depts[len(h.srv.Org().Depts)-1].ID
	if err := h.srv.UpdateUser(p.UserID, func(q *dingbook.Person) {
		q.Active = true
		q.JobNumber = "J-77"
		q.Depts = append(q.Depts, dingbook.Membership{DeptID: other})
	}); err != nil {
		t.Fatal(err)
	}
	a := c.next("EVENT")
	if a.Headers["eventType"] != "user_active_org" {
		t.Fatalf("first event %s, want user_active_org", a.Headers["eventType"])
	}
	m := c.next("EVENT")
	if m.Headers["eventType"] != "user_modify_org" {
		t.Fatalf("second event %s", m.Headers["eventType"])
	}
	var d struct {
		TimeStamp string   `json:"timeStamp"`
		UserID    []string `json:"userId"`
		DiffInfo  struct {
			Prev   map[string]any `json:"prev"`
			Curr   map[string]any `json:"curr"`
			UserID string         `json:"userid"`
		} `json:"diffInfo"`
	}
	if err := json.Unmarshal([]byte(m.Data), &d); err != nil {
		t.Fatal(err)
	}
	if d.DiffInfo.UserID != p.UserID || len(d.UserID) != 1 || d.UserID[0] != p.UserID || d.TimeStamp == "" {
		t.Fatalf("user_modify_org data %s", m.Data)
	}
	if len(d.DiffInfo.Curr) != 2 || d.DiffInfo.Curr["jobNumber"] != "J-77" || d.DiffInfo.Prev["jobNumber"] != p.JobNumber ||
		jsonOf(d.DiffInfo.Curr["deptIdList"]) != jsonOf(append(p.DeptIDs(), other)) {
		t.Fatalf("diffInfo holds more or less than the changed keys: %s", m.Data)
	}
}

// TestModifyDiffInfoNamesEveryField: a change of every text field, the
// hidden flag, the hire date and the custom fields shows in diffInfo
// under DingTalk's camelCase names (the field keys through the domain's
// accessor table, state_code as stateCode).
func TestModifyDiffInfoNamesEveryField(t *testing.T) {
	h := newSim(t, sim.Config{})
	c := h.openStream()
	p := h.srv.Org().People[0]
	if err := h.srv.UpdateUser(p.UserID, func(q *dingbook.Person) {
		q.Name, q.Mobile, q.StateCode, q.HideMobile = q.Name+"改", "13900000001", "852", !q.HideMobile
		q.Telephone, q.Email, q.OrgEmail, q.JobNumber = "8001", "x@example.com", "x@corp.example", "J-1"
		q.Title, q.WorkPlace, q.Remark, q.ManagerUserID = "新职位", "新地点", "新备注", "someone-else"
		q.HiredDate, q.Extension = q.HiredDate+86400000, map[string]string{"爱好": "新"}
	}); err != nil {
		t.Fatal(err)
	}
	m := c.next("EVENT")
	if m.Headers["eventType"] != "user_modify_org" {
		t.Fatalf("event %s", m.Headers["eventType"])
	}
	var d struct {
		DiffInfo struct {
			Curr map[string]any `json:"curr"`
		} `json:"diffInfo"`
	}
	if err := json.Unmarshal([]byte(m.Data), &d); err != nil {
		t.Fatal(err)
	}
	want := []string{"email", "extension", "hideMobile", "hiredDate", "jobNumber", "managerUserid", "mobile", "name", "orgEmail", "remark", "stateCode", "telephone", "title", "workPlace"}
	got := slices.Sorted(maps.Keys(d.DiffInfo.Curr))
	if !slices.Equal(got, want) || d.DiffInfo.Curr["stateCode"] != "852" || d.DiffInfo.Curr["hideMobile"] != !p.HideMobile {
		t.Fatalf("diffInfo keys %v, want %v: %s", got, want, m.Data)
	}
}

func TestBacklogPagesAndExhaustedDeliveries(t *testing.T) {
	h := newSim(t, sim.Config{Faults: sim.Faults{BacklogWhileDisconnected: true}, Stream: sim.StreamConfig{MaxDeliveries: 2, LaterDelay: time.Second}})
	for i := range 250 {
		if err := h.srv.AddDept(dingbook.Department{ID: int64(700000 + i), Name: fmt.Sprint("d", i), ParentID: 1}); err != nil {
			t.Fatal(err)
		}
	}
	tok := h.token()
	r := h.get("/call_back/get_call_back_failed_result?access_token=" + tok)
	if l, _ := r.body["failed_list"].([]any); len(l) != 200 || r.body["has_more"] != true {
		t.Fatalf("first page: %d entries, has_more %v", len(l), r.body["has_more"])
	}
	r = h.get("/call_back/get_call_back_failed_result?access_token=" + tok)
	if l, _ := r.body["failed_list"].([]any); len(l) != 50 || r.body["has_more"] != false {
		t.Fatalf("second page: %d entries, has_more %v", len(l), r.body["has_more"])
	}
	wantSub(t, h.get("/call_back/get_call_back_failed_result"), "40000")

	// delivered MaxDeliveries times without SUCCESS: to the backlog
	c := h.openStream()
	if err := h.srv.AddDept(dingbook.Department{ID: 799999, Name: "x", ParentID: 1}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		before := h.srv.StreamStats().Laters
		c.answer(c.next("EVENT"), "LATER")
		waitUntil(t, func() bool { return h.srv.StreamStats().Laters > before }, "LATER")
		h.clock.Add(2 * time.Second)
	}
	waitUntil(t, func() bool { _, b := h.srv.Pending(""); return b == 1 }, "the event to move to the backlog")
}

// Changes and API reads may run at the same time (run with -race).
func TestChangesWhileReading(t *testing.T) {
	h := newSim(t, sim.Config{})
	tok := h.token()
	dept := h.srv.Org().Depts[1].ID
	alongside(func() bool {
		for _, r := range []resp{
			h.post("/topapi/v2/user/list", tok, map[string]any{"dept_id": dept, "cursor": 0, "size": 100}),
			h.post("/topapi/v2/user/get", tok, map[string]any{"userid": "churn-0"}),
			h.post("/topapi/v2/department/get", tok, map[string]any{"dept_id": dept}),
			h.post("/topapi/user/count", tok, map[string]any{"only_active": false}),
		} {
			if c := r.errcode(); c != "0" && c != "60121" {
				t.Errorf("a read during changes: %s", r.raw)
				return false
			}
		}
		return true
	}, func() {
		for i := range 30 {
			id := fmt.Sprint("churn-", i%3)
			if i%2 == 0 {
				h.srv.AddUser(dingbook.Person{UserID: id, Name: id, Depts: []dingbook.Membership{{DeptID: dept}}})
			} else {
				h.srv.UpdateUser(id, func(p *dingbook.Person) { p.Title = fmt.Sprint(i) })
				h.srv.RemoveUser(id)
			}
		}
	})
}
