package pull

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
)

// BenchmarkPullEfficiency measures a whole pull against the simulator with
// 80 ms latency and the per-API limit set to the client's QPS. It reports
// the API calls made against the minimum (department calls + member pages)
// and the wall time against the bound max over APIs of (calls / QPS).
// Targets: calls ≤ minimum + 5, wall ≤ 1.15 × bound.
//
//	go test -run '^$' -bench PullEfficiency -benchtime 1x ./pull/
//	go test -run '^$' -bench PullEfficiency -benchtime 1x ./pull/ -users 20000 -depts 800
func BenchmarkPullEfficiency(b *testing.B) {
	truth := gen.Generate(gen.Options{Users: *benchUsers, Depts: *benchDepts, Seed: 11})
	minCalls := 2 * len(truth.Org.Depts) // listsub + department/get per department
	for _, d := range truth.Org.Depts {
		minCalls += max(1, (d.OwningMemberCount+dingtalk.PageSize-1)/dingtalk.PageSize)
	}
	for _, qps := range []int{20, 200} {
		b.Run(fmt.Sprintf("qps%d", qps), func(b *testing.B) {
			for range b.N {
				s := sim.New(sim.Config{Truth: truth, QPS: qps, Faults: sim.Faults{Latency: 80 * time.Millisecond}})
				_, url := startSimHandler(b, s)
				c := newClient(url, qps, nil)
				start := time.Now()
				res, err := Run(context.Background(), Options{Client: c})
				wall := time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if !res.Snapshot.Receipt.Complete {
					b.Fatalf("incomplete: %v", res.Snapshot.Receipt.Problems)
				}
				st := res.Stats
				bound := 0.0
				for _, n := range st.Calls {
					bound = max(bound, float64(n)/float64(qps))
				}
				b.ReportMetric(float64(st.Total), "calls")
				b.ReportMetric(float64(minCalls), "min-calls")
				b.ReportMetric(float64(st.Throttled), "throttled")
				b.ReportMetric(wall.Seconds(), "wall-s")
				b.ReportMetric(bound, "bound-s")
				b.ReportMetric(wall.Seconds()/bound, "wall/bound")
				b.Logf("qps %d: %d calls (minimum %d), %d throttled, %d retries; wall %.2fs, bound %.2fs, ratio %.3f; per API %v",
					qps, st.Total, minCalls, st.Throttled, st.Retries, wall.Seconds(), bound, wall.Seconds()/bound, st.Calls)
			}
		})
	}
}
