// Package serveload is the load of issue 10's target on `dingbook serve`:
// what 50 sessions ask for (Workload), the run (Run) and its figures
// (Result), and a process's peak RSS. Its benchmark (BenchmarkServeHTTP,
// run by scripts/bench-serve.sh) loads a server running as its own
// process; serve's BenchmarkServeLoad runs the same load in process, to
// profile the handler.
package serveload

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dingbook/dingbook"
)

// Workload is who logs in, what they search for and whom they look up.
type Workload struct {
	Users, Queries, IDs []string
}

// WorkloadOf picks from org up to sessions active people spread over
// it, the first two characters of every 331st person's name and their
// title as queries (plus "zs", "wang", "li"), and every person's userid
// to look up.
func WorkloadOf(org *dingbook.Org, sessions int) Workload {
	var w Workload
	for i, p := range org.People {
		if p.Active && len(w.Users) < sessions && i%997 == 0 {
			w.Users = append(w.Users, p.UserID)
		}
		if i%331 == 0 {
			name := []rune(p.Name)
			w.Queries = append(w.Queries, string(name[:min(2, len(name))]), p.Title)
		}
		w.IDs = append(w.IDs, p.UserID)
	}
	w.Queries = append(w.Queries, "zs", "wang", "li")
	return w
}

// Path is the n-th request of the load: a search through the JSON API
// for even n, a person lookup for odd n.
func (w Workload) Path(n int) string {
	if n%2 == 0 {
		return "/api/v1/people?q=" + url.QueryEscape(w.Queries[(n/2)%len(w.Queries)])
	}
	return "/api/v1/people/" + url.PathEscape(w.IDs[(n*104729)%len(w.IDs)])
}

// Result is a run's figures.
type Result struct {
	Search, Person []time.Duration
	// Errors are transport errors and statuses other than 200 and 404 (a
	// person the viewer may not see is a correct 404); First is the first.
	Errors, NotFound int
	First            error
	Elapsed          time.Duration
}

// Run loads the server at base with one goroutine per client (each a
// logged-in session), alternating a search and a person lookup through
// the JSON API as fast as the server answers, for d.
func Run(clients []*http.Client, base string, w Workload, d time.Duration) Result {
	var mu sync.Mutex
	var r Result
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for c, hc := range clients {
		wg.Go(func() {
			var mine Result
			for n := c; time.Now().Before(end); n++ {
				path := w.Path(n)
				t := time.Now()
				status, err := Fetch(hc, base+path)
				took := time.Since(t)
				switch {
				case status == http.StatusNotFound:
					mine.NotFound++
				case err != nil:
					mine.Errors++
					if mine.First == nil {
						mine.First = fmt.Errorf("GET %s: %w", path, err)
					}
					continue
				}
				if n%2 == 0 {
					mine.Search = append(mine.Search, took)
				} else {
					mine.Person = append(mine.Person, took)
				}
			}
			mu.Lock()
			r.Search, r.Person = append(r.Search, mine.Search...), append(r.Person, mine.Person...)
			r.Errors, r.NotFound = r.Errors+mine.Errors, r.NotFound+mine.NotFound
			if r.First == nil {
				r.First = mine.First
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	r.Elapsed = time.Since(start)
	return r
}

// Report gives the figures to report (testing.B.ReportMetric): each
// kind's p50/p95/p99 in ms, the errors, the 404s and the requests per
// second.
func (r *Result) Report(report func(n float64, unit string)) {
	for name, d := range map[string][]time.Duration{"search": r.Search, "person": r.Person} {
		if len(d) == 0 {
			continue
		}
		slices.Sort(d)
		for _, pc := range []int{50, 95, 99} {
			report(float64(d[len(d)*pc/100].Microseconds())/1000, fmt.Sprintf("%s-p%d-ms", name, pc))
		}
	}
	report(float64(r.Errors), "errors")
	report(float64(r.NotFound), "not-visible-404s")
	report(float64(len(r.Search)+len(r.Person))/r.Elapsed.Seconds(), "req/s")
}

// Fetch GETs u and reads the answer; a status other than 200 is an error.
func Fetch(hc *http.Client, u string) (int, error) {
	resp, err := hc.Get(u)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s", resp.Status)
	}
	return resp.StatusCode, err
}

// ProcCPU is the CPU time (user and system) process pid has used so far,
// from /proc/PID/stat (in clock ticks of 10 ms, Linux's USER_HZ).
func ProcCPU(pid int) (time.Duration, error) {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// the fields after the command's name, which is in parentheses and
	// may hold spaces: utime and stime are the 12th and 13th
	f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: no utime and stime", pid)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// PerRequest reports cpu (the CPU time a process used during the run)
// per request of r, in µs, as unit.
func (r *Result) PerRequest(report func(n float64, unit string), cpu time.Duration, unit string) {
	if n := len(r.Search) + len(r.Person); n > 0 {
		report(float64(cpu.Microseconds())/float64(n), unit)
	}
}

// PeakRSS is the process's peak resident set (VmHWM) in MB.
func PeakRSS(pid int) (float64, error) {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(st), "\n") {
		var kb float64
		if _, err := fmt.Sscanf(l, "VmHWM: %f kB", &kb); err == nil {
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
