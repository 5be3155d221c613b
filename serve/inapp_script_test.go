package serve_test

import (
	"encoding/json"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// inAppHarness runs static/inapp.js under Node with the attributes of the
// served page and a stand-in for DingTalk's dd (argv: script, JSON of the
// attributes, platform, the code dd hands out or "" to fail). It prints
// what the script did as JSON.
const inAppHarness = `
const [script, attrsJSON, platform, code] = process.argv.slice(2);
const attrs = JSON.parse(attrsJSON);
const out = { requested: null, assigned: null, status: "" };
const statusEl = { set textContent(v) { out.status = v; } };
globalThis.document = { getElementById: (id) =>
  id === "inapp" ? { getAttribute: (n) => attrs[n] ?? null } : id === "inapp-status" ? statusEl : null };
const ddStub = {
  env: { platform },
  ready: (f) => f(),
  error: () => {},
  requestAuthCode: (opts) => {
    out.requested = { corpId: opts.corpId, clientId: opts.clientId };
    if (code) { opts.success({ code }); } else { opts.fail({ errorMessage: "no" }); }
  },
};
globalThis.window = { dd: ddStub, location: { assign: (u) => { out.assigned = u; } } };
require(script);
process.stdout.write(JSON.stringify(out));
`

type inAppRun struct {
	Requested *struct{ CorpID, ClientID string }
	Assigned  *string
	Status    string
}

func runInAppScript(t *testing.T, attrs map[string]string, platform, code string) inAppRun {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (Debian's nodejs) is needed to run static/inapp.js: %v", err)
	}
	dir := t.TempDir()
	h := filepath.Join(dir, "harness.js")
	if err := os.WriteFile(h, []byte(inAppHarness), 0o600); err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs("static/inapp.js")
	a, _ := json.Marshal(attrs)
	b, err := exec.Command(node, h, script, string(a), platform, code).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v: %s", err, b)
	}
	var r inAppRun
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("harness output %q: %v", b, err)
	}
	return r
}

// TestInAppScript: inside DingTalk the page's script asks dd for a code
// with the corpId and clientId of the served page and goes on to
// /auth/dingtalk/inapp, which logs the person in; outside DingTalk, or
// when DingTalk gives no code, it says so in the page's language.
func TestInAppScript(t *testing.T) {
	e := newEnv(t)
	b := e.browser("")
	_, page := b.lang("GET", e.url+"/inapp", "id", nil)
	div := regexp.MustCompile(`<div id="inapp"([^>]*)>`).FindStringSubmatch(page)
	if div == nil {
		t.Fatalf("no inapp element: %s", page)
	}
	attrs := map[string]string{}
	for _, m := range regexp.MustCompile(`(data-[a-z-]+)="([^"]*)"`).FindAllStringSubmatch(div[1], -1) {
		attrs[m[1]] = html.UnescapeString(m[2])
	}
	_, sub, _ := demoUsers(t, e.sim)
	code, err := e.sim.InAppCode(sub)
	if err != nil {
		t.Fatal(err)
	}
	r := runInAppScript(t, attrs, "android", code)
	if r.Requested == nil || r.Requested.CorpID != e.sim.CorpID() || r.Requested.ClientID != e.srv.Client.AppKey() || r.Assigned == nil {
		t.Fatalf("in DingTalk: %+v", r)
	}
	if !strings.HasPrefix(*r.Assigned, "/auth/dingtalk/inapp?code=") {
		t.Fatalf("navigated to %q", *r.Assigned)
	}
	resp, body := b.follow(e.url + *r.Assigned)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/" {
		t.Fatalf("the code the script handed on: %d at %s: %s", resp.StatusCode, resp.Request.URL, body)
	}
	if st, m := b.me(); st != 200 || m.UserID != sub {
		t.Errorf("me after the in-app page: %d %+v", st, m)
	}
	// outside DingTalk: no code asked, the page says why (in Indonesian)
	r = runInAppScript(t, attrs, "notInDingTalk", code)
	if r.Requested != nil || r.Assigned != nil || r.Status != "Halaman ini memasukkan Anda di dalam aplikasi DingTalk. Di peramban, gunakan tautan di bawah." {
		t.Errorf("outside DingTalk: %+v", r)
	}
	// DingTalk refuses a code
	r = runInAppScript(t, attrs, "ios", "")
	if r.Assigned != nil || r.Status != "DingTalk tidak memberikan kode login. Gunakan login peramban di bawah." {
		t.Errorf("no code: %+v", r)
	}
}
