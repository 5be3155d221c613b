//go:build !unix

package fileutil

import (
	"os"
	"path/filepath"
	"time"
)

func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, LockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}

// Orphaned: without flock, a directory older than a day is taken as left
// behind.
func Orphaned(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && time.Since(st.ModTime()) > 24*time.Hour
}
