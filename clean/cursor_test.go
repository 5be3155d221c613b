package clean

import (
	"context"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/gen"
)

// TestStatusLookupByPosition: the status column's positional look-up
// (problemsAt) answers exactly what Problems answers, whether the second
// pass sees everyone in order, skips people (an export leaving out
// inactive people), sees someone twice, goes backwards, or meets
// imported rows without a userid (identical rows included) and people
// who were not analysed.
func TestStatusLookupByPosition(t *testing.T) {
	truth := gen.Generate(gen.Options{Users: 2000, Seed: 7})
	org := truth.Org
	// Imported rows: two identical ones and a distinct one.
	row := org.People[5]
	row.UserID = ""
	org.People = append(org.People, row, row)
	row.Name += "x"
	org.People = append(org.People, row)
	// The same userid listed again.
	org.People = append(org.People, org.People[10])
	r, err := Analyze(context.Background(), dingbook.OrgDirectory{Org: &org}, Options{Region: "CN"})
	if err != nil {
		t.Fatal(err)
	}
	stranger := org.People[3]
	stranger.UserID = "not-analysed"
	stranger.ManagerUserID = "nobody"

	rng := rand.New(rand.NewPCG(1, 1))
	orders := map[string][]*dingbook.Person{}
	for i := range org.People {
		p := &org.People[i]
		orders["all"] = append(orders["all"], p)
		if p.Active {
			orders["active"] = append(orders["active"], p)
		}
		if rng.IntN(10) == 0 {
			orders["random"] = append(orders["random"], &org.People[rng.IntN(len(org.People))], &stranger)
		}
	}
	hits := 0
	for name, ps := range orders {
		next := 0
		for i, p := range ps {
			before := next
			got, want := r.problemsAt(p, &next), r.Problems(p)
			if got != want {
				t.Fatalf("%s order, person %d (%q): by position %v, Problems %v", name, i, p.UserID, got.List(), want.List())
			}
			if next == before+1 {
				hits++
			}
		}
	}
	if hits < len(org.People) {
		t.Fatalf("only %d positional hits: the fast path is not taken", hits)
	}
	// Some people must have problems for the comparison to mean anything.
	if r.PeopleWithProblems < 100 {
		t.Fatalf("only %d people with problems", r.PeopleWithProblems)
	}
}

// TestMissingManagers: a manager listed after their reports is found, a
// missing one is counted per report, and a very long missing userid is
// reported whole.
func TestMissingManagers(t *testing.T) {
	long := strings.Repeat("m", 300)
	people := []dingbook.Person{
		{UserID: "a", Name: "A", ManagerUserID: "boss", Active: true},
		{UserID: "b", Name: "B", ManagerUserID: "gone", Active: true},
		{UserID: "c", Name: "C", ManagerUserID: "gone", Active: true},
		{UserID: "d", Name: "D", ManagerUserID: long, Active: true},
		{UserID: "e", Name: "E", ManagerUserID: "a", Active: true},
		{UserID: "boss", Name: "Boss", ManagerUserID: "boss", Active: true},
	}
	org := &dingbook.Org{People: people}
	r, err := Analyze(context.Background(), dingbook.OrgDirectory{Org: org}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"gone": 2, long: 1}; !reflect.DeepEqual(r.MissingManagers, want) {
		t.Fatalf("missing managers %v, want %v", r.MissingManagers, want)
	}
	for i, p := range people {
		want := p.UserID == "b" || p.UserID == "c" || p.UserID == "d"
		if got := r.Problems(&people[i]).Has(dingbook.ProblemManagerNotFound); got != want {
			t.Errorf("%s: manager-not-found %v, want %v", p.UserID, got, want)
		}
	}
	if r.Counts[dingbook.ProblemManagerNotFound] != 3 {
		t.Errorf("count %d", r.Counts[dingbook.ProblemManagerNotFound])
	}
}

// TestGroupMembersKeepUserIDs: duplicate-group members are named by their
// full userid, however long, and imported rows by their row alone.
func TestGroupMembersKeepUserIDs(t *testing.T) {
	long := strings.Repeat("u", 300)
	people := []dingbook.Person{
		{UserID: "short", Name: "A", Mobile: "13800138000", Active: true},
		{UserID: long, Name: "B", Mobile: "13800138000", Active: true},
		{Name: "C", Mobile: "+86 138 0013 8000", Active: true},
	}
	r, err := Analyze(context.Background(), dingbook.OrgDirectory{Org: &dingbook.Org{People: people}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Member{{UserID: "short", Row: 1, ord: 1}, {UserID: long, Row: 2, ord: 2}, {Row: 3, ord: 3}}
	if len(r.DuplicateGroups) != 1 || !reflect.DeepEqual(r.DuplicateGroups[0].Members, want) || r.DuplicateGroups[0].Key != "+8613800138000" {
		t.Fatalf("groups %+v", r.DuplicateGroups)
	}
}
