package serve

import (
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dingbook/dingbook/app"
)

// metrics are the server's Prometheus metrics, written by hand in the
// text exposition format (version 0.0.4): a few counters and one
// histogram do not earn prometheus/client_golang. Labels hold route
// patterns, status classes, outcomes and refusal reasons only: never a
// userid, a name, an address or a query.
type metrics struct {
	mu     sync.Mutex
	routes map[string]*routeStats // by pattern
	logins map[[2]string]uint64   // outcome, reason
	pulls  map[string]uint64      // outcome
	quota  uint64
	drift  map[string]uint64 // kind
}

// latencyBuckets are the histogram's upper bounds in seconds.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// routeStats are one route's requests by status class and its latency
// histogram, counted without a lock (every request counts here).
type routeStats struct {
	classes [10]atomic.Uint64 // by status/100 (net/http's are 100 to 999)
	buckets []atomic.Uint64   // per bucket, not cumulative; the last is +Inf
	sum     atomic.Uint64     // the latencies' sum in seconds, float64 bits
}

func newMetrics() *metrics {
	return &metrics{routes: map[string]*routeStats{},
		logins: map[[2]string]uint64{}, pulls: map[string]uint64{}, drift: map[string]uint64{}}
}

// route returns pattern's counts, made at the first call (instrument
// calls it once per route, not per request).
func (m *metrics) route(pattern string) *routeStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.routes[pattern]
	if rs == nil {
		rs = &routeStats{buckets: make([]atomic.Uint64, len(latencyBuckets)+1)}
		m.routes[pattern] = rs
	}
	return rs
}

// request counts one request answered with status after d.
func (rs *routeStats) request(status int, d time.Duration) {
	sec := d.Seconds()
	rs.classes[min(max(status/100, 0), len(rs.classes)-1)].Add(1)
	i, _ := slices.BinarySearch(latencyBuckets, sec)
	rs.buckets[i].Add(1)
	for {
		old := rs.sum.Load()
		if rs.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+sec)) {
			return
		}
	}
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
	patterns := slices.Sorted(maps.Keys(m.routes))
	fmt.Fprintln(w, "# HELP dingbook_http_requests_total HTTP requests by route pattern and status class.")
	fmt.Fprintln(w, "# TYPE dingbook_http_requests_total counter")
	for _, p := range patterns {
		for c := range m.routes[p].classes {
			if n := m.routes[p].classes[c].Load(); n > 0 {
				fmt.Fprintf(w, "dingbook_http_requests_total{route=%s,code=%s} %d\n", label(p), label(strconv.Itoa(c)+"xx"), n)
			}
		}
	}
	fmt.Fprintln(w, "# HELP dingbook_http_request_duration_seconds HTTP request latency by route pattern.")
	fmt.Fprintln(w, "# TYPE dingbook_http_request_duration_seconds histogram")
	for _, p := range patterns {
		h := m.routes[p]
		counts := make([]uint64, len(h.buckets))
		var total uint64
		for i := range h.buckets {
			counts[i] = h.buckets[i].Load()
			total += counts[i]
		}
		if total == 0 {
			continue // a route not asked for yet
		}
		var cum uint64
		for i, b := range latencyBuckets {
			cum += counts[i]
			fmt.Fprintf(w, "dingbook_http_request_duration_seconds_bucket{route=%s,le=%s} %d\n", label(p), label(strconv.FormatFloat(b, 'g', -1, 64)), cum)
		}
		fmt.Fprintf(w, "dingbook_http_request_duration_seconds_bucket{route=%s,le=\"+Inf\"} %d\n", label(p), total)
		fmt.Fprintf(w, "dingbook_http_request_duration_seconds_sum{route=%s} %s\n", label(p), strconv.FormatFloat(math.Float64frombits(h.sum.Load()), 'g', -1, 64))
		fmt.Fprintf(w, "dingbook_http_request_duration_seconds_count{route=%s} %d\n", label(p), total)
	}
	fmt.Fprintln(w, "# HELP dingbook_logins_total Logins by outcome (ok, refused, failed) and refusal reason.")
	fmt.Fprintln(w, "# TYPE dingbook_logins_total counter")
	for _, k := range slices.SortedFunc(maps.Keys(m.logins), cmpPair) {
		fmt.Fprintf(w, "dingbook_logins_total{outcome=%s,reason=%s} %d\n", label(k[0]), label(k[1]), m.logins[k])
	}
	fmt.Fprintln(w, "# HELP dingbook_pulls_total Pulls started from the portal, by outcome (done, failed).")
	fmt.Fprintln(w, "# TYPE dingbook_pulls_total counter")
	for _, k := range slices.Sorted(maps.Keys(m.pulls)) {
		fmt.Fprintf(w, "dingbook_pulls_total{outcome=%s} %d\n", label(k), m.pulls[k])
	}
	fmt.Fprintln(w, "# HELP dingbook_quota_hits_total Person views and searches refused past the hourly quota.")
	fmt.Fprintln(w, "# TYPE dingbook_quota_hits_total counter")
	fmt.Fprintf(w, "dingbook_quota_hits_total %d\n", m.quota)
	fmt.Fprintln(w, "# HELP dingbook_drift_total Differences a pull found that DingTalk's change events had missed, by kind (joiner, leaver, change, department).")
	fmt.Fprintln(w, "# TYPE dingbook_drift_total counter")
	for _, k := range slices.Sorted(maps.Keys(m.drift)) {
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
	stats := s.metrics.route(pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		stats.request(sw.status, d)
		s.logRequest(r, sw, d)
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
