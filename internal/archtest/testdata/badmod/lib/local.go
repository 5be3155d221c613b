package lib

import "os"

type exiter struct{ Exit func(int) }

// Local calls a local variable named os, not the package: no finding.
func Local(os exiter) { os.Exit(0) }

// Open uses the os package without a process-wide call: no finding.
func Open() error { _, err := os.Open("x"); return err }
