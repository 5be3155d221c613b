package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/store"
)

// Roles a session carries. Every person admitted is an employee (a member
// of the organisation); DingTalk's sys_level 1 adds admin, 2 sub-admin.
// Approver and auditor come from the policy (serve.approvers,
// serve.auditors): an approver may approve every export request, an
// auditor read the audit log; neither sees more of the directory.
const (
	RoleEmployee = "employee"
	RoleAdmin    = "admin"
	RoleSubAdmin = "sub-admin"
	RoleApprover = "approver"
	RoleAuditor  = "auditor"
)

// Default session limits (the policy's serve.session_idle and
// serve.session_absolute).
const (
	DefaultSessionIdle     = policy.DefaultSessionIdle
	DefaultSessionAbsolute = policy.DefaultSessionAbsolute
)

// SessionLimitsOf returns the session limits of a policy (nil: the
// defaults).
func SessionLimitsOf(pol *policy.Policy) SessionLimits {
	if pol == nil {
		return SessionLimits{}
	}
	return SessionLimits{Idle: time.Duration(pol.Serve.SessionIdle), Absolute: time.Duration(pol.Serve.SessionAbsolute)}
}

// SessionLimits end a session after Idle without use or Absolute after
// login, whichever comes first (zero: the defaults).
type SessionLimits struct {
	Idle, Absolute time.Duration
}

func (l SessionLimits) idle() time.Duration {
	if l.Idle > 0 {
		return l.Idle
	}
	return DefaultSessionIdle
}

func (l SessionLimits) absolute() time.Duration {
	if l.Absolute > 0 {
		return l.Absolute
	}
	return DefaultSessionAbsolute
}

// Session is a logged-in person.
type Session = store.Session

// RolesOf returns the roles of a person DingTalk admitted with sys_level.
func RolesOf(sysLevel int) []string {
	switch sysLevel {
	case 1:
		return []string{RoleEmployee, RoleAdmin}
	case 2:
		return []string{RoleEmployee, RoleSubAdmin}
	}
	return []string{RoleEmployee}
}

// RolesFor returns the roles of userid, whom DingTalk gives sysLevel,
// under the policy (nil: none of its roles): RolesOf's, then approver and
// auditor when the policy names them.
func RolesFor(sysLevel int, userid string, pol *policy.Policy) []string {
	roles := RolesOf(sysLevel)
	if pol != nil && slices.Contains(pol.Serve.Approvers, userid) {
		roles = append(roles, RoleApprover)
	}
	if pol != nil && slices.Contains(pol.Serve.Auditors, userid) {
		roles = append(roles, RoleAuditor)
	}
	return roles
}

// LoginOptions are the circumstances of a login.
type LoginOptions struct {
	// Via is "browser" or "inapp".
	Via string
	// OldToken is the browser's previous session ("" when none): it ends.
	OldToken string
	// Addr is the client's address, for the audit record.
	Addr string
	// Policy names approvers and auditors (nil: none).
	Policy *policy.Policy
	// Lang is the language the person chose before logging in ("": none),
	// kept in the session (the language of their work notices).
	Lang string
}

// Login starts a session for the person DingTalk admitted and records the
// login; the session row and the audit record land in one transaction,
// which also ends the browser's previous session. It returns the new
// cookie's token (random, 256 bits; only its hash is stored).
func (a *App) Login(ctx context.Context, id *dingtalk.Identity, o LoginOptions) (string, *Session, error) {
	token := NewToken()
	now := a.now()
	s := &Session{ID: sessionID(token), UserID: id.UserID, Roles: RolesFor(id.SysLevel, id.UserID, o.Policy),
		AdminScope: slices.Clone(id.AdminScope), Via: o.Via, Created: now, Seen: now, Lang: o.Lang}
	if s.AdminScope == nil {
		s.AdminScope = []int64{}
	}
	if id.Person != nil {
		s.Name = id.Person.Name
	}
	rec := audit.Record{Time: now, Actor: id.UserID, Action: audit.ActionLogin, Outcome: audit.OutcomeOK,
		Details: withAddr(map[string]string{"via": o.Via, "roles": strings.Join(s.Roles, ",")}, o.Addr)}
	if _, err := audit.AppendWith(ctx, a.DB, rec, func(tx *store.Tx, _ audit.Record) error {
		if o.OldToken != "" {
			if _, err := tx.DeleteSession(sessionID(o.OldToken)); err != nil {
				return err
			}
		}
		return tx.AddSession(*s)
	}); err != nil {
		return "", nil, err
	}
	return token, s, nil
}

// RefusalReason names why a login was refused, for the audit record and
// the page: a dingtalk refusal's reason, else what the front end says.
func RefusalReason(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{
		{dingtalk.ErrLoginDenied, "declined"}, {dingtalk.ErrCodeReused, "code-reused"}, {dingtalk.ErrCodeInvalid, "code-invalid"},
		{dingtalk.ErrOtherOrg, "other-org"}, {dingtalk.ErrNotMember, "not-member"}, {dingtalk.ErrExternal, "external"},
		{dingtalk.ErrInactive, "inactive"}, {dingtalk.ErrLeft, "left"}, {dingtalk.ErrNotVisible, "not-visible"},
		{ErrLoginState, "state"}, {ErrLoginNext, "next"},
	} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "error"
}

// Refusals a front end decides before DingTalk is asked.
var (
	// ErrLoginState: the callback's state is not the one bound to this
	// browser (a forged or replayed callback, or cookies blocked).
	ErrLoginState = errors.New("the login state does not match this browser")
	// ErrLoginNext: the page to return to is not a local path.
	ErrLoginNext = errors.New("the page to return to is not a local path")
)

// withAddr adds the client's address (addr, when known) to an audit
// record's details.
func withAddr(details map[string]string, addr string) map[string]string {
	if addr != "" {
		details["addr"] = addr
	}
	return details
}

// RefuseLogin records a refused login (via "browser" or "inapp"; a
// failure to reach DingTalk as failed) from the client address addr and
// returns err unchanged. The actor is the DingTalk userid or unionid when
// the refusal names one, else "anonymous".
func (a *App) RefuseLogin(ctx context.Context, via, addr string, err error) error {
	actor := "anonymous"
	var lr *dingtalk.LoginRefusal
	if errors.As(err, &lr) {
		switch {
		case lr.UserID != "":
			actor = lr.UserID
		case lr.UnionID != "":
			actor = "unionid:" + lr.UnionID
		}
	}
	msg := err.Error()
	var de *dingbook.Error
	if errors.As(err, &de) && de.Message != "" {
		msg = de.Message
	}
	outcome, reason := audit.OutcomeRefused, RefusalReason(err)
	if reason == "error" {
		// DingTalk could not be asked (network, throttling): the login
		// failed, nobody was refused
		outcome = audit.OutcomeFailed
	}
	rec := audit.Record{Time: a.now(), Actor: actor, Action: audit.ActionLogin, Outcome: outcome, Reason: msg,
		Details: withAddr(map[string]string{"via": via, "refusal": reason}, addr)}
	if _, aerr := audit.Append(ctx, a.DB, rec); aerr != nil {
		return errors.Join(err, aerr)
	}
	return err
}

// Session returns the session of a cookie's token, or nil when there is
// none or it has timed out (a timed-out session is deleted). A session
// used is marked seen (at most once a minute, to spare the database).
func (a *App) Session(ctx context.Context, token string, lim SessionLimits) (*Session, error) {
	if token == "" {
		return nil, nil
	}
	id := sessionID(token)
	s, err := a.cachedSession(ctx, id)
	if err != nil || s == nil {
		return nil, err
	}
	now := a.now()
	if now.Sub(s.Seen) >= lim.idle() || now.Sub(s.Created) >= lim.absolute() {
		err := a.DB.Write(ctx, func(tx *store.Tx) error { _, err := tx.DeleteSession(id); return err })
		return nil, err
	}
	if now.Sub(s.Seen) >= time.Minute {
		if err := a.DB.TouchSession(ctx, id, now); err != nil {
			return nil, err
		}
		s.Seen = now
	}
	return s, nil
}

// Logout ends the session of token and records it.
func (a *App) Logout(ctx context.Context, token string) error {
	id := sessionID(token)
	s, err := a.DB.Session(ctx, id)
	if err != nil || s == nil {
		return err
	}
	rec := audit.Record{Time: a.now(), Actor: s.UserID, Action: audit.ActionLogout, Outcome: audit.OutcomeOK,
		Details: map[string]string{"sessions": "1"}}
	_, err = audit.AppendWith(ctx, a.DB, rec, func(tx *store.Tx, _ audit.Record) error { _, err := tx.DeleteSession(id); return err })
	return err
}

// SetSessionLang remembers the language chosen in the session of token
// (the front end checks it is one it offers).
func (a *App) SetSessionLang(ctx context.Context, token, lang string) error {
	if token == "" {
		return nil
	}
	return a.DB.SetSessionLang(ctx, sessionID(token), lang)
}

// EndSessions ends every session of userid (a person who left: a pull
// calls it for the leavers it finds) and records it on actor's behalf
// when there were any. It returns how many it ended.
func (a *App) EndSessions(ctx context.Context, userid, actor, reason string) (int, error) {
	n, err := a.DB.UserSessions(ctx, userid)
	if err != nil || n == 0 {
		return 0, err
	}
	rec := audit.Record{Time: a.now(), Actor: actor, Action: audit.ActionLogout, Outcome: audit.OutcomeOK, Reason: reason,
		Details: map[string]string{"userid": userid}}
	_, err = audit.AppendWith(ctx, a.DB, rec, func(tx *store.Tx, _ audit.Record) error {
		var err error
		n, err = tx.DeleteUserSessions(userid)
		return err
	})
	return n, err
}

// sessionID is what the store keys a session by: the token's SHA-256.
func sessionID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken is a fresh secret (a session's cookie, an app password, a
// one-time link, a login's state): 32 random bytes (256 bits), base64url
// without padding. Where it is kept, only its SHA-256 (sessionID) is.
func NewToken() string {
	raw := make([]byte, 32)
	rand.Read(raw)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// newID is a fresh id that is no secret (a card share's, an app
// password's, a pull job's, an export request's): 8 random bytes in hex.
func newID() string {
	raw := make([]byte, 8)
	rand.Read(raw)
	return hex.EncodeToString(raw)
}
