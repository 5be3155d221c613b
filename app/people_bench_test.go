package app_test

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/format/vcard"
	"github.com/dingbook/dingbook/source/gen"
)

// BenchmarkDirectory measures the directory over a generated organisation
// of 100,000 people: building the index (index-ms, index-heap-MB), then
// searches (by Chinese name, pinyin, initials, title, a miss) and person
// lookups as an employee, reporting each kind's p50 and p99.
func BenchmarkDirectory(b *testing.B) {
	ctx := context.Background()
	truth := gen.Generate(gen.Options{Users: 100_000, Depts: 2000, Seed: 7})
	a, err := app.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	s := &dingbook.Snapshot{Source: "bench", TakenAt: time.Now(), Org: truth.Org, Receipt: &dingbook.Receipt{Complete: true}}
	if err := a.DB.SaveSnapshot(ctx, s); err != nil {
		b.Fatal(err)
	}
	people := truth.Org.People
	truth = nil
	s = nil
	emp := &app.Session{UserID: people[len(people)/2].UserID, Roles: app.RolesOf(0)}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	if _, err := a.Person(ctx, emp, emp.UserID); err != nil {
		b.Fatal(err)
	}
	indexTime := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)

	queries := benchQueries(people)
	var search, person []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t := time.Now()
		if _, err := a.SearchPeople(ctx, emp, queries[i%len(queries)]); err != nil {
			b.Fatal(err)
		}
		search = append(search, time.Since(t))
		t = time.Now()
		a.Person(ctx, emp, people[(i*104729)%len(people)].UserID)
		person = append(person, time.Since(t))
	}
	// after the loop: b.Loop's start resets the metrics
	b.ReportMetric(float64(indexTime.Milliseconds()), "index-ms")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "index-heap-MB")
	reportPercentiles(b, "search", search)
	reportPercentiles(b, "person", person)
}

// benchQueries are searches of people: by Chinese name, pinyin, initials,
// title, a miss.
func benchQueries(people []dingbook.Person) []string {
	var queries []string
	for i := 0; i < 200; i++ {
		p := people[(i*7919)%len(people)]
		name := []rune(p.Name)
		queries = append(queries, string(name[:min(2, len(name))]), vcard.Phonetic(p.Name), p.Title)
	}
	return append(queries, "zs", "wl", "nobody-at-all")
}

// reportPercentiles reports the p50 and p99 of d (name-p50-ms, ...).
func reportPercentiles(b *testing.B, name string, d []time.Duration) {
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, name+"-p50-ms")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, name+"-p99-ms")
}
