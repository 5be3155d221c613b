package serve_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/dingbook/dingbook/serve"
	"github.com/dingbook/dingbook/source/gen"
)

// Who passes each rule, independently of serve.Rule.Allows. A rule added
// to serve without a row here fails the test.
var passes = map[serve.Rule][]string{
	serve.Anonymous:    {"anonymous", "employee", "external", "sub-admin", "primary-admin", "leaver"},
	serve.Person:       {"employee", "sub-admin", "primary-admin"},
	serve.Admin:        {"sub-admin", "primary-admin"},
	serve.PrimaryAdmin: {"primary-admin"},
	// a cookie session is no device: every role gets the 401 that asks
	// for an app password
	serve.Device: {},
}

// The spec of each route: the rule it must have, and what it answers a
// plain request (no query, no body) from someone the rule admits. A route
// without a row, or with another rule, fails the test.
var admitted = map[string]struct {
	rule   serve.Rule
	status int
}{
	"GET /healthz":                {serve.Anonymous, 200},
	"GET /{$}":                    {serve.Anonymous, 200},
	"GET /login":                  {serve.Anonymous, 302},
	"GET /auth/dingtalk/callback": {serve.Anonymous, 400}, // no state cookie
	"GET /auth/dingtalk/inapp":    {serve.Anonymous, 400}, // no code
	"POST /logout":                {serve.Person, 303},
	"GET /api/v1/me":              {serve.Person, 200},
	"GET /api/v1/audit/head":      {serve.PrimaryAdmin, 200},
	// i10-admin: the pull API (each pull is waited for, so the next
	// admin's starts afresh) and the metrics
	"POST /api/v1/admin/pulls":     {serve.Admin, 202},
	"GET /api/v1/admin/pulls/{id}": {serve.Admin, 404}, // no pull "{id}"
	"GET /metrics":                 {serve.Admin, 200},
	// the admin pages (adminpages.go): the form starts a pull and shows
	// its page; the changes page says it needs two snapshots
	"GET /admin":            {serve.Admin, 200},
	"GET /admin/pulls":      {serve.Admin, 200},
	"POST /admin/pulls":     {serve.Admin, 303},
	"GET /admin/pulls/{id}": {serve.Admin, 404}, // no pull "{id}"
	"GET /admin/quality":    {serve.Admin, 200},
	"GET /admin/changes":    {serve.Admin, 200},
	"GET /admin/exports":    {serve.PrimaryAdmin, 200},
	"GET /admin/audit":      {serve.PrimaryAdmin, 200},
	// portal.go
	"POST /lang":            {serve.Anonymous, 400}, // no lang
	"GET /inapp":            {serve.Anonymous, 200},
	"GET /static/{file...}": {serve.Anonymous, 404}, // no such file
	// the directory (its path parameters from pathParams)
	"GET /people/{userid}":        {serve.Person, 200},
	"GET /departments/{dept_id}":  {serve.Person, 200},
	"GET /api/v1/people":          {serve.Person, 200},
	"GET /api/v1/people/{userid}": {serve.Person, 200},
	"GET /api/v1/departments":     {serve.Person, 200},
	// i12-carddav: app passwords and the CardDAV address book (a device
	// authenticates with Basic auth only: without it, 401 for everyone)
	"POST /api/v1/app-passwords":        {serve.Person, 400}, // no body
	"GET /api/v1/app-passwords":         {serve.Person, 200},
	"DELETE /api/v1/app-passwords/{id}": {serve.Person, 404}, // no app password "{id}"
	"GET /.well-known/carddav":          {serve.Anonymous, 301},
	"PROPFIND /.well-known/carddav":     {serve.Anonymous, 301},
	"OPTIONS /dav/{path...}":            {serve.Device, 401},
	"PROPFIND /dav/{path...}":           {serve.Device, 401},
	"REPORT /dav/{path...}":             {serve.Device, 401},
	"GET /dav/{path...}":                {serve.Device, 401},
	"PUT /dav/{path...}":                {serve.Device, 401},
	"DELETE /dav/{path...}":             {serve.Device, 401},
	"MKCOL /dav/{path...}":              {serve.Device, 401},
	"PROPPATCH /dav/{path...}":          {serve.Device, 401},
	"COPY /dav/{path...}":               {serve.Device, 401},
	"MOVE /dav/{path...}":               {serve.Device, 401},
	"POST /dav/{path...}":               {serve.Device, 401},
	// export requests (requests.go): no body, no request "{id}"
	"POST /api/v1/requests":              {serve.Person, 400},
	"GET /api/v1/requests":               {serve.Person, 200},
	"POST /api/v1/requests/{id}/approve": {serve.Person, 404},
	"POST /api/v1/requests/{id}/deny":    {serve.Person, 400}, // no reason
}

// pathParams fill the routes' path parameters: someone everybody may see
// (set by the test: an unrestricted member), the root department.
var pathParams = map[string]string{"{userid}": "", "{dept_id}": "1"}

// TestAuthorizationMatrix requests every route of the route table as
// every role and checks the status: the route's own answer when the rule
// admits the role, 401 without a session, 403 with one.
func TestAuthorizationMatrix(t *testing.T) {
	e := newEnv(t)
	primary, sub, emp := demoUsers(t, e.sim)
	leaver := ""
	for _, p := range truth.Org.People {
		if p.Active && p.UserID != emp && !slices.ContainsFunc(e.sim.Admins(), func(a gen.Admin) bool { return a.UserID == p.UserID }) {
			leaver = p.UserID
		}
	}
	// each role's browser, logged in the way the role can be
	login := func(role string) *browser {
		switch role {
		case "anonymous":
			return e.browser("")
		case "external":
			// refused at login: no session
			b := e.browser(accountOf(t, gen.AccountExternal).UnionID)
			if resp, _ := b.follow(e.url + "/login"); resp.StatusCode != 403 {
				t.Fatalf("the external account was not refused: %d", resp.StatusCode)
			}
			return b
		case "leaver":
			// logged in while a member; the pull that sees them gone ends
			// their sessions
			b := e.browser(leaver)
			if resp, _ := b.follow(e.url + "/login"); resp.StatusCode != 200 {
				t.Fatalf("the leaver-to-be could not log in: %d", resp.StatusCode)
			}
			if err := e.sim.RemoveUser(leaver); err != nil {
				t.Fatal(err)
			}
			if n, err := e.app.EndSessions(t.Context(), leaver, "pull", "left"); n != 1 || err != nil {
				t.Fatalf("EndSessions: %d %v", n, err)
			}
			return b
		}
		user := map[string]string{"employee": emp, "sub-admin": sub, "primary-admin": primary}[role]
		b := e.browser(user)
		if resp, _ := b.follow(e.url + "/login"); resp.StatusCode != 200 {
			t.Fatalf("%s could not log in: %d", role, resp.StatusCode)
		}
		return b
	}
	// the directory reads the latest complete snapshot
	pullSim(t, e)
	for _, p := range truth.Org.People {
		if p.Active && !p.Restricted && p.UserID != leaver {
			pathParams["{userid}"] = p.UserID
			break
		}
	}
	roles := []string{"anonymous", "employee", "external", "sub-admin", "primary-admin", "leaver"}
	routes := e.srv.Routes()
	// a logout ends the session: request it last
	slices.SortStableFunc(routes, func(a, b serve.Route) int {
		la, lb := a.Pattern == "POST /logout", b.Pattern == "POST /logout"
		if la != lb {
			if la {
				return 1
			}
			return -1
		}
		return strings.Compare(strings.Fields(a.Pattern)[0], strings.Fields(b.Pattern)[0])
	})
	for _, rt := range routes {
		if rt.Rule == serve.RuleUnset {
			t.Errorf("route %s has no rule", rt.Pattern)
		}
		if _, ok := passes[rt.Rule]; !ok {
			t.Errorf("route %s: rule %v has no row in the test's passes table", rt.Pattern, rt.Rule)
		}
		if spec, ok := admitted[rt.Pattern]; !ok {
			t.Errorf("route %s has no row in the test's admitted table", rt.Pattern)
		} else if spec.rule != rt.Rule {
			t.Errorf("route %s has rule %v, want %v", rt.Pattern, rt.Rule, spec.rule)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, role := range roles {
		b := login(role)
		loggedIn := slices.Contains(passes[serve.Person], role)
		for _, rt := range routes {
			method, path, _ := strings.Cut(rt.Pattern, " ")
			path = strings.TrimSuffix(path, "{$}")
			for k, v := range pathParams {
				path = strings.ReplaceAll(path, k, v)
			}
			want := admitted[rt.Pattern].status
			if rt.Rule == serve.Device {
				want = http.StatusUnauthorized
			} else if !slices.Contains(passes[rt.Rule], role) {
				want = http.StatusForbidden
				if !loggedIn {
					want = http.StatusUnauthorized
					if method == "GET" && !strings.HasPrefix(path, "/api/") {
						want = http.StatusFound // a page: to the login
					}
				}
			}
			resp, body := b.do(method, e.url+path, nil)
			e.srv.WaitPulls()
			if resp.StatusCode != want {
				t.Errorf("%s %s as %s (rule %v): HTTP %d, want %d: %.200s", method, path, role, rt.Rule, resp.StatusCode, want, body)
			}
			checkHeaders(t, method+" "+path+" as "+role, resp)
		}
	}
}

// checkHeaders asserts the security headers every response carries.
func checkHeaders(t *testing.T, name string, resp *http.Response) {
	t.Helper()
	for k, v := range map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "same-origin",
	} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", name, k, got, v)
		}
	}
}

// Responses outside the route table (404, 405) and refusals carry the
// headers too.
func TestSecurityHeadersEverywhere(t *testing.T) {
	e := newEnv(t)
	b := e.browser("")
	for _, req := range [][2]string{{"GET", "/nope"}, {"GET", "/logout"}, {"DELETE", "/api/v1/me"}, {"GET", "/api/v1/me"},
		{"POST", "/logout"}, {"GET", "/login?next=//evil.example"}} {
		resp, _ := b.do(req[0], e.url+req[1], nil)
		checkHeaders(t, req[0]+" "+req[1], resp)
	}
	resp, _ := b.do("POST", e.url+"/logout", http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if resp.StatusCode != 403 {
		t.Errorf("cross-site POST: %d", resp.StatusCode)
	}
	checkHeaders(t, "cross-site POST", resp)
}
