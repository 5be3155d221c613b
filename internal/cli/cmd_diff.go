package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/dingbook/dingbook"
)

func init() {
	Register(&Command{Name: "diff", Short: "what changed between two snapshots: joiners, leavers, moves, field changes", Run: runDiff})
}

// runDiff compares two stored snapshots (default: the last two; one id:
// that snapshot against the newest). It quotes old and new values only of
// the fields in the policy's default profile and names the other changed
// fields.
func runDiff(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "diff", "diff [SNAPSHOT_A] [SNAPSHOT_B] [--json]")
	jsonOut := fs.Bool("json", false, "print the report as JSON on stdout")
	pos, err := ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 2 {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: "diff takes at most two snapshot ids, got " + strings.Join(pos, " "),
			Hint: "run 'dingbook snapshots' to list them, then 'dingbook diff OLD NEW'"}
	}
	var ids []int64
	for _, a := range pos {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("snapshot id %q is not a number", a),
				Hint: "run 'dingbook snapshots' to list the ids"}
		}
		ids = append(ids, id)
	}
	a, err := openApp(ctx, env)
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.Diff(ctx, ids)
	if err != nil {
		return err
	}
	rep := res.Report
	if *jsonOut {
		return printJSON(env, rep)
	}
	if err := rep.WriteText(env.Stdout); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "dingbook: diff: values shown for %s (the policy's default profile %q); other changed fields are named only\n",
		strings.Join(rep.QuotedFields, ", "), res.Profile)
	return nil
}
