package serve_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/serve"
)

// TestGrantsAPI: the grant's JSON contract through the simulator: the
// approved request is the requester's grant; the bundle needs the terms
// and a login of the last 5 minutes (403 "step-up" with the login link);
// its link works once for the grantee only, then 410; 7-Zip opens it with
// the passphrase; bad bodies are 4xx in the requester's language;
// revoke is the approver's and makes a new link 410.
func TestGrantsAPI(t *testing.T) {
	e := newEnv(t)
	pullSim(t, e)
	_, sub, emp := demoUsers(t, e.sim)
	dept := scopeDept(e, sub)
	requester, approver := e.browser(emp).login(), e.browser(sub).login()
	ask := `{"departments": [` + itoa(dept) + `], "profile": "contact", "formats": ["csv"], "purpose": "legal review", "basis": "hr-management", "justification": "to call the team", "days": 3}`
	approve := func() string {
		var created serve.RequestCreated
		if st, p := requester.postJSON("/api/v1/requests", ask, "", &created); st != 201 {
			t.Fatalf("create: %d %v", st, p)
		}
		if st, p := approver.postJSON("/api/v1/requests/"+created.ID+"/approve", `{"fields": ["name", "mobile"]}`, "", nil); st != 200 {
			t.Fatalf("approve: %d %v", st, p)
		}
		return created.ID
	}
	rid := approve()
	var list serve.GrantList
	if st := requester.getJSON("/api/v1/grants", &list); st != 200 || len(list.Grants) != 1 || list.Grants[0].RequestID != rid ||
		list.Grants[0].State != "active" || list.Grants[0].DownloadsLeft != 1 || list.Grants[0].ExpiresAt.IsZero() {
		t.Fatalf("the grantee's grants: %d %+v", st, list)
	}
	id := list.Grants[0].ID
	if st := approver.getJSON("/api/v1/grants", &list); st != 200 || len(list.Grants) != 0 {
		t.Fatalf("the approver holds grants: %+v", list)
	}
	if st := approver.getJSON("/api/v1/grants?role=approver", &list); st != 200 || len(list.Grants) != 1 {
		t.Fatalf("the approver's view: %d %+v", st, list)
	}

	base := "/api/v1/grants/" + id
	if st, p := requester.postJSON(base+"/bundle", "", "en", nil); st != 403 || p["error"] != "terms" {
		t.Fatalf("a bundle before the terms: %d %v", st, p)
	}
	for name, c := range map[string]struct {
		path, body, lang string
		status           int
		want             string
	}{
		"unknown field":    {base + "/accept-terms", `{"accept": true, "sign": 1}`, "id", 400, "Isi permintaan tidak valid"},
		"malformed":        {base + "/accept-terms", `{"accept": `, "zh", 400, "请求体无效"},
		"not accepted":     {base + "/accept-terms", `{"accept": false}`, "en", 400, "not accepted"},
		"oversized":        {base + "/bundle", `{"age_recipient": "` + strings.Repeat("x", serve.MaxBodyBytes) + `"}`, "zh", 413, "64 KiB"},
		"unknown grant":    {"/api/v1/grants/g-nosuch/accept-terms", `{"accept": true}`, "en", 404, "g-nosuch"},
		"someone else's":   {base + "/accept-terms", `{"accept": true}`, "en", 403, "not yours"},
		"age before terms": {base + "/bundle", `{"age_recipient": "age1nonsense"}`, "en", 403, "terms"},
		"grantee revokes":  {base + "/revoke", `{}`, "en", 403, "may not revoke"},
	} {
		b := requester
		if name == "someone else's" {
			b = approver
		}
		st, p := b.postJSON(c.path, c.body, c.lang, nil)
		if st != c.status || !strings.Contains(p["message"], c.want) {
			t.Errorf("%s: %d %v, want %d with %q", name, st, p, c.status, c.want)
		}
	}
	if st := requester.getJSON("/api/v1/grants", &list); st != 200 || list.Grants[0].Terms != nil || list.Grants[0].DownloadsLeft != 1 {
		t.Fatalf("refused bodies changed the grant: %+v", list.Grants)
	}
	var terms map[string]string
	if st := requester.getJSON(base+"/terms", &terms); st != 200 || terms["terms_version"] != "1" || terms["text"] == "" {
		t.Fatalf("terms: %d %v", st, terms)
	}
	var accepted serve.TermsAccepted
	if st, p := requester.postJSON(base+"/accept-terms", `{"accept": true}`, "zh", &accepted); st != 200 || accepted.Version != "1" || accepted.Lang != "zh" || len(accepted.SHA256) != 64 {
		t.Fatalf("accept: %d %v %+v", st, p, accepted)
	}
	// a login older than 5 minutes: 403 step-up with the way back
	e.clock.Add(6 * time.Minute)
	if st, p := requester.postJSON(base+"/bundle", "", "id", nil); st != 403 || p["error"] != "step-up" || p["login"] != "/login?next=%2Fgrants%2F"+id || !strings.Contains(p["hint"], p["login"]) || !strings.Contains(p["message"], fmt.Sprintf("%d menit", app.StepUpMinutes())) || !strings.Contains(p["hint"], fmt.Sprintf("%d menit", app.StepUpMinutes())) {
		t.Fatalf("a stale login: %d %v", st, p)
	}
	requester = e.browser(emp).login()
	var ready serve.BundleReady
	if st, p := requester.postJSON(base+"/bundle", "", "", &ready); st != 200 || ready.Passphrase == "" || !strings.HasPrefix(ready.DownloadURL, e.url+"/grants/download/") {
		t.Fatalf("bundle: %d %v %+v", st, p, ready)
	}
	if resp, _ := approver.do("GET", ready.DownloadURL, nil); resp.StatusCode != 403 {
		t.Fatalf("someone else's download: %d", resp.StatusCode)
	}
	resp, body := requester.do("GET", ready.DownloadURL, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" || len(body) == 0 {
		t.Fatalf("download: %d %s", resp.StatusCode, resp.Header)
	}
	if resp, _ := requester.do("GET", ready.DownloadURL, http.Header{"Accept-Language": {"zh"}}); resp.StatusCode != 410 {
		t.Fatalf("a second download: %d", resp.StatusCode)
	}
	zip := filepath.Join(t.TempDir(), "bundle.zip")
	os.WriteFile(zip, []byte(body), 0o600)
	x := t.TempDir()
	if o, err := exec.Command("7zz", "x", "-p"+ready.Passphrase, "-o"+x, zip).CombinedOutput(); err != nil {
		t.Fatalf("7zz x: %v\n%s", err, o)
	}
	csvs, _ := filepath.Glob(filepath.Join(x, "*.csv"))
	if len(csvs) != 1 {
		t.Fatalf("the bundle holds %v", csvs)
	}

	// revoke: the approver ends a second grant; its link is gone
	approve()
	requester.getJSON("/api/v1/grants", &list)
	id2 := list.Grants[1].ID
	requester.postJSON("/api/v1/grants/"+id2+"/accept-terms", `{"accept": true}`, "", nil)
	if st, p := requester.postJSON("/api/v1/grants/"+id2+"/bundle", "", "", &ready); st != 200 {
		t.Fatalf("second bundle: %d %v", st, p)
	}
	var revoked map[string]any
	if st, p := approver.postJSON("/api/v1/grants/"+id2+"/revoke", `{"reason": "review cancelled"}`, "", &revoked); st != 200 || revoked["state"] != "revoked" {
		t.Fatalf("revoke: %d %v %v", st, p, revoked)
	}
	if resp, _ := requester.do("GET", ready.DownloadURL, nil); resp.StatusCode != 410 {
		t.Fatalf("a revoked grant's download: %d", resp.StatusCode)
	}
	if st, _ := requester.postJSON("/api/v1/grants/"+id2+"/bundle", "", "", nil); st != 422 {
		t.Fatalf("a revoked grant's bundle: %d", st)
	}
}

// scopeDept is the first department of admin userid's scope.
func scopeDept(e *env, userid string) int64 {
	for _, a := range e.sim.Admins() {
		if a.UserID == userid {
			return a.Scope[0]
		}
	}
	e.t.Fatalf("%s is no admin", userid)
	return 0
}

// TestGrantTermsHidden: a grant's terms answer its grantee and those who
// may revoke it; anyone else gets the 404 of a grant that does not exist,
// and the lookup writes nothing, not even the expiry of a grant past its
// time.
func TestGrantTermsHidden(t *testing.T) {
	e := newEnv(t)
	pullSim(t, e)
	_, sub, emp := demoUsers(t, e.sim)
	requester, approver := e.browser(emp).login(), e.browser(sub).login()
	ask := `{"departments": [` + itoa(scopeDept(e, sub)) + `], "profile": "contact", "formats": ["csv"], "purpose": "legal review", "basis": "hr-management", "justification": "to call the team", "days": 3}`
	var created serve.RequestCreated
	if st, p := requester.postJSON("/api/v1/requests", ask, "", &created); st != 201 {
		t.Fatalf("create: %d %v", st, p)
	}
	if st, p := approver.postJSON("/api/v1/requests/"+created.ID+"/approve", `{"fields": ["name"]}`, "", nil); st != 200 {
		t.Fatalf("approve: %d %v", st, p)
	}
	var list serve.GrantList
	if st := requester.getJSON("/api/v1/grants", &list); st != 200 || len(list.Grants) != 1 {
		t.Fatalf("the grantee's grants: %d %+v", st, list)
	}
	id := list.Grants[0].ID
	admins := map[string]bool{emp: true}
	for _, a := range e.sim.Admins() {
		admins[a.UserID] = true
	}
	other := ""
	for _, p := range truth.Org.People {
		if p.Active && !p.Restricted && !admins[p.UserID] {
			other = p.UserID
			break
		}
	}
	if other == "" {
		t.Fatal("the organisation lacks a third ordinary employee")
	}

	e.clock.Add(4 * 24 * time.Hour) // past the grant's 3 days
	outsider := e.browser(other).login()
	grantRecords := func() int {
		recs, err := audit.List(t.Context(), e.app.DB, audit.Filter{Action: app.ActionGrant})
		if err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}
	before := grantRecords()
	message := func(path string) string {
		resp, body := outsider.do("GET", e.url+path, nil)
		var p map[string]string
		json.Unmarshal([]byte(body), &p)
		if resp.StatusCode != 404 || p["message"] == "" {
			t.Fatalf("an outsider's GET %s: %d %s", path, resp.StatusCode, body)
		}
		return p["message"] + p["hint"]
	}
	if got, none := message("/api/v1/grants/"+id+"/terms"), message("/api/v1/grants/g-nosuch/terms"); strings.ReplaceAll(got, id, "g-nosuch") != none {
		t.Errorf("an existing grant answers unlike a missing one:\n%s\n%s", got, none)
	}
	if after := grantRecords(); after != before {
		t.Errorf("an outsider's look at the terms wrote %d grant records", after-before)
	}
	var terms map[string]string
	if st := e.browser(sub).login().getJSON("/api/v1/grants/"+id+"/terms", &terms); st != 200 || terms["text"] == "" {
		t.Fatalf("the approver's terms: %d %v", st, terms)
	}
}
