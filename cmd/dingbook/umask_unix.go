//go:build unix

package main

import "syscall"

// Everything dingbook creates holds or guards personal data: whatever a
// library creates (temporary files, the SQLite WAL) is private too.
func init() { syscall.Umask(0o077) }
