package app_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
)

// liveBench is a saved generated organisation of n people with its live
// directory built.
func liveBench(b *testing.B, n int) (*app.App, []dingbook.Person, int64) {
	ctx := context.Background()
	truth := gen.Generate(gen.Options{Users: n, Depts: max(5, n/50), Seed: 7})
	a, err := app.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	s := &dingbook.Snapshot{Source: "bench", TakenAt: time.Now(), Org: truth.Org, Receipt: &dingbook.Receipt{Complete: true}}
	if err := a.DB.SaveSnapshot(ctx, s); err != nil {
		b.Fatal(err)
	}
	if _, err := a.DirectoryTree(ctx); err != nil {
		b.Fatal(err)
	}
	return a, truth.Org.People, s.ID
}

// changeEvent commits one event revision changing k people's mobiles.
func changeEvent(b *testing.B, a *app.App, people []dingbook.Person, base int64, seq, k int) {
	var ch []store.PersonChange
	for j := range k {
		p := people[(seq*k+j)*7919%len(people)]
		before := p
		p.Mobile = fmt.Sprintf("139%08d", seq*k+j)
		ch = append(ch, store.PersonChange{UserID: p.UserID, Op: store.OpUpsert, After: &p, Before: &before})
	}
	r := &store.Revision{At: time.Now(), Cause: store.CauseEvent, EventID: fmt.Sprint("bench-", seq), Base: base, People: ch}
	if err := a.DB.Write(context.Background(), func(tx *store.Tx) error { return tx.AddRevision(r) }); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLiveApply measures how the live directory's index of 100,000
// people follows one event revision, per revision: "change" is one
// changed person (the fast path: positions and maps shared), "joiner"
// one person added (the maps rebuilt from memory, the headcounts
// recounted); each keeps the snapshot's key indexes with an overlay.
func BenchmarkLiveApply(b *testing.B) {
	ctx := context.Background()
	a, people, base := liveBench(b, 100_000)
	sess := &app.Session{UserID: people[0].UserID, Roles: app.RolesOf(0)}
	seq := 0
	for _, kind := range []string{"change", "joiner"} {
		b.Run(kind, func(b *testing.B) {
			var ms runtime.MemStats
			for b.Loop() {
				b.StopTimer()
				if kind == "change" {
					changeEvent(b, a, people, base, seq, 1)
				} else {
					p := &dingbook.Person{UserID: fmt.Sprint("joiner-", seq), Name: "新人", Active: true, Depts: people[seq%len(people)].Depts}
					r := &store.Revision{At: time.Now(), Cause: store.CauseEvent, EventID: fmt.Sprint("bench-", seq), Base: base,
						People: []store.PersonChange{{UserID: p.UserID, Op: store.OpUpsert, After: p}}}
					if err := a.DB.Write(ctx, func(tx *store.Tx) error { return tx.AddRevision(r) }); err != nil {
						b.Fatal(err)
					}
				}
				seq++
				b.StartTimer()
				if _, err := a.Person(ctx, sess, people[0].UserID); err != nil { // applies the revision
					b.Fatal(err)
				}
			}
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MB")
		})
	}
}

// BenchmarkSyncSince measures a CardDAV sync-collection's work in app
// (BookSince) from a token 10 changes old, with 1,000 and 100,000 cards:
// it reads the change log, not the book.
func BenchmarkSyncSince(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			a, people, base := liveBench(b, n)
			sess := &app.Session{UserID: people[len(people)/2].UserID, Roles: app.RolesOf(0)}
			book, err := a.AddressBook(ctx, sess)
			if err != nil {
				b.Fatal(err)
			}
			for i := range 10 {
				changeEvent(b, a, people, base, i, 1)
			}
			if _, err := a.Person(ctx, sess, sess.UserID); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				ch, err := a.BookSince(ctx, sess, policy.Default(), book.Rev, book.Withdrawn)
				if err != nil || len(ch.Changed)+len(ch.Removed) == 0 {
					b.Fatalf("%v %v", ch, err)
				}
			}
		})
	}
}

// BenchmarkLiveSearch measures searches (p50, p99) in the live directory
// of 100,000 people after one revision changed 4,000 of them (an overlay
// just under its limit: its people's keys are scanned, the snapshot's
// mapped and filtered), and applying one more change over that overlay
// (apply-ms).
func BenchmarkLiveSearch(b *testing.B) {
	ctx := context.Background()
	a, people, base := liveBench(b, 100_000)
	changeEvent(b, a, people, base, 0, 4000)
	emp := &app.Session{UserID: people[len(people)/2].UserID, Roles: app.RolesOf(0)}
	if _, err := a.Person(ctx, emp, emp.UserID); err != nil { // applies the revision
		b.Fatal(err)
	}
	// one more change over that overlay
	changeEvent(b, a, people, base, 1, 1)
	start := time.Now()
	if _, err := a.Person(ctx, emp, emp.UserID); err != nil {
		b.Fatal(err)
	}
	apply := time.Since(start)
	queries := benchQueries(people)
	var search []time.Duration
	for i := 0; b.Loop(); i++ {
		t := time.Now()
		if _, err := a.SearchPeople(ctx, emp, queries[i%len(queries)]); err != nil {
			b.Fatal(err)
		}
		search = append(search, time.Since(t))
	}
	b.ReportMetric(float64(apply.Microseconds())/1000, "apply-ms")
	reportPercentiles(b, "search", search)
}

// BenchmarkPullReadLatency measures the longest directory read (a
// person's page) while a pull's snapshot of 100,000 people becomes the
// live directory's base: stored, reconciled (the bridge and its drift)
// and its index made by the pulling goroutine (WarmDirectory), with two
// readers reading every 5 ms throughout (max-read-ms), and how long that takes
// (pull-ms), with the heap's peak (sampled every 20 ms, peak-heap-MB:
// the benchmark's own two organisations of 100,000 people included).
func BenchmarkPullReadLatency(b *testing.B) {
	ctx := context.Background()
	a, people, base := liveBench(b, 100_000)
	snap, err := a.DB.LoadSnapshot(ctx, base)
	if err != nil {
		b.Fatal(err)
	}
	sess := &app.Session{UserID: people[0].UserID, Roles: app.RolesOf(1)}
	var worst, pulls time.Duration
	var peak uint64
	for i := 0; b.Loop(); i++ {
		next := &dingbook.Snapshot{Source: "bench", Org: snap.Org, Receipt: &dingbook.Receipt{Complete: true}}
		next.Org.People = slices.Clone(snap.Org.People)
		next.Org.People[i%len(people)].Title = fmt.Sprint("pulled ", i)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		wg.Go(func() {
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				runtime.ReadMemStats(&ms)
				mu.Lock()
				peak = max(peak, ms.HeapAlloc)
				mu.Unlock()
			}
		})
		for r := range 2 {
			wg.Go(func() {
				for j := r; ; j++ {
					select {
					case <-stop:
						return
					default:
					}
					t := time.Now()
					if _, err := a.Person(ctx, sess, people[j*7919%len(people)].UserID); err != nil {
						b.Error(err)
						return
					}
					d := time.Since(t)
					mu.Lock()
					worst = max(worst, d)
					mu.Unlock()
					time.Sleep(5 * time.Millisecond) // about 400 reads a second in all
				}
			})
		}
		time.Sleep(50 * time.Millisecond)
		start := time.Now()
		next.TakenAt = start
		if err := a.DB.SaveSnapshot(ctx, next); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Reconcile(ctx, nil, policy.Default(), next); err != nil {
			b.Fatal(err)
		}
		if err := a.WarmDirectory(ctx); err != nil {
			b.Fatal(err)
		}
		pulls += time.Since(start)
		time.Sleep(50 * time.Millisecond)
		close(stop)
		wg.Wait()
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-read-ms")
	b.ReportMetric(float64(pulls.Microseconds())/1000/float64(b.N), "pull-ms")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}
