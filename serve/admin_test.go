package serve_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/serve"
	"github.com/dingbook/dingbook/source/gen"
)

func (e *env) loggedIn(user string) *browser {
	e.t.Helper()
	b := e.browser(user)
	if resp, body := b.follow(e.url + "/login"); resp.StatusCode != 200 {
		e.t.Fatalf("%s could not log in: %d %s", user, resp.StatusCode, body)
	}
	return b
}

// POST /api/v1/admin/pulls: 202 {"id"}; a second while it runs 409 with
// the running id; GET …/{id} shows it running, then done with the
// receipt; the pull is audited with the admin's userid.
func TestPullAPI(t *testing.T) {
	e := newEnv(t)
	primary, sub, emp := demoUsers(t, e.sim)
	admin, subB, empB := e.loggedIn(primary), e.loggedIn(sub), e.loggedIn(emp)
	gate := make(chan struct{})
	e.gate.Store(&gate)

	resp, body := admin.do("POST", e.url+"/api/v1/admin/pulls", nil)
	var started struct{ ID string }
	if resp.StatusCode != 202 || json.Unmarshal([]byte(body), &started) != nil || started.ID == "" {
		close(gate)
		t.Fatalf("POST pulls: %d %s", resp.StatusCode, body)
	}
	if loc := resp.Header.Get("Location"); loc != "/api/v1/admin/pulls/"+started.ID {
		t.Errorf("Location %q", loc)
	}
	resp, body = subB.do("POST", e.url+"/api/v1/admin/pulls", nil)
	var busy map[string]string
	json.Unmarshal([]byte(body), &busy)
	if resp.StatusCode != 409 || busy["id"] != started.ID || busy["error"] != app.CodeBusy {
		t.Errorf("second POST while running: %d %s", resp.StatusCode, body)
	}
	if resp, _ := empB.do("POST", e.url+"/api/v1/admin/pulls", nil); resp.StatusCode != 403 {
		t.Errorf("employee POST: %d", resp.StatusCode)
	}
	status := func() app.PullJob {
		resp, body := admin.do("GET", e.url+"/api/v1/admin/pulls/"+started.ID, nil)
		var j app.PullJob
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &j) != nil {
			t.Fatalf("GET pull: %d %s", resp.StatusCode, body)
		}
		return j
	}
	if j := status(); j.State != app.PullRunning || j.Receipt != nil || j.Actor != primary {
		t.Errorf("while held: %+v", j)
	}
	close(gate)
	e.srv.WaitPulls()
	j := status()
	if j.State != app.PullDone || j.Receipt == nil || !j.Receipt.Complete || j.Receipt.People != len(truth.Org.People) || j.Snapshot == 0 || j.Finished == nil {
		t.Fatalf("after the pull: %+v (receipt %+v)", j, j.Receipt)
	}
	// A portal pull marks access-restricted staff: the visibility rules
	// hide them by that mark.
	if len(truth.Restricted) == 0 || j.Receipt.Restricted != len(truth.Restricted) {
		t.Errorf("portal pull marked %d restricted people, want %d", j.Receipt.Restricted, len(truth.Restricted))
	}
	if resp, _ := admin.do("GET", e.url+"/api/v1/admin/pulls/nope", nil); resp.StatusCode != 404 {
		t.Errorf("unknown pull: %d", resp.StatusCode)
	}
	recs, err := audit.List(t.Context(), e.app.DB, audit.Filter{Action: audit.ActionPull})
	if err != nil || len(recs) != 1 || recs[0].Actor != primary || recs[0].Outcome != audit.OutcomeOK {
		t.Fatalf("pull audit: %v %+v", err, recs)
	}
	// the next one may start, and is a sub-admin's
	resp, body = subB.do("POST", e.url+"/api/v1/admin/pulls", nil)
	if resp.StatusCode != 202 {
		t.Fatalf("POST after the first ended: %d %s", resp.StatusCode, body)
	}
	e.srv.WaitPulls()
	recs, _ = audit.List(t.Context(), e.app.DB, audit.Filter{Action: audit.ActionPull})
	if len(recs) != 2 || recs[1].Actor != sub {
		t.Errorf("second pull audit: %+v", recs)
	}
	// the metrics count both pulls
	_, m := admin.do("GET", e.url+"/metrics", nil)
	if !strings.Contains(m, "dingbook_pulls_total{outcome=\"done\"} 2\n") {
		t.Errorf("metrics lack the pulls:\n%s", m)
	}
}

// Crossing the quota: the next browse answers 429 (JSON under /api/, a
// page elsewhere) with Retry-After until the hour ends, /api/v1/me is not
// counted, one audit record, one work notice to the admins of the
// person's departments in the simulator; a new hour browses again.
func TestQuotaCrossing(t *testing.T) {
	e := newEnv(t)
	primary, sub, emp := demoUsers(t, e.sim)
	if _, err := e.app.Pull(t.Context(), policy.Default(), app.PullOptions{Actor: "test", Client: e.srv.Client, BaseURL: e.simURL}); err != nil {
		t.Fatal(err)
	}
	const limit = 5
	e.srv.Quota().Limit = limit
	mux := http.NewServeMux()
	mux.Handle("GET /test/browse", serve.BrowseForTest(e.srv))
	mux.Handle("GET /api/v1/test/browse", serve.BrowseForTest(e.srv))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	// the cookie jar sends the session to the same host on another port
	b := e.loggedIn(emp)
	other := e.loggedIn(sub)
	e.clock.Add(10 * time.Minute) // 08:10
	for i := range limit {
		if resp, body := b.do("GET", ts.URL+"/api/v1/test/browse", nil); resp.StatusCode != 200 {
			t.Fatalf("browse %d: %d %s", i+1, resp.StatusCode, body)
		}
		if code, _ := b.me(); code != 200 {
			t.Fatalf("/api/v1/me: %d", code)
		}
	}
	resp, body := b.do("GET", ts.URL+"/api/v1/test/browse", nil)
	var refusal map[string]string
	json.Unmarshal([]byte(body), &refusal)
	if resp.StatusCode != 429 || refusal["error"] != app.CodeQuota || resp.Header.Get("Retry-After") != "3000" {
		t.Fatalf("past the quota: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, body = b.do("GET", ts.URL+"/test/browse", nil)
	if resp.StatusCode != 429 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "09:00") {
		t.Errorf("the page past the quota: %d %s %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = b.do("GET", ts.URL+"/api/v1/test/browse", http.Header{"Accept-Language": {"id"}})
	if resp.StatusCode != 429 || !strings.Contains(body, "Penelusuran dijeda sampai 09:00 UTC") {
		t.Errorf("in Indonesian: %d %s", resp.StatusCode, body)
	}
	if code, _ := b.me(); code != 200 {
		t.Errorf("/api/v1/me past the quota: %d", code)
	}
	// another person browses on
	if resp, _ := other.do("GET", ts.URL+"/api/v1/test/browse", nil); resp.StatusCode != 200 {
		t.Errorf("another person: %d", resp.StatusCode)
	}
	// audited once
	recs, err := audit.List(t.Context(), e.app.DB, audit.Filter{Action: app.ActionQuota})
	if err != nil || len(recs) != 1 || recs[0].Actor != emp || recs[0].Outcome != audit.OutcomeRefused || recs[0].Details["limit"] != "5" {
		t.Fatalf("quota audit: %v %+v", err, recs)
	}
	// one work notice, to the primary admin and the sub-admins whose
	// scope covers the person's departments
	want := wantAdmins(t, emp)
	if !slices.Contains(want, primary) {
		t.Fatalf("the primary admin %s is not among %v", primary, want)
	}
	notices := e.sim.Notices()
	if len(notices) != 1 {
		t.Fatalf("%d notices, want 1: %+v", len(notices), notices)
	}
	n := notices[0]
	got := slices.Sorted(slices.Values(n.UserIDs))
	if !slices.Equal(got, want) || !slices.Equal(slices.Sorted(slices.Values(n.Delivered)), want) {
		t.Errorf("notice to %v (delivered %v), want %v", n.UserIDs, n.Delivered, want)
	}
	var msg struct{ Text struct{ Content string } }
	json.Unmarshal(n.Msg, &msg)
	if c := msg.Text.Content; !strings.Contains(c, emp+" has viewed or searched the directory more than 5 times this hour; their browsing is paused until 09:00 UTC") ||
		!strings.Contains(c, "lebih dari 5 kali") || !strings.Contains(c, "已超过 5 次") {
		t.Errorf("notice text: %s", n.Msg)
	}
	// still paused at 08:59; no second record or notice
	e.clock.Add(25 * time.Minute)
	b.me() // the session's idle limit is 30 minutes
	e.clock.Add(24 * time.Minute)
	if resp, _ := b.do("GET", ts.URL+"/api/v1/test/browse", nil); resp.StatusCode != 429 {
		t.Errorf("08:59: %d", resp.StatusCode)
	}
	if recs, _ := audit.List(t.Context(), e.app.DB, audit.Filter{Action: app.ActionQuota}); len(recs) != 1 || len(e.sim.Notices()) != 1 {
		t.Errorf("repeated: %d records, %d notices", len(recs), len(e.sim.Notices()))
	}
	// the hour ends
	e.clock.Add(2 * time.Minute)
	if resp, body := b.do("GET", ts.URL+"/api/v1/test/browse", nil); resp.StatusCode != 200 {
		t.Errorf("09:01: %d %s", resp.StatusCode, body)
	}
	_, m := e.loggedIn(primary).do("GET", e.url+"/metrics", nil)
	if !strings.Contains(m, "dingbook_quota_hits_total 4\n") {
		t.Errorf("metrics: quota hits:\n%s", m)
	}
}

// wantAdmins computes, from the generator's truth, who administers
// userid's departments: the primary admins and the sub-admins whose scope
// holds one of the departments or an ancestor.
func wantAdmins(t *testing.T, userid string) []string {
	t.Helper()
	parent := map[int64]int64{}
	for _, d := range truth.Org.Depts {
		parent[d.ID] = d.ParentID
	}
	var depts []int64
	for _, p := range truth.Org.People {
		if p.UserID == userid {
			depts = p.DeptIDs()
		}
	}
	up := map[int64]bool{}
	for _, d := range depts {
		for ; d != 0 && !up[d]; d = parent[d] {
			up[d] = true
		}
	}
	var out []string
	for _, a := range truth.Admins {
		if a.UserID != userid && (a.SysLevel == 1 || a.SysLevel == 2 && slices.ContainsFunc(a.Scope, func(d int64) bool { return up[d] })) {
			out = append(out, a.UserID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// /metrics: the Prometheus text format, requests by route pattern and
// status class, the latency histogram (cumulative, +Inf = count), logins
// by outcome, no userid or name anywhere; the same text without a login
// at MetricsHandler (--metrics-addr), which answers only GET and HEAD.
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	primary, _, emp := demoUsers(t, e.sim)
	b := e.loggedIn(emp)
	for range 3 {
		b.me()
	}
	anon := e.browser("")
	anon.do("GET", e.url+"/api/v1/me", nil)                                       // 401
	anon.do("GET", e.url+serve.CallbackPath+"?code=x&state=forged", nil)          // refused: state
	e.browser(accountOf(t, gen.AccountOutsider).UnionID).follow(e.url + "/login") // refused: not a member
	admin := e.loggedIn(primary)
	resp, text := admin.do("GET", e.url+"/metrics", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`dingbook_http_requests_total{route="GET /api/v1/me",code="2xx"} 3`,
		`dingbook_http_requests_total{route="GET /api/v1/me",code="4xx"} 1`,
		`dingbook_http_request_duration_seconds_count{route="GET /api/v1/me"} 4`,
		`dingbook_http_request_duration_seconds_bucket{route="GET /api/v1/me",le="+Inf"} 4`,
		`dingbook_logins_total{outcome="ok",reason=""} 2`,
		`dingbook_logins_total{outcome="refused",reason="state"} 1`,
		`dingbook_logins_total{outcome="refused",reason="not-member"} 1`,
		`dingbook_quota_hits_total 0`,
		"# TYPE dingbook_http_request_duration_seconds histogram",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// every line is a comment or name{labels} value; buckets cumulative
	line := regexp.MustCompile(`^(# (HELP|TYPE) .+|[a-z_]+(\{[a-z_]+="[^"\n]*"(,[a-z_]+="[^"\n]*")*\})? [0-9.e+-]+)$`)
	last := map[string]float64{}
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if !line.MatchString(l) {
			t.Errorf("not the exposition format: %q", l)
		}
		if strings.HasPrefix(l, "dingbook_http_request_duration_seconds_bucket") {
			route := l[strings.Index(l, "route="):strings.Index(l, ",le=")]
			var v float64
			json.Unmarshal([]byte(l[strings.LastIndex(l, " ")+1:]), &v)
			if v < last[route] {
				t.Errorf("bucket not cumulative: %s", l)
			}
			last[route] = v
		}
	}
	for _, p := range truth.Org.People {
		if strings.Contains(text, p.UserID) || p.Name != "" && strings.Contains(text, p.Name) {
			t.Fatalf("/metrics names %s", p.UserID)
		}
	}
	// the separate address: no login, same metrics
	ms := httptest.NewServer(e.srv.MetricsHandler())
	t.Cleanup(ms.Close)
	resp, plain := e.browser("").do("GET", ms.URL+"/metrics", nil)
	if resp.StatusCode != 200 || !strings.Contains(plain, `dingbook_logins_total{outcome="refused",reason="state"} 1`) {
		t.Errorf("MetricsHandler: %d %.200s", resp.StatusCode, plain)
	}
	if resp, _ := e.browser("").do("POST", ms.URL+"/metrics", nil); resp.StatusCode != 405 {
		t.Errorf("POST to MetricsHandler: %d", resp.StatusCode)
	}
}
