package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/govern"
)

func init() {
	Register(&Command{Name: "exports", Short: "list sealed exports with their expiry and state", Run: runExports})
}

func runExports(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && args[0] == "list" {
		args = args[1:]
	}
	fs := NewFlags(env, "exports", "exports [list] [--json]")
	asJSON := fs.Bool("json", false, "write JSON")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("exports: unexpected argument %q", fs.Arg(0)), Hint: "use 'dingbook exports list'"}
	}
	a, err := openApp(ctx, env)
	if err != nil {
		return err
	}
	defer a.Close()
	exps, err := a.Exports(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if exps == nil {
			exps = []govern.Export{}
		}
		return printJSON(env, exps)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tEXPIRES\tSTATE\tROWS\tSEAL\tPATH")
	for _, e := range exps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.Created.Local().Format("2006-01-02 15:04"), e.Expires.Local().Format("2006-01-02 15:04"), e.State, e.Rows, e.Seal, e.Path)
	}
	return tw.Flush()
}
