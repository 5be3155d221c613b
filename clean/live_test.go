package clean

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/gen"
)

// liveReport runs a Live analysis over org in batches of size n, the way
// an export does, and returns its report and each person's Fill flag.
// With missing, managers are checked against that list; otherwise
// against the listed userids.
func liveReport(t *testing.T, org *dingbook.Org, n int, missing []string, opts Options) (*Report, []bool) {
	t.Helper()
	dir := dingbook.OrgDirectory{Org: org}
	exists := MissingManagers(missing)
	if missing == nil {
		var err error
		if exists, err = ListedUserIDs(context.Background(), dir.EachUserID, len(org.People)); err != nil {
			t.Fatal(err)
		}
	}
	opts.Region, opts.SizeHint = "CN", len(org.People)
	l := NewLive(opts, exists)
	var fill []bool
	for i := 0; i < len(org.People); i += n {
		var b Batch
		l.Prepare(org.People[i:min(i+n, len(org.People))], &b)
		fill = append(fill, b.Fill...)
		l.Commit(&b)
	}
	return l.Report(dir), fill
}

func reportJSON(t *testing.T, r *Report) string {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLiveMatchesAnalyze: an analysis fed batch by batch alongside a pass
// gives the same report as Analyze, and its Fill flags are the statuses a
// two-pass export writes (XLSXExtras.Status), for every person, including
// those whose manager comes later in the stream or does not exist.
func TestLiveMatchesAnalyze(t *testing.T) {
	for _, c := range []struct {
		users int
		seed  int64
		batch int
	}{{500, 1, 1}, {2000, 3, 256}, {5000, 4, 7}} {
		t.Run(fmt.Sprintf("users_%d_batch_%d", c.users, c.batch), func(t *testing.T) {
			truth := gen.Generate(gen.Options{Users: c.users, Seed: c.seed})
			org := &truth.Org
			want, err := Analyze(context.Background(), dingbook.OrgDirectory{Org: org}, Options{Region: "CN"})
			if err != nil {
				t.Fatal(err)
			}
			var missing []string
			for id := range want.MissingManagers {
				missing = append(missing, id)
			}
			got, fill := liveReport(t, org, c.batch, nil, Options{})
			if a, b := reportJSON(t, want), reportJSON(t, got); a != b {
				t.Fatalf("live report differs from Analyze:\nlive    %.600s\nanalyze %.600s", b, a)
			}
			got2, fill2 := liveReport(t, org, c.batch, missing, Options{})
			if a, b := reportJSON(t, got), reportJSON(t, got2); a != b || !slices.Equal(fill, fill2) {
				t.Fatal("managers checked against the missing list differ from the listed userids")
			}
			x := XLSXExtras(want, "en", []string{"name"})
			needs, mgr := 0, 0
			for i := range org.People {
				p := &org.People[i]
				if w := x.Status(p) == x.NeedsFilling; w != fill[i] {
					t.Fatalf("person %d (%s): live Fill %v, two-pass status says %v", i, p.UserID, fill[i], w)
				}
				if fill[i] {
					needs++
				}
				if want.Problems(p).Has(dingbook.ProblemManagerNotFound) {
					mgr++
				}
			}
			if needs == 0 || needs == len(org.People) || mgr == 0 {
				t.Fatalf("vacuous: %d of %d need filling, %d with a missing manager", needs, len(org.People), mgr)
			}
		})
	}
}

func TestIDSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []uint64{0, 1, 1 << 63}
	for range 10_000 {
		keys = append(keys, rng.Uint64())
	}
	s := newIDSet(append(keys, keys[:100]...)) // duplicates are fine
	for _, k := range keys {
		if !s.has(k) {
			t.Fatalf("%x missing", k)
		}
	}
	for range 10_000 {
		if k := rng.Uint64(); s.has(k) {
			t.Fatalf("%x found but never added", k)
		}
	}
	if e := newIDSet(nil); e.has(0) || e.has(5) {
		t.Error("the empty set has members")
	}
	if s := newIDSet([]uint64{7}); s.has(0) {
		t.Error("0 found but never added")
	}
}

// TestLiveMatchesAnalyzeSelected: with an export's selection (Select: a
// part of the org, hidden mobiles left out) and its fields (Visible), the
// live analysis still gives Analyze's report and the two-pass statuses;
// the report covers the selected people only, judges managers against
// everybody, and quotes only visible fields.
func TestLiveMatchesAnalyzeSelected(t *testing.T) {
	truth := gen.Generate(gen.Options{Users: 3000, Seed: 8})
	org := &truth.Org
	// Every third department, active people only, hidden mobiles out.
	in := map[int64]bool{}
	for i, d := range org.Depts {
		in[d.ID] = i%3 == 1
	}
	sel := func(p *dingbook.Person) *dingbook.Person {
		if !p.Active || !slices.ContainsFunc(p.Depts, func(m dingbook.Membership) bool { return in[m.DeptID] }) {
			return nil
		}
		if p.HideMobile {
			q := *p
			q.Mobile = ""
			return &q
		}
		return p
	}
	opts := Options{Select: sel, Visible: []string{"name", "dept", "mobile", "org_email"}}
	want, err := Analyze(context.Background(), dingbook.OrgDirectory{Org: org}, Options{Region: "CN", Select: sel, Visible: opts.Visible})
	if err != nil {
		t.Fatal(err)
	}
	got, fill := liveReport(t, org, 64, nil, opts)
	if a, b := reportJSON(t, want), reportJSON(t, got); a != b {
		t.Fatalf("live report differs from Analyze:\nlive    %.600s\nanalyze %.600s", b, a)
	}
	x := XLSXExtras(want, "en", []string{"name"})
	selected, outside := 0, 0
	ids := map[string]bool{}
	for _, p := range org.People {
		ids[p.UserID] = true
	}
	for i := range org.People {
		p := sel(&org.People[i])
		if p == nil {
			if fill[i] {
				t.Fatalf("person %d is not selected but needs filling", i)
			}
			continue
		}
		selected++
		if w := x.Status(p) == x.NeedsFilling; w != fill[i] {
			t.Fatalf("person %d: live Fill %v, two-pass status says %v", i, fill[i], w)
		}
		if m := p.ManagerUserID; m != "" && ids[m] && sel(&org.People[slices.IndexFunc(org.People, func(q dingbook.Person) bool { return q.UserID == m })]) == nil {
			outside++
			if want.Problems(p).Has(dingbook.ProblemManagerNotFound) {
				t.Fatalf("person %d: manager %s exists outside the selection, reported missing", i, m)
			}
		}
	}
	if want.People != selected || selected == 0 || selected == len(org.People) || outside == 0 {
		t.Fatalf("report of %d people, %d selected of %d, %d with a manager outside", want.People, selected, len(org.People), outside)
	}
	kinds := map[dingbook.Problem]int{}
	for _, g := range want.DuplicateGroups {
		kinds[g.Problem]++
		if (g.Problem == dingbook.ProblemDuplicateEmail) != (g.Key == "") {
			t.Errorf("group %+v: email keys are hidden (personal email is not visible), others shown", g)
		}
		for _, m := range g.Members {
			if m.UserID != "" || m.Name == "" || m.Row < 1 || m.Row > selected {
				t.Errorf("group %+v: member %+v is not a selected row named by name only", g, m)
			}
		}
	}
	if kinds[dingbook.ProblemDuplicateEmail] == 0 || kinds[dingbook.ProblemDuplicateMobile] == 0 {
		t.Fatalf("vacuous: duplicate groups %v", kinds)
	}
	if len(want.MissingManagers) != 0 || !slices.Equal(want.QuotedFields, []string{"name", "mobile"}) {
		t.Fatalf("missing managers %v (manager_userid is not visible), quoted fields %v", want.MissingManagers, want.QuotedFields)
	}
}
