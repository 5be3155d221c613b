package console

import (
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// GBK bytes inside a UTF-8 CSV: the error names the line and the column
// and suggests --encoding, instead of "no header row found".
func TestInvalidUTF8NamesLineAndColumn(t *testing.T) {
	dir := t.TempDir()
	gbk, _ := simplifiedchinese.GB18030.NewEncoder().String("张三")
	body := "姓名,手机,部门,职位\n王小明,13800138000,技术部,工程师\n李四,13900139000,市场部,销售经理\n" + gbk + ",13700137000,技术部,工程师\n"
	path := writeFile(t, dir, "mixed.csv", []byte(body))
	_, _, err := ReadFile(path, Options{})
	if dingbook.ErrorCode(err) != dingbook.EINVALID || !strings.Contains(err.Error(), "invalid UTF-8 at row 4, column A (姓名)") ||
		!strings.Contains(dingbook.ErrorHint(err), "--encoding gb18030") {
		t.Fatalf("err %v (hint %q)", err, dingbook.ErrorHint(err))
	}
	// Beyond the detection sample too.
	var b strings.Builder
	b.WriteString("姓名,手机,部门\n")
	for i := 0; i < 5000; i++ {
		b.WriteString("王小明,13800138000,技术部\n")
	}
	b.WriteString("王\xff,13800138000,技术部\n")
	path = writeFile(t, dir, "late.csv", []byte(b.String()))
	if _, _, err := ReadFile(path, Options{}); err == nil || !strings.Contains(err.Error(), "invalid UTF-8 at row 5002, column A (姓名)") {
		t.Fatalf("late: %v", err)
	}
	// A whole GBK file is still detected, and --encoding forces a reading.
	all, _ := simplifiedchinese.GB18030.NewEncoder().String("姓名,手机,部门\n张三,13800138000,技术部\n")
	path = writeFile(t, dir, "gbk.csv", []byte(all))
	for _, enc := range []string{"", "gbk", "GB18030"} {
		org, rep, err := ReadFile(path, Options{Encoding: enc})
		if err != nil || rep.Encoding != "GB18030" || len(org.People) != 1 || org.People[0].Name != "张三" {
			t.Fatalf("--encoding %q: %v %+v", enc, err, rep)
		}
	}
	if _, _, err := ReadFile(path, Options{Encoding: "utf-8"}); err == nil || !strings.Contains(err.Error(), "invalid UTF-8 at row") {
		t.Fatalf("forced utf-8 on gbk: %v", err)
	}
	if _, _, err := ReadFile(path, Options{Encoding: "latin1"}); err == nil || !strings.Contains(err.Error(), "--encoding") {
		t.Fatalf("unknown encoding: %v", err)
	}
}

// Cells right of the header's last column are counted and warned about
// once.
func TestLongRowsWarnedOnce(t *testing.T) {
	body := "姓名,手机\n王小明,13800138000,extra\n李四,13900139000,,more,x\n赵六,13700137000,,\n"
	path := writeFile(t, t.TempDir(), "long.csv", []byte(body))
	org, rep, err := ReadFile(path, Options{})
	if err != nil || len(org.People) != 3 {
		t.Fatal(err)
	}
	n := 0
	for _, w := range rep.Warnings {
		if strings.Contains(w, "right of the header") {
			n++
			if !strings.Contains(w, "2 row(s)") || !strings.Contains(w, "row 2") {
				t.Errorf("warning %q", w)
			}
		}
	}
	if n != 1 || rep.LongRows != 2 {
		t.Fatalf("%d warnings, LongRows %d: %q", n, rep.LongRows, rep.Warnings)
	}
}

// Row numbers are lines in the file: blank lines and a cell spanning two
// lines do not shift them.
func TestRowNumbersAreFileLines(t *testing.T) {
	body := "姓名,手机,入职时间\n\n王小明,13800138000,2021-01-01\n\"李\n四\",13900139000,2021-01-01\n赵六,13700137000,2021-13-45\n"
	path := writeFile(t, t.TempDir(), "lines.csv", []byte(body))
	_, _, err := ReadFile(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "row 6, column C") {
		t.Fatalf("err %v", err)
	}
}
