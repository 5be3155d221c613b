// Package serveload is the load generator of scripts/bench-serve.sh: a
// benchmark that speaks only HTTP to a `dingbook serve` running as its own
// process (against a `dingbook sim` of its own), so that the latencies and
// the peak RSS are the server's alone. It has test files only.
package serveload

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingbook/dingbook/source/gen"
)

var (
	serverURL = flag.String("serveload.url", "", "the base URL of the `dingbook serve` under load")
	truthFile = flag.String("serveload.truth", "", "the organisation the simulator serves (its --truth-out file): who logs in, what is searched")
	serverPID = flag.Int("serveload.pid", 0, "the server's process id, for its peak RSS (VmHWM)")
	duration  = flag.Duration("serveload.duration", 30*time.Second, "how long the load runs")
	sessions  = flag.Int("serveload.sessions", 50, "concurrent sessions, each a person logged in through the simulator's login page")
)

// BenchmarkServeHTTP is issue 10's load target: *sessions people, each
// logged in through the simulator's DingTalk login page (?sim_user=), each
// on its own goroutine, alternating a search and a person lookup through
// the JSON API as fast as the server answers, for *duration (one b.N is
// one such run: use -benchtime 1x). It reports each kind's p50/p95/p99,
// the errors (a transport error or a status other than 200 and 404: a
// person the viewer may not see is a correct 404), the requests per
// second and the server's peak RSS (VmHWM), also as it was before the
// load (after the logins and the index's build).
//
//	scripts/bench-serve.sh
func BenchmarkServeHTTP(b *testing.B) {
	if *serverURL == "" || *truthFile == "" {
		b.Fatal("-serveload.url and -serveload.truth are needed: run scripts/bench-serve.sh")
	}
	base := strings.TrimRight(*serverURL, "/")
	tr, err := gen.Load(*truthFile)
	if err != nil {
		b.Fatal(err)
	}
	var users, queries []string
	for i, p := range tr.Org.People {
		if p.Active && len(users) < *sessions && i%997 == 0 {
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
	if len(users) < *sessions {
		b.Fatalf("the organisation has only %d people to log in, %d wanted", len(users), *sessions)
	}
	tr = nil
	// each session comes from its own loopback address, like people at
	// their own machines: the server rate-limits logins per address
	clients := make([]*http.Client, len(users))
	for i, u := range users {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+(i+1)/250), byte(1+(i+1)%250))}}
		if clients[i], err = login(&http.Transport{DialContext: d.DialContext}, base, u); err != nil {
			b.Fatal(err)
		}
	}
	// the first directory request builds the server's index
	if _, err := fetch(clients[0], base+"/api/v1/people?q=zs"); err != nil {
		b.Fatal(err)
	}
	indexRSS := 0.0
	if *serverPID != 0 {
		if indexRSS, err = peakRSS(*serverPID); err != nil {
			b.Fatal(err)
		}
	}

	var mu sync.Mutex
	var search, person []time.Duration
	errs, notFound := 0, 0
	var first error
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		end := time.Now().Add(*duration)
		var wg sync.WaitGroup
		for w, hc := range clients {
			wg.Go(func() {
				var ls, lp []time.Duration
				bad, missing := 0, 0
				var ferr error
				for n := w; time.Now().Before(end); n++ {
					path := "/api/v1/people/" + url.PathEscape(ids[(n*104729)%len(ids)])
					if n%2 == 0 {
						path = "/api/v1/people?q=" + url.QueryEscape(queries[(n/2)%len(queries)])
					}
					t := time.Now()
					status, err := fetch(hc, base+path)
					d := time.Since(t)
					switch {
					case err != nil && status != http.StatusNotFound:
						bad++
						if ferr == nil {
							ferr = fmt.Errorf("GET %s: %w", path, err)
						}
						continue
					case status == http.StatusNotFound:
						missing++
					}
					if n%2 == 0 {
						ls = append(ls, d)
					} else {
						lp = append(lp, d)
					}
				}
				mu.Lock()
				search, person = append(search, ls...), append(person, lp...)
				errs, notFound = errs+bad, notFound+missing
				if first == nil {
					first = ferr
				}
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if first != nil {
		b.Logf("first error: %v", first)
	}
	for name, d := range map[string][]time.Duration{"search": search, "person": person} {
		if len(d) == 0 {
			continue
		}
		slices.Sort(d)
		for _, pc := range []int{50, 95, 99} {
			b.ReportMetric(float64(d[len(d)*pc/100].Microseconds())/1000, fmt.Sprintf("%s-p%d-ms", name, pc))
		}
	}
	b.ReportMetric(float64(errs), "errors")
	b.ReportMetric(float64(notFound), "not-visible-404s")
	b.ReportMetric(float64(len(search)+len(person))/elapsed.Seconds(), "req/s")
	if *serverPID != 0 {
		mb, err := peakRSS(*serverPID)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(mb, "server-peak-RSS-MB")
		// the peak before the load: logins and the index's build
		b.ReportMetric(indexRSS, "server-peak-RSS-before-load-MB")
	}
}

// login logs userid in through the server's /login and the simulator's
// DingTalk login page (sim_user chooses who logs in), following the
// redirects by hand, and returns a client holding the session's cookie
// (the server must listen on 127.0.0.1, where every loopback address
// reaches).
func login(transport http.RoundTripper, base, userid string) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Transport: transport, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := base + "/login"
	for hops := 0; hops < 5; hops++ {
		resp, err := hc.Get(next)
		if err != nil {
			return nil, fmt.Errorf("login %s: %w", userid, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther || loc == "" {
			return nil, fmt.Errorf("login %s: GET %s answered %s", userid, next, resp.Status)
		}
		u, err := resp.Request.URL.Parse(loc)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(u.Path, "/oauth2/auth") {
			q := u.Query()
			q.Set("sim_user", userid)
			u.RawQuery = q.Encode()
		}
		if u.String() == base+"/" {
			// back home from the callback: logged in
			return hc, nil
		}
		next = u.String()
	}
	return nil, fmt.Errorf("login %s: too many redirects", userid)
}

// fetch GETs u and reads the answer; a status other than 200 is an error.
func fetch(hc *http.Client, u string) (int, error) {
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

// peakRSS is the process's VmHWM in MB.
func peakRSS(pid int) (float64, error) {
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
