package fileutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestAtomicWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.csv")
	f, err := Create(p, false)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("half")
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatal("the final path exists before Commit")
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("after Commit: %v %v", fi, err)
	}
	if _, err := Create(p, false); err == nil {
		t.Fatal("Create replaced an existing file without overwrite")
	}
	if err := WriteFile(p, []byte("new"), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("overwrite: %q", b)
	}
	// Abort leaves nothing behind.
	g, err := Create(filepath.Join(dir, "aborted"), false)
	if err != nil {
		t.Fatal(err)
	}
	g.WriteString("secret")
	g.Abort()
	g.Abort()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestPrivateDir(t *testing.T) {
	d, wipe, err := PrivateDir(t.TempDir(), "x-*")
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(d)
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	os.WriteFile(filepath.Join(d, "plain"), []byte("x"), 0o600)
	wipe()
	if _, err := os.Stat(d); !os.IsNotExist(err) {
		t.Fatal("not wiped")
	}
}
