package serve_test

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/serve"
	"github.com/dingbook/dingbook/source/gen"
)

// The roles of the matrix: nobody logged in, an employee, an external
// contact's DingTalk account (refused at login), a sub-admin whose scope
// holds the person the routes' {userid} names and one whose scope does
// not, the primary admin, an auditor and an approver the policy names
// (ordinary employees otherwise), and a person who left (their session
// ended by the pull that saw them gone).
var roles = []string{"anonymous", "employee", "external", "sub-admin-in", "sub-admin-out", "primary-admin", "auditor", "approver", "leaver"}

// Who passes each rule, independently of serve.Rule.Allows. A rule added
// to serve without a row here fails the test.
var passes = map[serve.Rule][]string{
	serve.Anonymous:    roles,
	serve.Person:       {"employee", "sub-admin-in", "sub-admin-out", "primary-admin", "auditor", "approver"},
	serve.Admin:        {"sub-admin-in", "sub-admin-out", "primary-admin"},
	serve.Puller:       {"sub-admin-in", "sub-admin-out", "primary-admin"},
	serve.PrimaryAdmin: {"primary-admin"},
	serve.Auditor:      {"primary-admin", "auditor"},
	// a cookie session is no device: every role gets the 401 that asks
	// for an app password
	serve.Device: {},
}

// The routes about the person {userid} names (every pattern with
// {userid}): an access-restricted member inside the first sub-admin's
// scope, whom only admins within scope (and their own department, none
// of the roles) may see; everyone else admitted gets 404, as for a person
// who does not exist.
func showsTarget(pattern string) bool { return strings.Contains(pattern, "{userid}") }

// seesTarget are the roles that see {userid}.
var seesTarget = []string{"sub-admin-in", "primary-admin"}

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
	"GET /api/v1/audit/head":      {serve.Auditor, 200},
	// i10-admin: the pull API (each pull is waited for, so the next
	// admin's starts afresh) and the metrics
	"POST /api/v1/admin/pulls":     {serve.Puller, 202},
	"GET /api/v1/admin/pulls/{id}": {serve.Admin, 404}, // no pull "{id}"
	"GET /metrics":                 {serve.Admin, 200},
	// the admin pages' JSON (adminapi.go); the changes answer only a
	// note while there is one snapshot
	"GET /api/v1/admin/quality": {serve.Admin, 200},
	"GET /api/v1/admin/changes": {serve.Admin, 200},
	"GET /api/v1/admin/pulls":   {serve.Admin, 200},
	"GET /api/v1/admin/exports": {serve.PrimaryAdmin, 200},
	"GET /api/v1/audit":         {serve.Auditor, 200},
	// the admin pages (adminpages.go): the form starts a pull and shows
	// its page; the changes page says it needs two snapshots
	"GET /admin":            {serve.Admin, 200},
	"GET /admin/pulls":      {serve.Admin, 200},
	"POST /admin/pulls":     {serve.Puller, 303},
	"GET /admin/pulls/{id}": {serve.Admin, 404}, // no pull "{id}"
	"GET /admin/quality":    {serve.Admin, 200},
	"GET /admin/changes":    {serve.Admin, 200},
	"GET /admin/exports":    {serve.PrimaryAdmin, 200},
	"GET /admin/audit":      {serve.Auditor, 200},
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
	// the devices page (devices.go): an empty form is shown again with
	// its refusal; no app password "{id}"
	"GET /me/devices":               {serve.Person, 200},
	"POST /me/devices":              {serve.Person, 400},
	"POST /me/devices/{id}/revoke":  {serve.Person, 404},
	"PROPFIND /.well-known/carddav": {serve.Anonymous, 301},
	"OPTIONS /dav/{path...}":        {serve.Device, 401},
	"PROPFIND /dav/{path...}":       {serve.Device, 401},
	"REPORT /dav/{path...}":         {serve.Device, 401},
	"GET /dav/{path...}":            {serve.Device, 401},
	"PUT /dav/{path...}":            {serve.Device, 401},
	"DELETE /dav/{path...}":         {serve.Device, 401},
	"MKCOL /dav/{path...}":          {serve.Device, 401},
	"PROPPATCH /dav/{path...}":      {serve.Device, 401},
	"COPY /dav/{path...}":           {serve.Device, 401},
	"MOVE /dav/{path...}":           {serve.Device, 401},
	"POST /dav/{path...}":           {serve.Device, 401},
	// export requests (requests.go): no body, no request "{id}"
	"POST /api/v1/requests":              {serve.Person, 400},
	"GET /api/v1/requests":               {serve.Person, 200},
	"POST /api/v1/requests/{id}/approve": {serve.Person, 404},
	"POST /api/v1/requests/{id}/deny":    {serve.Person, 400}, // no reason
	// grants (grants.go): no grant "{id}", no body, no link "{token}"
	"GET /api/v1/grants":                    {serve.Person, 200},
	"GET /api/v1/grants/{id}/terms":         {serve.Person, 404},
	"POST /api/v1/grants/{id}/accept-terms": {serve.Person, 400},
	"POST /api/v1/grants/{id}/bundle":       {serve.Person, 404},
	"POST /api/v1/grants/{id}/revoke":       {serve.Person, 404},
	"GET /grants/download/{token}":          {serve.Person, 404},
	// the pages of requests and grants (reqpages.go): no request or
	// grant "{id}"; an empty form is shown again with its refusal
	"GET /requests/new":              {serve.Person, 200},
	"POST /requests":                 {serve.Person, 400},
	"GET /requests":                  {serve.Person, 200},
	"GET /requests/inbox":            {serve.Person, 200},
	"GET /requests/{id}":             {serve.Person, 404},
	"POST /requests/{id}/approve":    {serve.Person, 404},
	"POST /requests/{id}/deny":       {serve.Person, 404},
	"GET /grants":                    {serve.Person, 200},
	"GET /grants/{id}":               {serve.Person, 404},
	"POST /grants/{id}/accept-terms": {serve.Person, 404},
	"POST /grants/{id}/bundle":       {serve.Person, 404},
	"POST /grants/{id}/revoke":       {serve.Person, 404},
	// business cards (cards.go): the cards of pathParams' person, a
	// share link "{token}" and a share "{id}" that do not exist
	"GET /people/{userid}/card.vcf": {serve.Person, 200},
	"GET /people/{userid}/card.png": {serve.Person, 200},
	"GET /people/{userid}/card.svg": {serve.Person, 200},
	"POST /people/{userid}/share":   {serve.Person, 200},
	"GET /s/{token}":                {serve.Anonymous, 404},
	"GET /s/{token}/card.vcf":       {serve.Anonymous, 404},
	"GET /me/shares":                {serve.Person, 200},
	"POST /me/shares/{id}/revoke":   {serve.Person, 404},
	"GET /api/v1/me/shares":         {serve.Person, 200},
	"DELETE /api/v1/me/shares/{id}": {serve.Person, 404},
	// external contacts (external.go): no external contact "{id}"
	"GET /external/{id}":                          {serve.Person, 404},
	"POST /external/{id}/withdraw-consent":        {serve.Person, 404},
	"GET /api/v1/external":                        {serve.Person, 200},
	"GET /api/v1/external/{id}":                   {serve.Person, 404},
	"POST /api/v1/external/{id}/withdraw-consent": {serve.Person, 404},
}

// pathParams fill the routes' path parameters: the person of showsTarget
// (set by the test), the root department.
var pathParams = map[string]string{"{userid}": "", "{dept_id}": "1"}

// TestAuthorizationMatrix requests every route of the route table as
// every role and checks the status: the route's own answer when the rule
// admits the role (404 for a person the role may not see), 401 without a
// session, 403 with one.
func TestAuthorizationMatrix(t *testing.T) {
	e, c := newDirEnv(t)
	pathParams["{userid}"] = c.rIn
	member := func(uid string) *dingbook.Person {
		for i := range truth.Org.People {
			if truth.Org.People[i].UserID == uid {
				return &truth.Org.People[i]
			}
		}
		t.Fatalf("no person %s", uid)
		return nil
	}
	// the second sub-admin's scope must not hold c.rIn's department
	tree := dingbook.NewTree(truth.Org.Depts)
	subOut, rInDept := "", c.rInDept(t, e)
	for _, a := range e.sim.Admins() {
		if a.SysLevel == 2 && a.UserID != c.sub {
			subOut = a.UserID
			for _, id := range a.Scope {
				if slices.Contains(tree.Descendants(id), rInDept) {
					t.Fatalf("sub-admin %s's scope %v holds department %d", a.UserID, a.Scope, rInDept)
				}
			}
		}
	}
	// an auditor, an approver and a leaver-to-be: ordinary members, none
	// in c.rIn's department, nobody of the cast
	var free []string
	for _, p := range truth.Org.People {
		if p.Active && !p.Restricted && !slices.Contains(p.DeptIDs(), rInDept) && p.UnionID != "" &&
			!slices.Contains([]string{c.primary, c.sub, subOut, c.emp, c.hidden, c.xss, c.rIn, c.rOut}, p.UserID) &&
			!slices.ContainsFunc(e.sim.Admins(), func(a gen.Admin) bool { return a.UserID == p.UserID }) {
			free = append(free, p.UserID)
		}
	}
	if subOut == "" || len(free) < 3 || slices.Contains(member(c.emp).DeptIDs(), rInDept) {
		t.Fatalf("the org lacks the matrix's cast: second sub-admin %q, %d free people", subOut, len(free))
	}
	auditor, approver, leaver := free[0], free[1], free[2]
	usePolicy(t, e, "serve:\n  auditors: ["+auditor+"]\n  approvers: ["+approver+"]\n")
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
			// their session
			b := e.loggedIn(leaver)
			if err := e.sim.RemoveUser(leaver); err != nil {
				t.Fatal(err)
			}
			if res := pullSim(t, e); res.SessionsEnded != 1 {
				t.Fatalf("the pull ended %d sessions, want the leaver's", res.SessionsEnded)
			}
			return b
		}
		user := map[string]string{"employee": c.emp, "sub-admin-in": c.sub, "sub-admin-out": subOut, "primary-admin": c.primary,
			"auditor": auditor, "approver": approver}[role]
		b := e.loggedIn(user)
		// the roles in the session are the role's
		want := map[string][]string{"employee": {"employee"}, "sub-admin-in": {"employee", "sub-admin"}, "sub-admin-out": {"employee", "sub-admin"},
			"primary-admin": {"employee", "admin"}, "auditor": {"employee", "auditor"}, "approver": {"employee", "approver"}}[role]
		if st, me := b.me(); st != 200 || !slices.Equal(me.Roles, want) {
			t.Fatalf("%s: /api/v1/me %d roles %v, want %v", role, st, me.Roles, want)
		}
		return b
	}
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
			switch {
			case rt.Rule == serve.Device:
				want = http.StatusUnauthorized
			case !slices.Contains(passes[rt.Rule], role) && loggedIn:
				want = http.StatusForbidden
			case !slices.Contains(passes[rt.Rule], role) && method == "GET" && !strings.HasPrefix(path, "/api/"):
				want = http.StatusFound // a page: to the login
			case !slices.Contains(passes[rt.Rule], role):
				want = http.StatusUnauthorized
			case showsTarget(rt.Pattern) && !slices.Contains(seesTarget, role):
				want = http.StatusNotFound
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

// rInDept is the department of the restricted person inside the
// sub-admin's scope, as the latest snapshot has it.
func (c dirCast) rInDept(t *testing.T, e *env) int64 {
	t.Helper()
	p, _, err := e.app.DB.LatestPerson(t.Context(), c.rIn)
	if err != nil || p == nil || len(p.Depts) != 1 {
		t.Fatalf("%s is not in the snapshot with one department: %v %v", c.rIn, p, err)
	}
	return p.Depts[0].DeptID
}

// usePolicy writes doc as the state directory's policy (which pulls then
// load) and makes it the server's.
func usePolicy(t *testing.T, e *env, doc string) *policy.Policy {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.app.DB.Dir, policy.FileName), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	pol, err := e.app.Policy(t.Context(), "", "tester")
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Policy = pol
	return pol
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
