package serve_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/serve"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

// extCast is the external contacts test's organisation: a department
// (shared) with a sub-department, and the people around one contact.
type extCast struct {
	follower, shared, member, subMember, unrelated, primary string
	// contact is shared with shared and the department; other is
	// followed by unrelated and shared with nobody.
	contact, other string
}

func newExtEnv(t *testing.T) (*env, extCast) {
	tr := gen.Generate(gen.Options{Users: 120, Depts: 12, Seed: 21})
	tree := dingbook.NewTree(tr.Org.Depts)
	var dept, sub, outside int64
	for _, d := range tr.Org.Depts {
		if c := tree.Children(d.ID); d.ID != dingbook.RootDeptID && len(c) > 0 && dept == 0 {
			dept, sub = d.ID, c[0]
		}
	}
	for _, d := range tr.Org.Depts {
		if d.ID != dingbook.RootDeptID && !slices.Contains(tree.Descendants(dept), d.ID) {
			outside = d.ID
		}
	}
	if dept == 0 || outside == 0 {
		t.Fatal("the generated org has no department with a sub-department and one outside it")
	}
	var c extCast
	var free []*dingbook.Person
	for i := range tr.Org.People {
		p := &tr.Org.People[i]
		admin := slices.ContainsFunc(tr.Admins, func(a gen.Admin) bool { return a.UserID == p.UserID })
		if admin {
			if slices.ContainsFunc(tr.Admins, func(a gen.Admin) bool { return a.UserID == p.UserID && a.SysLevel == 1 }) && p.Active {
				c.primary = p.UserID
			}
			continue
		}
		if p.Active && !p.Restricted {
			free = append(free, p)
		}
	}
	if c.primary == "" || len(free) < 5 {
		t.Fatalf("primary admin %q, %d free people", c.primary, len(free))
	}
	place := func(p *dingbook.Person, d int64) string {
		p.Depts = []dingbook.Membership{{DeptID: d}}
		return p.UserID
	}
	c.follower, c.shared, c.unrelated = place(free[0], outside), place(free[1], outside), place(free[2], outside)
	c.member, c.subMember = place(free[3], dept), place(free[4], sub)
	// nobody else is in the shared department or below (they would see
	// the contact too): move them out
	for _, p := range free[5:] {
		if slices.ContainsFunc(p.Depts, func(m dingbook.Membership) bool { return slices.Contains(tree.Descendants(dept), m.DeptID) }) {
			place(p, outside)
		}
	}
	c.contact, c.other = "ext-a", "ext-b"
	tr.Org.External = []dingbook.ExternalContact{
		{UserID: c.contact, Name: "潘潘", CompanyName: "合作伙伴有限公司", Title: "采购经理", StateCode: "86", Mobile: "13100000007",
			Email: "pan@partner.example.com", FollowerUserID: c.follower, ShareUserIDs: []string{c.shared}, ShareDeptIDs: []int64{dept},
			LabelIDs: []int64{1561077310}},
		{UserID: c.other, Name: "潘多", CompanyName: "别的公司", FollowerUserID: c.unrelated, ShareUserIDs: []string{}, ShareDeptIDs: []int64{}},
	}
	gen.CountMembers(&tr.Org)
	e := newEnvOf(t, tr)
	pol, err := e.app.Policy(t.Context(), "", "tester")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.app.Pull(t.Context(), pol, app.PullOptions{Actor: "tester", Client: e.srv.Client, BaseURL: e.simURL, CountRestricted: true, External: true})
	if err != nil || !res.Snapshot.Receipt.Complete || len(res.Snapshot.Org.External) != 2 {
		t.Fatalf("pull: %v", err)
	}
	return e, c
}

func externalIDs(l serve.ExternalList) []string {
	var out []string
	for _, x := range l.External {
		out = append(out, x.UserID)
	}
	return out
}

// The visibility table through the HTTP API, with the policy's
// sub-department switch on (the default) and off.
func TestExternalVisibilityAPI(t *testing.T) {
	e, c := newExtEnv(t)
	b := map[string]*browser{}
	for _, u := range []string{c.follower, c.shared, c.member, c.subMember, c.unrelated, c.primary} {
		b[u] = e.browser(u).login()
	}
	off := policy.Default()
	no := false
	off.Serve.ExternalShareSubdepartments = &no
	for _, tc := range []struct {
		name    string
		who     string
		on, off bool
	}{
		{"follower", c.follower, true, true},
		{"shared user", c.shared, true, true},
		{"member of the shared department", c.member, true, true},
		{"member of its sub-department", c.subMember, true, false},
		{"unrelated employee", c.unrelated, false, false},
		{"primary admin", c.primary, true, true},
	} {
		for _, pol := range []*policy.Policy{nil, off} {
			e.srv.Policy = pol
			want := tc.on
			if pol != nil {
				want = tc.off
			}
			var x app.DirExternal
			status := b[tc.who].getJSON("/api/v1/external/"+c.contact, &x)
			if (status == 200) != want || (status != 200 && status != 404) {
				t.Errorf("%s (switch off %v): GET /api/v1/external/%s: %d, want visible %v", tc.name, pol != nil, c.contact, status, want)
			}
			if status == 200 && (!x.External || x.CompanyName != "合作伙伴有限公司" || len(x.LabelIDs) != 1 || x.Follower.UserID != c.follower ||
				!slices.Equal(x.Labels, []dingbook.ExternalLabel{{ID: 1561077310, Name: "客户", Group: "类型"}})) {
				t.Errorf("%s: %+v", tc.name, x)
			}
			var l serve.ExternalList
			if b[tc.who].getJSON("/api/v1/external?q="+url.QueryEscape("panpan"), &l) != 200 || slices.Contains(externalIDs(l), c.contact) != want {
				t.Errorf("%s (switch off %v): search: %v, want visible %v", tc.name, pol != nil, externalIDs(l), want)
			}
		}
	}
	e.srv.Policy = nil
	// the other contact: its follower and the primary admin only
	for who, want := range map[string]bool{c.unrelated: true, c.primary: true, c.follower: false, c.member: false} {
		var x app.DirExternal
		if st := b[who].getJSON("/api/v1/external/"+c.other, &x); (st == 200) != want {
			t.Errorf("%s: GET %s: %d, want visible %v", who, c.other, st, want)
		}
	}
	// the people's API keeps its contract: people only
	var ps serve.People
	if b[c.follower].getJSON("/api/v1/people?q="+url.QueryEscape("潘潘"), &ps) != 200 || len(ps.People) != 0 {
		t.Errorf("people search found external contacts: %+v", ps)
	}
	// the pages: the search marks the contact as external, with its
	// company and label; the contact's page offers the follower the form
	resp, page := b[c.member].send("GET", "/?q="+url.QueryEscape("潘"), "", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `/external/`+c.contact) || !strings.Contains(page, "External contact") ||
		!strings.Contains(page, "合作伙伴有限公司") || !strings.Contains(page, `<span title="类型">客户</span>`) || strings.Contains(page, "1561077310") || strings.Contains(page, "/external/"+c.other) {
		t.Errorf("search page: %d %s", resp.StatusCode, page)
	}
	_, page = b[c.follower].send("GET", "/external/"+c.contact, "", nil)
	if !strings.Contains(page, `action="/external/`+c.contact+`/withdraw-consent"`) || !strings.Contains(page, "合作伙伴有限公司") || !strings.Contains(page, `<dd><span title="类型">客户</span></dd>`) {
		t.Errorf("follower's page: %s", page)
	}
	resp, page = b[c.member].send("GET", "/external/"+c.contact, "", nil)
	if resp.StatusCode != 200 || strings.Contains(page, "withdraw-consent") {
		t.Errorf("member's page offers the form: %d", resp.StatusCode)
	}
	if resp, _ := b[c.unrelated].send("GET", "/external/"+c.contact, "", nil); resp.StatusCode != 404 {
		t.Errorf("unrelated page: %d", resp.StatusCode)
	}
}

// A withdrawn contact: only its follower or an admin may mark it; the
// mark is audited (who, when); the contact then leaves the API, the
// search, the pages and the CardDAV book, whose sync reports it removed.
func TestExternalConsentWithdrawn(t *testing.T) {
	e, c := newExtEnv(t)
	follower, shared, member, unrelated := e.browser(c.follower).login(), e.browser(c.shared).login(), e.browser(c.member).login(), e.browser(c.unrelated).login()
	p := member.newAppPassword("phone")
	dev := device{b: e.browser(""), user: p.Username, pass: p.Password}
	book := "/dav/books/" + c.member + "/directory/"
	card := serve.DAVRoot + "books/" + c.member + "/directory/" + app.ExternalCardName(c.contact)
	resp, out := dev.req("REPORT", book, syncReport("", 0), http.Header{"Depth": {"1"}})
	first := parseMS(t, resp, out)
	if names := cardNames(t, first, book); !slices.Contains(names, app.ExternalCardName(c.contact)) || slices.Contains(names, app.ExternalCardName(c.other)) {
		t.Fatalf("the member's book before: %v", names)
	}
	if resp, body := dev.req("GET", card, "", nil); resp.StatusCode != 200 || !strings.Contains(body, "ORG:合作伙伴有限公司") || !strings.Contains(body, "FN:潘潘") {
		t.Fatalf("the contact's card: %d %s", resp.StatusCode, body)
	}
	withdraw := func(b *browser) int {
		resp, _ := b.send("POST", "/api/v1/external/"+c.contact+"/withdraw-consent", "", nil)
		return resp.StatusCode
	}
	// not seen: 404; seen but not the follower: 403; the follower: 200
	if st := withdraw(unrelated); st != 404 {
		t.Errorf("unrelated: %d", st)
	}
	if st := withdraw(shared); st != 403 {
		t.Errorf("shared user: %d", st)
	}
	if ws, _ := e.app.ExternalWithdrawals(t.Context()); len(ws) != 0 {
		t.Fatalf("refused withdrawals stored: %v", ws)
	}
	before := e.clock.Now()
	if st := withdraw(follower); st != 200 {
		t.Fatalf("follower: %d", st)
	}
	for _, b := range []*browser{follower, shared, member} {
		var x app.DirExternal
		if st := b.getJSON("/api/v1/external/"+c.contact, &x); st != 404 {
			t.Errorf("%s sees the withdrawn contact: %d", b.simUser, st)
		}
		var l serve.ExternalList
		if b.getJSON("/api/v1/external?q=panpan", &l) != 200 || len(l.External) != 0 {
			t.Errorf("%s finds the withdrawn contact: %v", b.simUser, externalIDs(l))
		}
		if resp, page := b.send("GET", "/?q=panpan", "", nil); resp.StatusCode != 200 || strings.Contains(page, "/external/"+c.contact) {
			t.Errorf("%s's search page shows the withdrawn contact", b.simUser)
		}
	}
	if st := withdraw(follower); st != 404 {
		t.Errorf("a second withdrawal: %d", st)
	}
	// the audit record: who, when, and the contact as a keyed hash only
	recs, err := audit.List(t.Context(), e.app.DB, audit.Filter{Action: app.ActionExternalConsent, Actor: c.follower})
	if err != nil || len(recs) != 1 || recs[0].Details["op"] != "withdraw-external" || recs[0].Time.Before(before.Truncate(1e9)) || recs[0].Details["person_hmac"] == "" {
		t.Fatalf("audit: %v %+v", err, recs)
	}
	if strings.Contains(mustJSON(recs[0]), c.contact) {
		t.Errorf("the audit record names the contact in the clear: %+v", recs[0])
	}
	ws, err := e.app.ExternalWithdrawals(t.Context())
	if w := ws[c.contact]; err != nil || w.By != c.follower || w.Time.IsZero() {
		t.Errorf("withdrawals: %v %+v", err, ws)
	}
	if v, err := e.app.VerifyAudit(t.Context(), ""); err != nil || !v.OK {
		t.Errorf("audit verify: %v %+v", err, v)
	}
	// the CardDAV book: the card is gone, and a sync from the earlier
	// token (same snapshot) reports it removed
	if resp, _ := dev.req("GET", card, "", nil); resp.StatusCode != 404 {
		t.Errorf("the withdrawn card: %d", resp.StatusCode)
	}
	resp, out = dev.req("REPORT", book, syncReport(first.SyncToken, 0), http.Header{"Depth": {"1"}})
	next := parseMS(t, resp, out)
	if len(next.Responses) != 1 || !strings.HasSuffix(next.Responses[0].Href, app.ExternalCardName(c.contact)) || !strings.Contains(next.Responses[0].Status, "404") || next.SyncToken == first.SyncToken {
		t.Errorf("sync after the withdrawal: %s", out)
	}
	resp, out = dev.req("REPORT", book, syncReport(next.SyncToken, 0), nil)
	if ms := parseMS(t, resp, out); len(ms.Responses) != 0 {
		t.Errorf("sync from the latest token: %s", out)
	}
	// the form on the page does the same for an admin
	primary := e.browser(c.primary).login()
	resp, page := primary.send("POST", "/external/"+c.other+"/withdraw-consent", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, "Consent withdrawn") {
		t.Errorf("the admin's form: %d %s", resp.StatusCode, page)
	}
	var x app.DirExternal
	if st := unrelated.getJSON("/api/v1/external/"+c.other, &x); st != 404 {
		t.Errorf("the follower still sees the contact an admin withdrew: %d", st)
	}
}

// Exporting external contacts takes a request with the basis consent and
// a consent reference for each contact (or the batch), of contacts the
// requester sees; the followers get a work notice when it is approved.
func TestExternalExportRequest(t *testing.T) {
	e, c := newExtEnv(t)
	requester, primary := e.browser(c.member).login(), e.browser(c.primary).login()
	body := func(basis, ref, refs string, ids ...string) string {
		b, _ := json.Marshal(ids)
		s := `{"external": ` + string(b) + `, "profile": "contact", "formats": ["vcf"], "purpose": "partner mailing", "basis": "` + basis + `", "justification": "to send the partners our new address", "days": 1`
		if ref != "" {
			s += `, "consent_ref": "` + ref + `"`
		}
		if refs != "" {
			s += `, "consent_refs": ` + refs
		}
		return s + "}"
	}
	for _, tc := range []struct {
		name, body string
		status     int
		field      string
	}{
		{"basis not consent", body("hr-management", "C-1", "", c.contact), 422, "basis"},
		{"no consent reference", body("consent", "", "", c.contact), 422, "consent_ref"},
		{"a blank per-contact reference", body("consent", "", `{"`+c.contact+`": " "}`, c.contact), 422, "consent_ref"},
		{"a contact not shared with the requester", body("consent", "C-1", "", c.other), 400, "external"},
		{"an unknown contact", body("consent", "C-1", "", "ext-nosuch"), 400, "external"},
		{"a reference for a contact not asked for", body("consent", "", `{"`+c.other+`": "C-2"}`, c.contact), 400, "consent_refs"},
	} {
		st, problem := requester.postJSON("/api/v1/requests", tc.body, "", nil)
		if st != tc.status || !strings.Contains(problem["message"]+problem["hint"], tc.field) {
			t.Errorf("%s: %d %v, want %d naming %s", tc.name, st, problem, tc.status, tc.field)
		}
	}
	if rows, err := e.app.DB.ExportRequests(t.Context()); err != nil || len(rows) != 0 {
		t.Fatalf("refused requests stored: %v %d", err, len(rows))
	}
	var created serve.RequestCreated
	if st, problem := requester.postJSON("/api/v1/requests", body("consent", "", `{"`+c.contact+`": "C-7"}`, c.contact), "", &created); st != 201 || !slices.Contains(created.Approvers, c.primary) {
		t.Fatalf("create: %d %v %+v", st, problem, created)
	}
	before := len(e.sim.Notices())
	if st, problem := primary.postJSON("/api/v1/requests/"+created.ID+"/approve", "", "", nil); st != 200 {
		t.Fatalf("approve: %d %v", st, problem)
	}
	var told bool
	for _, n := range e.sim.Notices()[before:] {
		told = told || (slices.Equal(n.UserIDs, []string{c.follower}) && strings.Contains(string(n.Msg), c.contact))
	}
	if !told {
		t.Errorf("the follower got no work notice: %+v", e.sim.Notices()[before:])
	}
	// a second grant of the same contact, to bundle after the withdrawal
	var second serve.RequestCreated
	if st, problem := requester.postJSON("/api/v1/requests", body("consent", "C-8", "", c.contact), "", &second); st != 201 {
		t.Fatalf("create: %d %v", st, problem)
	}
	if st, problem := primary.postJSON("/api/v1/requests/"+second.ID+"/approve", "", "", nil); st != 200 {
		t.Fatalf("approve: %d %v", st, problem)
	}
	// the grant's bundle carries the contact; its follower is told at the
	// download
	cards, notices := grantBundleCards(t, e, requester, app.GrantIDOf(created.ID))
	if strings.Count(cards, "BEGIN:VCARD") != 1 || !strings.Contains(cards, "潘潘") || !strings.Contains(cards, "pan@partner.example.com") {
		t.Errorf("the grant's bundle lacks the contact:\n%s", cards)
	}
	if len(notices) != 1 || !slices.Equal(notices[0].UserIDs, []string{c.follower}) || !strings.Contains(noticeText(t, notices[0]), "were downloaded by "+c.member) ||
		!strings.Contains(noticeText(t, notices[0]), c.contact) {
		t.Errorf("the follower's notice at the download: %+v", notices)
	}
	// once withdrawn, the contact cannot be asked for again
	if st := func() int {
		resp, _ := e.browser(c.follower).login().send("POST", "/api/v1/external/"+c.contact+"/withdraw-consent", "", nil)
		return resp.StatusCode
	}(); st != 200 {
		t.Fatalf("withdraw: %d", st)
	}
	// and the grant made before leaves it out; nobody is told
	cards, notices = grantBundleCards(t, e, requester, app.GrantIDOf(second.ID))
	if strings.Contains(cards, "BEGIN:VCARD") || len(notices) != 0 {
		t.Errorf("the bundle after the withdrawal holds %q; notices %+v", cards, notices)
	}
	if st, problem := requester.postJSON("/api/v1/requests", body("consent", "C-1", "", c.contact), "", nil); st != 400 || !strings.Contains(problem["message"], "withdrawn") {
		t.Errorf("a request for a withdrawn contact: %d %v", st, problem)
	}
}

// grantBundleCards accepts the terms of grant id for b, its grantee,
// makes its bundle, downloads it and returns the vCards it holds and the
// work notices sent by the download.
func grantBundleCards(t *testing.T, e *env, b *browser, id string) (string, []sim.Notice) {
	t.Helper()
	if st, p := b.postJSON("/api/v1/grants/"+id+"/accept-terms", `{"accept": true}`, "", nil); st != 200 {
		t.Fatalf("accept-terms: %d %v", st, p)
	}
	var ready serve.BundleReady
	if st, p := b.postJSON("/api/v1/grants/"+id+"/bundle", "", "", &ready); st != 200 {
		t.Fatalf("bundle: %d %v", st, p)
	}
	before := len(e.sim.Notices())
	resp, zipped := b.do("GET", ready.DownloadURL, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("download: %d", resp.StatusCode)
	}
	dir := t.TempDir()
	zip := filepath.Join(dir, "b.zip")
	os.WriteFile(zip, []byte(zipped), 0o600)
	if o, err := exec.Command("7zz", "x", "-p"+ready.Passphrase, "-o"+filepath.Join(dir, "x"), zip).CombinedOutput(); err != nil {
		t.Fatalf("7zz x: %v\n%s", err, o)
	}
	vcfs, _ := filepath.Glob(filepath.Join(dir, "x", "*.vcf"))
	cards := ""
	for _, f := range vcfs {
		b, _ := os.ReadFile(f)
		cards += string(b)
	}
	return cards, e.sim.Notices()[before:]
}
