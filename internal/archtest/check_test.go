// Package archtest holds the module's layering to its rules (rules_test.go):
// per package, which of the module's packages it may import, which watched
// imports (SQL, flags, signals, the terminal, process settings, test
// helpers) it may make, through which outside packages its dependencies may
// reach flag, os/signal or golang.org/x/term, and whether it may make
// process-wide calls. The package has test files only: nothing in the
// binary imports it.
package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Package is what the checker knows of one package: `go list -deps -json`'s
// fields it reads.
type Package struct {
	ImportPath string
	Dir        string
	GoFiles    []string // non-test files, relative to Dir
	Imports    []string // direct imports of GoFiles
	Deps       []string // every package GoFiles reach
	Module     *struct {
		Path string
		Main bool
	}
}

// Rule says what one package of the module may do.
type Rule struct {
	// Ours lists the module's packages it may import, relative to the
	// module ("." is the root package).
	Ours []string
	// Watched lists the watched imports (see watched) it may make.
	Watched []string
	// Via lists the outside packages through which its dependencies may
	// reach flag, os/signal or golang.org/x/term.
	Via []string
	// Process allows the process-wide calls (see processCalls).
	Process bool
}

// watched are the imports a package makes only where its rule says so: an
// entry covers its path and everything below it.
var watched = []string{
	"database/sql", // the store's, with its driver
	"modernc.org",
	"flag", // the terminal's front end
	"os/signal",
	"golang.org/x/term",
	"runtime/debug", // process-wide memory settings
	"os/exec",       // other programs: test helpers only
	"testing",
}

// frontEnd are the packages no package below a front end may reach, not
// even through its dependencies, except through its rule's Via.
var frontEnd = []string{"flag", "os/signal", "golang.org/x/term"}

// processCalls are the process-wide calls, by import path and name, that
// only a front end makes: settings one concurrent job would change under
// another, the process's exit, its environment and its terminal.
var processCalls = map[string][]string{
	"runtime/debug": {"SetGCPercent", "SetMemoryLimit", "FreeOSMemory", "SetMaxThreads", "SetMaxStack"},
	"runtime":       {"GC"},
	"os/signal":     {"Notify", "NotifyContext", "Ignore", "Reset", "Stop"},
	"os":            {"Exit", "Getenv", "LookupEnv", "Environ", "Setenv", "Unsetenv", "Clearenv", "Stdin", "Stdout", "Stderr"},
	"syscall":       {"Exit", "Getenv", "Setenv", "Environ"},
}

// Load runs `go list -deps -json ./...` in dir, the root of a module.
func Load(dir string) ([]Package, error) {
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %v: %s", dir, err, stderr.Bytes())
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p Package
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, statTree(dir)
		} else if err != nil {
			return nil, fmt.Errorf("go list in %s: %v", dir, err)
		}
		pkgs = append(pkgs, p)
	}
}

// statTree looks at every folder and Go file below dir (as go list does:
// not testdata, nor names starting with . or _) from this process, so
// that go test's cache, which sees only what the test itself opens, runs
// the check again when a package or an import changes.
func statTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != dir && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum") {
			_, err = os.Stat(path)
		}
		return err
	})
}

// Check holds every package of the main module in pkgs (Load's answer) to
// rules, keyed by the path relative to the module ("." for its root), and
// returns every breach, one a line, in a stable order.
func Check(pkgs []Package, rules map[string]Rule) ([]string, error) {
	var bad []string
	importers := map[string][]string{} // package → the packages importing it, across the graph
	var mod string
	for _, p := range pkgs {
		for _, imp := range p.Imports {
			importers[imp] = append(importers[imp], p.ImportPath)
		}
		if p.Module != nil && p.Module.Main {
			mod = p.Module.Path
		}
	}
	rel := func(path string) (string, bool) {
		if path == mod {
			return ".", true
		}
		r, ok := strings.CutPrefix(path, mod+"/")
		return r, ok && mod != ""
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		if p.Module == nil || !p.Module.Main {
			continue
		}
		name, _ := rel(p.ImportPath)
		seen[name] = true
		rule, ok := rules[name]
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: no rule: add one to the rule table", name))
			continue
		}
		for _, imp := range p.Imports {
			if r, ours := rel(imp); ours {
				if !slices.Contains(rule.Ours, r) {
					bad = append(bad, fmt.Sprintf("%s: imports %s", name, r))
				}
			} else if w := watchedAs(imp); w != "" && !slices.Contains(rule.Watched, w) {
				bad = append(bad, fmt.Sprintf("%s: imports %s", name, imp))
			}
		}
		deps := append([]string{p.ImportPath}, p.Deps...)
		for _, fe := range frontEnd {
			if !slices.Contains(p.Deps, fe) || slices.Contains(rule.Watched, fe) {
				continue
			}
			for _, from := range importers[fe] {
				// The module's own importers answer to their own rules.
				if _, ours := rel(from); ours || !slices.Contains(deps, from) || slices.Contains(rule.Via, from) {
					continue
				}
				bad = append(bad, fmt.Sprintf("%s: reaches %s through %s", name, fe, from))
			}
		}
		if !rule.Process {
			for _, f := range p.GoFiles {
				calls, err := ProcessCalls(filepath.Join(p.Dir, f), nil)
				if err != nil {
					return nil, err
				}
				for _, c := range calls {
					bad = append(bad, fmt.Sprintf("%s: %s:%s", name, f, c))
				}
			}
		}
	}
	for name := range rules {
		if !seen[name] {
			bad = append(bad, fmt.Sprintf("%s: rule for a package that does not exist: remove it", name))
		}
	}
	slices.Sort(bad)
	return slices.Compact(bad), nil
}

// watchedAs returns the entry of watched that covers imp, or "".
func watchedAs(imp string) string {
	for _, w := range watched {
		if imp == w || strings.HasPrefix(imp, w+"/") {
			return w
		}
	}
	return ""
}

// ProcessCalls lists the uses of processCalls in one Go file (src as
// go/parser.ParseFile takes it; nil reads the file), as "line: path.Name".
// A use is a selector on the file's import of the package, under whatever
// name it is imported; a local variable of the same name is not one.
func ProcessCalls(filename string, src any) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, 0)
	if err != nil {
		return nil, err
	}
	names := map[string]string{} // the file's name for an import → its path
	for _, spec := range f.Imports {
		path, _ := strconv.Unquote(spec.Path.Value)
		if _, ok := processCalls[path]; !ok {
			continue
		}
		name := filepath.Base(path)
		if spec.Name != nil {
			name = spec.Name.Name
		}
		names[name] = path
	}
	var uses []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		id, ok := sel.X.(*ast.Ident)
		if !ok || id.Obj != nil { // a resolved identifier is a local, not the import
			return true
		}
		if path, ok := names[id.Name]; ok && slices.Contains(processCalls[path], sel.Sel.Name) {
			uses = append(uses, fmt.Sprintf("%d: %s.%s", fset.Position(sel.Pos()).Line, path, sel.Sel.Name))
		}
		return true
	})
	return uses, nil
}
