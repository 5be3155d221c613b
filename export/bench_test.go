package export_test

// Benchmarks for the speed and memory targets (never timed tests). Run them
// with scripts/bench-export.sh, which also measures peak RSS; by hand:
//
//	go test ./export -run '^$' -bench 'XLSX1M' -benchtime 1x -bench.rows 1000000
//
// Targets: BenchmarkExportXLSX ≤ 1.25 × BenchmarkStreamWriterXLSX, and
// BenchmarkConvertXLSXToVCF ≤ 1.25 × BenchmarkExcelizeReadXLSX; peak RSS of
// an export ≤ 400 MB.

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/format/vcard"
	"github.com/dingbook/dingbook/source/console"
	"github.com/xuri/excelize/v2"
	"io"
)

var (
	benchRows = flag.Int("bench.rows", 100_000, "people in the export benchmarks")
	benchXLSX = flag.String("bench.xlsx", "", "input xlsx for the read/convert benchmarks (written by BenchmarkExportXLSX when missing)")
)

var (
	benchFamily = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "欧阳", "司马"}
	benchGiven  = []string{"小明", "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋"}
	benchTitles = []string{"工程师", "高级工程师", "经理", "销售代表", "设计师", "会计", "人事专员", "产品经理"}
	benchPlaces = []string{"杭州", "北京", "上海", "深圳", "Jakarta"}
)

const benchDepts = 200

// synthDir streams n synthetic people without holding them.
type synthDir struct {
	n     int
	depts []dingbook.Department
}

func newSynthDir(n int) *synthDir {
	d := &synthDir{n: n, depts: []dingbook.Department{{ID: 1, Name: "示例科技有限公司"}}}
	for i := 0; i < benchDepts; i++ {
		parent := int64(1)
		if i >= 20 {
			parent = int64(2 + i%20)
		}
		d.depts = append(d.depts, dingbook.Department{ID: int64(2 + i), ParentID: parent, Name: fmt.Sprintf("部门%03d", i)})
	}
	return d
}

func (d *synthDir) Info() (string, string)             { return "示例科技有限公司", "dingbench" }
func (d *synthDir) Departments() []dingbook.Department { return d.depts }
func (d *synthDir) EachPerson(ctx context.Context, fn func(*dingbook.Person) error) error {
	var p dingbook.Person
	for i := 0; i < d.n; i++ {
		fillPerson(&p, i)
		if err := fn(&p); err != nil {
			return err
		}
	}
	return nil
}

func fillPerson(p *dingbook.Person, i int) {
	id := strconv.Itoa(i)
	*p = dingbook.Person{
		UserID: "u" + id, Name: benchFamily[i%len(benchFamily)] + benchGiven[i%len(benchGiven)], StateCode: "86",
		Mobile: fmt.Sprintf("138%08d", i), Telephone: strconv.Itoa(8000 + i%1000), JobNumber: fmt.Sprintf("%07d", i),
		Title: benchTitles[i%len(benchTitles)], Email: "user" + id + "@example.com", OrgEmail: "u" + id + "@corp.example",
		WorkPlace: benchPlaces[i%len(benchPlaces)], Active: true,
		Depts: []dingbook.Membership{{DeptID: int64(2 + i%benchDepts)}},
	}
}

var benchFields = []string{"name", "userid", "mobile", "telephone", "job_number", "title", "email", "org_email", "dept", "work_place"}

// BenchmarkExportXLSX runs the whole export pipeline to one xlsx file.
func BenchmarkExportXLSX(b *testing.B) {
	dir := b.TempDir()
	d := newSynthDir(*benchRows)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		res, err := export.Run(context.Background(), d, export.Options{Dir: dir, Formats: []string{"xlsx"},
			Fields: benchFields, BaseName: "bench-" + strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		if res.Rows != *benchRows {
			b.Fatalf("rows %d", res.Rows)
		}
		b.ReportMetric(float64(res.Files[0].Bytes)/1e6, "MB/file")
		if *benchXLSX != "" && i == 0 {
			if _, err := os.Stat(*benchXLSX); err != nil {
				if err := os.Rename(res.Files[0].Path, *benchXLSX); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// BenchmarkStreamWriterXLSX is the baseline: excelize's StreamWriter alone
// writing the same cells (strings, a text column style) into a 0600 file.
func BenchmarkStreamWriterXLSX(b *testing.B) {
	dir := b.TempDir()
	d := newSynthDir(0)
	tree := dingbook.NewTree(d.depts)
	paths := map[int64]string{}
	for _, dep := range d.depts {
		paths[dep.ID] = tree.PathString(dep.ID, "-")
	}
	b.ReportAllocs()
	for n := 0; n < b.N; n++ {
		f := excelize.NewFile(excelize.Options{TmpDir: dir})
		sw, err := f.NewStreamWriter("Sheet1")
		if err != nil {
			b.Fatal(err)
		}
		txt, _ := f.NewStyle(&excelize.Style{NumFmt: 49})
		sw.SetColStyle(1, len(benchFields), txt)
		hdr := make([]any, len(benchFields))
		for i, k := range benchFields {
			hdr[i] = k
		}
		sw.SetRow("A1", hdr)
		var p dingbook.Person
		row := make([]any, len(benchFields))
		for i := 0; i < *benchRows; i++ {
			fillPerson(&p, i)
			row[0], row[1], row[2], row[3], row[4] = p.Name, p.UserID, p.Mobile, p.Telephone, p.JobNumber
			row[5], row[6], row[7], row[8], row[9] = p.Title, p.Email, p.OrgEmail, paths[p.Depts[0].DeptID], p.WorkPlace
			cell, _ := excelize.CoordinatesToCellName(1, i+2)
			if err := sw.SetRow(cell, row); err != nil {
				b.Fatal(err)
			}
		}
		if err := sw.Flush(); err != nil {
			b.Fatal(err)
		}
		out, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("base-%d.xlsx", n)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Write(out); err != nil {
			b.Fatal(err)
		}
		out.Sync()
		out.Close()
		f.Close()
	}
}

// benchInput returns an xlsx of *benchRows people made by the export.
func benchInput(b *testing.B) string {
	b.Helper()
	if *benchXLSX != "" {
		if _, err := os.Stat(*benchXLSX); err == nil {
			return *benchXLSX
		}
	}
	dir := b.TempDir()
	res, err := export.Run(context.Background(), newSynthDir(*benchRows), export.Options{Dir: dir, Formats: []string{"xlsx"}, Fields: benchFields})
	if err != nil {
		b.Fatal(err)
	}
	return res.Files[0].Path
}

// BenchmarkExcelizeReadXLSX is the baseline: excelize's own streaming read
// of every row of the input file.
func BenchmarkExcelizeReadXLSX(b *testing.B) {
	in := benchInput(b)
	tmp := b.TempDir()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		f, err := excelize.OpenFile(in, excelize.Options{TmpDir: tmp})
		if err != nil {
			b.Fatal(err)
		}
		rows, err := f.Rows(f.GetSheetName(0))
		if err != nil {
			b.Fatal(err)
		}
		count := 0
		for rows.Next() {
			if _, err := rows.Columns(); err != nil {
				b.Fatal(err)
			}
			count++
		}
		rows.Close()
		f.Close()
		if count != *benchRows+1 {
			b.Fatalf("%d rows", count)
		}
	}
}

// BenchmarkConvertXLSXToVCF is dingbook convert in.xlsx out.vcf: the
// console reader streaming the file (console.Open, its rows parsed on a
// goroutine of their own) into the export pipeline with the vCard writer,
// with GOGC=400, as cmd/dingbook sets it for such a command.
func BenchmarkConvertXLSXToVCF(b *testing.B) {
	in := benchInput(b)
	dir := b.TempDir()
	// as cmd/dingbook does for a streamed convert (cli.GCPercent)
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		st, err := console.Open(in, console.Options{Company: "示例科技有限公司"})
		if err != nil {
			b.Fatal(err)
		}
		fields, err := export.ResolveFields(nil, "full", nil, func() ([]string, error) { return st.ExtensionKeys(), nil })
		if err != nil {
			b.Fatal(err)
		}
		res, err := export.Run(context.Background(), st, export.Options{
			Dir: dir, Formats: []string{"vcf"}, BaseName: "conv-" + strconv.Itoa(n), Fields: fields, IncludeInactive: true,
			VCard: benchVCard})
		st.Close()
		if err != nil {
			b.Fatal(err)
		}
		if res.Rows != *benchRows {
			b.Fatalf("%d cards", res.Rows)
		}
	}
}

// BenchmarkConvertXLSXToVCFWhole is the conversion with the file read
// whole first (console.ReadFile), as before streaming; for comparison.
func BenchmarkConvertXLSXToVCFWhole(b *testing.B) {
	in := benchInput(b)
	dir := b.TempDir()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		org, _, err := console.ReadFile(in, console.Options{Company: "示例科技有限公司"})
		if err != nil {
			b.Fatal(err)
		}
		res, err := export.Run(context.Background(), dingbook.OrgDirectory{Org: org}, export.Options{
			Dir: dir, Formats: []string{"vcf"}, BaseName: "whole-" + strconv.Itoa(n), Profile: "full", IncludeInactive: true,
			VCard: benchVCard})
		if err != nil {
			b.Fatal(err)
		}
		if res.Rows != *benchRows {
			b.Fatalf("%d cards", res.Rows)
		}
	}
}

func benchVCard(w io.Writer, company, corpID string) (export.PersonWriter, error) {
	return vcard.New(w, vcard.Options{Company: company, CorpID: corpID}), nil
}

// BenchmarkExportRows runs the export pipeline with no file: the cells
// of every row (Options.Rows), as diff and push take them. It measures
// choosing people and building cells without a writer's cost.
func BenchmarkExportRows(b *testing.B) {
	d := newSynthDir(*benchRows)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rows := 0
		res, err := export.Run(context.Background(), d, export.Options{Fields: benchFields, Rows: func(string, []string) error {
			rows++
			return nil
		}})
		if err != nil {
			b.Fatal(err)
		}
		if res.Rows != *benchRows || rows != *benchRows {
			b.Fatalf("rows %d, %d", res.Rows, rows)
		}
	}
}
