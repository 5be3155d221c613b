package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/dingbook/dingbook/store"
)

func init() {
	Register(&Command{Name: "snapshots", Short: "list the stored snapshots, newest first", Run: runSnapshots})
}

func runSnapshots(ctx context.Context, env *Env, args []string) error {
	fs := NewFlags(env, "snapshots", "snapshots [--json]")
	jsonOut := fs.Bool("json", false, "print the list as JSON on stdout")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	a, err := openApp(ctx, env)
	if err != nil {
		return err
	}
	defer a.Close()
	list, err := a.Snapshots(ctx)
	if err != nil {
		return err
	}
	if *jsonOut {
		if list == nil {
			list = []store.SnapshotInfo{}
		}
		printJSON(env, list)
		return nil
	}
	if len(list) == 0 {
		fmt.Fprintln(env.Stderr, "dingbook: no snapshots yet; run 'dingbook pull' (or 'dingbook import FILE')")
		return nil
	}
	fmt.Fprintf(env.Stdout, "%-5s %-20s %-10s %6s %7s  %s\n", "ID", "TAKEN (UTC)", "COMPLETE", "DEPTS", "PEOPLE", "ORGANISATION / SOURCE")
	for _, s := range list {
		c := "yes"
		if !s.Complete {
			c = "NO"
		}
		fmt.Fprintf(env.Stdout, "%-5d %-20s %-10s %6d %7d  %s (%s)\n", s.ID, s.TakenAt.UTC().Format(time.DateTime), c, s.Departments, s.People, s.OrgName, s.Source)
	}
	return nil
}
