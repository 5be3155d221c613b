package app_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/source/gen"
)

// The admin pages' reports are computed once per snapshot and scope: a
// second view is the same report, a new snapshot (or another scope) a new
// one. The changes quote the policy the server holds (another policy is
// another report) and never read the state directory's policy file; the
// quality report names its snapshot's time.
func TestAdminReportsCached(t *testing.T) {
	ctx := context.Background()
	a, err := app.Open(ctx, filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	truth := gen.Generate(gen.Options{Users: 120, Depts: 8, Seed: 5})
	var taken time.Time
	save := func(org dingbook.Org) {
		taken = time.Now().Add(-time.Hour)
		s := &dingbook.Snapshot{Source: "test", TakenAt: taken, Org: org, Receipt: &dingbook.Receipt{Complete: true}}
		if err := a.DB.SaveSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	save(truth.Org)
	// a policy file that does not parse: the admin pages do not read it
	if err := os.WriteFile(filepath.Join(a.DB.Dir, policy.FileName), []byte("default_profile: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pol := policy.Default()
	primary := &app.Session{UserID: "p", Roles: app.RolesOf(1)}
	sub := &app.Session{UserID: "s", Roles: app.RolesOf(2), AdminScope: []int64{truth.Org.Depts[1].ID}}
	q1, err := a.ScopedQuality(ctx, primary)
	if err != nil || q1.People != 120 || !q1.TakenAt.Equal(taken) {
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
	d1, err := a.ScopedDiff(ctx, primary, pol)
	if err != nil || d1.Counts.Leavers != 1 {
		t.Fatalf("diff: %v %+v", err, d1)
	}
	if d, _ := a.ScopedDiff(ctx, primary, pol); d != d1 {
		t.Errorf("a second view of the changes computed them again")
	}
	other, problems := policy.Parse([]byte("default_profile: contact\n"))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if d, err := a.ScopedDiff(ctx, primary, other); err != nil || d == d1 || d.Profile != "contact" {
		t.Errorf("the changes under another policy: %v %+v", err, d)
	}
	save(org)
	if d, err := a.ScopedDiff(ctx, primary, pol); err != nil || d == d1 || d.Counts.Leavers != 0 {
		t.Errorf("after a new snapshot: %v, %+v", err, d)
	}
}
