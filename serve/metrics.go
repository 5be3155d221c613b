package serve

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dingbook/dingbook/app"
)

// metrics are the server's Prometheus metrics, written by hand in the
// text exposition format (version 0.0.4): a few counters and one
// histogram do not earn prometheus/client_golang. Labels hold route
// patterns, status classes, outcomes and refusal reasons only: never a
// userid, a name, an address or a query.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]uint64 // pattern, status class
	latency  map[string]*histogram
	logins   map[[2]string]uint64 // outcome, reason
	pulls    map[string]uint64    // outcome
	quota    uint64
	drift    map[string]uint64 // kind
}

// latencyBuckets are the histogram's upper bounds in seconds.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[[2]string]uint64{}, latency: map[string]*histogram{},
		logins: map[[2]string]uint64{}, pulls: map[string]uint64{}, drift: map[string]uint64{}}
}

func (m *metrics) request(pattern string, status int, d time.Duration) {
	class := strconv.Itoa(status/100) + "xx"
	sec := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{pattern, class}]++
	h := m.latency[pattern]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets)+1)}
		m.latency[pattern] = h
	}
	i, _ := slices.BinarySearch(latencyBuckets, sec)
	h.counts[i]++
	h.sum += sec
	h.n++
}

func (m *metrics) login(outcome, reason string) {
	m.mu.Lock()
	m.logins[[2]string{outcome, reason}]++
	m.mu.Unlock()
}

func (m *metrics) pull(outcome string) {
	m.mu.Lock()
	m.pulls[outcome]++
	m.mu.Unlock()
}

// driftFound counts the differences, by kind, a new base showed that the
// events had missed (app.App.Drift).
func (m *metrics) driftFound(counts map[string]int) {
	m.mu.Lock()
	for k, n := range counts {
		m.drift[k] += uint64(n)
	}
	m.mu.Unlock()
}

func (m *metrics) quotaHit() {
	m.mu.Lock()
	m.quota++
	m.mu.Unlock()
}

// label quotes a label value for the exposition format.
func label(v string) string {
	return strconv.Quote(v) // escapes \, " and newlines as the format wants
}

func sortedKeys[K comparable, V any](m map[K]V, less func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, less)
	return keys
}

func cmpPair(a, b [2]string) int {
	if c := strings.Compare(a[0], b[0]); c != 0 {
		return c
	}
	return strings.Compare(a[1], b[1])
}

// write writes the metrics in the text exposition format.
func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP dingbook_http_requests_total HTTP requests by route pattern and status class.")
	fmt.Fprintln(w, "# TYPE dingbook_http_requests_total counter")
	for _, k := range sortedKeys(m.requests, cmpPair) {
		fmt.Fprintf(w, "dingbook_http_requests_total{route=%s,code=%s} %d\n", label(k[0]), label(k[1]), m.requests[k])
	}
	fmt.Fprintln(w, "# HELP dingbook_http_request_duration_seconds HTTP request latency by route pattern.")
	fmt.Fprintln(w, "# TYPE dingbook_http_request_duration_seconds histogram")
	for _, p := range sortedKeys(m.latency, strings.Compare) {
		h := m.latency[p]
		var cum uint64
		for i, b := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(w, "dingbook_http_request_duration_seconds_bucket{route=%s,le=%s} %d\n", label(p), label(strconv.FormatFloat(b, 'g', -1, 64)), cum)
		}
		cum += h.counts[len(latencyBuckets)]
		fmt.Fprintf(w, "dingbook_http_request_duration_seconds_bucket{route=%s,le=\"+Inf\"} %d\n", label(p), cum)
		fmt.Fprintf(w, "dingbook_http_request_duration_seconds_sum{route=%s} %s\n", label(p), strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(w, "dingbook_http_request_duration_seconds_count{route=%s} %d\n", label(p), h.n)
	}
	fmt.Fprintln(w, "# HELP dingbook_logins_total Logins by outcome (ok, refused, failed) and refusal reason.")
	fmt.Fprintln(w, "# TYPE dingbook_logins_total counter")
	for _, k := range sortedKeys(m.logins, cmpPair) {
		fmt.Fprintf(w, "dingbook_logins_total{outcome=%s,reason=%s} %d\n", label(k[0]), label(k[1]), m.logins[k])
	}
	fmt.Fprintln(w, "# HELP dingbook_pulls_total Pulls started from the portal, by outcome (done, failed).")
	fmt.Fprintln(w, "# TYPE dingbook_pulls_total counter")
	for _, k := range sortedKeys(m.pulls, strings.Compare) {
		fmt.Fprintf(w, "dingbook_pulls_total{outcome=%s} %d\n", label(k), m.pulls[k])
	}
	fmt.Fprintln(w, "# HELP dingbook_quota_hits_total Person views and searches refused past the hourly quota.")
	fmt.Fprintln(w, "# TYPE dingbook_quota_hits_total counter")
	fmt.Fprintf(w, "dingbook_quota_hits_total %d\n", m.quota)
	fmt.Fprintln(w, "# HELP dingbook_drift_total Differences a pull found that DingTalk's change events had missed, by kind (joiner, leaver, change, department).")
	fmt.Fprintln(w, "# TYPE dingbook_drift_total counter")
	for _, k := range sortedKeys(m.drift, strings.Compare) {
		fmt.Fprintf(w, "dingbook_drift_total{kind=%s} %d\n", label(k), m.drift[k])
	}
}

// statusWriter remembers the status a handler wrote, and the cards it
// carried (RequestLogEntry.Cards).
type statusWriter struct {
	http.ResponseWriter
	status int
	cards  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts a route's requests and their latency under its
// pattern.
func (s *Server) instrument(pattern string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.metrics.request(pattern, sw.status, time.Since(start))
		s.logRequest(r, sw, time.Since(start))
	})
}

// MetricsHandler serves the metrics alone, for a separate listen address
// (dingbook serve --metrics-addr) that Prometheus scrapes without a
// DingTalk login, at /metrics only. Call it after Handler.
func (s *Server) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s.metricsPage(w, r, nil)
	})
}

func (s *Server) metricsPage(w http.ResponseWriter, r *http.Request, _ *app.Session) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	s.metrics.write(w)
}
