package dingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
)

// Default hosts of DingTalk's new-style API and of its login page.
const (
	DefaultAPIV1Base = "https://api.dingtalk.com"
	DefaultLoginBase = "https://login.dingtalk.com"
)

// API paths of the login, as used for pacing and statistics.
const (
	APIUserAccessToken = "v1.0/oauth2/userAccessToken"
	APIUsersMe         = "v1.0/contact/users/me"
	APIGetByUnionID    = "topapi/user/getbyunionid"
	APIGetUserInfo     = "topapi/v2/user/getuserinfo"
	APIAdminScope      = "topapi/user/get_admin_scope"
)

// Why a login is refused. A refusal error wraps one of these (test with
// errors.Is) inside a *LoginRefusal (errors.As, for the ids) inside a
// *dingbook.Error (the message and remedy).
var (
	// ErrLoginDenied: the callback carries error= (the person declined, or
	// DingTalk refused the account).
	ErrLoginDenied = errors.New("the DingTalk login was declined")
	// ErrCodeInvalid: DingTalk does not accept the auth code: expired
	// (codes live 5 minutes), already used, issued for another app, or an
	// OAuth code sent to the in-app endpoint (and the reverse).
	ErrCodeInvalid = errors.New("the DingTalk auth code is invalid, expired or used")
	// ErrCodeReused: this client has already exchanged this code (a
	// replayed callback).
	ErrCodeReused = errors.New("the DingTalk auth code was already used")
	// ErrOtherOrg: DingTalk reports the login for another corpId.
	ErrOtherOrg = errors.New("the login belongs to another organisation")
	// ErrNotMember: getbyunionid answers 60121: an outsider, or someone
	// who left and whose account DingTalk no longer maps (DingTalk does
	// not say which; LoginRefusal.UnionID lets the caller look the
	// account up among former members).
	ErrNotMember = errors.New("not a member of the organisation")
	// ErrExternal: the account is an external contact's (contact_type 1).
	ErrExternal = errors.New("an external contact's account")
	// ErrInactive: v2/user/get says active false.
	ErrInactive = errors.New("the person has not activated DingTalk")
	// ErrLeft: the account maps to a userid that v2/user/get no longer
	// knows (60121): the person left.
	ErrLeft = errors.New("the person has left the organisation")
	// ErrNotVisible: the person is outside the app's range (getuserinfo
	// 40079, getbyunionid 50002).
	ErrNotVisible = errors.New("the person is outside the app's visible range")
)

// LoginRefusal says why DingTalk login refused someone, with what is known
// of them (for the audit record).
type LoginRefusal struct {
	Reason  error
	UserID  string
	UnionID string
	CorpID  string
	Err     error // the DingTalk answer behind it, if any
}

func (e *LoginRefusal) Error() string {
	s := e.Reason.Error()
	if e.UserID != "" {
		s += " (userid " + e.UserID + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the reason and the DingTalk answer.
func (e *LoginRefusal) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Err}
}

// refuse builds the *dingbook.Error of a refusal.
func refuse(r *LoginRefusal) error {
	code, msg, hint := dingbook.EPERM, "", ""
	switch r.Reason {
	case ErrLoginDenied:
		code, msg, hint = dingbook.EAUTH, "the DingTalk login was declined", "log in again and approve the request on DingTalk's page"
	case ErrCodeInvalid:
		code, msg, hint = dingbook.EAUTH, "DingTalk did not accept the login code (expired, already used or not for this app)", "log in again; codes are valid for 5 minutes and only once"
	case ErrCodeReused:
		code, msg, hint = dingbook.EAUTH, "this login code was already used", "log in again instead of reloading the callback page"
	case ErrOtherOrg:
		msg, hint = "the DingTalk login is for another organisation ("+r.CorpID+")", "log in with your account of this organisation (choose it on DingTalk's page)"
	case ErrNotMember:
		msg, hint = "this DingTalk account is not a member of the organisation", "only members of the organisation may log in; ask an admin to add you in DingTalk"
	case ErrExternal:
		msg, hint = "this DingTalk account belongs to an external contact", "external contacts cannot log in; ask the person who shares contacts with you"
	case ErrInactive:
		msg, hint = "this person has not activated DingTalk", "activate your DingTalk account, then log in again"
	case ErrLeft:
		msg, hint = "this person has left the organisation", "former members cannot log in"
	case ErrNotVisible:
		msg, hint = "this person is outside the app's visible range", "an admin can add them to the app's range at open-dev.dingtalk.com → the app → 版本管理与发布 / visible range"
	}
	return &dingbook.Error{Code: code, Message: msg, Hint: hint, Err: r}
}

// AuthorizeURL returns DingTalk's login page for a browser: after login
// DingTalk redirects to redirectURI with the code and state. With a
// CorpID the login asks for scope "openid corpid" and pre-selects it, so
// DingTalk reports the organisation chosen.
func (c *Client) AuthorizeURL(redirectURI, state string) string {
	q := url.Values{"redirect_uri": {redirectURI}, "response_type": {"code"}, "client_id": {c.cfg.AppKey},
		"scope": {"openid"}, "state": {state}, "prompt": {"consent"}}
	if c.cfg.CorpID != "" {
		q.Set("scope", "openid corpid")
		q.Set("corpId", c.cfg.CorpID)
	}
	return c.cfg.LoginBase + "/oauth2/auth?" + q.Encode()
}

// CallbackCode reads the auth code of a login callback's query: code or
// authCode (DingTalk sends both; clients differ on which they read), or
// ErrLoginDenied when it carries error=. It does not check state: that is
// the caller's (it is bound to the browser).
func CallbackCode(q url.Values) (string, error) {
	if e := q.Get("error"); e != "" {
		return "", refuse(&LoginRefusal{Reason: ErrLoginDenied, Err: fmt.Errorf("callback error=%q", e)})
	}
	code := q.Get("code")
	if code == "" {
		code = q.Get("authCode")
	}
	if code == "" {
		return "", refuse(&LoginRefusal{Reason: ErrCodeInvalid, Err: errors.New("the callback carries no code or authCode")})
	}
	return code, nil
}

// markCode records code as used; it reports false when this client has
// already used it. Entries are kept 10 minutes (codes live 5).
func (c *Client) markCode(code string) bool {
	c.codesMu.Lock()
	defer c.codesMu.Unlock()
	now := c.cfg.Now()
	for k, t := range c.usedCodes {
		if now.Sub(t) > 10*time.Minute {
			delete(c.usedCodes, k)
		}
	}
	if _, seen := c.usedCodes[code]; seen {
		return false
	}
	c.usedCodes[code] = now
	return true
}

// V1Error is an error answer of the new-style API (HTTP 4xx/5xx with
// {code, message, requestid}).
type V1Error struct {
	API       string
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *V1Error) Error() string {
	s := fmt.Sprintf("DingTalk %s answered HTTP %d %s", e.API, e.Status, e.Code)
	if e.Message != "" {
		s += " " + e.Message
	}
	if e.RequestID != "" {
		s += " (requestid " + e.RequestID + ")"
	}
	return s
}

// v1 calls the new-style API: paced like every API, the token (an app or
// user token, may be "") in x-acs-dingtalk-access-token, throttling
// answers waited out, transient failures (network, HTTP 5xx) retried only
// when retry is set (a code exchange is not: the first attempt may have
// used the code up).
func (c *Client) v1(ctx context.Context, api, method, token string, body any, out any, retry bool) error {
	payload, err := jsonBody(body)
	if err != nil {
		return err
	}
	lim := c.limiter(api)
	for attempt, throttles := 0, 0; ; {
		if err := lim.wait(ctx); err != nil {
			return err
		}
		ve, err := c.v1Once(ctx, api, method, token, payload, out)
		throttled := ve != nil && strings.HasPrefix(ve.Code, "Forbidden.AccessDenied.QpsLimit")
		c.count(api, attempt > 0 || throttles > 0, throttled)
		if ve == nil && err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if throttled {
			if throttles++; throttles > 4*c.cfg.MaxRetries {
				return &dingbook.Error{Code: dingbook.EINTERNAL, Err: ve, Message: "DingTalk kept throttling " + api,
					Hint: "too many logins at once; try again in a minute"}
			}
			lim.throttled(throttlePause(ve.Message, c.cfg.Now()))
			continue
		}
		if ve != nil {
			return ve
		}
		var te *errTransient
		if !errors.As(err, &te) {
			return err
		}
		attempt++
		if !retry || attempt > c.cfg.MaxRetries {
			return &dingbook.Error{Code: dingbook.EINTERNAL, Err: err,
				Message: fmt.Sprintf("DingTalk %s failed (%d attempts)", api, attempt),
				Hint:    "DingTalk or the network is failing; try again in a moment"}
		}
		d := backoff(attempt)
		c.logf("dingtalk: %s: %s; retry %d in %s", api, te.msg, attempt, d.Round(time.Millisecond))
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

func (c *Client) v1Once(ctx context.Context, api, method, token string, payload []byte, out any) (*V1Error, error) {
	var header http.Header
	if token != "" {
		header = http.Header{"X-Acs-Dingtalk-Access-Token": {token}}
	}
	status, trim, h, err := c.exchange(ctx, api, "", method, true, api, payload, header)
	if err != nil {
		return nil, err
	}
	if len(trim) == 0 || trim[0] != '{' {
		if status >= 300 {
			return &V1Error{API: api, Status: status, Message: fmt.Sprintf("a non-JSON answer (%d bytes)", len(trim))}, nil
		}
		return nil, &errTransient{msg: fmt.Sprintf("HTTP %d with a non-JSON answer (%d bytes)", status, len(trim))}
	}
	if status >= 300 {
		var e struct {
			Code      Str `json:"code"`
			Message   Str `json:"message"`
			RequestID Str `json:"requestid"`
		}
		json.Unmarshal(trim, &e)
		return &V1Error{API: api, Status: status, Code: string(e.Code), Message: string(e.Message), RequestID: string(e.RequestID)}, nil
	}
	if out != nil {
		if err := json.Unmarshal(trim, out); err != nil {
			return nil, &dingbook.Error{Code: dingbook.EINTERNAL, Err: err,
				Message: "DingTalk " + api + " returned an answer dingbook cannot read", Hint: "report this with the x-acs-request-id " + h.Get("x-acs-request-id")}
		}
	}
	return nil, nil
}

// UserToken is a user access token from a login.
type UserToken struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
	// CorpID is the organisation the person logged in to; DingTalk may
	// leave it empty.
	CorpID string
}

// UserAccessToken exchanges a login's auth code for a user access token
// (POST /v1.0/oauth2/userAccessToken). A code DingTalk refuses gives
// ErrCodeInvalid; a code this client used before gives ErrCodeReused
// without asking DingTalk.
func (c *Client) UserAccessToken(ctx context.Context, code string) (*UserToken, error) {
	if !c.markCode(code) {
		return nil, refuse(&LoginRefusal{Reason: ErrCodeReused})
	}
	return c.userToken(ctx, map[string]any{"clientId": c.cfg.AppKey, "clientSecret": c.cfg.AppSecret, "code": code, "grantType": "authorization_code"})
}

// RefreshUserToken renews a user access token with its refresh token
// (valid 30 days).
func (c *Client) RefreshUserToken(ctx context.Context, refreshToken string) (*UserToken, error) {
	return c.userToken(ctx, map[string]any{"clientId": c.cfg.AppKey, "clientSecret": c.cfg.AppSecret, "refreshToken": refreshToken, "grantType": "refresh_token"})
}

func (c *Client) userToken(ctx context.Context, body map[string]any) (*UserToken, error) {
	if c.cfg.AppKey == "" || c.cfg.AppSecret == "" {
		return nil, &dingbook.Error{Code: dingbook.EAUTH, Message: "no DingTalk app credentials for the login",
			Hint: "set DINGTALK_APP_KEY and DINGTALK_APP_SECRET (the app's Client ID and Client Secret)"}
	}
	var raw struct {
		AccessToken  Str `json:"accessToken"`
		RefreshToken Str `json:"refreshToken"`
		ExpireIn     Int `json:"expireIn"`
		CorpID       Str `json:"corpId"`
	}
	err := c.v1(ctx, APIUserAccessToken, http.MethodPost, "", body, &raw, false)
	var ve *V1Error
	if errors.As(err, &ve) {
		if ve.Code == "invalidClientIdOrSecret" {
			return nil, &dingbook.Error{Code: dingbook.EAUTH, Err: ve, Message: "DingTalk rejected the app key or app secret (" + APIUserAccessToken + ")",
				Hint: "check DINGTALK_APP_KEY and DINGTALK_APP_SECRET: the app's Client ID and Client Secret at open-dev.dingtalk.com"}
		}
		if ve.Status == http.StatusBadRequest || ve.Status == http.StatusConflict {
			// invalidCode (and whatever a used or expired code gets:
			// UNCONFIRMED), a bad refresh token, an unsupported grant
			return nil, refuse(&LoginRefusal{Reason: ErrCodeInvalid, Err: ve})
		}
	}
	if err != nil {
		return nil, err
	}
	if raw.AccessToken == "" {
		return nil, &dingbook.Error{Code: dingbook.EAUTH, Message: "DingTalk " + APIUserAccessToken + " returned no accessToken",
			Hint: "check DINGTALK_API_V1_BASE points at DingTalk (default " + DefaultAPIV1Base + ")"}
	}
	ttl := time.Duration(raw.ExpireIn) * time.Second
	if ttl <= 0 {
		ttl = 7200 * time.Second
	}
	return &UserToken{AccessToken: string(raw.AccessToken), RefreshToken: string(raw.RefreshToken), ExpiresIn: ttl, CorpID: string(raw.CorpID)}, nil
}

// Me is the person behind a user access token (/v1.0/contact/users/me).
// Email is the personal e-mail; Nick the DingTalk nickname. There is no
// userid: map UnionID with GetByUnionID.
type Me struct {
	Nick      string `json:"nick"`
	AvatarURL string `json:"avatarUrl"`
	Mobile    string `json:"mobile"`
	StateCode string `json:"stateCode"`
	Email     string `json:"email"`
	OpenID    string `json:"openId"`
	UnionID   string `json:"unionId"`
}

// UsersMe reads the person behind a user access token.
func (c *Client) UsersMe(ctx context.Context, userToken string) (*Me, error) {
	var raw struct {
		Nick      Str `json:"nick"`
		AvatarURL Str `json:"avatarUrl"`
		Mobile    Str `json:"mobile"`
		StateCode Str `json:"stateCode"`
		Email     Str `json:"email"`
		OpenID    Str `json:"openId"`
		UnionID   Str `json:"unionId"`
	}
	if err := c.v1(ctx, APIUsersMe, http.MethodGet, userToken, nil, &raw, true); err != nil {
		var ve *V1Error
		if errors.As(err, &ve) {
			if ve.Code == "Forbidden.AccessDenied.AccessTokenPermissionDenied" {
				return nil, &dingbook.Error{Code: dingbook.EPERM, Err: ve, Message: "the app lacks the permission Contact.User.Read needed by " + APIUsersMe,
					Hint: "grant 个人手机号信息/通讯录个人信息读权限 (Contact.User.Read) at open-dev.dingtalk.com → the app → 权限管理 / Permissions"}
			}
			return nil, refuse(&LoginRefusal{Reason: ErrCodeInvalid, Err: ve})
		}
		return nil, err
	}
	if raw.UnionID == "" {
		return nil, &dingbook.Error{Code: dingbook.EINTERNAL, Message: "DingTalk " + APIUsersMe + " returned no unionId", Hint: "report this to the dingbook maintainers"}
	}
	return &Me{Nick: string(raw.Nick), AvatarURL: string(raw.AvatarURL), Mobile: string(raw.Mobile), StateCode: string(raw.StateCode),
		Email: string(raw.Email), OpenID: string(raw.OpenID), UnionID: string(raw.UnionID)}, nil
}

// Contact types of GetByUnionID.
const (
	ContactEmployee = 0
	ContactExternal = 1
)

// UnionUser is topapi/user/getbyunionid's answer.
type UnionUser struct {
	UserID      string
	ContactType int
}

// GetByUnionID maps a unionid to the organisation's userid. 60121 (not
// found) comes back as an error with that Code.
func (c *Client) GetByUnionID(ctx context.Context, unionID string) (*UnionUser, error) {
	var raw struct {
		ContactType Int `json:"contact_type"`
		UserID      Str `json:"userid"`
	}
	if err := c.Call(ctx, APIGetByUnionID, map[string]any{"unionid": unionID}, &raw, "unionid "+unionID); err != nil {
		return nil, err
	}
	return &UnionUser{UserID: string(raw.UserID), ContactType: int(raw.ContactType)}, nil
}

// InAppUser is topapi/v2/user/getuserinfo's answer. SysLevel: 1 primary
// admin, 2 sub-admin, 100 boss, 0 other.
type InAppUser struct {
	UserID   string
	UnionID  string
	Name     string
	DeviceID string
	Sys      bool
	SysLevel int
}

// GetUserInfo checks an in-app auth code (dd.requestAuthCode inside the
// DingTalk client). DingTalk's 40078 gives ErrCodeInvalid, 40079
// ErrNotVisible; a code this client used before gives ErrCodeReused.
func (c *Client) GetUserInfo(ctx context.Context, code string) (*InAppUser, error) {
	if !c.markCode(code) {
		return nil, refuse(&LoginRefusal{Reason: ErrCodeReused})
	}
	var raw struct {
		UserID   Str  `json:"userid"`
		UnionID  Str  `json:"unionid"`
		Name     Str  `json:"name"`
		DeviceID Str  `json:"device_id"`
		Sys      Bool `json:"sys"`
		SysLevel Int  `json:"sys_level"`
	}
	if err := c.Call(ctx, APIGetUserInfo, map[string]any{"code": code}, &raw, ""); err != nil {
		switch Code(err) {
		case 40078, 41026:
			return nil, refuse(&LoginRefusal{Reason: ErrCodeInvalid, Err: err})
		case 40079:
			return nil, refuse(&LoginRefusal{Reason: ErrNotVisible, Err: err})
		}
		return nil, err
	}
	return &InAppUser{UserID: string(raw.UserID), UnionID: string(raw.UnionID), Name: string(raw.Name),
		DeviceID: string(raw.DeviceID), Sys: bool(raw.Sys), SysLevel: int(raw.SysLevel)}, nil
}

// AdminScope returns the departments an admin manages
// (topapi/user/get_admin_scope, no result wrapper); empty for a person who
// is not an admin (DingTalk answers [] or nothing).
func (c *Client) AdminScope(ctx context.Context, userid string) ([]int64, error) {
	var raw struct {
		DeptIDs Ints `json:"dept_ids"`
	}
	if err := c.call(ctx, APIAdminScope, http.MethodPost, map[string]any{"userid": userid}, &raw, "userid "+userid, ""); err != nil {
		return nil, err
	}
	return []int64(raw.DeptIDs), nil
}

// Roles returns a person's admin level from user/listadmin (1 primary
// admin, 2 sub-admin, 0 none) and the departments they manage: the whole
// organisation ([1]) for the primary admin, get_admin_scope for a
// sub-admin, nil otherwise.
func (c *Client) Roles(ctx context.Context, userid string) (level int, scope []int64, err error) {
	admins, err := c.ListAdmin(ctx)
	if err != nil {
		return 0, nil, err
	}
	for _, a := range admins {
		if a.UserID == userid {
			level = a.SysLevel
		}
	}
	scope, err = c.ScopeOf(ctx, userid, level)
	return level, scope, err
}

// ScopeOf returns the departments an admin of level (user/listadmin's
// sys_level) manages: the whole organisation ([1]) for the primary admin,
// get_admin_scope for a sub-admin, nil for anyone else.
func (c *Client) ScopeOf(ctx context.Context, userid string, level int) ([]int64, error) {
	switch level {
	case 1:
		return []int64{dingbook.RootDeptID}, nil
	case 2:
		return c.AdminScope(ctx, userid)
	}
	return nil, nil
}

// Identity is a person DingTalk login admitted.
type Identity struct {
	UserID  string
	UnionID string
	CorpID  string
	// Person is v2/user/get's record of them.
	Person *dingbook.Person
	// SysLevel and AdminScope are Roles' answer.
	SysLevel   int
	AdminScope []int64
}

// LoginWithCode runs the browser login after the callback: the code for
// a user token, the corpId check, users/me, getbyunionid (only
// contact_type 0 is admitted), v2/user/get (only active people) and the
// roles. Every refusal is a *dingbook.Error wrapping a *LoginRefusal and
// one of the Err… reasons.
func (c *Client) LoginWithCode(ctx context.Context, code string) (*Identity, error) {
	tok, err := c.UserAccessToken(ctx, code)
	if err != nil {
		return nil, err
	}
	if tok.CorpID != "" && c.cfg.CorpID != "" && tok.CorpID != c.cfg.CorpID {
		return nil, refuse(&LoginRefusal{Reason: ErrOtherOrg, CorpID: tok.CorpID})
	}
	me, err := c.UsersMe(ctx, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	uu, err := c.GetByUnionID(ctx, me.UnionID)
	switch Code(err) {
	case 0:
	case CodeUserNotFound:
		return nil, refuse(&LoginRefusal{Reason: ErrNotMember, UnionID: me.UnionID, CorpID: tok.CorpID, Err: err})
	case CodeUserOutOfRange:
		return nil, refuse(&LoginRefusal{Reason: ErrNotVisible, UnionID: me.UnionID, Err: err})
	}
	if err != nil {
		return nil, err
	}
	if uu.ContactType != ContactEmployee {
		reason := ErrExternal
		if uu.ContactType != ContactExternal {
			reason = ErrNotMember
		}
		return nil, refuse(&LoginRefusal{Reason: reason, UserID: uu.UserID, UnionID: me.UnionID})
	}
	id, err := c.admit(ctx, uu.UserID, me.UnionID)
	if err != nil {
		return nil, err
	}
	id.CorpID = tok.CorpID
	return id, nil
}

// LoginInApp runs the login inside the DingTalk client: the in-app code
// checked with getuserinfo, then v2/user/get (only active people) and the
// roles.
func (c *Client) LoginInApp(ctx context.Context, code string) (*Identity, error) {
	u, err := c.GetUserInfo(ctx, code)
	if err != nil {
		return nil, err
	}
	id, err := c.admit(ctx, u.UserID, u.UnionID)
	if err != nil {
		return nil, err
	}
	id.CorpID = c.cfg.CorpID
	return id, nil
}

// admit checks the person behind userid with v2/user/get and reads their
// roles.
func (c *Client) admit(ctx context.Context, userid, unionID string) (*Identity, error) {
	p, err := c.GetUser(ctx, userid)
	if Code(err) == CodeUserNotFound {
		return nil, refuse(&LoginRefusal{Reason: ErrLeft, UserID: userid, UnionID: unionID, Err: err})
	}
	if err != nil {
		return nil, err
	}
	if !p.Active {
		return nil, refuse(&LoginRefusal{Reason: ErrInactive, UserID: userid, UnionID: unionID})
	}
	level, scope, err := c.Roles(ctx, userid)
	if err != nil {
		return nil, err
	}
	return &Identity{UserID: userid, UnionID: unionID, Person: p, SysLevel: level, AdminScope: scope}, nil
}
