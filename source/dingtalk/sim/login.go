package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/gen"
)

// LoginConfig configures DingTalk login, roles and work notices
// (serve.md §A, checklist items 33–39). Where serve.md marks the real
// behaviour UNCONFIRMED, a field chooses the variant; the zero value is
// the default named in its comment.
type LoginConfig struct {
	// CorpID is the organisation's corpId (default Org.CorpID, else one
	// derived from Seed).
	CorpID string
	// Admins overrides the admin state (of the people still in the org;
	// SetAdmin adds or drops a person). By default it is gen.AdminsOf of
	// the org as served, derived again after every change (mutate.go; the
	// same as Truth.Admins until then).
	Admins []gen.Admin
	// Accounts overrides the non-member accounts (default Truth.Accounts,
	// else gen.AccountsOf(org, Seed)). A member removed by RemoveUser
	// becomes a former member's account (gen.AccountLeft).
	Accounts []gen.Account
	// CodeTTL is the lifetime of auth codes, OAuth and in-app (default 5
	// minutes; single use either way).
	CodeTTL time.Duration
	// UserTokenTTL is the lifetime of user access tokens (default 7200 s);
	// refresh tokens live 30 days.
	UserTokenTTL time.Duration
	// TokenCorpID says when userAccessToken returns corpId: "always"
	// (default), "corpid-scope" (only when the login asked for scope
	// "openid corpid") or "never". UNCONFIRMED.
	TokenCorpID string
	// CodeReuse is what a second exchange of the same code gets: "refuse"
	// (default: 400 invalidCode) or "same-token" (the token issued for it,
	// per the doc's "a repeat request returns the same token"). UNCONFIRMED.
	CodeReuse string
	// InvalidCodeStatus is the HTTP status of invalidCode: 400 (default)
	// or 409; the error table lists both ("400/409 invalidCode").
	InvalidCodeStatus int
	// RotateRefresh makes a refresh return a new refresh token and void the
	// old one (default: the same refresh token). UNCONFIRMED.
	RotateRefresh bool
	// CallbackParams names the code parameters of the login callback:
	// "both" (default, code and authCode, as observed), "code" or
	// "authCode".
	CallbackParams string
	// NonMemberLogin is what the login page does for an account that is
	// not a member: "allow" (default: issue a code; the API calls refuse
	// later) or "refuse" (redirect with error=user_not_in_org).
	NonMemberLogin string
	// BossSysLevel is getuserinfo's sys_level for a boss who is also an
	// admin: 0 (default) gives the admin level, 100 gives 100. UNCONFIRMED.
	BossSysLevel int
	// PrimaryScope is get_admin_scope for the primary admin: "root"
	// (default, [1]) or "empty" ([]). UNCONFIRMED.
	PrimaryScope string
	// NonAdminScope is get_admin_scope for a non-admin: "empty" (default,
	// dept_ids []) or "omit" (no dept_ids). UNCONFIRMED.
	NonAdminScope string
	// LeaverLookup is getbyunionid for a former member: "gone" (default,
	// 60121 like an outsider) or "stale" (contact_type 0 with the old
	// userid, then v2/user/get answers 60121).
	LeaverLookup string
	// NoticeMaxUsers is the most userids one asyncsend_v2 call takes
	// (default 100, as the current doc says; the Java SDK says 5000).
	NoticeMaxUsers int
}

type loginState struct {
	cfg    LoginConfig
	corpID string
	// accounts are the non-members by unionid and by userid; like the org
	// they are guarded by Server.data (RemoveUser adds leavers).
	accounts     map[string]*gen.Account
	accountsByID map[string]*gen.Account
	accountSeq   []gen.Account
	// override is cfg.Admins as SetAdmin changed it (nil: derive the
	// admin state from the org); guarded by Server.data.
	override []gen.Admin

	mu sync.Mutex
	// adminSeq and admins are the admin state derived from the org (or
	// cfg.Admins); nil until asked for, and voided by every org change
	// (orgChanged).
	adminSeq   []gen.Admin
	admins     map[string]gen.Admin
	codes      map[string]*authCode
	userTokens map[string]*userToken
	refresh    map[string]*userToken
	notices    []Notice
	delivered  map[string]bool
	daily      map[string]int
	nextTask   int64
}

type authCode struct {
	inApp    bool
	app      string
	unionID  string
	userID   string // in-app codes
	corpID   string
	withCorp bool
	expires  time.Time
	used     bool
	token    *userToken
}

type userToken struct {
	token, refresh string
	app            string
	unionID        string
	corpID         string
	expires        time.Time
	refreshExpires time.Time
}

func (s *Server) initLogin() {
	lc := s.cfg.Login
	l := &loginState{cfg: lc, codes: map[string]*authCode{}, userTokens: map[string]*userToken{},
		refresh: map[string]*userToken{}, delivered: map[string]bool{}, daily: map[string]int{}, nextTask: 256271667000,
		accounts: map[string]*gen.Account{}, accountsByID: map[string]*gen.Account{}}
	l.corpID = lc.CorpID
	if lc.Admins != nil {
		l.override = slices.Clone(lc.Admins)
	}
	if l.corpID == "" {
		l.corpID = s.org.CorpID
	}
	if l.corpID == "" {
		sum := sha256.Sum256(fmt.Appendf(nil, "dingbook simulator corp %d", s.cfg.Seed))
		l.corpID = "ding" + hex.EncodeToString(sum[:8])
	}
	accounts := lc.Accounts
	if accounts == nil {
		if s.cfg.Truth != nil && s.cfg.Truth.Accounts != nil {
			accounts = s.cfg.Truth.Accounts
		} else {
			accounts = gen.AccountsOf(s.org, s.cfg.Seed)
		}
	}
	l.accountSeq = append([]gen.Account(nil), accounts...)
	for i := range l.accountSeq {
		a := &l.accountSeq[i]
		l.accounts[a.UnionID] = a
		if a.UserID != "" {
			l.accountsByID[a.UserID] = a
		}
	}
	if l.cfg.CodeTTL <= 0 {
		l.cfg.CodeTTL = 5 * time.Minute
	}
	if l.cfg.UserTokenTTL <= 0 {
		l.cfg.UserTokenTTL = 7200 * time.Second
	}
	if l.cfg.NoticeMaxUsers <= 0 {
		l.cfg.NoticeMaxUsers = 100
	}
	s.login = l
}

// CorpID returns the organisation's corpId.
func (s *Server) CorpID() string { return s.login.corpID }

// Admins returns the admin state served (primary admin first when the
// org lists it first).
func (s *Server) Admins() []gen.Admin {
	s.data.RLock()
	defer s.data.RUnlock()
	seq, _ := s.adminState()
	return append([]gen.Admin(nil), seq...)
}

// DemoLogins returns three people to log in as: the primary admin, a
// sub-admin and an ordinary employee (active, not the boss, not
// restricted); "" where the org has none.
func (s *Server) DemoLogins() (primary, subAdmin, employee string) {
	s.data.RLock()
	defer s.data.RUnlock()
	seq, adminOf := s.adminState()
	for _, a := range seq {
		if a.SysLevel == 1 && primary == "" {
			primary = a.UserID
		}
		if a.SysLevel == 2 && subAdmin == "" {
			subAdmin = a.UserID
		}
	}
	for i := range s.org.People {
		p := &s.org.People[i]
		if _, admin := adminOf[p.UserID]; !admin && p.Active && !p.Boss && !s.restricted[p.UserID] && p.UnionID != "" {
			return primary, subAdmin, p.UserID
		}
	}
	return primary, subAdmin, ""
}

// adminFlagChanged keeps an admin override (LoginConfig.Admins) in step
// with SetAdmin: a person made admin gets the entry gen.AdminsOf derives
// for them in org (a sub-admin when the override has a primary admin), a
// person no longer admin is dropped. s.data must be held for writing.
func (l *loginState) adminFlagChanged(org *dingbook.Org, userid string, admin bool) {
	if l.override == nil {
		return
	}
	l.override = slices.DeleteFunc(l.override, func(a gen.Admin) bool { return a.UserID == userid })
	if !admin {
		return
	}
	for _, a := range gen.AdminsOf(org) {
		if a.UserID != userid {
			continue
		}
		if a.SysLevel == 1 && slices.ContainsFunc(l.override, func(b gen.Admin) bool { return b.SysLevel == 1 }) {
			a.SysLevel = 2
		}
		l.override = append(l.override, a)
	}
}

// orgChanged voids the admin state derived from the org before a change
// (index calls it with s.data held for writing).
func (l *loginState) orgChanged() {
	l.mu.Lock()
	l.adminSeq, l.admins = nil, nil
	l.mu.Unlock()
}

// adminState returns the admin state of the org as it is now: the
// LoginConfig's, else gen.AdminsOf, kept to the people in the org. It is
// derived once per version of the org; s.data must be held.
func (s *Server) adminState() ([]gen.Admin, map[string]gen.Admin) {
	l := s.login
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.admins != nil {
		return l.adminSeq, l.admins
	}
	list := l.override
	if list == nil {
		list = gen.AdminsOf(s.org)
	}
	l.adminSeq, l.admins = nil, map[string]gen.Admin{}
	for _, a := range list {
		if s.people[a.UserID] != nil {
			l.adminSeq = append(l.adminSeq, a)
			l.admins[a.UserID] = a
		}
	}
	return l.adminSeq, l.admins
}

// Accounts returns the non-member accounts served, in order (leavers
// removed by RemoveUser last).
func (s *Server) Accounts() []gen.Account {
	s.data.RLock()
	defer s.data.RUnlock()
	return s.accounts()
}

// accounts is Accounts with s.data held.
func (s *Server) accounts() []gen.Account { return append([]gen.Account(nil), s.login.accountSeq...) }

// addAccount records a non-member account; s.data must be held for
// writing.
func (l *loginState) addAccount(a gen.Account) {
	l.accountSeq = append(l.accountSeq, a)
	p := &a
	l.accounts[a.UnionID] = p
	if a.UserID != "" {
		l.accountsByID[a.UserID] = p
	}
}

// leaverAccount is the DingTalk account a member keeps after leaving
// (RemoveUser): a former member's, which the login refuses as
// LeaverLookup says.
func leaverAccount(p *dingbook.Person) gen.Account {
	return gen.Account{Kind: gen.AccountLeft, UnionID: p.UnionID, UserID: p.UserID, Name: p.Name,
		StateCode: p.StateCode, Mobile: p.Mobile, Email: strings.TrimSpace(p.Email)}
}

// identity is who a login picks: a member (person) or another account.
type identity struct {
	person  *dingbook.Person
	account *gen.Account
}

func (id identity) unionID() string {
	if id.person != nil {
		return id.person.UnionID
	}
	return id.account.UnionID
}

func (id identity) name() string {
	if id.person != nil {
		return id.person.Name
	}
	return id.account.Name
}

// corp is the organisation the account logs in as (the org for members).
func (s *Server) corpOf(id identity) string {
	if id.person != nil {
		return s.login.corpID
	}
	return id.account.CorpID
}

// lookupIdentity finds a person by userid or unionid, or an account by
// unionid or userid.
func (s *Server) lookupIdentity(key string) (identity, bool) {
	if p := s.people[key]; p != nil && p.UnionID != "" {
		return identity{person: p}, true
	}
	if p := s.byUnion[key]; p != nil {
		return identity{person: p}, true
	}
	if a := s.login.accounts[key]; a != nil {
		return identity{account: a}, true
	}
	if a := s.login.accountsByID[key]; a != nil {
		return identity{account: a}, true
	}
	return identity{}, false
}

// LoginCode issues an OAuth auth code for the first app, as the login page
// does when user (a userid or unionid of a member, or of a non-member
// account) logs in; withCorp is scope "openid corpid". It is the test hook
// that skips the page.
func (s *Server) LoginCode(user string, withCorp bool) (string, error) {
	s.data.RLock()
	defer s.data.RUnlock()
	return s.issueCode(s.cfg.Apps[0].Key, user, withCorp)
}

func (s *Server) issueCode(appKey, user string, withCorp bool) (string, error) {
	id, ok := s.lookupIdentity(user)
	if !ok {
		return "", fmt.Errorf("sim: no DingTalk account %q", user)
	}
	code := newToken()
	l := s.login
	l.mu.Lock()
	l.codes[code] = &authCode{app: appKey, unionID: id.unionID(), corpID: s.corpOf(id), withCorp: withCorp,
		expires: s.cfg.Now().Add(l.cfg.CodeTTL)}
	l.mu.Unlock()
	return code, nil
}

// InAppCode issues an in-app auth code (dd.requestAuthCode inside the
// DingTalk client, "免登") for userid and the first app. These codes work
// only with topapi/v2/user/getuserinfo.
func (s *Server) InAppCode(userid string) (string, error) {
	s.data.RLock()
	defer s.data.RUnlock()
	p := s.people[userid]
	if p == nil {
		return "", fmt.Errorf("sim: %q is not a member; only members open the app inside DingTalk", userid)
	}
	code := newToken()
	l := s.login
	l.mu.Lock()
	l.codes[code] = &authCode{inApp: true, app: s.cfg.Apps[0].Key, unionID: p.UnionID, userID: p.UserID,
		corpID: l.corpID, expires: s.cfg.Now().Add(l.cfg.CodeTTL)}
	l.mu.Unlock()
	return code, nil
}

// ---- the login page (login.dingtalk.com/oauth2/auth) ----

var pickerTmpl = template.Must(template.New("picker").Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>钉钉登录 (simulator)</title></head>
<body>
<h1>钉钉登录 · DingTalk login (simulator)</h1>
<p>Choose who logs in to {{.App}}. Tests can skip this page with <code>sim_user=USERID</code>.</p>
<form method="get" action="/oauth2/auth">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}{{range .Groups}}<h2>{{.Title}}</h2>
<ul>
{{range .People}}<li><button type="submit" name="sim_user" value="{{.Key}}">{{.Name}}</button> {{.Note}}</li>
{{end}}</ul>
{{end}}<p><label>Any userid or unionid: <input name="sim_user"></label> <button type="submit">Log in</button></p>
<p><button type="submit" name="sim_deny" value="1">拒绝 · Deny</button></p>
</form>
</body></html>
`))

type pickerEntry struct{ Key, Name, Note string }

type pickerGroup struct {
	Title  string
	People []pickerEntry
}

func (s *Server) loginError(w http.ResponseWriter, status int, msg string) {
	s.logf("sim: GET /oauth2/auth → %d %s", status, msg)
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>错误</title></head><body><h1>登录失败</h1><p>%s</p></body></html>",
		template.HTMLEscapeString(msg))
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	app := s.apps[q.Get("client_id")]
	if app == nil {
		s.loginError(w, http.StatusBadRequest, "client_id 无效 (unknown client_id)")
		return
	}
	if q.Get("response_type") != "code" {
		s.loginError(w, http.StatusBadRequest, "response_type 必须为 code")
		return
	}
	if q.Get("prompt") != "consent" {
		s.loginError(w, http.StatusBadRequest, "prompt 必须为 consent")
		return
	}
	var withCorp bool
	switch strings.Join(strings.Fields(q.Get("scope")), " ") {
	case "openid":
	case "openid corpid", "corpid openid":
		withCorp = true
	default:
		s.loginError(w, http.StatusBadRequest, "scope 只能为 openid 或 openid corpid")
		return
	}
	ru, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || (ru.Scheme != "http" && ru.Scheme != "https") || ru.Host == "" {
		s.loginError(w, http.StatusBadRequest, "redirect_uri 无效")
		return
	}
	if len(app.RedirectURIs) > 0 {
		ok := false
		bare := *ru
		bare.RawQuery, bare.Fragment = "", ""
		for _, reg := range app.RedirectURIs {
			ok = ok || reg == bare.String() || reg == ru.String()
		}
		if !ok {
			s.loginError(w, http.StatusBadRequest, "redirect_uri 与应用配置的重定向URL不一致")
			return
		}
	}
	back := func(params url.Values) {
		rq := ru.Query()
		for k, v := range params {
			rq[k] = v
		}
		if st := q.Get("state"); st != "" || q.Has("state") {
			rq.Set("state", st)
		}
		to := *ru
		to.RawQuery = rq.Encode()
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, to.String(), http.StatusFound)
	}
	if q.Get("sim_deny") != "" {
		s.logf("sim: GET /oauth2/auth → denied")
		back(url.Values{"error": {"access_denied"}})
		return
	}
	var user string
	for _, u := range q["sim_user"] {
		if u = strings.TrimSpace(u); u != "" {
			user = u
		}
	}
	if user == "" {
		s.picker(w, q, app)
		return
	}
	id, ok := s.lookupIdentity(user)
	if !ok {
		s.loginError(w, http.StatusBadRequest, "没有这个钉钉账号 (no DingTalk account "+user+")")
		return
	}
	if s.corpOf(id) != s.login.corpID && s.login.cfg.NonMemberLogin == "refuse" {
		s.logf("sim: GET /oauth2/auth → refused non-member")
		back(url.Values{"error": {"user_not_in_org"}})
		return
	}
	code, _ := s.issueCode(app.Key, user, withCorp)
	s.logf("sim: GET /oauth2/auth app=%s → code", app.Key)
	switch s.login.cfg.CallbackParams {
	case "code":
		back(url.Values{"code": {code}})
	case "authCode":
		back(url.Values{"authCode": {code}})
	default:
		back(url.Values{"code": {code}, "authCode": {code}})
	}
}

func (s *Server) picker(w http.ResponseWriter, q url.Values, app *appState) {
	var hidden []struct{ Name, Value string }
	for _, k := range []string{"client_id", "response_type", "scope", "prompt", "redirect_uri", "state", "org_type", "corpId"} {
		if q.Has(k) {
			hidden = append(hidden, struct{ Name, Value string }{k, q.Get(k)})
		}
	}
	adminSeq, adminOf := s.adminState()
	var admins, staff, inactive, others []pickerEntry
	for _, a := range adminSeq {
		p := s.people[a.UserID]
		note := "primary admin (sys_level 1)"
		if a.SysLevel != 1 {
			var names []string
			for _, d := range a.Scope {
				if dd := s.tree.Dept(d); dd != nil {
					names = append(names, dd.Name)
				}
			}
			note = "sub-admin (sys_level 2) of " + strings.Join(names, ", ")
		}
		admins = append(admins, pickerEntry{p.UserID, p.Name, note})
	}
	for i := range s.org.People {
		p := &s.org.People[i]
		if _, admin := adminOf[p.UserID]; admin || p.UnionID == "" {
			continue
		}
		if !p.Active {
			if len(inactive) < 3 {
				inactive = append(inactive, pickerEntry{p.UserID, p.Name, "inactive"})
			}
		} else if len(staff) < 12 {
			staff = append(staff, pickerEntry{p.UserID, p.Name, p.Title})
		}
	}
	for _, a := range s.accounts() {
		others = append(others, pickerEntry{a.UnionID, a.Name, a.Kind})
	}
	data := map[string]any{
		"App": app.Key, "Hidden": hidden,
		"Groups": []pickerGroup{{"管理员 · Admins", admins}, {"员工 · Employees", staff}, {"未激活 · Inactive", inactive}, {"非成员 · Not members", others}},
	}
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := pickerTmpl.Execute(w, data); err != nil {
		s.logf("sim: login page: %v", err)
	}
}

// ---- user tokens (api.dingtalk.com) ----

func (s *Server) userAccessToken(w http.ResponseWriter, r *http.Request) {
	status := http.StatusOK
	defer func() { s.logf("sim: %s /v1.0/oauth2/userAccessToken → HTTP %d", r.Method, status) }()
	fail := func(st int, code, msg string) {
		status = st
		s.v1Error(w, st, code, msg)
	}
	if r.Method != http.MethodPost {
		fail(http.StatusMethodNotAllowed, "MethodNotAllowed", "请求方法不支持")
		return
	}
	var body struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
		Code         string `json:"code"`
		RefreshToken string `json:"refreshToken"`
		GrantType    string `json:"grantType"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.ClientID == "" {
		fail(http.StatusBadRequest, "MissingclientId", "clientId is mandatory for this action.")
		return
	}
	app := s.apps[body.ClientID]
	if app == nil || app.Secret != body.ClientSecret {
		fail(http.StatusBadRequest, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
		return
	}
	if code, msg := s.v1Throttle(app, r.URL.Path); code != "" {
		fail(http.StatusForbidden, code, msg)
		return
	}
	l := s.login
	now := s.cfg.Now()
	var ut *userToken
	switch body.GrantType {
	case "authorization_code":
		l.mu.Lock()
		c := l.codes[body.Code]
		switch {
		case c == nil || c.inApp || c.app != app.Key || !now.Before(c.expires):
			l.mu.Unlock()
			fail(l.invalidCodeStatus(), "invalidCode", "无效的授权码")
			return
		case c.used:
			if l.cfg.CodeReuse == "same-token" && c.token != nil && now.Before(c.token.expires) {
				ut = c.token
				break
			}
			l.mu.Unlock()
			fail(l.invalidCodeStatus(), "invalidCode", "无效的授权码")
			return
		default:
			c.used = true
			corp := c.corpID
			switch l.cfg.TokenCorpID {
			case "never":
				corp = ""
			case "corpid-scope":
				if !c.withCorp {
					corp = ""
				}
			}
			ut = &userToken{token: newToken(), refresh: newToken(), app: app.Key, unionID: c.unionID, corpID: corp,
				expires: now.Add(l.cfg.UserTokenTTL), refreshExpires: now.Add(30 * 24 * time.Hour)}
			c.token = ut
			l.userTokens[ut.token] = ut
			l.refresh[ut.refresh] = ut
		}
		l.mu.Unlock()
	case "refresh_token":
		l.mu.Lock()
		old := l.refresh[body.RefreshToken]
		if old == nil || old.app != app.Key || !now.Before(old.refreshExpires) {
			l.mu.Unlock()
			fail(http.StatusBadRequest, "invalidRefreshToken", "无效的refreshToken")
			return
		}
		ut = &userToken{token: newToken(), refresh: old.refresh, app: app.Key, unionID: old.unionID, corpID: old.corpID,
			expires: now.Add(l.cfg.UserTokenTTL), refreshExpires: old.refreshExpires}
		if l.cfg.RotateRefresh {
			delete(l.refresh, old.refresh)
			ut.refresh = newToken()
			ut.refreshExpires = now.Add(30 * 24 * time.Hour)
		}
		l.userTokens[ut.token] = ut
		l.refresh[ut.refresh] = ut
		l.mu.Unlock()
	default:
		fail(http.StatusBadRequest, "unsupported.grant.type", "不支持的grantType")
		return
	}
	out := map[string]any{"accessToken": ut.token, "refreshToken": ut.refresh, "expireIn": int64(l.cfg.UserTokenTTL / time.Second)}
	if ut.corpID != "" {
		out["corpId"] = ut.corpID
	}
	s.v1Headers(w)
	w.WriteHeader(http.StatusOK)
	writeJSON(w, out)
}

func (l *loginState) invalidCodeStatus() int {
	if l.cfg.InvalidCodeStatus == http.StatusConflict {
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// ExpireUserTokens makes every issued user access token expired.
func (s *Server) ExpireUserTokens() {
	l := s.login
	l.mu.Lock()
	past := s.cfg.Now().Add(-time.Second)
	for _, t := range l.userTokens {
		t.expires = past
	}
	l.mu.Unlock()
}

// contactUser answers GET /v1.0/contact/users/{me|unionId} with a user
// access token.
func (s *Server) contactUser(w http.ResponseWriter, r *http.Request) {
	status := http.StatusOK
	defer func() { s.logf("sim: GET /v1.0/contact/users/… → HTTP %d", status) }()
	fail := func(st int, code, msg string, extra map[string]any) {
		status = st
		s.v1ErrorExtra(w, st, code, msg, extra)
	}
	who := strings.TrimPrefix(r.URL.Path, "/v1.0/contact/users/")
	if who == "" || strings.Contains(who, "/") {
		fail(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.", nil)
		return
	}
	tok := r.Header.Get("x-acs-dingtalk-access-token")
	if tok == "" {
		fail(http.StatusBadRequest, "AuthenticationFailed.MissingParameter", "缺少参数：x-acs-dingtalk-access-token", nil)
		return
	}
	l := s.login
	l.mu.Lock()
	ut := l.userTokens[tok]
	l.mu.Unlock()
	if ut == nil {
		// unknown, or an app token: this API takes user tokens only
		fail(http.StatusBadRequest, "InvalidAuthentication", "不合法的access_token", nil)
		return
	}
	if !s.cfg.Now().Before(ut.expires) {
		fail(http.StatusBadRequest, "accesstoken.expired", "用户accessToken过期", nil)
		return
	}
	app := s.apps[ut.app]
	if code, msg := s.v1Throttle(app, "/v1.0/contact/users/me"); code != "" {
		fail(http.StatusForbidden, code, msg, nil)
		return
	}
	if !app.scopes["Contact.User.Read"] {
		fail(http.StatusForbidden, "Forbidden.AccessDenied.AccessTokenPermissionDenied", "没有调用该接口的权限",
			map[string]any{s.cfg.V1DeniedDetailKey: map[string]any{"requiredScopes": []string{"Contact.User.Read"}}})
		return
	}
	if who != "me" && who != ut.unionID {
		fail(http.StatusNotFound, "invalidParameter.user.notFound", "找不到该用户", nil)
		return
	}
	id, ok := s.lookupIdentity(ut.unionID)
	if !ok {
		fail(http.StatusNotFound, "invalidParameter.user.notFound", "找不到该用户", nil)
		return
	}
	sum := sha256.Sum256([]byte(app.Key + "|" + ut.unionID))
	out := map[string]any{"nick": id.name(), "avatarUrl": "", "openId": hex.EncodeToString(sum[:10]), "unionId": ut.unionID, "visitor": false}
	var mobile, state, email string
	if id.person != nil {
		mobile, state, email, out["avatarUrl"] = id.person.Mobile, id.person.StateCode, strings.TrimSpace(id.person.Email), id.person.Avatar
	} else {
		mobile, state, email = id.account.Mobile, id.account.StateCode, id.account.Email
	}
	if app.scopes["Contact.User.mobile"] && mobile != "" {
		out["mobile"], out["stateCode"] = mobile, state
	}
	if email != "" {
		out["email"] = email
	}
	s.v1Headers(w)
	w.WriteHeader(http.StatusOK)
	writeJSON(w, out)
}

// ---- in-app login (topapi/v2/user/getuserinfo) ----

func (s *Server) inAppUserInfo(c *call) {
	code := c.params["code"]
	if code == "" {
		s.fail(c, 41026, "缺少tmp_auth_code")
		return
	}
	l := s.login
	now := s.cfg.Now()
	l.mu.Lock()
	ac := l.codes[code]
	valid := ac != nil && ac.inApp && !ac.used && ac.app == c.app.Key && now.Before(ac.expires)
	if valid {
		ac.used = true
	}
	l.mu.Unlock()
	if !valid {
		s.fail(c, 40078, "不存在的临时授权码")
		return
	}
	p := s.people[ac.userID]
	if p == nil {
		s.fail(c, 40078, "不存在的临时授权码")
		return
	}
	if !c.app.userInRange(p) {
		s.fail(c, 40079, "不存在的授权信息")
		return
	}
	level := 0
	_, adminOf := s.adminState()
	a, admin := adminOf[p.UserID]
	switch {
	case admin && p.Boss && l.cfg.BossSysLevel == 100:
		level = 100
	case admin:
		level = a.SysLevel
	case p.Boss:
		level = 100
	}
	sum := sha256.Sum256([]byte("device|" + p.UserID))
	s.ok(c, map[string]any{"userid": p.UserID, "unionid": p.UnionID, "associated_unionid": "",
		"device_id": hex.EncodeToString(sum[:6]), "name": p.Name, "sys": admin, "sys_level": level})
}
