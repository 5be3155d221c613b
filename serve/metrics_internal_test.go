package serve

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// metricsWant is the exposition text of TestMetricsText's counts, as
// the metrics wrote it before the routes counted with atomics (a mutex
// and maps): the same text, byte for byte.
const metricsWant = `# HELP dingbook_http_requests_total HTTP requests by route pattern and status class.
# TYPE dingbook_http_requests_total counter
dingbook_http_requests_total{route="GET /a",code="3xx"} 6
dingbook_http_requests_total{route="GET /api/v1/people",code="2xx"} 3
dingbook_http_requests_total{route="GET /api/v1/people",code="4xx"} 2
dingbook_http_requests_total{route="GET /api/v1/people",code="5xx"} 1
# HELP dingbook_http_request_duration_seconds HTTP request latency by route pattern.
# TYPE dingbook_http_request_duration_seconds histogram
dingbook_http_request_duration_seconds_bucket{route="GET /a",le="0.001"} 3
dingbook_http_request_duration_seconds_bucket{route="GET /a",le="0.0025"} 3
dingbook_http_request_duration_seconds_bucket{route="GET /a",le="0.005"} 3
dingbook_http_request_duration_seconds_bucket{route="GET /a",le="0.01"} 4
dingbook_http_request_duration_seconds_bucket{route="GET /a",le="0.02"} 4
dingbook_http_request_duration_seconds_bucket{route="GET /a",le="0.05"} 4
dingbook_http_request_duration_seconds_bucket{route="GET /a",le="0.1"} 4
dingbook_http_request_duration_seconds_bucket{route="GET /a",le="0.25"} 4
dingbook_http_request_duration_seconds_bucket{route="GET /a",le="0.5"} 4
dingbook_http_request_duration_seconds_bucket{route="GET /a",le="1"} 4
dingbook_http_request_duration_seconds_bucket{route="GET /a",le="2.5"} 5
dingbook_http_request_duration_seconds_bucket{route="GET /a",le="5"} 5
dingbook_http_request_duration_seconds_bucket{route="GET /a",le="10"} 6
dingbook_http_request_duration_seconds_bucket{route="GET /a",le="+Inf"} 6
dingbook_http_request_duration_seconds_sum{route="GET /a"} 12.341433332000001
dingbook_http_request_duration_seconds_count{route="GET /a"} 6
dingbook_http_request_duration_seconds_bucket{route="GET /api/v1/people",le="0.001"} 2
dingbook_http_request_duration_seconds_bucket{route="GET /api/v1/people",le="0.0025"} 2
dingbook_http_request_duration_seconds_bucket{route="GET /api/v1/people",le="0.005"} 3
dingbook_http_request_duration_seconds_bucket{route="GET /api/v1/people",le="0.01"} 3
dingbook_http_request_duration_seconds_bucket{route="GET /api/v1/people",le="0.02"} 4
dingbook_http_request_duration_seconds_bucket{route="GET /api/v1/people",le="0.05"} 4
dingbook_http_request_duration_seconds_bucket{route="GET /api/v1/people",le="0.1"} 4
dingbook_http_request_duration_seconds_bucket{route="GET /api/v1/people",le="0.25"} 4
dingbook_http_request_duration_seconds_bucket{route="GET /api/v1/people",le="0.5"} 4
dingbook_http_request_duration_seconds_bucket{route="GET /api/v1/people",le="1"} 4
dingbook_http_request_duration_seconds_bucket{route="GET /api/v1/people",le="2.5"} 4
dingbook_http_request_duration_seconds_bucket{route="GET /api/v1/people",le="5"} 4
dingbook_http_request_duration_seconds_bucket{route="GET /api/v1/people",le="10"} 5
dingbook_http_request_duration_seconds_bucket{route="GET /api/v1/people",le="+Inf"} 6
dingbook_http_request_duration_seconds_sum{route="GET /api/v1/people"} 37.0243
dingbook_http_request_duration_seconds_count{route="GET /api/v1/people"} 6
# HELP dingbook_logins_total Logins by outcome (ok, refused, failed) and refusal reason.
# TYPE dingbook_logins_total counter
dingbook_logins_total{outcome="ok",reason=""} 1
dingbook_logins_total{outcome="refused",reason="state"} 1
# HELP dingbook_pulls_total Pulls started from the portal, by outcome (done, failed).
# TYPE dingbook_pulls_total counter
dingbook_pulls_total{outcome="done"} 1
# HELP dingbook_quota_hits_total Person views and searches refused past the hourly quota.
# TYPE dingbook_quota_hits_total counter
dingbook_quota_hits_total 1
# HELP dingbook_drift_total Differences a pull found that DingTalk's change events had missed, by kind (joiner, leaver, change, department).
# TYPE dingbook_drift_total counter
dingbook_drift_total{kind="joiner"} 2
dingbook_drift_total{kind="leaver"} 1
`

func TestMetricsText(t *testing.T) {
	m := newMetrics()
	m.route("GET /never") // registered, never asked: not shown
	people, a := m.route("GET /api/v1/people"), m.route("GET /a")
	for i, d := range []time.Duration{300 * time.Microsecond, 3 * time.Millisecond, 20 * time.Millisecond, 7 * time.Second, 30 * time.Second, time.Millisecond} {
		people.request([]int{200, 200, 404, 500, 200, 429}[i], d)
		a.request(302, d/3)
	}
	m.login("ok", "")
	m.login("refused", "state")
	m.pull("done")
	m.quotaHit()
	m.driftFound(map[string]int{"joiner": 2, "leaver": 1})
	var b strings.Builder
	m.write(&b)
	if b.String() != metricsWant {
		t.Errorf("got\n%s\nwant\n%s", b.String(), metricsWant)
	}
}

// TestMetricsConcurrent: requests counted at once from many goroutines
// are all counted (run with -race too).
func TestMetricsConcurrent(t *testing.T) {
	m := newMetrics()
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			rs := m.route("GET /x")
			for i := range each {
				rs.request(200+i%2*200, time.Duration(i%3)*time.Second)
			}
		})
	}
	wg.Wait()
	rs := m.route("GET /x")
	if ok, notFound := rs.classes[2].Load(), rs.classes[4].Load(); ok != workers*each/2 || notFound != workers*each/2 {
		t.Errorf("classes: %d 2xx, %d 4xx, want %d each", ok, notFound, workers*each/2)
	}
	var total uint64
	for i := range rs.buckets {
		total += rs.buckets[i].Load()
	}
	// each worker's latencies: 0, 1, 2 s in turn, 999 s in all
	if sum := math.Float64frombits(rs.sum.Load()); total != workers*each || sum != workers*999 {
		t.Errorf("histogram: %d requests, sum %g s; want %d, %d s", total, sum, workers*each, workers*999)
	}
}
