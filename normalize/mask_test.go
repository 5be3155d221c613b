package normalize_test

import (
	"testing"

	"github.com/dingbook/dingbook/normalize"
)

// TestE164ExportCases: the mobile_e164 values the exporters write.
func TestE164ExportCases(t *testing.T) {
	cases := []struct{ mobile, sc, want string }{
		{"13800138000", "86", "+8613800138000"},
		{"13800138000", "", "+8613800138000"},
		{"91234567", "852", "+85291234567"},
		{"+852-91234567", "", "+85291234567"},
		{"812345678", "62", "+62812345678"},
		{"12345", "86", ""},
		{"", "86", ""},
	}
	for _, c := range cases {
		got, ok := normalize.E164(c.mobile, c.sc, "CN")
		if got != c.want || ok != (c.want != "") {
			t.Errorf("E164(%q,%q) = %q,%v want %q", c.mobile, c.sc, got, ok, c.want)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	cases := map[string]string{
		"13812341234":    "138****1234",
		"+8613812341234": "+86138****1234",
		"+852-91234567":  "+852-912*4567",
		"1234567":        "*****67",
		"":               "",
	}
	for in, want := range cases {
		if got := normalize.MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}
