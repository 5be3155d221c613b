//go:build !unix

package govern

import (
	"os"
	"time"
)

func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(dir+"/"+lockName, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}

// orphaned: without flock, a directory older than a day is taken as left
// behind.
func orphaned(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && time.Since(st.ModTime()) > 24*time.Hour
}
