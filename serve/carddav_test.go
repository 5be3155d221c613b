package serve_test

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/serve"
)

// send sends one request with a body to a path of the server.
func (b *browser) send(method, path, body string, hdr http.Header) (*http.Response, string) {
	b.e.t.Helper()
	return b.doBody(method, b.e.url+path, body, hdr)
}

// newAppPassword creates an app password for the logged-in browser.
func (b *browser) newAppPassword(name string) serve.NewAppPassword {
	b.e.t.Helper()
	resp, body := b.send("POST", "/api/v1/app-passwords", `{"name":"`+name+`"}`, http.Header{"Content-Type": {"application/json"}})
	var p serve.NewAppPassword
	if resp.StatusCode != 201 || json.Unmarshal([]byte(body), &p) != nil || p.Password == "" {
		b.e.t.Fatalf("POST /api/v1/app-passwords: %d %s", resp.StatusCode, body)
	}
	return p
}

// device is a CardDAV client with an app password.
type device struct {
	b          *browser
	user, pass string
}

func (d device) req(method, path, body string, hdr http.Header) (*http.Response, string) {
	d.b.e.t.Helper()
	h := http.Header{}
	for k, v := range hdr {
		h[k] = v
	}
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(d.user, d.pass)
	h.Set("Authorization", req.Header.Get("Authorization"))
	return d.b.send(method, path, body, h)
}

type msResponse struct {
	Href     string `xml:"href"`
	Status   string `xml:"status"`
	Propstat []struct {
		Prop struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"prop"`
		Status string `xml:"status"`
	} `xml:"propstat"`
}

type multistatus struct {
	Responses []msResponse `xml:"response"`
	SyncToken string       `xml:"sync-token"`
}

func parseMS(t *testing.T, resp *http.Response, body string) multistatus {
	t.Helper()
	var ms multistatus
	if resp.StatusCode != 207 {
		t.Fatalf("HTTP %d, want 207: %s", resp.StatusCode, body)
	}
	if err := xml.Unmarshal([]byte(body), &ms); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return ms
}

// ok200 is the 200 propstat's inner XML of r.
func (r msResponse) ok200() string {
	for _, p := range r.Propstat {
		if strings.Contains(p.Status, " 200 ") {
			return string(p.Prop.Inner)
		}
	}
	return ""
}

// propValue extracts the text of <local> (any prefix) from inner XML.
func propValue(inner, local string) string {
	d := xml.NewDecoder(strings.NewReader("<x>" + inner + "</x>"))
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == local {
			var s struct {
				Inner string `xml:",innerxml"`
				Text  string `xml:",chardata"`
			}
			d.DecodeElement(&s, &se)
			if strings.Contains(s.Inner, "<") {
				return s.Inner
			}
			return s.Text
		}
	}
}

func TestAppPasswords(t *testing.T) {
	e, c := newDirEnv(t)
	b := e.browser(c.emp).login()
	p := b.newAppPassword("iPhone")
	if p.Username != c.emp || len(p.Password) < 40 || !strings.HasSuffix(p.CardDAVURL, "/dav/") {
		t.Errorf("created: %+v", p)
	}
	// stored hashed: the password appears nowhere in the database's rows
	stored, err := e.app.DB.UserAppPasswords(t.Context(), c.emp)
	if err != nil || len(stored) != 1 || stored[0].Hash == p.Password || len(stored[0].Hash) != 64 || stored[0].Name != "iPhone" {
		t.Fatalf("stored: %+v %v", stored, err)
	}
	var list serve.AppPasswords
	if st := b.getJSON("/api/v1/app-passwords", &list); st != 200 || len(list.AppPasswords) != 1 || list.AppPasswords[0].LastUsed != nil ||
		list.AppPasswords[0].ID != p.ID || strings.Contains(mustJSON(list), p.Password) {
		t.Fatalf("list: %d %+v", st, list)
	}
	dev := device{b: e.browser(""), user: p.Username, pass: p.Password}
	if resp, body := dev.req("PROPFIND", "/dav/", "", http.Header{"Depth": {"0"}}); resp.StatusCode != 207 {
		t.Fatalf("PROPFIND with the app password: %d %s", resp.StatusCode, body)
	}
	if st := b.getJSON("/api/v1/app-passwords", &list); st != 200 || list.AppPasswords[0].LastUsed == nil {
		t.Errorf("last use not recorded: %+v", list)
	}
	// a wrong password, another person's user name
	for _, d := range []device{{dev.b, p.Username, p.Password + "x"}, {dev.b, c.sub, p.Password}, {dev.b, "", ""}} {
		if resp, _ := d.req("PROPFIND", "/dav/", "", nil); resp.StatusCode != 401 {
			t.Errorf("%s/%q: %d, want 401", d.user, d.pass, resp.StatusCode)
		}
	}
	// bad names
	for _, body := range []string{`{"name":""}`, `{"name":"a\u0007"}`, `nope`, `{"name":"` + strings.Repeat("x", 101) + `"}`} {
		if resp, out := b.send("POST", "/api/v1/app-passwords", body, nil); resp.StatusCode != 400 || !strings.Contains(out, "name") {
			t.Errorf("POST %s: %d %s", body, resp.StatusCode, out)
		}
	}
	// another person cannot revoke it
	other := e.browser(c.sub).login()
	if resp, _ := other.send("DELETE", "/api/v1/app-passwords/"+p.ID, "", nil); resp.StatusCode != 404 {
		t.Errorf("another person's revoke: %d", resp.StatusCode)
	}
	if resp, _ := b.send("DELETE", "/api/v1/app-passwords/"+p.ID, "", nil); resp.StatusCode != 204 {
		t.Errorf("revoke: %d", resp.StatusCode)
	}
	if resp, _ := dev.req("PROPFIND", "/dav/", "", nil); resp.StatusCode != 401 {
		t.Errorf("a revoked password still works: %d", resp.StatusCode)
	}
	recs, _ := audit.List(t.Context(), e.app.DB, audit.Filter{Action: audit.ActionAppPassword})
	var ops []string
	for _, r := range recs {
		ops = append(ops, r.Actor+":"+r.Details["op"]+":"+r.Details["id"])
	}
	if want := []string{c.emp + ":create:" + p.ID, c.emp + ":revoke:" + p.ID}; !slices.Equal(ops, want) {
		t.Errorf("audit: %v, want %v", ops, want)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// A pull that finds a person gone revokes their app passwords.
func TestLeaverAppPasswordsRevoked(t *testing.T) {
	e, c := newDirEnv(t)
	p := e.browser(c.emp).login().newAppPassword("laptop")
	stays := e.browser(c.sub).login().newAppPassword("phone")
	if err := e.sim.RemoveUser(c.emp); err != nil {
		t.Fatal(err)
	}
	pol, _ := e.app.Policy(t.Context(), "", "tester")
	res, err := e.app.Pull(t.Context(), pol, app.PullOptions{Actor: "tester", Client: e.srv.Client, BaseURL: e.simURL, CountRestricted: true})
	if err != nil || res.AppPasswordsRevoked != 1 {
		t.Fatalf("pull: %v, revoked %d", err, res.AppPasswordsRevoked)
	}
	d := e.browser("")
	if resp, _ := (device{d, p.Username, p.Password}).req("PROPFIND", "/dav/", "", nil); resp.StatusCode != 401 {
		t.Errorf("a leaver's app password still works: %d", resp.StatusCode)
	}
	if resp, _ := (device{d, stays.Username, stays.Password}).req("PROPFIND", "/dav/", "", nil); resp.StatusCode != 207 {
		t.Errorf("a member's app password was revoked: %d", resp.StatusCode)
	}
}

const propfindBook = `<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/"><d:prop>
<d:resourcetype/><d:displayname/><d:current-user-privilege-set/><d:supported-report-set/><card:supported-address-data/><cs:getctag/><d:sync-token/><d:getetag/><d:nonesuch/>
</d:prop></d:propfind>`

func TestCardDAVDiscoveryAndReadOnly(t *testing.T) {
	e, c := newDirEnv(t)
	p := e.browser(c.emp).login().newAppPassword("iPhone")
	anon := e.browser("")
	for _, m := range []string{"GET", "PROPFIND"} {
		resp, _ := anon.send(m, "/.well-known/carddav", "", nil)
		if resp.StatusCode != 301 || resp.Header.Get("Location") != "/dav/" {
			t.Errorf("%s /.well-known/carddav: %d %q", m, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, _ := anon.send("PROPFIND", "/dav/", "", nil)
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Basic realm="dingbook"`) {
		t.Errorf("first request: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	dev := device{b: anon, user: p.Username, pass: p.Password}
	prop := func(path, depth, body string) multistatus {
		t.Helper()
		resp, out := dev.req("PROPFIND", path, body, http.Header{"Depth": {depth}})
		return parseMS(t, resp, out)
	}
	ms := prop("/dav/", "0", `<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>`)
	principal := propValue(ms.Responses[0].ok200(), "href")
	if principal != "/dav/principals/"+c.emp+"/" {
		t.Fatalf("current-user-principal %q", principal)
	}
	ms = prop(principal, "0", `<d:propfind xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><card:addressbook-home-set/></d:prop></d:propfind>`)
	home := propValue(ms.Responses[0].ok200(), "href")
	dn := prop(principal, "0", `<d:propfind xmlns:d="DAV:"><d:prop><d:displayname/></d:prop></d:propfind>`)
	if me, _ := e.app.Person(t.Context(), &app.Session{UserID: c.emp, Roles: []string{app.RoleEmployee}}, c.emp); me == nil ||
		propValue(dn.Responses[0].ok200(), "displayname") != me.Name {
		t.Errorf("the principal's displayname is not the person's name")
	}
	if home != "/dav/books/"+c.emp+"/" {
		t.Fatalf("addressbook-home-set %q", home)
	}
	// exactly one address book, named in the person's language
	resp, out := dev.req("PROPFIND", home, propfindBook, http.Header{"Depth": {"1"}, "Accept-Language": {"zh-CN"}})
	ms = parseMS(t, resp, out)
	var books []msResponse
	for _, r := range ms.Responses {
		if strings.Contains(r.ok200(), "addressbook") && strings.Contains(propValue(r.ok200(), "resourcetype"), "addressbook") {
			books = append(books, r)
		}
	}
	if len(books) != 1 {
		t.Fatalf("%d address books: %s", len(books), out)
	}
	bk := books[0]
	inner := bk.ok200()
	if got := propValue(inner, "displayname"); got != "公司通讯录" {
		t.Errorf("displayname %q", got)
	}
	if got := propValue(inner, "current-user-privilege-set"); got != "<d:privilege><d:read/></d:privilege>" {
		t.Errorf("current-user-privilege-set %q", got)
	}
	for _, r := range []string{"sync-collection", "addressbook-multiget", "addressbook-query"} {
		if !strings.Contains(propValue(inner, "supported-report-set"), r) {
			t.Errorf("supported-report-set lacks %s", r)
		}
	}
	if got := propValue(inner, "supported-address-data"); strings.Count(got, "version=") != 1 || !strings.Contains(got, `version="3.0"`) {
		t.Errorf("supported-address-data %q", got)
	}
	if propValue(inner, "getctag") == "" || !strings.HasPrefix(propValue(inner, "sync-token"), serve.SyncTokenPrefix) {
		t.Errorf("getctag/sync-token missing: %s", inner)
	}
	if len(bk.Propstat) != 2 || !strings.Contains(string(bk.Propstat[1].Prop.Inner), "nonesuch") || !strings.Contains(bk.Propstat[1].Status, "404") {
		t.Errorf("an unknown property is not 404: %s", out)
	}
	// read-only: every write refused, reads undisturbed
	cardPath := bk.Href + c.xss + ".vcf"
	resp, before := dev.req("GET", cardPath, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", cardPath, resp.StatusCode)
	}
	for _, m := range []string{"PUT", "DELETE", "MKCOL", "PROPPATCH", "COPY", "MOVE"} {
		resp, out := dev.req(m, cardPath, "BEGIN:VCARD\r\nEND:VCARD\r\n", http.Header{"Destination": {e.url + bk.Href + "x.vcf"}})
		if resp.StatusCode != 403 {
			t.Errorf("%s: %d %s", m, resp.StatusCode, out)
		}
	}
	if resp, after := dev.req("GET", cardPath, "", nil); resp.StatusCode != 200 || after != before {
		t.Errorf("a read after refused writes changed: %d", resp.StatusCode)
	}
	// another person's book is not found
	if resp, _ := dev.req("PROPFIND", "/dav/books/"+c.sub+"/directory/", "", nil); resp.StatusCode != 404 {
		t.Errorf("another person's book: %d", resp.StatusCode)
	}
}

// cardNames lists, sorted, the card names of a multistatus (the book's
// own response left out).
func cardNames(t *testing.T, ms multistatus, book string) []string {
	t.Helper()
	var out []string
	for _, r := range ms.Responses {
		if r.Href != book {
			out = append(out, strings.TrimPrefix(r.Href, book))
		}
	}
	sort.Strings(out)
	return out
}

func TestCardDAVCards(t *testing.T) {
	e, c := newDirEnv(t)
	p := e.browser(c.emp).login().newAppPassword("iPhone")
	dev := device{b: e.browser(""), user: p.Username, pass: p.Password}
	book := "/dav/books/" + c.emp + "/directory/"
	resp, out := dev.req("PROPFIND", book, `<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`, http.Header{"Depth": {"1"}})
	names := cardNames(t, parseMS(t, resp, out), book)
	// exactly the people the portal shows this person
	var want []string
	for _, q := range truth.Org.People {
		if !q.Active {
			continue
		}
		var dp app.DirPerson
		if st := e.browser(c.emp).login().getJSON("/api/v1/people/"+q.UserID, &dp); st == 200 {
			want = append(want, q.UserID+".vcf")
		}
		if len(want) > 40 {
			break
		}
	}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("card %s missing", w)
		}
	}
	// the cast: each card present exactly when the portal shows the person
	viewer := e.browser(c.emp).login()
	for _, u := range []string{c.emp, c.sub, c.hidden, c.xss, c.rIn, c.rOut} {
		var dp app.DirPerson
		shown := viewer.getJSON("/api/v1/people/"+u, &dp) == 200
		if slices.Contains(names, u+".vcf") != shown {
			t.Errorf("%s: card %v, shown in the portal %v", u, !shown, shown)
		}
	}
	if slices.Contains(names, c.rOut+".vcf") {
		t.Errorf("a restricted person out of sight has a card")
	}
	// the hidden mobile is not on the card; the card is the vcf export's
	resp, body := dev.req("GET", book+c.hidden+".vcf", "", nil)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || strings.Contains(body, strings.TrimLeft(c.hiddenMobile, "+")) || !strings.Contains(body, "VERSION:3.0\r\n") ||
		!strings.Contains(body, "X-PHONETIC-LAST-NAME:Zhang") || !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, `W/`) {
		t.Errorf("hidden's card: %d %s %s", resp.StatusCode, etag, body)
	}
	resp2, body2 := dev.req("GET", book+c.hidden+".vcf", "", nil)
	if resp2.Header.Get("ETag") != etag || body2 != body {
		t.Error("the same ETag with another body")
	}
	if resp, _ := dev.req("GET", book+c.hidden+".vcf", "", http.Header{"If-None-Match": {etag}}); resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}
	if resp, _ := dev.req("GET", book+c.rOut+".vcf", "", nil); resp.StatusCode != 404 {
		t.Errorf("GET of someone out of sight: %d", resp.StatusCode)
	}
	// multiget: one card seen, one out of sight
	mg := `<card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><card:address-data/></d:prop>` +
		`<d:href>` + book + c.hidden + `.vcf</d:href><d:href>` + book + c.rOut + `.vcf</d:href></card:addressbook-multiget>`
	resp, out = dev.req("REPORT", book, mg, http.Header{"Depth": {"1"}})
	ms := parseMS(t, resp, out)
	if len(ms.Responses) != 2 || propValue(ms.Responses[0].ok200(), "getetag") != etag ||
		strings.ReplaceAll(propValue(ms.Responses[0].ok200(), "address-data"), "\r\n", "\n") != strings.ReplaceAll(body, "\r\n", "\n") ||
		!strings.Contains(ms.Responses[1].Status, "404") {
		t.Errorf("multiget: %s", out)
	}
}

func syncReport(token string, limit int) string {
	l := ""
	if limit > 0 {
		l = "<d:limit><d:nresults>" + string(rune('0'+limit)) + "</d:nresults></d:limit>"
	}
	return `<d:sync-collection xmlns:d="DAV:"><d:sync-token>` + token + `</d:sync-token><d:sync-level>1</d:sync-level>` + l +
		`<d:prop><d:getetag/></d:prop></d:sync-collection>`
}

func TestCardDAVSyncCollection(t *testing.T) {
	e, c := newDirEnv(t)
	p := e.browser(c.emp).login().newAppPassword("iPhone")
	dev := device{b: e.browser(""), user: p.Username, pass: p.Password}
	book := "/dav/books/" + c.emp + "/directory/"
	resp, out := dev.req("REPORT", book, syncReport("", 0), http.Header{"Depth": {"infinity"}})
	first := parseMS(t, resp, out)
	all := cardNames(t, first, book)
	if len(all) < 5 || !slices.Contains(all, c.xss+".vcf") || slices.Contains(all, c.rOut+".vcf") || first.SyncToken == "" {
		t.Fatalf("initial sync: %d cards, token %q", len(all), first.SyncToken)
	}
	// the organisation changes: a joiner, a changed title, a leaver, and
	// someone moved into the restricted department out of sight
	var moved string
	for _, q := range truth.Org.People {
		if n := q.UserID + ".vcf"; slices.Contains(all, n) && q.Active && !q.Restricted && !slices.Contains([]string{c.emp, c.sub, c.primary, c.hidden, c.xss, c.rIn}, q.UserID) {
			moved = q.UserID
		}
	}
	rOutPerson, err := e.app.Person(t.Context(), &app.Session{UserID: c.primary, Roles: []string{app.RoleEmployee, app.RoleAdmin}}, c.rOut)
	if err != nil {
		t.Fatal(err)
	}
	outDept := []dingbook.Membership{{DeptID: rOutPerson.Departments[0].ID}}
	joiner := dingbook.Person{UserID: "joiner-1", Name: "新同事", Active: true, StateCode: "86", Mobile: "13800000001", Depts: []dingbook.Membership{{DeptID: dingbook.RootDeptID}}}
	if err := e.sim.AddUser(joiner); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.UpdateUser(c.xss, func(q *dingbook.Person) { q.Title = "Chief Tester" }); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.RemoveUser(c.hidden); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.UpdateUser(moved, func(q *dingbook.Person) { q.Restricted, q.Depts = true, outDept }); err != nil {
		t.Fatal(err)
	}
	pullSim(t, e)
	resp, out = dev.req("REPORT", book, syncReport(first.SyncToken, 0), http.Header{"Depth": {"1"}})
	next := parseMS(t, resp, out)
	got := map[string]string{}
	for _, r := range next.Responses {
		st := "200"
		if strings.Contains(r.Status, "404") {
			st = "404"
		}
		got[strings.TrimPrefix(r.Href, book)] = st
	}
	want := map[string]string{"joiner-1.vcf": "200", c.xss + ".vcf": "200", c.hidden + ".vcf": "404", moved + ".vcf": "404"}
	if mustJSON(got) != mustJSON(want) || next.SyncToken == first.SyncToken {
		t.Errorf("changes since the first token: %v, want %v (token %q → %q)", got, want, first.SyncToken, next.SyncToken)
	}
	// nothing since the latest token
	resp, out = dev.req("REPORT", book, syncReport(next.SyncToken, 0), nil)
	if ms := parseMS(t, resp, out); len(ms.Responses) != 0 || ms.SyncToken != next.SyncToken {
		t.Errorf("sync from the latest token: %s", out)
	}
	// a limit below the changes: 507
	resp, out = dev.req("REPORT", book, syncReport(first.SyncToken, 2), nil)
	if resp.StatusCode != 507 || !strings.Contains(out, "number-of-matches-within-limits") {
		t.Errorf("limit: %d %s", resp.StatusCode, out)
	}
	// unknown tokens: 403 valid-sync-token, 400 for Thunderbird
	for _, tok := range []string{serve.SyncTokenPrefix + "999", "bogus", serve.SyncTokenPrefix + "0"} {
		resp, out := dev.req("REPORT", book, syncReport(tok, 0), nil)
		if resp.StatusCode != 403 || !strings.Contains(out, "valid-sync-token") {
			t.Errorf("token %q: %d %s", tok, resp.StatusCode, out)
		}
	}
	resp, _ = dev.req("REPORT", book, syncReport("bogus", 0), http.Header{"User-Agent": {"Mozilla/5.0 Thunderbird/128.0"}})
	if resp.StatusCode != 400 {
		t.Errorf("Thunderbird's unknown token: %d", resp.StatusCode)
	}
}
