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
	// the command (cli.GCPercent and cli.MemoryLimit say why).
	if pct, ok := cli.GCPercent(os.Args[1:]); ok && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(pct)
		if limit, ok := cli.MemoryLimit(os.Args[1:]); ok && os.Getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(limit)
		}
	}
	os.Exit(cli.MainOS(os.Args[1:]))
}
