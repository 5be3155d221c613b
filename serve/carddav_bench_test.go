package serve_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"syscall"
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
// and of 100,000 cards. ms/REPORT is the handler's time per report,
// cpu-ms/REPORT the process's CPU time per report (the collector's
// included); scripts/bench-carddav.sh runs it.
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
			// 10 event revisions, one changed mobile each, of people the
			// viewer sees (active, not restricted): 10 cards to send
			var changed []dingbook.Person
			for i := 1; len(changed) < 10; i++ {
				if p := people[i*7919%len(people)]; p.Active && !p.Restricted && p.UserID != viewer.UserID {
					changed = append(changed, p)
				}
			}
			for i, p := range changed {
				before := p
				p.Mobile = fmt.Sprintf("139%08d", i)
				r := &store.Revision{At: time.Now(), Cause: store.CauseEvent, EventID: fmt.Sprint("bench-", i), Base: s.ID,
					People: []store.PersonChange{{UserID: p.UserID, Op: store.OpUpsert, After: &p, Before: &before}}}
				if err := e.app.DB.Write(ctx, func(tx *store.Tx) error { return tx.AddRevision(r) }); err != nil {
					b.Fatal(err)
				}
			}
			rec := serve(token) // the index follows the revisions
			if got := strings.Count(rec.Body.String(), "<d:response>"); got != 10 {
				b.Fatalf("%d changes reported, want 10", got)
			}
			runtime.GC() // the setup's garbage is not the reports' cost
			cpu0 := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				serve(token)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/REPORT")
			// the process's CPU time (the collector's included), steadier
			// than wall time on a shared machine
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/REPORT")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
