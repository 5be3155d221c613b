package dingtalk

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

var loginTruth = gen.Generate(gen.Options{Users: 400, Depts: 25, Seed: 3})

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// loginEnv is a simulator and a client configured the way the server will
// be: every base URL and the corpId pointing at the simulator.
type loginEnv struct {
	t     *testing.T
	srv   *sim.Server
	url   string
	clock *testClock
	app   sim.App
}

func newLoginEnv(t *testing.T, cfg sim.Config) *loginEnv {
	t.Helper()
	e := &loginEnv{t: t, clock: &testClock{t: time.Date(2026, 9, 3, 1, 2, 3, 0, time.UTC)}}
	if cfg.Truth == nil && cfg.Org == nil {
		cfg.Truth = loginTruth
	}
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	if cfg.QPS == 0 {
		cfg.QPS = -1
	}
	if len(cfg.Apps) == 0 {
		cfg.Apps = []sim.App{sim.DefaultApp()}
	}
	e.app = cfg.Apps[0]
	e.srv = sim.New(cfg)
	ts := httptest.NewServer(e.srv)
	t.Cleanup(ts.Close)
	e.url = ts.URL
	return e
}

func (e *loginEnv) client() *Client {
	return New(Config{BaseURL: e.url, APIV1Base: e.url, LoginBase: e.url, AppKey: e.app.Key, AppSecret: e.app.Secret,
		CorpID: e.srv.CorpID(), AgentID: e.app.AgentID, QPS: 1000, Now: e.clock.Now})
}

const callback = "https://dingbook.example.com/auth/dingtalk/callback"

// page opens the client's authorize URL (plus extra query) on the
// simulator's login page without following the redirect.
func (e *loginEnv) page(c *Client, extra string) *http.Response {
	e.t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(c.AuthorizeURL(callback, "st-123") + extra)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// loginAs logs user in on the login page and returns the callback query.
func (e *loginEnv) loginAs(c *Client, user string) url.Values {
	e.t.Helper()
	resp := e.page(c, "&sim_user="+url.QueryEscape(user))
	if resp.StatusCode != http.StatusFound {
		b, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("login page for %s: HTTP %d %s", user, resp.StatusCode, b)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callback {
		e.t.Fatalf("redirected to %s, want %s", got, callback)
	}
	if loc.Query().Get("state") != "st-123" {
		e.t.Fatalf("state not echoed: %s", loc)
	}
	return loc.Query()
}

func (e *loginEnv) code(c *Client, user string) string {
	e.t.Helper()
	code, err := CallbackCode(e.loginAs(c, user))
	if err != nil {
		e.t.Fatal(err)
	}
	return code
}

func adminsOf(tr *gen.Truth) (primary, sub gen.Admin) {
	for _, a := range tr.Admins {
		if a.SysLevel == 1 {
			primary = a
		} else if sub.UserID == "" {
			sub = a
		}
	}
	return
}

// employee returns an active member who is not an admin.
func employee(t *testing.T, tr *gen.Truth) dingbook.Person {
	admins := map[string]bool{}
	for _, a := range tr.Admins {
		admins[a.UserID] = true
	}
	for _, p := range tr.Org.People {
		if p.Active && !admins[p.UserID] && !p.Boss {
			return p
		}
	}
	t.Fatal("no employee")
	return dingbook.Person{}
}

func inactive(t *testing.T, tr *gen.Truth) dingbook.Person {
	for _, p := range tr.Org.People {
		if !p.Active {
			return p
		}
	}
	t.Fatal("no inactive person")
	return dingbook.Person{}
}

func account(t *testing.T, tr *gen.Truth, kind string) gen.Account {
	for _, a := range tr.Accounts {
		if a.Kind == kind {
			return a
		}
	}
	t.Fatalf("no %s account", kind)
	return gen.Account{}
}

func TestLoginPrimaryAdminSubAdminEmployee(t *testing.T) {
	e := newLoginEnv(t, sim.Config{})
	c := e.client()
	primary, sub := adminsOf(loginTruth)
	if primary.UserID == "" || sub.UserID == "" {
		t.Fatalf("the generated org lacks a primary admin or a sub-admin: %+v", loginTruth.Admins)
	}
	emp := employee(t, loginTruth)
	for _, tc := range []struct {
		user  string
		level int
		scope []int64
	}{
		{primary.UserID, 1, []int64{dingbook.RootDeptID}},
		{sub.UserID, 2, sub.Scope},
		{emp.UserID, 0, nil},
	} {
		q := e.loginAs(c, tc.user)
		if q.Get("code") == "" || q.Get("code") != q.Get("authCode") {
			t.Errorf("%s: the callback should carry code and authCode with one value: %v", tc.user, q)
		}
		code, err := CallbackCode(q)
		if err != nil {
			t.Fatal(err)
		}
		id, err := c.LoginWithCode(context.Background(), code)
		if err != nil {
			t.Fatalf("%s: %v", tc.user, err)
		}
		if id.UserID != tc.user || id.Person == nil || id.Person.UserID != tc.user || !id.Person.Active || id.CorpID != e.srv.CorpID() {
			t.Errorf("%s: identity %+v", tc.user, id)
		}
		if id.SysLevel != tc.level || !slices.Equal(id.AdminScope, tc.scope) {
			t.Errorf("%s: level %d scope %v, want %d %v", tc.user, id.SysLevel, id.AdminScope, tc.level, tc.scope)
		}
	}
	if len(sub.Scope) == 0 || slices.Contains(sub.Scope, dingbook.RootDeptID) {
		t.Errorf("a sub-admin's scope must be departments below the root: %v", sub.Scope)
	}
}

// refusal asserts that err is a refusal for want, with a *dingbook.Error
// carrying a hint.
func refusal(t *testing.T, name string, err error, want error) *LoginRefusal {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: admitted, want %v", name, want)
	}
	all := []error{ErrLoginDenied, ErrCodeInvalid, ErrCodeReused, ErrOtherOrg, ErrNotMember, ErrExternal, ErrInactive, ErrLeft, ErrNotVisible}
	for _, r := range all {
		if errors.Is(err, r) != (r == want) {
			t.Errorf("%s: errors.Is(%v) = %v; err = %v", name, r, !(r == want), err)
		}
	}
	var de *dingbook.Error
	if !errors.As(err, &de) || de.Hint == "" || de.Message == "" {
		t.Errorf("%s: want a *dingbook.Error with a hint, got %#v", name, err)
	}
	var lr *LoginRefusal
	if !errors.As(err, &lr) {
		t.Fatalf("%s: no *LoginRefusal in %v", name, err)
	}
	return lr
}

func TestLoginRefusals(t *testing.T) {
	ctx := context.Background()
	e := newLoginEnv(t, sim.Config{})
	c := e.client()
	emp := employee(t, loginTruth)

	// a reused code: this client remembers it; a fresh client (a restarted
	// server) hears DingTalk refuse it
	code := e.code(c, emp.UserID)
	if _, err := c.LoginWithCode(ctx, code); err != nil {
		t.Fatal(err)
	}
	refusal(t, "reused code", func() error { _, err := c.LoginWithCode(ctx, code); return err }(), ErrCodeReused)
	refusal(t, "reused code, other client", func() error { _, err := e.client().LoginWithCode(ctx, code); return err }(), ErrCodeInvalid)

	// an expired code: 5 minutes
	code = e.code(c, emp.UserID)
	e.clock.Add(5*time.Minute + time.Second)
	refusal(t, "expired code", func() error { _, err := c.LoginWithCode(ctx, code); return err }(), ErrCodeInvalid)

	// a code made up
	refusal(t, "unknown code", func() error { _, err := c.LoginWithCode(ctx, "0123456789abcdef"); return err }(), ErrCodeInvalid)

	cases := []struct {
		name string
		user string
		want error
	}{
		{"another organisation", account(t, loginTruth, gen.AccountOtherOrg).UnionID, ErrOtherOrg},
		{"outsider", account(t, loginTruth, gen.AccountOutsider).UnionID, ErrNotMember},
		{"external contact's account", account(t, loginTruth, gen.AccountExternal).UnionID, ErrExternal},
		{"inactive", inactive(t, loginTruth).UserID, ErrInactive},
		{"left (DingTalk no longer maps the account)", account(t, loginTruth, gen.AccountLeft).UnionID, ErrNotMember},
	}
	for _, tc := range cases {
		_, err := c.LoginWithCode(ctx, e.code(c, tc.user))
		lr := refusal(t, tc.name, err, tc.want)
		if lr.UnionID == "" && tc.want != ErrOtherOrg {
			t.Errorf("%s: the refusal should name the unionid for the audit: %+v", tc.name, lr)
		}
	}
	ext := account(t, loginTruth, gen.AccountExternal)
	_, err := c.LoginWithCode(ctx, e.code(c, ext.UnionID))
	if lr := refusal(t, "external", err, ErrExternal); lr.UserID != ext.UserID {
		t.Errorf("external: userid %q, want the external contact's %q", lr.UserID, ext.UserID)
	}

	// the person declines on DingTalk's page
	resp := e.page(c, "&sim_deny=1")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("error") == "" || loc.Query().Get("state") != "st-123" {
		t.Fatalf("deny: HTTP %d Location %s", resp.StatusCode, loc)
	}
	_, err = CallbackCode(loc.Query())
	refusal(t, "declined", err, ErrLoginDenied)
	_, err = CallbackCode(url.Values{"state": {"x"}})
	refusal(t, "no code", err, ErrCodeInvalid)
}

func TestLoginLeaverVariants(t *testing.T) {
	ctx := context.Background()
	left := account(t, loginTruth, gen.AccountLeft)
	e := newLoginEnv(t, sim.Config{Login: sim.LoginConfig{LeaverLookup: "stale"}})
	c := e.client()
	_, err := c.LoginWithCode(ctx, e.code(c, left.UnionID))
	if lr := refusal(t, "left (stale mapping)", err, ErrLeft); lr.UserID != left.UserID {
		t.Errorf("left: userid %q, want %q", lr.UserID, left.UserID)
	}
	// a member who has left also cannot log in when the app's org no
	// longer has them at all
	e2 := newLoginEnv(t, sim.Config{})
	c2 := e2.client()
	_, err = c2.LoginWithCode(ctx, e2.code(c2, left.UnionID))
	if lr := refusal(t, "left (gone)", err, ErrNotMember); lr.UnionID != left.UnionID {
		t.Errorf("left: unionid %q, want %q", lr.UnionID, left.UnionID)
	}
}

func TestLoginVariants(t *testing.T) {
	ctx := context.Background()
	primary, sub := adminsOf(loginTruth)
	emp := employee(t, loginTruth)
	other := account(t, loginTruth, gen.AccountOtherOrg)

	t.Run("callback with code only, then authCode only", func(t *testing.T) {
		for _, v := range []string{"code", "authCode"} {
			e := newLoginEnv(t, sim.Config{Login: sim.LoginConfig{CallbackParams: v}})
			q := e.loginAs(e.client(), emp.UserID)
			if q.Get(v) == "" || len(q) != 2 {
				t.Fatalf("%s: callback %v", v, q)
			}
			c := e.client()
			code, err := CallbackCode(q)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.LoginWithCode(ctx, code); err != nil {
				t.Fatalf("%s: %v", v, err)
			}
		}
	})
	t.Run("no corpId in the token: another org is refused by getbyunionid", func(t *testing.T) {
		e := newLoginEnv(t, sim.Config{Login: sim.LoginConfig{TokenCorpID: "never"}})
		c := e.client()
		id, err := c.LoginWithCode(ctx, e.code(c, emp.UserID))
		if err != nil || id.CorpID != "" {
			t.Fatalf("employee: %+v %v", id, err)
		}
		_, err = c.LoginWithCode(ctx, e.code(c, other.UnionID))
		refusal(t, "other org without corpId", err, ErrNotMember)
	})
	t.Run("corpId only with scope openid corpid", func(t *testing.T) {
		e := newLoginEnv(t, sim.Config{Login: sim.LoginConfig{TokenCorpID: "corpid-scope"}})
		c := e.client() // with a CorpID: asks for "openid corpid"
		id, err := c.LoginWithCode(ctx, e.code(c, emp.UserID))
		if err != nil || id.CorpID != e.srv.CorpID() {
			t.Fatalf("with corpid: %+v %v", id, err)
		}
		_, err = c.LoginWithCode(ctx, e.code(c, other.UnionID))
		refusal(t, "other org with corpid", err, ErrOtherOrg)
		bare := New(Config{BaseURL: e.url, APIV1Base: e.url, LoginBase: e.url, AppKey: e.app.Key, AppSecret: e.app.Secret, QPS: 1000, Now: e.clock.Now})
		if strings.Contains(bare.AuthorizeURL(callback, "s"), "corpid") {
			t.Fatalf("without a CorpID the scope is openid: %s", bare.AuthorizeURL(callback, "s"))
		}
		id, err = bare.LoginWithCode(ctx, e.code(bare, emp.UserID))
		if err != nil || id.CorpID != "" {
			t.Fatalf("openid only: %+v %v", id, err)
		}
	})
	t.Run("invalidCode as HTTP 409", func(t *testing.T) {
		e := newLoginEnv(t, sim.Config{Login: sim.LoginConfig{InvalidCodeStatus: 409}})
		_, err := e.client().LoginWithCode(ctx, "0123456789abcdef")
		var ve *V1Error
		if !errors.As(err, &ve) || ve.Status != 409 {
			t.Fatalf("want the 409 answer inside: %v", err)
		}
		refusal(t, "409 invalidCode", err, ErrCodeInvalid)
	})
	t.Run("same token for a repeated code: the client still refuses the replay", func(t *testing.T) {
		e := newLoginEnv(t, sim.Config{Login: sim.LoginConfig{CodeReuse: "same-token"}})
		c := e.client()
		code := e.code(c, emp.UserID)
		if _, err := c.LoginWithCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		_, err := c.LoginWithCode(ctx, code)
		refusal(t, "replay", err, ErrCodeReused)
	})
	t.Run("non-members refused on DingTalk's page", func(t *testing.T) {
		e := newLoginEnv(t, sim.Config{Login: sim.LoginConfig{NonMemberLogin: "refuse"}})
		_, err := CallbackCode(e.loginAs(e.client(), other.UnionID))
		refusal(t, "page refusal", err, ErrLoginDenied)
	})
	t.Run("admin scope variants and quoted numbers", func(t *testing.T) {
		e := newLoginEnv(t, sim.Config{StringNumbers: true, Login: sim.LoginConfig{PrimaryScope: "empty", NonAdminScope: "omit"}})
		c := e.client()
		for user, want := range map[string][]int64{primary.UserID: {1}, sub.UserID: sub.Scope, emp.UserID: nil} {
			id, err := c.LoginWithCode(ctx, e.code(c, user))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(id.AdminScope, want) {
				t.Errorf("%s: scope %v, want %v", user, id.AdminScope, want)
			}
		}
		if s, err := c.AdminScope(ctx, emp.UserID); err != nil || len(s) != 0 {
			t.Errorf("non-admin scope: %v %v", s, err)
		}
	})
	t.Run("refresh token", func(t *testing.T) {
		for _, rotate := range []bool{false, true} {
			e := newLoginEnv(t, sim.Config{Login: sim.LoginConfig{RotateRefresh: rotate}})
			c := e.client()
			tok, err := c.UserAccessToken(ctx, e.code(c, emp.UserID))
			if err != nil {
				t.Fatal(err)
			}
			e.srv.ExpireUserTokens()
			if _, err := c.UsersMe(ctx, tok.AccessToken); err == nil {
				t.Fatal("an expired user token was accepted")
			}
			tok2, err := c.RefreshUserToken(ctx, tok.RefreshToken)
			if err != nil {
				t.Fatal(err)
			}
			me, err := c.UsersMe(ctx, tok2.AccessToken)
			if err != nil || me.UnionID != emp.UnionID {
				t.Fatalf("after refresh: %+v %v", me, err)
			}
			_, err = c.RefreshUserToken(ctx, tok.RefreshToken)
			if rotate != (err != nil) {
				t.Errorf("rotate=%v: reusing the old refresh token gave %v", rotate, err)
			}
		}
	})
}

func TestLoginPage(t *testing.T) {
	org := loginTruth.Org
	org.People = slices.Clone(org.People)
	primary, _ := adminsOf(loginTruth)
	for i := range org.People {
		if org.People[i].UserID == primary.UserID {
			org.People[i].Name = `<img src=x onerror=alert(1)>`
		}
	}
	e := newLoginEnv(t, sim.Config{Org: &org, Apps: []sim.App{func() sim.App {
		a := sim.DefaultApp()
		a.RedirectURIs = []string{callback}
		return a
	}()}})
	c := e.client()
	resp := e.page(c, "")
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("picker: HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if strings.Contains(page, "<img src=x") || !strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("the picker must escape names:\n%s", page)
	}
	for _, want := range []string{`name="sim_user" value="` + primary.UserID + `"`, `name="redirect_uri" value="` + callback + `"`, `name="sim_deny"`, "outsider", "external"} {
		if !strings.Contains(page, want) {
			t.Errorf("picker lacks %q", want)
		}
	}
	// what the page refuses
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for name, u := range map[string]string{
		"unregistered redirect_uri": strings.Replace(c.AuthorizeURL("https://evil.example.com/cb", "s"), "", "", 1),
		"unknown client_id":         strings.Replace(c.AuthorizeURL(callback, "s"), "client_id="+e.app.Key, "client_id=nope", 1),
		"bad response_type":         strings.Replace(c.AuthorizeURL(callback, "s"), "response_type=code", "response_type=token", 1),
		"bad scope":                 strings.Replace(c.AuthorizeURL(callback, "s"), "scope=openid", "scope=email", 1),
		"unknown user":              c.AuthorizeURL(callback, "s") + "&sim_user=nobody",
	} {
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", name, resp.StatusCode)
		}
	}
}

func TestLoginInApp(t *testing.T) {
	ctx := context.Background()
	e := newLoginEnv(t, sim.Config{})
	c := e.client()
	primary, sub := adminsOf(loginTruth)
	emp := employee(t, loginTruth)
	for _, tc := range []struct {
		user  string
		level int
	}{{primary.UserID, 1}, {sub.UserID, 2}, {emp.UserID, 0}} {
		code, err := e.srv.InAppCode(tc.user)
		if err != nil {
			t.Fatal(err)
		}
		id, err := c.LoginInApp(ctx, code)
		if err != nil {
			t.Fatalf("%s: %v", tc.user, err)
		}
		if id.UserID != tc.user || id.SysLevel != tc.level || id.UnionID == "" {
			t.Errorf("%s: %+v", tc.user, id)
		}
		// the code is single-use
		refusal(t, "in-app reuse", func() error { _, err := c.LoginInApp(ctx, code); return err }(), ErrCodeReused)
		refusal(t, "in-app reuse, other client", func() error { _, err := e.client().LoginInApp(ctx, code); return err }(), ErrCodeInvalid)
	}
	code, _ := e.srv.InAppCode(primary.UserID)
	u, err := e.client().GetUserInfo(ctx, code)
	if err != nil || u.SysLevel != 1 || !u.Sys {
		t.Errorf("getuserinfo for the primary admin: %+v %v", u, err)
	}
	// an OAuth code is not an in-app code (40078), and the reverse
	oauth := e.code(c, emp.UserID)
	refusal(t, "oauth code in-app", func() error { _, err := c.LoginInApp(ctx, oauth); return err }(), ErrCodeInvalid)
	inapp, _ := e.srv.InAppCode(emp.UserID)
	refusal(t, "in-app code for a token", func() error { _, err := c.LoginWithCode(ctx, inapp); return err }(), ErrCodeInvalid)
	// expiry and inactive people
	inapp, _ = e.srv.InAppCode(emp.UserID)
	e.clock.Add(6 * time.Minute)
	refusal(t, "expired in-app code", func() error { _, err := c.LoginInApp(ctx, inapp); return err }(), ErrCodeInvalid)
	in, _ := e.srv.InAppCode(inactive(t, loginTruth).UserID)
	refusal(t, "inactive in-app", func() error { _, err := c.LoginInApp(ctx, in); return err }(), ErrInactive)
	// outside the app's range: 40079
	e2 := newLoginEnv(t, sim.Config{Apps: []sim.App{func() sim.App {
		a := sim.DefaultApp()
		a.RangeUsers = []string{primary.UserID}
		return a
	}()}})
	code, _ = e2.srv.InAppCode(emp.UserID)
	refusal(t, "out of range", func() error { _, err := e2.client().LoginInApp(ctx, code); return err }(), ErrNotVisible)
}

func TestUsersMePermissions(t *testing.T) {
	ctx := context.Background()
	emp := employee(t, loginTruth)
	e := newLoginEnv(t, sim.Config{})
	c := e.client()
	tok, err := c.UserAccessToken(ctx, e.code(c, emp.UserID))
	if err != nil {
		t.Fatal(err)
	}
	me, err := c.UsersMe(ctx, tok.AccessToken)
	if err != nil || me.UnionID != emp.UnionID || me.Nick != emp.Name || me.Mobile != emp.Mobile || me.OpenID == "" {
		t.Fatalf("users/me: %+v %v", me, err)
	}
	// an app token is not a user token
	appTok, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UsersMe(ctx, appTok); err == nil {
		t.Error("users/me accepted an app token")
	}
	// without Contact.User.mobile no mobile; without Contact.User.Read a
	// permission error naming the scope
	noMobile := sim.DefaultApp()
	noMobile.Scopes = slices.DeleteFunc(slices.Clone(sim.AllReadScopes), func(s string) bool { return s == "Contact.User.mobile" })
	e2 := newLoginEnv(t, sim.Config{Apps: []sim.App{noMobile}})
	c2 := e2.client()
	tok, _ = c2.UserAccessToken(ctx, e2.code(c2, emp.UserID))
	if me, err := c2.UsersMe(ctx, tok.AccessToken); err != nil || me.Mobile != "" || me.UnionID != emp.UnionID {
		t.Errorf("without Contact.User.mobile: %+v %v", me, err)
	}
	noRead := sim.DefaultApp()
	noRead.Scopes = slices.DeleteFunc(slices.Clone(sim.AllReadScopes), func(s string) bool { return s == "Contact.User.Read" })
	e3 := newLoginEnv(t, sim.Config{Apps: []sim.App{noRead}})
	c3 := e3.client()
	tok, _ = c3.UserAccessToken(ctx, e3.code(c3, emp.UserID))
	_, err = c3.UsersMe(ctx, tok.AccessToken)
	if dingbook.ErrorCode(err) != dingbook.EPERM || !strings.Contains(err.Error(), "Contact.User.Read") {
		t.Errorf("without Contact.User.Read: %v", err)
	}
	// a wrong secret is a credential error, not a code problem
	bad := New(Config{BaseURL: e.url, APIV1Base: e.url, AppKey: e.app.Key, AppSecret: "wrong"})
	_, err = bad.UserAccessToken(ctx, e.code(c, emp.UserID))
	if dingbook.ErrorCode(err) != dingbook.EAUTH || errors.Is(err, ErrCodeInvalid) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong secret: %v", err)
	}
}

func TestRolesMatchAdminState(t *testing.T) {
	ctx := context.Background()
	e := newLoginEnv(t, sim.Config{})
	c := e.client()
	admins, err := c.ListAdmin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	primaries := 0
	for _, a := range admins {
		if a.SysLevel == 1 {
			primaries++
		}
	}
	if primaries != 1 || len(admins) != len(loginTruth.Admins) {
		t.Errorf("listadmin %+v, want one primary among %d admins", admins, len(loginTruth.Admins))
	}
	_, sub := adminsOf(loginTruth)
	p, err := c.GetUser(ctx, sub.UserID)
	if err != nil || !p.Admin {
		t.Fatalf("sub-admin: %+v %v", p, err)
	}
	var roles struct {
		RoleList []struct {
			Name Str `json:"name"`
		} `json:"role_list"`
	}
	if err := c.Call(ctx, APIUserGet, map[string]any{"userid": sub.UserID}, &roles, ""); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(roles.RoleList, func(r struct {
		Name Str `json:"name"`
	}) bool {
		return r.Name == "子管理员"
	}) {
		t.Errorf("v2/user/get role_list of a sub-admin: %+v", roles.RoleList)
	}
	var list struct {
		List []struct {
			UserID       Str `json:"userid"`
			ManageScopes []struct {
				DeptID Int `json:"dept_id"`
			} `json:"manageScopes"`
		} `json:"list"`
	}
	if err := c.Call(ctx, "topapi/role/simplelist", map[string]any{"role_id": 1507113579}, &list, ""); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range list.List {
		if string(m.UserID) == sub.UserID {
			found = true
			var ids []int64
			for _, s := range m.ManageScopes {
				ids = append(ids, int64(s.DeptID))
			}
			if !slices.Equal(ids, sub.Scope) {
				t.Errorf("manageScopes %v, get_admin_scope %v", ids, sub.Scope)
			}
		}
	}
	if !found {
		t.Errorf("role/simplelist 子管理员 lacks %s: %+v", sub.UserID, list)
	}
	if _, err := c.AdminScope(ctx, "nobody"); Code(err) != CodeUserNotFound {
		t.Errorf("get_admin_scope of an unknown userid: %v", err)
	}
}

func TestSendWorkNotice(t *testing.T) {
	ctx := context.Background()
	e := newLoginEnv(t, sim.Config{})
	c := e.client()
	primary, sub := adminsOf(loginTruth)
	msg := TextMsg("查看配额: 张三 exceeded the hourly quota")
	tasks, err := c.SendWorkNotice(ctx, WorkNotice{UserIDs: []string{primary.UserID, sub.UserID}, Msg: msg})
	if err != nil || len(tasks) != 1 || tasks[0] == 0 {
		t.Fatalf("send: %v %v", tasks, err)
	}
	got := e.srv.Notices()
	if len(got) != 1 || got[0].TaskID != tasks[0] || got[0].AgentID != e.app.AgentID ||
		!slices.Equal(got[0].Delivered, []string{primary.UserID, sub.UserID}) || !strings.Contains(string(got[0].Msg), "exceeded the hourly quota") {
		t.Fatalf("recorded %+v", got)
	}
	// the same content to the same person the same day is accepted but
	// not delivered
	if _, err := c.SendWorkNotice(ctx, WorkNotice{UserIDs: []string{primary.UserID}, Msg: msg}); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.Notices(); len(got) != 2 || len(got[1].Delivered) != 0 || !slices.Equal(got[1].Dropped, []string{primary.UserID}) {
		t.Errorf("repeat: %+v", got[1])
	}
	// a department reaches its sub-departments; 250 userids take 3 calls
	var many []string
	for _, p := range loginTruth.Org.People[:250] {
		many = append(many, p.UserID)
	}
	tasks, err = c.SendWorkNotice(ctx, WorkNotice{UserIDs: many, DeptIDs: sub.Scope, Msg: MarkdownMsg("t", "x")})
	if err != nil || len(tasks) != 3 {
		t.Fatalf("batches: %v %v", tasks, err)
	}
	// refusals before any call
	for name, n := range map[string]WorkNotice{
		"no recipients": {Msg: msg},
		"no msgtype":    {UserIDs: []string{"a"}, Msg: map[string]any{"text": "x"}},
		"too long":      {UserIDs: []string{"a"}, Msg: TextMsg(strings.Repeat("长", 700))},
	} {
		if _, err := c.SendWorkNotice(ctx, n); dingbook.ErrorCode(err) != dingbook.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	noAgent := New(Config{BaseURL: e.url, AppKey: e.app.Key, AppSecret: e.app.Secret})
	if _, err := noAgent.SendWorkNotice(ctx, WorkNotice{UserIDs: []string{"a"}, Msg: msg}); dingbook.ErrorCode(err) != dingbook.EINVALID ||
		!strings.Contains(dingbook.ErrorHint(err), "DINGTALK_AGENT_ID") {
		t.Errorf("no agent id: %v", err)
	}
	wrongAgent := New(Config{BaseURL: e.url, AppKey: e.app.Key, AppSecret: e.app.Secret, AgentID: 42})
	if _, err := wrongAgent.SendWorkNotice(ctx, WorkNotice{UserIDs: []string{"a"}, Msg: msg}); err == nil {
		t.Error("a foreign agent_id was accepted")
	}
	if n := len(e.srv.Notices()); n != 5 {
		t.Errorf("%d notices recorded, want 5", n)
	}
}

// A code exchange is never retried (the first attempt may have used the
// code up); the other login calls are.
func TestCodeExchangeNotRetried(t *testing.T) {
	ctx := context.Background()
	e := newLoginEnv(t, sim.Config{})
	c := e.client()
	emp := employee(t, loginTruth)
	code := e.code(c, emp.UserID)
	e.srv.SetFaults(sim.Faults{HTTP5xxRate: 1})
	_, err := c.UserAccessToken(ctx, code)
	if err == nil || errors.Is(err, ErrCodeInvalid) || dingbook.ErrorCode(err) != dingbook.EINTERNAL {
		t.Fatalf("a failing exchange: %v", err)
	}
	if n := e.srv.Calls()["/v1.0/oauth2/userAccessToken"]; n != 1 {
		t.Errorf("the exchange was sent %d times, want once", n)
	}
	e.srv.SetFaults(sim.Faults{})
	c2 := e.client()
	tok, err := c2.UserAccessToken(ctx, e.code(c2, emp.UserID))
	if err != nil {
		t.Fatal(err)
	}
	c2.cfg.MaxRetries = 2
	e.srv.SetFaults(sim.Faults{HTTP5xxRate: 1})
	if _, err := c2.UsersMe(ctx, tok.AccessToken); err == nil {
		t.Fatal("users/me succeeded against a failing server")
	}
	if n := e.srv.Calls()["/v1.0/contact/users/me"]; n != 3 {
		t.Errorf("users/me was sent %d times, want 3 (1 + 2 retries)", n)
	}
}

// The v1.0 login calls are paced and wait out DingTalk's throttling.
func TestUsersMeThrottled(t *testing.T) {
	ctx := context.Background()
	// throttling windows need the real clock
	e := newLoginEnv(t, sim.Config{QPS: 5, Now: time.Now})
	c := e.client()
	c.cfg.QPS, c.cfg.Now = 50, time.Now
	emp := employee(t, loginTruth)
	tok, err := c.UserAccessToken(ctx, e.code(c, emp.UserID))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if me, err := c.UsersMe(ctx, tok.AccessToken); err != nil || me.UnionID != emp.UnionID {
				t.Errorf("users/me: %v", err)
			}
		}()
	}
	wg.Wait()
	if st := c.Stats(); st.Throttled == 0 || st.Calls[APIUsersMe] <= 12 {
		t.Errorf("the server's limit was never hit or not retried: %+v", st)
	}
}

// The admin state and the login follow the organisation's changes
// (sim's mutate.go): SetAdmin shows in listadmin, get_admin_scope,
// v2/user/get's role_list, the browser login's level and scope and the
// in-app sys_level, flipped on and off again; a person RemoveUser takes
// out is no longer an admin and logs in as a former member (refused as
// an outsider, or as a leaver when getbyunionid still maps the account).
func TestLoginFollowsOrgChanges(t *testing.T) {
	ctx := context.Background()
	emp := employee(t, loginTruth)
	_, sub := adminsOf(loginTruth)
	roleNames := func(c *Client, userid string) []string {
		t.Helper()
		var raw struct {
			RoleList []struct {
				Name Str `json:"name"`
			} `json:"role_list"`
		}
		if err := c.Call(ctx, APIUserGet, map[string]any{"userid": userid}, &raw, ""); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range raw.RoleList {
			out = append(out, string(r.Name))
		}
		return out
	}
	listed := func(c *Client, userid string) int {
		t.Helper()
		admins, err := c.ListAdmin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range admins {
			if a.UserID == userid {
				return a.SysLevel
			}
		}
		return 0
	}
	check := func(e *loginEnv, admin bool) {
		t.Helper()
		c := e.client()
		id, err := c.LoginWithCode(ctx, e.code(c, emp.UserID))
		if err != nil {
			t.Fatal(err)
		}
		scope, err := c.AdminScope(ctx, emp.UserID)
		if err != nil {
			t.Fatal(err)
		}
		code, err := e.srv.InAppCode(emp.UserID)
		if err != nil {
			t.Fatal(err)
		}
		inApp, err := c.GetUserInfo(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		roles := roleNames(c, emp.UserID)
		if admin {
			if id.SysLevel != 2 || len(id.AdminScope) == 0 || !slices.Equal(id.AdminScope, scope) || listed(c, emp.UserID) != 2 ||
				!slices.Contains(roles, "子管理员") || !inApp.Sys || inApp.SysLevel != 2 {
				t.Errorf("after SetAdmin(true): login %d %v, get_admin_scope %v, listadmin %d, role_list %v, in-app %+v",
					id.SysLevel, id.AdminScope, scope, listed(c, emp.UserID), roles, inApp)
			}
			return
		}
		if id.SysLevel != 0 || id.AdminScope != nil || len(scope) != 0 || listed(c, emp.UserID) != 0 ||
			slices.Contains(roles, "子管理员") || inApp.Sys || inApp.SysLevel != 0 {
			t.Errorf("not an admin: login %d %v, get_admin_scope %v, listadmin %d, role_list %v, in-app %+v",
				id.SysLevel, id.AdminScope, scope, listed(c, emp.UserID), roles, inApp)
		}
	}

	e := newLoginEnv(t, sim.Config{})
	check(e, false)
	for _, admin := range []bool{true, false, true} {
		if err := e.srv.SetAdmin(emp.UserID, admin); err != nil {
			t.Fatal(err)
		}
		check(e, admin)
	}

	// an override of the admin state follows SetAdmin too
	primary, _ := adminsOf(loginTruth)
	e = newLoginEnv(t, sim.Config{Login: sim.LoginConfig{Admins: []gen.Admin{primary}}})
	if err := e.srv.SetAdmin(emp.UserID, true); err != nil {
		t.Fatal(err)
	}
	check(e, true)
	if err := e.srv.SetAdmin(emp.UserID, false); err != nil {
		t.Fatal(err)
	}
	check(e, false)

	// a leaver: no longer an admin, and refused as the variant says
	for _, tc := range []struct {
		lookup string
		want   error
	}{{"", ErrNotMember}, {"stale", ErrLeft}} {
		e := newLoginEnv(t, sim.Config{Login: sim.LoginConfig{LeaverLookup: tc.lookup}})
		c := e.client()
		if listed(c, sub.UserID) != 2 {
			t.Fatalf("%s is not listed as a sub-admin", sub.UserID)
		}
		if err := e.srv.RemoveUser(sub.UserID); err != nil {
			t.Fatal(err)
		}
		if listed(c, sub.UserID) != 0 {
			t.Errorf("%s left but listadmin still names them", sub.UserID)
		}
		if _, err := c.AdminScope(ctx, sub.UserID); Code(err) != CodeUserNotFound {
			t.Errorf("get_admin_scope of a leaver: %v", err)
		}
		if slices.ContainsFunc(e.srv.Admins(), func(a gen.Admin) bool { return a.UserID == sub.UserID }) {
			t.Errorf("the simulator's admin state keeps the leaver %s", sub.UserID)
		}
		for _, key := range []string{sub.UserID, loginPerson(t, sub.UserID).UnionID} {
			_, err := c.LoginWithCode(ctx, e.code(c, key))
			lr := refusal(t, "leaver "+tc.lookup+" by "+key, err, tc.want)
			if lr.UnionID != loginPerson(t, sub.UserID).UnionID && lr.UserID != sub.UserID {
				t.Errorf("leaver %s: the refusal names neither the unionid nor the userid: %+v", tc.lookup, lr)
			}
		}
		if _, err := e.srv.InAppCode(sub.UserID); err == nil {
			t.Error("a leaver opened the app inside DingTalk")
		}
	}
}

func loginPerson(t *testing.T, userid string) dingbook.Person {
	t.Helper()
	for _, p := range loginTruth.Org.People {
		if p.UserID == userid {
			return p
		}
	}
	t.Fatalf("no person %s", userid)
	return dingbook.Person{}
}
