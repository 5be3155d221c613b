package serve_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/gen"
)

// BenchmarkServeLoad is issue 10's load target measured over HTTP: an
// organisation of 100,000 people, 50 logged-in sessions (SetParallelism
// over the cores) mixing searches and person pages (JSON) against a real
// server. Each b.N is one request; run it for the 30 s with
//
//	go test ./serve/ -run '^$' -bench ServeLoad -benchtime 30s
//
// It reports each kind's p50/p99, the errors and the process's peak RSS
// (VmHWM: the benchmark's process holds the simulator's organisation and
// the generator's too, so the server alone uses less).
func BenchmarkServeLoad(b *testing.B) {
	const sessions = 50
	tr := gen.Generate(gen.Options{Users: 100_000, Depts: 2000, Seed: 7})
	e := newEnvOf(b, tr)
	// the load is the point here, not the quota
	e.srv.Quota().Limit = 1 << 30
	s := &dingbook.Snapshot{Source: "bench", TakenAt: time.Now(), Org: tr.Org, Receipt: &dingbook.Receipt{Complete: true}}
	if err := e.app.DB.SaveSnapshot(b.Context(), s); err != nil {
		b.Fatal(err)
	}
	var users, queries []string
	for i, p := range tr.Org.People {
		if p.Active && len(users) < sessions && i%997 == 0 {
			users = append(users, p.UserID)
		}
		if i%331 == 0 {
			name := []rune(p.Name)
			queries = append(queries, string(name[:min(2, len(name))]), p.Title)
		}
	}
	queries = append(queries, "zs", "wang", "li")
	ids := make([]string, 0, len(tr.Org.People))
	for _, p := range tr.Org.People {
		ids = append(ids, p.UserID)
	}
	// log each session in through the simulator's login page
	clients := make(chan *http.Client, sessions)
	for _, u := range users {
		br := e.browser(u).login()
		clients <- &http.Client{Jar: br.jar}
	}
	if len(clients) < sessions {
		b.Fatalf("only %d sessions", len(clients))
	}
	// warm the index
	get(b, <-clients, e.url+"/api/v1/people?q=zs", clients)

	var mu sync.Mutex
	var search, person []time.Duration
	errs := 0
	b.SetParallelism((sessions + 1) / 2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		hc := <-clients
		var ls, lp []time.Duration
		n, bad := 0, 0
		for pb.Next() {
			n++
			path := "/api/v1/people/" + url.PathEscape(ids[(n*104729+len(ls))%len(ids)])
			if n%2 == 0 {
				path = "/api/v1/people?q=" + url.QueryEscape(queries[(n/2+len(lp))%len(queries)])
			}
			t := time.Now()
			resp, err := hc.Get(e.url + path)
			if err != nil {
				bad++
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			d := time.Since(t)
			// a person the viewer may not see is a correct 404
			if resp.StatusCode != 200 && resp.StatusCode != 404 {
				bad++
			}
			if n%2 == 0 {
				ls = append(ls, d)
			} else {
				lp = append(lp, d)
			}
		}
		mu.Lock()
		search, person, errs = append(search, ls...), append(person, lp...), errs+bad
		mu.Unlock()
	})
	b.StopTimer()
	for name, d := range map[string][]time.Duration{"search": search, "person": person} {
		if len(d) == 0 {
			continue
		}
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, name+"-p99-ms")
	}
	b.ReportMetric(float64(errs), "errors")
	if st, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			var kb float64
			if _, err := fmt.Sscanf(l, "VmHWM: %f kB", &kb); err == nil {
				b.ReportMetric(kb/1024, "peak-RSS-MB")
			}
		}
	}
}

// get requests u once with hc and puts hc back.
func get(b *testing.B, hc *http.Client, u string, back chan *http.Client) {
	resp, err := hc.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("%s: %d", u, resp.StatusCode)
	}
	back <- hc
}
