// Command dingbook takes a DingTalk organisation's address book out
// completely, correctly and lawfully. See README.md.
package main

import (
	"os"
	"runtime/debug"

	"github.com/dingbook/dingbook/internal/cli"
)

func main() {
	// Memory tuning is process-wide, so it is decided here, once: a
	// streamed member file may let the collector run less often.
	if os.Getenv("GOGC") == "" && cli.StreamsMemberFile(os.Args[1:]) {
		debug.SetGCPercent(cli.StreamGCPercent)
	}
	os.Exit(cli.MainOS(os.Args[1:]))
}
