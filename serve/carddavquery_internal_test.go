package serve

import (
	"slices"
	"testing"
)

func TestParseCard(t *testing.T) {
	body := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zhang\\, San\\; \\\\x\r\nNOTE:line one\\nline\r\n  two\r\n" +
		"item1.EMAIL;TYPE=INTERNET,pref;X-LABEL=\"a:b;c\":z@example.com\r\nTEL;CELL:+86138\r\nnot a property\r\nEND:VCARD\r\n"
	got := parseCard(body)
	names := []string{}
	for _, p := range got {
		names = append(names, p.name)
	}
	if want := []string{"BEGIN", "VERSION", "FN", "NOTE", "EMAIL", "TEL", "END"}; !slices.Equal(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	if got[2].value != `Zhang, San; \x` || got[3].value != "line one\nline two" {
		t.Errorf("values %q %q", got[2].value, got[3].value)
	}
	if e := got[4]; e.value != "z@example.com" || !slices.Equal(e.params["TYPE"], []string{"INTERNET", "pref"}) || !slices.Equal(e.params["X-LABEL"], []string{"a:b;c"}) {
		t.Errorf("EMAIL %+v", e)
	}
	if !slices.Equal(got[5].params["TYPE"], []string{"CELL"}) {
		t.Errorf("TEL's bare type: %+v", got[5])
	}
}

func TestTextMatchCollations(t *testing.T) {
	for _, tc := range []struct {
		collation, matchType, text, value string
		want                              bool
	}{
		{"", "equals", "ÄRGER", "ärger", true},
		{"i;unicode-casemap", "equals", "STRASSE", "straße", true},
		{"i;unicode-casemap", "contains", "e\u0301", "café", true}, // NFKD: é and e + combining acute
		{"i;ascii-casecmp", "equals", "ÄRGER", "ärger", false},
		{"i;ascii-casecmp", "equals", "ÄRGER", "Ärger", true},
		{"i;ascii-casecmp", "starts-with", "ZHANG", "zhang san", true},
		{"i;octet", "equals", "Zhang", "zhang", false},
		{"i;octet", "ends-with", "San", "Zhang San", true},
	} {
		m := textMatch{Collation: tc.collation, MatchType: tc.matchType, Text: tc.text}
		if c := m.check(); c != "" {
			t.Fatalf("%+v: %s", tc, c)
		}
		if got := m.match(tc.value); got != tc.want {
			t.Errorf("%s %s %q ~ %q: %v", tc.collation, tc.matchType, tc.text, tc.value, got)
		}
		m = textMatch{Collation: tc.collation, MatchType: tc.matchType, Text: tc.text, Negate: "yes"}
		m.check()
		if got := m.match(tc.value); got == tc.want {
			t.Errorf("negated %s %s %q ~ %q: %v", tc.collation, tc.matchType, tc.text, tc.value, got)
		}
	}
}
