package serve_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
)

// The answers that carry the whole book (PROPFIND Depth 1, an initial
// sync) render each card as they write it: the same cards and ETags as
// GET; getctag only when asked, the same from the book (Depth 0), the
// home (Depth 1) and allprop, and changed by a change in DingTalk.
func TestCardDAVWholeBookAnswers(t *testing.T) {
	e, c := newDirEnv(t)
	p := e.browser(c.emp).login().newAppPassword("phone")
	dev := device{b: e.browser(""), user: p.Username, pass: p.Password}
	home := "/dav/books/" + c.emp + "/"
	book := home + "directory/"
	ctagOf := func(path, depth, body string) string {
		t.Helper()
		resp, out := dev.req("PROPFIND", path, body, http.Header{"Depth": {depth}})
		for _, r := range parseMS(t, resp, out).Responses {
			if r.Href == book {
				return propValue(r.ok200(), "getctag")
			}
		}
		t.Fatalf("PROPFIND %s: no book: %s", path, out)
		return ""
	}
	askCTag := `<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><cs:getctag/></d:prop></d:propfind>`
	ctag := ctagOf(book, "0", askCTag)
	if ctag == "" || ctagOf(home, "1", askCTag) != ctag || ctagOf(book, "0", "") != ctag {
		t.Fatalf("getctag differs between the book %q, the home and allprop", ctag)
	}
	// a listing of ETags: no getctag, every card, each ETag GET's
	resp, out := dev.req("PROPFIND", book, `<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`, http.Header{"Depth": {"1"}})
	listed := parseMS(t, resp, out)
	if strings.Contains(out, "getctag") {
		t.Errorf("getctag computed though not asked")
	}
	mark := e.reqs.mark()
	resp, out = dev.req("REPORT", book, syncReport("", 0), nil)
	synced := parseMS(t, resp, out)
	if len(synced.Responses) != len(listed.Responses)-1 || len(synced.Responses) < 5 {
		t.Fatalf("the initial sync has %d cards, the listing %d", len(synced.Responses), len(listed.Responses)-1)
	}
	if log := e.reqs.since(mark); len(log) != 1 || log[0].Cards != 0 || log[0].Status != 207 {
		t.Errorf("request log of a sync asking getetag only: %+v", log)
	}
	for i, r := range listed.Responses {
		if r.Href == book || i%7 != 1 {
			continue
		}
		resp, _ := dev.req("GET", r.Href, "", nil)
		if etag := propValue(r.ok200(), "getetag"); resp.StatusCode != 200 || resp.Header.Get("ETag") != etag || etag == "" {
			t.Errorf("%s: listed ETag %s, GET %d %s", r.Href, etag, resp.StatusCode, resp.Header.Get("ETag"))
		}
	}
	// the request log counts the cards a multiget carries
	mark = e.reqs.mark()
	mg := `<card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><card:address-data/></d:prop>` +
		`<d:href>` + synced.Responses[0].Href + `</d:href><d:href>` + synced.Responses[1].Href + `</d:href><d:href>` + book + `nobody.vcf</d:href></card:addressbook-multiget>`
	resp, out = dev.req("REPORT", book, mg, nil)
	if ms := parseMS(t, resp, out); len(ms.Responses) != 3 {
		t.Fatalf("multiget: %s", out)
	}
	if log := e.reqs.since(mark); len(log) != 1 || log[0].Cards != 2 || log[0].Method != "REPORT" || log[0].Path != book {
		t.Errorf("request log of a multiget of 2 cards: %+v", log)
	}
	// a change in DingTalk changes the ctag
	if err := e.sim.UpdateUser(c.xss, func(q *dingbook.Person) { q.Title = "Chief Tester" }); err != nil {
		t.Fatal(err)
	}
	pullSim(t, e)
	if got := ctagOf(book, "0", askCTag); got == ctag || got == "" {
		t.Errorf("getctag %q after a change (was %q)", got, ctag)
	}
}
