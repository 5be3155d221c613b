package app_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/source/gen"
)

// The admin pages' reports are computed once per snapshot and scope: a
// second view is the same report, a new snapshot (or another scope) a new
// one.
func TestAdminReportsCached(t *testing.T) {
	ctx := context.Background()
	a, err := app.Open(ctx, filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	truth := gen.Generate(gen.Options{Users: 120, Depts: 8, Seed: 5})
	save := func(org dingbook.Org) {
		s := &dingbook.Snapshot{Source: "test", TakenAt: time.Now(), Org: org, Receipt: &dingbook.Receipt{Complete: true}}
		if err := a.DB.SaveSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	save(truth.Org)
	primary := &app.Session{UserID: "p", Roles: app.RolesOf(1)}
	sub := &app.Session{UserID: "s", Roles: app.RolesOf(2), AdminScope: []int64{truth.Org.Depts[1].ID}}
	q1, err := a.ScopedQuality(ctx, primary)
	if err != nil || q1.People != 120 {
		t.Fatalf("quality: %v %+v", err, q1)
	}
	if q, _ := a.ScopedQuality(ctx, primary); q != q1 {
		t.Errorf("a second view computed the report again")
	}
	if q, _ := a.ScopedQuality(ctx, sub); q == q1 || q.People >= 120 {
		t.Errorf("the sub-admin got the primary admin's report: %d people", q.People)
	}
	org := truth.Org
	org.People = org.People[1:]
	save(org)
	q2, err := a.ScopedQuality(ctx, primary)
	if err != nil || q2 == q1 || q2.People != 119 {
		t.Fatalf("after a new snapshot: %v, %d people", err, q2.People)
	}
	d1, err := a.ScopedDiff(ctx, primary)
	if err != nil || d1.Counts.Leavers != 1 {
		t.Fatalf("diff: %v %+v", err, d1)
	}
	if d, _ := a.ScopedDiff(ctx, primary); d != d1 {
		t.Errorf("a second view of the changes computed them again")
	}
	save(org)
	if d, err := a.ScopedDiff(ctx, primary); err != nil || d == d1 || d.Counts.Leavers != 0 {
		t.Errorf("after a new snapshot: %v, %+v", err, d)
	}
}
