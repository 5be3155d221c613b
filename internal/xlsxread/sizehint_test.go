package xlsxread

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

func openRows(t *testing.T, data []byte) *Rows {
	t.Helper()
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.Rows("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// SizeHint reads the dimension's last row, capped by what the part can
// hold, and 0 without a dimension.
func TestSizeHint(t *testing.T) {
	body := strings.Repeat(`<row><c t="s"><v>0</v></c></row>`, 40)
	sheet := func(dim string) string {
		return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` + dim + `<sheetData>` + body + `</sheetData></worksheet>`
	}
	for _, c := range []struct {
		dim  string
		want func(total int64) int
	}{
		{`<dimension ref="A1:L40"/>`, func(int64) int { return 40 }},
		{`<dimension ref="$A$1:$C$7"/>`, func(int64) int { return 7 }},
		{`<dimension ref="B3"/>`, func(int64) int { return 3 }},
		{``, func(int64) int { return 0 }},
		{`<dimension ref="nonsense:"/>`, func(int64) int { return 0 }},
		// A false dimension reserves no more than the part can hold.
		{`<dimension ref="A1:A1048576"/>`, func(total int64) int { return int(total / minRowBytes) }},
	} {
		rows := openRows(t, handWorkbook(sheet(c.dim), sstDoc))
		if got, want := rows.SizeHint(), c.want(rows.total); got != want || got > 1000 {
			t.Errorf("%s: SizeHint = %d, want %d", c.dim, got, want)
		}
		rows.Close()
	}
}

// The shared strings are let go at the end of the sheet (the rows keep
// the strings they hold), not only by Close.
func TestSharedStringsLetGoAtEnd(t *testing.T) {
	rows := openRows(t, handWorkbook(sheetHead+`<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>2</v></c></row>`+sheetTail, sstDoc))
	defer rows.Close()
	var got []string
	for {
		row, err := rows.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rows.sst == nil {
			t.Fatal("the shared strings were let go before the end")
		}
		got = append(got, row...)
	}
	if rows.sst != nil || rows.spans != nil {
		t.Error("the shared strings are still held after the last row")
	}
	if strings.Join(got, "|") != "姓名|张三" {
		t.Errorf("rows = %q", got)
	}
	if _, err := rows.Next(); err != io.EOF {
		t.Errorf("Next after the end = %v", err)
	}
}

// A false dimension with a false size in the zip's directory (a crafted
// file) reserves no more than a full sheet: SizeHint stays within
// Excel's 2^20 rows, however large the part claims to be.
func TestSizeHintFalsePartSize(t *testing.T) {
	sheet := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:A999999999"/><sheetData>` +
		// more than the first chunks the reader inflates, so that the
		// false size is found only at the end of the part
		strings.Repeat(`<row><c t="s"><v>0</v></c></row>`, 100000) + `</sheetData></worksheet>`
	data := handWorkbook(sheet, sstDoc)
	// the sheet's central directory entry claims 4 GB inflated
	name := []byte("xl/worksheets/sheet1.xml")
	patched := false
	for i := 0; i+46 <= len(data); i++ {
		if binary.LittleEndian.Uint32(data[i:]) != 0x02014b50 {
			continue
		}
		n := int(binary.LittleEndian.Uint16(data[i+28:]))
		if i+46+n <= len(data) && bytes.Equal(data[i+46:i+46+n], name) {
			binary.LittleEndian.PutUint32(data[i+24:], 0xFFFFFFFE)
			patched = true
		}
	}
	if !patched {
		t.Fatal("no central directory entry for the sheet")
	}
	rows := openRows(t, data)
	defer rows.Close()
	if rows.total != 0xFFFFFFFE {
		t.Fatalf("the part claims %d bytes", rows.total)
	}
	if got := rows.SizeHint(); got != 1<<20 {
		t.Errorf("SizeHint = %d, want 1<<20", got)
	}
}

// Rows' cells are cut from shared blocks: a row kept while many more are
// read (more cells than a block holds, rows of varying width) keeps its
// own cells, and appending to one does not write into the next.
func TestRowsKeptAcrossBlocks(t *testing.T) {
	var b strings.Builder
	want := [][]string{}
	for i := 1; i <= 3*cellBlock/5; i++ {
		fmt.Fprintf(&b, `<row r="%d">`, i)
		var row []string
		for c := 0; c < 1+i%9; c++ {
			fmt.Fprintf(&b, `<c r="%s%d" t="inlineStr"><is><t>r%dc%d</t></is></c>`, string(rune('A'+c)), i, i, c)
			row = append(row, fmt.Sprintf("r%dc%d", i, c))
		}
		b.WriteString(`</row>`)
		want = append(want, row)
	}
	data := handWorkbook(sheetHead+b.String()+sheetTail, sstDoc)
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.GetRows("Sheet1") // keeps every row while reading on
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range got {
		_ = append(row, "appended")
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%d rows read; the kept rows differ from the sheet's", len(got))
	}
}
