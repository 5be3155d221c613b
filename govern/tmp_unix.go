//go:build unix

package govern

import (
	"os"
	"syscall"
)

// lockDir takes an exclusive flock on dir/.lock for the life of the
// process; the kernel drops it when the process dies, even by SIGKILL, so
// Sweep can tell orphaned directories from live ones.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(dir+"/"+lockName, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// orphaned reports whether no live process holds dir's lock.
func orphaned(dir string) bool {
	f, err := os.OpenFile(dir+"/"+lockName, os.O_RDWR, 0)
	if err != nil {
		return false // no lock file yet: being created (Sweep also checks age)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return false
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return true
}
