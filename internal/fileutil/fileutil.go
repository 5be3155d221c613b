// Package fileutil writes files the way dingbook promises: mode 0600,
// atomically (never a half-written file at a final path), and keeps
// plaintext in private 0700 temporary directories that are always removed.
package fileutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// File is a file being written atomically: data goes to a hidden temporary
// file beside the final path; Commit fsyncs and renames it into place,
// Abort (safe to call after Commit) removes it.
type File struct {
	*os.File
	final string
	done  bool
}

// Create starts an atomic write of path with mode 0600. It refuses to
// replace an existing file unless overwrite is true.
func Create(path string, overwrite bool) (*File, error) {
	if !overwrite {
		if _, err := os.Lstat(path); err == nil {
			return nil, fmt.Errorf("%s already exists", path)
		}
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &File{File: f, final: path}, nil
}

// Path returns the final path.
func (f *File) Path() string { return f.final }

// Commit flushes the data to disk and renames the file into place.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("%s: already committed or aborted", f.final)
	}
	f.done = true
	if err := f.File.Sync(); err != nil {
		f.File.Close()
		os.Remove(f.File.Name())
		return err
	}
	if err := f.File.Close(); err != nil {
		os.Remove(f.File.Name())
		return err
	}
	if err := os.Rename(f.File.Name(), f.final); err != nil {
		os.Remove(f.File.Name())
		return err
	}
	if d, err := os.Open(filepath.Dir(f.final)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Abort discards the temporary file. It is a no-op after Commit.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.File.Name())
}

// WriteFile writes data to path atomically with mode 0600.
func WriteFile(path string, data []byte, overwrite bool) error {
	f, err := Create(path, overwrite)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// PrivateDir creates a 0700 temporary directory under parent ("" for the
// system default) and returns it with a cleanup function that wipes it.
// Callers defer the cleanup so the directory goes even on error.
func PrivateDir(parent, pattern string) (string, func(), error) {
	dir, err := os.MkdirTemp(parent, pattern)
	if err != nil {
		return "", func() {}, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return "", func() {}, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// MkdirPrivate creates dir (and parents) with mode 0700.
func MkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return nil
}

// LockName is the lock file inside a LockedDir.
const LockName = ".lock"

// LockedDir is PrivateDir (parent is created 0700 if missing) holding a
// lock for the life of the process, so that SweepDir removes it once the
// process is gone, even after a kill -9. The cleanup function wipes the
// directory and releases the lock; it is safe to call many times and
// from several goroutines.
func LockedDir(parent, pattern string) (string, func(), error) {
	if parent != "" {
		if err := MkdirPrivate(parent); err != nil {
			return "", func() {}, err
		}
	}
	dir, rm, err := PrivateDir(parent, pattern)
	if err != nil {
		return "", func() {}, err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		rm()
		return "", func() {}, err
	}
	var mu sync.Mutex
	return dir, func() {
		mu.Lock()
		defer mu.Unlock()
		rm()
		unlock()
	}, nil
}

// SweepDir removes the directories under root that no live process holds:
// LockedDirs whose process died, and directories without a lock file
// older than ten minutes (made by a process killed before it could lock
// them). It returns the directories removed.
func SweepDir(root string) []string {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		stale := Orphaned(dir)
		if !stale {
			if _, err := os.Stat(filepath.Join(dir, LockName)); errors.Is(err, os.ErrNotExist) {
				if st, err := os.Stat(dir); err == nil && time.Since(st.ModTime()) > 10*time.Minute {
					stale = true
				}
			}
		}
		if stale && os.RemoveAll(dir) == nil {
			removed = append(removed, dir)
		}
	}
	return removed
}
