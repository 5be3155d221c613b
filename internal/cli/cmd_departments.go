package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/export"
)

func init() {
	Register(&Command{Name: "departments", Short: "the department tree of a snapshot, with ids and headcounts", Run: runDepartments})
}

// DeptInfo is one department in 'departments --json'.
type DeptInfo struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	ParentID int64  `json:"parent_id"`
	// Path is what --dept accepts: the names below the company joined by
	// "/" (the root's path is the company name).
	Path string `json:"path"`
	// Headcount counts the direct members, HeadcountWithSub the members of
	// the department and its sub-departments (each person once); active
	// or not.
	Headcount        int `json:"headcount"`
	HeadcountWithSub int `json:"headcount_with_sub"`
}

// DepartmentsOutput is what 'departments --json' prints.
type DepartmentsOutput struct {
	SnapshotID  int64      `json:"snapshot_id"`
	Org         string     `json:"org"`
	Departments []DeptInfo `json:"departments"`
}

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
	db, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	dir, id, err := openSnapshot(ctx, db, *snapID)
	if err != nil {
		return err
	}
	depts := dir.Departments()
	tree := dingbook.NewTree(depts)
	counts, err := export.Headcounts(ctx, dir, tree)
	if err != nil {
		return err
	}
	name, _ := dir.Info()
	out := DepartmentsOutput{SnapshotID: id, Org: name, Departments: []DeptInfo{}}
	depth := map[int64]int{}
	add := func(d *dingbook.Department, level int) {
		c := counts[d.ID]
		depth[d.ID] = level
		out.Departments = append(out.Departments, DeptInfo{ID: d.ID, Name: d.Name, ParentID: d.ParentID, Path: tree.PathString(d.ID, "/"),
			Headcount: c.Direct, HeadcountWithSub: c.Total})
	}
	// Parents before children: from each top (the root, or a department
	// whose parent is unknown), depth first in the tree's order.
	seen := map[int64]bool{}
	var walk func(id int64, level int)
	walk = func(id int64, level int) {
		if seen[id] {
			return
		}
		seen[id] = true
		add(tree.Dept(id), level)
		for _, c := range tree.Children(id) {
			walk(c, level+1)
		}
	}
	for i := range depts {
		d := &depts[i]
		if d.ParentID == 0 || d.ParentID == d.ID || tree.Dept(d.ParentID) == nil {
			walk(d.ID, 0)
		}
	}
	for i := range depts { // a cycle without a top
		walk(depts[i].ID, 0)
	}
	if *jsonOut {
		return printJSON(env, out)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "ID\tDIRECT\tWITH SUB\t\n")
	for _, d := range out.Departments {
		fmt.Fprintf(tw, "%s\t%d\t%d\t  %s%s\n", strconv.FormatInt(d.ID, 10), d.Headcount, d.HeadcountWithSub, strings.Repeat("  ", depth[d.ID]), d.Name)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "dingbook: %d departments of %s (snapshot %d); give 'export --dept' a path, a name or an id\n", len(out.Departments), name, id)
	return nil
}
