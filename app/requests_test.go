package app_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

// reqEnv is an App holding a pull of a simulated organisation, and the
// Requests use cases over it with the simulator's client.
type reqEnv struct {
	a     *app.App
	srv   *sim.Server
	rq    *app.Requests
	now   time.Time
	admin gen.Admin   // the primary admin
	sub   gen.Admin   // a sub-admin
	other []gen.Admin // sub-admins whose scope does not cover sub's first department
	emp   string      // an employee who is no admin
	dept  int64       // sub's first department
}

func newReqEnv(t *testing.T) *reqEnv {
	t.Helper()
	ctx := context.Background()
	truth := gen.Generate(gen.Options{Users: 120, Depts: 8, Seed: 3})
	srv := sim.New(sim.Config{Truth: truth, QPS: 500})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	key := sim.DefaultApp()
	client := dingtalk.New(dingtalk.Config{BaseURL: ts.URL, AppKey: key.Key, AppSecret: key.Secret, AgentID: sim.DefaultAgentID, QPS: 500})
	a, err := app.Open(ctx, filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	pol := policy.Default()
	if _, err := a.Pull(ctx, pol, app.PullOptions{Actor: "tester", Client: client, BaseURL: ts.URL, CountRestricted: true}); err != nil {
		t.Fatal(err)
	}
	e := &reqEnv{a: a, srv: srv, now: time.Now()}
	a.Now = func() time.Time { return e.now }
	e.rq = &app.Requests{App: a, Client: client, Policy: pol, Link: func(id string) string { return "https://dingbook.test/requests/" + id }}
	tree := dingbook.NewTree(truth.Org.Depts)
	for _, ad := range srv.Admins() {
		switch {
		case ad.SysLevel == 1:
			e.admin = ad
		case e.sub.UserID == "" && len(ad.Scope) > 0 && ad.Scope[0] != dingbook.RootDeptID:
			e.sub = ad
		}
	}
	e.dept = e.sub.Scope[0]
	for _, ad := range srv.Admins() {
		covers := false
		for _, d := range ad.Scope {
			covers = covers || slices.Contains(tree.Descendants(d), e.dept)
		}
		if ad.SysLevel == 2 && !covers {
			e.other = append(e.other, ad)
		}
	}
	for _, p := range truth.Org.People {
		if p.Active && !p.Admin && !p.Restricted {
			e.emp = p.UserID
			break
		}
	}
	if e.admin.UserID == "" || e.sub.UserID == "" || e.emp == "" {
		t.Fatalf("the generated org lacks a primary admin, a sub-admin or an employee: %+v", srv.Admins())
	}
	return e
}

func (e *reqEnv) session(userid string) *app.Session {
	level := 0
	var scope []int64
	for _, ad := range e.srv.Admins() {
		if ad.UserID == userid {
			level, scope = ad.SysLevel, ad.Scope
		}
	}
	return &app.Session{UserID: userid, Roles: app.RolesOf(level), AdminScope: scope}
}

func (e *reqEnv) spec() app.RequestSpec {
	return app.RequestSpec{Departments: []int64{e.dept}, Profile: "contact", Formats: []string{"xlsx"},
		Purpose: "legal review of the team", Basis: "hr-management", Justification: "the mobiles to call each member", Days: 3}
}

func errField(err error) (code, field string) {
	var de *dingbook.Error
	if errors.As(err, &de) {
		return de.Code, de.Field
	}
	return "", ""
}

// TestRequestRefusals: bad requests are refused with the field named and
// nothing stored (only the refusal's audit record).
func TestRequestRefusals(t *testing.T) {
	e := newReqEnv(t)
	ctx := context.Background()
	me := e.session(e.emp)
	for name, c := range map[string]struct {
		edit  func(*app.RequestSpec)
		field string
	}{
		"sensitive without justification": {func(s *app.RequestSpec) { s.Justification = "" }, "justification"},
		"days above the maximum":          {func(s *app.RequestSpec) { s.Days = 4 }, "days"},
		"negative days":                   {func(s *app.RequestSpec) { s.Days = -1 }, "days"},
		"huge days":                       {func(s *app.RequestSpec) { s.Days = 1 << 40 }, "days"},
		"unknown department":              {func(s *app.RequestSpec) { s.Departments = []int64{987654} }, "departments"},
		"unknown person":                  {func(s *app.RequestSpec) { s.UserIDs = []string{"nobody-here"} }, "userids"},
		"unknown field":                   {func(s *app.RequestSpec) { s.Profile, s.Fields = "", []string{"name", "shoe_size"} }, "fields"},
		"unknown format":                  {func(s *app.RequestSpec) { s.Formats = []string{"pdf"} }, "formats"},
		"no purpose":                      {func(s *app.RequestSpec) { s.Purpose = " " }, "purpose"},
		"unknown basis":                   {func(s *app.RequestSpec) { s.Basis = "because" }, "basis"},
		"recipient without contract":      {func(s *app.RequestSpec) { s.Recipient = &app.Recipient{Organisation: "Law Firm", Country: "ID"} }, "recipient"},
	} {
		s := e.spec()
		c.edit(&s)
		_, err := e.rq.Create(ctx, me, s)
		if _, f := errField(err); f != c.field {
			t.Errorf("%s: error %v (field %q), want field %q", name, err, f, c.field)
		}
	}
	if got, err := e.rq.List(ctx, me, "mine"); err != nil || len(got) != 0 {
		t.Fatalf("refused requests were stored: %v %+v", err, got)
	}
	if n := len(e.srv.Notices()); n != 0 {
		t.Fatalf("%d work notices for refused requests", n)
	}
	// the primary admin asking for the whole organisation: nobody else
	// administers it, and they cannot approve their own request
	s := e.spec()
	s.Departments = []int64{dingbook.RootDeptID}
	_, err := e.rq.Create(ctx, e.session(e.admin.UserID), s)
	if code, _ := errField(err); code != dingbook.EPERM || !strings.Contains(err.Error(), "no approver") {
		t.Fatalf("a request nobody can approve: %v", err)
	}
}

// TestRequestApproveNarrower: the approvers are the sub-admin of the
// department and the primary admin, told by work notice; the requester
// and an admin outside the scope cannot approve; a narrower approval is
// what is granted; every step is in the audit chain.
func TestRequestApproveNarrower(t *testing.T) {
	e := newReqEnv(t)
	ctx := context.Background()
	me := e.session(e.emp)
	er, err := e.rq.Create(ctx, me, e.spec())
	if err != nil {
		t.Fatal(err)
	}
	if er.State != app.RequestPending || !slices.Contains(er.Approvers, e.sub.UserID) || !slices.Contains(er.Approvers, e.admin.UserID) || slices.Contains(er.Approvers, e.emp) {
		t.Fatalf("request %+v: want pending, approvers with %s and %s", er, e.sub.UserID, e.admin.UserID)
	}
	for _, o := range e.other {
		if slices.Contains(er.Approvers, o.UserID) {
			t.Fatalf("sub-admin %s (scope %v) approves department %d", o.UserID, o.Scope, e.dept)
		}
	}
	notices := e.srv.Notices()
	if len(notices) != 1 || !slices.Equal(notices[0].UserIDs, er.Approvers) || !strings.Contains(string(notices[0].Msg), "/requests/"+er.ID) {
		t.Fatalf("work notices %+v", notices)
	}
	if got, _ := e.rq.List(ctx, e.session(e.sub.UserID), "approver"); len(got) != 1 || got[0].ID != er.ID {
		t.Fatalf("the approver's inbox: %+v", got)
	}
	// never self-approval; never an admin outside the scope
	if _, err := e.rq.Approve(ctx, me, er.ID, app.Approval{}); err == nil {
		t.Fatal("the requester approved their own request")
	}
	if len(e.other) > 0 {
		if _, err := e.rq.Approve(ctx, e.session(e.other[0].UserID), er.ID, app.Approval{}); err == nil {
			t.Fatal("an admin outside the scope approved")
		}
	}
	// narrowing only
	if _, err := e.rq.Approve(ctx, e.session(e.sub.UserID), er.ID, app.Approval{Fields: []string{"name", "hired_date"}}); err == nil {
		t.Fatal("an approval widened the fields")
	}
	if _, err := e.rq.Approve(ctx, e.session(e.sub.UserID), er.ID, app.Approval{Days: 5}); err == nil {
		t.Fatal("an approval widened the days")
	}
	got, err := e.rq.Approve(ctx, e.session(e.sub.UserID), er.ID, app.Approval{Fields: []string{"name", "dept", "org_email"}, Days: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != app.RequestApproved || !slices.Equal(got.Granted.Fields, []string{"name", "dept", "org_email"}) || got.Granted.Days != 2 {
		t.Fatalf("approved %+v granted %+v", got, got.Granted)
	}
	if mine, _ := e.rq.List(ctx, me, "mine"); len(mine) != 1 || mine[0].State != app.RequestApproved || mine[0].Granted.Days != 2 {
		t.Fatalf("the requester sees %+v", mine)
	}
	// decided: no second decision
	if _, err := e.rq.Deny(ctx, e.session(e.admin.UserID), er.ID, "too late"); err == nil {
		t.Fatal("a decided request was denied")
	}
	recs, err := e.a.AuditRecords(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, r := range recs {
		if r.Action == app.ActionRequest {
			steps = append(steps, r.Details["step"]+":"+r.Actor)
		}
	}
	want := []string{"requested:" + e.emp, "notified:" + e.emp, "approved:" + e.sub.UserID, "requester-notified:" + e.emp}
	if !slices.Equal(steps, want) {
		t.Fatalf("audit steps %v, want %v", steps, want)
	}
	// the requester is told, with the link to the request's page
	notices = e.srv.Notices()
	if last := notices[len(notices)-1]; !slices.Equal(last.UserIDs, []string{e.emp}) || !strings.Contains(string(last.Msg), "/requests/"+er.ID) ||
		!strings.Contains(string(last.Msg), "request.notice.approved_narrowed") {
		t.Fatalf("the requester's notice: %+v %s", last, last.Msg)
	}
}

// TestRequestNoSelfApproval: an admin's own request is decided by the
// others; they are never one of its approvers and cannot approve it.
func TestRequestNoSelfApproval(t *testing.T) {
	e := newReqEnv(t)
	ctx := context.Background()
	sub := e.session(e.sub.UserID)
	er, err := e.rq.Create(ctx, sub, e.spec())
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(er.Approvers, e.sub.UserID) || !slices.Contains(er.Approvers, e.admin.UserID) {
		t.Fatalf("approvers %v", er.Approvers)
	}
	_, err = e.rq.Approve(ctx, sub, er.ID, app.Approval{})
	if code, _ := errField(err); code != dingbook.EPERM || !strings.Contains(err.Error(), "your own") {
		t.Fatalf("self-approval: %v", err)
	}
}

// TestRequestTwoApprovers: over the policy's people threshold, and for
// sensitive fields, two different approvers are needed.
func TestRequestTwoApprovers(t *testing.T) {
	e := newReqEnv(t)
	ctx := context.Background()
	for name, edit := range map[string]func(*policy.Policy, *app.RequestSpec){
		"people": func(p *policy.Policy, _ *app.RequestSpec) { p.Requests.TwoApproversOver = 1 },
		"sensitive": func(p *policy.Policy, s *app.RequestSpec) {
			p.AllowedProfiles = append(p.AllowedProfiles, "full")
			s.Profile, s.Fields, s.PIA = "", []string{"name", "hired_date"}, "PIA-2026-07"
		},
	} {
		pol := policy.Default()
		s := e.spec()
		edit(pol, &s)
		e.rq.Policy = pol
		er, err := e.rq.Create(ctx, e.session(e.emp), s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if er.Needs != 2 {
			t.Fatalf("%s: needs %d approvals", name, er.Needs)
		}
		first, err := e.rq.Approve(ctx, e.session(e.sub.UserID), er.ID, app.Approval{})
		if err != nil || first.State != app.RequestPending {
			t.Fatalf("%s: after the first approval %v %+v", name, err, first)
		}
		if _, err := e.rq.Approve(ctx, e.session(e.sub.UserID), er.ID, app.Approval{}); err == nil {
			t.Fatalf("%s: the same approver counted twice", name)
		}
		second, err := e.rq.Approve(ctx, e.session(e.admin.UserID), er.ID, app.Approval{})
		if err != nil || second.State != app.RequestApproved {
			t.Fatalf("%s: after the second approval %v %+v", name, err, second)
		}
	}
}

// TestRequestDenyAndExpiry: a denial needs a reason; an undecided request
// expires after 7 days and can no longer be approved.
func TestRequestDenyAndExpiry(t *testing.T) {
	e := newReqEnv(t)
	ctx := context.Background()
	er, err := e.rq.Create(ctx, e.session(e.emp), e.spec())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rq.Deny(ctx, e.session(e.sub.UserID), er.ID, " "); err == nil {
		t.Fatal("a denial without a reason")
	}
	d, err := e.rq.Deny(ctx, e.session(e.sub.UserID), er.ID, "the team's mobiles are not needed")
	if err != nil || d.State != app.RequestDenied || d.DeniedBy != e.sub.UserID || d.Reason == "" {
		t.Fatalf("denied %v %+v", err, d)
	}
	er, err = e.rq.Create(ctx, e.session(e.emp), e.spec())
	if err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(app.RequestExpiry - time.Minute)
	if got, _ := e.rq.Get(ctx, er.ID); got.State != app.RequestPending {
		t.Fatalf("expired early: %s", got.State)
	}
	e.now = e.now.Add(time.Minute)
	if got, _ := e.rq.Get(ctx, er.ID); got.State != app.RequestExpired {
		t.Fatalf("not expired after 7 days: %s", got.State)
	}
	if _, err := e.rq.Approve(ctx, e.session(e.sub.UserID), er.ID, app.Approval{}); err == nil {
		t.Fatal("an expired request was approved")
	}
}

// Someone who may not see a request (not its requester, an approver or
// the primary admin: here an employee) learns nothing of
// it by trying to decide it: the same not-found as an id that does not
// exist, never its approvers.
func TestRequestDecisionByOutsider(t *testing.T) {
	e := newReqEnv(t)
	ctx := context.Background()
	er, err := e.rq.Create(ctx, e.session(e.sub.UserID), e.spec())
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(er.Approvers, e.emp) {
		t.Fatalf("the employee %s is an approver: %v", e.emp, er.Approvers)
	}
	outsider := e.session(e.emp)
	for name, decide := range map[string]func(id string) error{
		"approve": func(id string) error { _, err := e.rq.Approve(ctx, outsider, id, app.Approval{}); return err },
		"deny":    func(id string) error { _, err := e.rq.Deny(ctx, outsider, id, "no"); return err },
	} {
		err := decide(er.ID)
		if code, _ := errField(err); code != dingbook.ENOTFOUND || strings.Contains(err.Error(), e.admin.UserID) {
			t.Errorf("%s by an outsider: %v, want not found without the approvers", name, err)
		}
		if code, _ := errField(decide("r-nosuch")); code != dingbook.ENOTFOUND {
			t.Errorf("%s of a missing request: %v", name, err)
		}
	}
}
