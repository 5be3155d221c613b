package serve_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/policy"
)

// TestCardDAVPrunedToken: a complete pull past serve.revisions_keep
// prunes the revisions a device's sync token names: its next sync gets
// 403 valid-sync-token (the client syncs afresh), and the fresh token
// works.
func TestCardDAVPrunedToken(t *testing.T) {
	e, c := newDirEnv(t)
	p := e.browser(c.emp).login().newAppPassword("iPhone")
	dev := device{b: e.browser(""), user: p.Username, pass: p.Password}
	book := "/dav/books/" + c.emp + "/directory/"
	resp, out := dev.req("REPORT", book, syncReport("", 0), nil)
	first := parseMS(t, resp, out)
	if first.SyncToken == "" {
		t.Fatalf("initial sync: %d %s", resp.StatusCode, out)
	}
	if err := e.sim.UpdateUser(c.xss, func(q *dingbook.Person) { q.Title = "Chief Tester" }); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Duration(policy.DefaultRevisionsKeep) + 24*time.Hour)
	pullSim(t, e)
	resp, out = dev.req("REPORT", book, syncReport(first.SyncToken, 0), nil)
	if resp.StatusCode != 403 || !strings.Contains(out, "valid-sync-token") {
		t.Errorf("a token older than the revisions kept: %d %s", resp.StatusCode, out)
	}
	resp, out = dev.req("REPORT", book, syncReport("", 0), nil)
	fresh := parseMS(t, resp, out)
	resp, out = dev.req("REPORT", book, syncReport(fresh.SyncToken, 0), nil)
	if ms := parseMS(t, resp, out); resp.StatusCode != 207 || len(ms.Responses) != 0 {
		t.Errorf("the fresh token after the pull: %d %s", resp.StatusCode, out)
	}
}
