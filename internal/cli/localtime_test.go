package cli

import (
	"testing"
	"time"
)

func TestParseLocalTime(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-11-30T08:15:00+07:00", time.Date(2026, 11, 30, 8, 15, 0, 0, time.FixedZone("", 7*3600)), true},
		{"2026-11-30", time.Date(2026, 11, 30, 0, 0, 0, 0, time.Local), true},
		{"2026-11-30 08:15", time.Date(2026, 11, 30, 8, 15, 0, 0, time.Local), true},
		{"2026-11-30T08:15:09", time.Date(2026, 11, 30, 8, 15, 9, 0, time.Local), true},
		{"30/11/2026", time.Time{}, false},
		{"", time.Time{}, false},
	} {
		got, ok := parseLocalTime(c.in)
		if ok != c.ok || !got.Equal(c.want) {
			t.Errorf("parseLocalTime(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
