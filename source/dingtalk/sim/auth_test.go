package sim_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingbook/dingbook/source/dingtalk/sim"
)

var ridRe = regexp.MustCompile(`^[a-z0-9]{12,13}$`)

// checklist 2
func TestGetToken(t *testing.T) {
	h := newSim(t, sim.Config{})
	app := sim.DefaultApp()
	r := h.get("/gettoken?appkey=" + app.Key + "&appsecret=" + app.Secret)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", r.status, r.header.Get("Content-Type"))
	}
	if r.errcode() != "0" || r.str("errmsg") != "ok" || r.num("expires_in") != "7200" || len(r.str("access_token")) < 20 {
		t.Fatalf("body %s", r.raw)
	}
	if _, has := r.body["request_id"]; has {
		t.Error("gettoken has no request_id")
	}
	if got := h.get("/gettoken?corpid=" + app.Key + "&corpsecret=" + app.Secret).str("access_token"); got != r.str("access_token") {
		t.Errorf("corpid/corpsecret: token %q, want the same %q", got, r.str("access_token"))
	}
	bad := h.get("/gettoken?appkey=" + app.Key + "&appsecret=wrong")
	if string(bad.raw) != `{"errcode":40096,"errmsg":"不合法的appKey或appSecret"}` || bad.status != 200 {
		t.Errorf("bad secret: %d %s", bad.status, bad.raw)
	}
	missing := h.get("/gettoken")
	if string(missing.raw) != `{"errcode":40035,"errmsg":"缺少参数 corpid or appkey"}` {
		t.Errorf("missing: %s", missing.raw)
	}
	if strings.Contains(string(r.raw), app.Secret) {
		t.Error("secret echoed")
	}
}

// checklist 3, 5, 8
func TestV1TokenAndInterchange(t *testing.T) {
	h := newSim(t, sim.Config{})
	app := sim.DefaultApp()
	r := h.v1("/v1.0/oauth2/accessToken", "", map[string]string{"appKey": app.Key, "appSecret": app.Secret})
	if r.status != 200 || r.num("expireIn") != "7200" || r.str("accessToken") == "" || r.body["errcode"] != nil {
		t.Fatalf("v1 token: %d %s", r.status, r.raw)
	}
	v1tok := r.str("accessToken")
	// same token from gettoken while valid
	if tok := h.token(); tok != v1tok {
		t.Errorf("gettoken gave %q, v1 gave %q", tok, v1tok)
	}
	// v1 token on oapi
	wantCode(t, h.post("/topapi/user/count", v1tok, map[string]any{"only_active": false}), "0")
	// oapi token on v1
	s := h.v1("/v1.0/contact/users/search", v1tok, map[string]any{"queryWord": h.truth.Org.People[5].Name, "offset": 0, "size": 10})
	if s.status != 200 || !strings.Contains(string(s.raw), h.truth.Org.People[5].UserID) {
		t.Fatalf("users/search: %d %s", s.status, s.raw)
	}
	bad := h.v1("/v1.0/oauth2/accessToken", "", map[string]string{"appKey": app.Key, "appSecret": "nope"})
	if bad.status != 400 || bad.str("code") != "invalidClientIdOrSecret" || bad.str("message") != "无效的clientId或者clientSecret" || bad.str("requestid") == "" {
		t.Errorf("bad v1 secret: %d %s", bad.status, bad.raw)
	}
	// v1 token placement: header only
	m := h.v1("/v1.0/contact/users/search", "", map[string]any{"queryWord": "x"})
	if m.status != 400 || m.str("code") != "AuthenticationFailed.MissingParameter" || m.str("message") != "缺少参数：x-acs-dingtalk-access-token" {
		t.Errorf("missing header: %d %s", m.status, m.raw)
	}
	if m.header.Get("x-acs-request-id") == "" || !strings.HasPrefix(m.header.Get("Content-Type"), "application/json;charset=utf-8") {
		t.Errorf("v1 headers %v", m.header)
	}
	req, _ := http.NewRequest("POST", h.ts.URL+"/v1.0/contact/users/search?access_token="+v1tok, strings.NewReader(`{"queryWord":"x"}`))
	if q := h.do(req); q.status != 400 || q.str("code") != "AuthenticationFailed.MissingParameter" {
		t.Errorf("query token on v1: %d %s", q.status, q.raw)
	}
	b := h.v1("/v1.0/contact/users/search", "garbage", map[string]any{"queryWord": "x"})
	if b.status != 400 || b.str("code") != "InvalidAuthentication" || b.str("message") != "不合法的access_token" {
		t.Errorf("bad v1 token: %d %s", b.status, b.raw)
	}
}

// checklist 4, 7
func TestTokenRenewalAndExpiry(t *testing.T) {
	second := sim.App{Key: "dingsimappkey0002", Secret: "simsecret-two"}
	h := newSim(t, sim.Config{Apps: []sim.App{sim.DefaultApp(), second}})
	a := h.token()
	if b := h.tokenFor(second); b == a {
		t.Fatal("two apps share a token")
	}
	h.clock.Add(3600 * time.Second)
	if again := h.token(); again != a {
		t.Fatal("token not reused while valid")
	}
	// renewed at +3600: still valid at +3600+7199
	h.clock.Add(7199 * time.Second)
	wantCode(t, h.post("/topapi/user/count", a, `{"only_active":true}`), "0")
	h.clock.Add(2 * time.Second)
	r := h.post("/topapi/user/count", a, `{"only_active":true}`)
	wantSub(t, r, "40014")
	if r.str("sub_msg") != "不合法的access_token" {
		t.Errorf("expired: %s", r.raw)
	}
	fresh := h.token()
	if fresh == a {
		t.Fatal("expired token reissued")
	}
	wantCode(t, h.post("/topapi/user/count", fresh, `{"only_active":true}`), "0")
	h.srv.ExpireTokens()
	wantSub(t, h.post("/topapi/user/count", fresh, `{"only_active":true}`), "40014")
	if h.token() == fresh {
		t.Fatal("ExpireTokens: token reissued")
	}

	for code, check := range map[string]func(r resp){
		"42001":       func(r resp) { wantSub(t, r, "42001") },
		"42001-plain": func(r resp) { wantCode(t, r, "42001") },
	} {
		h := newSim(t, sim.Config{ExpiredTokenCode: code, Faults: sim.Faults{TokenTTL: time.Minute}})
		tok := h.token()
		h.clock.Add(61 * time.Second)
		check(h.post("/topapi/user/count", tok, `{"only_active":true}`))
		// an unknown token is still 40014
		wantSub(t, h.post("/topapi/user/count", "nonsense", `{"only_active":true}`), "40014")
	}
}

// checklist 6, 7, 9, 10
func TestOapiTokenPlacementAndEnvelope(t *testing.T) {
	h := newSim(t, sim.Config{})
	tok := h.token()
	// header is ignored
	req, _ := http.NewRequest("POST", h.ts.URL+"/topapi/user/count", strings.NewReader(`{"only_active":true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-acs-dingtalk-access-token", tok)
	r := h.do(req)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json;charset=UTF-8" {
		t.Fatalf("%d %v", r.status, r.header)
	}
	wantSub(t, r, "40000")
	if r.str("errmsg") != "ding talk error[subcode=40000,submsg=access_token is blank]" || !ridRe.MatchString(r.str("request_id")) {
		t.Errorf("blank token body %s", r.raw)
	}
	// JSON body field is not a token
	wantSub(t, h.post("/topapi/user/count", "", map[string]any{"only_active": true, "access_token": tok}), "40000")
	// form body field is
	f := h.postForm("/topapi/user/count", url.Values{"access_token": {tok}, "only_active": {"false"}})
	wantCode(t, f, "0")
	if f.result()["count"].(interface{ String() string }).String() != "400" {
		t.Errorf("form count %s", f.raw)
	}
	bad := h.post("/topapi/user/count", "garbage", `{"only_active":true}`)
	if string(bad.raw) != `{"errcode":88,"errmsg":"ding talk error[subcode=40014,submsg=不合法的access_token]","request_id":"`+bad.str("request_id")+`","sub_code":"40014","sub_msg":"不合法的access_token"}` {
		t.Errorf("bad token body %s", bad.raw)
	}
	// success envelope
	ok := h.post("/topapi/user/count", tok, `{"only_active":"false"}`)
	if ok.errcode() != "0" || ok.str("errmsg") != "ok" || !ridRe.MatchString(ok.str("request_id")) || ok.header.Get("Server") != "DingTalk/1.0.0" {
		t.Errorf("envelope %s %v", ok.raw, ok.header)
	}
	ids := map[string]bool{}
	for i := 0; i < 50; i++ {
		ids[h.post("/topapi/user/count", tok, `{"only_active":true}`).str("request_id")] = true
	}
	if len(ids) < 50 {
		t.Errorf("request ids repeat: %d distinct of 50", len(ids))
	}
}

// checklist 11
func TestUnknownAPI(t *testing.T) {
	h := newSim(t, sim.Config{})
	r := h.post("/topapi/v2/user/notexist", "whatever", `{}`)
	want := `{"errcode":22,"errmsg":"Invalid method[submsg=不合法ApiName，ApiName = dingtalk.oapi.v2.user.notexist]","request_id":"` + r.str("request_id") + `","sub_msg":"不合法ApiName，ApiName = dingtalk.oapi.v2.user.notexist"}`
	if string(r.raw) != want || r.status != 200 {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	if _, has := r.body["sub_code"]; has {
		t.Error("22 has no sub_code")
	}
	if n := h.srv.Calls()["/topapi/v2/user/notexist"]; n != 1 {
		t.Errorf("Calls counted %d", n)
	}
}

// checklist 22
func TestMissingScope(t *testing.T) {
	app := sim.DefaultApp()
	app.Scopes = []string{"qyapi_base", "qyapi_get_department_list"}
	h := newSim(t, sim.Config{Apps: []sim.App{app}})
	tok := h.token()
	wantCode(t, h.post("/topapi/v2/department/listsub", tok, `{"dept_id":1}`), "0")
	r := h.post("/topapi/v2/user/list", tok, `{"dept_id":1,"cursor":0,"size":10}`)
	wantSub(t, r, "60011")
	want := "ding talk error[subcode=60011,submsg=应用尚未开通所需的权限：[qyapi_get_department_member]，点击链接申请并开通即可：https://open-dev.dingtalk.com/appscope/apply?content=" + app.Key + "%23qyapi_get_department_member, {requiredScopes=[qyapi_get_department_member]}]"
	if r.str("errmsg") != want {
		t.Errorf("errmsg\n got %s\nwant %s", r.str("errmsg"), want)
	}
	wantSub(t, h.post("/topapi/v2/user/getbymobile", tok, `{"mobile":"13800138000"}`), "60011")
	v := h.v1("/v1.0/contact/users/search", tok, map[string]any{"queryWord": "x"})
	if v.status != 403 || v.str("code") != "Forbidden.AccessDenied.AccessTokenPermissionDenied" || !strings.Contains(string(v.raw), `"requiredScopes":["qyapi_addresslist_search"]`) {
		t.Errorf("v1 scope: %d %s", v.status, v.raw)
	}
}

// checklist 24
func TestIPWhitelist(t *testing.T) {
	app := sim.DefaultApp()
	app.IPWhitelist = []string{"10.9.8.7"}
	h := newSim(t, sim.Config{Apps: []sim.App{app}})
	r := h.post("/topapi/user/count", h.token(), `{"only_active":true}`)
	wantSub(t, r, "60020")
	if r.str("sub_msg") != "访问ip不在白名单之中,request ip=127.0.0.1 appKey("+app.Key+")" {
		t.Errorf("60020 text %s", r.raw)
	}
	app.IPWhitelist = []string{"10.9.8.7", "127.0.0.1"}
	h = newSim(t, sim.Config{Apps: []sim.App{app}})
	wantCode(t, h.post("/topapi/user/count", h.token(), `{"only_active":true}`), "0")
}

func TestLogNeverShowsSecrets(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	h := newSim(t, sim.Config{Logf: func(f string, a ...any) {
		mu.Lock()
		lines = append(lines, fmt.Sprintf(f, a...))
		mu.Unlock()
	}})
	tok := h.token()
	h.post("/topapi/v2/user/list", tok, `{"dept_id":1,"cursor":0,"size":10}`)
	h.v1("/v1.0/oauth2/accessToken", "", map[string]string{"appKey": sim.DefaultAppKey, "appSecret": sim.DefaultApp().Secret})
	h.get("/gettoken?appkey=" + sim.DefaultAppKey + "&appsecret=" + sim.DefaultApp().Secret)
	// log lines are written after the response: wait for them
	for i := 0; i < 100; i++ {
		mu.Lock()
		n := len(lines)
		mu.Unlock()
		if n >= 4 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lines) < 4 {
		t.Fatalf("log lines %v", lines)
	}
	for _, l := range lines {
		if strings.Contains(l, tok) || strings.Contains(l, sim.DefaultApp().Secret) {
			t.Errorf("secret in log line %q", l)
		}
	}
}
