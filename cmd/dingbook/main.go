// Command dingbook takes a DingTalk organisation's address book out
// completely, correctly and lawfully. See README.md.
package main

import (
	"os"
	"runtime/debug"

	"github.com/dingbook/dingbook/internal/cli"
)

func main() {
	// Memory tuning is process-wide, so it is decided here, once, for
	// the command (cli.GCPercent says why).
	if pct, ok := cli.GCPercent(os.Args[1:]); ok && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(pct)
	}
	os.Exit(cli.MainOS(os.Args[1:]))
}
