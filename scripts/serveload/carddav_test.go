package serveload

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook/source/gen"
)

// BenchmarkCardDAVInitialSync is issue 12's initial sync on a `dingbook
// serve` running as its own process: one person logs in through the
// simulator's login page, creates an app password
// (POST /api/v1/app-passwords) and, as a CardDAV client, asks for the
// whole book (REPORT sync-collection with an empty token, getetag and
// address-data), reading the answer as it streams. It reports the cards,
// the seconds to the last byte, and the server's peak RSS (VmHWM) after
// the directory's index was built (by a search) and after the sync; then
// a sync from the token it got (nothing changed).
//
//	scripts/bench-carddav.sh
func BenchmarkCardDAVInitialSync(b *testing.B) {
	if *serverURL == "" || *truthFile == "" {
		b.Fatal("-serveload.url and -serveload.truth are needed: run scripts/bench-carddav.sh")
	}
	base := strings.TrimRight(*serverURL, "/")
	tr, err := gen.Load(*truthFile)
	if err != nil {
		b.Fatal(err)
	}
	w := WorkloadOf(&tr.Org, 1)
	tr = nil
	hc, err := login(http.DefaultTransport, base, w.Users[0])
	if err != nil {
		b.Fatal(err)
	}
	resp, err := hc.Post(base+"/api/v1/app-passwords", "application/json", strings.NewReader(`{"name":"bench"}`))
	if err != nil {
		b.Fatal(err)
	}
	var pw struct{ Username, Password string }
	err = json.NewDecoder(resp.Body).Decode(&pw)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		b.Fatalf("POST /api/v1/app-passwords: %s %v", resp.Status, err)
	}
	book := base + "/dav/books/" + pw.Username + "/directory/"
	report := func(token string) (cards int, next string, d time.Duration) {
		body := `<d:sync-collection xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:sync-token>` + token +
			`</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/><card:address-data/></d:prop></d:sync-collection>`
		req, _ := http.NewRequest("REPORT", book, strings.NewReader(body))
		req.SetBasicAuth(pw.Username, pw.Password)
		req.Header.Set("Content-Type", "application/xml; charset=utf-8")
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusMultiStatus {
			msg, _ := io.ReadAll(resp.Body)
			b.Fatalf("REPORT sync-collection: %s %s", resp.Status, msg)
		}
		eachElement(b, resp.Body, func(dec *xml.Decoder, se xml.StartElement) {
			switch se.Name.Local {
			case "address-data":
				cards++
			case "sync-token":
				if err := dec.DecodeElement(&next, &se); err != nil {
					b.Fatal(err)
				}
			}
		})
		return cards, next, time.Since(start)
	}
	// the first directory request builds the server's index: the peak
	// before the sync is the index's
	if _, err := Fetch(hc, base+"/api/v1/people?q=zs"); err != nil {
		b.Fatal(err)
	}
	before := 0.0
	if *serverPID != 0 {
		if before, err = PeakRSS(*serverPID); err != nil {
			b.Fatal(err)
		}
	}
	var cards int
	var token string
	var took time.Duration
	b.ResetTimer()
	for range b.N {
		cards, token, took = report("")
	}
	b.StopTimer()
	if cards < 1000 || token == "" {
		b.Fatalf("the initial sync gave %d cards, token %q", cards, token)
	}
	b.ReportMetric(float64(cards), "cards")
	b.ReportMetric(took.Seconds(), "initial-sync-s")
	if *serverPID != 0 {
		mb, err := PeakRSS(*serverPID)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(mb, "server-peak-RSS-MB")
		b.ReportMetric(before, "server-peak-RSS-index-MB")
	}
	n, _, d := report(token)
	if n != 0 {
		b.Fatalf("a sync from the latest token gave %d cards", n)
	}
	b.ReportMetric(float64(d.Microseconds())/1000, "unchanged-sync-ms")
	// the listing of a client without sync-collection (vdirsyncer, iOS
	// and Thunderbird before their first token): PROPFIND Depth 1 with
	// the ETags
	req, _ := http.NewRequest("PROPFIND", book, strings.NewReader(`<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`))
	req.SetBasicAuth(pw.Username, pw.Password)
	req.Header.Set("Depth", "1")
	start := time.Now()
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	listed := 0
	eachElement(b, resp.Body, func(_ *xml.Decoder, se xml.StartElement) {
		if se.Name.Local == "response" {
			listed++
		}
	})
	resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus || listed != cards+1 {
		b.Fatalf("PROPFIND Depth 1: %s, %d responses for %d cards and the book", resp.Status, listed, cards)
	}
	b.ReportMetric(time.Since(start).Seconds(), "propfind-depth1-s")
	if *serverPID != 0 {
		mb, err := PeakRSS(*serverPID)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(mb, "server-peak-RSS-after-propfind-MB")
	}
}

// eachElement reads an XML answer as a client does, token by token (never
// the whole answer held), calling f at each element's start.
func eachElement(b *testing.B, r io.Reader, f func(dec *xml.Decoder, se xml.StartElement)) {
	dec := xml.NewDecoder(r)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			f(dec, se)
		}
	}
}
