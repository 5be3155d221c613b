// Command dingbook takes a DingTalk organisation's address book out
// completely, correctly and lawfully. See README.md.
package main

import (
	"os"

	"github.com/dingbook/dingbook/internal/cli"
)

func main() {
	os.Exit(cli.MainOS(os.Args[1:]))
}
