package xlsx

import (
	"bytes"
	"strings"
	"testing"
)

// TestDimWriterSplitWrites: the dimension is rewritten however the part
// arrives (here a byte at a time), and a part without one before its
// sheet data is an error, not a silently wrong sheet.
func TestDimWriterSplitWrites(t *testing.T) {
	part := `<?xml version="1.0"?><worksheet><dimension ref="A1"></dimension><cols/><sheetData><row r="1"/></sheetData></worksheet>`
	var out bytes.Buffer
	d := &dimWriter{w: &out, ref: "A1:C9", name: "xl/worksheets/sheet1.xml"}
	for i := range len(part) {
		if n, err := d.Write([]byte(part[i : i+1])); n != 1 || err != nil {
			t.Fatalf("byte %d: %d, %v", i, n, err)
		}
	}
	if want := strings.Replace(part, `"A1"`, `"A1:C9"`, 1); out.String() != want || !d.done {
		t.Fatalf("got  %s\nwant %s", out.String(), want)
	}
	d = &dimWriter{w: &out, ref: "A1:C9", name: "xl/worksheets/sheet2.xml"}
	if _, err := d.Write([]byte(`<worksheet><sheetData><row r="1"/>`)); err == nil || !strings.Contains(err.Error(), "sheet2.xml") {
		t.Fatalf("a part without a dimension: %v", err)
	}
	z := &streamZip{dims: map[string]string{"xl/worksheets/sheet3.xml": "A1"}}
	if err := z.dimsWritten(); err == nil || !strings.Contains(err.Error(), "sheet3.xml") {
		t.Fatalf("a sheet never written: %v", err)
	}
}
