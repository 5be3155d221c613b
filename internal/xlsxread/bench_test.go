package xlsxread

// Benchmarks for issue 14's read targets (never timed tests); run them
// with scripts/bench-read.sh, which also times the peers and the CLI. By
// hand:
//
//	go test ./internal/xlsxread -run '^$' -bench 'Read' -benchtime 1x \
//	    -bench.rows 1000000 -bench.xlsx /tmp/console-1m.xlsx
//
// The input is a console-style member file (WriteConsoleFile), written
// when -bench.xlsx does not exist yet.

import (
	"archive/zip"
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/xuri/excelize/v2"
)

var (
	benchRows = flag.Int("bench.rows", 100_000, "people in the console file of the read benchmarks")
	benchXLSX = flag.String("bench.xlsx", "", "console file for the read benchmarks (written when missing)")
)

var (
	consoleFamily = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "欧阳", "司马", "周", "吴", "徐", "孙", "马", "朱"}
	consoleGiven  = []string{"小明", "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "艳", "勇", "杰", "娟", "涛", "超", "明", "霞"}
	consoleTitles = []string{"工程师", "高级工程师", "经理", "销售代表", "设计师", "会计", "人事专员", "产品经理"}
	consolePlaces = []string{"杭州", "北京", "上海", "深圳", "Jakarta"}
)

// WriteConsoleFile writes an n-person member file shaped like the DingTalk
// admin console's export: a merged instruction row, a header row, then 12
// columns (姓名, 员工UserID, 手机 as a number, 部门, 职位, 工号, 邮箱,
// 入职时间 as a date cell, 办公地点, 分机号 as a number, 备注, 直属主管),
// every text in the shared-strings table.
func writeConsoleFile(path string, n int) error {
	out, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	zw := zip.NewWriter(out)
	part := func(name, body string) error {
		w, err := zw.Create(name)
		if err == nil {
			_, err = io.WriteString(w, body)
		}
		return err
	}
	parts := [][2]string{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="通讯录" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`},
		{"xl/styles.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs></styleSheet>`},
	}
	for _, p := range parts {
		if err := part(p[0], p[1]); err != nil {
			return err
		}
	}
	sst := map[string]int{}
	var order []string
	idx := func(s string) string {
		i, ok := sst[s]
		if !ok {
			i = len(order)
			sst[s] = i
			order = append(order, s)
		}
		return strconv.Itoa(i)
	}
	w, err := zw.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><dimension ref="A1:L` + strconv.Itoa(n+2) + `"/><sheetViews><sheetView workbookViewId="0"/></sheetViews><sheetFormatPr defaultRowHeight="15"/><sheetData>`)
	fmt.Fprintf(bw, `<row r="1" spans="1:12"><c r="A1" t="s"><v>%s</v></c></row>`, idx("填写须知：\n1. 姓名、手机为必填；\n2. 部门的上下级之间用“-”隔开，多个部门用“,”隔开；\n3. 入职时间格式为 2021-03-01。"))
	headers := []string{"姓名", "员工UserID", "手机", "部门", "职位", "工号", "邮箱", "入职时间", "办公地点", "分机号", "备注", "直属主管"}
	bw.WriteString(`<row r="2" spans="1:12">`)
	for c, h := range headers {
		fmt.Fprintf(bw, `<c r="%c2" t="s"><v>%s</v></c>`, 'A'+c, idx(h))
	}
	bw.WriteString(`</row>`)
	for i := 0; i < n; i++ {
		r := strconv.Itoa(i + 3)
		s := func(col byte, v string) {
			bw.WriteString(`<c r="`)
			bw.WriteByte(col)
			bw.WriteString(r)
			bw.WriteString(`" t="s"><v>`)
			bw.WriteString(idx(v))
			bw.WriteString(`</v></c>`)
		}
		num := func(col byte, style string, v int) {
			bw.WriteString(`<c r="`)
			bw.WriteByte(col)
			bw.WriteString(r)
			bw.WriteString(`"` + style + `><v>`)
			bw.WriteString(strconv.Itoa(v))
			bw.WriteString(`</v></c>`)
		}
		bw.WriteString(`<row r="` + r + `" spans="1:12">`)
		s('A', consoleFamily[i%len(consoleFamily)]+consoleGiven[(i/len(consoleFamily))%len(consoleGiven)])
		s('B', "u"+strconv.Itoa(i))
		num('C', "", 13800000000+i)
		dept := fmt.Sprintf("总部-部门%03d-小组%d", i%200, i%7)
		if i%13 == 0 {
			dept += ",项目组-临时组"
		}
		s('D', dept)
		s('E', consoleTitles[i%len(consoleTitles)])
		s('F', fmt.Sprintf("%07d", i))
		s('G', "user"+strconv.Itoa(i)+"@example.com")
		num('H', ` s="1"`, 40000+i%5000)
		s('I', consolePlaces[i%len(consolePlaces)])
		num('J', "", 8000+i%1000)
		if i%10 == 0 {
			s('K', "备注"+strconv.Itoa(i))
		}
		if i > 0 {
			s('L', "u"+strconv.Itoa(i/10))
		}
		bw.WriteString(`</row>`)
	}
	bw.WriteString(`</sheetData><mergeCells count="1"><mergeCell ref="A1:L1"/></mergeCells></worksheet>`)
	if err := bw.Flush(); err != nil {
		return err
	}
	w, err = zw.Create("xl/sharedStrings.xml")
	if err != nil {
		return err
	}
	bw = bufio.NewWriterSize(w, 1<<20)
	fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">`, len(order), len(order))
	for _, v := range order {
		bw.WriteString("<si><t>")
		xmlEscape(bw, v)
		bw.WriteString("</t></si>")
	}
	bw.WriteString("</sst>")
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return out.Close()
}

func xmlEscape(w *bufio.Writer, s string) {
	for _, r := range s {
		switch r {
		case '<':
			w.WriteString("&lt;")
		case '>':
			w.WriteString("&gt;")
		case '&':
			w.WriteString("&amp;")
		default:
			w.WriteRune(r)
		}
	}
}

// benchInput returns the console file of *benchRows people.
func benchInput(b *testing.B) string {
	b.Helper()
	path := *benchXLSX
	if path == "" {
		path = filepath.Join(b.TempDir(), "console.xlsx")
	}
	if _, err := os.Stat(path); err != nil {
		if err := writeConsoleFile(path, *benchRows); err != nil {
			b.Fatal(err)
		}
	}
	return path
}

// BenchmarkReadFast reads every row of the console file with this
// package.
func BenchmarkReadFast(b *testing.B) {
	path := benchInput(b)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		st, _ := f.Stat()
		x, err := Open(f, st.Size())
		if err != nil {
			b.Fatal(err)
		}
		rows, err := x.Rows(x.Sheets()[0])
		if err != nil {
			b.Fatal(err)
		}
		count, cells := 0, 0
		for {
			row, err := rows.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			count++
			cells += len(row)
		}
		rows.Close()
		f.Close()
		if count != *benchRows+2 {
			b.Fatalf("%d rows", count)
		}
		b.ReportMetric(float64(cells)/float64(count), "cells/row")
	}
}

// BenchmarkReadExcelize is the baseline: excelize's streaming read, as
// source/console used it (RawCellValue, a private temporary directory).
func BenchmarkReadExcelize(b *testing.B) {
	path := benchInput(b)
	tmp := b.TempDir()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		f, err := excelize.OpenFile(path, excelize.Options{RawCellValue: true, UnzipSizeLimit: 2 << 30, TmpDir: tmp})
		if err != nil {
			b.Fatal(err)
		}
		rows, err := f.Rows(f.GetSheetList()[0])
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
		if count != *benchRows+2 {
			b.Fatalf("%d rows", count)
		}
	}
}

// TestConsoleFileAgrees: the benchmark's console file reads the same with
// both readers (a small one; the 1M-row file has the same shape).
func TestConsoleFileAgrees(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.xlsx")
	if err := writeConsoleFile(path, 2000); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "console file", data, true)
}
