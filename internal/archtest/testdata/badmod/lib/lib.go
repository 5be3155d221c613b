// Package lib makes process-wide calls under another import name.
package lib

import (
	"runtime/debug"

	osx "os"
)

// Quit exits and reads the environment.
func Quit() string {
	debug.SetGCPercent(10)
	defer osx.Exit(1)
	return osx.Getenv("HOME")
}
