package pull

import (
	"context"
	"testing"
	"time"

	"github.com/dingbook/dingbook/source/dingtalk/sim"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
)

// TestFidelityIssueCase is the issue's own acceptance case: the org of
// 'dingbook sim --users 20000 --depts 800 --seed 7', pulled through 5%
// transient errors, tokens expiring mid-run and throttling bursts, equals
// the generator's truth field by field, with a complete receipt. The
// simulator's and client's rate are raised so the test stays quick; the
// pacing at 20 QPS is measured by BenchmarkPullEfficiency.
func TestFidelityIssueCase(t *testing.T) {
	truth := gen.Generate(gen.Options{Users: 20000, Depts: 800, Seed: 7})
	s, url := startSim(t, sim.Config{Truth: truth, QPS: 1000,
		Faults: sim.Faults{TransientRate: 0.05, ThrottleBurst: 100 * time.Millisecond, ThrottleEvery: time.Second, TokenTTL: 2 * time.Second}})
	db, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	done := make(chan struct{})
	go func() { // and one forced expiry mid-run
		select {
		case <-done:
		case <-time.After(500 * time.Millisecond):
			s.ExpireTokens()
		}
	}()
	res, err := Run(context.Background(), Options{Client: newClient(url, 1000, nil), DB: db})
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	compareOrg(t, &truth.Org, &res.Snapshot.Org, false, false)
	rc := res.Snapshot.Receipt
	if !rc.Complete || rc.People != 20000 || rc.OrgCount != 20000 || rc.Departments != 800 {
		t.Fatalf("receipt complete=%v people=%d org=%d depts=%d problems=%v", rc.Complete, rc.People, rc.OrgCount, rc.Departments, rc.Problems)
	}
	if res.Stats.Retries == 0 {
		t.Errorf("no retries: the faults were not exercised (%+v)", res.Stats)
	}
	t.Logf("stats %+v", res.Stats)
}
