package serve_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/serve"
)

// The admin API answers what the admin pages show, with their rules: a
// sub-admin's quality, changes and pulls hold their scope's departments
// only; the exports are the primary admin's, the audit log the auditors'.
func TestAdminAPIScope(t *testing.T) {
	e, c := newAdminEnv(t)
	admin, sub, emp := e.loggedIn(c.primary), e.loggedIn(c.sub), e.loggedIn(c.emp)
	paths := deptPaths(t, e)

	// quality
	var qa, qs serve.AdminQualityAnswer
	if st := admin.getJSON("/api/v1/admin/quality", &qa); st != 200 {
		t.Fatalf("primary admin's quality: %d", st)
	}
	if st := sub.getJSON("/api/v1/admin/quality", &qs); st != 200 {
		t.Fatalf("sub-admin's quality: %d", st)
	}
	depts := func(q serve.AdminQualityAnswer) []int64 {
		var ids []int64
		for _, d := range q.Departments {
			ids = append(ids, d.DeptID)
		}
		return ids
	}
	if !slices.Contains(depts(qa), c.outside) || !slices.Contains(depts(qa), c.hostile) || qa.People != len(truth.Org.People) {
		t.Errorf("the primary admin's quality: %d people, departments %v", qa.People, depts(qa))
	}
	for _, id := range depts(qs) {
		if !c.scope[id] {
			t.Errorf("the sub-admin's quality holds department %d (%s), outside their scope", id, paths[id])
		}
	}
	if !slices.Contains(depts(qs), c.hostile) || qs.People == 0 || qs.People >= qa.People || qs.Snapshot != qa.Snapshot {
		t.Errorf("the sub-admin's quality: %d people of %d, departments %v", qs.People, qa.People, depts(qs))
	}
	// the same figures as the page's call
	sess := &app.Session{UserID: c.sub, Roles: []string{app.RoleEmployee, app.RoleSubAdmin}}
	for _, a := range e.sim.Admins() {
		if a.UserID == c.sub {
			sess.AdminScope = a.Scope
		}
	}
	want, err := e.app.ScopedQuality(t.Context(), sess)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs.Problems) != len(dingbook.AllProblems) || qs.PeopleWithProblems != want.PeopleWithProblems {
		t.Errorf("the sub-admin's problems %v (%d people), want every kind and %d people", qs.Problems, qs.PeopleWithProblems, want.PeopleWithProblems)
	}
	for _, p := range dingbook.AllProblems {
		if qs.Problems[string(p)] != want.Counts[p] {
			t.Errorf("problem %s: %d, want %d", p, qs.Problems[string(p)], want.Counts[p])
		}
	}
	if st := emp.getJSON("/api/v1/admin/quality", &qs); st != 403 {
		t.Errorf("employee's quality: %d", st)
	}

	// changes: a note with one snapshot, then the scope's changes
	var ch map[string]any
	if st := admin.getJSON("/api/v1/admin/changes", &ch); st != 200 || ch["note"] == nil || ch["joiners"] != nil {
		t.Errorf("changes with one snapshot: %d %v", st, ch)
	}
	for _, j := range []struct {
		id, name string
		dept     int64
	}{{"joiner-in", "Joiner Inside", c.hostile}, {"joiner-out", "Joiner Outside", c.outside}} {
		if err := e.sim.AddUser(dingbook.Person{UserID: j.id, Name: j.name, Active: true, Depts: []dingbook.Membership{{DeptID: j.dept}}}); err != nil {
			t.Fatal(err)
		}
	}
	pullSim(t, e)
	resp, body := sub.do("GET", e.url+"/api/v1/admin/changes", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"joiner-in"`) || !strings.Contains(body, `"counts"`) {
		t.Errorf("the sub-admin's changes: %d %.500s", resp.StatusCode, body)
	}
	for _, not := range []string{"joiner-out", "Joiner Outside", jsonText(paths[c.outside])} {
		if strings.Contains(body, not) {
			t.Errorf("the sub-admin's changes show %q, outside their scope", not)
		}
	}
	if _, body := admin.do("GET", e.url+"/api/v1/admin/changes", nil); !strings.Contains(body, `"joiner-out"`) || !strings.Contains(body, `"joiner-in"`) {
		t.Errorf("the primary admin's changes: %.500s", body)
	}

	// pulls: a failed pull's reason names a department outside the
	// sub-admin's scope
	why := "department " + paths[c.outside] + " is outside the contact range"
	if _, err := audit.Append(t.Context(), e.app.DB, audit.Record{Actor: "schedule", Action: audit.ActionPull, Outcome: audit.OutcomeFailed, Reason: why}); err != nil {
		t.Fatal(err)
	}
	var pa, ps serve.AdminPullsAnswer
	if admin.getJSON("/api/v1/admin/pulls", &pa) != 200 || sub.getJSON("/api/v1/admin/pulls", &ps) != 200 {
		t.Fatal("GET /api/v1/admin/pulls failed")
	}
	if len(pa.Pulls) != 3 || pa.Pulls[0].Reason != why || !pa.Pulls[1].HasReceipt || !pa.Pulls[1].Complete || pa.Pulls[1].People != len(truth.Org.People)+2 {
		t.Errorf("the primary admin's pulls: %+v", pa.Pulls)
	}
	_, body = sub.do("GET", e.url+"/api/v1/admin/pulls", nil)
	if len(ps.Pulls) != 3 || strings.Contains(body, jsonText(paths[c.outside])) || ps.Pulls[0].Outcome != audit.OutcomeFailed {
		t.Errorf("the sub-admin's pulls: %.800s", body)
	}

	// exports: the primary admin's
	pol, err := e.app.Policy(t.Context(), "", "tester")
	if err != nil {
		t.Fatal(err)
	}
	req := &govern.Request{Actor: "exporter", Purpose: "api export test", Passphrase: "admin-api-pass-2026", PassphraseSource: "the test", OutDir: t.TempDir()}
	res, err := e.app.Export(t.Context(), pol, app.ExportOptions{Request: req, Export: export.Options{Formats: []string{"csv"}}})
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Exports []struct {
			File, Purpose, Actor, State string
			Expires                     string
			Rows                        int
		}
	}
	if st := admin.getJSON("/api/v1/admin/exports", &ex); st != 200 || len(ex.Exports) != 1 || ex.Exports[0].File != filepath.Base(res.Bundle.BundlePath) ||
		ex.Exports[0].Purpose != "api export test" || ex.Exports[0].Actor != "exporter" || ex.Exports[0].Expires == "" || ex.Exports[0].Rows == 0 {
		t.Errorf("the exports: %d %+v", st, ex)
	}
	if resp, _ := sub.do("GET", e.url+"/api/v1/admin/exports", nil); resp.StatusCode != 403 {
		t.Errorf("the sub-admin's exports: %d", resp.StatusCode)
	}

	// the audit log, a page at a time, with the verify status
	for range 60 {
		e.app.RefuseLogin(t.Context(), "browser", "192.0.2.1", &dingbook.Error{Code: dingbook.EAUTH, Message: "test refusal", Err: app.ErrLoginState})
	}
	head, _, err := e.app.AuditHead(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var au serve.AuditAnswer
	if st := admin.getJSON("/api/v1/audit", &au); st != 200 || len(au.Records) != 50 || au.Records[0].Seq != head || au.Records[49].Seq != head-49 ||
		au.NextPage != 2 || au.Verify.State != app.AuditOK || !au.Verify.OK || au.Verify.Records != int(head) {
		t.Fatalf("audit page 1: %d %d records from %+v, verify %+v", st, len(au.Records), au.Records[:min(1, len(au.Records))], au.Verify)
	}
	au = serve.AuditAnswer{}
	if st := admin.getJSON("/api/v1/audit?page=2", &au); st != 200 || len(au.Records) == 0 || au.Records[0].Seq != head-50 || au.Page != 2 {
		t.Errorf("audit page 2: %d %+v", st, au.Records[:min(1, len(au.Records))])
	}
	if resp, body := admin.do("GET", e.url+"/api/v1/audit?page=0", nil); resp.StatusCode != 400 || !strings.Contains(body, `"invalid"`) || !strings.Contains(body, "(page)") {
		t.Errorf("page=0: %d %s", resp.StatusCode, body)
	}
	if resp, _ := sub.do("GET", e.url+"/api/v1/audit", nil); resp.StatusCode != 403 {
		t.Errorf("the sub-admin's audit: %d", resp.StatusCode)
	}
}

// jsonText is s as it appears inside a JSON string.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// A pull's status: the primary admin gets the whole job (the receipt's
// per-department counts), a sub-admin only what their page shows.
func TestPullStatusSubAdmin(t *testing.T) {
	e, c := newAdminEnv(t)
	admin, sub := e.loggedIn(c.primary), e.loggedIn(c.sub)
	var started serve.PullStarted
	resp, body := admin.do("POST", e.url+"/api/v1/admin/pulls", nil)
	if resp.StatusCode != 202 || json.Unmarshal([]byte(body), &started) != nil {
		t.Fatalf("POST pulls: %d %s", resp.StatusCode, body)
	}
	e.srv.WaitPulls()
	_, full := admin.do("GET", e.url+"/api/v1/admin/pulls/"+started.ID, nil)
	if !strings.Contains(full, `"people_per_dept"`) || !strings.Contains(full, `"org_count"`) {
		t.Fatalf("the primary admin's pull lacks the receipt: %.500s", full)
	}
	resp, body = sub.do("GET", e.url+"/api/v1/admin/pulls/"+started.ID, nil)
	var v struct {
		State   string
		Receipt map[string]any
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &v) != nil || v.State != app.PullDone {
		t.Fatalf("the sub-admin's pull: %d %s", resp.StatusCode, body)
	}
	var keys []string
	for k := range v.Receipt {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"complete", "departments", "duration_ns", "people", "restricted"}) || v.Receipt["people"] != float64(len(truth.Org.People)) {
		t.Errorf("the sub-admin's receipt: %v", v.Receipt)
	}
}
