package serve

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/policy"
)

// Rule says who may use a route. Every route has one; a route left at
// RuleUnset makes Handler panic and the authorisation test fail.
type Rule int

const (
	RuleUnset Rule = iota
	// Anonymous: anyone, logged in or not.
	Anonymous
	// Person: any logged-in person (any member DingTalk admitted).
	Person
	// Admin: a primary admin or a sub-admin.
	Admin
	// PrimaryAdmin: the primary admin only.
	PrimaryAdmin
	// Device: a CardDAV client with a person's app password (Basic auth,
	// carddav.go); a cookie session does not count.
	Device
	// Auditor: an auditor the policy names (serve.auditors), or the
	// primary admin: the audit log's read routes.
	Auditor
	// Puller: an admin who may start a pull: the primary admin, and
	// sub-admins unless the policy narrows it (serve.sub_admins_may_pull:
	// false; authorize checks the policy).
	Puller
)

func (r Rule) String() string {
	switch r {
	case Anonymous:
		return "anonymous"
	case Person:
		return "person"
	case Admin:
		return "admin"
	case PrimaryAdmin:
		return "primary-admin"
	case Device:
		return "device"
	case Auditor:
		return "auditor"
	case Puller:
		return "puller"
	}
	return "unset"
}

// NarrowedBy names the policy setting that can narrow the rule below
// what DingTalk's roles admit ("" for a rule the policy cannot narrow):
// the 403 of a person the setting refuses names it.
func (r Rule) NarrowedBy() string {
	if r == Puller {
		return "serve.sub_admins_may_pull: false"
	}
	return ""
}

// Allows reports whether a session (nil: nobody logged in) passes the
// rule under the built-in policy; AllowsUnder applies a policy's
// narrowing.
func (r Rule) Allows(s *app.Session) bool { return r.AllowsUnder(s, nil) }

// AllowsUnder reports whether a session (nil: nobody logged in) passes
// the rule under pol (nil: the defaults). The policy only narrows.
func (r Rule) AllowsUnder(s *app.Session, pol *policy.Policy) bool {
	has := func(role string) bool { return s != nil && slices.Contains(s.Roles, role) }
	switch r {
	case Anonymous:
		return true
	case Person:
		return s != nil
	case Admin:
		return has(app.RoleAdmin) || has(app.RoleSubAdmin)
	case Puller:
		return has(app.RoleAdmin) || has(app.RoleSubAdmin) && (pol == nil || pol.Serve.SubAdminsPull())
	case PrimaryAdmin:
		return has(app.RoleAdmin)
	case Auditor:
		return has(app.RoleAdmin) || has(app.RoleAuditor)
	case Device:
		return s != nil && s.Via == app.ViaAppPassword
	}
	return false
}

// codeRateLimit is the error code of a 429 answer.
const codeRateLimit = "ratelimit"

// Route is one entry of the route table.
type Route struct {
	// Pattern is the http.ServeMux pattern, method included.
	Pattern string
	Rule    Rule
	// Limited routes are rate-limited per client address (the login).
	Limited bool
	handle  func(http.ResponseWriter, *http.Request, *app.Session)
}

// Routes is the route table: every route the server answers, with its
// rule. Register new routes here only.
func (s *Server) Routes() []Route {
	routes := []Route{
		{Pattern: "GET /healthz", Rule: Anonymous, handle: s.healthz},
		{Pattern: "GET /{$}", Rule: Anonymous, handle: s.index},
		{Pattern: "GET /login", Rule: Anonymous, Limited: true, handle: s.login},
		{Pattern: "GET " + CallbackPath, Rule: Anonymous, Limited: true, handle: s.callback},
		{Pattern: "GET /auth/dingtalk/inapp", Rule: Anonymous, Limited: true, handle: s.inApp},
		{Pattern: "POST /logout", Rule: Person, handle: s.logout},
		{Pattern: "GET /api/v1/me", Rule: Person, handle: s.me},
		{Pattern: "GET /api/v1/audit/head", Rule: Auditor, handle: s.auditHead},
		// languages, the in-app login page and the embedded static files
		// (portal.go)
		{Pattern: "POST /lang", Rule: Anonymous, handle: s.setLang},
		{Pattern: "GET /inapp", Rule: Anonymous, handle: s.inAppPage},
		{Pattern: "GET /static/{file...}", Rule: Anonymous, handle: s.static},
		// the directory (directory.go)
		{Pattern: "GET /people/{userid}", Rule: Person, handle: s.personPage},
		{Pattern: "GET /departments/{dept_id}", Rule: Person, handle: s.deptPage},
		{Pattern: "GET /api/v1/people", Rule: Person, handle: s.apiPeople},
		{Pattern: "GET /api/v1/people/{userid}", Rule: Person, handle: s.apiPerson},
		{Pattern: "GET /api/v1/departments", Rule: Person, handle: s.apiDepartments},
		// export requests (requests.go; issue 11)
		{Pattern: "POST /api/v1/requests", Rule: Person, handle: s.apiCreateRequest},
		{Pattern: "GET /api/v1/requests", Rule: Person, handle: s.apiRequests},
		{Pattern: "POST /api/v1/requests/{id}/approve", Rule: Person, handle: s.apiApproveRequest},
		{Pattern: "POST /api/v1/requests/{id}/deny", Rule: Person, handle: s.apiDenyRequest},
	}
	routes = append(routes, s.adminRoutes()...)
	// the admin pages (adminpages.go)
	routes = append(routes, s.adminPageRoutes()...)
	// external contacts (external.go; issues 10 and 11 §4)
	routes = append(routes, s.externalRoutes()...)
	// app passwords and the CardDAV address book (apppasswords.go, carddav.go)
	routes = append(routes, s.appPasswordRoutes()...)
	routes = append(routes, s.cardDAVRoutes()...)
	// the devices page: app passwords in the portal (devices.go)
	routes = append(routes, s.devicePageRoutes()...)
	// grants and their one-time downloads (grants.go; issue 11)
	routes = append(routes, s.grantRoutes()...)
	// business cards: vCard, QR code, share links (cards.go; issue 11 §3)
	routes = append(routes, s.cardRoutes()...)
	// the pages of requests and grants (reqpages.go; issue 11)
	routes = append(routes, s.requestPageRoutes()...)
	return routes
}

// authorize wraps a route with its rule: the session is looked up, an
// anonymous request to a route for logged-in people gets 401 (JSON under
// /api/, never a redirect; a GET of a page is redirected to the login,
// which returns to it), a logged-in person without the role 403.
func (s *Server) authorize(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.Limited && !s.limiter.allow(clientIP(r)) {
			w.Header().Set("Retry-After", "60")
			s.problem(w, r, http.StatusTooManyRequests, "problem.ratelimit",
				&dingbook.Error{Code: codeRateLimit, Message: "too many login attempts from this address", Hint: "wait a minute, then log in again"})
			return
		}
		session := s.session
		if rt.Rule == Device {
			session = s.basicSession
		}
		sess, err := session(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if rt.Rule == Device && sess == nil {
			davUnauthorized(w)
			return
		}
		if !rt.Rule.AllowsUnder(sess, s.policy()) {
			if sess == nil && r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/") {
				// a page: log in, then come back
				w.Header().Set("Cache-Control", "no-store")
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
				return
			}
			if sess == nil {
				s.problem(w, r, http.StatusUnauthorized, "problem.unauthorized",
					&dingbook.Error{Code: dingbook.EAUTH, Message: "you are not logged in (or your session ended)", Hint: "log in at /login"})
				return
			}
			if rt.Rule.Allows(sess) {
				// DingTalk's roles admit the person; the policy narrows them
				by := rt.Rule.NarrowedBy()
				s.problem(w, r, http.StatusForbidden, "problem.narrowed",
					&dingbook.Error{Code: dingbook.EPERM, Message: "the policy (" + by + ") does not let you use " + r.URL.Path, Hint: "ask the primary admin"}, by, r.URL.Path)
				return
			}
			s.problem(w, r, http.StatusForbidden, "problem.forbidden",
				&dingbook.Error{Code: dingbook.EPERM, Message: r.URL.Path + " is for the " + rt.Rule.String() + " role", Hint: "ask an admin if you need it"}, r.URL.Path, rt.Rule.String())
			return
		}
		rt.handle(w, r, sess)
	})
}
