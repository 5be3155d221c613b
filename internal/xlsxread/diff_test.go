package xlsxread

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// excelizeRows reads every sheet as source/console does (RawCellValue):
// GetRows, and Rows/Columns row by row.
func excelizeRows(data []byte) (sheets []string, getRows, iterRows map[string][][]string, err error) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{RawCellValue: true, UnzipSizeLimit: 2 << 30})
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	sheets = f.GetSheetList()
	getRows, iterRows, err = sheetRows(sheets, func(s string) ([][]string, error) { return f.GetRows(s) }, func(s string) ([][]string, error) {
		rows, err := f.Rows(s)
		if err != nil {
			return nil, err
		}
		var it [][]string
		for rows.Next() {
			cells, err := rows.Columns()
			if err != nil {
				rows.Close()
				return nil, err
			}
			it = append(it, cells)
		}
		return it, rows.Close()
	})
	return sheets, getRows, iterRows, err
}

// fastRows reads every sheet with this package.
func fastRows(data []byte) (sheets []string, getRows, iterRows map[string][][]string, err error) {
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, nil, nil, err
	}
	sheets = f.Sheets()
	getRows, iterRows, err = sheetRows(sheets, f.GetRows, func(s string) ([][]string, error) {
		rows, err := f.Rows(s)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var it [][]string
		for {
			cells, err := rows.Next()
			if err == io.EOF {
				return it, nil
			}
			if err != nil {
				return nil, err
			}
			it = append(it, cells)
		}
	})
	return sheets, getRows, iterRows, err
}

// sheetRows reads each sheet both ways a reader offers: whole (all) and
// row by row (iter).
func sheetRows(sheets []string, all, iter func(sheet string) ([][]string, error)) (getRows, iterRows map[string][][]string, err error) {
	getRows, iterRows = map[string][][]string{}, map[string][][]string{}
	for _, s := range sheets {
		if getRows[s], err = all(s); err != nil {
			return nil, nil, err
		}
		if iterRows[s], err = iter(s); err != nil {
			return nil, nil, err
		}
	}
	return getRows, iterRows, nil
}

// compare reads data with both readers. With mustRead the fast reader may
// not give up; otherwise it may return an error, never different cells.
func compare(t testing.TB, name string, data []byte, mustRead bool) {
	t.Helper()
	fs, fg, fi, ferr := fastRows(data)
	if ferr != nil {
		if mustRead {
			t.Errorf("%s: the fast reader gave up: %v", name, ferr)
		}
		return
	}
	es, eg, ei, eerr := excelizeRows(data)
	if eerr != nil {
		t.Errorf("%s: excelize failed (%v) where the fast reader read %d sheets", name, eerr, len(fs))
		return
	}
	if !reflect.DeepEqual(fs, es) {
		t.Errorf("%s: sheets %q, excelize %q", name, fs, es)
		return
	}
	for _, s := range fs {
		diffRows(t, name+" "+s+" GetRows", fg[s], eg[s])
		diffRows(t, name+" "+s+" Rows", fi[s], ei[s])
	}
}

func diffRows(t testing.TB, name string, got, want [][]string) {
	t.Helper()
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w []string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if len(g) == 0 && len(w) == 0 {
			if (i < len(got)) != (i < len(want)) {
				t.Errorf("%s: %d rows, excelize %d", name, len(got), len(want))
				return
			}
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s row %d:\n fast     %q\n excelize %q", name, i+1, g, w)
			return
		}
	}
}

// excelizeCorpus writes workbooks with excelize's own writers.
func excelizeCorpus(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	save := func(name string, f *excelize.File) {
		t.Helper()
		var buf bytes.Buffer
		if err := f.Write(&buf); err != nil {
			t.Fatal(err)
		}
		out[name] = buf.Bytes()
		f.Close()
	}
	// A console-style member file through the stream writer.
	f := excelize.NewFile()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	sw.MergeCell("A1", "H1")
	sw.SetRow("A1", []any{"填写须知：\n1. 红色字段为必填\r\n2. 部门用-分隔"})
	sw.SetRow("A2", []any{"姓名", "员工UserID", "手机", "部门", "入职时间", "职位", "邮箱", "在职"})
	for i := 0; i < 300; i++ {
		cell, _ := excelize.CoordinatesToCellName(1, i+3)
		row := []any{fmt.Sprintf("员工%03d <&> \"q\" 'a'", i), fmt.Sprintf("u%03d", i), 13800000000 + i,
			fmt.Sprintf("总部-研发部%d,销售部", i%5), time.Date(2020, 1, 1+i, 0, 0, 0, 0, time.UTC), "工程师", nil, i%2 == 0}
		if i%7 == 0 {
			row[5] = excelize.Cell{Formula: "B3&\"x\""}
		}
		if i%11 == 0 {
			row = row[:3]
		}
		sw.SetRow(cell, row)
	}
	sw.SetRow("A400", []any{"gap before", 1.5, -2e-10, 12345678901234567890.0})
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	save("excelize-stream.xlsx", f)

	// The cell API: shared strings, rich text, formulas, 1904 dates, a
	// second sheet, escapes that look like _xHHHH_.
	f = excelize.NewFile()
	d1904 := true
	if err := f.SetWorkbookProps(&excelize.WorkbookPropsOptions{Date1904: &d1904}); err != nil {
		t.Fatal(err)
	}
	f.SetCellValue("Sheet1", "A1", "名单")
	f.MergeCell("Sheet1", "A1", "D1")
	f.SetCellValue("Sheet1", "A2", "姓名")
	f.SetCellValue("Sheet1", "B2", "入职")
	f.SetCellValue("Sheet1", "C2", "备注")
	f.SetCellValue("Sheet1", "A3", "张三")
	f.SetCellValue("Sheet1", "B3", time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC))
	f.SetCellValue("Sheet1", "C3", "a_x000D_b _x005F_x0041_ tab\there")
	f.SetCellRichText("Sheet1", "A4", []excelize.RichTextRun{{Text: "李"}, {Text: "四", Font: &excelize.Font{Bold: true, Color: "FF0000"}}})
	f.SetCellFormula("Sheet1", "B4", "1+1")
	f.SetCellBool("Sheet1", "C4", true)
	f.SetCellValue("Sheet1", "F6", 3.14)
	f.SetCellStr("Sheet1", "A8", "  spaces  ")
	f.SetCellValue("Sheet1", "B8", "")
	f.NewSheet("第二页")
	f.SetCellValue("第二页", "B2", "only B2")
	save("excelize-cells.xlsx", f)
	return out
}

func TestAgreesWithExcelize(t *testing.T) {
	for name, data := range excelizeCorpus(t) {
		compare(t, name, data, true)
	}
}

// openpyxlScript writes workbooks with openpyxl (normal and write-only
// mode, dates in both systems, formulas, booleans). Debian's openpyxl
// (3.0) writes no rich text; excelize's and LibreOffice's files have it.
const openpyxlScript = `
import sys, datetime, os
from openpyxl import Workbook
out = sys.argv[1]

wb = Workbook()
ws = wb.active
ws.title = "成员列表"
ws["A1"] = "填写须知：红色为必填\r\n第二行"
ws.merge_cells("A1:F1")
ws.append(["姓名", "员工UserID", "手机", "部门", "入职时间", "在职"])
for i in range(200):
    ws.append(["员工%d & <co>" % i, "u%d" % i, 13900000000 + i, "总部-部门%d" % (i % 4),
               datetime.date(2019, 1, 1) + datetime.timedelta(days=i), i % 3 == 0])
ws.append([None, None, None])
ws.append(["after empty", 0.1 + 0.2, -0.0, 1e21, "=1+2", "_x0041_"])
ws["H300"] = "far away"
wb.create_sheet("Empty")
wb.save(os.path.join(out, "openpyxl-normal.xlsx"))

wb = Workbook()
wb.epoch = datetime.datetime(1904, 1, 1)
ws = wb.active
ws.append(["姓名", "入职时间"])
ws.append(["赵六", datetime.datetime(2022, 5, 6, 7, 8, 9)])
wb.save(os.path.join(out, "openpyxl-1904.xlsx"))

wb = Workbook(write_only=True)
ws = wb.create_sheet("Sheet")
ws.append(["姓名", "手机", "部门"])
for i in range(500):
    ws.append(["成员%d" % i, "+86 138%08d" % i, None if i % 5 else "部-门"])
wb.save(os.path.join(out, "openpyxl-writeonly.xlsx"))
`

func TestAgreesWithExcelizeOnOpenpyxlFiles(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("/usr/bin/python3", "-c", openpyxlScript, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openpyxl (Debian's /usr/bin/python3 with python3-openpyxl): %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.xlsx"))
	if len(files) != 3 {
		t.Fatalf("openpyxl wrote %d files", len(files))
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, filepath.Base(p), data, true)
	}
}

// TestAgreesWithExcelizeOnLibreOfficeFiles converts the excelize and
// openpyxl corpus with LibreOffice headless (soffice --convert-to xlsx),
// which rewrites every part in its own style (shared strings with
// xml:space, rich text runs, its own row and cell attributes).
func TestAgreesWithExcelizeOnLibreOfficeFiles(t *testing.T) {
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		t.Fatal("soffice not found: install Debian's libreoffice-calc-nogui (scripts/test.sh does)")
	}
	in, out := t.TempDir(), t.TempDir()
	var names []string
	for name, data := range excelizeCorpus(t) {
		// LibreOffice reads the file by its extension; .xlsx in, .xlsx out
		// needs another folder.
		if err := os.WriteFile(filepath.Join(in, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Join(in, name))
	}
	args := append([]string{"--headless", "--norestore", "-env:UserInstallation=file://" + t.TempDir(),
		"--convert-to", "xlsx", "--outdir", out}, names...)
	cmd := exec.Command(soffice, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, o)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.xlsx"))
	if len(files) != len(names) {
		t.Fatalf("LibreOffice wrote %d files of %d", len(files), len(names))
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, "libreoffice "+filepath.Base(p), data, true)
	}
}

// handWorkbook wraps sheet XML (and shared strings, if any) in a minimal
// workbook.
func handWorkbook(sheet, sst string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name, body string) {
		w, _ := zw.Create(name)
		io.WriteString(w, body)
	}
	add("[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`)
	add("_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`)
	add("xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`)
	add("xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`)
	add("xl/worksheets/sheet1.xml", sheet)
	if sst != "" {
		add("xl/sharedStrings.xml", sst)
	}
	zw.Close()
	return buf.Bytes()
}

const sheetHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"><dimension ref="A1:C3"/><sheetViews><sheetView workbookViewId="0"/></sheetViews><sheetData>`

const sheetTail = `</sheetData><mergeCells count="1"><mergeCell ref="A1:C1"/></mergeCells></worksheet>`

const sstDoc = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="6" uniqueCount="6"><si><t>姓名</t></si><si><t xml:space="preserve"> 手机 </t></si><si><r><rPr><b/><sz val="11"/><rFont val="宋体"/><family val="2"/><charset val="134"/></rPr><t>张</t></r><r><t>三</t></r><rPh sb="0" eb="1"><t>zhang</t></rPh><phoneticPr fontId="1" type="noConversion"/></si><si><t>a&amp;b&#x4E00;&#20108;_x000D_</t></si><si/><si><t>line1&#13;&#10;line2
line3</t></si></sst>`

// TestHandWrittenSheets covers shapes other writers produce (Excel's own
// and older tools): missing r attributes, gaps, inline strings, every
// cell type, odd shared-string indexes, attributes with prefixes.
func TestHandWrittenSheets(t *testing.T) {
	cases := map[string]string{
		"no r":          `<row><c t="s"><v>0</v></c><c t="s"><v>1</v></c></row><row><c><v>1</v></c><c/><c t="s"><v>2</v></c></row>`,
		"gaps":          `<row r="2" spans="1:3" x14ac:dyDescent="0.25"><c r="C2" t="s"><v>3</v></c></row><row r="5"/><row r="9"><c r="B9"><v>7</v></c></row><row r="12"/>`,
		"types":         `<row r="1"><c r="A1" t="b"><v>1</v></c><c r="B1" t="e"><v>#N/A</v></c><c r="C1" t="str"><f>A1</f><v>x_x0041_</v></c><c r="D1" t="d"><v>2021-03-01T00:00:00Z</v></c><c r="E1" t="n" s="3"><v>4.5E-3</v></c><c r="F1"><f>1+1</f></c><c r="G1"><f/><v></v></c><c r="H1"><v/></c></row>`,
		"inline":        `<row r="1"><c r="A1" t="inlineStr"><is><t>in &lt;line&gt;_x0042_</t></is></c><c r="B1" t="inlineStr"><is><r><t>ri</t></r><r><rPr><i/></rPr><t xml:space="preserve">ch </t></r></is></c><c r="C1" t="inlineStr"><v>no is</v></c></row>`,
		"sst indexes":   `<row r="1"><c r="A1" t="s"><v>99</v></c><c r="B1" t="s"><v> 1 </v></c><c r="C1" t="s"><v>x</v></c><c r="D1" t="s"><v>-1</v></c><c r="E1" t="s"><v></v></c><c r="F1" t="s"><v>4</v></c><c r="G1" t="s"><v>5</v></c></row>`,
		"order":         `<row r="1"><c r="C1"><v>3</v></c><c r="A1"><v>1</v></c><c><v>2</v></c></row>`,
		"lowercase":     `<row r="1"><c r="b1"><v>lower</v></c><c r="AA1"><v>far</v></c></row>`,
		"entities":      `<row r="1"><c r="A1" t="str"><v>&quot;&apos;&amp;&#x1F600;&#xD800;</v></c><c r="B1" t="str"><v>cr` + "\r\n" + `lf` + "\r" + `</v></c></row>`,
		"spaces":        "<row r=\"1\" >\n  <c r=\"A1\" t=\"s\" >\n    <v>0</v>\n  </c >\n</row >\n",
		"cdata":         `<row r="1"><c r="A1" t="str"><v><![CDATA[<x>]]></v></c></row>`,
		"formula attrs": `<row r="1"><c r="A1"><f t="shared" ref="A1:A2" si="0">1+1</f><v>2</v></c></row><row r="2"><c r="A2"><f t="shared" si="0"/><v>2</v></c></row>`,
	}
	for name, rows := range cases {
		compare(t, name, handWorkbook(sheetHead+rows+sheetTail, sstDoc), true)
	}
	// Shapes left to excelize: each must be refused, not misread.
	refused := map[string]string{
		"backwards":   `<row r="3"><c r="A3"><v>3</v></c></row><row r="2"><c r="A2"><v>2</v></c></row>`,
		"comment":     `<row r="1"><!-- </row> --><c r="A1"><v>1</v></c></row>`,
		"bad entity":  `<row r="1"><c r="A1" t="str"><v>&nbsp;</v></c></row>`,
		"bad ref":     `<row r="1"><c r="1A"><v>1</v></c></row>`,
		"bad style":   `<row r="1"><c r="A1" s="x"><v>1</v></c></row>`,
		"ctrl char":   "<row r=\"1\"><c r=\"A1\" t=\"str\"><v>a\x01b</v></c></row>",
		"prefixed":    `<x:row xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row>`,
		"truncated":   `<row r="1"><c r="A1"><v>1</v></c></row>`,
		"bool attr f": `<row r="1"><c r="A1"><f ca="maybe">1</f><v>1</v></c></row>`,
		// excelize goes on looking for rows after </sheetData>
		"row after": `<row r="1"><c r="A1"><v>1</v></c></row></sheetData><x><row r="3"><c r="A3"><v>3</v></c></row></x><sheetData>`,
	}
	for name, rows := range refused {
		doc := sheetHead + rows + sheetTail
		if name == "truncated" {
			doc = sheetHead + rows
		}
		data := handWorkbook(doc, sstDoc)
		_, _, _, err := fastRows(data)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: got %v, want ErrUnsupported", name, err)
		}
	}
}

// TestStrictAndOddWorkbooks: structures the reader leaves to excelize.
func TestStrictAndOddWorkbooks(t *testing.T) {
	data := handWorkbook(strings.Replace(sheetHead, "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
		"http://purl.oclc.org/ooxml/spreadsheetml/main", 1)+`<row r="1"><c r="A1"><v>1</v></c></row>`+sheetTail, "")
	if _, _, _, err := fastRows(data); !errors.Is(err, ErrUnsupported) {
		t.Errorf("strict namespace: got %v, want ErrUnsupported", err)
	}
	if _, err := Open(bytes.NewReader([]byte("not a zip")), 9); err == nil {
		t.Error("not a zip: no error")
	}
}
