// Package serve is the web front end of dingbook ('dingbook serve'): DingTalk
// login (browser and in-app), server-side sessions, the route table with
// its authorisation rules, and the security headers every response
// carries. Business rules (roles, sessions, audit records) live in app;
// the handlers here only translate HTTP to app calls and back.
package serve

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/dingtalk"
)

// Cookie names.
const (
	SessionCookie = "dingbook_session"
	StateCookie   = "dingbook_login"
)

// CallbackPath is the redirect URL registered in DingTalk's console,
// below the base URL.
const CallbackPath = "/auth/dingtalk/callback"

// CSP is the Content-Security-Policy of every response.
const CSP = "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{"pathEscape": url.PathEscape}).ParseFS(templateFS, "templates/*.html"))

// Server is dingbook's web front end over an App and a DingTalk client.
type Server struct {
	App    *app.App
	Client *dingtalk.Client
	// BaseURL is where browsers reach the server (e.g.
	// https://dingbook.example.com); the login callback is below it.
	BaseURL string
	// Limits are the session timeouts (zero: the policy's serve.session_idle
	// and serve.session_absolute).
	Limits app.SessionLimits
	// TrustedProxies are the reverse proxies whose X-Forwarded-For,
	// X-Forwarded-Proto and X-Forwarded-Host are believed (proxy.go); a
	// request from any other peer is taken as it comes.
	TrustedProxies []netip.Prefix
	// Logf, if set, receives one line per failure worth an operator's
	// attention (never a token or a cookie).
	Logf func(format string, args ...any)
	// LoginBurst and LoginEvery rate-limit the login routes per client
	// address: a bucket of LoginBurst attempts refilled one every
	// LoginEvery (zero: 10, one every 6 s).
	LoginBurst int
	LoginEvery time.Duration
	// Policy is the policy in force (nil: the built-in defaults): the
	// portal's quota, and the policy pulls are governed by.
	Policy *policy.Policy
	// Context is the server's lifetime: pulls started from the portal run
	// under it (nil: never cancelled).
	Context context.Context
	// RequestLog, if set, receives every answered request (requestlog.go).
	RequestLog func(RequestLogEntry)

	limiter *limiter
	metrics *metrics
	pulls   *app.PullJobs
	quota   *app.Quota
}

// Handler returns the server's handler: every route of Routes behind
// its rule, cross-origin protection for unsafe methods, and the security
// headers.
func (s *Server) Handler() http.Handler {
	if s.limiter == nil {
		burst, every := s.LoginBurst, s.LoginEvery
		if burst <= 0 {
			burst = loginBurst
		}
		if every <= 0 {
			every = loginEvery
		}
		s.limiter = newLimiter(burst, every, s.now)
	}
	if s.metrics == nil {
		s.initAdmin()
	}
	mux := http.NewServeMux()
	for _, rt := range s.Routes() {
		if rt.Rule == RuleUnset {
			panic("serve: route " + rt.Pattern + " has no rule")
		}
		mux.Handle(rt.Pattern, s.instrument(rt.Pattern, s.authorize(rt)))
	}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, http.StatusForbidden, "problem.cross_origin",
			&dingbook.Error{Code: dingbook.EPERM, Message: r.Method + " " + r.URL.Path + " came from another site", Hint: "use dingbook's own pages"}, r.Method, r.URL.Path)
	}))
	return securityHeaders(s.forwarded(cop.Handler(mux)))
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) now() time.Time {
	if s.App.Now != nil {
		return s.App.Now()
	}
	return time.Now()
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// secure reports whether cookies must be Secure: the request came over
// TLS (to us, or to a trusted proxy that says X-Forwarded-Proto: https) or
// the base URL is https.
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || forwardedHTTPS(r) || strings.HasPrefix(strings.ToLower(s.BaseURL), "https://")
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
}

// session returns the request's session, or nil.
func (s *Server) session(r *http.Request) (*app.Session, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, nil
	}
	return s.App.Session(r.Context(), c.Value, s.limits())
}

// limits are the session timeouts: Limits, else the policy's.
func (s *Server) limits() app.SessionLimits {
	if s.Limits != (app.SessionLimits{}) {
		return s.Limits
	}
	return app.SessionLimitsOf(s.policy())
}

// ---- pages ----

type pageData struct {
	// Title is a catalogue key.
	Title         string
	Message, Hint string
	Session       *app.Session
	// Lang is the page's language ("en", "id", "zh"), Path the page's own
	// path and query (the language switcher returns to it); render sets
	// both.
	Lang, Path string
	// CorpID and ClientID, for the in-app login page's script.
	CorpID, ClientID string
	// Dir is the directory's pages' data (directory.go).
	Dir *dirPage
	// Admin is the admin pages' data (adminpages.go).
	Admin *adminPage
	// Card is the card pages' data (cards.go).
	Card *cardPage
	// Req is the request and grant pages' data (reqpages.go).
	Req *reqPage
	// Dev is the devices page's data (devices.go).
	Dev *devicePage
}

// T translates a catalogue key into the page's language: {{.T "key"}}.
func (d pageData) T(key string, args ...any) string { return tr(d.Lang, key, args...) }

// LangChoice is one entry of the language switcher.
type LangChoice struct {
	Code, Name string
	Current    bool
}

// Langs lists the languages for the switcher.
func (d pageData) Langs() []LangChoice {
	var out []LangChoice
	for _, tag := range Languages {
		c := tag.String()
		out = append(out, LangChoice{Code: c, Name: langName[c], Current: c == d.Lang})
	}
	return out
}

// render writes a page in the request's language.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	d.Lang = pickLang(r, d.Session)
	if d.Path == "" {
		d.Path = r.URL.RequestURI()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", d.Lang)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Add("Vary", "Accept-Language, Cookie")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, d); err != nil {
		s.logf("serve: page %s: %v", name, err)
	}
}

// problem answers a refusal: JSON {"error","message","hint"} under /api/,
// else a page, in the request's language. key names the refusal in the
// catalogue: key is the title, key+".message" (with args) and key+".hint"
// the texts; a login refusal's texts are those of its reason
// ("refusal.<reason>"). Without a text in the catalogue, err's (English)
// message and hint are shown.
func (s *Server) problem(w http.ResponseWriter, r *http.Request, status int, key string, err error, args ...any) {
	msg, hint, code := err.Error(), "", ""
	var de *dingbook.Error
	if errors.As(err, &de) {
		msg, hint, code = de.Message, de.Hint, de.Code
	}
	lang := pickLang(r, nil)
	mk, hk := key+".message", key+".hint"
	if reason := app.RefusalReason(err); reason != "error" {
		mk, hk, args = "refusal."+reason, "refusal."+reason+".hint", nil
	}
	if hasKey(mk) {
		msg = tr(lang, mk, args...)
	}
	if hasKey(hk) {
		hint = tr(lang, hk)
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, status, map[string]string{"error": code, "message": msg, "hint": hint})
		return
	}
	s.render(w, r, status, "problem", pageData{Title: key, Message: msg, Hint: hint})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) index(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if sess != nil {
		s.search(w, r, sess)
		return
	}
	s.render(w, r, http.StatusOK, "index", pageData{Title: "index.title", Session: sess})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ *app.Session) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// Me is the answer of GET /api/v1/me.
type Me struct {
	UserID     string   `json:"userid"`
	Name       string   `json:"name"`
	Roles      []string `json:"roles"`
	AdminScope []int64  `json:"admin_scope"`
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	scope := sess.AdminScope
	if scope == nil {
		scope = []int64{}
	}
	writeJSON(w, http.StatusOK, Me{UserID: sess.UserID, Name: sess.Name, Roles: sess.Roles, AdminScope: scope})
}

// AuditHead is the answer of GET /api/v1/audit/head.
type AuditHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

func (s *Server) auditHead(w http.ResponseWriter, r *http.Request, _ *app.Session) {
	seq, hash, err := s.App.AuditHead(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, AuditHead{Seq: seq, Hash: hash})
}

// fail answers an internal failure (500) without its details, logging them.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.logf("serve: %s %s: %v", r.Method, r.URL.Path, err)
	s.problem(w, r, http.StatusInternalServerError, "problem.internal",
		&dingbook.Error{Code: dingbook.EINTERNAL, Message: "the server could not answer " + r.URL.Path, Hint: "try again; if it persists, the operator's log says why"}, r.URL.Path)
}

// ---- login ----

// loginState is what the state cookie binds to the browser: the state
// sent to DingTalk and the local page to return to.
type loginState struct {
	State string `json:"s"`
	Next  string `json:"n"`
}

// localPath reports whether next is a path on this server: it begins with
// one "/" followed by neither "/" nor "\", and has no scheme, host or
// control characters.
func localPath(next string) bool {
	if next == "" || next[0] != '/' || len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return false
	}
	if strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return false
	}
	u, err := url.Parse(next)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ *app.Session) {
	next := r.URL.Query().Get("next")
	if next == "" {
		next = "/"
	}
	if !localPath(next) {
		err := &dingbook.Error{Code: dingbook.EINVALID, Message: "the page to return to after login (next) must be a path on this server", Hint: "open /login without next, or with a path such as /", Err: app.ErrLoginNext}
		s.App.RefuseLogin(r.Context(), "browser", clientIP(r), err)
		s.metrics.login("refused", app.RefusalReason(err))
		s.problem(w, r, http.StatusBadRequest, "problem.login_refused", err)
		return
	}
	st := loginState{State: app.NewToken(), Next: next}
	b, _ := json.Marshal(st)
	s.setCookie(w, r, StateCookie, base64.RawURLEncoding.EncodeToString(b), "/auth/dingtalk/", 600)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.Client.AuthorizeURL(strings.TrimRight(s.BaseURL, "/")+CallbackPath, st.State), http.StatusFound)
}

// callback finishes the browser login: the state must be the one bound to
// this browser, then DingTalk vouches for the code.
func (s *Server) callback(w http.ResponseWriter, r *http.Request, _ *app.Session) {
	var st loginState
	if c, err := r.Cookie(StateCookie); err == nil {
		if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil {
			json.Unmarshal(b, &st)
		}
	}
	s.setCookie(w, r, StateCookie, "", "/auth/dingtalk/", -1)
	q := r.URL.Query()
	if st.State == "" || subtle.ConstantTimeCompare([]byte(st.State), []byte(q.Get("state"))) != 1 {
		s.refuse(w, r, "browser", &dingbook.Error{Code: dingbook.EAUTH, Message: "this login did not start in this browser (its state does not match)",
			Hint: "start again from /login in the same browser, with cookies enabled", Err: app.ErrLoginState})
		return
	}
	code, err := dingtalk.CallbackCode(q)
	if err != nil {
		s.refuse(w, r, "browser", err)
		return
	}
	id, err := s.Client.LoginWithCode(r.Context(), code)
	if err != nil {
		s.refuse(w, r, "browser", err)
		return
	}
	next := st.Next
	if !localPath(next) {
		next = "/"
	}
	s.admit(w, r, id, "browser", next)
}

// inApp logs in with the code of dd.requestAuthCode inside the DingTalk
// client.
func (s *Server) inApp(w http.ResponseWriter, r *http.Request, _ *app.Session) {
	code := r.URL.Query().Get("code")
	if code == "" {
		s.refuse(w, r, "inapp", &dingbook.Error{Code: dingbook.EAUTH, Message: "the in-app login carries no code",
			Hint: "open dingbook from the DingTalk workbench, which supplies the code (dd.requestAuthCode)", Err: &dingtalk.LoginRefusal{Reason: dingtalk.ErrCodeInvalid}})
		return
	}
	id, err := s.Client.LoginInApp(r.Context(), code)
	if err != nil {
		s.refuse(w, r, "inapp", err)
		return
	}
	s.admit(w, r, id, "inapp", "/")
}

func (s *Server) admit(w http.ResponseWriter, r *http.Request, id *dingtalk.Identity, via, next string) {
	// a new session id at every login: the browser's previous session ends
	old := ""
	if c, err := r.Cookie(SessionCookie); err == nil {
		old = c.Value
	}
	// the language chosen before the login is the session's (and its
	// work notices')
	lang := ""
	if c, err := r.Cookie(LangCookie); err == nil {
		if _, ok := messageKeys[c.Value]; ok {
			lang = c.Value
		}
	}
	token, _, err := s.App.Login(r.Context(), id, app.LoginOptions{Via: via, OldToken: old, Addr: clientIP(r), Policy: s.policy(), Lang: lang})
	if err != nil {
		s.metrics.login("failed", "error")
		s.fail(w, r, err)
		return
	}
	s.metrics.login("ok", "")
	s.setCookie(w, r, SessionCookie, token, "/", 0)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// refuse records a refused login and shows why.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, via string, err error) {
	reason := app.RefusalReason(err)
	if reason == "error" {
		// DingTalk failed (network, throttling): not a refusal of the person
		s.logf("serve: login (%s): %v", via, err)
	}
	err = s.App.RefuseLogin(r.Context(), via, clientIP(r), err)
	if reason == "error" {
		s.metrics.login("failed", reason)
	} else {
		s.metrics.login("refused", reason)
	}
	status := http.StatusForbidden
	switch reason {
	case "state", "code-invalid", "code-reused", "declined":
		status = http.StatusBadRequest
	case "error":
		status = http.StatusBadGateway
	}
	s.problem(w, r, status, "problem.login_refused", err)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ *app.Session) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := s.App.Logout(r.Context(), c.Value); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.setCookie(w, r, SessionCookie, "", "/", -1)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// ---- the client's address, for rate limits and audit records ----

// clientIP is the client's address: the peer's, or the one a trusted proxy
// forwarded (forwarded has put it in RemoteAddr).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Shutdown-friendly serving for the CLI.

// Serve serves h on ln until ctx is cancelled, then shuts down gracefully
// (requests in flight get up to grace to finish).
func Serve(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if e := <-done; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}
