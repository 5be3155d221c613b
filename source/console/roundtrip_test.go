package console

import (
	"context"
	"encoding/json"
	"sort"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/export"
)

// TestConsoleRoundTrip is the console round trip: a console-style
// xlsx (instruction rows, shuffled headers, numeric phones, date serials,
// multi-department cells) is imported, exported again in the console's
// layout (xlsx and csv, every field), and read back: the same people with
// the same fields, departments and leader flags.
func TestConsoleRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := consoleXLSX(t, dir)
	first, _, err := ReadFile(src, Options{Company: "示例公司"})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	res, err := export.Run(context.Background(), dingbook.OrgDirectory{Org: first}, export.Options{
		Dir: out, Formats: []string{"xlsx", "csv"}, Profile: "full", IncludeInactive: true, BaseName: "again",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		second, rep, err := ReadFile(f.Path, Options{Company: "示例公司"})
		if err != nil {
			t.Fatalf("%s: %v", f.Format, err)
		}
		if len(rep.Unknown) != 1 || rep.Unknown[0] != "爱好" {
			t.Errorf("%s: unknown columns %v", f.Format, rep.Unknown)
		}
		a, b := canonical(first), canonical(second)
		if len(a) != len(b) {
			t.Fatalf("%s: %d people, want %d", f.Format, len(b), len(a))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("%s: person differs after the round trip:\n got  %s\n want %s", f.Format, b[i], a[i])
			}
		}
	}
}

// canonical renders each person with department paths instead of ids
// (ids are not part of the console file), sorted by name.
func canonical(org *dingbook.Org) []string {
	tree := dingbook.NewTree(org.Depts)
	var out []string
	for _, p := range org.People {
		type dep struct {
			Path   []string
			Leader bool
		}
		var deps []dep
		for _, m := range p.Depts {
			deps = append(deps, dep{tree.Path(m.DeptID), m.Leader})
		}
		q := p
		q.Depts, q.SourceRow = nil, 0 // the rows differ: the source has a note and a blank row
		b, _ := json.Marshal(struct {
			P     dingbook.Person
			Depts []dep
		}{q, deps})
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}
