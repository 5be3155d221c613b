package xlsx_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dingbook/dingbook/format/xlsx"
	"github.com/dingbook/dingbook/internal/openpyxl"
	"github.com/xuri/excelize/v2"
)

var header = []string{"姓名", "手机", "工号", "部门", "状态"}

var data = [][]string{
	{"王小明", "+8613800138000", "00123", "研发部-后端组,市场部", ""},
	{"=HYPERLINK(\"http://x\")", "13800138000", "0", "研发\\-一部", "missing-email"},
	{"-张三", "+852-91234567", "-5", "", ""},
	{"@SUM(A1)", "+1 (555) 0100", "1e5", "总部", "ok"},
	{"Siti Nurhaliza", "", "007", " leading space", "ok"},
	{"李四", "+86 138 0013 8000", "12345678901234567890", "𠮷野家", ""},
	{"王五", "", "", "", ""},
}

// pyDump reads an xlsx with openpyxl and prints what a user would see.
const pyDump = `import json, sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
out = {"sheets": wb.sheetnames, "data": {}}
for ws in wb.worksheets:
    rows = []
    types = set()
    fmts = set()
    for row in ws.iter_rows():
        rows.append([c.value for c in row])
        for c in row:
            if c.value is not None:
                types.add(type(c.value).__name__)
            if c.row > 1 and c.value is not None:
                fmts.add(c.number_format)
    cf = []
    for rng in ws.conditional_formatting:
        for r in rng.rules:
            cf.append([str(rng.sqref), r.type, r.operator or "", list(r.formula or [])])
    out["data"][ws.title] = {"rows": rows, "types": sorted(types), "fmts": sorted(fmts),
        "freeze": ws.freeze_panes, "filter": ws.auto_filter.ref,
        "cf": cf, "widths": {k: v.width for k, v in ws.column_dimensions.items()}}
print(json.dumps(out, ensure_ascii=False))`

type sheetDump struct {
	Rows   [][]any            `json:"rows"`
	Types  []string           `json:"types"`
	Fmts   []string           `json:"fmts"`
	Freeze *string            `json:"freeze"`
	Filter *string            `json:"filter"`
	CF     [][]any            `json:"cf"`
	Widths map[string]float64 `json:"widths"`
}

type dump struct {
	Sheets []string             `json:"sheets"`
	Data   map[string]sheetDump `json:"data"`
}

func readWithPython(t *testing.T, path string) dump {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("Debian python3 missing: %v", err)
	}
	out, err := exec.Command(py, "-c", pyDump, path).CombinedOutput()
	if err != nil {
		t.Fatalf("openpyxl failed (is python3-openpyxl installed?): %v\n%s", err, out)
	}
	var d dump
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// Every sheet reads the same in openpyxl's read-only mode, which
	// trusts the sheet's declared dimension.
	book := openpyxl.Read(t, path)
	if !reflect.DeepEqual(book.Sheets, d.Sheets) {
		t.Fatalf("sheets %v, then %v", d.Sheets, book.Sheets)
	}
	for _, s := range d.Sheets {
		if !reflect.DeepEqual(book.Rows[s], d.Data[s].Rows) {
			t.Fatalf("sheet %s: rows %v, then %v", s, d.Data[s].Rows, book.Rows[s])
		}
	}
	return d
}

func writeFile(t *testing.T, opts xlsx.Options, rows [][]string, extra func(w *xlsx.Writer)) string {
	t.Helper()
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o700)
	opts.TmpDir = tmp
	p := filepath.Join(dir, "out.xlsx")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := xlsx.New(f, header, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if extra != nil {
		extra(w)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("temporary files left in TmpDir: %v", left)
	}
	return p
}

// expected turns source rows into what the file must hold: strings, with
// the documented ' prefix, nil for empty cells.
func expected(rows [][]string) [][]any {
	out := [][]any{}
	for _, r := range rows {
		var row []any
		for _, v := range r {
			if v == "" {
				row = append(row, nil)
			} else {
				row = append(row, xlsx.Neutralise(v))
			}
		}
		out = append(out, row)
	}
	return out
}

func trimRow(r []any) []any {
	for len(r) > 0 && r[len(r)-1] == nil {
		r = r[:len(r)-1]
	}
	return r
}

func TestNeutralise(t *testing.T) {
	cases := map[string]string{
		"+8613800138000":    "+8613800138000",
		"+852-91234567":     "+852-91234567",
		"+86 138 0013 8000": "+86 138 0013 8000",
		"+1 (555) 0100":     "'+1 (555) 0100",
		"+":                 "'+",
		"+SUM(1)":           "'+SUM(1)",
		"=1+2":              "'=1+2",
		"-张三":               "'-张三",
		"@SUM(A1)":          "'@SUM(A1)",
		"\tx":               "'\tx",
		"王小明":               "王小明",
		"00123":             "00123",
	}
	for in, want := range cases {
		if got := xlsx.Neutralise(in); got != want {
			t.Errorf("Neutralise(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenpyxlReadsStrings(t *testing.T) {
	p := writeFile(t, xlsx.Options{Conditional: []xlsx.Rule{{Col: 4, Kind: "blank"}, {Col: 4, Kind: "equals", Value: `missing-"email"`}}},
		data, func(w *xlsx.Writer) {
			if err := w.AddSheet("Departments", []string{"id", "parent_id", "path"}, [][]string{{"1", "", "示例公司"}, {"2", "1", "研发部"}}); err != nil {
				t.Fatal(err)
			}
		})
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	d := readWithPython(t, p)
	if !reflect.DeepEqual(d.Sheets, []string{"通讯录", "Departments"}) {
		t.Fatalf("sheets %v", d.Sheets)
	}
	main := d.Data["通讯录"]
	hdr := []any{}
	for _, h := range header {
		hdr = append(hdr, h)
	}
	if !reflect.DeepEqual(main.Rows[0], hdr) {
		t.Fatalf("header %v", main.Rows[0])
	}
	want := expected(data)
	if len(main.Rows) != len(want)+1 {
		t.Fatalf("%d rows, want %d", len(main.Rows), len(want)+1)
	}
	for i, w := range want {
		got := trimRow(main.Rows[i+1])
		if !reflect.DeepEqual(got, trimRow(w)) {
			t.Errorf("row %d: got %#v\nwant %#v", i+2, got, w)
		}
	}
	if !reflect.DeepEqual(main.Types, []string{"str"}) {
		t.Fatalf("cell types %v, want only str", main.Types)
	}
	if !reflect.DeepEqual(main.Fmts, []string{"@"}) {
		t.Fatalf("data number formats %v, want only @", main.Fmts)
	}
	if main.Freeze == nil || *main.Freeze != "A2" {
		t.Fatalf("freeze panes %v", main.Freeze)
	}
	if main.Filter == nil || strings.ReplaceAll(*main.Filter, "$", "") != "A1:E8" {
		t.Fatalf("autofilter %v", *main.Filter)
	}
	if len(main.CF) != 2 || main.CF[0][0] != "E2:E8" || main.CF[0][1] != "containsBlanks" ||
		main.CF[1][1] != "cellIs" || main.CF[1][2] != "equal" || main.CF[1][3].([]any)[0] != `"missing-""email"""` {
		t.Fatalf("conditional formats %v", main.CF)
	}
	// widths: CJK counts double (研发部-后端组,市场部 = 20 + 2 margin),
	// "missing-email" = 13 + 2.
	if main.Widths["D"] != 22 || main.Widths["E"] != 15 {
		t.Fatalf("widths %v", main.Widths)
	}
	dep := d.Data["Departments"]
	if len(dep.Rows) != 3 || dep.Rows[2][2] != "研发部" || dep.Rows[1][1] != nil || dep.Freeze == nil || dep.Filter == nil || strings.ReplaceAll(*dep.Filter, "$", "") != "A1:C3" {
		t.Fatalf("Departments sheet %+v", dep)
	}
}

func TestNoFormulasInXML(t *testing.T) {
	p := writeFile(t, xlsx.Options{KeepFormulaText: true}, data, nil)
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, "xl/worksheets/") {
			continue
		}
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if bytes.Contains(b, []byte("<f>")) {
			t.Fatalf("%s holds a formula", f.Name)
		}
		if !bytes.Contains(b, []byte(`<t>=HYPERLINK(&#34;http://x&#34;)</t>`)) {
			t.Fatalf("%s: KeepFormulaText did not keep the text as is", f.Name)
		}
	}
}

func TestOverflowContinuesOnNextSheet(t *testing.T) {
	p := writeFile(t, xlsx.Options{MaxRows: 3, SampleRows: 2}, data, nil)
	d := readWithPython(t, p)
	if !reflect.DeepEqual(d.Sheets, []string{"通讯录", "通讯录 (2)", "通讯录 (3)"}) {
		t.Fatalf("sheets %v", d.Sheets)
	}
	var all [][]any
	for _, name := range d.Sheets {
		s := d.Data[name]
		if s.Rows[0][0] != "姓名" {
			t.Fatalf("%s: header not repeated: %v", name, s.Rows[0])
		}
		if s.Freeze == nil || s.Filter == nil {
			t.Fatalf("%s: no frozen header or filter", name)
		}
		for _, r := range s.Rows[1:] {
			all = append(all, trimRow(r))
		}
	}
	want := expected(data)
	for i := range want {
		want[i] = trimRow(want[i])
	}
	if len(all) != 7 || !reflect.DeepEqual(all, want) {
		t.Fatalf("rows across sheets:\n%v\nwant\n%v", all, want)
	}
}

func TestEmptyAndErrors(t *testing.T) {
	p := writeFile(t, xlsx.Options{}, nil, nil)
	d := readWithPython(t, p)
	if len(d.Data["通讯录"].Rows) != 1 {
		t.Fatalf("empty export: %v", d.Data["通讯录"].Rows)
	}
	if _, err := xlsx.New(io.Discard, nil, xlsx.Options{}); err == nil {
		t.Fatal("no header accepted")
	}
	if _, err := xlsx.New(io.Discard, header, xlsx.Options{Conditional: []xlsx.Rule{{Col: 9, Kind: "blank"}}}); err == nil {
		t.Fatal("bad rule accepted")
	}
	w, _ := xlsx.New(io.Discard, header, xlsx.Options{})
	defer w.Close()
	if err := w.Write(make([]string, 6)); err == nil {
		t.Fatal("too long row accepted")
	}
}

// TestTrueDimension: every sheet declares the range it really covers
// (from A1 to its last column and row), not the "A1" excelize's
// StreamWriter writes before it knows the rows: openpyxl's read-only
// mode, which trusts it, then reads every cell (readWithPython checks
// both modes).
func TestTrueDimension(t *testing.T) {
	p := writeFile(t, xlsx.Options{MaxRows: 4, SampleRows: 2}, data, func(w *xlsx.Writer) {
		if err := w.AddSheet("Quality", []string{"a", "b"}, [][]string{{"1"}, {"2", "3"}}); err != nil {
			t.Fatal(err)
		}
		if err := w.AddSheet("Empty", []string{"only"}, nil); err != nil {
			t.Fatal(err)
		}
	})
	want := map[string]string{"通讯录": "A1:E5", "通讯录 (2)": "A1:E4", "Quality": "A1:B3", "Empty": "A1"}
	d := readWithPython(t, p)
	if len(d.Sheets) != len(want) {
		t.Fatalf("sheets %v", d.Sheets)
	}
	x, err := excelize.OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for name, ref := range want {
		got, err := x.GetSheetDimension(name)
		if err != nil || got != ref {
			t.Errorf("sheet %s: dimension %q (%v), want %q", name, got, err, ref)
		}
		if n := len(d.Data[name].Rows); n != map[string]int{"A1:E5": 5, "A1:E4": 4, "A1:B3": 3, "A1": 1}[ref] {
			t.Errorf("sheet %s: %d rows read", name, n)
		}
	}
}

// AddSheetFunc writes the rows its function makes one at a time, even
// when that function reuses its result, as AddSheet writes them held.
func TestAddSheetFunc(t *testing.T) {
	rows := [][]string{{"1", "一二三四五六七八九十一二三四五六"}, {"=2", "b"}, {"3"}}
	held := writeFile(t, xlsx.Options{SampleRows: 2}, data, func(w *xlsx.Writer) {
		if err := w.AddSheet("Quality", []string{"a", "b"}, rows); err != nil {
			t.Fatal(err)
		}
	})
	var buf []string
	made := writeFile(t, xlsx.Options{SampleRows: 2}, data, func(w *xlsx.Writer) {
		err := w.AddSheetFunc("Quality", []string{"a", "b"}, len(rows), func(i int) []string {
			buf = append(buf[:0], rows[i]...)
			return buf
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	a, b := readWithPython(t, held).Data["Quality"], readWithPython(t, made).Data["Quality"]
	if !reflect.DeepEqual(a, b) || len(b.Rows) != 4 {
		t.Errorf("AddSheetFunc wrote %+v, AddSheet %+v", b, a)
	}
}
