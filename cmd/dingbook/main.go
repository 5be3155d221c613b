// Command dingbook takes a DingTalk organisation's address book out
// completely, correctly and lawfully. See README.md.
package main

import (
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

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
	// So are signal handlers: SIGINT and SIGTERM cancel the command.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	os.Exit(cli.MainOS(os.Args[1:], sigs))
}
