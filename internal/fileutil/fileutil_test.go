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

// TestSweepSparesDirsBeingLocked: a SweepDir running beside LockedDir (two
// exports of one process) never removes a live directory, not even one
// caught between creating its lock file and locking it.
func TestSweepSparesDirsBeingLocked(t *testing.T) {
	root := t.TempDir()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				SweepDir(root)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	for i := 0; i < 500; i++ {
		dir, rm, err := LockedDir(root, "export-*")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "data"), []byte("x"), 0o600); err != nil {
			t.Fatalf("live directory %d swept: %v", i, err)
		}
		if _, err := os.Stat(filepath.Join(dir, LockName)); err != nil {
			t.Fatalf("live directory %d swept: %v", i, err)
		}
		rm()
	}
}
