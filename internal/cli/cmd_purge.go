package cli

import (
	"context"
	"fmt"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/sink/gsheets"
)

func init() {
	Register(&Command{Name: "purge", Short: "delete expired exports and old snapshots (as the policy says)", Run: runPurge})
}

func runPurge(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "purge", "purge [--dry-run] [--policy FILE] [--json]")
	dry := fs.Bool("dry-run", false, "only show what would be deleted")
	polPath := fs.String("policy", "", "policy file (default $DINGBOOK_HOME/policy.yaml)")
	asJSON := fs.Bool("json", false, "write JSON")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("purge: unexpected argument %q", fs.Arg(0)), Hint: "run 'dingbook purge --dry-run' to see what would go"}
	}
	a, pol, err := openWithPolicy(ctx, env, *polPath)
	if err != nil {
		return err
	}
	defer a.Close()
	opt := govern.PurgeOptions{DryRun: *dry, Actor: env.Actor}
	if env.Getenv(gsheets.CredentialsEnv) != "" {
		opt.ClearSheet = func(ctx context.Context, s govern.PushedSheet) (int, error) {
			return clearSheet(ctx, env, s)
		}
	}
	items, err := a.Purge(ctx, pol, opt)
	if *asJSON {
		if items == nil {
			items = []govern.PurgeItem{}
		}
		if perr := printJSON(env, items); err == nil {
			err = perr
		}
	} else {
		verb := "deleted"
		if *dry {
			verb = "would delete"
		}
		for _, it := range items {
			what := it.ID
			if it.Path != "" {
				what += " " + it.Path
			}
			fmt.Fprintf(env.Stdout, "%s %s %s (%s)\n", verb, it.Kind, what, it.Why)
		}
		if len(items) == 0 {
			fmt.Fprintln(env.Stderr, "dingbook: nothing to purge")
		}
	}
	return err
}
