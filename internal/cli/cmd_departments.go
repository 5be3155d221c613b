package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

func init() {
	Register(&Command{Name: "departments", Short: "the department tree of a snapshot, with ids and headcounts", Run: runDepartments})
}

// DeptInfo is one department in 'departments --json'.
type DeptInfo = app.DeptInfo

// DepartmentsOutput is what 'departments --json' prints.
type DepartmentsOutput = app.Departments

func runDepartments(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "departments", `departments [--snapshot ID] [--json]

The department tree of the latest snapshot (or --snapshot ID): each
department's id, its direct members and its members with sub-departments,
and the path that 'export --dept' accepts. --json prints
{"snapshot_id", "org", "departments": [{"id", "name", "parent_id", "path",
"headcount", "headcount_with_sub"}]}, parents before their children.`)
	snapID := fs.Int64("snapshot", 0, "this snapshot id (default: the latest)")
	jsonOut := fs.Bool("json", false, "print the tree as JSON on stdout")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "departments takes no arguments, got " + strings.Join(fs.Args(), " "), Hint: "run 'dingbook departments -h'"}
	}
	a, err := openApp(ctx, env)
	if err != nil {
		return err
	}
	defer a.Close()
	out, err := a.Departments(ctx, *snapID)
	if err != nil {
		return err
	}
	id, name := out.SnapshotID, out.Org
	if *jsonOut {
		return printJSON(env, out)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "ID\tDIRECT\tWITH SUB\t\n")
	for _, d := range out.Departments {
		fmt.Fprintf(tw, "%s\t%d\t%d\t  %s%s\n", strconv.FormatInt(d.ID, 10), d.Headcount, d.HeadcountWithSub, strings.Repeat("  ", d.Depth), d.Name)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "dingbook: %d departments of %s (snapshot %d); give 'export --dept' a path, a name or an id\n", len(out.Departments), name, id)
	return nil
}
