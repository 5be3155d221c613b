package csv_test

import (
	"bytes"
	stdcsv "encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dingbook/dingbook/format/csv"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
)

var rows = [][]string{
	{"姓名", "手机", "工号", "部门", "备注"},
	{"王小明", "+8613800138000", "00123", "研发部-后端组,市场部", `He said "hi", then left`},
	{"=HYPERLINK(\"http://x\")", "13800138000", "-5", "研发\\-一部", "line1\nline2"},
	{"@SUM(A1)", "", "\t7", "", "𠮷 supplementary 😀"},
}

// want is what a reader gets back: trigger-leading fields carry a '.
func want() [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = make([]string, len(r))
		for j, f := range r {
			out[i][j] = csv.Neutralise(f)
		}
	}
	return out
}

func write(t *testing.T, opts csv.Options) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := csv.New(&b, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestNeutralise(t *testing.T) {
	cases := map[string]string{
		"=1+2":           "'=1+2",
		"+8613800138000": "'+8613800138000",
		"-研发":            "'-研发",
		"@x":             "'@x",
		"\tx":            "'\tx",
		"\rx":            "'\rx",
		"\nx":            "'\nx",
		"\x00x":          "'\x00x",
		"王小明":            "王小明",
		"a=b":            "a=b",
		"":               "",
		" =1":            " =1",
	}
	for in, out := range cases {
		if got := csv.Neutralise(in); got != out {
			t.Errorf("Neutralise(%q) = %q, want %q", in, got, out)
		}
	}
}

func TestExactBytesUTF8BOM(t *testing.T) {
	var b bytes.Buffer
	w, _ := csv.New(&b, csv.Options{})
	w.Write([]string{`=1+2";=1+2`, "a"})
	w.Write([]string{"", "x\"y"})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "\uFEFF\"'=1+2\"\";=1+2\",\"a\"\r\n\"\",\"x\"\"y\"\r\n"
	if b.String() != want {
		t.Fatalf("got %q\nwant %q", b.String(), want)
	}
	b.Reset()
	w, _ = csv.New(&b, csv.Options{Encoding: csv.UTF8, LF: true})
	w.Write([]string{"a", "b"})
	w.Close()
	if b.String() != "\"a\",\"b\"\n" {
		t.Fatalf("utf-8 LF: got %q", b.String())
	}
}

func TestEncodingsDecodeWithXText(t *testing.T) {
	for _, enc := range csv.Encodings {
		t.Run(enc, func(t *testing.T) {
			raw := write(t, csv.Options{Encoding: enc})
			var text []byte
			var err error
			switch enc {
			case csv.UTF8BOM:
				if !bytes.HasPrefix(raw, []byte{0xEF, 0xBB, 0xBF}) {
					t.Fatal("no UTF-8 BOM")
				}
				text = raw[3:]
			case csv.UTF8:
				if bytes.HasPrefix(raw, []byte{0xEF, 0xBB, 0xBF}) {
					t.Fatal("unexpected BOM")
				}
				text = raw
			case csv.GB18030:
				text, err = simplifiedchinese.GB18030.NewDecoder().Bytes(raw)
			case csv.UTF16LE:
				if !bytes.HasPrefix(raw, []byte{0xFF, 0xFE}) {
					t.Fatal("no UTF-16LE BOM")
				}
				text, err = unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder().Bytes(raw)
			}
			if err != nil {
				t.Fatal(err)
			}
			if enc == csv.GB18030 && bytes.Equal(text, raw) {
				t.Fatal("gb18030 output equals its decoding: not encoded")
			}
			got, err := stdcsv.NewReader(bytes.NewReader(text)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want()) {
				t.Fatalf("decoded rows differ:\n got %q\nwant %q", got, want())
			}
			if !bytes.Contains(text, []byte("\"\r\n\"")) {
				t.Fatal("rows are not CRLF-terminated")
			}
		})
	}
}

func TestEncodingsDecodeWithPython(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("Debian python3 missing: %v (install python3)", err)
	}
	dir := t.TempDir()
	pyEnc := map[string]string{csv.UTF8BOM: "utf-8-sig", csv.UTF8: "utf-8", csv.GB18030: "gb18030", csv.UTF16LE: "utf-16"}
	for _, enc := range csv.Encodings {
		p := filepath.Join(dir, enc+".csv")
		if err := os.WriteFile(p, write(t, csv.Options{Encoding: enc}), 0o600); err != nil {
			t.Fatal(err)
		}
		script := `import csv, json, sys
with open(sys.argv[1], encoding=sys.argv[2], newline='') as f:
    print(json.dumps(list(csv.reader(f))))`
		out, err := exec.Command(py, "-c", script, p, pyEnc[enc]).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: python: %v\n%s", enc, err, out)
		}
		var got [][]string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: %v: %s", enc, err, out)
		}
		if !reflect.DeepEqual(got, want()) {
			t.Fatalf("%s: python read\n %q\nwant %q", enc, got, want())
		}
	}
}

func TestInvalidUTF8AndUnknownEncoding(t *testing.T) {
	if _, err := csv.New(&bytes.Buffer{}, csv.Options{Encoding: "latin1"}); err == nil || !strings.Contains(err.Error(), "latin1") {
		t.Fatalf("unknown encoding: err = %v", err)
	}
	w, _ := csv.New(&bytes.Buffer{}, csv.Options{Encoding: csv.GB18030, Name: "out.csv"})
	w.Write([]string{"ok"})
	err := w.Write([]string{"a", "bad\xffbyte"})
	if err == nil || !strings.Contains(err.Error(), "out.csv: row 2, column 2") {
		t.Fatalf("invalid UTF-8: err = %v", err)
	}
}
