package cli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

// seedRequests pulls a simulated organisation into g's state directory
// and has an employee ask for two exports of a sub-admin's department.
func seedRequests(t *testing.T, g *govEnv) []string {
	t.Helper()
	ctx := context.Background()
	truth := gen.Generate(gen.Options{Users: 120, Depts: 8, Seed: 3})
	srv := sim.New(sim.Config{Truth: truth, QPS: 500})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	key := sim.DefaultApp()
	client := dingtalk.New(dingtalk.Config{BaseURL: ts.URL, AppKey: key.Key, AppSecret: key.Secret, AgentID: sim.DefaultAgentID, QPS: 500})
	a, err := app.Open(ctx, g.home)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	pol := policy.Default()
	if _, err := a.Pull(ctx, pol, app.PullOptions{Actor: "tester", Client: client, BaseURL: ts.URL, CountRestricted: true}); err != nil {
		t.Fatal(err)
	}
	var dept int64
	for _, ad := range srv.Admins() {
		if ad.SysLevel == 2 && len(ad.Scope) > 0 {
			dept = ad.Scope[0]
			break
		}
	}
	var emp string
	for _, p := range truth.Org.People {
		if p.Active && !p.Admin && !p.Restricted {
			emp = p.UserID
			break
		}
	}
	rq := &app.Requests{App: a, Client: client, Policy: pol}
	var ids []string
	for range 2 {
		er, err := rq.Create(ctx, &app.Session{UserID: emp, Roles: app.RolesOf(0)}, app.RequestSpec{Departments: []int64{dept}, Profile: "contact",
			Formats: []string{"csv"}, Purpose: "legal review", Basis: "hr-management", Justification: "to call the team", Days: 3})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, er.ID)
	}
	return ids
}

// TestRequestsAndGrantsCommands: the operator at a terminal lists, shows,
// approves (narrowed) and denies the portal's requests and lists and
// revokes the grants, recorded as the OS user in the same audit chain.
func TestRequestsAndGrantsCommands(t *testing.T) {
	g := newGovEnv(t)
	ids := seedRequests(t, g)
	var list struct {
		Requests []app.ExportRequest `json:"requests"`
	}
	if code := g.run("requests", "list", "--json"); code != 0 {
		t.Fatalf("requests list: %d %s", code, g.stderr)
	}
	if err := json.Unmarshal(g.stdout.Bytes(), &list); err != nil || len(list.Requests) != 2 || list.Requests[0].State != "pending" {
		t.Fatalf("requests list: %v %s", err, g.stdout)
	}
	if code := g.run("requests", "show", ids[0]); code != 0 || !strings.Contains(g.stdout.String(), "legal review") || !strings.Contains(g.stdout.String(), ids[0]) {
		t.Fatalf("requests show: %d %s %s", code, g.stdout, g.stderr)
	}
	if code := g.run("requests", "show", "r-nosuch"); code != ExitNotFound {
		t.Fatalf("requests show of an unknown id: %d", code)
	}
	if code := g.run("requests", "approve", ids[0], "--fields", "name,shoe_size"); code != ExitUsage || !strings.Contains(g.stderr.String(), "--fields") {
		t.Fatalf("a widening approval: %d %s", code, g.stderr)
	}
	if code := g.run("requests", "approve", ids[0], "--fields", "name,dept", "--days", "2", "--json"); code != 0 {
		t.Fatalf("approve: %d %s", code, g.stderr)
	}
	var er app.ExportRequest
	if err := json.Unmarshal(g.stdout.Bytes(), &er); err != nil || er.State != "approved" || er.Approvals[0].By != "tester" || er.Granted.Days != 2 {
		t.Fatalf("approved: %v %s", err, g.stdout)
	}
	if code := g.run("requests", "deny", ids[1]); code != ExitUsage || !strings.Contains(g.stderr.String(), "--reason TEXT") {
		t.Fatalf("a denial without a reason: %d %s", code, g.stderr)
	}
	if code := g.run("requests", "deny", ids[1], "--reason", "not needed"); code != 0 || !strings.Contains(g.stdout.String(), "denied     by tester: not needed") {
		t.Fatalf("deny: %d %s %s", code, g.stdout, g.stderr)
	}
	if code := g.run("requests", "list", "--state", "pending"); code != 0 || strings.Contains(g.stdout.String(), "r-") {
		t.Fatalf("no request is pending: %d %s", code, g.stdout)
	}

	var grants struct {
		Grants []app.Grant `json:"grants"`
	}
	if code := g.run("grants", "list", "--json"); code != 0 {
		t.Fatalf("grants list: %d %s", code, g.stderr)
	}
	if err := json.Unmarshal(g.stdout.Bytes(), &grants); err != nil || len(grants.Grants) != 1 || grants.Grants[0].RequestID != ids[0] ||
		grants.Grants[0].State != "active" || !slices.Equal(grants.Grants[0].Fields, []string{"name", "dept"}) || !slices.Equal(grants.Grants[0].ApprovedBy, []string{"tester"}) {
		t.Fatalf("grants list: %v %s", err, g.stdout)
	}
	gid := grants.Grants[0].ID
	if code := g.run("grants", "revoke", gid, "--reason", "review cancelled"); code != 0 || !strings.Contains(g.stdout.String(), "revoked "+gid) {
		t.Fatalf("revoke: %d %s %s", code, g.stdout, g.stderr)
	}
	if code := g.run("grants", "revoke", gid); code != ExitPolicy {
		t.Fatalf("a second revocation: %d %s", code, g.stderr)
	}
	if code := g.run("grants", "list", "--state", "revoked"); code != 0 || !strings.Contains(g.stdout.String(), gid) {
		t.Fatalf("grants list --state revoked: %d %s", code, g.stdout)
	}
	// a misspelt state is refused, not answered with an empty list
	for _, args := range [][]string{{"requests", "list", "--state", "aproved"}, {"grants", "list", "--state", "revokd"}} {
		if code := g.run(args...); code != ExitUsage || !strings.Contains(g.stderr.String(), `--state "`+args[3]+`" is not one of`) {
			t.Fatalf("%v: %d %s %s", args, code, g.stdout, g.stderr)
		}
	}
	for _, args := range [][]string{{"requests", "-h"}, {"grants", "revoke", "-h"}, {"requests", "approve", "-h"}} {
		if code := g.run(args...); code != 0 || !strings.Contains(g.stdout.String(), "Usage: dingbook "+args[0]) {
			t.Fatalf("%v: %d %s", args, code, g.stdout)
		}
	}

	// the chain holds the operator's steps and verifies
	if code := g.run("audit", "verify"); code != 0 {
		t.Fatalf("audit verify: %d %s %s", code, g.stdout, g.stderr)
	}
	a, err := app.Open(context.Background(), g.home)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	recs, err := a.AuditRecords(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, r := range recs {
		if r.Actor == "tester" && (r.Action == app.ActionRequest || r.Action == app.ActionGrant) {
			steps = append(steps, r.Action+":"+r.Details["step"])
		}
	}
	if want := []string{"export-request:approved", "export-request:denied", "grant:revoked"}; !slices.Equal(steps, want) {
		t.Fatalf("the operator's steps %v, want %v", steps, want)
	}
}
