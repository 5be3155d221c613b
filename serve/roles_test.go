package serve_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/serve"
)

// roleChanges are the role-change audit records.
func (e *env) roleChanges() []audit.Record {
	e.t.Helper()
	recs, err := audit.List(context.Background(), e.app.DB, audit.Filter{Action: app.ActionRoleChange})
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// A sub-admin demoted in DingTalk between two pulls gets 403 on an admin
// route after the second pull, without logging in again; their app
// password carries the new roles too; an employee made admin gains the
// role the same way. Each change is audited (actor dingbook, the userid).
// The demoted sub-admin's CardDAV sync token is refused after the pull
// (the device syncs afresh, dropping what they may no longer see).
func TestRolesReadAfterPull(t *testing.T) {
	e := newEnv(t)
	pullSim(t, e)
	primaryID, sub, emp := demoUsers(t, e.sim)
	admin, person := e.loggedIn(sub), e.loggedIn(emp)
	pw := admin.newAppPassword("phone")
	dev := device{b: admin, user: pw.Username, pass: pw.Password}
	book := "/dav/books/" + sub + "/directory/"
	resp, out := dev.req("REPORT", book, syncReport("", 0), nil)
	first := parseMS(t, resp, out)
	if resp, body := admin.do("POST", e.url+"/api/v1/admin/pulls", nil); resp.StatusCode != 202 {
		t.Fatalf("the sub-admin's pull: %d %s", resp.StatusCode, body)
	}
	e.srv.WaitPulls()
	// nothing changed: the pull changed no roles
	if res := pullSim(t, e); res.RolesChanged != 0 || len(e.roleChanges()) != 0 {
		t.Fatalf("roles changed by a pull that saw no change: %d %v", res.RolesChanged, e.roleChanges())
	}
	if err := e.sim.SetAdmin(sub, false); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetAdmin(emp, true); err != nil {
		t.Fatal(err)
	}
	// before the pull, the sessions hold what DingTalk said at login
	if st, me := admin.me(); st != 200 || !slices.Contains(me.Roles, app.RoleSubAdmin) {
		t.Fatalf("before the pull: %d %v", st, me.Roles)
	}
	// the primary admin's portal pull re-reads the roles
	primary := e.loggedIn(primaryID)
	var started serve.PullStarted
	if st, p := primary.postJSON("/api/v1/admin/pulls", "", "", &started); st != 202 {
		t.Fatalf("the primary admin's pull: %d %v", st, p)
	}
	e.srv.WaitPulls()
	var job app.PullJob
	if st := primary.getJSON("/api/v1/admin/pulls/"+started.ID, &job); st != 200 || job.State != app.PullDone || job.RolesChanged != 2 {
		t.Fatalf("the pull job: %d %+v, want 2 roles changed", st, job)
	}
	if st, me := admin.me(); st != 200 || !slices.Equal(me.Roles, []string{app.RoleEmployee}) || len(me.AdminScope) != 0 {
		t.Errorf("the demoted sub-admin: %d %+v", st, me)
	}
	if resp, _ := admin.do("POST", e.url+"/api/v1/admin/pulls", nil); resp.StatusCode != 403 {
		t.Errorf("the demoted sub-admin may still pull: %d", resp.StatusCode)
	}
	e.srv.WaitPulls()
	if st, me := person.me(); st != 200 || !slices.Contains(me.Roles, app.RoleSubAdmin) || len(me.AdminScope) == 0 {
		t.Errorf("the promoted employee: %d %+v", st, me)
	}
	if resp, body := person.do("POST", e.url+"/api/v1/admin/pulls", nil); resp.StatusCode != 202 {
		t.Errorf("the promoted employee may not pull: %d %s", resp.StatusCode, body)
	}
	e.srv.WaitPulls()
	ps, err := e.app.DB.UserAppPasswords(t.Context(), sub)
	if err != nil || len(ps) != 1 || !slices.Equal(ps[0].Roles, []string{app.RoleEmployee}) {
		t.Errorf("the app password's roles: %+v %v", ps, err)
	}
	recs := e.roleChanges()
	got := map[string]audit.Record{}
	for _, r := range recs {
		got[r.Details["userid"]] = r
	}
	if len(recs) != 2 || got[sub].Actor != app.RoleActor || got[sub].Details["from"] != "employee,sub-admin" || got[sub].Details["to"] != "employee" ||
		got[emp].Details["to"] != "employee,sub-admin" || got[emp].Details["scope_to"] == "" {
		t.Errorf("role-change records: %+v", recs)
	}
	if resp, out := dev.req("REPORT", book, syncReport(first.SyncToken, 0), nil); resp.StatusCode != 403 || !strings.Contains(out, "valid-sync-token") {
		t.Errorf("the demoted sub-admin's sync token: %d %s, want 403 valid-sync-token", resp.StatusCode, out)
	}
	// the next pull finds nothing more to change
	if res := pullSim(t, e); res.RolesChanged != 0 {
		t.Errorf("a second pull changed %d people's roles", res.RolesChanged)
	}
}

// A person deactivated in DingTalk loses their sessions at the next pull.
func TestDeactivatedSessionsEnded(t *testing.T) {
	e := newEnv(t)
	_, sub, emp := demoUsers(t, e.sim)
	b, stays := e.loggedIn(emp), e.loggedIn(sub)
	if err := e.sim.UpdateUser(emp, func(p *dingbook.Person) { p.Active = false }); err != nil {
		t.Fatal(err)
	}
	if res := pullSim(t, e); res.SessionsEnded != 1 {
		t.Fatalf("sessions ended: %d", res.SessionsEnded)
	}
	if st, _ := b.me(); st != 401 {
		t.Errorf("a deactivated person's session still works: %d", st)
	}
	if st, _ := stays.me(); st != 200 {
		t.Errorf("an active member's session ended: %d", st)
	}
}

// The policy's approvers and auditors: their roles in /api/v1/me and the
// login record, an auditor reads the audit head, an approver is named on
// every export request and may approve it, and neither sees more of the
// directory than an employee.
func TestPolicyRoles(t *testing.T) {
	e, c := newDirEnv(t)
	usePolicy(t, e, "serve:\n  approvers: ["+c.hidden+"]\n  auditors: ["+c.xss+"]\n")
	appr, aud, emp := e.loggedIn(c.hidden), e.loggedIn(c.xss), e.loggedIn(c.emp)
	if _, me := appr.me(); !slices.Equal(me.Roles, []string{app.RoleEmployee, app.RoleApprover}) {
		t.Errorf("approver roles %v", me.Roles)
	}
	if _, me := aud.me(); !slices.Equal(me.Roles, []string{app.RoleEmployee, app.RoleAuditor}) {
		t.Errorf("auditor roles %v", me.Roles)
	}
	logins := e.loginRecords(audit.OutcomeOK)
	if !slices.ContainsFunc(logins, func(r audit.Record) bool { return r.Actor == c.xss && r.Details["roles"] == "employee,auditor" }) {
		t.Errorf("the auditor's login record lacks the role: %+v", logins)
	}
	for who, b := range map[string]*browser{"auditor": aud, "approver": appr, "employee": emp} {
		resp, _ := b.do("GET", e.url+"/api/v1/audit/head", nil)
		if want := map[string]int{"auditor": 200, "approver": 403, "employee": 403}[who]; resp.StatusCode != want {
			t.Errorf("audit head as %s: %d, want %d", who, resp.StatusCode, want)
		}
		for _, u := range []string{c.rIn, c.rOut} {
			if resp, _ := b.do("GET", e.url+"/api/v1/people/"+u, nil); resp.StatusCode != 404 {
				t.Errorf("%s sees restricted %s: %d", who, u, resp.StatusCode)
			}
		}
	}
	var created serve.RequestCreated
	good := `{"departments": [1], "profile": "minimal", "formats": ["csv"], "purpose": "audit", "basis": "hr-management", "days": 1}`
	if st, p := emp.postJSON("/api/v1/requests", good, "", &created); st != 201 || !slices.Contains(created.Approvers, c.hidden) {
		t.Fatalf("create: %d %v %+v", st, p, created)
	}
	var got map[string]any
	if st, p := appr.postJSON("/api/v1/requests/"+created.ID+"/approve", "", "", &got); st != 200 {
		t.Fatalf("the policy's approver could not approve: %d %v", st, p)
	}
	// the approver's own request: they are not its approver
	if st, p := appr.postJSON("/api/v1/requests", good, "", &created); st != 201 || slices.Contains(created.Approvers, c.hidden) {
		t.Errorf("the approver approves their own request: %d %v %+v", st, p, created)
	}
}

// serve.sub_admins_may_pull: false narrows the sub-admins: the primary
// admin may pull, a sub-admin gets 403 (still an admin elsewhere).
func TestPolicyNarrowsSubAdmins(t *testing.T) {
	e := newEnv(t)
	usePolicy(t, e, "serve:\n  sub_admins_may_pull: false\n")
	primary, sub, _ := demoUsers(t, e.sim)
	s, p := e.loggedIn(sub), e.loggedIn(primary)
	if resp, body := s.do("POST", e.url+"/api/v1/admin/pulls", nil); resp.StatusCode != 403 || !strings.Contains(body, "serve.sub_admins_may_pull: false") {
		t.Errorf("a sub-admin pulled against the policy: %d %s", resp.StatusCode, body)
	}
	if resp, _ := s.do("GET", e.url+"/metrics", nil); resp.StatusCode != 200 {
		t.Errorf("the sub-admin lost other admin routes: %d", resp.StatusCode)
	}
	if resp, body := p.do("POST", e.url+"/api/v1/admin/pulls", nil); resp.StatusCode != 202 {
		t.Errorf("the primary admin could not pull: %d %s", resp.StatusCode, body)
	}
	e.srv.WaitPulls()
}

// TestNarrowedByNamesTheSetting: a rule that a policy narrows below what
// DingTalk's roles admit names the setting that narrowed it (the 403's
// message), and a rule no policy narrows names none.
func TestNarrowedByNamesTheSetting(t *testing.T) {
	doc := "serve:\n  sub_admins_may_pull: false\n"
	pol, problems := policy.Parse([]byte(doc))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	sessions := [][]string{{app.RoleEmployee}, {app.RoleEmployee, app.RoleSubAdmin}, {app.RoleEmployee, app.RoleAdmin}, {app.RoleEmployee, app.RoleAuditor}}
	for r := serve.RuleUnset + 1; r.String() != "unset"; r++ {
		narrowed := false
		for _, roles := range sessions {
			s := &app.Session{UserID: "u", Roles: roles}
			narrowed = narrowed || r.Allows(s) && !r.AllowsUnder(s, pol)
		}
		by := r.NarrowedBy()
		if narrowed != (by != "") {
			t.Errorf("rule %v: narrowed %v, named setting %q", r, narrowed, by)
		}
		if key, value, _ := strings.Cut(by, ": "); by != "" && !strings.Contains(doc, strings.TrimPrefix(key, "serve.")+": "+value) {
			t.Errorf("rule %v names %q, not the setting that narrowed it", r, by)
		}
	}
}

// serve.session_idle and serve.session_absolute feed the session limits.
func TestSessionLimitsFromPolicy(t *testing.T) {
	e := newEnv(t)
	usePolicy(t, e, "serve:\n  session_idle: 10m\n  session_absolute: 1h\n")
	checkSessionLimits(t, e, 10*time.Minute, time.Hour)
}
