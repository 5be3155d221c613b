package xlsxread

import (
	"archive/zip"
	"bytes"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"regexp"
	"testing"
)

// fuzzRows are the seed sheets' rows: the shapes of TestHandWrittenSheets.
var fuzzRows = []string{
	`<row><c t="s"><v>0</v></c><c t="s"><v>1</v></c></row><row><c><v>1</v></c><c/><c t="s"><v>2</v></c></row>`,
	`<row r="2" spans="1:3" x14ac:dyDescent="0.25"><c r="C2" t="s"><v>3</v></c></row><row r="5"/><row r="9"><c r="B9"><v>7</v></c></row>`,
	`<row r="1"><c r="A1" t="b"><v>1</v></c><c r="B1" t="e"><v>#N/A</v></c><c r="C1" t="str"><f>A1</f><v>x_x0041_</v></c><c r="D1" t="d"><v>2021-03-01T00:00:00Z</v></c></row>`,
	`<row r="1"><c r="A1" t="inlineStr"><is><t>in &lt;line&gt;</t></is></c><c r="B1" t="inlineStr"><is><r><t>ri</t></r><r><rPr><i/></rPr><t xml:space="preserve">ch </t></r></is></c></row>`,
	`<row r="1"><c r="A1" t="str"><v>&quot;&#x1F600;&#xD800;</v></c><c r="B1"><f t="shared" ref="B1:B2" si="0">1</f><v>1</v></c></row>`,
}

var mutations = flag.Int("mutations", 2000, "TestMutatedSheets: how many mutated sheets to read")

var bigRow = regexp.MustCompile(`r\s*=\s*["'][A-Za-z]*[+-]?0*[1-9]\d{4}`)

// FuzzRows feeds mutated sheet and shared-string XML, wrapped in a
// workbook, to both readers: the fast reader must not panic, and must
// either give excelize's cells or an error. The seeds are the hand-written
// cases, the parts of the excelize corpus, and testdata/fuzz/FuzzRows.
//
//	go test ./internal/xlsxread -run '^$' -fuzz FuzzRows -fuzztime 10m
func FuzzRows(f *testing.F) {
	for _, r := range fuzzRows {
		f.Add([]byte(sheetHead+r+sheetTail), []byte(sstDoc))
	}
	for _, data := range excelizeCorpus(f) {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			f.Fatal(err)
		}
		var sheet, sst []byte
		for _, zf := range zr.File {
			rc, _ := zf.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			switch zf.Name {
			case "xl/worksheets/sheet1.xml":
				sheet = b
			case "xl/sharedStrings.xml":
				sst = b
			}
		}
		f.Add(sheet, sst)
	}
	f.Fuzz(func(t *testing.T, sheet, sst []byte) {
		// Row numbers past 9999 only make both readers walk the missing
		// rows before them (slowly under the fuzzer), finding nothing new.
		if bigRow.Match(sheet) {
			return
		}
		compare(t, "fuzz", handWorkbook(string(sheet), string(sst)), false)
	})
}

// TestMutatedSheets is a fixed-seed stand-in for a short fuzz run in CI:
// random byte flips, deletions and copies of the seed sheets (2,000, or
// -mutations N), each read by both readers (the fast one may refuse, never
// differ).
func TestMutatedSheets(t *testing.T) {
	rng := rand.New(rand.NewSource(14))
	for i := 0; i < *mutations; i++ {
		in := []byte(sheetHead + fuzzRows[i%len(fuzzRows)] + sheetTail)
		for k := 0; k < 1+rng.Intn(4); k++ {
			p := rng.Intn(len(in))
			switch rng.Intn(3) {
			case 0:
				in[p] = byte(rng.Intn(256))
			case 1:
				in = append(in[:p], in[p+1:]...)
			default:
				q := rng.Intn(len(in))
				in = append(in[:p], append(append([]byte(nil), in[q:min(q+12, len(in))]...), in[p:]...)...)
			}
		}
		if bigRow.Match(in) {
			continue
		}
		compare(t, fmt.Sprintf("mutation %d %q", i, in), handWorkbook(string(in), sstDoc), false)
	}
}
