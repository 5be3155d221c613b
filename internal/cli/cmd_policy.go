package cli

import (
	"context"
	"fmt"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

func init() {
	Register(&Command{Name: "policy", Short: "show or check the export policy", Run: runPolicy})
}

func runPolicy(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(env.Stdout, "Usage: dingbook policy show [--policy FILE] [--json] | policy check [FILE]")
		return nil
	}
	if len(args) == 0 || (args[0] != "show" && args[0] != "check") {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "policy needs 'show' or 'check'", Hint: "use 'dingbook policy show [--policy FILE]' or 'dingbook policy check [FILE]'"}
	}
	sub, args := args[0], args[1:]
	fs := NewFlags(env, "policy "+sub, "policy show [--policy FILE] [--json] | policy check [FILE]")
	polPath := fs.String("policy", "", "policy file (default $DINGBOOK_HOME/policy.yaml)")
	asJSON := fs.Bool("json", false, "write JSON")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if sub == "check" {
		path := *polPath
		if fs.NArg() > 0 {
			path = fs.Arg(0)
		}
		missingOK := false
		if path == "" {
			home, err := store.Home(env.Getenv)
			if err != nil {
				return err
			}
			path, missingOK = policy.Path("", home)
		} else {
			path = env.Path(path)
		}
		pol, err := policy.Load(path, missingOK)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "policy OK: %s (sha256 %s)\n", pol.Source, pol.Hash)
		return nil
	}
	db, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	pol, err := loadPolicy(ctx, env, db, *polPath)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, pol)
	}
	fmt.Fprintf(env.Stdout, "# policy from %s (sha256 %s)\n", pol.Source, pol.Hash)
	_, err = env.Stdout.Write(pol.YAML())
	return err
}
