package archtest

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCheckerFailsOnBadFixture runs the checker over a module built to break
// every kind of rule (testdata/badmod) and asserts each breach is found,
// and nothing else: a forbidden arrow between the module's packages, a
// watched import, a front-end package reached through an outside one,
// process-wide calls under an alias, a package without a rule and a rule
// without a package.
func TestCheckerFailsOnBadFixture(t *testing.T) {
	pkgs, err := Load(filepath.Join("testdata", "badmod"))
	if err != nil {
		t.Fatal(err)
	}
	fixture := map[string]Rule{
		".":        {},
		"store":    {Ours: []string{"."}, Watched: []string{"database/sql"}},
		"clean":    {},
		"format/x": {Ours: []string{"."}},
		"lib":      {},
		"front":    {},
		"deep":     {},
		"ok":       {Ours: []string{"clean"}, Via: []string{"net/http/httptest"}},
		"gone":     {},
	}
	bad, err := Check(pkgs, fixture)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		".: imports store",
		"deep: reaches flag through net/http/httptest",
		"format/x: imports clean",
		"format/x: imports database/sql",
		"front: imports flag",
		"gone: rule for a package that does not exist: remove it",
		"lib: imports runtime/debug",
		"lib: lib.go:12: runtime/debug.SetGCPercent",
		"lib: lib.go:13: os.Exit",
		"lib: lib.go:14: os.Getenv",
		"orphan: no rule: add one to the rule table",
	}
	if !slices.Equal(bad, want) {
		t.Errorf("breaches:\n%s\nwant:\n%s", strings.Join(bad, "\n"), strings.Join(want, "\n"))
	}

	// The same module with rules that allow what it does passes.
	fixture["."] = Rule{Ours: []string{"store"}}
	fixture["format/x"] = Rule{Ours: []string{"clean"}, Watched: []string{"database/sql"}}
	fixture["lib"] = Rule{Watched: []string{"runtime/debug"}, Process: true}
	fixture["front"] = Rule{Watched: []string{"flag"}}
	fixture["deep"] = Rule{Via: []string{"net/http/httptest"}}
	fixture["orphan"] = Rule{}
	delete(fixture, "gone")
	if bad, err = Check(pkgs, fixture); err != nil || len(bad) != 0 {
		t.Errorf("allowed fixture: %v %q", err, bad)
	}
}

// TestProcessCalls: the call-site check follows the file's import names,
// ignores locals of the same name and uses that are no process-wide call.
func TestProcessCalls(t *testing.T) {
	for _, c := range []struct {
		src  string
		want []string
	}{
		{"package p\nimport \"os\"\nvar _ = os.Stdout", []string{"3: os.Stdout"}},
		{"package p\nimport o \"os\"\nfunc f() { o.Exit(2) }", []string{"3: os.Exit"}},
		{"package p\nimport \"os/signal\"\nfunc f() { signal.Notify(nil) }", []string{"3: os/signal.Notify"}},
		{"package p\nimport \"runtime\"\nfunc f() { runtime.GC(); _ = runtime.NumCPU() }", []string{"3: runtime.GC"}},
		{"package p\nimport d \"runtime/debug\"\nfunc f() { d.SetMemoryLimit(1) }", []string{"3: runtime/debug.SetMemoryLimit"}},
		{"package p\nimport \"os\"\nfunc f() { os.Open(\"x\") }", nil},
		{"package p\nimport \"os\"\nfunc f(os struct{ Stdin int }) int { return os.Stdin }", nil},
		{"package p\nfunc f() { var os struct{ Exit func(int) }; os.Exit(1) }", nil},
	} {
		got, err := ProcessCalls("p.go", c.src)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.src, got, c.want)
		}
	}
}
