// Package openpyxl reads workbooks back in tests with Debian's
// python3-openpyxl, in both of its modes: the normal one, which loads
// every cell, and read_only=True, which streams the rows and trusts each
// sheet's declared <dimension> (what many scripts use for big files). A
// workbook whose sheets read differently in the two modes fails the test.
//
// It is for tests only; it needs /usr/bin/python3 with openpyxl and fails
// (never skips) without them.
package openpyxl

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"testing"
)

// Python is Debian's interpreter, which has python3-openpyxl.
const Python = "/usr/bin/python3"

// Book is a workbook as openpyxl reads it: the sheet names in order and
// each sheet's rows (cell values: strings, numbers or nil).
type Book struct {
	Sheets []string
	Rows   map[string][][]any
}

const script = `import json, sys, openpyxl
def read(ro):
    wb = openpyxl.load_workbook(sys.argv[1], read_only=ro)
    out = {"sheets": wb.sheetnames, "rows": {}}
    for ws in wb.worksheets:
        out["rows"][ws.title] = [list(r) for r in ws.iter_rows(values_only=True)]
    if ro:
        wb.close()
    return out
print(json.dumps({"normal": read(False), "read_only": read(True)}, ensure_ascii=False, default=str))`

type read struct {
	Sheets []string           `json:"sheets"`
	Rows   map[string][][]any `json:"rows"`
}

// Read reads path in both modes, fails t unless they agree on every cell
// of every sheet, and returns the workbook.
func Read(t testing.TB, path string) Book {
	t.Helper()
	if _, err := os.Stat(Python); err != nil {
		t.Fatalf("%s is required (apt-get install python3-openpyxl): %v", Python, err)
	}
	out, err := exec.Command(Python, "-c", script, path).Output()
	if err != nil {
		msg := ""
		if e, ok := err.(*exec.ExitError); ok {
			msg = string(e.Stderr)
		}
		t.Fatalf("openpyxl could not read %s (is python3-openpyxl installed?): %v\n%s", path, err, msg)
	}
	var both struct {
		Normal   read `json:"normal"`
		ReadOnly read `json:"read_only"`
	}
	if err := json.Unmarshal(out, &both); err != nil {
		t.Fatalf("openpyxl output: %v\n%.500s", err, out)
	}
	n, ro := both.Normal, both.ReadOnly
	if !reflect.DeepEqual(n.Sheets, ro.Sheets) {
		t.Fatalf("%s: sheets %q, read-only mode %q", path, n.Sheets, ro.Sheets)
	}
	for _, s := range n.Sheets {
		a, b := n.Rows[s], ro.Rows[s]
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: sheet %q reads differently in read-only mode: %d rows of %d cells, read-only %d rows of %d cells\nnormal    %.300s\nread-only %.300s",
				path, s, len(a), width(a), len(b), width(b), fmt.Sprint(a), fmt.Sprint(b))
		}
	}
	return Book{Sheets: n.Sheets, Rows: n.Rows}
}

func width(rows [][]any) int {
	if len(rows) == 0 {
		return 0
	}
	return len(rows[0])
}
