package serveload

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
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

// BenchmarkServeHTTP is issue 10's load target on a `dingbook serve`
// running as its own process: *sessions people, each logged in through
// the simulator's DingTalk login page (?sim_user=) from a loopback
// address of their own, run the Workload (Run) for *duration (one b.N is
// one such run: use -benchtime 1x). It reports Result's figures and the
// server's peak RSS (VmHWM), also as it was before the load (after the
// logins and the index's build).
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
	w := WorkloadOf(&tr.Org, *sessions)
	tr = nil
	if len(w.Users) < *sessions {
		b.Fatalf("the organisation has only %d people to log in, %d wanted", len(w.Users), *sessions)
	}
	// each session comes from its own loopback address, like people at
	// their own machines: the server rate-limits logins per address
	clients := make([]*http.Client, len(w.Users))
	for i, u := range w.Users {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+(i+1)/250), byte(1+(i+1)%250))}}
		if clients[i], err = login(&http.Transport{DialContext: d.DialContext}, base, u); err != nil {
			b.Fatal(err)
		}
	}
	// the first directory request builds the server's index
	if _, err := Fetch(clients[0], base+"/api/v1/people?q=zs"); err != nil {
		b.Fatal(err)
	}
	indexRSS := 0.0
	if *serverPID != 0 {
		if indexRSS, err = PeakRSS(*serverPID); err != nil {
			b.Fatal(err)
		}
	}
	serverCPU, loadCPU := cpuOf(b, *serverPID), cpuOf(b, os.Getpid())
	b.ResetTimer()
	var r Result
	for range b.N {
		r = Run(clients, base, w, *duration)
	}
	b.StopTimer()
	if r.First != nil {
		b.Logf("first error: %v", r.First)
	}
	r.Report(b.ReportMetric)
	// CPU per request: the figure a shared machine does not blur (the
	// latencies include waiting for a core)
	if *serverPID != 0 {
		r.PerRequest(b.ReportMetric, cpuOf(b, *serverPID)-serverCPU, "server-CPU-µs/req")
	}
	r.PerRequest(b.ReportMetric, cpuOf(b, os.Getpid())-loadCPU, "loadgen-CPU-µs/req")
	if *serverPID != 0 {
		mb, err := PeakRSS(*serverPID)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(mb, "server-peak-RSS-MB")
		b.ReportMetric(indexRSS, "server-peak-RSS-before-load-MB")
	}
}

// cpuOf is ProcCPU(pid), 0 for pid 0.
func cpuOf(b *testing.B, pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	d, err := ProcCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	return d
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
