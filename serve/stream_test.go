package serve_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
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
	"github.com/dingbook/dingbook/source/dingtalk/stream"
	"github.com/dingbook/dingbook/store"
)

// streamRun is serve's Stream connection in a test; stop ends it (a
// server going down).
type streamRun struct {
	c    *stream.Client
	stop func()
}

func (e *env) startStream(t *testing.T) *streamRun {
	t.Helper()
	key := sim.DefaultApp()
	c := e.srv.StreamClient(stream.Config{APIBase: e.simURL, ClientID: key.Key, ClientSecret: key.Secret,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Logf: t.Logf})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.RunStream(ctx, c) }()
	stopped := false
	run := &streamRun{c: c, stop: func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}}
	t.Cleanup(run.stop)
	waitFor(t, "the Stream connection", func() bool { return e.sim.StreamConnections() > 0 }, nil)
	return run
}

// waitFor polls ok for up to 15 s; tick, if set, runs between polls (to
// move the simulator's clock).
func waitFor(t *testing.T, what string, ok func() bool, tick func()) {
	t.Helper()
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if ok() {
			return
		}
		if tick != nil {
			tick()
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// visible reports whether the primary admin's directory shows userid,
// and as what.
func (e *env) lookup(t *testing.T, userid string) *app.DirPerson {
	t.Helper()
	primary, _, _ := e.sim.DemoLogins()
	p, err := e.app.Person(t.Context(), &app.Session{UserID: primary, Roles: app.RolesOf(1)}, userid)
	if err != nil {
		return nil
	}
	return p
}

func revisions(t *testing.T, e *env) []store.Revision {
	t.Helper()
	revs, err := e.app.DB.Revisions(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return revs
}

// TestStreamEvents: serve follows DingTalk's contact events under the
// faults of issue 12's "events under faults": each change is applied once
// and acknowledged after its commit, a dropped connection loses nothing,
// duplicates are applied once (also by a restarted server), a failed
// re-read is retried, events of the downtime come from the backlog, a
// leaver loses sessions and app passwords at once, a sync after one
// mobile change returns one card, and the reconciling pull reports what
// the events missed.
func TestStreamEvents(t *testing.T) {
	e := newEnv(t)
	// one retry per call: a re-read fault is not retried away
	key := sim.DefaultApp()
	e.srv.Client = dingtalk.New(dingtalk.Config{BaseURL: e.simURL, APIV1Base: e.simURL, LoginBase: e.simURL, AppKey: key.Key,
		AppSecret: key.Secret, CorpID: e.sim.CorpID(), AgentID: key.AgentID, QPS: 1000, Now: e.clock.Now, MaxRetries: 1})
	pullSim(t, e)
	primary, _, emp := demoUsers(t, e.sim)
	run := e.startStream(t)
	var someone, leaver string
	for _, p := range truth.Org.People {
		if p.Active && !p.Admin && !p.Restricted && !p.HideMobile && !p.Senior && p.Mobile != "" && !slices.Contains([]string{primary, emp}, p.UserID) {
			if someone == "" {
				someone = p.UserID
			} else if leaver == "" {
				leaver = p.UserID
			}
		}
	}
	in := []dingbook.Membership{{DeptID: dingbook.RootDeptID}}

	// a joiner arrives through the stream, and is committed before the ack
	if err := e.sim.AddUser(dingbook.Person{UserID: "joiner-s1", Name: "流新人", Active: true, Depts: in}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the joiner", func() bool { return e.lookup(t, "joiner-s1") != nil }, nil)
	waitFor(t, "the ack", func() bool { q, _ := e.sim.Pending(""); return q == 0 }, nil)

	// one mobile change: a sync from the token before it returns exactly
	// that card
	dev := device{b: e.browser(emp).login()}
	pw := dev.b.newAppPassword("phone")
	dev.user, dev.pass = pw.Username, pw.Password
	book := "/dav/books/" + emp + "/directory/"
	resp, out := dev.req("REPORT", book, syncReport("", 0), nil)
	first := parseMS(t, resp, out)
	if err := e.sim.UpdateUser(someone, func(p *dingbook.Person) { p.Mobile = "13912345678" }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the mobile change", func() bool { p := e.lookup(t, someone); return p != nil && p.Mobile == "13912345678" }, nil)
	resp, out = dev.req("REPORT", book, syncReport(first.SyncToken, 0), nil)
	next := parseMS(t, resp, out)
	if len(next.Responses) != 1 || next.Responses[0].Href != book+someone+".vcf" || propValue(next.Responses[0].ok200(), "getetag") == "" ||
		next.SyncToken == first.SyncToken {
		t.Errorf("sync after one mobile change: %s", out)
	}

	// a dropped WebSocket: the client reconnects, the event fired
	// meanwhile arrives
	connects := run.c.Stats().Connects
	e.sim.DropStreams()
	if err := e.sim.AddUser(dingbook.Person{UserID: "joiner-s2", Name: "断线新人", Active: true, Depts: in}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the joiner after the drop", func() bool { return e.lookup(t, "joiner-s2") != nil }, nil)
	if run.c.Stats().Connects <= connects {
		t.Errorf("connects %d → %d: no reconnection", connects, run.c.Stats().Connects)
	}

	// every event twice: applied once
	e.sim.SetFaults(sim.Faults{DuplicateEvents: true})
	n := len(revisions(t, e))
	if err := e.sim.UpdateUser(someone, func(p *dingbook.Person) { p.Title = "重复测试" }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the duplicate", func() bool { return run.c.Stats().Duplicates > 0 }, nil)
	waitFor(t, "the ack", func() bool { q, _ := e.sim.Pending(""); return q == 0 }, nil)
	if revs := revisions(t, e); len(revs) != n+1 || e.lookup(t, someone).Title != "重复测试" {
		t.Errorf("a duplicated event: %d revisions, want %d", len(revs), n+1)
	}
	e.sim.SetFaults(sim.Faults{})

	// a re-read that fails: answered LATER, applied on redelivery
	later := run.c.Stats().Later
	e.sim.FailReads(someone, 2)
	if err := e.sim.UpdateUser(someone, func(p *dingbook.Person) { p.Title = "重读成功" }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the LATER answer", func() bool { return run.c.Stats().Later > later }, nil)
	if e.lookup(t, someone).Title == "重读成功" {
		t.Error("applied although its re-read failed")
	}
	waitFor(t, "the redelivery", func() bool { return e.lookup(t, someone).Title == "重读成功" }, func() { e.clock.Add(2 * time.Second) })

	// a leaver's session and app password die at once
	lb := e.browser(leaver).login()
	lpw := lb.newAppPassword("laptop")
	ldev := device{b: e.browser(""), user: lpw.Username, pass: lpw.Password}
	if st, _ := lb.me(); st != 200 {
		t.Fatalf("the leaver's session: %d", st)
	}
	if err := e.sim.RemoveUser(leaver); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the leaver gone", func() bool { return e.lookup(t, leaver) == nil }, nil)
	if st, _ := lb.me(); st != 401 {
		t.Errorf("the leaver's session after user_leave_org: %d", st)
	}
	if resp, _ := ldev.req("PROPFIND", "/dav/", "", http.Header{"Depth": {"0"}}); resp.StatusCode != 401 {
		t.Errorf("the leaver's app password after user_leave_org: %d", resp.StatusCode)
	}

	// an admin role given (the simulator makes a sub-admin): as after a pull (app/roles.go), the
	// person's session and app passwords take it at once, without a new login, audited
	ab := e.browser(someone).login()
	ab.newAppPassword("tablet")
	if err := e.sim.SetAdmin(someone, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the admin's session re-roled", func() bool {
		st, me := ab.me()
		return st == 200 && slices.Contains(me.Roles, app.RoleSubAdmin)
	}, nil)
	if recs, err := e.app.AuditRecords(t.Context(), audit.Filter{Action: app.ActionRoleChange}); err != nil || len(recs) != 1 ||
		recs[0].Details["userid"] != someone || !strings.Contains(recs[0].Reason, stream.AdminAdd) {
		t.Errorf("the role change's audit record: %+v %v", recs, err)
	}
	aps, err := e.app.DB.UserAppPasswords(t.Context(), someone)
	if err != nil || len(aps) != 1 || !slices.Contains(aps[0].Roles, app.RoleSubAdmin) || len(aps[0].AdminScope) == 0 {
		t.Errorf("the new admin's app password: %+v %v", aps, err)
	}
	if st, me := e.browser(someone).login().me(); st != 200 || !slices.Contains(me.Roles, app.RoleSubAdmin) {
		t.Errorf("the new admin logs in again: %d %+v", st, me)
	}

	// a department renamed (org_dept_modify): the cards that show its
	// path change, and nothing else
	resp, out = dev.req("REPORT", book, syncReport(first.SyncToken, 0), nil)
	before := parseMS(t, resp, out)
	empSess := &app.Session{UserID: emp, Roles: app.RolesOf(0)}
	sp, err := e.app.Person(t.Context(), empSess, someone)
	if err != nil {
		t.Fatal(err)
	}
	dept := sp.Departments[0].ID
	b0, err := e.app.AddressBook(t.Context(), empSess)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sim.UpdateDept(dept, func(d *dingbook.Department) { d.Name = "改名部门" }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the renamed department", func() bool {
		p, _ := e.app.Person(t.Context(), empSess, someone)
		return p != nil && p.Departments[0].Name == "改名部门"
	}, nil)
	b1, err := e.app.AddressBook(t.Context(), empSess)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i, c := range b1.Cards {
		if c.ETag != b0.Cards[i].ETag {
			want = append(want, c.Name)
		}
	}
	resp, out = dev.req("REPORT", book, syncReport(before.SyncToken, 0), nil)
	var got []string
	for _, r := range parseMS(t, resp, out).Responses {
		got = append(got, strings.TrimPrefix(r.Href, book))
	}
	if len(want) == 0 || !slices.Equal(sortedCopy(got), sortedCopy(want)) {
		t.Errorf("sync after a department's rename: %v, want the cards that changed %v", got, want)
	}
	// a token of the earlier form (a snapshot id) is refused: sync afresh
	if resp, out := dev.req("REPORT", book, syncReport("urn:dingbook:sync:1", 0), nil); resp.StatusCode != 403 || !strings.Contains(out, "valid-sync-token") {
		t.Errorf("an old token: %d %s", resp.StatusCode, out)
	}

	// downtime: the events fired meanwhile go to the backlog, which the
	// restarted client drains
	run.stop()
	waitFor(t, "the connection closed", func() bool { return e.sim.StreamConnections() == 0 }, nil)
	e.sim.SetFaults(sim.Faults{BacklogWhileDisconnected: true})
	if err := e.sim.AddUser(dingbook.Person{UserID: "joiner-s3", Name: "离线新人", Active: true, Depts: in}); err != nil {
		t.Fatal(err)
	}
	if _, backlog := e.sim.Pending(""); backlog == 0 {
		t.Fatal("the simulator kept no backlog")
	}
	run = e.startStream(t)
	waitFor(t, "the backlog's joiner", func() bool { return e.lookup(t, "joiner-s3") != nil }, nil)
	// the client counts the event after the handler returned
	waitFor(t, "the backlog event counted", func() bool { return run.c.Stats().Backlog > 0 }, nil)
	run.stop()

	// a restarted server (a new App on the same state) knows the events
	// applied: the same event again commits nothing
	last, err := e.app.DB.LatestRevision(t.Context())
	if err != nil || last.EventID == "" {
		t.Fatalf("latest revision %+v %v", last, err)
	}
	a2, err := app.Open(t.Context(), e.app.DB.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	if !(app.EventDeduper{App: a2}).Seen(last.EventID) {
		t.Error("the restarted server's deduper does not know an applied event")
	}
	res, err := a2.ApplyEvent(t.Context(), e.srv.Client, policy.Default(), stream.Event{ID: last.EventID, Type: stream.UserAdd, UserIDs: []string{"joiner-s3"}})
	if err != nil || res.Rev != 0 {
		t.Errorf("an applied event again after a restart: %+v %v", res, err)
	}
	if l2, _ := e.app.DB.LatestRevision(t.Context()); l2.Rev != last.Rev {
		t.Errorf("a revision was added: %d → %d", last.Rev, l2.Rev)
	}

	// drift: an event lost for good (read from the backlog by someone
	// else) is found by the reconciling pull, reported and metered
	if err := e.sim.UpdateUser(someone, func(p *dingbook.Person) { p.Title = "事件丢失" }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.srv.Client.FailedPushes(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.sim.SetFaults(sim.Faults{})
	pol, err := e.app.Policy(t.Context(), "", "tester")
	if err != nil {
		t.Fatal(err)
	}
	pr, err := e.app.Pull(t.Context(), pol, app.PullOptions{Actor: "tester", Client: e.srv.Client, BaseURL: e.simURL, CountRestricted: true})
	if err != nil {
		t.Fatal(err)
	}
	if mustJSON(pr.Drift) != `{"change":1}` {
		t.Errorf("the pull's drift: %v, want one change", pr.Drift)
	}
	if p := e.lookup(t, someone); p == nil || p.Title != "事件丢失" {
		t.Errorf("after the pull: %+v", p)
	}
	ms := httptest.NewServer(e.srv.MetricsHandler())
	defer ms.Close()
	mr, err := http.Get(ms.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mr.Body)
	mr.Body.Close()
	if !strings.Contains(string(body), `dingbook_drift_total{kind="change"} 1`) {
		t.Errorf("metrics lack the drift:\n%s", body)
	}
	// the sync token still works across the new base: the drift is one card
	resp, out = dev.req("REPORT", book, syncReport(next.SyncToken, 0), nil)
	ms2 := parseMS(t, resp, out)
	var hrefs []string
	for _, r := range ms2.Responses {
		hrefs = append(hrefs, strings.TrimPrefix(r.Href, book))
	}
	slices.Sort(hrefs)
	across := append([]string{"joiner-s2.vcf", "joiner-s3.vcf", leaver + ".vcf", someone + ".vcf"}, want...)
	across = slices.Compact(sortedCopy(across))
	if !slices.Equal(hrefs, across) {
		t.Errorf("sync across the new base: %v, want %v", hrefs, across)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
