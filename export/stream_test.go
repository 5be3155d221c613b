package export_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/source/console"
	"github.com/dingbook/dingbook/source/gen"
	"github.com/dingbook/dingbook/store"
	"github.com/xuri/excelize/v2"
)

// reusingDir hands out one Person and one Depts buffer for everybody (as
// the Directory contract allows), has no userid lister (so a quality
// export analyses it in a pass of its own), and can fail or cancel after
// a number of people.
type reusingDir struct {
	org      *dingbook.Org
	failAt   int
	cancelAt int
	cancel   context.CancelFunc
}

var errSource = errors.New("source broke")

func (d reusingDir) Info() (string, string)             { return d.org.Name, d.org.CorpID }
func (d reusingDir) Departments() []dingbook.Department { return d.org.Depts }
func (d reusingDir) EachPerson(ctx context.Context, fn func(*dingbook.Person) error) error {
	var p dingbook.Person
	buf := make([]dingbook.Membership, 0, 8)
	for i, src := range d.org.People {
		if err := ctx.Err(); err != nil {
			return err
		}
		if i == d.failAt && d.failAt > 0 {
			return errSource
		}
		if i == d.cancelAt && d.cancelAt > 0 {
			d.cancel()
		}
		p = src
		buf = append(buf[:0], src.Depts...)
		p.Depts = buf
		if err := fn(&p); err != nil {
			return err
		}
		p.Name, buf[0].DeptID = "overwritten", -1 // a reused Person must not leak into rows already handed on
	}
	return nil
}

func sheetRows(t *testing.T, path string) map[string][][]string {
	t.Helper()
	x, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	out := map[string][][]string{}
	for _, s := range x.GetSheetList() {
		rows, err := x.GetRows(s)
		if err != nil {
			t.Fatal(err)
		}
		out[s] = rows
	}
	return out
}

// TestQualitySinglePassEqualsTwoPasses: the export that analyses as it
// writes (the directory lists its userids) and the one that analyses in
// a pass of its own first (it does not) write the same workbook: every
// cell of every sheet, the status column included. The second directory
// also reuses its Person between calls, which the pipeline must survive.
//
// The same holds for an export of one department (with its
// sub-departments) in the minimal profile with hidden mobiles left out,
// whose report covers only the exported people.
func TestQualitySinglePassEqualsTwoPasses(t *testing.T) {
	truth := gen.Generate(gen.Options{Users: 3000, Seed: 5})
	org := &truth.Org
	tree := dingbook.NewTree(org.Depts)
	var big int64 // the department with the most sub-departments
	for _, d := range org.Depts {
		if d.ID != dingbook.RootDeptID && len(tree.Descendants(d.ID)) > len(tree.Descendants(big)) {
			big = d.ID
		}
	}
	inBig := map[int64]bool{}
	for _, id := range tree.Descendants(big) {
		inBig[id] = true
	}
	scoped := 0
	for _, p := range org.People {
		if p.Active && slices.ContainsFunc(p.Depts, func(m dingbook.Membership) bool { return inBig[m.DeptID] }) {
			scoped++
		}
	}
	if len(inBig) < 3 || scoped < 100 {
		t.Fatalf("department %d: %d departments, %d active people", big, len(inBig), scoped)
	}
	for _, c := range []struct {
		name string
		opts export.Options
		rows int
	}{
		{"whole org", export.Options{Profile: "full", IncludeInactive: true}, len(org.People)},
		{"one department", export.Options{Profile: "minimal", Depts: []string{strconv.FormatInt(big, 10)}, HideHiddenMobiles: true}, scoped},
	} {
		t.Run(c.name, func(t *testing.T) { singlePassEqualsTwoPasses(t, org, c.opts, c.rows) })
	}
}

func singlePassEqualsTwoPasses(t *testing.T, org *dingbook.Org, opts export.Options, rows int) {
	run := func(d dingbook.Directory) map[string][][]string {
		o := opts
		o.Dir, o.Formats, o.Headers, o.Quality, o.QualitySize = t.TempDir(), []string{"xlsx", "jsonl"}, "en", true, len(org.People)
		res, err := export.Run(context.Background(), d, o)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != rows || res.Quality.People != rows {
			t.Fatalf("%d rows, a report of %d people, want %d", res.Rows, res.Quality.People, rows)
		}
		return sheetRows(t, res.Files[0].Path)
	}
	single := run(dingbook.OrgDirectory{Org: org})
	double := run(reusingDir{org: org})
	// A stored snapshot: managers checked against the list recorded when
	// it was saved, and (as for a snapshot saved before that list
	// existed) against its listed userids.
	ctx := context.Background()
	db, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snap := &dingbook.Snapshot{Source: "test", TakenAt: time.Now(), Org: *org}
	if err := db.SaveSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	sd, err := db.Directory(ctx, snap.ID)
	if err != nil {
		t.Fatal(err)
	}
	recorded := run(sd)
	if _, err := db.ExecContext(ctx, `UPDATE snapshot SET missing_managers = NULL WHERE id = ?`, snap.ID); err != nil {
		t.Fatal(err)
	}
	listed := run(sd)
	if !reflect.DeepEqual(single, recorded) || !reflect.DeepEqual(single, listed) {
		t.Fatal("a stored snapshot's workbook differs from the in-memory org's")
	}
	if !reflect.DeepEqual(single, double) {
		for s := range single {
			if !reflect.DeepEqual(single[s], double[s]) {
				for i := range single[s] {
					if i >= len(double[s]) || !reflect.DeepEqual(single[s][i], double[s][i]) {
						t.Fatalf("sheet %s row %d:\nsingle pass %q\ntwo passes  %q", s, i, single[s][i], double[s][min(i, len(double[s])-1)])
					}
				}
			}
		}
		t.Fatal("workbooks differ")
	}
	main := single["通讯录"]
	col := -1
	for i, h := range main[0] {
		if h == "Status" {
			col = i
		}
	}
	counts := map[string]int{}
	for _, r := range main[1:] {
		counts[r[col]]++
	}
	if counts["OK"] == 0 || counts["Needs filling"] == 0 || counts["OK"]+counts["Needs filling"] != rows {
		t.Fatalf("status column %v", counts)
	}
	if len(single["Quality"]) < 10 {
		t.Fatalf("Quality sheet has %d rows", len(single["Quality"]))
	}
}

// TestPipelineStops: a source that fails, a cancelled export, and both
// with the quality analysis on or off: Run returns the error, leaves no
// file behind and no goroutine running.
func TestPipelineStops(t *testing.T) {
	truth := gen.Generate(gen.Options{Users: 3000, Seed: 6})
	before := runtime.NumGoroutine()
	for _, quality := range []bool{false, true} {
		for _, c := range []string{"fail", "cancel"} {
			ctx, cancel := context.WithCancel(context.Background())
			d := reusingDir{org: &truth.Org, cancel: cancel}
			var lister dingbook.Directory = d
			if c == "fail" {
				d.failAt = 1500
				lister = listing{d}
			} else {
				d.cancelAt = 1500
				lister = d
			}
			out := t.TempDir()
			_, err := export.Run(ctx, lister, export.Options{Dir: out, Formats: []string{"xlsx", "csv"}, Profile: "contact", IncludeInactive: true, Quality: quality})
			cancel()
			want := errSource
			if c == "cancel" {
				want = context.Canceled
			}
			if !errors.Is(err, want) {
				t.Errorf("quality=%v %s: err = %v, want %v", quality, c, err, want)
			}
			left, _ := filepath.Glob(filepath.Join(out, "*"))
			if len(left) > 0 {
				t.Errorf("quality=%v %s: files left behind: %v", quality, c, left)
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines running after the exports stopped, %d before", n, before)
	}
}

// listing gives reusingDir a userid lister, so the quality analysis runs
// in the export's own pass.
type listing struct{ reusingDir }

func (l listing) EachUserID(ctx context.Context, fn func(string) error) error {
	return dingbook.OrgDirectory{Org: l.org}.EachUserID(ctx, fn)
}

// TestMemberFileStreamed: a member file exported as xlsx (with the
// quality report) and csv while it streams (console.Stream, whose tree
// grows as rows arrive) gives the same files as from the file read whole.
func TestMemberFileStreamed(t *testing.T) {
	ctx := context.Background()
	truth := gen.Generate(gen.Options{Users: 1500, Seed: 8})
	src := t.TempDir()
	res, err := export.Run(ctx, dingbook.OrgDirectory{Org: &truth.Org}, export.Options{
		Dir: src, Formats: []string{"csv"}, Profile: "full", IncludeInactive: true, BaseName: "members"})
	if err != nil {
		t.Fatal(err)
	}
	path := res.Files[0].Path
	co := console.Options{Company: truth.Org.Name}
	run := func(d dingbook.Directory) (map[string][][]string, []byte) {
		r, err := export.Run(ctx, d, export.Options{Dir: t.TempDir(), Formats: []string{"xlsx", "csv"}, Profile: "contact",
			IncludeInactive: true, Quality: true, Headers: "id"})
		if err != nil {
			t.Fatal(err)
		}
		csv, err := os.ReadFile(r.Files[1].Path)
		if err != nil {
			t.Fatal(err)
		}
		return sheetRows(t, r.Files[0].Path), csv
	}
	org, _, err := console.ReadFile(path, co)
	if err != nil {
		t.Fatal(err)
	}
	wholeX, wholeC := run(dingbook.OrgDirectory{Org: org})
	st, err := console.Open(path, co)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	streamX, streamC := run(st)
	if string(wholeC) != string(streamC) {
		t.Error("csv differs between the streamed and the whole file")
	}
	if len(wholeX["Departments"]) < 10 || len(wholeX["Quality"]) < 10 || len(wholeX["通讯录"]) != len(truth.Org.People)+1 {
		t.Fatalf("vacuous: sheets of %d, %d and %d rows", len(wholeX["Departments"]), len(wholeX["Quality"]), len(wholeX["通讯录"]))
	}
	for name, rows := range wholeX {
		if !reflect.DeepEqual(rows, streamX[name]) {
			t.Errorf("sheet %s differs between the streamed and the whole file", name)
		}
	}
}
