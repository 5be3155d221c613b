package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/diff"
	"github.com/dingbook/dingbook/store"
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
	db, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	list, err := db.Snapshots(ctx) // newest first
	if err != nil {
		return err
	}
	info := map[int64]store.SnapshotInfo{}
	for _, s := range list {
		info[s.ID] = s
	}
	switch len(ids) {
	case 0:
		if len(list) < 2 {
			return &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("diff needs two snapshots; the state database holds %d", len(list)),
				Hint: "run 'dingbook pull' (or 'dingbook import FILE') again later, then 'dingbook diff'"}
		}
		ids = []int64{list[1].ID, list[0].ID}
	case 1:
		ids = append(ids, list[0].ID)
	}
	for _, id := range ids {
		if _, ok := info[id]; !ok {
			return &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("no snapshot %d", id), Hint: "run 'dingbook snapshots' to list them"}
		}
	}
	a, b := info[ids[0]], info[ids[1]]
	if a.CorpID != "" && b.CorpID != "" && a.CorpID != b.CorpID {
		return &dingbook.Error{Code: dingbook.EINVALID,
			Message: fmt.Sprintf("snapshots %d and %d are of different organisations (%s, %s)", a.ID, b.ID, a.OrgName, b.OrgName),
			Hint:    "compare two snapshots of one organisation; 'dingbook snapshots' lists them"}
	}
	pol, quoted, err := defaultProfileFields(env)
	if err != nil {
		return err
	}
	da, err := db.Directory(ctx, a.ID)
	if err != nil {
		return err
	}
	dbb, err := db.Directory(ctx, b.ID)
	if err != nil {
		return err
	}
	rep, err := diff.Compare(ctx, da, dbb, diff.Options{Quoted: quoted})
	if err != nil {
		return err
	}
	rep.From.Snapshot, rep.From.TakenAt = a.ID, a.TakenAt.UTC().Format(time.RFC3339)
	rep.To.Snapshot, rep.To.TakenAt = b.ID, b.TakenAt.UTC().Format(time.RFC3339)
	if *jsonOut {
		return printJSON(env, rep)
	}
	if err := rep.WriteText(env.Stdout); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "dingbook: diff: values shown for %s (the policy's default profile %q); other changed fields are named only\n",
		strings.Join(rep.QuotedFields, ", "), pol.DefaultProfile)
	return nil
}
