package serve

import (
	"strings"
	"testing"
)

// Chart labels keep the end of a long path, within the label column.
func TestShorten(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"销售部", "销售部"},
		{"Sales", "Sales"},
		{strings.Repeat("部", 30) + "/渠道组", "…" + strings.Repeat("部", 14) + "/渠道组"},
		{strings.Repeat("a", 40), "…" + strings.Repeat("a", 31)},
	} {
		if got := shorten(c.in, 244); got != c.want {
			t.Errorf("shorten(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
