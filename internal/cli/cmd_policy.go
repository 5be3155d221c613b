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
		fmt.Fprintln(env.Stdout, "Usage: dingbook policy show [--policy FILE] [--json] | policy check [--json] [FILE]")
		return nil
	}
	if len(args) == 0 || (args[0] != "show" && args[0] != "check") {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "policy needs 'show' or 'check'", Hint: "use 'dingbook policy show [--policy FILE]' or 'dingbook policy check [FILE]'"}
	}
	sub, args := args[0], args[1:]
	fs := NewFlags(env, "policy "+sub, "policy show [--policy FILE] [--json] | policy check [--json] [FILE]")
	polPath := fs.String("policy", "", "policy file (default $DINGBOOK_HOME/policy.yaml)")
	asJSON := fs.Bool("json", false, "write JSON")
	pos, err := ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 || len(pos) == 1 && sub == "show" {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("policy %s: unexpected argument %q", sub, pos[len(pos)-1]), Hint: "use 'dingbook policy show [--policy FILE]' or 'dingbook policy check [FILE]'"}
	}
	if sub == "check" {
		path := *polPath
		if len(pos) > 0 {
			path = pos[0]
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
		if *asJSON {
			return printJSON(env, struct {
				OK     bool   `json:"ok"`
				Source string `json:"source"`
				SHA256 string `json:"sha256"`
			}{true, pol.Source, pol.Hash})
		}
		fmt.Fprintf(env.Stdout, "policy OK: %s (sha256 %s)\n", pol.Source, pol.Hash)
		return nil
	}
	a, pol, err := openWithPolicy(ctx, env, *polPath)
	if err != nil {
		return err
	}
	defer a.Close()
	if *asJSON {
		return printJSON(env, pol)
	}
	fmt.Fprintf(env.Stdout, "# policy from %s (sha256 %s)\n", pol.Source, pol.Hash)
	_, err = env.Stdout.Write(pol.YAML())
	return err
}
