package export_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/internal/openpyxl"
	"github.com/dingbook/dingbook/source/console"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var fixedNow = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

// testOrg is a small deterministic organisation with the awkward cases.
func testOrg() *dingbook.Org {
	return &dingbook.Org{
		CorpID: "ding123", Name: "示例公司",
		Depts: []dingbook.Department{
			{ID: 1, Name: "示例公司"},
			{ID: 2, Name: "研发部", ParentID: 1, Order: 1},
			{ID: 3, Name: "后端组", ParentID: 2, Order: 1},
			{ID: 4, Name: "前端组", ParentID: 2, Order: 2},
			{ID: 5, Name: "市场部", ParentID: 1, Order: 2},
			{ID: 6, Name: "后端组", ParentID: 5, Order: 1},
			{ID: 7, Name: `A-B,C\D`, ParentID: 5, Order: 2},
		},
		People: []dingbook.Person{
			{UserID: "u1", Name: "王小明", StateCode: "86", Mobile: "13800138000", JobNumber: "00123", Title: "工程师",
				Email: "wxm@example.com", OrgEmail: "wxm@corp.example", Telephone: "8001", Active: true,
				HiredDate: time.Date(2021, 3, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600)).UnixMilli(),
				Extension: map[string]string{"爱好": "旅游"}, Depts: []dingbook.Membership{{DeptID: 3, Order: 1, Leader: true}}},
			{UserID: "u2", Name: "李四", StateCode: "852", Mobile: "91234567", Active: true, Title: "经理",
				Extension: map[string]string{"年龄": "24"},
				Depts:     []dingbook.Membership{{DeptID: 2, Order: 2}, {DeptID: 5, Order: 1, Leader: true}}},
			{UserID: "u3", Name: `=HYPERLINK("http://x","y")`, StateCode: "86", Mobile: "13900139000", Active: true,
				Depts: []dingbook.Membership{{DeptID: 4}}},
			{UserID: "u4", Name: "赵六", StateCode: "86", Mobile: "13700137000", Active: false,
				Depts: []dingbook.Membership{{DeptID: 3}}},
			{UserID: "u5", Name: "Siti Nurhaliza", StateCode: "62", Mobile: "812345678", Title: "-经理", Active: true,
				Depts: []dingbook.Membership{{DeptID: 7}}},
			{UserID: "u6", Name: "老板", Active: true, Boss: true, Remark: "line1\nline2 \"quoted\"",
				Depts: []dingbook.Membership{{DeptID: 1}}},
			{UserID: "u7", Name: "周八", Active: true, JobNumber: "0007", Depts: []dingbook.Membership{{DeptID: 6}}},
		},
	}
}

func run(t *testing.T, opts export.Options) (*export.Result, string) {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = filepath.Join(t.TempDir(), "out")
	}
	opts.Now = fixedNow
	res, err := export.Run(context.Background(), dingbook.OrgDirectory{Org: testOrg()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res, opts.Dir
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./export -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file (rerun with -update if intended):\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

func readOut(t *testing.T, res *export.Result, format string) []byte {
	t.Helper()
	for _, f := range res.Files {
		if f.Format == format {
			b, err := os.ReadFile(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("no %s file in %+v", format, res.Files)
	return nil
}

func TestGoldenCSVFull(t *testing.T) {
	res, _ := run(t, export.Options{Formats: []string{"csv"}, Profile: "full", IncludeInactive: true})
	golden(t, "full.csv.golden", readOut(t, res, "csv"))
	if res.Rows != 7 || res.Files[0].Rows != 7 {
		t.Fatalf("rows %d / %d", res.Rows, res.Files[0].Rows)
	}
}

func TestGoldenCSVMinimalEnglish(t *testing.T) {
	res, _ := run(t, export.Options{Formats: []string{"csv"}, Headers: "en"})
	golden(t, "minimal-en.csv.golden", readOut(t, res, "csv"))
	if res.LeftOut.Inactive != 1 || res.Rows != 6 {
		t.Fatalf("rows %d, left out %+v", res.Rows, res.LeftOut)
	}
}

func TestGoldenJSONL(t *testing.T) {
	res, _ := run(t, export.Options{Formats: []string{"jsonl"}, Profile: "full", IncludeInactive: true})
	b := readOut(t, res, "jsonl")
	golden(t, "all.jsonl.golden", b)
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
	}
	res, _ = run(t, export.Options{Formats: []string{"jsonl"}, Fields: []string{"name", "mobile_e164", "dept"}, Mask: []string{"mobile"}})
	golden(t, "fields-masked.jsonl.golden", readOut(t, res, "jsonl"))
	// the default (minimal) profile restricts JSONL too: no mobile
	res, _ = run(t, export.Options{Formats: []string{"jsonl"}})
	golden(t, "minimal.jsonl.golden", readOut(t, res, "jsonl"))
	if bytes.Contains(readOut(t, res, "jsonl"), []byte("mobile")) {
		t.Fatal("minimal JSONL holds mobile keys")
	}
}

func TestFilesAtomicHashedPrivate(t *testing.T) {
	res, dir := run(t, export.Options{Formats: []string{"xlsx", "csv", "jsonl"}})
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("out dir: %v %v", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Fatalf("files in out dir: %v (temporary files left?)", entries)
	}
	for _, f := range res.Files {
		want := filepath.Join(dir, "export-20261126T093000Z."+f.Format)
		if f.Path != want {
			t.Fatalf("path %s, want %s", f.Path, want)
		}
		b, _ := os.ReadFile(f.Path)
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(b)) != f.Bytes {
			t.Fatalf("%s: sha256/bytes mismatch", f.Path)
		}
		fi, _ := os.Stat(f.Path)
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v", f.Path, fi.Mode())
		}
		if f.Rows != 6 {
			t.Fatalf("%s rows %d", f.Format, f.Rows)
		}
	}
	// a second run at the same instant refuses to overwrite and leaves nothing behind
	_, err := export.Run(context.Background(), dingbook.OrgDirectory{Org: testOrg()}, export.Options{Dir: dir, Formats: []string{"csv", "xlsx"}, Now: fixedNow})
	if err == nil {
		t.Fatal("overwrote an existing export")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Fatalf("failed run left files: %v", entries)
	}
}

func userids(t *testing.T, opts export.Options) ([]string, *export.Result) {
	t.Helper()
	opts.Formats = []string{"jsonl"}
	opts.Fields = []string{"name"}
	res, _ := run(t, opts)
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(string(readOut(t, res, "jsonl"))), "\n") {
		if line == "" {
			continue
		}
		var m struct{ UserID string }
		json.Unmarshal([]byte(line), &m)
		ids = append(ids, m.UserID)
	}
	return ids, res
}

func TestDeptSelection(t *testing.T) {
	cases := []struct {
		name  string
		opts  export.Options
		want  []string
		left  export.LeftOut
		depts []int64
	}{
		{"by name with sub-departments", export.Options{Depts: []string{"研发部"}}, []string{"u1", "u2", "u3"}, export.LeftOut{Inactive: 1}, []int64{2}},
		{"by id", export.Options{Depts: []string{"5"}}, []string{"u2", "u5", "u7"}, export.LeftOut{}, []int64{5}},
		{"by slash path", export.Options{Depts: []string{"市场部/后端组"}}, []string{"u7"}, export.LeftOut{}, []int64{6}},
		{"by console path with company", export.Options{Depts: []string{"示例公司-研发部-后端组"}}, []string{"u1"}, export.LeftOut{Inactive: 1}, []int64{3}},
		{"by escaped name", export.Options{Depts: []string{`市场部-A\-B\,C\\D`}}, []string{"u5"}, export.LeftOut{}, []int64{7}},
		{"by raw odd name", export.Options{Depts: []string{`A-B,C\D`}}, []string{"u5"}, export.LeftOut{}, []int64{7}},
		{"no sub-departments", export.Options{Depts: []string{"研发部"}, NoSubdepts: true}, []string{"u2"}, export.LeftOut{SubDepts: 2}, []int64{2}},
		{"no sub-departments incl. inactive", export.Options{Depts: []string{"研发部"}, NoSubdepts: true, IncludeInactive: true}, []string{"u2"}, export.LeftOut{SubDepts: 3}, []int64{2}},
		{"two departments", export.Options{Depts: []string{"前端组", "7"}}, []string{"u3", "u5"}, export.LeftOut{}, []int64{4, 7}},
		{"everyone", export.Options{IncludeInactive: true}, []string{"u1", "u2", "u3", "u4", "u5", "u6", "u7"}, export.LeftOut{}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, res := userids(t, c.opts)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("exported %v, want %v", got, c.want)
			}
			if res.LeftOut != c.left {
				t.Fatalf("left out %+v, want %+v", res.LeftOut, c.left)
			}
			if !reflect.DeepEqual(res.Depts, c.depts) {
				t.Fatalf("dept ids %v, want %v", res.Depts, c.depts)
			}
		})
	}
}

func TestDeptErrors(t *testing.T) {
	_, err := export.Run(context.Background(), dingbook.OrgDirectory{Org: testOrg()}, export.Options{Dir: t.TempDir(), Depts: []string{"后端组"}})
	var de *dingbook.Error
	if !errors.As(err, &de) || de.Code != dingbook.EINVALID || !strings.Contains(de.Message, "ambiguous") ||
		!strings.Contains(de.Hint, "研发部/后端组 (id 3)") || !strings.Contains(de.Hint, "市场部/后端组 (id 6)") {
		t.Fatalf("ambiguous name: %#v", err)
	}
	_, err = export.Run(context.Background(), dingbook.OrgDirectory{Org: testOrg()}, export.Options{Dir: t.TempDir(), Depts: []string{"财务部"}})
	if !errors.As(err, &de) || de.Code != dingbook.ENOTFOUND || !strings.Contains(de.Message, "财务部") {
		t.Fatalf("unknown dept: %#v", err)
	}
}

func TestFieldsProfilesHeaders(t *testing.T) {
	for _, c := range []struct {
		opts   export.Options
		header string
	}{
		{export.Options{Fields: []string{"job_number", "name", "extension.爱好"}}, `"工号","姓名","爱好"`},
		{export.Options{Profile: "contact", Headers: "en"}, `"Name","Department","Title","Mobile","Extension","Email","Org Email","Job Number"`},
		{export.Options{Profile: "minimal", Headers: "id"}, `"Nama","Departemen","Jabatan","Telepon Kantor","Email Kantor","Nomor Pegawai"`},
	} {
		c.opts.Formats = []string{"csv"}
		res, _ := run(t, c.opts)
		first := strings.SplitN(strings.TrimPrefix(string(readOut(t, res, "csv")), "\uFEFF"), "\r\n", 2)[0]
		if first != c.header {
			t.Errorf("header %s, want %s", first, c.header)
		}
	}
	res, _ := run(t, export.Options{Formats: []string{"csv"}, Profile: "full"})
	if got := res.Fields[len(res.Fields)-2:]; !reflect.DeepEqual(got, []string{"extension.年龄", "extension.爱好"}) {
		t.Fatalf("full profile extension keys: %v", res.Fields)
	}
	_, err := export.ResolveFields([]string{"name", "salary"}, "", nil, nil)
	if err == nil || !strings.Contains(err.Error(), `"salary"`) || !strings.Contains(dingbook.ErrorHint(err), "job_number") {
		t.Fatalf("unknown field: %v / %s", err, dingbook.ErrorHint(err))
	}
	if _, err := export.ResolveFields(nil, "everything", nil, nil); err == nil || !strings.Contains(dingbook.ErrorHint(err), "contact") {
		t.Fatalf("unknown profile: %v", err)
	}
}

func TestMaskMobile(t *testing.T) {
	res, _ := run(t, export.Options{Formats: []string{"csv"}, Fields: []string{"userid", "mobile", "mobile_e164"}, Mask: []string{"mobile"}})
	b := string(readOut(t, res, "csv"))
	for _, want := range []string{`"u1","138****8000","'+86138****8000"`, `"u2","'+852-912*4567","'+852912*4567"`} {
		if !strings.Contains(b, want) {
			t.Errorf("missing %s in\n%s", want, b)
		}
	}
	if strings.Contains(b, "13800138000") {
		t.Fatal("unmasked mobile in output")
	}
}

func TestFormatDeptCellRoundTrip(t *testing.T) {
	cases := [][][]string{
		{{"研发部", "后端组"}, {"市场部"}},
		{{`A-B,C\D`}, {"x", "-", ",", `\`}},
		{{"示例公司"}},
	}
	if got := export.FormatDeptCell(cases[0]); got != "研发部-后端组,市场部" {
		t.Fatalf("plain names changed: %s", got)
	}
	if got := export.FormatDeptCell(cases[1]); got != `A\-B\,C\\D,x-\--\,-\\` {
		t.Fatalf("escaped: %s", got)
	}
	for _, c := range cases {
		if back := parseDeptCell(export.FormatDeptCell(c)); !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip %q -> %q", c, back)
		}
	}
}

// parseDeptCell is the reference inverse of FormatDeptCell (the console
// reader's console.ParseDeptCell must agree with it).
func parseDeptCell(s string) [][]string {
	var out [][]string
	var path []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			i++
			cur.WriteByte(s[i])
		case '-':
			path = append(path, cur.String())
			cur.Reset()
		case ',':
			out = append(out, append(path, cur.String()))
			path = nil
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, append(path, cur.String()))
}

func TestXLSXWithDepartmentsSheet(t *testing.T) {
	res, _ := run(t, export.Options{Formats: []string{"xlsx"}, Profile: "full", IncludeInactive: true})
	// Every sheet, read by openpyxl in both its modes.
	book := openpyxl.Read(t, res.Files[0].Path).Rows
	main := book["通讯录"]
	csvRes, _ := run(t, export.Options{Formats: []string{"csv"}, Profile: "full", IncludeInactive: true})
	lines := parseCSV(t, readOut(t, csvRes, "csv"))
	if len(main) != len(lines) {
		t.Fatalf("xlsx %d rows, csv %d", len(main), len(lines))
	}
	for i := range lines {
		for j, v := range lines[i] {
			v = strings.TrimPrefix(v, "'") // CSV neutralises every trigger
			var got string
			if j < len(main[i]) && main[i][j] != nil {
				s, ok := main[i][j].(string)
				if !ok {
					t.Fatalf("cell %d,%d is %T, not a string", i, j, main[i][j])
				}
				got = strings.TrimPrefix(s, "'")
			}
			if got != v {
				t.Errorf("cell %d,%d: xlsx %q, csv %q", i+1, j+1, got, v)
			}
		}
	}
	if main[3][0] != `'=HYPERLINK("http://x","y")` {
		t.Fatalf("formula-looking name not neutralised: %v", main[3][0])
	}
	if main[2][2] != "+852-91234567" {
		t.Fatalf("foreign mobile %v", main[2][2])
	}
	deps := book["Departments"]
	want := [][]any{
		{"部门ID", "上级部门ID", "部门路径", "部门名称", "直属人数", "总人数(含子部门)"},
		{"1", nil, "示例公司", "示例公司", "1", "7"},
		{"2", "1", "研发部", "研发部", "1", "4"},
		{"3", "2", "研发部-后端组", "后端组", "2", "2"},
		{"4", "2", "研发部-前端组", "前端组", "1", "1"},
		{"5", "1", "市场部", "市场部", "1", "3"},
		{"6", "5", "市场部-后端组", "后端组", "1", "1"},
		{"7", "5", `市场部-A\-B\,C\\D`, `A-B,C\D`, "1", "1"},
	}
	if !reflect.DeepEqual(deps, want) {
		t.Fatalf("Departments sheet:\n%v\nwant\n%v", deps, want)
	}
}

func TestFormatDeptCellConsoleRoundTrip(t *testing.T) {
	for _, c := range [][][]string{
		{{"研发部", "后端组"}, {"市场部"}},
		{{`A-B,C\D`}, {"x", "-", ",", `\`}},
		{{"示例公司"}},
		{{"Sales - APAC", "Jakarta, Indonesia"}},
	} {
		cell := export.FormatDeptCell(c)
		back, err := console.ParseDeptCell(cell)
		if err != nil {
			t.Fatalf("console.ParseDeptCell(%q): %v", cell, err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("%q -> %q -> %q", c, cell, back)
		}
	}
}

// TestConsoleReadsOurFiles: an xlsx and a csv written with zh headers are
// read back by the console reader with the same people and departments.
func TestConsoleReadsOurFiles(t *testing.T) {
	res, _ := run(t, export.Options{Formats: []string{"xlsx", "csv"}, Profile: "full", IncludeInactive: true})
	for _, f := range res.Files {
		org, _, err := console.ReadFile(f.Path, console.Options{Company: "示例公司"})
		if err != nil {
			t.Fatalf("%s: %v", f.Format, err)
		}
		if len(org.People) != 7 {
			t.Fatalf("%s: read %d people", f.Format, len(org.People))
		}
		tree := dingbook.NewTree(org.Depts)
		src := testOrg()
		srcTree := dingbook.NewTree(src.Depts)
		for i, p := range org.People {
			sp := src.People[i]
			if p.UserID != sp.UserID || p.Name != sp.Name || p.JobNumber != sp.JobNumber {
				t.Errorf("%s: person %d read as %q/%q/%q, want %q/%q/%q", f.Format, i, p.UserID, p.Name, p.JobNumber, sp.UserID, sp.Name, sp.JobNumber)
			}
			if len(p.Depts) != len(sp.Depts) {
				t.Errorf("%s: %s has %d departments, want %d", f.Format, p.UserID, len(p.Depts), len(sp.Depts))
				continue
			}
			for j := range p.Depts {
				if got, want := tree.Path(p.Depts[j].DeptID), srcTree.Path(sp.Depts[j].DeptID); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %s department %d: %q, want %q", f.Format, p.UserID, j, got, want)
				}
			}
		}
	}
}

// failingDir stops with an error after two people.
type failingDir struct{ dingbook.OrgDirectory }

var errBroken = errors.New("database went away")

func (d failingDir) EachPerson(ctx context.Context, fn func(*dingbook.Person) error) error {
	for i := range d.Org.People[:2] {
		if err := fn(&d.Org.People[i]); err != nil {
			return err
		}
	}
	return errBroken
}

func TestFailureLeavesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	tmp := t.TempDir()
	_, err := export.Run(context.Background(), failingDir{dingbook.OrgDirectory{Org: testOrg()}},
		export.Options{Dir: dir, Formats: []string{"xlsx", "csv", "jsonl"}, XLSX: xlsxOpts(tmp)})
	if !errors.Is(err, errBroken) {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files left after a failed export: %v", entries)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Fatalf("temporary files left: %v", entries)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := export.Run(ctx, dingbook.OrgDirectory{Org: testOrg()}, export.Options{Dir: dir}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files left after a cancelled export: %v", entries)
	}
}

// TestRowsHook: Options.Rows gets the selected people's cells (no
// formula neutralisation: push writes them RAW), no file is written.
func TestRowsHook(t *testing.T) {
	var got []string
	dir := filepath.Join(t.TempDir(), "out")
	res, _ := run(t, export.Options{Dir: dir, Fields: []string{"name", "mobile", "job_number", "dept"}, Depts: []string{"研发部"},
		Rows: func(userid string, cells []string) error {
			got = append(got, userid+"|"+strings.Join(cells, "|"))
			return nil
		}})
	want := []string{
		"u1|王小明|13800138000|00123|研发部-后端组",
		"u2|李四|+852-91234567||研发部,市场部",
		`u3|=HYPERLINK("http://x","y")|13900139000||研发部-前端组`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || res.Rows != 3 || res.LeftOut.Inactive != 1 || len(res.Files) != 0 {
		t.Fatalf("rows:\n%s\nresult %+v", strings.Join(got, "\n"), res)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files written: %v", ents)
	}
}

// TestPeopleHook: Options.People gets the selected people as a vCard
// writer sees them (fields outside the selection empty, the tree for the
// department path), and no file is written.
func TestPeopleHook(t *testing.T) {
	var got []string
	dir := filepath.Join(t.TempDir(), "out")
	res, _ := run(t, export.Options{Dir: dir, Fields: []string{"name", "dept"}, Depts: []string{"研发部"},
		People: func(p *dingbook.Person, tree *dingbook.Tree) error {
			if tree == nil {
				t.Error("no tree")
			}
			got = append(got, p.UserID+"|"+p.Name+"|"+p.Mobile+"|"+p.JobNumber+"|"+strconv.Itoa(len(p.Depts)))
			return nil
		}})
	want := []string{"u1|王小明|||1", "u2|李四|||2", `u3|=HYPERLINK("http://x","y")|||1`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || res.Rows != 3 || len(res.Files) != 0 {
		t.Fatalf("people:\n%s\nresult %+v", strings.Join(got, "\n"), res)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files written: %v", ents)
	}
}
