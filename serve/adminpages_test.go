package serve_test

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/gen"
)

const hostileDept = `<script>alert("x")</script> R&D 'lab'`

// adminCast is the admin pages' test organisation: the simulator's, with
// the sub-admin's scope (sub-departments included), a department in it
// with direct members renamed like an attack, and a department outside it.
type adminCast struct {
	primary, sub, emp string
	scope             map[int64]bool
	hostile, outside  int64
}

func newAdminEnv(t *testing.T) (*env, adminCast) {
	e := newEnv(t)
	var c adminCast
	c.primary, c.sub, c.emp = demoUsers(t, e.sim)
	c.scope = map[int64]bool{}
	for _, d := range adminScope(e, c.sub) {
		c.scope[d] = true
	}
	members := map[int64]int{}
	for _, p := range truth.Org.People {
		for _, m := range p.Depts {
			members[m.DeptID]++
		}
	}
	for _, d := range truth.Org.Depts {
		switch {
		case c.scope[d.ID] && members[d.ID] > 0 && c.hostile == 0:
			c.hostile = d.ID
		case !c.scope[d.ID] && d.ID != dingbook.RootDeptID && members[d.ID] > 0:
			c.outside = d.ID
		}
	}
	if c.hostile == 0 || c.outside == 0 {
		t.Fatalf("the organisation lacks a department with members inside (%d) or outside (%d) the sub-admin's scope", c.hostile, c.outside)
	}
	if err := e.sim.UpdateDept(c.hostile, func(d *dingbook.Department) { d.Name = hostileDept }); err != nil {
		t.Fatal(err)
	}
	pullSim(t, e)
	return e, c
}

// adminScope is the departments a sub-admin of the simulator administers,
// sub-departments included.
func adminScope(e *env, sub string) []int64 {
	tree := dingbook.NewTree(truth.Org.Depts)
	var scope []int64
	for _, a := range e.sim.Admins() {
		if a.UserID == sub {
			for _, id := range a.Scope {
				scope = append(scope, tree.Descendants(id)...)
			}
		}
	}
	return scope
}

// deptPaths maps each department of the latest complete snapshot to its
// path.
func deptPaths(t *testing.T, e *env) map[int64]string {
	tree, err := e.app.DirectoryTree(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]string{}
	for _, d := range tree.Departments {
		out[d.ID] = d.Path
	}
	return out
}

var svgElem = regexp.MustCompile(`(?s)<svg .*?</svg>`)

// chartTitles parses every inline SVG of a page as XML (strictly) and
// returns the text of each bar's <title> (the chart's own title first).
func chartTitles(t *testing.T, page string) [][]string {
	t.Helper()
	var charts [][]string
	for _, svg := range svgElem.FindAllString(page, -1) {
		d := xml.NewDecoder(strings.NewReader(svg))
		d.Strict = true
		var titles []string
		inTitle := false
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("the chart is not well-formed XML: %v\n%s", err, svg)
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				inTitle = tok.Name.Local == "title"
				if inTitle {
					titles = append(titles, "")
				}
			case xml.EndElement:
				inTitle = false
			case xml.CharData:
				if inTitle {
					titles[len(titles)-1] += string(tok)
				}
			}
		}
		charts = append(charts, titles)
	}
	return charts
}

// The quality page: two charts, well-formed SVG with the hostile
// department name escaped; the primary admin's cover everybody, a
// sub-admin's only their scope's departments and people; an employee gets
// 403 and no Admin link.
func TestAdminQualityPage(t *testing.T) {
	e, c := newAdminEnv(t)
	paths := deptPaths(t, e)
	admin, sub, emp := e.loggedIn(c.primary), e.loggedIn(c.sub), e.loggedIn(c.emp)

	resp, page := admin.do("GET", e.url+"/admin/quality", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("primary admin: %d %.300s", resp.StatusCode, page)
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, `alert("x")`) {
		t.Errorf("the hostile department name is not escaped")
	}
	if !strings.Contains(page, `<link rel="stylesheet" href="/static/style.css">`) || !strings.Contains(page, `href="/admin"`) {
		t.Errorf("the page lacks the stylesheet or the Admin link")
	}
	charts := chartTitles(t, page)
	if len(charts) != 2 {
		t.Fatalf("%d charts, want 2", len(charts))
	}
	depts, problems := charts[0][1:], charts[1][1:]
	if !slices.ContainsFunc(depts, func(s string) bool { return strings.Contains(s, hostileDept) }) {
		t.Errorf("the primary admin's chart lacks the department %q: %q", hostileDept, depts)
	}
	if len(problems) != len(dingbook.AllProblems) {
		t.Errorf("%d problem bars, want %d", len(problems), len(dingbook.AllProblems))
	}
	if !strings.Contains(page, strconv.Itoa(len(truth.Org.People))+" people") {
		t.Errorf("the primary admin's summary does not count all %d people", len(truth.Org.People))
	}

	resp, page = sub.do("GET", e.url+"/admin/quality", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("sub-admin: %d %.300s", resp.StatusCode, page)
	}
	charts = chartTitles(t, page)
	if len(charts) != 2 || len(charts[0]) < 2 {
		t.Fatalf("sub-admin's charts: %q", charts)
	}
	for _, title := range charts[0][1:] {
		path, _, _ := strings.Cut(title, ": ")
		id := int64(0)
		for d, p := range paths {
			if p == path {
				id = d
			}
		}
		if !c.scope[id] {
			t.Errorf("the sub-admin's chart shows %q, outside their scope", title)
		}
	}
	if strings.Contains(page, ">"+paths[c.outside]+"<") {
		t.Errorf("the sub-admin's page names the department %q outside their scope", paths[c.outside])
	}
	// the counts cover the scope's people only
	inScope := 0
	for _, p := range truth.Org.People {
		if slices.ContainsFunc(p.Depts, func(m dingbook.Membership) bool { return c.scope[m.DeptID] }) {
			inScope++
		}
	}
	q, err := e.app.ScopedQuality(t.Context(), sessionOf(t, e, sub))
	if err != nil || q.People != inScope || inScope == len(truth.Org.People) {
		t.Fatalf("the sub-admin's report: %v, %+v people, want %d (of %d)", err, q, inScope, len(truth.Org.People))
	}
	for _, d := range q.Departments {
		if !c.scope[d.DeptID] {
			t.Errorf("the sub-admin's report has department %d outside their scope", d.DeptID)
		}
	}
	if !strings.Contains(page, strconv.Itoa(inScope)+" people") {
		t.Errorf("the sub-admin's summary does not say %d people", inScope)
	}

	for _, path := range []string{"/admin", "/admin/quality", "/admin/pulls", "/admin/changes", "/admin/exports", "/admin/audit"} {
		if resp, _ := emp.do("GET", e.url+path, nil); resp.StatusCode != 403 {
			t.Errorf("employee GET %s: %d, want 403", path, resp.StatusCode)
		}
	}
	if _, page := emp.do("GET", e.url+"/", nil); strings.Contains(page, `href="/admin"`) {
		t.Errorf("the employee's nav bar links to /admin")
	}
	// the admin home names the sub-admin's scope, and offers the primary
	// admin's pages to the primary admin only
	_, home := sub.do("GET", e.url+"/admin", nil)
	if strings.Contains(home, `href="/admin/audit"`) || strings.Contains(home, `href="/admin/exports"`) {
		t.Errorf("the sub-admin's home links to the primary admin's pages")
	}
	if _, home := admin.do("GET", e.url+"/admin", nil); !strings.Contains(home, `href="/admin/audit"`) || !strings.Contains(home, `href="/admin/exports"`) {
		t.Errorf("the primary admin's home lacks the exports and audit links")
	}
}

// sessionOf returns the app session of a logged-in browser.
func sessionOf(t *testing.T, e *env, b *browser) *app.Session {
	t.Helper()
	s, err := e.app.Session(t.Context(), sessionCookie(t, b), app.SessionLimits{})
	if err != nil || s == nil {
		t.Fatalf("session: %v", err)
	}
	return s
}

// The changes page: joiners, leavers and moves of the sub-admin's scope
// only, a move out of it without its destination; the primary admin sees
// every change.
func TestAdminChangesPage(t *testing.T) {
	e, c := newAdminEnv(t)
	admin, sub := e.loggedIn(c.primary), e.loggedIn(c.sub)
	if _, page := admin.do("GET", e.url+"/admin/changes", nil); !strings.Contains(page, "Changes need two snapshots") {
		t.Errorf("with one snapshot: %.500s", page)
	}
	paths := deptPaths(t, e)
	var inside, outside []string // ordinary people in and out of scope
	for _, p := range truth.Org.People {
		if slices.Contains([]string{c.primary, c.sub, c.emp}, p.UserID) || len(p.Depts) != 1 {
			continue
		}
		if c.scope[p.Depts[0].DeptID] {
			inside = append(inside, p.UserID)
		} else {
			outside = append(outside, p.UserID)
		}
	}
	if len(inside) < 2 || len(outside) < 2 {
		t.Fatalf("too few people: %d inside, %d outside", len(inside), len(outside))
	}
	add := func(id, name string, dept int64) {
		if err := e.sim.AddUser(dingbook.Person{UserID: id, Name: name, Active: true, Depts: []dingbook.Membership{{DeptID: dept}}}); err != nil {
			t.Fatal(err)
		}
	}
	add("joiner-in", "Joiner Inside", c.hostile)
	add("joiner-out", "Joiner Outside", c.outside)
	if err := e.sim.RemoveUser(outside[0]); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.RemoveUser(inside[0]); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.MoveUser(inside[1], c.outside); err != nil { // out of scope
		t.Fatal(err)
	}
	name := map[string]string{}
	for _, p := range truth.Org.People {
		name[p.UserID] = p.Name
	}
	pullSim(t, e)

	resp, page := sub.do("GET", e.url+"/admin/changes", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("sub-admin: %d %.300s", resp.StatusCode, page)
	}
	for _, want := range []string{"Joiner Inside", inside[0], inside[1], "outside your scope"} {
		if !strings.Contains(page, want) {
			t.Errorf("the sub-admin's changes lack %q", want)
		}
	}
	for _, not := range []string{"Joiner Outside", outside[0], paths[c.outside], "<script>"} {
		if strings.Contains(page, not) {
			t.Errorf("the sub-admin's changes show %q, outside their scope", not)
		}
	}
	resp, page = admin.do("GET", e.url+"/admin/changes", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("primary admin: %d", resp.StatusCode)
	}
	for _, want := range []string{"Joiner Inside", "Joiner Outside", inside[0], outside[0], inside[1], "2 joined, 2 left, 1 moved"} {
		if !strings.Contains(page, want) {
			t.Errorf("the primary admin's changes lack %q", want)
		}
	}
}

// The pull form starts a pull and shows its page, which ends with the
// receipt; the pulls page lists it; an employee's POST is refused.
func TestAdminPullForm(t *testing.T) {
	e, c := newAdminEnv(t)
	admin, emp := e.loggedIn(c.primary), e.loggedIn(c.emp)
	resp, _ := admin.doBody("POST", e.url+"/admin/pulls", "", nil)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 303 || !strings.HasPrefix(loc, "/admin/pulls/") {
		t.Fatalf("pull now: %d Location %q", resp.StatusCode, loc)
	}
	e.srv.WaitPulls()
	resp, page := admin.do("GET", e.url+loc, nil)
	if resp.StatusCode != 200 || !strings.Contains(page, ">done<") || !strings.Contains(page, "Complete") ||
		!strings.Contains(page, "<dd>"+strconv.Itoa(len(truth.Org.People))+"</dd>") {
		t.Errorf("the pull's page: %d %.2000s", resp.StatusCode, page)
	}
	recs, err := audit.List(t.Context(), e.app.DB, audit.Filter{Action: audit.ActionPull})
	if err != nil || len(recs) != 2 || recs[1].Actor != c.primary {
		t.Fatalf("pull audit: %v %+v", err, recs)
	}
	_, page = admin.do("GET", e.url+"/admin/pulls", nil)
	if strings.Count(page, `<span class="ok">Complete</span>`) != 2 || !strings.Contains(page, c.primary) || !strings.Contains(page, "No daily pull") {
		t.Errorf("the pulls page lacks the two pulls: %.3000s", page)
	}
	if resp, _ := emp.doBody("POST", e.url+"/admin/pulls", "", nil); resp.StatusCode != 403 {
		t.Errorf("employee pull now: %d", resp.StatusCode)
	}
	// the policy's schedule and its next run (the clock is 08:00 UTC)
	pol := policy.Default()
	pol.Serve.PullDailyAt = "02:00"
	e.srv.Policy = pol
	if _, page := admin.do("GET", e.url+"/admin/pulls", nil); !strings.Contains(page, "Every day at 02:00 (policy serve.pull_daily_at); next run 2026-12-01 02:00 UTC.") {
		t.Errorf("the pulls page lacks the schedule: %.1500s", page)
	}
	// why a pull failed may name a department outside a sub-admin's
	// scope: only the primary admin's page says it
	why := "department " + deptPaths(t, e)[c.outside] + " is outside the contact range"
	if _, err := audit.Append(t.Context(), e.app.DB, audit.Record{Actor: "schedule", Action: audit.ActionPull, Outcome: audit.OutcomeFailed, Reason: why}); err != nil {
		t.Fatal(err)
	}
	if _, page := admin.do("GET", e.url+"/admin/pulls", nil); !strings.Contains(page, why) {
		t.Errorf("the primary admin's pulls page lacks the failed pull's reason")
	}
	resp, page = e.loggedIn(c.sub).do("GET", e.url+"/admin/pulls", nil)
	if resp.StatusCode != 200 || strings.Contains(page, why) || strings.Count(page, "<tr>") != 4 {
		t.Errorf("the sub-admin's pulls page: %d, %d rows, reason shown %v", resp.StatusCode, strings.Count(page, "<tr>"), strings.Contains(page, why))
	}
}

// The audit page: newest first, paged, with the verify status (ok, an
// edited record, a missing anchor); the exports page lists a bundle with
// its purpose and expiry. Both are the primary admin's.
func TestAdminAuditAndExports(t *testing.T) {
	e, c := newAdminEnv(t)
	admin, sub := e.loggedIn(c.primary), e.loggedIn(c.sub)
	pol, err := e.app.Policy(t.Context(), "", "tester")
	if err != nil {
		t.Fatal(err)
	}
	req := &govern.Request{Actor: "exporter", Purpose: "payroll migration test", Passphrase: "admin-pages-pass-2026", PassphraseSource: "the test", OutDir: t.TempDir()}
	res, err := e.app.Export(t.Context(), pol, app.ExportOptions{Request: req, Export: export.Options{Formats: []string{"csv"}}})
	if err != nil {
		t.Fatal(err)
	}
	resp, page := admin.do("GET", e.url+"/admin/exports", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, filepath.Base(res.Bundle.BundlePath)) || !strings.Contains(page, "payroll migration test") || !strings.Contains(page, "exporter") {
		t.Errorf("the exports page: %d %.2000s", resp.StatusCode, page)
	}
	if resp, _ := sub.do("GET", e.url+"/admin/exports", nil); resp.StatusCode != 403 {
		t.Errorf("sub-admin's exports: %d", resp.StatusCode)
	}
	if resp, _ := sub.do("GET", e.url+"/admin/audit", nil); resp.StatusCode != 403 {
		t.Errorf("sub-admin's audit: %d", resp.StatusCode)
	}
	// enough records for two pages
	for range 60 {
		e.app.RefuseLogin(t.Context(), "browser", "192.0.2.1", &dingbook.Error{Code: dingbook.EAUTH, Message: "test refusal", Err: app.ErrLoginState})
	}
	head, _, err := e.app.AuditHead(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	resp, page = admin.do("GET", e.url+"/admin/audit", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, "The chain verifies: "+strconv.FormatInt(head, 10)+" records") {
		t.Fatalf("the audit page: %d %.1500s", resp.StatusCode, page)
	}
	seqs := regexp.MustCompile(`<tr><td class="num">(\d+)</td>`).FindAllStringSubmatch(page, -1)
	if len(seqs) != 50 || seqs[0][1] != strconv.FormatInt(head, 10) || seqs[49][1] != strconv.FormatInt(head-49, 10) || !strings.Contains(page, `href="/admin/audit?page=2"`) {
		t.Fatalf("page 1: %d rows from %v", len(seqs), seqs[:min(len(seqs), 1)])
	}
	_, page = admin.do("GET", e.url+"/admin/audit?page=2", nil)
	seqs = regexp.MustCompile(`<tr><td class="num">(\d+)</td>`).FindAllStringSubmatch(page, -1)
	if len(seqs) == 0 || seqs[0][1] != strconv.FormatInt(head-50, 10) || !strings.Contains(page, `href="/admin/audit?page=1"`) {
		t.Errorf("page 2 starts at %v, want %d", seqs[:min(len(seqs), 1)], head-50)
	}
	if resp, _ := admin.do("GET", e.url+"/admin/audit?page=x", nil); resp.StatusCode != 400 {
		t.Errorf("page=x: %d", resp.StatusCode)
	}
	// an edited record: broken at it
	db := filepath.Join(e.app.DB.Dir, "dingbook.db")
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("the state database: %v", err)
	}
	out, err := exec.Command("sqlite3", db, "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'mallory' WHERE seq = 3").CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v %s", err, out)
	}
	// the verification is kept by the chain's head: an edit behind the
	// store's back shows once it is older than the cache's 10 minutes, or
	// at once with the next record
	if _, page = admin.do("GET", e.url+"/admin/audit", nil); !strings.Contains(page, "The chain verifies") {
		t.Errorf("the cached verification was not used: %.1500s", page)
	}
	e.clock.Add(11 * time.Minute)
	_, page = admin.do("GET", e.url+"/admin/audit", nil)
	if !strings.Contains(page, "The chain is broken at record 3.") {
		t.Errorf("after editing record 3: %.1500s", page)
	}
	if _, err := exec.Command("sqlite3", db, "UPDATE audit_log SET actor = (SELECT json_extract(data, '$.actor')) WHERE seq = 3").CombinedOutput(); err != nil {
		t.Fatal(err)
	}
	e.app.RefuseLogin(t.Context(), "browser", "192.0.2.1", &dingbook.Error{Code: dingbook.EAUTH, Message: "test refusal", Err: app.ErrLoginState})
	if _, page = admin.do("GET", e.url+"/admin/audit", nil); !strings.Contains(page, "The chain verifies") {
		t.Fatalf("after restoring record 3 and a new record: %.1500s", page)
	}
	// the anchor gone: a disagreement
	if err := os.Remove(filepath.Join(e.app.DB.Dir, audit.HeadFile)); err != nil {
		t.Fatal(err)
	}
	if _, page = admin.do("GET", e.url+"/admin/audit", nil); !strings.Contains(page, "The chain and its head anchor (audit.head) disagree.") {
		t.Errorf("without the anchor: %.1500s", page)
	}
}

// The policy's roles: an auditor who is no admin finds the audit log in
// the nav bar and reads it, without the other admin pages; with
// sub_admins_may_pull false a sub-admin's pulls page offers no "Pull now"
// and the form's POST is refused.
func TestAdminPagesPolicyRoles(t *testing.T) {
	e, c := newAdminEnv(t)
	auditor := ""
	for _, p := range truth.Org.People {
		if p.Active && !p.Restricted && !slices.Contains([]string{c.primary, c.sub, c.emp}, p.UserID) &&
			!slices.ContainsFunc(e.sim.Admins(), func(a gen.Admin) bool { return a.UserID == p.UserID }) {
			auditor = p.UserID
			break
		}
	}
	usePolicy(t, e, "serve:\n  auditors: ["+auditor+"]\n  sub_admins_may_pull: false\n")
	aud, sub := e.loggedIn(auditor), e.loggedIn(c.sub)
	_, home := aud.do("GET", e.url+"/", nil)
	if !strings.Contains(home, `href="/admin/audit"`) || strings.Contains(home, `href="/admin"`) {
		t.Errorf("the auditor's nav bar: %.1000s", home)
	}
	resp, page := aud.do("GET", e.url+"/admin/audit", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, "The chain verifies") || strings.Contains(page, `href="/admin/pulls"`) {
		t.Errorf("the auditor's audit page: %d %.1500s", resp.StatusCode, page)
	}
	if resp, _ := aud.do("GET", e.url+"/admin", nil); resp.StatusCode != 403 {
		t.Errorf("the auditor's /admin: %d, want 403", resp.StatusCode)
	}
	_, page = sub.do("GET", e.url+"/admin/pulls", nil)
	if strings.Contains(page, `action="/admin/pulls"`) || !strings.Contains(page, "only the primary admin") {
		t.Errorf("the sub-admin's pulls page under sub_admins_may_pull false: %.1500s", page)
	}
	if resp, _ := sub.doBody("POST", e.url+"/admin/pulls", "", nil); resp.StatusCode != 403 {
		t.Errorf("the sub-admin's pull now: %d, want 403", resp.StatusCode)
	}
	if _, page := sub.do("GET", e.url+"/admin", nil); strings.Contains(page, `href="/admin/audit"`) {
		t.Errorf("the sub-admin's admin home links to the audit log")
	}
}
