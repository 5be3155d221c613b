package export

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/format/xlsx"
	"github.com/dingbook/dingbook/internal/openpyxl"
	"github.com/dingbook/dingbook/internal/testorg"
)

// qualitySheet is qualityRows with every row made, for the tests.
func qualitySheet(r *clean.Report, lang string) (header []string, rows [][]string) {
	header, n, row := qualityRows(r, lang)
	for i := range n {
		rows = append(rows, row(i))
	}
	return header, rows
}

// TestXLSXReadBackWithOpenpyxl writes a workbook the way a quality export
// does (status column, conditional formats, Quality sheet) and reads it
// back with openpyxl.
func TestXLSXReadBackWithOpenpyxl(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s is required (apt-get install python3-openpyxl): %v", python, err)
	}
	org := testorg.Small()
	dir := dingbook.OrgDirectory{Org: org}
	r, err := clean.Analyze(context.Background(), dir, clean.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fields := []string{"name", "mobile", "email", "title", "job_number"}
	for _, lang := range []string{"zh", "id"} {
		t.Run(lang, func(t *testing.T) {
			x := newQualityLook(lang, fields)
			inOrder := r.InOrder()
			sheetHeader, sheetRows := qualitySheet(r, lang)
			header := []string{"姓名", "手机", "邮箱", "职位", "工号", x.statusHeader}
			path := filepath.Join(t.TempDir(), "out.xlsx")
			f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			w, err := xlsx.New(f, header, xlsx.Options{Conditional: x.rules, TmpDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			var wantStatus []string
			for i := range org.People {
				p := &org.People[i]
				st := x.status(inOrder(p))
				wantStatus = append(wantStatus, st)
				if err := w.Write([]string{p.Name, p.Mobile, p.Email, p.Title, p.JobNumber, st}); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.AddSheet(QualitySheet, sheetHeader, sheetRows); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			f.Close()

			script := `
import json, sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb.worksheets[0]
cf = []
for rng in ws.conditional_formatting:
    for rule in rng.rules:
        cf.append({"range": str(rng.sqref), "type": rule.type, "operator": rule.operator, "formula": list(rule.formula or [])})
status = [ws.cell(row=r, column=6).value for r in range(2, ws.max_row + 1)]
q = wb["Quality"]
quality = [[c.value for c in row] for row in q.iter_rows()]
print(json.dumps({"sheets": wb.sheetnames, "cf": cf, "status": status, "header6": ws.cell(row=1, column=6).value, "quality": quality}))
`
			out, err := exec.Command(python, "-c", script, path).CombinedOutput()
			if err != nil {
				t.Fatalf("openpyxl: %v\n%s", err, out)
			}
			var got struct {
				Sheets  []string
				CF      []map[string]any
				Status  []string
				Header6 string
				Quality [][]any
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			// Both sheets read the same in openpyxl's read-only mode.
			if book := openpyxl.Read(t, path); !reflect.DeepEqual(book.Rows["Quality"], got.Quality) || len(book.Rows[book.Sheets[0]]) != len(org.People)+1 {
				t.Errorf("openpyxl read the workbook differently the second time: %v", book.Rows)
			}
			if !reflect.DeepEqual(got.Status, wantStatus) || got.Header6 != x.statusHeader {
				t.Errorf("status column %q %v, want %q %v", got.Header6, got.Status, x.statusHeader, wantStatus)
			}
			// c (no title, missing manager), d (invalid email) and z
			// (invalid phone, no job number) need filling; a and b only
			// have duplicates, so they are OK.
			if wantStatus[0] != x.ok || wantStatus[1] != x.ok || wantStatus[2] != x.needsFilling || wantStatus[3] != x.needsFilling || wantStatus[4] != x.needsFilling {
				t.Errorf("statuses %v", wantStatus)
			}
			if lang == "id" && x.needsFilling != "Perlu diisi" || lang == "zh" && x.needsFilling != "需补充" {
				t.Errorf("%s: needs filling = %q", lang, x.needsFilling)
			}
			// One rule per blank column (mobile, email, title, job number)
			// and one for the status, over the data rows 2..6.
			ranges := map[string]bool{}
			for _, c := range got.CF {
				ranges[c["range"].(string)] = true
				if c["range"] == "F2:F6" {
					f, _ := c["formula"].([]any)
					if c["type"] != "cellIs" || c["operator"] != "equal" || len(f) != 1 || f[0] != `"`+x.needsFilling+`"` {
						t.Errorf("status rule %v", c)
					}
				} else if c["type"] != "containsBlanks" {
					t.Errorf("blank rule %v", c)
				}
			}
			for _, want := range []string{"B2:B6", "C2:C6", "D2:D6", "E2:E6", "F2:F6"} {
				if !ranges[want] {
					t.Errorf("no conditional format on %s; got %v", want, got.CF)
				}
			}
			if len(got.CF) != 5 {
				t.Errorf("%d conditional formats, want 5: %v", len(got.CF), got.CF)
			}
			if len(got.Sheets) != 2 || got.Sheets[1] != "Quality" {
				t.Errorf("sheets %v", got.Sheets)
			}
			if len(got.Quality) != len(sheetRows)+1 || got.Quality[0][0] != sheetHeader[0] {
				t.Fatalf("quality sheet has %d rows, want %d: %v", len(got.Quality), len(sheetRows)+1, got.Quality)
			}
			found := false
			for _, row := range got.Quality {
				if row[len(row)-1] == "invalid-phone" && row[2] == "1" {
					found = true
				}
			}
			if !found {
				t.Errorf("quality sheet lacks the invalid-phone count: %v", got.Quality)
			}
		})
	}
}

func TestQualityLookRules(t *testing.T) {
	x := newQualityLook("en", []string{"name", "email", "org_email", "mobile_e164", "dept"})
	want := []xlsx.Rule{{Col: 3, Kind: "blank"}, {Col: 5, Kind: "equals", Value: "Needs filling"}}
	if !reflect.DeepEqual(x.rules, want) {
		t.Fatalf("rules %+v, want %+v", x.rules, want)
	}
	if x.statusHeader != "Status" || x.ok != "OK" {
		t.Fatalf("%+v", x)
	}
}

// The Quality sheet names at most clean.MaxGroupMembersShown members of a
// duplicate group and counts the rest.
func TestQualitySheetCapsGroups(t *testing.T) {
	org := &dingbook.Org{Name: "测试", Depts: []dingbook.Department{{ID: 1, Name: "测试"}}}
	for i := 0; i < 25; i++ {
		org.People = append(org.People, testorg.Person(fmt.Sprintf("u%02d", i), "张伟", 1))
	}
	r, err := clean.Analyze(context.Background(), dingbook.OrgDirectory{Org: org}, clean.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, rows := qualitySheet(r, "en")
	var detail string
	for _, row := range rows {
		if row[0] == "Duplicate" {
			detail = row[8]
		}
	}
	if !strings.HasPrefix(detail, "张伟; u00; ") || !strings.HasSuffix(detail, "; u09; … and 15 more") || strings.Contains(detail, "u10") {
		t.Errorf("Quality sheet detail not capped: %q", detail)
	}
}

// Imported rows are named by the member file's line (Person.SourceRow) in
// the Quality sheet's duplicate groups, after the group's key.
func TestQualitySheetNamesFileLines(t *testing.T) {
	people := []dingbook.Person{
		{Name: "甲", Mobile: "13800138000", Active: true, SourceRow: 4},
		{Name: "乙", Mobile: "13900139000", Active: true, SourceRow: 5},
		{Name: "丙", Mobile: "13800138000", Active: true, SourceRow: 9},
	}
	r, err := clean.Analyze(context.Background(), dingbook.OrgDirectory{Org: &dingbook.Org{People: people}}, clean.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, rows := qualitySheet(r, "en")
	found := false
	for _, row := range rows {
		if len(row) > 8 && strings.HasPrefix(row[8], "+8613800138000; row 4") && strings.Contains(row[8], "; row 9") {
			found = true
		}
	}
	if !found {
		t.Errorf("Quality sheet rows %q", rows)
	}
}
