package serve_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/serve"
)

// form POSTs a form (lang: Accept-Language) without following redirects.
func (b *browser) form(path string, v url.Values, lang string) (*http.Response, string) {
	b.e.t.Helper()
	hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if lang != "" {
		hdr.Set("Accept-Language", lang)
	}
	return b.doBody("POST", b.e.url+path, v.Encode(), hdr)
}

// requestForm is the new request's form for department dept.
func requestForm(dept int64) url.Values {
	return url.Values{"departments": {itoa(dept)}, "profile": {"contact"}, "formats": {"csv"}, "purpose": {"legal review"},
		"basis": {"hr-management"}, "justification": {"to call the team"}, "days": {"3"}}
}

// noticesTo are the notices since before delivered to userid, as text.
func noticesTo(t *testing.T, e *env, before int, userid string) []string {
	var out []string
	for _, n := range e.sim.Notices()[before:] {
		if slices.Contains(n.Delivered, userid) {
			out = append(out, noticeText(t, n))
		}
	}
	return out
}

// The request pages: the form's refusals in the person's language,
// nothing stored; notices in each recipient's language (the one their
// session chose, else all three); the inbox lists only what the approver
// may decide now (two approvers: the first's approval leaves it); a
// request is 404 to others; the approval's and denial's refusals on the
// page; the requester told of the denial in their language.
func TestRequestPages(t *testing.T) {
	e := newEnv(t)
	pullSim(t, e)
	primary, sub, emp := demoUsers(t, e.sim)
	usePolicy(t, e, "requests:\n  two_approvers_over: 1\n")
	dept := scopeDept(e, sub)
	// the requester chose Chinese before logging in; the sub-admin
	// switches to Indonesian once logged in; the primary admin never
	// logged in
	requester := e.browser(emp)
	u, _ := url.Parse(e.url)
	requester.jar.SetCookies(u, []*http.Cookie{{Name: serve.LangCookie, Value: "zh"}})
	requester.login()
	approver := e.browser(sub).login()
	if resp, _ := approver.form("/lang", url.Values{"lang": {"id"}, "next": {"/"}}, ""); resp.StatusCode != 303 {
		t.Fatalf("switching the language: %d", resp.StatusCode)
	}

	if resp, page := requester.do("GET", e.url+"/requests/new", nil); resp.StatusCode != 200 || !strings.Contains(page, "申请导出") || !strings.Contains(page, `value="`+itoa(dept)+`"`) {
		t.Fatalf("the form: %d\n%s", resp.StatusCode, page)
	}
	for name, c := range map[string]struct {
		edit   func(url.Values)
		status int
		want   string
	}{
		"too many days":      {func(v url.Values) { v.Set("days", "9") }, 422, "请填写 1 至 3 的整数天数"},
		"days not a number":  {func(v url.Values) { v.Set("days", "three") }, 400, "请填写 1 至 3 的整数天数"},
		"no justification":   {func(v url.Values) { v.Del("justification") }, 422, "个人或敏感字段需要理由说明"},
		"unknown department": {func(v url.Values) { v.Set("departments", "987654321") }, 400, "请选择通讯录中存在的部门"},
		"no format":          {func(v url.Values) { v.Del("formats") }, 400, "请至少选择一种格式"},
		"no purpose":         {func(v url.Values) { v.Set("purpose", " ") }, 422, "请填写数据用途"},
		"half a recipient":   {func(v url.Values) { v.Set("recipient_organisation", "Law Firm") }, 400, "第三方接收方需填写"},
	} {
		v := requestForm(dept)
		c.edit(v)
		resp, page := requester.form("/requests", v, "")
		if resp.StatusCode != c.status || !strings.Contains(page, c.want) || !strings.Contains(page, `value="legal review"`) && name != "no purpose" {
			t.Errorf("%s: %d, want %d with %q (and the form filled in):\n%.3000s", name, resp.StatusCode, c.status, c.want, page)
		}
	}
	if rows, err := e.app.DB.ExportRequests(t.Context()); err != nil || len(rows) != 0 || len(e.sim.Notices()) != 0 {
		t.Fatalf("refused forms stored %d requests, sent %d notices", len(rows), len(e.sim.Notices()))
	}

	resp, _ := requester.form("/requests", requestForm(dept), "")
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 303 || !strings.HasPrefix(loc, "/requests/r-") {
		t.Fatalf("the request: %d to %q", resp.StatusCode, loc)
	}
	// the sub-admin's notice in Indonesian only; the primary admin's in
	// all three; each links to the page
	if got := noticesTo(t, e, 0, sub); len(got) != 1 || !strings.Contains(got[0], "meminta ekspor") || strings.Contains(got[0], "asks to export") || !strings.Contains(got[0], e.url+loc) {
		t.Errorf("the sub-admin's notice: %q", got)
	}
	if got := noticesTo(t, e, 0, primary); len(got) != 1 || !strings.Contains(got[0], "meminta ekspor") || !strings.Contains(got[0], "asks to export") || !strings.Contains(got[0], "申请导出") {
		t.Errorf("the primary admin's notice: %q", got)
	}

	// who sees the request, and whose inbox holds it
	other := e.browser(inboxStranger(t, e, primary, sub, emp)).login()
	if resp, _ := other.do("GET", e.url+loc, nil); resp.StatusCode != 404 {
		t.Errorf("a stranger opens the request: %d", resp.StatusCode)
	}
	boss := e.browser(primary).login()
	inbox := func(b *browser) string {
		resp, page := b.do("GET", e.url+"/requests/inbox", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("the inbox: %d", resp.StatusCode)
		}
		return page
	}
	if !strings.Contains(inbox(approver), loc) || strings.Contains(inbox(requester), loc) || !strings.Contains(inbox(boss), loc) {
		t.Error("the inboxes: the approvers' lack the request, or the requester's has it")
	}
	if _, page := requester.do("GET", e.url+"/requests", nil); !strings.Contains(page, loc) || !strings.Contains(page, "待审批") {
		t.Errorf("the requester's list:\n%s", page)
	}
	if _, page := requester.do("GET", e.url+loc, nil); strings.Contains(page, "approve-form") {
		t.Error("the requester is offered the approval")
	}

	// the approval's refusals, on the page
	keep := url.Values{"departments": {itoa(dept)}, "fields": {"name", "mobile"}, "days": {"2"}}
	for name, c := range map[string]struct {
		edit   func(url.Values)
		status int
		want   string
	}{
		"no field kept":      {func(v url.Values) { v.Del("fields") }, 400, "Pertahankan setidaknya satu kolom"},
		"no department kept": {func(v url.Values) { v.Del("departments") }, 400, "Pertahankan setidaknya satu departemen"},
		"more days":          {func(v url.Values) { v.Set("days", "5") }, 400, "Minta jumlah hari bulat dari 1 sampai 3"},
	} {
		v := url.Values{}
		for k, x := range keep {
			v[k] = slices.Clone(x)
		}
		c.edit(v)
		if resp, page := approver.form(loc+"/approve", v, ""); resp.StatusCode != c.status || !strings.Contains(page, c.want) {
			t.Errorf("%s: %d, want %d with %q:\n%.2000s", name, resp.StatusCode, c.status, c.want, page)
		}
	}
	if resp, _ := requester.form(loc+"/approve", keep, ""); resp.StatusCode != 403 {
		t.Errorf("the requester approves: %d", resp.StatusCode)
	}
	if resp, _ := approver.form(loc+"/approve", keep, ""); resp.StatusCode != 303 {
		t.Fatalf("the first approval: %d", resp.StatusCode)
	}
	// two approvers: it waits for the second, in their inbox only
	if strings.Contains(inbox(approver), loc) || !strings.Contains(inbox(boss), loc) {
		t.Error("after the first approval: still in its approver's inbox, or not in the other's")
	}
	if resp, page := boss.form(loc+"/deny", url.Values{"reason": {" "}}, "en"); resp.StatusCode != 400 || !strings.Contains(page, "A denial needs a reason") {
		t.Errorf("a denial without a reason: %d\n%.2000s", resp.StatusCode, page)
	}
	before := len(e.sim.Notices())
	if resp, _ := boss.form(loc+"/deny", url.Values{"reason": {"the review is cancelled"}}, ""); resp.StatusCode != 303 {
		t.Fatalf("the denial: %d", resp.StatusCode)
	}
	if _, page := requester.do("GET", e.url+loc, nil); !strings.Contains(page, "已拒绝") || !strings.Contains(page, "the review is cancelled") {
		t.Errorf("the denied request's page:\n%s", page)
	}
	if got := noticesTo(t, e, before, emp); len(got) != 1 || !strings.Contains(got[0], "被拒绝：the review is cancelled") || strings.Contains(got[0], "was denied") || !strings.Contains(got[0], e.url+loc) {
		t.Errorf("the requester's notice of the denial: %q", got)
	}
	if strings.Contains(inbox(boss), loc) {
		t.Error("a denied request is still in the inbox")
	}
}

// inboxStranger is an active employee who is none of the others and no
// admin.
func inboxStranger(t *testing.T, e *env, not ...string) string {
	for _, p := range truth.Org.People {
		if p.Active && !p.Admin && !p.Restricted && p.UnionID != "" && !slices.Contains(not, p.UserID) {
			return p.UserID
		}
	}
	t.Fatal("no stranger")
	return ""
}

// The grant pages: the terms in the grantee's language, accepted with
// the box ticked; a login older than 5 minutes is sent to DingTalk's
// login and back to the grant; the bundle's passphrase and link are
// shown once; others get 404; the approver revokes on the page.
func TestGrantPages(t *testing.T) {
	e := newEnv(t)
	pullSim(t, e)
	primary, sub, emp := demoUsers(t, e.sim)
	dept := scopeDept(e, sub)
	requester, approver := e.browser(emp).login(), e.browser(sub).login()
	resp, _ := requester.form("/requests", requestForm(dept), "")
	rid := strings.TrimPrefix(resp.Header.Get("Location"), "/requests/")
	if resp, _ := approver.form("/requests/"+rid+"/approve", url.Values{"departments": {itoa(dept)}, "fields": {"name", "mobile"}, "days": {"3"}}, ""); resp.StatusCode != 303 {
		t.Fatalf("approve: %d", resp.StatusCode)
	}
	gid := app.GrantIDOf(rid)
	page := "/grants/" + gid
	if _, p := requester.do("GET", e.url+"/requests/"+rid, nil); !strings.Contains(p, `href="`+page+`"`) {
		t.Errorf("the approved request does not link to its grant:\n%s", p)
	}
	if _, p := requester.do("GET", e.url+"/grants", nil); !strings.Contains(p, page) {
		t.Errorf("the grants page lacks the grant:\n%s", p)
	}
	if _, p := requester.do("GET", e.url+page, http.Header{"Accept-Language": {"id"}}); !strings.Contains(p, "Ketentuan kerahasiaan (versi 1)") || strings.Contains(p, "prepare-bundle") {
		t.Errorf("the grant's page in Indonesian, before the terms:\n%s", p)
	}
	if resp, p := requester.form(page+"/accept-terms", url.Values{}, ""); resp.StatusCode != 400 || !strings.Contains(p, "Tick the box to accept the terms") {
		t.Errorf("the terms not ticked: %d\n%.2000s", resp.StatusCode, p)
	}
	if resp, p := requester.form(page+"/bundle", url.Values{}, ""); resp.StatusCode != 403 || !strings.Contains(p, "Accept the confidentiality terms first") {
		t.Errorf("a bundle before the terms: %d\n%.2000s", resp.StatusCode, p)
	}
	if resp, _ := requester.form(page+"/accept-terms", url.Values{"accept": {"1"}}, ""); resp.StatusCode != 303 || resp.Header.Get("Location") != page {
		t.Fatalf("accepting the terms: %d", resp.StatusCode)
	}
	// the login is too old: the page and the form send the grantee to
	// DingTalk's login, back to the grant
	e.clock.Add(6 * time.Minute)
	login := "/login?next=" + url.QueryEscape(page)
	if _, p := requester.do("GET", e.url+page, nil); !strings.Contains(p, `href="/login?next=%2fgrants%2f`+gid+`"`) && !strings.Contains(p, `href="`+login+`"`) ||
		!strings.Contains(p, fmt.Sprintf("no older than %d minutes.", app.StepUpMinutes())) {
		t.Errorf("the page offers no step-up to %s within %d minutes:\n%s", login, app.StepUpMinutes(), p)
	}
	if resp, _ := requester.form(page+"/bundle", url.Values{}, ""); resp.StatusCode != 303 || resp.Header.Get("Location") != login {
		t.Fatalf("a stale login's bundle: %d to %q, want %s", resp.StatusCode, resp.Header.Get("Location"), login)
	}
	if resp, _ := requester.follow(e.url + login); resp.Request.URL.Path != page || resp.StatusCode != 200 {
		t.Fatalf("the step-up ended at %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	resp, p := requester.form(page+"/bundle", url.Values{}, "")
	if resp.StatusCode != 200 || !strings.Contains(p, `id="passphrase"`) || !strings.Contains(p, e.url+"/grants/download/") {
		t.Fatalf("the bundle: %d\n%s", resp.StatusCode, p)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the passphrase's page is cached: %q", resp.Header.Get("Cache-Control"))
	}
	if _, p := requester.do("GET", e.url+page, nil); strings.Contains(p, `id="passphrase"`) || strings.Contains(p, "/grants/download/") {
		t.Error("the grant's page shows the passphrase or the link again")
	}
	// others
	stranger := e.browser(inboxStranger(t, e, primary, sub, emp)).login()
	for _, path := range []string{page, "/requests/" + rid} {
		if resp, _ := stranger.do("GET", e.url+path, nil); resp.StatusCode != 404 {
			t.Errorf("a stranger opens %s: %d", path, resp.StatusCode)
		}
	}
	if resp, _ := requester.form(page+"/revoke", url.Values{}, ""); resp.StatusCode != 403 {
		t.Errorf("the grantee revokes: %d", resp.StatusCode)
	}
	if _, p := approver.do("GET", e.url+"/grants", nil); !strings.Contains(p, page) {
		t.Errorf("the approver's grants page lacks the grant:\n%s", p)
	}
	if resp, _ := approver.form(page+"/revoke", url.Values{"reason": {"done"}}, ""); resp.StatusCode != 303 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if _, p := requester.do("GET", e.url+page, nil); !strings.Contains(p, "Revoked") || !strings.Contains(p, sub+": done") {
		t.Errorf("the revoked grant's page:\n%s", p)
	}
}

// storedRequests are the export requests stored, as the app reads them.
func storedRequests(t *testing.T, e *env) []app.ExportRequest {
	t.Helper()
	rows, err := e.app.DB.ExportRequests(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := make([]app.ExportRequest, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal([]byte(r.Doc), &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// The form names people by userid (commas or spaces): two the requester
// sees land as the request's userids; one they may not see (restricted
// staff outside their departments) or one that does not exist is refused
// in their language, naming it, nothing stored.
func TestRequestFormPeople(t *testing.T) {
	e := newEnv(t)
	pullSim(t, e)
	primary, sub, emp := demoUsers(t, e.sim)
	var self *dingbook.Person
	for i := range truth.Org.People {
		if truth.Org.People[i].UserID == emp {
			self = &truth.Org.People[i]
		}
	}
	var seen []string
	var hidden string
	for _, p := range truth.Org.People {
		switch {
		case !p.Active || slices.Contains([]string{primary, sub, emp}, p.UserID):
		case !p.Restricted && len(seen) < 2:
			seen = append(seen, p.UserID)
		case p.Restricted && hidden == "" && !slices.ContainsFunc(p.Depts, func(m dingbook.Membership) bool { return slices.Contains(self.DeptIDs(), m.DeptID) }):
			hidden = p.UserID
		}
	}
	if len(seen) < 2 || hidden == "" {
		t.Fatalf("the generated org lacks two visible people (%v) or a hidden one", seen)
	}
	requester := e.browser(emp).login()
	if _, page := requester.do("GET", e.url+"/requests/new", nil); !strings.Contains(page, `name="userids"`) {
		t.Fatalf("the form has no userids field:\n%s", page)
	}
	named := func(userids string) url.Values {
		v := requestForm(0)
		v.Del("departments")
		v.Set("userids", userids)
		return v
	}
	for _, c := range []struct{ userids, lang, want, named string }{
		{seen[0] + ", " + hidden, "zh", "不是您在通讯录中可见的人员", hidden},
		{"nosuch-person " + seen[1], "en", "is not a person in the directory you may see", "nosuch-person"},
	} {
		resp, page := requester.form("/requests", named(c.userids), c.lang)
		if resp.StatusCode != 400 || !strings.Contains(page, c.want) || !strings.Contains(page, c.named+" ") || !strings.Contains(page, `value="`+c.userids+`"`) {
			t.Errorf("%q: %d, want 400 naming %s in %s (the form filled in):\n%.3000s", c.userids, resp.StatusCode, c.named, c.lang, page)
		}
	}
	// the JSON API keeps the same rule: a person the requester may not
	// see is refused exactly as one who does not exist
	answers := map[string]string{}
	for _, u := range []string{hidden, "nosuch-person"} {
		body := `{"userids": ["` + u + `"], "profile": "contact", "formats": ["csv"], "purpose": "legal review", "basis": "hr-management", "justification": "to call the team", "days": 3}`
		st, problem := requester.postJSON("/api/v1/requests", body, "", nil)
		if st != 400 || problem["error"] != "notfound" {
			t.Errorf("POST /api/v1/requests naming %s: %d %v, want 400 notfound", u, st, problem)
		}
		answers[u] = strings.ReplaceAll(problem["error"]+"|"+problem["message"]+"|"+problem["hint"], u, "USERID")
	}
	if answers[hidden] != answers["nosuch-person"] {
		t.Errorf("the API tells a hidden person from a missing one:\n%s\n%s", answers[hidden], answers["nosuch-person"])
	}
	if got := storedRequests(t, e); len(got) != 0 {
		t.Fatalf("refused forms stored %d requests", len(got))
	}
	resp, _ := requester.form("/requests", named(" "+seen[0]+",  "+seen[1]+" "), "")
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/requests/r-") {
		t.Fatalf("the request naming two people: %d", resp.StatusCode)
	}
	if got := storedRequests(t, e); len(got) != 1 || !slices.Equal(got[0].UserIDs, seen) || len(got[0].Departments) != 0 || got[0].People != 2 {
		t.Errorf("the stored request: %+v, want userids %v", got, seen)
	}
}

// The form lists the external contacts shared with the requester (only
// those) with a consent reference for the batch; one ticked with the
// basis consent and a reference lands, without a reference it is refused
// in the requester's language, nothing stored. A contact whose consent is
// withdrawn is not offered; someone left with none is told so.
func TestRequestFormExternal(t *testing.T) {
	e, c := newExtEnv(t)
	requester := e.browser(c.member).login()
	_, page := requester.do("GET", e.url+"/requests/new", nil)
	if !strings.Contains(page, `name="external" value="`+c.contact+`"`) || strings.Contains(page, `value="`+c.other+`"`) || !strings.Contains(page, `name="consent_ref"`) {
		t.Fatalf("the form's external contacts: want %s only, with a consent reference:\n%s", c.contact, page)
	}
	form := func(ref string) url.Values {
		v := requestForm(0)
		v.Del("departments")
		v.Set("basis", "consent")
		v.Set("external", c.contact)
		v.Set("consent_ref", ref)
		return v
	}
	for _, tc := range []struct {
		name string
		v    url.Values
		want string
	}{
		{"no consent reference", form(" "), "外部联系人需填写其同意的凭证编号"},
		{"a contact not shared", func() url.Values { v := form("C-1"); v.Set("external", c.other); return v }(), "请选择共享给您且未撤回同意的外部联系人"},
	} {
		if resp, page := requester.form("/requests", tc.v, "zh"); resp.StatusCode/100 != 4 || !strings.Contains(page, tc.want) {
			t.Errorf("%s: %d, want the refusal %q:\n%.3000s", tc.name, resp.StatusCode, tc.want, page)
		}
	}
	if got := storedRequests(t, e); len(got) != 0 {
		t.Fatalf("refused forms stored %d requests", len(got))
	}
	if resp, _ := requester.form("/requests", form("C-7"), ""); resp.StatusCode != 303 {
		t.Fatalf("the request of the contact: %d", resp.StatusCode)
	}
	if got := storedRequests(t, e); len(got) != 1 || !slices.Equal(got[0].External, []string{c.contact}) || got[0].ConsentRef != "C-7" || got[0].Basis != "consent" {
		t.Errorf("the stored request: %+v", got)
	}
	// the follower of the other contact withdraws its consent: they see
	// none now, and are told so
	unrelated := e.browser(c.unrelated).login()
	if _, page := unrelated.do("GET", e.url+"/requests/new", nil); !strings.Contains(page, `value="`+c.other+`"`) {
		t.Fatalf("the follower's form lacks their contact:\n%s", page)
	}
	if resp, _ := unrelated.send("POST", "/api/v1/external/"+c.other+"/withdraw-consent", "", nil); resp.StatusCode != 200 {
		t.Fatalf("withdraw: %d", resp.StatusCode)
	}
	if _, page := unrelated.do("GET", e.url+"/requests/new", nil); !strings.Contains(page, `id="external-none"`) || strings.Contains(page, `name="external"`) {
		t.Errorf("a withdrawn contact is offered, or the form does not say there is none:\n%s", page)
	}
}
