package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/source/gen"
)

// BenchmarkAdminPages measures what the admin pages of 'dingbook serve'
// compute per view over 100,000 people: the quality report of the latest
// complete snapshot (ScopedQuality) and the changes between the last two
// (ScopedDiff), for the primary admin and a sub-admin of one top
// department: the first view (first-view-ms, computed) and the next ones
// (ns/op, from the cache). Run with -benchtime=3x.
func BenchmarkAdminPages(b *testing.B) {
	ctx := context.Background()
	truth := gen.Generate(gen.Options{Users: 100_000, Depts: 2000, Seed: 7})
	a, err := app.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	for i := range 2 {
		if i == 1 { // a few changes: a leaver, a new title
			truth.Org.People = truth.Org.People[1:]
			truth.Org.People[0].Title += " (new)"
		}
		s := &dingbook.Snapshot{Source: "bench", TakenAt: time.Now(), Org: truth.Org, Receipt: &dingbook.Receipt{Complete: true}}
		if err := a.DB.SaveSnapshot(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	var top int64
	for _, d := range truth.Org.Depts {
		if d.ParentID == dingbook.RootDeptID {
			top = d.ID
			break
		}
	}
	primary := &app.Session{UserID: "p", Roles: app.RolesOf(1)}
	sub := &app.Session{UserID: "s", Roles: app.RolesOf(2), AdminScope: []int64{top}}
	for _, c := range []struct {
		name string
		s    *app.Session
	}{{"primary", primary}, {"sub-admin", sub}} {
		for _, page := range []struct {
			name string
			view func() error
		}{
			{"quality", func() error { _, err := a.ScopedQuality(ctx, c.s); return err }},
			{"changes", func() error { _, err := a.ScopedDiff(ctx, c.s, nil); return err }},
		} {
			b.Run(page.name+"/"+c.name, func(b *testing.B) {
				start := time.Now()
				if err := page.view(); err != nil {
					b.Fatal(err)
				}
				first := time.Since(start)
				for b.Loop() {
					if err := page.view(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(first.Milliseconds()), "first-view-ms")
			})
		}
	}
}
