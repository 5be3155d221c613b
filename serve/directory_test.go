package serve_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/serve"
)

// pullSim pulls the simulator's organisation into the state database (a
// complete snapshot, which the directory reads), flagging the
// access-restricted staff.
func pullSim(t *testing.T, e *env) *app.PullResult {
	t.Helper()
	pol, err := e.app.Policy(t.Context(), "", "tester")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.app.Pull(t.Context(), pol, app.PullOptions{Actor: "tester", Client: e.srv.Client, BaseURL: e.simURL, CountRestricted: true})
	if err != nil || !res.Snapshot.Receipt.Complete {
		t.Fatalf("pull: %v", err)
	}
	return res
}

const xssName = `<img src=x onerror=alert(1)>`

// dirCast is the directory test's organisation: the simulator's, with a
// person whose mobile is hidden, one named like an attack, and two
// access-restricted people, one inside the sub-admin's scope and one
// outside it (and outside the employee's and the sub-admin's departments).
type dirCast struct {
	primary, sub, emp        string
	hidden, xss, rIn, rOut   string
	hiddenMobile, rOutMobile string
}

func newDirEnv(t *testing.T) (*env, dirCast) {
	e := newEnv(t)
	var c dirCast
	c.primary, c.sub, c.emp = demoUsers(t, e.sim)
	scope := adminScope(e, c.sub)
	person := map[string]*dingbook.Person{}
	for i := range truth.Org.People {
		person[truth.Org.People[i].UserID] = &truth.Org.People[i]
	}
	// a department outside the sub-admin's scope and nobody's of the cast
	out := int64(0)
	for _, d := range truth.Org.Depts {
		if d.ID != dingbook.RootDeptID && !slices.Contains(scope, d.ID) && !slices.Contains(person[c.emp].DeptIDs(), d.ID) &&
			!slices.Contains(person[c.sub].DeptIDs(), d.ID) && !slices.Contains(person[c.primary].DeptIDs(), d.ID) {
			out = d.ID
		}
	}
	if out == 0 || len(scope) == 0 {
		t.Fatalf("no department outside the sub-admin's scope %v", scope)
	}
	// four ordinary active people become the cast
	var free []string
	for _, p := range truth.Org.People {
		if p.Active && !p.Restricted && p.Mobile != "" && !slices.Contains([]string{c.primary, c.sub, c.emp}, p.UserID) {
			free = append(free, p.UserID)
		}
	}
	c.hidden, c.xss, c.rIn, c.rOut = free[0], free[1], free[2], free[3]
	c.hiddenMobile, c.rOutMobile = person[c.hidden].Mobile, person[c.rOut].Mobile
	change := func(uid string, fn func(p *dingbook.Person)) {
		if err := e.sim.UpdateUser(uid, fn); err != nil {
			t.Fatal(err)
		}
	}
	change(c.hidden, func(p *dingbook.Person) { p.Name, p.HideMobile, p.Senior = "张三丰", true, false })
	change(c.xss, func(p *dingbook.Person) { p.Name = xssName })
	change(c.rIn, func(p *dingbook.Person) {
		p.Restricted, p.Depts = true, []dingbook.Membership{{DeptID: scope[len(scope)-1]}}
	})
	change(c.rOut, func(p *dingbook.Person) { p.Restricted, p.Depts = true, []dingbook.Membership{{DeptID: out}} })
	pullSim(t, e)
	return e, c
}

func (b *browser) getJSON(path string, v any) int {
	b.e.t.Helper()
	resp, body := b.do("GET", b.e.url+path, nil)
	if resp.StatusCode == 200 {
		if err := json.Unmarshal([]byte(body), v); err != nil {
			b.e.t.Fatalf("%s: %v: %s", path, err, body)
		}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		b.e.t.Errorf("%s: Content-Type %q", path, ct)
	}
	return resp.StatusCode
}

func (b *browser) login() *browser {
	b.e.t.Helper()
	if resp, body := b.follow(b.e.url + "/login"); resp.StatusCode != 200 {
		b.e.t.Fatalf("%s could not log in: %d %s", b.simUser, resp.StatusCode, body)
	}
	return b
}

func found(ps serve.People) []string {
	var out []string
	for _, p := range ps.People {
		out = append(out, p.UserID)
	}
	return out
}

func TestDirectoryAPI(t *testing.T) {
	e, c := newDirEnv(t)
	emp, sub, primary := e.browser(c.emp).login(), e.browser(c.sub).login(), e.browser(c.primary).login()

	// search in Chinese, pinyin in full and as initials
	for _, q := range []string{"张三丰", "zhangsanfeng", "zhang san feng", "zsf"} {
		var ps serve.People
		if st := emp.getJSON("/api/v1/people?q="+url.QueryEscape(q), &ps); st != 200 || !slices.Contains(found(ps), c.hidden) {
			t.Errorf("search %q: HTTP %d, %v lacks %s", q, st, found(ps), c.hidden)
		}
	}
	var none serve.People
	if st := emp.getJSON("/api/v1/people", &none); st != 200 || none.People == nil || len(none.People) != 0 {
		t.Errorf("search without q: %d %+v", st, none)
	}

	// a hidden mobile is absent, and says so
	resp, body := emp.do("GET", e.url+"/api/v1/people/"+c.hidden, nil)
	if resp.StatusCode != 200 || strings.Contains(body, `"mobile":`) || strings.Contains(body, c.hiddenMobile) || !strings.Contains(body, `"mobile_hidden":true`) {
		t.Errorf("the employee sees %s's hidden mobile: %d %s", c.hidden, resp.StatusCode, body)
	}
	var p app.DirPerson
	if st := emp.getJSON("/api/v1/people/"+c.hidden, &p); st != 200 || p.Name != "张三丰" || len(p.Departments) == 0 || p.Departments[0].Name == "" {
		t.Errorf("person: %d %+v", st, p)
	}
	p = app.DirPerson{}
	if st := primary.getJSON("/api/v1/people/"+c.hidden, &p); st != 200 || p.Mobile != c.hiddenMobile || p.MobileHidden {
		t.Errorf("the primary admin does not see %s's mobile: %d %+v", c.hidden, st, p)
	}

	// access-restricted staff: admins within scope, own department only
	for _, tc := range []struct {
		b    *browser
		who  string
		uid  string
		want int
	}{
		{emp, "employee", c.rOut, 404}, {sub, "sub-admin", c.rOut, 404}, {sub, "sub-admin", c.rIn, 200},
		{primary, "primary admin", c.rOut, 200}, {primary, "primary admin", c.rIn, 200},
		{emp, "employee", "no-such-user", 404},
	} {
		var p app.DirPerson
		if st := tc.b.getJSON("/api/v1/people/"+url.PathEscape(tc.uid), &p); st != tc.want {
			t.Errorf("the %s opens %s: %d, want %d", tc.who, tc.uid, st, tc.want)
		}
	}
	full := func(b *browser) []string {
		// every person the viewer may find by department name
		var all []string
		for _, d := range truth.Org.Depts {
			var ps serve.People
			b.getJSON("/api/v1/people?q="+url.QueryEscape(d.Name), &ps)
			all = append(all, found(ps)...)
		}
		return all
	}
	if got := full(emp); slices.Contains(got, c.rOut) {
		t.Errorf("the employee found the restricted %s by department", c.rOut)
	}
	if got := full(primary); !slices.Contains(got, c.rOut) {
		t.Errorf("the primary admin did not find the restricted %s by department", c.rOut)
	}

	// the tree with headcounts
	var tree app.Departments
	if st := emp.getJSON("/api/v1/departments", &tree); st != 200 || len(tree.Departments) != len(truth.Org.Depts) ||
		tree.Departments[0].ID != dingbook.RootDeptID || tree.Departments[0].HeadcountWithSub == 0 {
		t.Errorf("departments: %d %+v", st, tree)
	}

	// no session: 401 JSON, never a redirect
	anon := e.browser("")
	for _, path := range []string{"/api/v1/people?q=zs", "/api/v1/people/" + c.hidden, "/api/v1/departments"} {
		resp, body := anon.do("GET", e.url+path, nil)
		if resp.StatusCode != 401 || !strings.Contains(body, `"error":"`+dingbook.EAUTH+`"`) {
			t.Errorf("anonymous %s: %d %s", path, resp.StatusCode, body)
		}
	}

	// a new snapshot is picked up without a restart
	if err := e.sim.UpdateUser(c.hidden, func(p *dingbook.Person) { p.Name = "欧阳明月" }); err != nil {
		t.Fatal(err)
	}
	pullSim(t, e)
	var again serve.People
	if st := emp.getJSON("/api/v1/people?q=ouyangmingyue", &again); st != 200 || !slices.Contains(found(again), c.hidden) {
		t.Errorf("the new snapshot was not picked up: %d %v", st, found(again))
	}
}

func TestDirectoryPages(t *testing.T) {
	e, c := newDirEnv(t)

	// a page asked for before login is where the login returns to
	emp := e.browser(c.emp)
	resp, body := emp.follow(e.url + "/people/" + c.hidden)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/people/"+c.hidden {
		t.Fatalf("ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
	if !strings.Contains(body, "张三丰") || !strings.Contains(body, "Hidden") || strings.Contains(body, c.hiddenMobile) {
		t.Errorf("the person page shows the hidden mobile, or not the person: %s", body)
	}
	checkHeaders(t, "person page", resp)
	for lang, hidden := range map[string]string{"id": "Disembunyikan", "zh": "已隐藏"} {
		if _, body := emp.lang("GET", e.url+"/people/"+c.hidden, lang, nil); !strings.Contains(body, hidden) || strings.Contains(body, c.hiddenMobile) {
			t.Errorf("the person page in %s does not say %s: %s", lang, hidden, body)
		}
	}

	// the search page, in Chinese and pinyin
	for _, q := range []string{"张三丰", "zhangsanfeng", "zsf"} {
		resp, body := emp.do("GET", e.url+"/?q="+url.QueryEscape(q), nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `href="/people/`+c.hidden+`"`) {
			t.Errorf("search page %q: %d lacks %s", q, resp.StatusCode, c.hidden)
		}
	}
	// a name from DingTalk comes out as text
	for _, path := range []string{"/?q=" + url.QueryEscape("onerror"), "/people/" + c.xss} {
		resp, body := emp.do("GET", e.url+path, nil)
		if resp.StatusCode != 200 || strings.Contains(body, "<img") || !strings.Contains(body, "&lt;img src=x onerror=alert(1)&gt;") {
			t.Errorf("%s: %d, the name is not escaped: %s", path, resp.StatusCode, body)
		}
	}
	// a restricted person outside the viewer's department is not found
	if resp, _ := emp.do("GET", e.url+"/people/"+c.rOut, nil); resp.StatusCode != 404 {
		t.Errorf("the employee opened the restricted %s: %d", c.rOut, resp.StatusCode)
	}
	// the department tree: the root lists its sub-departments with counts
	resp, body = emp.do("GET", e.url+"/departments/1", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/departments/1: %d", resp.StatusCode)
	}
	tree := dingbook.NewTree(truth.Org.Depts)
	for _, id := range tree.Children(dingbook.RootDeptID) {
		if !strings.Contains(body, `href="/departments/`+strconv.FormatInt(id, 10)+`"`) {
			t.Errorf("/departments/1 lacks sub-department %d", id)
		}
	}
	for path, want := range map[string]int{"/departments/x": 400, "/departments/999999": 404, "/people/no-such-user": 404} {
		if resp, _ := emp.do("GET", e.url+path, nil); resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}

	// the sub-admin sees the restricted person of their scope on the page
	sub := e.browser(c.sub).login()
	if resp, body := sub.do("GET", e.url+"/people/"+c.rIn, nil); resp.StatusCode != 200 || !strings.Contains(body, "<h1>") {
		t.Errorf("the sub-admin cannot open %s in scope: %d", c.rIn, resp.StatusCode)
	}
}

// Searches, person views and department pages spend the hourly quota; the
// tree and an empty search do not.
func TestDirectorySpendsQuota(t *testing.T) {
	e, c := newDirEnv(t)
	e.srv.Quota().Limit = 4
	emp := e.browser(c.emp).login()
	for _, path := range []string{"/api/v1/departments", "/api/v1/people", "/", "/?q=", "/api/v1/people?q=zsf", "/api/v1/people/" + c.hidden, "/people/" + c.hidden, "/departments/1"} {
		if resp, body := emp.do("GET", e.url+path, nil); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	for _, path := range []string{"/api/v1/people?q=zsf", "/api/v1/people/" + c.hidden, "/people/" + c.hidden, "/?q=zsf", "/departments/1"} {
		if resp, _ := emp.do("GET", e.url+path, nil); resp.StatusCode != 429 {
			t.Errorf("%s past the quota: %d", path, resp.StatusCode)
		}
	}
	if resp, _ := emp.do("GET", e.url+"/api/v1/departments", nil); resp.StatusCode != 200 {
		t.Errorf("the tree past the quota: %d", resp.StatusCode)
	}
}
