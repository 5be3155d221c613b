package sim_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

// The wire shapes of serve.md §A and checklist items 33–39, checked raw
// (the client is tolerant, so its tests alone would not notice a wrong
// envelope).

func (h *harness) userToken(code string) resp {
	h.t.Helper()
	app := sim.DefaultApp()
	return h.v1("/v1.0/oauth2/userAccessToken", "", map[string]any{"clientId": app.Key, "clientSecret": app.Secret, "code": code, "grantType": "authorization_code"})
}

func (h *harness) getV1(path, tok string) resp {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.ts.URL+path, nil)
	if tok != "" {
		req.Header.Set("x-acs-dingtalk-access-token", tok)
	}
	return h.do(req)
}

func firstAdmin(tr *gen.Truth, level int) gen.Admin {
	for _, a := range tr.Admins {
		if a.SysLevel == level {
			return a
		}
	}
	return gen.Admin{}
}

func TestLoginWire(t *testing.T) {
	h := newSim(t, sim.Config{})
	primary := firstAdmin(h.truth, 1)
	p := h.truth.Org.People[3]

	// the callback: 302 with code and authCode equal, state echoed, the
	// redirect_uri's own query kept
	q := url.Values{"redirect_uri": {"https://x.example/cb?keep=1"}, "response_type": {"code"}, "client_id": {sim.DefaultAppKey},
		"scope": {"openid"}, "prompt": {"consent"}, "state": {"abc"}, "sim_user": {p.UserID}}
	req, _ := http.NewRequest("GET", h.ts.URL+"/oauth2/auth?"+q.Encode(), nil)
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	cb := loc.Query()
	if res.StatusCode != 302 || cb.Get("code") == "" || cb.Get("code") != cb.Get("authCode") || cb.Get("state") != "abc" || cb.Get("keep") != "1" {
		t.Fatalf("callback %d %s", res.StatusCode, loc)
	}

	// userAccessToken: {accessToken, refreshToken, expireIn, corpId}
	r := h.userToken(cb.Get("code"))
	if r.status != 200 || r.str("accessToken") == "" || r.str("refreshToken") == "" || r.num("expireIn") != "7200" || r.str("corpId") != h.srv.CorpID() {
		t.Fatalf("userAccessToken: %d %s", r.status, r.raw)
	}
	userTok := r.str("accessToken")
	// the same code again: 400 {code:invalidCode, message, requestid}
	r = h.userToken(cb.Get("code"))
	if r.status != 400 || r.str("code") != "invalidCode" || r.str("requestid") == "" || r.str("message") == "" {
		t.Fatalf("reused code: %d %s", r.status, r.raw)
	}
	r = h.v1("/v1.0/oauth2/userAccessToken", "", map[string]any{"clientId": sim.DefaultAppKey, "clientSecret": "x", "code": "y", "grantType": "authorization_code"})
	if r.status != 400 || r.str("code") != "invalidClientIdOrSecret" {
		t.Fatalf("bad secret: %d %s", r.status, r.raw)
	}
	r = h.v1("/v1.0/oauth2/userAccessToken", "", map[string]any{"clientId": sim.DefaultAppKey, "clientSecret": sim.DefaultApp().Secret, "grantType": "password"})
	if r.status != 400 || r.str("code") != "unsupported.grant.type" {
		t.Fatalf("bad grant: %d %s", r.status, r.raw)
	}

	// users/me with the user token; an app token is refused
	r = h.getV1("/v1.0/contact/users/me", userTok)
	if r.status != 200 || r.str("unionId") != p.UnionID || r.str("nick") != p.Name || r.str("openId") == "" || r.body["errcode"] != nil {
		t.Fatalf("users/me: %d %s", r.status, r.raw)
	}
	if r = h.getV1("/v1.0/contact/users/"+p.UnionID, userTok); r.status != 200 {
		t.Fatalf("users/{unionId}: %d %s", r.status, r.raw)
	}
	if r = h.getV1("/v1.0/contact/users/me", h.token()); r.status != 400 || r.str("code") != "InvalidAuthentication" {
		t.Fatalf("users/me with an app token: %d %s", r.status, r.raw)
	}
	if r = h.getV1("/v1.0/contact/users/me", ""); r.status != 400 || r.str("code") != "AuthenticationFailed.MissingParameter" {
		t.Fatalf("users/me without a token: %d %s", r.status, r.raw)
	}

	tok := h.token()
	// getbyunionid: 0 for members, 1 for external contacts' accounts,
	// 60121 otherwise
	r = h.post("/topapi/user/getbyunionid", tok, map[string]any{"unionid": p.UnionID})
	if r.result()["contact_type"] == nil || r.num("errcode") != "0" || r.result()["userid"] != p.UserID {
		t.Fatalf("getbyunionid member: %s", r.raw)
	}
	for _, a := range h.truth.Accounts {
		r = h.post("/topapi/user/getbyunionid", tok, map[string]any{"unionid": a.UnionID})
		if a.Kind == gen.AccountExternal {
			if string(r.raw) == "" || !strings.Contains(string(r.raw), `"contact_type":1`) || r.result()["userid"] != a.UserID {
				t.Errorf("external account: %s", r.raw)
			}
		} else {
			wantCode(t, r, "60121")
		}
	}

	// get_admin_scope: no result wrapper
	r = h.post("/topapi/user/get_admin_scope", tok, map[string]any{"userid": primary.UserID})
	if r.body["result"] != nil || !strings.Contains(string(r.raw), `"dept_ids":[1]`) || r.errcode() != "0" {
		t.Fatalf("get_admin_scope: %s", r.raw)
	}
	wantCode(t, h.post("/topapi/user/get_admin_scope", tok, map[string]any{"userid": "nobody"}), "60121")
	wantCode(t, h.post("/topapi/user/get_admin_scope", tok, map[string]any{}), "40036")

	// getuserinfo: in-app codes only, single use
	code, err := h.srv.InAppCode(primary.UserID)
	if err != nil {
		t.Fatal(err)
	}
	r = h.postForm("/topapi/v2/user/getuserinfo", url.Values{"access_token": {tok}, "code": {code}})
	res2 := r.result()
	if r.errcode() != "0" || res2["userid"] != primary.UserID || res2["sys"] != true || fmt.Sprint(res2["sys_level"]) != "1" ||
		res2["associated_unionid"] != "" || res2["unionid"] == "" {
		t.Fatalf("getuserinfo: %s", r.raw)
	}
	wantCode(t, h.post("/topapi/v2/user/getuserinfo", tok, map[string]any{"code": code}), "40078")
	oauth, _ := h.srv.LoginCode(p.UserID, false)
	wantCode(t, h.post("/topapi/v2/user/getuserinfo", tok, map[string]any{"code": oauth}), "40078")
	wantCode(t, h.post("/topapi/v2/user/getuserinfo", tok, map[string]any{}), "41026")
	code, _ = h.srv.InAppCode(p.UserID)
	h.clock.Add(5 * time.Minute)
	wantCode(t, h.post("/topapi/v2/user/getuserinfo", tok, map[string]any{"code": code}), "40078")

	// roles: the default group with its four roles
	r = h.post("/topapi/role/list", tok, map[string]any{})
	if !strings.Contains(string(r.raw), `"groupId":1507113577`) || !strings.Contains(string(r.raw), "子管理员") || !strings.Contains(string(r.raw), `"hasMore":false`) {
		t.Errorf("role/list: %s", r.raw)
	}
	r = h.post("/topapi/role/getrolegroup", tok, map[string]any{"group_id": 1507113577})
	if !strings.Contains(string(r.raw), `"role_group":{"group_name":"默认"`) {
		t.Errorf("role/getrolegroup: %s", r.raw)
	}
	r = h.post("/topapi/role/getrole", tok, map[string]any{"roleId": 1507113578})
	if !strings.Contains(string(r.raw), `"role":{"groupId":1507113577,"name":"主管理员"}`) {
		t.Errorf("role/getrole: %s", r.raw)
	}
}

func TestWorkNoticeWire(t *testing.T) {
	h := newSim(t, sim.Config{})
	tok := h.token()
	p := h.truth.Org.People[5]
	// a form body as the doc's curl sends it, with a comma-separated list
	r := h.postForm("/topapi/message/corpconversation/asyncsend_v2", url.Values{"access_token": {tok},
		"agent_id": {"3000000001"}, "userid_list": {p.UserID + ",nobody"}, "msg": {`{"msgtype":"text","text":{"content":"hi"}}`}})
	if r.errcode() != "0" || r.num("task_id") == "" || r.body["result"] != nil {
		t.Fatalf("asyncsend_v2: %s", r.raw)
	}
	n := h.srv.Notices()
	if len(n) != 1 || len(n[0].Delivered) != 1 || n[0].Delivered[0] != p.UserID || len(n[0].Dropped) != 1 || n[0].Dropped[0] != "nobody" {
		t.Fatalf("recorded %+v", n)
	}
	// JSON with an array, everyone
	r = h.post("/topapi/message/corpconversation/asyncsend_v2", tok, map[string]any{"agent_id": 3000000001, "to_all_user": true,
		"msg": map[string]any{"msgtype": "markdown", "markdown": map[string]any{"title": "t", "text": "x"}}})
	if r.errcode() != "0" || len(h.srv.Notices()[1].Delivered) != len(h.truth.Org.People) {
		t.Fatalf("to_all_user: %s", r.raw)
	}
	for name, body := range map[string]map[string]any{
		"no agent":      {"userid_list": p.UserID, "msg": map[string]any{"msgtype": "text"}},
		"foreign agent": {"agent_id": 7, "userid_list": p.UserID, "msg": map[string]any{"msgtype": "text"}},
		"no recipients": {"agent_id": 3000000001, "msg": map[string]any{"msgtype": "text"}},
		"no msgtype":    {"agent_id": 3000000001, "userid_list": p.UserID, "msg": map[string]any{"text": "x"}},
		"101 userids":   {"agent_id": 3000000001, "userid_list": strings.Repeat("a,", 100) + "b", "msg": map[string]any{"msgtype": "text"}},
	} {
		if r := h.post("/topapi/message/corpconversation/asyncsend_v2", tok, body); r.errcode() != "400002" {
			t.Errorf("%s: %s", name, r.raw)
		}
	}
	if len(h.srv.Notices()) != 2 {
		t.Errorf("refused calls were recorded: %d", len(h.srv.Notices()))
	}
}

func TestAdminStateFromOrgOnly(t *testing.T) {
	// an org loaded from a file (no truth): the admin state and the
	// accounts are derived from it
	org := smallTruth.Org
	h := newSim(t, sim.Config{Org: &org, Seed: 3})
	got := h.srv.Admins()
	if len(got) != len(smallTruth.Admins) || got[0].SysLevel != 1 {
		t.Fatalf("admins %+v, want %+v", got, smallTruth.Admins)
	}
	for i := range got {
		if got[i].UserID != smallTruth.Admins[i].UserID || got[i].SysLevel != smallTruth.Admins[i].SysLevel {
			t.Errorf("admin %d: %+v, want %+v", i, got[i], smallTruth.Admins[i])
		}
	}
	if len(h.srv.Accounts()) != len(smallTruth.Accounts) {
		t.Errorf("accounts %d, want %d", len(h.srv.Accounts()), len(smallTruth.Accounts))
	}
	r := h.post("/topapi/user/listadmin", h.token(), nil)
	if !strings.Contains(string(r.raw), `{"sys_level":1,"userid":"`+got[0].UserID+`"}`) {
		t.Errorf("listadmin: %s", r.raw)
	}
}

// sys_level for a boss who is also the primary admin is UNCONFIRMED: 1 by
// default, 100 with BossSysLevel.
func TestBossSysLevel(t *testing.T) {
	for _, want := range []string{"1", "100"} {
		lc := sim.LoginConfig{}
		if want == "100" {
			lc.BossSysLevel = 100
		}
		h := newSim(t, sim.Config{Login: lc})
		primary := firstAdmin(h.truth, 1)
		code, _ := h.srv.InAppCode(primary.UserID)
		r := h.post("/topapi/v2/user/getuserinfo", h.token(), map[string]any{"code": code})
		if fmt.Sprint(r.result()["sys_level"]) != want || r.result()["sys"] != true {
			t.Errorf("BossSysLevel %d: %s", lc.BossSysLevel, r.raw)
		}
	}
}

// DingTalk's daily limits: at most 500 notices from one app to one person
// a day, at most 3 to_all_user sends a day; beyond them the call succeeds
// and nothing is delivered.
func TestWorkNoticeDailyLimits(t *testing.T) {
	h := newSim(t, sim.Config{})
	tok := h.token()
	p := h.truth.Org.People[7].UserID
	send := func(body map[string]any) {
		t.Helper()
		body["agent_id"] = sim.DefaultAgentID
		if r := h.post("/topapi/message/corpconversation/asyncsend_v2", tok, body); r.errcode() != "0" {
			t.Fatalf("send: %s", r.raw)
		}
	}
	for i := 0; i < 501; i++ {
		send(map[string]any{"userid_list": p, "msg": map[string]any{"msgtype": "text", "text": map[string]any{"content": fmt.Sprint("n", i)}}})
	}
	n := h.srv.Notices()
	if len(n[499].Delivered) != 1 || len(n[500].Delivered) != 0 {
		t.Errorf("notice 500: %v, notice 501: %v", n[499].Delivered, n[500].Delivered)
	}
	h.clock.Add(24 * time.Hour)
	tok = h.token()
	for i := 0; i < 4; i++ {
		send(map[string]any{"to_all_user": true, "msg": map[string]any{"msgtype": "text", "text": map[string]any{"content": fmt.Sprint("all", i)}}})
	}
	n = h.srv.Notices()
	if len(n[503].Delivered) != len(h.truth.Org.People) || len(n[504].Delivered) != 0 {
		t.Errorf("third to_all_user: %d delivered, fourth: %d", len(n[503].Delivered), len(n[504].Delivered))
	}
}

func TestDemoLogins(t *testing.T) {
	h := newSim(t, sim.Config{})
	primary, sub, emp := h.srv.DemoLogins()
	if primary != firstAdmin(h.truth, 1).UserID || sub != firstAdmin(h.truth, 2).UserID || emp == "" || emp == primary || emp == sub {
		t.Fatalf("demo logins %q %q %q", primary, sub, emp)
	}
	for _, p := range h.truth.Org.People {
		if p.UserID == emp && (!p.Active || p.Admin || p.Restricted) {
			t.Errorf("the employee %+v is not an ordinary active employee", p)
		}
	}
}

// Logins, the login page and the admin state are read while the
// organisation changes (run under -race by scripts/test.sh).
func TestLoginDuringChanges(t *testing.T) {
	h := newSim(t, sim.Config{})
	tok := h.token()
	var emp string
	for _, p := range h.truth.Org.People {
		if p.Active && !p.Admin && !p.Boss && p.UnionID != "" {
			emp = p.UserID
			break
		}
	}
	dept := h.srv.Org().Depts[1].ID
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	alongside(func() bool {
		q := url.Values{"redirect_uri": {"https://x.example/cb"}, "response_type": {"code"}, "client_id": {sim.DefaultAppKey},
			"scope": {"openid"}, "prompt": {"consent"}, "sim_user": {emp}}
		res, err := noRedirect.Get(h.ts.URL + "/oauth2/auth?" + q.Encode())
		if err != nil || res.StatusCode != http.StatusFound {
			t.Errorf("login page during changes: %v %v", res, err)
			return false
		}
		res.Body.Close()
		if _, err := h.srv.LoginCode(emp, false); err != nil {
			t.Error(err)
			return false
		}
		h.srv.Admins()
		h.srv.DemoLogins()
		h.srv.Accounts()
		for _, r := range []resp{
			h.post("/topapi/user/listadmin", tok, map[string]any{}),
			h.post("/topapi/user/get_admin_scope", tok, map[string]any{"userid": emp}),
			h.post("/topapi/v2/user/get", tok, map[string]any{"userid": emp}),
			h.post("/topapi/role/simplelist", tok, map[string]any{"role_id": 1507113579}),
		} {
			if r.errcode() != "0" {
				t.Errorf("a read during changes: %s", r.raw)
				return false
			}
		}
		return true
	}, func() {
		for i := range 30 {
			h.srv.SetAdmin(emp, i%2 == 0)
			id := fmt.Sprint("churn-", i%3)
			if i%2 == 0 {
				h.srv.AddUser(dingbook.Person{UserID: id, UnionID: "union-" + id, Name: id, Depts: []dingbook.Membership{{DeptID: dept}}})
			} else {
				h.srv.RemoveUser(id)
			}
		}
	})
}
