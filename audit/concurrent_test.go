package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/store"
)

// TestConcurrentAppendsShared appends from three goroutines on each of two
// handles on one state directory: the goroutines of a handle (the jobs of
// one server process) queue in its write semaphore, the handles (as two
// processes) meet in SQLite's lock. Every record lands once, in one
// unbroken chain, with the anchor at its head.
func TestConcurrentAppendsShared(t *testing.T) {
	ctx := context.Background()
	home := filepath.Join(t.TempDir(), "home")
	var dbs [2]*store.DB
	for i := range dbs {
		db, err := store.Open(ctx, home)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[i] = db
	}
	const workers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	seqs := make(chan int64, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r, err := audit.Append(ctx, dbs[w%2], audit.Record{Actor: fmt.Sprintf("worker-%d", w), Action: audit.ActionExport, Purpose: fmt.Sprint(i)})
				if err != nil {
					errs <- err
					return
				}
				seqs <- r.Seq
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(seqs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for s := range seqs {
		if seen[s] {
			t.Fatalf("seq %d given twice", s)
		}
		seen[s] = true
	}
	if len(seen) != workers*each {
		t.Fatalf("%d records appended, want %d", len(seen), workers*each)
	}
	res, err := audit.Verify(ctx, dbs[0])
	if err != nil || !res.OK || res.Records != workers*each {
		t.Fatalf("verify: %+v %v", res, err)
	}
	if err := audit.CheckAnchor(ctx, dbs[1], audit.ActionExport); err != nil {
		t.Fatal(err)
	}
}
