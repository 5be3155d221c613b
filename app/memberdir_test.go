package app

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/source/console"
	"github.com/dingbook/dingbook/source/gen"
)

// TestMemberDirectoryDeptStreams: a department selection of a member file
// is served by the streamed source with the tree of a first pass (a
// *treeStream), not by the file read whole; so is manager_userid, its
// managers resolved from a first pass's index as the file read whole
// would resolve them.
func TestMemberDirectoryDeptStreams(t *testing.T) {
	dir := t.TempDir()
	truth := gen.Generate(gen.Options{Users: 300, Seed: 11})
	if _, err := export.Run(context.Background(), dingbook.OrgDirectory{Org: &truth.Org}, export.Options{
		Dir: dir, Formats: []string{"xlsx"}, Profile: "full", IncludeInactive: true, BaseName: "members"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "members.xlsx")
	org, _, err := console.ReadFile(path, console.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := export.Options{Formats: []string{"vcf"}, Fields: dingbook.Profiles["contact"], Depts: []string{"1"}}
	d, done, err := memberDirectory(context.Background(), path, console.Options{}, &opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer done(false)
	if ts, ok := d.(*treeStream); !ok || len(ts.Departments()) != len(org.Depts) {
		t.Errorf("department source %T, want a *treeStream with %d departments", d, len(org.Depts))
	}
	opts.Fields = append(opts.Fields, "manager_userid")
	d, done2, err := memberDirectory(context.Background(), path, console.Options{}, &opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer done2(false)
	if _, ok := d.(*treeStream); !ok {
		t.Fatalf("manager_userid source %T, want a *treeStream", d)
	}
	want := map[string]string{}
	for _, p := range org.People {
		want[p.UserID] = p.ManagerUserID
	}
	managers := 0
	if err := d.EachPerson(context.Background(), func(p *dingbook.Person) error {
		if p.ManagerUserID != want[p.UserID] {
			t.Errorf("%s: manager %q, the file read whole %q", p.UserID, p.ManagerUserID, want[p.UserID])
		}
		if p.ManagerUserID != "" {
			managers++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if managers == 0 {
		t.Error("no manager resolved")
	}
}
