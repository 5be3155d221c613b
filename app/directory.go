package app

import (
	"context"
	"fmt"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/diff"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

// DeptInfo is one department of a snapshot's tree.
type DeptInfo struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	ParentID int64  `json:"parent_id"`
	// Path is what a department selection accepts: the names below the
	// company joined by "/" (the root's path is the company name).
	Path string `json:"path"`
	// Headcount counts the direct members, HeadcountWithSub the members of
	// the department and its sub-departments (each person once); active
	// or not.
	Headcount        int `json:"headcount"`
	HeadcountWithSub int `json:"headcount_with_sub"`
	// Depth is the level below its top (0), for indenting.
	Depth int `json:"-"`
}

// Departments is a snapshot's department tree, parents before their
// children.
type Departments struct {
	SnapshotID  int64      `json:"snapshot_id"`
	Org         string     `json:"org"`
	Departments []DeptInfo `json:"departments"`
}

// snapshot opens snapshot id (0: the latest) as a streamed directory.
func (a *App) snapshot(ctx context.Context, id int64) (*store.SnapshotDirectory, int64, error) {
	if id == 0 {
		var err error
		if id, err = a.DB.LatestSnapshotID(ctx); err != nil {
			return nil, 0, err
		}
	}
	sd, err := a.DB.Directory(ctx, id)
	return sd, id, err
}

// Departments returns the department tree of snapshot id (0: the latest)
// with the ids and headcounts.
func (a *App) Departments(ctx context.Context, id int64) (*Departments, error) {
	dir, id, err := a.snapshot(ctx, id)
	if err != nil {
		return nil, err
	}
	return departmentsOf(ctx, dir, id)
}

// departmentsOf is Departments over any directory (the live directory's
// people in memory, too).
func departmentsOf(ctx context.Context, dir dingbook.Directory, id int64) (*Departments, error) {
	depts := dir.Departments()
	tree := dingbook.NewTree(depts)
	counts, err := export.Headcounts(ctx, dir, tree)
	if err != nil {
		return nil, err
	}
	name, _ := dir.Info()
	out := &Departments{SnapshotID: id, Org: name, Departments: []DeptInfo{}}
	// Parents before children: from each top (the root, or a department
	// whose parent is unknown), depth first in the tree's order.
	seen := map[int64]bool{}
	var walk func(id int64, level int)
	walk = func(id int64, level int) {
		if seen[id] {
			return
		}
		seen[id] = true
		d, c := tree.Dept(id), counts[id]
		out.Departments = append(out.Departments, DeptInfo{ID: d.ID, Name: d.Name, ParentID: d.ParentID, Path: tree.PathString(d.ID, "/"),
			Headcount: c.Direct, HeadcountWithSub: c.Total, Depth: level})
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
	return out, nil
}

// DiffResult is what changed between two snapshots, quoting values only of
// the fields of the policy's default profile (Profile).
type DiffResult struct {
	*diff.Report
	Profile string
}

// Diff compares two stored snapshots: ids[0] against ids[1]; with one id,
// that snapshot against the newest; with none, the last two. It quotes
// the fields of the default profile of the state directory's policy.
func (a *App) Diff(ctx context.Context, ids []int64) (*DiffResult, error) {
	return a.diff(ctx, ids, nil)
}

// diff is Diff under pol (nil: the state directory's policy file).
func (a *App) diff(ctx context.Context, ids []int64, pol *policy.Policy) (*DiffResult, error) {
	list, err := a.DB.Snapshots(ctx) // newest first
	if err != nil {
		return nil, err
	}
	info := map[int64]store.SnapshotInfo{}
	for _, s := range list {
		info[s.ID] = s
	}
	switch len(ids) {
	case 0:
		if len(list) < 2 {
			return nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("diff needs two snapshots; the state database holds %d", len(list)),
				Hint: "pull (or import a member file) again later, then compare"}
		}
		ids = []int64{list[1].ID, list[0].ID}
	case 1:
		ids = append(ids, list[0].ID)
	}
	for _, id := range ids {
		if _, ok := info[id]; !ok {
			return nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("no snapshot %d", id), Hint: "choose one of the stored snapshots", Field: "snapshot"}
		}
	}
	sa, sb := info[ids[0]], info[ids[1]]
	if sa.CorpID != "" && sb.CorpID != "" && sa.CorpID != sb.CorpID {
		return nil, &dingbook.Error{Code: dingbook.EINVALID,
			Message: fmt.Sprintf("snapshots %d and %d are of different organisations (%s, %s)", sa.ID, sb.ID, sa.OrgName, sb.OrgName),
			Hint:    "compare two snapshots of one organisation", Field: "snapshot"}
	}
	if pol == nil {
		if pol, _, err = DefaultProfileFields(a.DB.Dir); err != nil {
			return nil, err
		}
	}
	quoted, _ := pol.ProfileFields(pol.DefaultProfile)
	da, err := a.DB.Directory(ctx, sa.ID)
	if err != nil {
		return nil, err
	}
	db, err := a.DB.Directory(ctx, sb.ID)
	if err != nil {
		return nil, err
	}
	rep, err := diff.Compare(ctx, da, db, diff.Options{Quoted: quoted})
	if err != nil {
		return nil, err
	}
	rep.From.Snapshot, rep.From.TakenAt = sa.ID, sa.TakenAt.UTC().Format(time.RFC3339)
	rep.To.Snapshot, rep.To.TakenAt = sb.ID, sb.TakenAt.UTC().Format(time.RFC3339)
	return &DiffResult{Report: rep, Profile: pol.DefaultProfile}, nil
}

// DefaultProfileFields loads the policy of the state directory home
// (without recording it) and returns it with the fields of its default
// profile: what a report that leaves the export path (a quality report
// file, a diff) may quote.
func DefaultProfileFields(home string) (*policy.Policy, []string, error) {
	pp, missingOK := policy.Path("", home)
	pol, err := policy.Load(pp, missingOK)
	if err != nil {
		return nil, nil, err
	}
	fields, _ := pol.ProfileFields(pol.DefaultProfile)
	return pol, fields, nil
}
