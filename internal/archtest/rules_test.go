package archtest

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// sqliteDriver is the one outside package through which a package that uses
// the store reaches os/signal: the pure-Go SQLite driver's C library
// (modernc.org/libc) imports it (and runtime/debug); its Xsignal installs a
// handler only when C code calls signal(), and the SQLite library never
// does (modernc.org/sqlite/lib has no call to it).
const sqliteDriver = "modernc.org/libc"

// testingFlag: the standard testing package imports flag; only test helper
// packages import testing.
const testingFlag = "testing"

// formats are the file formats' writers: they may use the domain,
// normalisation and the low-level helpers, never cleaning, the store or
// governance.
var formats = []string{"format/csv", "format/jsonl", "format/vcard", "format/xlsx"}

// rules is the module's layering, one rule per package. Read it from the
// top: the domain and the leaves, the sources, the formats and export, the
// store and governance over it, the use-case layer, and the front end.
var rules = map[string]Rule{
	// The domain imports nothing of ours.
	".": {},

	// Leaves.
	"internal/ctxsleep": {},
	"internal/fileutil": {},
	"internal/pflate":   {},
	"internal/xlsxread": {},
	"internal/pipeline": {Ours: []string{"."}},
	"normalize":         {Ours: []string{"."}}, // phones, e-mails, names, masking: for cleaning and the formats alike
	"policy":            {Ours: []string{"."}},
	"seal/aeszip":       {Ours: []string{"internal/pflate"}},
	"seal":              {Ours: []string{".", "internal/pflate", "seal/aeszip"}},

	// Test helpers: only tests import them (no other rule lists them).
	"internal/openpyxl": {Watched: []string{"os/exec", "testing"}, Via: []string{testingFlag}},
	"internal/testorg":  {Ours: []string{"."}},
	"internal/fuzzseed": {},
	"internal/radicale": {Watched: []string{"os/exec", "testing"}, Via: []string{testingFlag}},

	// Sources and their simulators.
	"source/dingtalk":        {Ours: []string{".", "internal/ctxsleep"}},
	"source/dingtalk/stream": {Ours: []string{".", "internal/ctxsleep", "source/dingtalk"}},
	"source/dingtalk/sim":    {Ours: []string{".", "source/gen"}},
	"source/gen":             {Ours: []string{".", "internal/fileutil"}},
	"source/console":         {Ours: []string{".", "internal/fileutil", "internal/xlsxread", "normalize"}},
	"sink/gsheets":           {Ours: []string{".", "internal/ctxsleep"}},
	"sink/carddav":           {Ours: []string{"."}},
	"sink/gsheets/sim":       {},

	// Formats, cleaning, export.
	"format/csv":   {Ours: []string{".", "normalize"}},
	"format/jsonl": {Ours: []string{".", "normalize"}},
	"format/vcard": {Ours: []string{".", "internal/fileutil", "normalize"}},
	"format/xlsx":  {Ours: []string{".", "internal/pflate", "normalize"}},
	"clean":        {Ours: []string{".", "internal/pipeline", "normalize"}},
	"export":       {Ours: []string{".", "clean", "format/csv", "format/jsonl", "format/vcard", "format/xlsx", "internal/fileutil", "internal/pipeline", "normalize"}},
	"diff":         {Ours: []string{".", "export"}},

	// The store is the only package that imports database/sql (and the
	// SQLite driver); everything above it reaches os/signal through the
	// driver only.
	"store":   {Ours: []string{"."}, Watched: []string{"database/sql", "modernc.org"}, Via: []string{sqliteDriver}},
	"pull":    {Ours: []string{".", "source/dingtalk", "store"}, Via: []string{sqliteDriver}},
	"audit":   {Ours: []string{".", "internal/fileutil", "store"}, Via: []string{sqliteDriver}},
	"govern":  {Ours: []string{".", "audit", "internal/fileutil", "policy", "seal", "store"}, Via: []string{sqliteDriver}},
	"account": {Ours: []string{".", "audit", "format/csv", "govern", "internal/fileutil", "policy", "store"}, Via: []string{sqliteDriver}},

	// The use-case layer: every front end calls in here. It may use every
	// library package, never a front end, a simulator or a test helper.
	"app": {Ours: []string{".", "account", "audit", "clean", "diff", "export",
		"format/csv", "format/jsonl", "format/vcard", "format/xlsx", "govern", "internal/ctxsleep", "internal/fileutil",
		"normalize", "policy", "pull", "seal", "sink/carddav", "sink/gsheets", "source/console", "source/dingtalk",
		"source/dingtalk/stream", "source/gen", "store"}, Via: []string{sqliteDriver}},

	// The web front end (dingbook serve): HTTP over app, never flags,
	// signals or the terminal; DingTalk's login through source/dingtalk; the policy in force.
	"serve": {Ours: []string{".", "app", "policy", "source/dingtalk", "source/dingtalk/stream"}, Via: []string{sqliteDriver}},

	// The front end: flags, the terminal, signals, exit codes. It reaches
	// the simulators for `dingbook sim` and `demo`.
	"internal/cli": {Ours: []string{".", "account", "app", "audit", "clean", "diff", "export",
		"format/csv", "format/jsonl", "format/vcard", "format/xlsx", "govern", "internal/fileutil",
		"normalize", "policy", "pull", "seal", "serve", "sink/carddav", "sink/gsheets", "sink/gsheets/sim", "source/console",
		"source/dingtalk", "source/dingtalk/sim", "source/dingtalk/stream", "source/gen", "store"},
		Watched: []string{"flag", "os/signal", "golang.org/x/term"}, Process: true},
	"cmd/dingbook": {Ours: []string{"internal/cli"}, Watched: []string{"os/signal", "runtime/debug"}, Via: []string{sqliteDriver}, Process: true},

	// This package: test files only.
	"internal/archtest": {},
	// The load of scripts/bench-serve.sh (serve's benchmark runs it too):
	// HTTP and the domain.
	"scripts/serveload": {Ours: []string{"."}},
}

// loadModule is Load's answer for this module, loaded once for the tests.
var loadModule = sync.OnceValues(func() ([]Package, error) { return Load(filepath.Join("..", "..")) })

func module(t *testing.T) []Package {
	t.Helper()
	pkgs, err := loadModule()
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// TestLayering holds every package of the module to rules.
func TestLayering(t *testing.T) {
	bad, err := Check(module(t), rules)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Error(b)
	}
}

// TestRulesKeepTheLayers checks the table itself, so that loosening a rule
// that the issue fixes (issue 9: the domain imports nothing of ours, the
// formats no cleaning, store or governance, only the store SQL, no front end
// below the CLI) shows in this test, not only in review.
func TestRulesKeepTheLayers(t *testing.T) {
	if r := rules["."]; len(r.Ours)+len(r.Watched)+len(r.Via) != 0 || r.Process {
		t.Errorf("the domain's rule allows something: %+v", r)
	}
	for _, f := range formats {
		for _, no := range []string{"clean", "store", "govern", "audit", "app"} {
			if slices.Contains(rules[f].Ours, no) {
				t.Errorf("%s may import %s", f, no)
			}
		}
		// No loop between cleaning and the formats: cleaning gives its
		// report as data, export lays it out.
		if slices.Contains(rules["clean"].Ours, f) {
			t.Errorf("clean may import %s", f)
		}
	}
	if r := rules["normalize"]; !slices.Equal(r.Ours, []string{"."}) || len(r.Watched) != 0 {
		t.Errorf("normalize is a leaf over the domain, its rule says %+v", r)
	}
	// The done-when: `go list -deps` of governance, cleaning, export
	// and the formats holds none of flag, os/signal, golang.org/x/term;
	// governance only through the SQLite driver.
	for _, name := range append([]string{"clean", "export"}, formats...) {
		if r := rules[name]; len(r.Via) != 0 {
			t.Errorf("%s may reach a front-end package through %v", name, r.Via)
		}
	}
	for name, r := range rules {
		for _, w := range r.Watched {
			if w == "database/sql" || w == "modernc.org" {
				if name != "store" {
					t.Errorf("%s may import %s: only the store may", name, w)
				}
			}
			if slices.Contains(frontEnd, w) && name != "internal/cli" && name != "cmd/dingbook" {
				t.Errorf("%s may import %s: only the CLI may", name, w)
			}
		}
		for _, v := range r.Via {
			if v != sqliteDriver && !(v == testingFlag && strings.HasPrefix(name, "internal/")) {
				t.Errorf("%s may reach a front-end package through %s", name, v)
			}
		}
		if r.Process && name != "internal/cli" && name != "cmd/dingbook" {
			t.Errorf("%s may make process-wide calls", name)
		}
	}
}

// TestNoFrontEndBelowTheCLI is the done-when read literally: the
// dependencies (`go list -deps`) of cleaning, export and the formats hold
// none of flag, os/signal, golang.org/x/term, and governance's hold only
// what the SQLite driver brings (os/signal, imported by modernc.org/libc
// and nothing else there).
func TestNoFrontEndBelowTheCLI(t *testing.T) {
	pkgs := module(t)
	byPath := map[string]Package{}
	var mod string
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
		if p.Module != nil && p.Module.Main {
			mod = p.Module.Path
		}
	}
	for _, name := range append([]string{"clean", "export", "govern"}, formats...) {
		p, ok := byPath[mod+"/"+name]
		if !ok {
			t.Fatalf("no package %s", name)
		}
		for _, fe := range frontEnd {
			if !slices.Contains(p.Deps, fe) {
				continue
			}
			if name != "govern" || fe != "os/signal" {
				t.Errorf("%s depends on %s", name, fe)
				continue
			}
			for _, d := range p.Deps {
				if slices.Contains(byPath[d].Imports, fe) && d != sqliteDriver {
					t.Errorf("%s reaches %s through %s", name, fe, d)
				}
			}
		}
	}
}
