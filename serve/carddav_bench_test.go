package serve_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
)

// BenchmarkCardDAVSync is issue 12's speed target, in server time: a
// CardDAV client's REPORT sync-collection from a token 10 changes old
// (10 people's mobiles changed by event revisions), through the server's
// handler in this process (no network, no client), with a book of 1,000
// and of 100,000 cards. ms/REPORT is the handler's time per report;
// scripts/bench-carddav.sh runs it.
func BenchmarkCardDAVSync(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			tr := gen.Generate(gen.Options{Users: n, Depts: max(5, n/50), Seed: 7})
			e := newEnvOf(b, tr)
			s := &dingbook.Snapshot{Source: "bench", TakenAt: time.Now(), Org: tr.Org, Receipt: &dingbook.Receipt{Complete: true}}
			if err := e.app.DB.SaveSnapshot(ctx, s); err != nil {
				b.Fatal(err)
			}
			people := tr.Org.People
			viewer := people[len(people)/2]
			pw, err := e.app.CreateAppPassword(ctx, &app.Session{UserID: viewer.UserID, Name: viewer.Name, Roles: app.RolesOf(0)}, "bench")
			if err != nil {
				b.Fatal(err)
			}
			h := e.srv.Handler()
			book := "/dav/books/" + viewer.UserID + "/directory/"
			// serve is the handler's work for one report, and nothing else
			serve := func(token string) *httptest.ResponseRecorder {
				req := httptest.NewRequest("REPORT", book, strings.NewReader(syncReport(token, 0)))
				req.SetBasicAuth(pw.Username, pw.Password)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusMultiStatus {
					b.Fatalf("REPORT: %d %s", rec.Code, rec.Body.String())
				}
				return rec
			}
			var first multistatus
			if err := xml.Unmarshal(serve("").Body.Bytes(), &first); err != nil || first.SyncToken == "" {
				b.Fatalf("the initial sync: %v", err)
			}
			token := first.SyncToken
			// 10 event revisions, one changed mobile each
			for i := range 10 {
				p := people[(i+1)*7919%len(people)]
				before := p
				p.Mobile = fmt.Sprintf("139%08d", i)
				r := &store.Revision{At: time.Now(), Cause: store.CauseEvent, EventID: fmt.Sprint("bench-", i), Base: s.ID,
					People: []store.PersonChange{{UserID: p.UserID, Op: store.OpUpsert, After: &p, Before: &before}}}
				if err := e.app.DB.Write(ctx, func(tx *store.Tx) error { return tx.AddRevision(r) }); err != nil {
					b.Fatal(err)
				}
			}
			rec := serve(token) // the index follows the revisions
			if got := strings.Count(rec.Body.String(), "<d:response>"); got == 0 || got > 10 {
				b.Fatalf("%d changes reported, want 1 to 10", got)
			}
			b.ResetTimer()
			for b.Loop() {
				serve(token)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/REPORT")
		})
	}
}
