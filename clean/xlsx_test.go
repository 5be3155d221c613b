package clean

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/format/xlsx"
	"github.com/dingbook/dingbook/internal/openpyxl"
)

// TestXLSXReadBackWithOpenpyxl writes a workbook the way a cleaned export
// does (status column, conditional formats, Quality sheet) and reads it
// back with openpyxl.
func TestXLSXReadBackWithOpenpyxl(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s is required (apt-get install python3-openpyxl): %v", python, err)
	}
	org := smallOrg()
	dir := dingbook.OrgDirectory{Org: org}
	r, err := Analyze(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fields := []string{"name", "mobile", "email", "title", "job_number"}
	for _, lang := range []string{"zh", "id"} {
		t.Run(lang, func(t *testing.T) {
			x := XLSXExtras(r, lang, fields)
			header := []string{"姓名", "手机", "邮箱", "职位", "工号", x.StatusHeader}
			path := filepath.Join(t.TempDir(), "out.xlsx")
			f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			w, err := xlsx.New(f, header, xlsx.Options{Conditional: x.Rules, TmpDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			var wantStatus []string
			for i := range org.People {
				p := &org.People[i]
				st := x.Status(p)
				wantStatus = append(wantStatus, st)
				if err := w.Write([]string{p.Name, p.Mobile, p.Email, p.Title, p.JobNumber, st}); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.AddSheet(x.SheetName, x.SheetHeader, x.SheetRows); err != nil {
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
			if !reflect.DeepEqual(got.Status, wantStatus) || got.Header6 != x.StatusHeader {
				t.Errorf("status column %q %v, want %q %v", got.Header6, got.Status, x.StatusHeader, wantStatus)
			}
			// c (no title, missing manager), d (invalid email) and z
			// (invalid phone, no job number) need filling; a and b only
			// have duplicates, so they are OK.
			if wantStatus[0] != x.OK || wantStatus[1] != x.OK || wantStatus[2] != x.NeedsFilling || wantStatus[3] != x.NeedsFilling || wantStatus[4] != x.NeedsFilling {
				t.Errorf("statuses %v", wantStatus)
			}
			if lang == "id" && x.NeedsFilling != "Perlu diisi" || lang == "zh" && x.NeedsFilling != "需补充" {
				t.Errorf("%s: needs filling = %q", lang, x.NeedsFilling)
			}
			// One rule per blank column (mobile, email, title, job number)
			// and one for the status, over the data rows 2..6.
			ranges := map[string]bool{}
			for _, c := range got.CF {
				ranges[c["range"].(string)] = true
				if c["range"] == "F2:F6" {
					f, _ := c["formula"].([]any)
					if c["type"] != "cellIs" || c["operator"] != "equal" || len(f) != 1 || f[0] != `"`+x.NeedsFilling+`"` {
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
			if len(got.Quality) != len(x.SheetRows)+1 || got.Quality[0][0] != x.SheetHeader[0] {
				t.Fatalf("quality sheet has %d rows, want %d: %v", len(got.Quality), len(x.SheetRows)+1, got.Quality)
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

func TestXLSXExtrasRules(t *testing.T) {
	r, _ := Analyze(context.Background(), dingbook.OrgDirectory{Org: smallOrg()}, Options{})
	x := XLSXExtras(r, "en", []string{"name", "email", "org_email", "mobile_e164", "dept"})
	want := []xlsx.Rule{{Col: 3, Kind: "blank"}, {Col: 5, Kind: "equals", Value: "Needs filling"}}
	if !reflect.DeepEqual(x.Rules, want) {
		t.Fatalf("rules %+v, want %+v", x.Rules, want)
	}
	if x.StatusHeader != "Status" || x.OK != "OK" {
		t.Fatalf("%+v", x)
	}
}
