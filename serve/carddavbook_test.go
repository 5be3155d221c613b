package serve_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
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

// brokenConn is a ResponseWriter whose client has gone: every write
// fails.
type brokenConn struct{ h http.Header }

func (b *brokenConn) Header() http.Header       { return b.h }
func (b *brokenConn) WriteHeader(int)           {}
func (b *brokenConn) Write([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

// TestCardDAVStreamStopsWhenClientGone: a whole-book answer streamed to
// a client that has gone stops rendering cards at the first failed
// write, not after the whole book.
func TestCardDAVStreamStopsWhenClientGone(t *testing.T) {
	e, c := newDirEnv(t)
	p := e.browser(c.emp).login().newAppPassword("phone")
	book := "/dav/books/" + c.emp + "/directory/"
	h := e.srv.Handler()
	for _, q := range []struct{ method, body string }{
		{"PROPFIND", `<d:propfind xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><card:address-data/></d:prop></d:propfind>`},
		{"REPORT", `<d:sync-collection xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><card:address-data/></d:prop></d:sync-collection>`},
		{"REPORT", `<card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><card:address-data/></d:prop></card:addressbook-query>`},
	} {
		carried := func(w http.ResponseWriter) int {
			t.Helper()
			r := httptest.NewRequest(q.method, book, strings.NewReader(q.body))
			r.Header.Set("Depth", "1")
			r.Header.Set("Content-Type", "application/xml")
			r.SetBasicAuth(p.Username, p.Password)
			mark := e.reqs.mark()
			h.ServeHTTP(w, r)
			log := e.reqs.since(mark)
			if len(log) != 1 || log[0].Status != http.StatusMultiStatus {
				t.Fatalf("%s %s: log %+v", q.method, book, log)
			}
			return log[0].Cards
		}
		whole := carried(httptest.NewRecorder())
		gone := carried(&brokenConn{h: http.Header{}})
		if whole < 300 || gone*2 > whole {
			t.Errorf("%s: %d cards rendered for a client that has gone, %d for one that reads", q.method, gone, whole)
		}
	}
}
