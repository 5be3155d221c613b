package serve_test

import (
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/scripts/serveload"
	"github.com/dingbook/dingbook/source/gen"
)

var loadFor = flag.Duration("serveload.duration", 20*time.Second, "how long BenchmarkServeLoad loads the server")

// BenchmarkServeLoad runs issue 10's load (serveload.Run: 100,000
// people, 50 sessions mixing searches and person pages through the JSON
// API) against a real server in this process, to profile the handler:
//
//	go test ./serve/ -run '^$' -bench ServeLoad -benchtime 1x -cpuprofile cpu.out
//	go tool pprof -top -focus 'serverHandler' serve.test cpu.out
//
// Its figures include the client's and the simulator's work (and memory:
// peak-RSS-MB is the whole process's); scripts/bench-serve.sh measures
// the server alone, in its own process.
func BenchmarkServeLoad(b *testing.B) {
	const sessions = 50
	e, w, clients := loadEnv(b, sessions)
	cpu0, err := serveload.ProcCPU(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	var mem0, mem1 runtime.MemStats
	runtime.ReadMemStats(&mem0)
	b.ResetTimer()
	var r serveload.Result
	for range b.N {
		r = serveload.Run(clients, e.url, w, *loadFor)
	}
	b.StopTimer()
	runtime.ReadMemStats(&mem1)
	cpu1, err := serveload.ProcCPU(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	if r.First != nil {
		b.Logf("first error: %v", r.First)
	}
	r.Report(b.ReportMetric)
	// per request, the server's and the client's together: the figures a
	// shared machine does not blur
	r.PerRequest(b.ReportMetric, cpu1-cpu0, "CPU-µs/req")
	if n := len(r.Search) + len(r.Person); n > 0 {
		b.ReportMetric(float64(mem1.Mallocs-mem0.Mallocs)/float64(n), "allocs/req")
		b.ReportMetric(float64(mem1.TotalAlloc-mem0.TotalAlloc)/float64(n), "B/req")
	}
	if mb, err := serveload.PeakRSS(os.Getpid()); err == nil {
		b.ReportMetric(mb, "peak-RSS-MB")
	}
}

// loadEnv is the load's server: 100,000 people in a complete snapshot,
// the quota out of the way, and sessions people logged in through the
// simulator's login page (their clients, keeping their connections).
func loadEnv(b *testing.B, sessions int) (*env, serveload.Workload, []*http.Client) {
	tr := gen.Generate(gen.Options{Users: 100_000, Depts: 2000, Seed: 7})
	e := newEnvOf(b, tr)
	// the load is the point here, not the quota
	e.srv.Quota().Limit = 1 << 30
	s := &dingbook.Snapshot{Source: "bench", TakenAt: time.Now(), Org: tr.Org, Receipt: &dingbook.Receipt{Complete: true}}
	if err := e.app.DB.SaveSnapshot(b.Context(), s); err != nil {
		b.Fatal(err)
	}
	w := serveload.WorkloadOf(&tr.Org, sessions)
	// log each session in through the simulator's login page; the
	// sessions keep their connections (http.DefaultTransport keeps 2 idle
	// per host: the others would dial again for every request)
	transport := &http.Transport{MaxIdleConnsPerHost: sessions}
	b.Cleanup(transport.CloseIdleConnections)
	var clients []*http.Client
	for _, u := range w.Users {
		clients = append(clients, &http.Client{Jar: e.browser(u).login().jar, Transport: transport})
	}
	if len(clients) < sessions {
		b.Fatalf("only %d sessions", len(clients))
	}
	// warm the index
	if _, err := serveload.Fetch(clients[0], e.url+"/api/v1/people?q=zs"); err != nil {
		b.Fatal(err)
	}
	return e, w, clients
}

// BenchmarkServeRequests is the handler alone, without the network and
// the load generator: the load's searches and person lookups
// (serveload.Workload.Path) served one at a time by Server.Handler into a
// recorder, for the CPU time and allocations of each kind of request
// (the request and the recorder themselves included):
//
//	go test ./serve/ -run '^$' -bench ServeRequests -benchmem -count 5
func BenchmarkServeRequests(b *testing.B) {
	e, w, clients := loadEnv(b, 50)
	u, err := url.Parse(e.url)
	if err != nil {
		b.Fatal(err)
	}
	var cookies []string
	for _, c := range clients {
		var kv []string
		for _, ck := range c.Jar.Cookies(u) {
			kv = append(kv, ck.Name+"="+ck.Value)
		}
		cookies = append(cookies, strings.Join(kv, "; "))
	}
	h := e.srv.Handler()
	for parity, kind := range []string{"search", "person"} {
		b.Run(kind, func(b *testing.B) {
			n := 0
			cpu0 := processCPU(b)
			for b.Loop() {
				path := w.Path(2*n + parity)
				r := httptest.NewRequest(http.MethodGet, path, nil)
				r.Header.Set("Cookie", cookies[n%len(cookies)])
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if rec.Code != http.StatusOK && rec.Code != http.StatusNotFound {
					b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
				}
				n++
			}
			// the process's CPU time, the collector's included: on a
			// shared machine steadier than the wall clock's ns/op
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(n), "CPU-ns/op")
		})
	}
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
