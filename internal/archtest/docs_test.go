package archtest

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestArchitectureListsEveryPackage: docs/architecture.md's folder table has
// a row for every package of the module (test-only packages included), and
// every folder it names exists.
func TestArchitectureListsEveryPackage(t *testing.T) {
	root := filepath.Join("..", "..")
	pkgs := module(t)
	f, err := os.Open(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]bool{}
	folder := regexp.MustCompile("`([^`]+)`")
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) < 4 || !strings.HasPrefix(sc.Text(), "| `") {
			continue
		}
		for _, m := range folder.FindAllStringSubmatch(cells[1], -1) {
			dir := strings.Trim(m[1], "/")
			if dir == "" {
				dir = "."
			}
			listed[dir] = true
			if _, err := os.Stat(filepath.Join(root, dir)); err != nil {
				t.Errorf("architecture.md names %s: %v", m[1], err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		if p.Module == nil || !p.Module.Main {
			continue
		}
		dir := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, p.Module.Path), "/")
		if dir == "" {
			dir = "."
		}
		if !listed[dir] {
			t.Errorf("architecture.md has no row for %s", dir)
		}
	}
}
