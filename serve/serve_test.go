package serve_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/serve"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

var truth = gen.Generate(gen.Options{Users: 400, Depts: 25, Seed: 3})

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is the DingTalk simulator and dingbook serve over a fresh state
// directory, each a real HTTP server.
type env struct {
	t      testing.TB
	sim    *sim.Server
	simURL string
	app    *app.App
	srv    *serve.Server
	url    string
	clock  *clock
	// gate, when set, holds the simulator's department calls (a pull's
	// walk) until it is closed.
	gate atomic.Pointer[chan struct{}]
	// reqs is the server's request log (RequestLog).
	reqs requestLog
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOf(t, truth)
}

// newEnvOf is newEnv over another organisation (tests or benchmarks).
func newEnvOf(t testing.TB, truth *gen.Truth) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{t: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)}}
	e.sim = sim.New(sim.Config{Truth: truth, QPS: -1, Apps: []sim.App{sim.DefaultApp()}, Now: e.clock.Now})
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g := e.gate.Load(); g != nil && strings.Contains(r.URL.Path, "/department/") {
			<-*g
		}
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(sts.Close)
	e.simURL = sts.URL
	a, err := app.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	a.Now = e.clock.Now
	e.app = a
	appCfg := sim.DefaultApp()
	client := dingtalk.New(dingtalk.Config{BaseURL: sts.URL, APIV1Base: sts.URL, LoginBase: sts.URL, AppKey: appCfg.Key,
		AppSecret: appCfg.Secret, CorpID: e.sim.CorpID(), AgentID: appCfg.AgentID, QPS: 1000, Now: e.clock.Now})
	e.srv = &serve.Server{App: a, Client: client, LoginBurst: 1000, RequestLog: e.reqs.add}
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(e.srv.WaitPulls) // before the servers and the state close
	e.srv.BaseURL = ts.URL
	e.url = ts.URL
	return e
}

// browser is a cookie jar that follows redirects by hand, recording every
// response, and picks simUser on the simulator's login page (as its
// picker form does, with sim_user).
type browser struct {
	e       *env
	jar     *cookiejar.Jar
	hc      *http.Client
	simUser string
	seen    []*http.Response
}

func (e *env) browser(user string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, jar: jar, simUser: user,
		hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends one request and returns the response with its body read.
func (b *browser) do(method, u string, hdr http.Header) (*http.Response, string) {
	b.e.t.Helper()
	return b.doBody(method, u, "", hdr)
}

// doBody is do with a request body.
func (b *browser) doBody(method, u, body string, hdr http.Header) (*http.Response, string) {
	b.e.t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		b.e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.seen = append(b.seen, resp)
	return resp, string(data)
}

// follow GETs u and follows redirects; it returns the last response.
func (b *browser) follow(u string) (*http.Response, string) {
	b.e.t.Helper()
	for range 10 {
		if strings.HasPrefix(u, b.e.simURL+"/oauth2/auth?") && b.simUser != "" {
			u += "&sim_user=" + url.QueryEscape(b.simUser)
		}
		resp, body := b.do("GET", u, nil)
		if resp.StatusCode < 300 || resp.StatusCode >= 400 {
			return resp, body
		}
		next, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			b.e.t.Fatal(err)
		}
		u = next.String()
	}
	b.e.t.Fatal("too many redirects")
	return nil, ""
}

// callbackURL is the callback DingTalk's page redirected the browser to.
func (b *browser) callbackURL() string {
	for _, r := range b.seen {
		if strings.HasPrefix(r.Request.URL.String(), b.e.url+serve.CallbackPath) {
			return r.Request.URL.String()
		}
	}
	b.e.t.Fatal("the browser never reached the callback")
	return ""
}

func (b *browser) me() (int, serve.Me) {
	resp, body := b.do("GET", b.e.url+"/api/v1/me", nil)
	var m serve.Me
	if resp.StatusCode == 200 {
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			b.e.t.Fatalf("/api/v1/me: %v: %s", err, body)
		}
	}
	return resp.StatusCode, m
}

func (e *env) loginRecords(outcome string) []audit.Record {
	recs, err := audit.List(context.Background(), e.app.DB, audit.Filter{Action: audit.ActionLogin})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []audit.Record
	for _, r := range recs {
		if r.Outcome == outcome {
			out = append(out, r)
		}
	}
	return out
}

func demoUsers(t *testing.T, s *sim.Server) (primary, sub, emp string) {
	primary, sub, emp = s.DemoLogins()
	if primary == "" || sub == "" || emp == "" {
		t.Fatalf("the generated org lacks a demo login: %q %q %q", primary, sub, emp)
	}
	return
}

func accountOf(t *testing.T, kind string) gen.Account {
	for _, a := range truth.Accounts {
		if a.Kind == kind {
			return a
		}
	}
	t.Fatalf("no %s account", kind)
	return gen.Account{}
}

func inactivePerson(t *testing.T) string {
	for _, p := range truth.Org.People {
		if !p.Active {
			return p.UserID
		}
	}
	t.Fatal("no inactive person")
	return ""
}

func TestBrowserLogin(t *testing.T) {
	e := newEnv(t)
	primary, sub, emp := demoUsers(t, e.sim)
	var subScope []int64
	for _, a := range e.sim.Admins() {
		if a.UserID == sub {
			subScope = a.Scope
		}
	}
	for _, tc := range []struct {
		user  string
		roles []string
		scope []int64
	}{
		{primary, []string{"employee", "admin"}, []int64{dingbook.RootDeptID}},
		{sub, []string{"employee", "sub-admin"}, subScope},
		{emp, []string{"employee"}, []int64{}},
	} {
		b := e.browser(tc.user)
		resp, body := b.follow(e.url + "/login?next=/api/v1/me")
		if resp.StatusCode != 200 || resp.Request.URL.String() != e.url+"/api/v1/me" {
			t.Fatalf("%s: ended at %s with HTTP %d: %s", tc.user, resp.Request.URL, resp.StatusCode, body)
		}
		var m serve.Me
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		if m.UserID != tc.user || m.Name == "" || !slices.Equal(m.Roles, tc.roles) || !slices.Equal(m.AdminScope, tc.scope) {
			t.Errorf("%s: me %+v, want roles %v scope %v", tc.user, m, tc.roles, tc.scope)
		}
		if !strings.Contains(body, `"admin_scope":[`) {
			t.Errorf("%s: admin_scope must be an array: %s", tc.user, body)
		}
		// the browser went through DingTalk's login page
		auth := b.seen[1].Request.URL
		if auth.Path != "/oauth2/auth" || auth.Query().Get("redirect_uri") != e.url+serve.CallbackPath || auth.Query().Get("state") == "" {
			t.Errorf("%s: the login page was opened as %s", tc.user, auth)
		}
		resp, body = b.do("GET", e.url+"/", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, m.Name) || !strings.Contains(body, `action="/logout"`) {
			t.Errorf("%s: home page %d: %s", tc.user, resp.StatusCode, body)
		}
	}
	ok := e.loginRecords(audit.OutcomeOK)
	if len(ok) != 3 || ok[0].Actor != primary || ok[2].Actor != emp || ok[0].Details["via"] != "browser" {
		t.Errorf("login records: %+v", ok)
	}
	// anonymous home page: a login link
	resp, body := e.browser("").do("GET", e.url+"/", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `href="/login"`) {
		t.Errorf("anonymous home page %d: %s", resp.StatusCode, body)
	}
}

func TestCookieFlags(t *testing.T) {
	e := newEnv(t)
	_, _, emp := demoUsers(t, e.sim)
	check := func(name string, secure bool) {
		b := e.browser(emp)
		b.follow(e.url + "/login")
		var state, session *http.Cookie
		for _, r := range b.seen {
			for _, c := range r.Cookies() {
				switch {
				case c.Name == serve.StateCookie && c.MaxAge > 0:
					state = c
				case c.Name == serve.SessionCookie && c.Value != "":
					session = c
				}
			}
		}
		if state == nil || session == nil {
			t.Fatalf("%s: cookies not set: state %v session %v", name, state, session)
		}
		for _, c := range []*http.Cookie{state, session} {
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure {
				t.Errorf("%s: cookie %s: HttpOnly %v SameSite %v Secure %v", name, c.Name, c.HttpOnly, c.SameSite, c.Secure)
			}
		}
		if session.Path != "/" || state.Path != "/auth/dingtalk/" || state.MaxAge > 600 {
			t.Errorf("%s: paths %q %q, state max-age %d", name, session.Path, state.Path, state.MaxAge)
		}
		if len(session.Value) < 40 {
			t.Errorf("%s: session token too short: %d chars", name, len(session.Value))
		}
	}
	check("http base", false)
	// an https base URL makes every cookie Secure (the jar then keeps it
	// from this http test server, so only the Set-Cookie is checked)
	e.srv.BaseURL = strings.Replace(e.url, "http://", "https://", 1)
	b := e.browser(emp)
	resp, _ := b.do("GET", e.url+"/login", nil)
	for _, c := range resp.Cookies() {
		if c.Name == serve.StateCookie && !c.Secure {
			t.Errorf("https base: state cookie not Secure")
		}
	}
	if len(resp.Cookies()) == 0 {
		t.Error("https base: no cookie set")
	}
}

func TestNewSessionAtEveryLogin(t *testing.T) {
	e := newEnv(t)
	_, _, emp := demoUsers(t, e.sim)
	b := e.browser(emp)
	b.follow(e.url + "/login")
	first := sessionCookie(t, b)
	b.follow(e.url + "/login")
	second := sessionCookie(t, b)
	if first == second {
		t.Error("a second login kept the session id")
	}
	if s, err := e.app.Session(context.Background(), first, app.SessionLimits{}); s != nil || err != nil {
		t.Errorf("the previous session lives on: %+v %v", s, err)
	}
	if st, _ := b.me(); st != 200 {
		t.Errorf("the new session: %d", st)
	}
}

func sessionCookie(t *testing.T, b *browser) string {
	u, _ := url.Parse(b.e.url)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == serve.SessionCookie {
			return c.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

func TestLoginRefusals(t *testing.T) {
	e := newEnv(t)
	_, _, emp := demoUsers(t, e.sim)
	cases := []struct {
		name    string
		run     func() (*http.Response, string)
		status  int
		refusal string
	}{
		{"another organisation", func() (*http.Response, string) {
			return e.browser(accountOf(t, gen.AccountOtherOrg).UnionID).follow(e.url + "/login")
		}, 403, "other-org"},
		{"outsider", func() (*http.Response, string) {
			return e.browser(accountOf(t, gen.AccountOutsider).UnionID).follow(e.url + "/login")
		}, 403, "not-member"},
		{"external contact's account", func() (*http.Response, string) {
			return e.browser(accountOf(t, gen.AccountExternal).UnionID).follow(e.url + "/login")
		}, 403, "external"},
		{"inactive", func() (*http.Response, string) { return e.browser(inactivePerson(t)).follow(e.url + "/login") }, 403, "inactive"},
		{"wrong state", func() (*http.Response, string) {
			b := e.browser(emp)
			// DingTalk's redirect, with the state of another browser's login
			other := e.browser(emp)
			resp, _ := other.do("GET", e.url+"/login", nil)
			resp, _ = other.do("GET", resp.Header.Get("Location")+"&sim_user="+emp, nil)
			b.do("GET", e.url+"/login", nil) // this browser's own state
			return b.do("GET", resp.Header.Get("Location"), nil)
		}, 400, "state"},
		{"no state cookie", func() (*http.Response, string) {
			code, _ := e.sim.LoginCode(emp, true)
			return e.browser(emp).do("GET", e.url+serve.CallbackPath+"?code="+code+"&state=x", nil)
		}, 400, "state"},
		{"reused code", func() (*http.Response, string) {
			b := e.browser(emp)
			if resp, _ := b.follow(e.url + "/login"); resp.StatusCode != 200 {
				t.Fatalf("login: %d", resp.StatusCode)
			}
			old, _ := url.Parse(b.callbackURL())
			// a new login's state, the old code replayed
			resp, _ := b.do("GET", e.url+"/login", nil)
			auth, _ := url.Parse(resp.Header.Get("Location"))
			q := old.Query()
			q.Set("state", auth.Query().Get("state"))
			return b.do("GET", e.url+serve.CallbackPath+"?"+q.Encode(), nil)
		}, 400, "code-reused"},
		{"declined", func() (*http.Response, string) {
			b := e.browser("")
			resp, _ := b.do("GET", e.url+"/login", nil)
			resp, _ = b.do("GET", resp.Header.Get("Location")+"&sim_deny=1", nil)
			return b.do("GET", resp.Header.Get("Location"), nil)
		}, 400, "declined"},
		{"open redirect //host", func() (*http.Response, string) {
			return e.browser(emp).do("GET", e.url+"/login?next="+url.QueryEscape("//evil.example/x"), nil)
		}, 400, "next"},
		{`open redirect /\host`, func() (*http.Response, string) {
			return e.browser(emp).do("GET", e.url+"/login?next="+url.QueryEscape(`/\evil.example`), nil)
		}, 400, "next"},
		{"open redirect scheme", func() (*http.Response, string) {
			return e.browser(emp).do("GET", e.url+"/login?next="+url.QueryEscape("https://evil.example/"), nil)
		}, 400, "next"},
		{"in-app code reused", func() (*http.Response, string) {
			code, err := e.sim.InAppCode(emp)
			if err != nil {
				t.Fatal(err)
			}
			b := e.browser("")
			if resp, _ := b.do("GET", e.url+"/auth/dingtalk/inapp?code="+code, nil); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("in-app login: %d", resp.StatusCode)
			}
			return b.do("GET", e.url+"/auth/dingtalk/inapp?code="+code, nil)
		}, 400, "code-reused"},
		{"in-app without code", func() (*http.Response, string) {
			return e.browser("").do("GET", e.url+"/auth/dingtalk/inapp", nil)
		}, 400, "code-invalid"},
	}
	for _, tc := range cases {
		before := len(e.loginRecords(audit.OutcomeRefused))
		resp, body := tc.run()
		if resp.StatusCode != tc.status || !strings.Contains(body, "Login refused") {
			t.Errorf("%s: HTTP %d, want %d: %s", tc.name, resp.StatusCode, tc.status, body)
		}
		for _, c := range resp.Cookies() {
			if c.Name == serve.SessionCookie && c.Value != "" {
				t.Errorf("%s: a session cookie was set", tc.name)
			}
		}
		recs := e.loginRecords(audit.OutcomeRefused)
		if len(recs) != before+1 {
			t.Errorf("%s: %d refusal records, want %d", tc.name, len(recs), before+1)
			continue
		}
		if r := recs[len(recs)-1]; r.Details["refusal"] != tc.refusal || r.Reason == "" {
			t.Errorf("%s: recorded %+v, want refusal %s", tc.name, r, tc.refusal)
		}
	}
	ext := accountOf(t, gen.AccountExternal)
	if recs := e.loginRecords(audit.OutcomeRefused); !slices.ContainsFunc(recs, func(r audit.Record) bool {
		return r.Actor == ext.UserID && r.Details["refusal"] == "external"
	}) {
		t.Errorf("the external account's refusal should name its userid: %+v", recs)
	}
	// a local next is kept
	resp, _ := e.browser(emp).follow(e.url + "/login?next=" + url.QueryEscape("/api/v1/me?x=1"))
	if resp.Request.URL.String() != e.url+"/api/v1/me?x=1" {
		t.Errorf("next: ended at %s", resp.Request.URL)
	}
}

func TestInAppLogin(t *testing.T) {
	e := newEnv(t)
	_, sub, _ := demoUsers(t, e.sim)
	code, err := e.sim.InAppCode(sub)
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser("")
	resp, body := b.follow(e.url + "/auth/dingtalk/inapp?code=" + code)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/" {
		t.Fatalf("in-app login: %d at %s: %s", resp.StatusCode, resp.Request.URL, body)
	}
	if st, m := b.me(); st != 200 || m.UserID != sub || !slices.Equal(m.Roles, []string{"employee", "sub-admin"}) {
		t.Errorf("me: %d %+v", st, m)
	}
	if ok := e.loginRecords(audit.OutcomeOK); len(ok) != 1 || ok[0].Details["via"] != "inapp" {
		t.Errorf("records: %+v", ok)
	}
}

func TestLogoutAndCrossOrigin(t *testing.T) {
	e := newEnv(t)
	_, _, emp := demoUsers(t, e.sim)
	b := e.browser(emp)
	b.follow(e.url + "/login")
	// a cross-site form post is refused and the session survives
	for _, h := range []http.Header{{"Sec-Fetch-Site": {"cross-site"}}, {"Origin": {"https://evil.example"}}} {
		resp, _ := b.do("POST", e.url+"/logout", h)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-origin POST %v: HTTP %d", h, resp.StatusCode)
		}
	}
	if st, _ := b.me(); st != 200 {
		t.Fatalf("session lost after a refused cross-origin post: %d", st)
	}
	token := sessionCookie(t, b)
	// a same-origin logout, as the page's form sends it
	resp, _ := b.do("POST", e.url+"/logout", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {e.url}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("logout: HTTP %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if st, _ := b.me(); st != 401 {
		t.Errorf("me after logout: %d", st)
	}
	// the old cookie is dead on the server, not only in the browser
	if s, err := e.app.Session(context.Background(), token, app.SessionLimits{}); err != nil || s != nil {
		t.Errorf("session after logout: %+v %v", s, err)
	}
	if recs, _ := audit.List(context.Background(), e.app.DB, audit.Filter{Action: audit.ActionLogout}); len(recs) != 1 || recs[0].Actor != emp {
		t.Errorf("logout records: %+v", recs)
	}
	// GET /logout is not a route: logging out takes a POST
	if resp, _ := b.do("GET", e.url+"/logout", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /logout: %d", resp.StatusCode)
	}
}

func TestUnauthorizedAPIIsJSON(t *testing.T) {
	e := newEnv(t)
	resp, body := e.browser("").do("GET", e.url+"/api/v1/me", nil)
	var v map[string]string
	if resp.StatusCode != 401 || resp.Header.Get("Location") != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
		json.Unmarshal([]byte(body), &v) != nil || v["error"] != dingbook.EAUTH || v["hint"] == "" {
		t.Errorf("anonymous /api/v1/me: %d %v %s", resp.StatusCode, resp.Header, body)
	}
}

func TestSessionTimeouts(t *testing.T) {
	e := newEnv(t)
	checkSessionLimits(t, e, 30*time.Minute, 12*time.Hour)
}

// checkSessionLimits checks that an employee's session ends after idle
// without use, and absolute after login while in use.
func checkSessionLimits(t *testing.T, e *env, idle, absolute time.Duration) {
	t.Helper()
	_, _, emp := demoUsers(t, e.sim)
	b := e.loggedIn(emp)
	// idle: used within the idle time it lives, after it it ends
	e.clock.Add(idle - time.Minute)
	if st, _ := b.me(); st != 200 {
		t.Fatalf("after %v: %d", idle-time.Minute, st)
	}
	e.clock.Add(idle)
	if st, _ := b.me(); st != 401 {
		t.Errorf("after %v idle: %d", idle, st)
	}
	// absolute: in use at every step, it ends absolute after login
	b = e.loggedIn(emp)
	step := idle * 2 / 3
	var elapsed time.Duration
	for ; elapsed+step < absolute; elapsed += step {
		e.clock.Add(step)
		if st, _ := b.me(); st != 200 {
			t.Fatalf("after %v in use: %d", elapsed+step, st)
		}
	}
	e.clock.Add(absolute - elapsed)
	if st, _ := b.me(); st != 401 {
		t.Errorf("after %v: %d", absolute, st)
	}
}

// A complete pull ends the sessions of the people it finds gone, and
// only theirs; the leaver cannot log in again.
func TestLeaverSessionsEnded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, sub, emp := demoUsers(t, e.sim)
	b := e.browser(emp)
	b.follow(e.url + "/login")
	stays := e.browser(sub)
	stays.follow(e.url + "/login")
	if st, _ := b.me(); st != 200 {
		t.Fatal(st)
	}
	if err := e.sim.RemoveUser(emp); err != nil {
		t.Fatal(err)
	}
	pol, err := e.app.Policy(ctx, "", "tester")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.app.Pull(ctx, pol, app.PullOptions{Actor: "tester", Client: e.srv.Client, BaseURL: e.simURL, AllowPartial: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Snapshot.Receipt.Complete || res.SessionsEnded != 1 {
		t.Fatalf("pull: complete %v, sessions ended %d", res.Snapshot.Receipt.Complete, res.SessionsEnded)
	}
	if st, _ := b.me(); st != 401 {
		t.Errorf("a leaver's session still works: %d", st)
	}
	if st, _ := stays.me(); st != 200 {
		t.Errorf("a member's session was ended: %d", st)
	}
	recs, _ := audit.List(ctx, e.app.DB, audit.Filter{Action: audit.ActionLogout})
	if len(recs) != 1 || recs[0].Details["userid"] != emp || recs[0].Actor != "tester" {
		t.Errorf("logout records: %+v", recs)
	}
	resp, _ := e.browser(emp).follow(e.url + "/login")
	if resp.StatusCode != 403 {
		t.Errorf("a leaver logged in again: %d", resp.StatusCode)
	}
}

func TestLoginRateLimited(t *testing.T) {
	e := newEnv(t)
	srv := &serve.Server{App: e.app, Client: e.srv.Client, BaseURL: "http://dingbook.test", LoginBurst: 3, LoginEvery: time.Minute}
	h := srv.Handler()
	get := func(ip string) int {
		r := httptest.NewRequest("GET", "/login", nil)
		r.RemoteAddr = ip + ":5555"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == 429 && w.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		return w.Code
	}
	for i := range 3 {
		if c := get("192.0.2.1"); c != 302 {
			t.Fatalf("attempt %d: %d", i+1, c)
		}
	}
	if c := get("192.0.2.1"); c != 429 {
		t.Errorf("4th attempt: %d, want 429", c)
	}
	if c := get("192.0.2.2"); c != 302 {
		t.Errorf("another address: %d", c)
	}
	e.clock.Add(time.Minute)
	if c := get("192.0.2.1"); c != 302 {
		t.Errorf("after a minute: %d", c)
	}
	if c := get("192.0.2.1"); c != 429 {
		t.Errorf("one token per minute: %d", c)
	}
}

// DingTalk unreachable: the login fails with 502 and is recorded as
// failed, not as a refusal of the person.
func TestLoginDingTalkDown(t *testing.T) {
	e := newEnv(t)
	_, _, emp := demoUsers(t, e.sim)
	b := e.browser(emp)
	resp, _ := b.do("GET", e.url+"/login", nil)
	resp, _ = b.do("GET", resp.Header.Get("Location")+"&sim_user="+emp, nil)
	down := dingtalk.New(dingtalk.Config{BaseURL: "http://127.0.0.1:1", APIV1Base: "http://127.0.0.1:1", AppKey: "k", AppSecret: "s",
		MaxRetries: 1, Timeout: time.Second, Now: e.clock.Now})
	e.srv.Client = down
	resp, body := b.do("GET", resp.Header.Get("Location"), nil)
	if resp.StatusCode != http.StatusBadGateway || strings.Contains(body, "127.0.0.1:1") {
		t.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	if recs := e.loginRecords(audit.OutcomeFailed); len(recs) != 1 || recs[0].Details["refusal"] != "error" {
		t.Errorf("records: %+v", recs)
	}
}
