package console

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/xuri/excelize/v2"
)

// FuzzReadFile gives any bytes to the member-file reader as a file (the
// container is sniffed, so this reaches the CSV/TSV reader in every
// encoding, and excelize for bytes that start like a zip) and checks
// checkRead's promises.
// The seed corpus is testdata/fuzz/FuzzReadFile.
func FuzzReadFile(f *testing.F) {
	tmp := f.TempDir()
	f.Setenv("TMPDIR", tmp) // the reader's own temporary directories
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "成员.csv")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		checkRead(t, path, tmp)
	})
}

// FuzzReadXLSX writes a workbook whose rows are the lines of cells
// (separated by \x1e) and whose cells are separated by \x1f; a cell that
// parses as a number is written as one where the matching bit of numeric
// is set (phones and dates stored as numbers). The workbook is then read
// as FuzzReadFile reads a file.
// The seed corpus is testdata/fuzz/FuzzReadXLSX.
func FuzzReadXLSX(f *testing.F) {
	tmp := f.TempDir()
	f.Setenv("TMPDIR", tmp)
	f.Fuzz(func(t *testing.T, cells string, numeric uint64, sheet string) {
		x := excelize.NewFile()
		defer x.Close()
		if sheet != "" && sheet != "Sheet1" {
			if err := x.SetSheetName("Sheet1", sheet); err != nil {
				return // a name Excel does not allow
			}
		} else {
			sheet = "Sheet1"
		}
		sw, err := x.NewStreamWriter(sheet)
		if err != nil {
			t.Fatal(err)
		}
		bit := 0
		for r, line := range strings.Split(cells, "\x1e") {
			var row []any
			for _, c := range strings.Split(line, "\x1f") {
				if v, err := strconv.ParseFloat(c, 64); err == nil && numeric&(1<<(bit%64)) != 0 {
					row = append(row, v)
				} else {
					row = append(row, c)
				}
				bit++
			}
			if err := sw.SetRow("A"+strconv.Itoa(r+1), row); err != nil {
				return // more rows or columns than a sheet holds, or a cell too long
			}
		}
		if err := sw.Flush(); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "成员.xlsx")
		if err := x.SaveAs(path); err != nil {
			return
		}
		checkRead(t, path, tmp)
	})
}

// checkRead reads path with ReadFile and with Stream. Either both fail,
// each with a *dingbook.Error that names the file and gives a hint, or
// both succeed and give the same people, departments and report (see
// streamSame). What ReadFile returns must hold together: every department
// of a person and every parent is in the tree, ids are unique, the root
// is id 1. Nothing is left behind in the temporary directory tmp.
func checkRead(t *testing.T, path, tmp string) {
	t.Helper()
	org, rep, err := ReadFile(path, Options{})
	if err != nil {
		checkReadErr(t, path, err)
		s, serr := Open(path, Options{})
		if serr == nil {
			serr = s.EachPerson(context.Background(), func(*dingbook.Person) error { return nil })
			s.Close()
		}
		if serr == nil {
			t.Fatalf("ReadFile failed (%v) but the streamed read did not", err)
		}
		checkReadErr(t, path, serr)
	} else {
		checkOrg(t, org)
		streamSame(t, path, Options{}, org, rep)
	}
	left, _ := os.ReadDir(tmp)
	for _, e := range left {
		if strings.HasPrefix(e.Name(), "dingbook-") {
			t.Fatalf("left behind in the temporary directory: %s", e.Name())
		}
	}
}

func checkReadErr(t *testing.T, path string, err error) {
	t.Helper()
	var de *dingbook.Error
	if !errors.As(err, &de) || de.Hint == "" || !strings.Contains(de.Message, path) {
		t.Fatalf("error without the file name or a hint: %#v", err)
	}
}

func checkOrg(t *testing.T, org *dingbook.Org) {
	t.Helper()
	ids := map[int64]bool{}
	for _, d := range org.Depts {
		if ids[d.ID] {
			t.Fatalf("department id %d twice", d.ID)
		}
		ids[d.ID] = true
	}
	if !ids[dingbook.RootDeptID] {
		t.Fatalf("no root department in %+v", org.Depts)
	}
	for _, d := range org.Depts {
		if d.ID != dingbook.RootDeptID && !ids[d.ParentID] {
			t.Fatalf("department %d (%q) has no parent %d", d.ID, d.Name, d.ParentID)
		}
	}
	for _, p := range org.People {
		if strings.TrimSpace(p.Name) == "" {
			t.Fatalf("a person without a name: %+v", p)
		}
		for _, m := range p.Depts {
			if !ids[m.DeptID] {
				t.Fatalf("%s: department %d unknown", p.Name, m.DeptID)
			}
		}
	}
}
