package console

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDeptCell(t *testing.T) {
	tests := []struct {
		in   string
		want [][]string
		warn bool
	}{
		{"", nil, false},
		{"技术部", [][]string{{"技术部"}}, false},
		{"市场部-杭州分部", [][]string{{"市场部", "杭州分部"}}, false},
		{"市场部-杭州分部,技术部-前端组-React", [][]string{{"市场部", "杭州分部"}, {"技术部", "前端组", "React"}}, false},
		{" 市场部 - 杭州分部 , 技术部 ", [][]string{{"市场部", "杭州分部"}, {"技术部"}}, false},
		{`R\&D\-Lab-A\,B`, [][]string{{"R&D-Lab", "A,B"}}, false},
		{`C:\\Ops-x`, [][]string{{`C:\Ops`, "x"}}, false},
		{"市场部，技术部；销售部", [][]string{{"市场部"}, {"技术部"}, {"销售部"}}, true},
	}
	for _, tt := range tests {
		got, warns, err := ParseDeptCellWarn(tt.in)
		if err != nil {
			t.Errorf("ParseDeptCell(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseDeptCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if (len(warns) > 0) != tt.warn {
			t.Errorf("ParseDeptCell(%q) warnings %q", tt.in, warns)
		}
	}
	for _, bad := range []string{`技术部\`, "技术部--前端", "技术部,,销售部", "-技术部", "技术部-"} {
		if _, err := ParseDeptCell(bad); err == nil {
			t.Errorf("ParseDeptCell(%q) accepted", bad)
		}
	}
}

// TestSplitDeptCell: the quick split of plain cells gives the general
// parser's paths, warnings and errors.
func TestSplitDeptCell(t *testing.T) {
	for _, in := range []string{"技术部", "市场部-杭州分部,技术部-前端组-React", " 市场部 - 杭州分部 , 技术部 ",
		"市场部，技术部；销售部", "a-b，c-d,e", " x ", "技术部--前端", "技术部,,销售部", "-技术部", "技术部-", "a, ,b", "a-\t-b",
		"部门\u3000-组", "研发中心-平台部-基础架构组,研发中心-平台部"} {
		got, warns, err := splitDeptCell(in)
		want, wantWarns, wantErr := parseDeptCell(in)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(warns, wantWarns) || (err == nil) != (wantErr == nil) ||
			err != nil && err.Error() != wantErr.Error() {
			t.Errorf("splitDeptCell(%q) = %q, %q, %v; parseDeptCell: %q, %q, %v", in, got, warns, err, want, wantWarns, wantErr)
		}
	}
	// Not UTF-8: the general parser reads the bytes as U+FFFD.
	if got, _, _ := ParseDeptCellWarn("a\xffb-c"); !reflect.DeepEqual(got, [][]string{{"a\uFFFDb", "c"}}) {
		t.Errorf("ParseDeptCellWarn of a byte that is not UTF-8 = %q", got)
	}
}

func TestParseMobile(t *testing.T) {
	tests := []struct{ in, sc, nat, warn string }{
		{"13800138000", "86", "13800138000", ""},
		{"13800138000.0", "86", "13800138000", ""},
		{"+86-13800138000", "86", "13800138000", ""},
		{"+86 138 0013 8000", "86", "13800138000", ""},
		{"+62-812-3456-7890", "62", "81234567890", ""},
		{"+6281234567890", "62", "81234567890", ""},
		{"86-13800138000", "86", "13800138000", ""},
		{"8.6138E+12", "", "8.6138E+12", "exponent"},
		{"1.38001E+10", "", "1.38001E+10", "exponent"},
		{"+99-12345", "99", "12345", "not a valid"},
		{"138001380", "", "138001380", "truncated"},
		{"138****8000", "", "138****8000", ""},
		{"0571-88886666", "", "0571-88886666", ""},
	}
	for _, tt := range tests {
		sc, nat, warn := parseMobile(tt.in)
		if sc != tt.sc || nat != tt.nat || (tt.warn == "") != (warn == "") || !strings.Contains(warn, tt.warn) {
			t.Errorf("parseMobile(%q) = %q, %q, %q; want %q, %q, ~%q", tt.in, sc, nat, warn, tt.sc, tt.nat, tt.warn)
		}
	}
}

func TestParseDate(t *testing.T) {
	want := time.Date(2021, 3, 1, 0, 0, 0, 0, China).UnixMilli()
	for _, s := range []string{"2021-03-01", "2021/3/1", "2021.3.1", "2021年3月1日", "2021年03月01日", "20210301", "2021-03-01 00:00:00", "2021-3-1T09:30"} {
		got, err := parseDate(s, false, false)
		if err != nil || got != want {
			t.Errorf("parseDate(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	// 2021-03-01 is serial 44256 (1900 system) and 42794 (1904 system).
	if got, err := parseDate("44256", true, false); err != nil || got != want {
		t.Errorf("serial 44256: %d %v", got, err)
	}
	if got, err := parseDate("42794", true, true); err != nil || got != want {
		t.Errorf("1904 serial 42794: %d %v", got, err)
	}
	if got, err := parseDate("44256.75", true, false); err != nil || got != want {
		t.Errorf("serial with time: %d %v", got, err)
	}
	if want != 1614528000000 {
		t.Errorf("midnight China of 2021-03-01 = %d", want)
	}
	for _, bad := range []string{"2021-13-45", "2021-02-30", "3/1/2021", "yesterday", "44256.5x", "0", "20211301"} {
		if _, err := parseDate(bad, true, false); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("parseDate(%q) = %v", bad, err)
		}
	}
}

func TestNormHeader(t *testing.T) {
	for in, want := range map[string]string{
		"姓名*": "name", "*姓名": "name", "手机（必填）": "mobile", "ＵｓｅｒＩＤ": "userid", " 部门 ": "dept",
		"Hire Date": "hired_date", "hire date": "hired_date", "Tanggal Masuk": "hired_date", "Ponsel": "mobile",
		"员工 UserID": "userid", "Nomor HP": "mobile", "部门主管": "leader_in_dept", "直属主管": "manager_userid",
	} {
		if got := synonyms[normHeader(in)]; got != want {
			t.Errorf("header %q → %q, want %q", in, got, want)
		}
	}
}

// formatDeptCell is the escape rule dingbook's exporter follows (a
// backslash before '-', ',' and '\' inside names).
func formatDeptCell(paths [][]string) string {
	var b strings.Builder
	for i, p := range paths {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, name := range p {
			if j > 0 {
				b.WriteByte('-')
			}
			for _, r := range name {
				if r == '-' || r == ',' || r == '\\' {
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

func TestDeptCellRoundTrip(t *testing.T) {
	for _, c := range [][][]string{
		{{"研发部", "后端组"}, {"市场部"}},
		{{`A-B,C\D`}, {"x", "-", ",", `\`}},
		{{"示例公司"}},
		{{"Sales - APAC", "Jakarta, Indonesia"}},
	} {
		cell := formatDeptCell(c)
		back, err := ParseDeptCell(cell)
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Errorf("%q -> %q -> %q, %v", c, cell, back, err)
		}
	}
}
