package clean

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/gen"
)

// found runs the analysis and the per-person pass and returns, per
// problem, the sorted userids that have it.
func found(t testing.TB, org *dingbook.Org) (*Report, map[dingbook.Problem][]string) {
	t.Helper()
	ctx := context.Background()
	dir := dingbook.OrgDirectory{Org: org}
	r, err := Analyze(ctx, dir, Options{Region: "CN"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[dingbook.Problem][]string{}
	err = r.EachPersonProblems(ctx, dir, func(pp PersonProblems) error {
		for _, p := range pp.Problems {
			got[p] = append(got[p], pp.UserID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range got {
		sort.Strings(got[p])
	}
	return r, got
}

// diff describes the difference between two sorted id lists.
func diff(want, got []string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, x := range want {
		w[x] = true
	}
	for _, x := range got {
		g[x] = true
	}
	var missed, extra []string
	for x := range w {
		if !g[x] {
			missed = append(missed, x)
		}
	}
	for x := range g {
		if !w[x] {
			extra = append(extra, x)
		}
	}
	sort.Strings(missed)
	sort.Strings(extra)
	if len(missed) == 0 && len(extra) == 0 {
		return ""
	}
	return fmt.Sprintf("missed %d %v, extra %d %v", len(missed), head(missed), len(extra), head(extra))
}

func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

// TestMatchesGeneratorTruth is the acceptance test: on generated orgs
// every injected problem is found and nothing else is.
func TestMatchesGeneratorTruth(t *testing.T) {
	for _, c := range []struct {
		users int
		seed  int64
	}{{500, 1}, {500, 2}, {500, 77}, {2000, 3}, {5000, 4}} {
		t.Run(fmt.Sprintf("users_%d_seed_%d", c.users, c.seed), func(t *testing.T) {
			truth := gen.Generate(gen.Options{Users: c.users, Seed: c.seed})
			r, got := found(t, &truth.Org)
			if r.People != c.users {
				t.Errorf("people = %d, want %d", r.People, c.users)
			}
			var bad []string
			for _, p := range dingbook.AllProblems {
				if len(truth.Problems[p]) == 0 {
					t.Errorf("generator injected no %s (test would be vacuous)", p)
				}
				if d := diff(truth.Problems[p], got[p]); d != "" {
					bad = append(bad, fmt.Sprintf("%s: %s", p, d))
				}
				if r.Counts[p] != len(got[p]) {
					t.Errorf("%s: Counts = %d, per-person list has %d", p, r.Counts[p], len(got[p]))
				}
			}
			if len(bad) > 0 {
				t.Errorf("report differs from the generator's truth:\n%s", strings.Join(bad, "\n"))
			}
		})
	}
}
