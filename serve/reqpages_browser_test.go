package serve_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
)

// browserDownload GETs u with the tab's cookies (the session's is
// HttpOnly: read through the DevTools protocol, as the browser sends it).
func browserDownload(t *testing.T, ctx context.Context, u string) (*http.Response, []byte) {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		t.Fatalf("reading the browser's cookies: %v", err)
	}
	req, _ := http.NewRequest("GET", u, nil)
	for _, c := range res.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// pickSimUser clicks userid's button on the simulator's DingTalk login
// page the tab is on, and waits to be back on the portal at path.
func pickSimUser(t *testing.T, ctx context.Context, e *env, userid, path string) {
	t.Helper()
	waitURL(t, ctx, "the simulator's login page", func(u *url.URL) bool {
		return strings.HasPrefix(u.String(), e.simURL) && u.Path == "/oauth2/auth"
	})
	do(t, ctx, "clicking "+userid+" on the DingTalk login page", chromedp.Click(chromedp.CSS(`button[name="sim_user"][value="`+userid+`"]`)))
	waitURL(t, ctx, "the login returning to "+path, func(u *url.URL) bool { return strings.HasPrefix(u.String(), e.url+"/") && u.Path == path })
}

// noticeText is a recorded work notice's text.
func noticeText(t *testing.T, n sim.Notice) string {
	t.Helper()
	var m struct {
		Text struct {
			Content string `json:"content"`
		} `json:"text"`
	}
	if err := json.Unmarshal(n.Msg, &m); err != nil {
		t.Fatalf("notice %s: %v", n.Msg, err)
	}
	return m.Text.Content
}

// The whole path of an export request in Debian's chromium (issue 11,
// "Done when"): an employee asks for the contact profile of 法务部 for 3
// days on the form (a refusal first, shown on it); the sub-admin of 法务部
// gets the work notice in the simulator, opens its link (logging in on
// the way) and approves fewer fields; the employee accepts the terms, is
// sent through DingTalk's login again (the step-up), prepares the download
// and reads the passphrase from the page; 7-Zip opens the bundle with it,
// its rows are exactly the granted scope and fields without the hidden
// mobile; a second download is 410; the audit chain verifies and holds
// every step.
func TestRealBrowserExportRequest(t *testing.T) {
	e := newEnv(t)
	_, sub, emp := demoUsers(t, e.sim)
	legal := int64(0)
	for _, d := range truth.Org.Depts {
		if d.Name == "法务部" {
			legal = d.ID
		}
	}
	var scope []int64
	for _, a := range e.sim.Admins() {
		if a.UserID == sub {
			scope = a.Scope
		}
	}
	if legal == 0 || !slices.Contains(scope, legal) {
		t.Fatalf("法务部 (%d) is not in the sub-admin %s's scope %v", legal, sub, scope)
	}
	// the members of 法务部 the employee sees: one hides their mobile
	var members []dingbook.Person
	for _, p := range truth.Org.People {
		if _, in := p.Membership(legal); in && p.Active && !p.Restricted {
			members = append(members, p)
		}
		if p.UserID == emp && slices.Contains(p.DeptIDs(), legal) {
			t.Fatal("the employee is in 法务部")
		}
	}
	hidden := ""
	for _, p := range members {
		if p.Mobile != "" && p.UserID != sub && !p.HideMobile && !p.Senior {
			hidden = p.UserID
			break
		}
	}
	if len(members) < 3 || hidden == "" {
		t.Fatalf("法务部 has %d visible members, none to hide a mobile", len(members))
	}
	hiddenMobile := ""
	if err := e.sim.UpdateUser(hidden, func(p *dingbook.Person) { p.HideMobile, hiddenMobile = true, p.Mobile }); err != nil {
		t.Fatal(err)
	}
	pullSim(t, e)
	rb := newRealBrowser(t)
	shots := t.TempDir()

	// the employee asks
	ec := rb.tab(60 * time.Second)
	browserLogin(t, ec, e, emp)
	do(t, ec, "filling in the request",
		chromedp.Navigate(e.url+"/requests/new"),
		chromedp.Click(chromedp.CSS(`input[name="departments"][value="`+itoa(legal)+`"]`)),
		chromedp.Click(chromedp.CSS(`input[name="profile"][value="contact"]`)),
		chromedp.Click(chromedp.CSS(`input[name="formats"][value="xlsx"]`)), // off
		chromedp.Click(chromedp.CSS(`input[name="formats"][value="csv"]`)),
		chromedp.SendKeys(chromedp.CSS("#purpose"), "legal review of the team"),
		chromedp.SetValue(chromedp.CSS("#days"), "3"),
		chromedp.Click(chromedp.CSS("#request-submit")))
	// no justification for the mobiles: refused on the form, kept filled in
	waitURL(t, ec, "the form's refusal", func(u *url.URL) bool { return u.Path == "/requests" })
	if msg, err := chromedp.Run(ec, chromedp.Text(chromedp.CSS("#error"))); err != nil || !strings.Contains(msg, "justification") {
		t.Fatalf("the form's refusal says %q (%v)", msg, err)
	}
	screenshot(t, ec, shots, "request-form")
	if n := len(e.sim.Notices()); n != 0 {
		t.Fatalf("a refused request sent %d notices", n)
	}
	do(t, ec, "justifying the request",
		chromedp.SendKeys(chromedp.CSS("#justification"), "to call each member about the review"),
		chromedp.Click(chromedp.CSS("#request-submit")))
	rpage := waitURL(t, ec, "the request's page", func(u *url.URL) bool { return strings.HasPrefix(u.Path, "/requests/r-") })
	rid := strings.TrimPrefix(rpage.Path, "/requests/")
	if body := textOf(t, ec); !strings.Contains(body, "Pending") || !strings.Contains(body, "法务部") || !strings.Contains(body, "legal review of the team") {
		t.Errorf("the request's page:\n%s", body)
	}

	// the sub-admin's work notice, in all three languages (no language
	// known), with the link to the request's page
	var link string
	for _, n := range e.sim.Notices() {
		if slices.Contains(n.Delivered, sub) {
			text := noticeText(t, n)
			if !strings.Contains(text, "asks to export") || !strings.Contains(text, "申请导出") || !strings.Contains(text, "meminta ekspor") {
				t.Errorf("the approvers' notice is not in the three languages:\n%s", text)
			}
			link = regexp.MustCompile(regexp.QuoteMeta(e.url) + `/requests/\S+`).FindString(text)
		}
	}
	if link != e.url+"/requests/"+rid {
		t.Fatalf("the sub-admin's notice links to %q, want the request's page; notices %+v", link, e.sim.Notices())
	}
	sc := rb.tab(60 * time.Second)
	do(t, sc, "opening the notice's link", chromedp.Navigate(link))
	pickSimUser(t, sc, e, sub, "/requests/"+rid)
	screenshot(t, sc, shots, "request-approver")
	// approve a narrower version: without email and job_number
	do(t, sc, "approving fewer fields",
		chromedp.Click(chromedp.CSS(`#keep-fields input[value="email"]`)),
		chromedp.Click(chromedp.CSS(`#keep-fields input[value="job_number"]`)),
		chromedp.Click(chromedp.CSS("#approve")),
		chromedp.WaitVisible(chromedp.CSS("#granted")))
	if st, err := chromedp.Run(sc, chromedp.Text(chromedp.CSS("#state"))); err != nil || st != "Approved" {
		t.Fatalf("the request's state after the approval: %q %v\n%s", st, err, textOf(t, sc))
	}
	granted := []string{"name", "dept", "title", "mobile", "telephone", "org_email"}
	if g, _ := chromedp.Run(sc, chromedp.Text(chromedp.CSS("#granted"))); !strings.Contains(g, strings.Join(granted, ", ")) {
		t.Errorf("the granted scope shown: %q", g)
	}

	// the employee: the grant, its terms, the step-up, the download
	gid := app.GrantIDOf(rid)
	do(t, ec, "opening the grants", chromedp.Navigate(e.url+"/grants"), chromedp.Click(chromedp.CSS(`a[href="/grants/`+gid+`"]`)))
	waitURL(t, ec, "the grant's page", func(u *url.URL) bool { return u.Path == "/grants/"+gid })
	if body := textOf(t, ec); !strings.Contains(body, "Confidentiality terms (version 1)") {
		t.Errorf("the grant's page shows no terms:\n%s", body)
	}
	do(t, ec, "accepting the terms", chromedp.Click(chromedp.CSS("#accept")), chromedp.Click(chromedp.CSS("#accept-terms")),
		chromedp.WaitVisible(chromedp.CSS("#terms-accepted")))
	e.clock.Add(6 * time.Minute) // the login is too old now
	do(t, ec, "reloading the grant", chromedp.Navigate(e.url+"/grants/"+gid), chromedp.Click(chromedp.CSS("#step-up")))
	pickSimUser(t, ec, e, emp, "/grants/"+gid)
	do(t, ec, "preparing the download", chromedp.Click(chromedp.CSS("#prepare-bundle")), chromedp.WaitVisible(chromedp.CSS("#passphrase")))
	pass, err := chromedp.Run(ec, chromedp.Text(chromedp.CSS("#passphrase")))
	if err != nil || len(pass) < 16 {
		t.Fatalf("the passphrase on the page: %q %v", pass, err)
	}
	dl, err := chromedp.Run(ec, chromedp.AttributeValue(chromedp.CSS("#download"), "href"))
	if err != nil || !strings.HasPrefix(dl.Value, e.url+"/grants/download/") {
		t.Fatalf("the download link: %+v %v", dl, err)
	}
	screenshot(t, ec, shots, "grant")
	// the passphrase is shown once: the page again has none
	do(t, ec, "reopening the grant", chromedp.Navigate(e.url+"/grants/"+gid))
	if body := textOf(t, ec); strings.Contains(body, pass) {
		t.Error("the grant's page shows the passphrase again")
	}

	resp, zipped := browserDownload(t, ec, dl.Value)
	if resp.StatusCode != 200 || len(zipped) == 0 {
		t.Fatalf("the download: %d", resp.StatusCode)
	}
	if again, _ := browserDownload(t, ec, dl.Value); again.StatusCode != 410 {
		t.Errorf("a second download: %d, want 410", again.StatusCode)
	}
	dir := t.TempDir()
	zip := filepath.Join(dir, "bundle.zip")
	if err := os.WriteFile(zip, zipped, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x")
	if o, err := exec.Command("7zz", "x", "-p"+pass, "-o"+out, zip).CombinedOutput(); err != nil {
		t.Fatalf("7zz x with the page's passphrase: %v\n%s", err, o)
	}
	csvs, _ := filepath.Glob(filepath.Join(out, "*.csv"))
	if len(csvs) != 1 {
		t.Fatalf("the bundle holds %v", csvs)
	}
	raw, err := os.ReadFile(csvs[0])
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(raw), "\ufeff"))).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("the CSV: %v %v", rows, err)
	}
	if len(rows[0]) != len(granted) {
		t.Errorf("the CSV's columns %q, want the %d granted fields %v", rows[0], len(granted), granted)
	}
	var names, want []string
	for _, r := range rows[1:] {
		names = append(names, r[0])
	}
	for _, p := range members {
		want = append(want, p.Name)
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("the rows are %q, want 法务部's %q", names, want)
	}
	all := ""
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		all += string(b)
	}
	seen := 0
	for _, p := range members {
		if p.UserID != hidden && p.Mobile != "" && strings.Contains(all, p.Mobile) {
			seen++
		}
		if p.Email != "" && strings.Contains(all, p.Email) {
			t.Errorf("%s's email (not granted) is in the bundle", p.UserID)
		}
	}
	if seen == 0 || strings.Contains(all, hiddenMobile) {
		t.Errorf("mobiles in the bundle: %d of the others, the hidden one %v", seen, strings.Contains(all, hiddenMobile))
	}

	// the requester was told, with the link to the request's page
	if n := e.sim.Notices(); !slices.Contains(n[len(n)-1].Delivered, emp) || !strings.Contains(noticeText(t, n[len(n)-1]), e.url+"/requests/"+rid) {
		t.Errorf("the requester's notice: %+v", n[len(n)-1])
	}
	// the audit chain: every step, and it verifies
	recs, err := audit.List(t.Context(), e.app.DB, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, r := range recs {
		if (r.Action == app.ActionRequest && r.Details["request"] == rid) || (r.Action == app.ActionGrant && r.Details["grant"] == gid) {
			steps = append(steps, r.Action+":"+r.Details["step"])
		}
	}
	for _, s := range []string{"export-request:requested", "export-request:notified", "export-request:approved", "grant:granted",
		"grant:terms-accepted", "grant:stepped-up", "grant:bundle", "grant:downloaded"} {
		if !slices.Contains(steps, s) {
			t.Errorf("the audit chain lacks %s: %v", s, steps)
		}
	}
	if v, err := audit.Verify(t.Context(), e.app.DB); err != nil || !v.OK {
		t.Errorf("audit verify: %+v %v", v, err)
	}
	if d := rb.dialogsSeen(); len(d) != 0 {
		t.Errorf("pages opened dialogs: %q", d)
	}
}
