package console

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// rewriteSheet copies the workbook at src to a new file with its first
// sheet's XML changed by edit.
func rewriteSheet(t *testing.T, src string, edit func(string) string) string {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	edited := false
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if zf.Name == "xl/worksheets/sheet1.xml" {
			data, edited = []byte(edit(string(data))), true
		}
		w, err := zw.Create(zf.Name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	if !edited {
		t.Fatal("no xl/worksheets/sheet1.xml")
	}
	return dst
}

const fallbackWarning = "read with the general XLSX reader"

func fellBack(rep *Report) bool {
	return strings.Contains(strings.Join(rep.Warnings, "\n"), fallbackWarning)
}

// TestXLSXFastAndFallback: the fast reader reads a console file on its
// own; a sheet it refuses at the first row, or half-way, is read by
// excelize instead, to exactly the same people, with a warning.
func TestXLSXFastAndFallback(t *testing.T) {
	path := consoleXLSX(t, t.TempDir())
	opts := Options{Company: "示例公司"}
	org, rep, err := ReadFile(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if fellBack(rep) {
		t.Fatalf("the fast reader was not used: %q", rep.Warnings)
	}
	// A comment is valid XML that the fast reader leaves to excelize.
	early := rewriteSheet(t, path, func(s string) string {
		return strings.Replace(s, "<sheetData>", "<sheetData><!-- early -->", 1)
	})
	late := rewriteSheet(t, path, func(s string) string {
		i := strings.LastIndex(s, "</row>")
		return s[:i] + "<!-- late -->" + s[i:]
	})
	streamPeople, _, _, _, _ := streamed(t, path, opts)
	for _, p := range []string{early, late} {
		org2, rep2, err := ReadFile(p, opts)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !fellBack(rep2) {
			t.Errorf("%s: no warning about the fallback: %q", p, rep2.Warnings)
		}
		if !reflect.DeepEqual(org2, org) {
			t.Errorf("%s: the fallback read differs", p)
		}
		people, _, _, _, _ := streamed(t, p, opts)
		if !reflect.DeepEqual(people, streamPeople) {
			t.Errorf("%s: the streamed fallback read differs", p)
		}
	}
}
