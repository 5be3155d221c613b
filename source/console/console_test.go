package console

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/dingbook/dingbook"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
)

func ms(y, m, d int) int64 { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, China).UnixMilli() }

// consoleXLSX writes a console-style workbook: a merged 填写须知 row, a
// blank row, shuffled headers (one with a trailing *, one unknown custom
// column), numeric phones, date serials and text dates, multi-department
// cells.
func consoleXLSX(t *testing.T, dir string) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sh := "通讯录"
	f.SetSheetName("Sheet1", sh)
	f.SetCellValue(sh, "A1", "填写须知：<1>上下级部门间用\"-\"隔开，例如\"市场部-杭州分部\"；<2>红色字段为必填")
	if err := f.MergeCell(sh, "A1", "L1"); err != nil {
		t.Fatal(err)
	}
	headers := []string{"部门", "手机*", "姓名（必填）", "员工UserID", "入职时间", "职位", "爱好", "邮箱", "部门主管", "直属主管", "分机号", "工号"}
	for i, h := range headers {
		cell, _ := excelize.CoordinatesToCellName(i+1, 3)
		f.SetCellValue(sh, cell, h)
	}
	dateStyle, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
	rows := [][]any{
		{"技术部-前端组", 13800138000, "王小明", "u1", time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC), "工程师", "旅游", "wxm@example.com", "否", "", 8001, 1001},
		{"技术部-前端组,市场部-杭州分部", 13900139000.0, "欧阳娜娜", "u2", "2020/7/15", "'=经理", "", "", "是,否", "王小明", "", ""},
		{"市场部", "+62-812-3456-7890", "Siti Nurhaliza", "u3", "2019年1月2日", "Sales", "Badminton", "", "", "u2", "", ""},
		{"", "", "", "", "", "", "", "", "", "", "", ""},
		{`R\-D\,Lab`, "8.6138E+12", "John Smith", "u4", "20180101", "", "", "", "Y", "无此人", "", ""},
		{"技术部", "'13700137000", "买买提·艾力", "", 43101, "", "", "", "", "", "", ""},
	}
	for r, row := range rows {
		for c, v := range row {
			if v == "" {
				continue
			}
			cell, _ := excelize.CoordinatesToCellName(c+1, r+4)
			if err := f.SetCellValue(sh, cell, v); err != nil {
				t.Fatal(err)
			}
			if _, ok := v.(time.Time); ok || c == 4 && r == 5 {
				f.SetCellStyle(sh, cell, cell, dateStyle)
			}
		}
	}
	path := filepath.Join(dir, "staff.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func byName(org *dingbook.Org) map[string]*dingbook.Person {
	m := map[string]*dingbook.Person{}
	for i := range org.People {
		m[org.People[i].Name] = &org.People[i]
	}
	return m
}

func TestReadConsoleXLSX(t *testing.T) {
	path := consoleXLSX(t, t.TempDir())
	org, rep, err := ReadFile(path, Options{Company: "示例公司"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.HeaderRow != 3 || rep.Sheet != "通讯录" || rep.Encoding != "xlsx" || rep.Rows != 5 {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.Skipped) != 3 || !strings.Contains(rep.Skipped[0], "row 1: instructions") || !strings.Contains(rep.Skipped[2], "row 7: empty") {
		t.Errorf("skipped %q", rep.Skipped)
	}
	if !reflect.DeepEqual(rep.Unknown, []string{"爱好"}) || rep.Columns["爱好"] != "extension.爱好" || rep.Columns["手机*"] != "mobile" || rep.Columns["姓名（必填）"] != "name" {
		t.Errorf("columns %v unknown %v", rep.Columns, rep.Unknown)
	}
	people := byName(org)
	tree := dingbook.NewTree(org.Depts)
	w := people["王小明"]
	if w == nil || w.UserID != "u1" || w.Mobile != "13800138000" || w.StateCode != "86" || w.HiredDate != ms(2021, 3, 1) ||
		w.Title != "工程师" || w.Extension["爱好"] != "旅游" || w.Email != "wxm@example.com" || w.Telephone != "8001" || w.JobNumber != "1001" {
		t.Errorf("王小明 = %+v", w)
	}
	if len(w.Depts) != 1 || tree.PathString(w.Depts[0].DeptID, "-") != "技术部-前端组" || w.Depts[0].Leader {
		t.Errorf("王小明 depts %+v", w.Depts)
	}
	o := people["欧阳娜娜"]
	if o.Mobile != "13900139000" || o.HiredDate != ms(2020, 7, 15) || o.Title != "=经理" || o.ManagerUserID != "u1" || o.Extension != nil {
		t.Errorf("欧阳娜娜 = %+v", o)
	}
	if len(o.Depts) != 2 || o.Depts[0].DeptID != w.Depts[0].DeptID || !o.Depts[0].Leader || o.Depts[1].Leader ||
		tree.PathString(o.Depts[1].DeptID, "-") != "市场部-杭州分部" {
		t.Errorf("欧阳娜娜 depts %+v", o.Depts)
	}
	if d := tree.Dept(o.Depts[0].DeptID); !slices.Contains(d.ManagerUserIDs, "u2") {
		t.Errorf("前端组 managers %v", d.ManagerUserIDs)
	}
	s := people["Siti Nurhaliza"]
	if s.StateCode != "62" || s.Mobile != "81234567890" || s.HiredDate != ms(2019, 1, 2) || s.ManagerUserID != "u2" || s.Extension["爱好"] != "Badminton" {
		t.Errorf("Siti = %+v", s)
	}
	j := people["John Smith"]
	if j.Mobile != "8.6138E+12" || j.StateCode != "" || j.HiredDate != ms(2018, 1, 1) || j.ManagerUserID != "" ||
		len(j.Depts) != 1 || tree.Path(j.Depts[0].DeptID)[0] != "R-D,Lab" || !j.Depts[0].Leader {
		t.Errorf("John = %+v", j)
	}
	m := people["买买提·艾力"]
	if m.UserID != "" || m.Mobile != "13700137000" || m.HiredDate != ms(2018, 1, 1) {
		t.Errorf("买买提 = %+v", m)
	}
	warns := strings.Join(rep.Warnings, "\n")
	for _, want := range []string{"row 8, column B (手机*)", "exponent", `manager "无此人"`} {
		if !strings.Contains(warns, want) {
			t.Errorf("warnings lack %q:\n%s", want, warns)
		}
	}
	// Tree: root is the company, ids are stable across reads and reorders.
	if org.Name != "示例公司" || org.Depts[0].ID != dingbook.RootDeptID || org.Depts[0].Name != "示例公司" {
		t.Errorf("root %+v", org.Depts[0])
	}
	if len(org.Depts) != 6 {
		t.Errorf("%d departments: %+v", len(org.Depts), org.Depts)
	}
	root := tree.Dept(1)
	if root.MemberCount != 5 {
		t.Errorf("root member count %d", root.MemberCount)
	}
	org2, _, err := ReadFile(path, Options{Company: "示例公司"})
	if err != nil || !reflect.DeepEqual(org2, org) {
		t.Errorf("second read differs: %v", err)
	}
	// Read (ReaderAt) gives the same result.
	data, _ := os.ReadFile(path)
	org3, _, err := Read(bytes.NewReader(data), int64(len(data)), path, Options{Company: "示例公司"})
	if err != nil || !reflect.DeepEqual(org3, org) {
		t.Errorf("Read differs: %v", err)
	}
}

func TestXLSXErrors(t *testing.T) {
	dir := t.TempDir()
	f := excelize.NewFile()
	f.SetSheetName("Sheet1", "通讯录")
	f.SetSheetRow("通讯录", "A1", &[]any{"姓名", "手机", "部门", "入职时间"})
	for i := 2; i < 14; i++ {
		f.SetSheetRow("通讯录", "A"+itoa(i), &[]any{"张三" + itoa(i), "13800138000", "技术部", "2021-03-01"})
	}
	f.SetSheetRow("通讯录", "A14", &[]any{"李四", "13800138001", "技术部", "2021-13-45"})
	path := filepath.Join(dir, "staff.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, _, err := ReadFile(path, Options{})
	var de *dingbook.Error
	if !errors.As(err, &de) || de.Hint == "" || de.Code != dingbook.EINVALID {
		t.Fatalf("got %v", err)
	}
	if want := `staff.xlsx, sheet 通讯录, row 14, column D (入职时间): cannot read date "2021-13-45"`; !strings.Contains(de.Message, want) {
		t.Errorf("message %q lacks %q", de.Message, want)
	}
	if _, _, err := ReadFile(path, Options{Sheet: "Nope"}); err == nil || !strings.Contains(err.Error(), `no sheet "Nope"`) || !strings.Contains(dingbook.ErrorHint(err), "通讯录") {
		t.Errorf("missing sheet: %v", err)
	}
	if _, _, err := ReadFile(path, Options{Map: map[string]string{"手机": "phone_number"}}); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("bad --map: %v", err)
	}
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const csvBody = "填写须知：上下级部门间用\"-\"隔开\n" +
	"姓名,员工UserID,手机,部门,入职时间,企业邮箱,Hobi\n" +
	"王小明,u1,13800138000.0,技术部-前端组,2021-03-01,wxm@corp.example,\"跑步, 游泳\"\n" +
	"\"欧阳, 娜娜\",u2,'+86-13900139000,\"技术部,市场部\",2021/3/1,,\n"

func checkCSVOrg(t *testing.T, label string, org *dingbook.Org, rep *Report) {
	t.Helper()
	if len(org.People) != 2 || rep.HeaderRow != 2 {
		t.Fatalf("%s: %d people, header row %d, report %+v", label, len(org.People), rep.HeaderRow, rep)
	}
	p := byName(org)
	w, o := p["王小明"], p["欧阳, 娜娜"]
	if w == nil || o == nil {
		t.Fatalf("%s: names %v", label, p)
	}
	if w.Mobile != "13800138000" || w.StateCode != "86" || w.HiredDate != ms(2021, 3, 1) || w.OrgEmail != "wxm@corp.example" || w.Extension["Hobi"] != "跑步, 游泳" {
		t.Errorf("%s: 王小明 %+v", label, w)
	}
	if o.Mobile != "13900139000" || o.StateCode != "86" || o.HiredDate != ms(2021, 3, 1) || len(o.Depts) != 2 || o.UserID != "u2" {
		t.Errorf("%s: 欧阳娜娜 %+v", label, o)
	}
	if !reflect.DeepEqual(rep.Unknown, []string{"Hobi"}) || !strings.Contains(rep.Skipped[0], "instructions") {
		t.Errorf("%s: unknown %v skipped %v", label, rep.Unknown, rep.Skipped)
	}
}

func utf16le(s string, bom bool) []byte {
	var b bytes.Buffer
	if bom {
		b.Write([]byte{0xFF, 0xFE})
	}
	for _, u := range utf16.Encode([]rune(s)) {
		binary.Write(&b, binary.LittleEndian, u)
	}
	return b.Bytes()
}

func utf16be(s string) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xFE, 0xFF})
	for _, u := range utf16.Encode([]rune(s)) {
		binary.Write(&b, binary.BigEndian, u)
	}
	return b.Bytes()
}

func TestReadCSVEncodings(t *testing.T) {
	dir := t.TempDir()
	gb, err := simplifiedchinese.GB18030.NewEncoder().String(csvBody)
	if err != nil {
		t.Fatal(err)
	}
	tsv := strings.NewReplacer(",", "\t").Replace(csvBody)
	// Keep the quoted commas inside fields as commas.
	tsv = strings.ReplaceAll(tsv, "跑步\t 游泳", "跑步, 游泳")
	tsv = strings.ReplaceAll(tsv, "欧阳\t 娜娜", "欧阳, 娜娜")
	tsv = strings.ReplaceAll(tsv, "技术部\t市场部", "技术部,市场部")
	semi := strings.NewReplacer(",", ";").Replace(csvBody)
	semi = strings.ReplaceAll(semi, "跑步; 游泳", "跑步, 游泳")
	semi = strings.ReplaceAll(semi, "欧阳; 娜娜", "欧阳, 娜娜")
	semi = strings.ReplaceAll(semi, "技术部;市场部", "技术部,市场部")
	cases := []struct {
		name, enc, delim string
		data             []byte
	}{
		{"utf8.csv", "UTF-8", ",", []byte(csvBody)},
		{"bom.csv", "UTF-8 BOM", ",", append([]byte{0xEF, 0xBB, 0xBF}, csvBody...)},
		{"gb.csv", "GB18030", ",", []byte(gb)},
		{"unicode.txt", "UTF-16LE", "tab", utf16le(strings.ReplaceAll(tsv, "\n", "\r\n"), true)},
		{"be.txt", "UTF-16BE", "tab", utf16be(tsv)},
		{"semi.csv", "UTF-8", ";", []byte(strings.ReplaceAll(semi, "\n", "\r\n"))},
		{"looks-like.xlsx", "UTF-8", ",", []byte(csvBody)}, // sniffed by content, not by extension
	}
	for _, c := range cases {
		path := writeFile(t, dir, c.name, c.data)
		org, rep, err := ReadFile(path, Options{})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if rep.Encoding != c.enc || rep.Delimiter != c.delim {
			t.Errorf("%s: encoding %q delimiter %q, want %q %q", c.name, rep.Encoding, rep.Delimiter, c.enc, c.delim)
		}
		checkCSVOrg(t, c.name, org, rep)
	}
}

func TestMapAndEnglishHeaders(t *testing.T) {
	dir := t.TempDir()
	body := "Full Name,Cell,Department,Hire Date,Kode Negara,Secret\n" +
		"Budi Santoso,812-3456-7890,Sales-Jakarta,2022.1.5,62,x\n"
	path := writeFile(t, dir, "en.csv", []byte(body))
	org, rep, err := ReadFile(path, Options{Map: map[string]string{"cell": "mobile", "Secret": "-"}})
	if err != nil {
		t.Fatal(err)
	}
	p := org.People[0]
	if p.Name != "Budi Santoso" || p.StateCode != "62" || p.Mobile != "81234567890" || p.HiredDate != ms(2022, 1, 5) || p.Extension != nil {
		t.Errorf("person %+v", p)
	}
	if rep.Columns["Cell"] != "mobile" || rep.Columns["Secret"] != "-" || len(rep.Unknown) != 0 {
		t.Errorf("columns %v unknown %v", rep.Columns, rep.Unknown)
	}
	if org.Name != "en" {
		t.Errorf("default company %q", org.Name)
	}
}

func TestMalformedFiles(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		data []byte
		want []string
	}{
		{"old.xls", append(append([]byte{}, ole2Magic...), make([]byte, 512)...), []string{"old.xls", "legacy Excel .xls", "password-protected"}},
		{"page.xls", []byte("<html><body><table><tr><td>姓名</td></tr></table></body></html>"), []string{"page.xls", "HTML page"}},
		{"empty.csv", nil, []string{"empty.csv is empty"}},
		{"noheader.csv", []byte("a,b,c\n1,2,3\n"), []string{"noheader.csv", "no header row found in the first 10 rows"}},
		{"noname.csv", []byte("手机,部门\n13800138000,技术部\n"), []string{"noname.csv, row 1", "no name column"}},
		{"baddept.csv", []byte("姓名,部门\n张三,技术部\n李四,技术部--前端\n"), []string{"baddept.csv, row 3, column B (部门)", "empty department name"}},
		{"baddate.csv", []byte("\xEF\xBB\xBF姓名,手机,入职时间\n张三,13800138000,3/1/2021\n"), []string{"baddate.csv, row 2, column C (入职时间)", `cannot read date "3/1/2021"`}},
		{"notzip.xlsx", []byte("PK\x03\x04garbage that is not a zip archive at all"), []string{"notzip.xlsx"}},
		{"binary.csv", bytes.Repeat([]byte{0, 1, 2, 0}, 100), []string{"binary.csv", "neither an Excel workbook nor a text"}},
	}
	for _, c := range cases {
		path := writeFile(t, dir, c.name, c.data)
		_, _, err := ReadFile(path, Options{})
		var de *dingbook.Error
		if !errors.As(err, &de) || de.Hint == "" {
			t.Errorf("%s: got %v, want a *dingbook.Error with a hint", c.name, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", c.name, err.Error(), w)
			}
		}
	}
	// A valid zip that is not a workbook.
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("word/document.xml")
	w.Write([]byte("<doc/>"))
	zw.Close()
	if _, _, err := ReadFile(writeFile(t, dir, "letter.xlsx", zb.Bytes()), Options{}); err == nil || !strings.Contains(err.Error(), "letter.xlsx") || dingbook.ErrorHint(err) == "" {
		t.Errorf("docx as xlsx: %v", err)
	}
	if _, _, err := ReadFile(filepath.Join(dir, "missing.xlsx"), Options{}); err == nil || !strings.Contains(err.Error(), "missing.xlsx") {
		t.Errorf("missing file: %v", err)
	}
}

func TestLeaderAndManagerForms(t *testing.T) {
	dir := t.TempDir()
	body := "姓名,员工UserID,部门,部门主管,直属主管\n" +
		"甲,a,技术部,true,\n" +
		"乙,b,\"技术部,市场部\",市场部,甲\n" +
		"丙,c,技术部,N,乙\n" +
		"丙,d,市场部,maybe,丙\n"
	org, rep, err := ReadFile(writeFile(t, dir, "l.csv", []byte(body)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := org.People
	if !p[0].Depts[0].Leader || p[1].Depts[0].Leader || !p[1].Depts[1].Leader || p[2].Depts[0].Leader {
		t.Errorf("leaders %+v", p)
	}
	if p[1].ManagerUserID != "a" || p[2].ManagerUserID != "b" || p[3].ManagerUserID != "" {
		t.Errorf("managers %q %q %q", p[1].ManagerUserID, p[2].ManagerUserID, p[3].ManagerUserID)
	}
	w := strings.Join(rep.Warnings, "\n")
	if !strings.Contains(w, `"maybe"`) || !strings.Contains(w, `manager "丙" matches 2 people`) {
		t.Errorf("warnings %s", w)
	}
}

// TestOpenpyxl1904 reads a workbook written by a real program (openpyxl)
// in the 1904 date system, with numbers stored as Excel stores them.
func TestOpenpyxl1904(t *testing.T) {
	py := "/usr/bin/python3"
	dir := t.TempDir()
	path := filepath.Join(dir, "mac.xlsx")
	script := `
import sys, datetime, openpyxl
from openpyxl.utils.datetime import CALENDAR_MAC_1904
wb = openpyxl.Workbook()
wb.epoch = CALENDAR_MAC_1904
ws = wb.active
ws.title = "成员"
ws.append(["说明：请勿修改表头"])
ws.append(["Nama", "Ponsel", "Departemen", "Tanggal Masuk", "Jabatan"])
ws.append(["Sukarno", 6281234567890, "Jakarta-Sales", datetime.datetime(2021, 3, 1), "Direktur"])
ws.append(["Dewi", 13800138000.0, "Jakarta", "2020-12-31", None])
wb.save(sys.argv[1])
`
	out, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("openpyxl (python3-openpyxl is required): %v\n%s", err, out)
	}
	org, rep, err := ReadFile(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sheet != "成员" || rep.HeaderRow != 2 || len(org.People) != 2 {
		t.Fatalf("report %+v", rep)
	}
	s, d := org.People[0], org.People[1]
	if s.HiredDate != ms(2021, 3, 1) || s.Mobile != "6281234567890" || s.Title != "Direktur" {
		t.Errorf("Sukarno %+v", s)
	}
	if d.Mobile != "13800138000" || d.StateCode != "86" || d.HiredDate != ms(2020, 12, 31) {
		t.Errorf("Dewi %+v", d)
	}
}

// TestOwnExportIDs: a file written by dingbook's exporter carries 部门ID
// (dept_id_list); the real ids are kept and id 1 names the company.
func TestOwnExportIDs(t *testing.T) {
	body := "姓名,员工UserID,部门,部门ID,手机,国家码\n" +
		"乙,b,研发部-后端组,3,'+852-91234567,852\n" +
		"甲,a,示例公司,1,13800138000,86\n" +
		"丙,c,\"研发部-后端组,市场部\",\"3,5\",,\n"
	org, _, err := ReadFile(writeFile(t, t.TempDir(), "export-2026.csv", []byte(body)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if org.Name != "示例公司" || org.Depts[0].Name != "示例公司" {
		t.Errorf("company %q / %q", org.Name, org.Depts[0].Name)
	}
	p := byName(org)
	if p["甲"].Depts[0].DeptID != 1 || p["乙"].Depts[0].DeptID != 3 || p["丙"].Depts[1].DeptID != 5 || p["丙"].Depts[0].DeptID != 3 {
		t.Errorf("ids %+v %+v %+v", p["甲"].Depts, p["乙"].Depts, p["丙"].Depts)
	}
	if p["乙"].StateCode != "852" || p["乙"].Mobile != "91234567" {
		t.Errorf("乙 %+v", p["乙"])
	}
	tree := dingbook.NewTree(org.Depts)
	if got := tree.PathString(3, "-"); got != "研发部-后端组" {
		t.Errorf("path of 3: %q", got)
	}
}
