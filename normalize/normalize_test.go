package normalize

import (
	"fmt"
	"math/rand/v2"
	"net/mail"
	"testing"

	"github.com/dingbook/dingbook"
	"github.com/nyaruka/phonenumbers"
)

func TestE164(t *testing.T) {
	cases := []struct {
		raw, state, region string
		want               string // "" = invalid
	}{
		{"13800138000", "86", "CN", "+8613800138000"},
		{"138 0013 8000", "86", "CN", "+8613800138000"},
		{"１３８００１３８０００", "86", "CN", "+8613800138000"}, // full-width digits
		{"１３８　００１３　８０００", "", "CN", "+8613800138000"}, // full-width spaces, default region
		{"+86 138-0013-8000", "", "ID", "+8613800138000"},
		{"86-13800138000", "86", "CN", "+8613800138000"},
		{"8613800138000", "86", "CN", "+8613800138000"},
		{"13800138000.0", "86", "CN", "+8613800138000"}, // Excel
		{"'13800138000", "86", "CN", "+8613800138000"},  // Excel text marker
		{"\u200b13800138000\u00a0", "86", "CN", "+8613800138000"},
		{"+62-812-3456-7890", "62", "CN", "+6281234567890"},
		{"+62-81234567890", "", "CN", "+6281234567890"},
		{"081234567890", "62", "CN", "+6281234567890"},
		{"0812 3456 7890", "62", "CN", "+6281234567890"},
		{"62-81234567890", "62", "CN", "+6281234567890"},
		{"81234567890", "62", "CN", "+6281234567890"},
		{"(021) 5795-1234", "62", "CN", "+622157951234"},
		{"010-12345678", "86", "CN", "+861012345678"}, // Beijing landline
		{"+1 650-253-0000", "1", "CN", "+16502530000"},
		{"6502530000", "1", "CN", "+16502530000"},
		{"1380013800", "86", "CN", ""},   // too short
		{"1300001", "86", "CN", ""},      // generator's invalid form
		{"810001", "62", "CN", ""},       // generator's invalid form
		{"8.6138E+12", "86", "CN", ""},   // digits lost by Excel
		{"", "86", "CN", ""},             // empty
		{"   ", "86", "CN", ""},          // blank
		{"abc", "86", "CN", ""},          // not a number
		{"13800138000", "999", "CN", ""}, // state code naming no country
		{"12345678901234567890", "86", "CN", ""},
	}
	for _, c := range cases {
		got, ok := E164(c.raw, c.state, c.region)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("E164(%q, %q, %q) = %q, %v; want %q", c.raw, c.state, c.region, got, ok, c.want)
		}
	}
}

// TestFastPathAgrees checks the fast path against libphonenumber itself on
// many numbers: whatever the fast path calls valid, Parse + IsValidNumber
// must call valid with the same E.164 form.
func TestFastPathAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	regions := []string{"CN", "ID", "SG", "MY", "HK", "TW", "JP", "DE", "GB", "IN", "US", "AR", "MX", "IT", "BR"}
	fastHits, fastInvalids := 0, 0
	for i := 0; i < 20000; i++ {
		r := regions[rng.IntN(len(regions))]
		n := 6 + rng.IntN(8)
		b := make([]byte, n)
		for k := range b {
			b[k] = byte('0' + rng.IntN(10))
		}
		s := string(b)
		if rng.IntN(3) == 0 {
			s = fmt.Sprintf("+%d%s", phonenumbers.GetCountryCodeForRegion(r), s)
		}
		if rng.IntN(2) == 0 && s[0] != '+' {
			s = "1" + s[1:] // CN mobiles start with 1
		}
		if fastInvalid(s, r) {
			fastInvalids++
			num, err := phonenumbers.Parse(s, r)
			if err == nil && phonenumbers.IsValidNumber(num) {
				t.Fatalf("fast path calls %q (%s) invalid, libphonenumber calls it valid", s, r)
			}
			continue
		}
		fe, fok := fastE164(s, r)
		if !fok {
			continue
		}
		fastHits++
		num, err := phonenumbers.Parse(s, r)
		if err != nil || !phonenumbers.IsValidNumber(num) {
			t.Fatalf("fast path calls %q (%s) valid, libphonenumber does not (%v)", s, r, err)
		}
		if e := phonenumbers.Format(num, phonenumbers.E164); e != fe {
			t.Fatalf("fast path %q (%s) = %s, libphonenumber %s", s, r, fe, e)
		}
	}
	if fastHits < 500 || fastInvalids < 500 {
		t.Fatalf("fast path used only %d times for valid, %d for invalid numbers: the test checks too little", fastHits, fastInvalids)
	}
}

func TestNormalizeEmail(t *testing.T) {
	cases := []struct {
		in, want string
		valid    bool
	}{
		{" Zhang.Wei@Example.COM ", "Zhang.Wei@example.com", true},
		{"a+tag@mail.example.co.id", "a+tag@mail.example.co.id", true},
		{"\u3000li@example.com\u200b", "li@example.com", true},
		{"zhang.wei.4@@example", "zhang.wei.4@@example", false},
		{"no-at-sign.example.com", "no-at-sign.example.com", false},
		{"@example.com", "@example.com", false},
		{"a@localhost", "a@localhost", false},
		{"a@-bad.com", "a@-bad.com", false},
		{"a@bad..com", "a@bad..com", false},
		{"a@1.2.3.4", "a@1.2.3.4", false},
		{"Zhang Wei <zw@example.com>", "Zhang Wei <zw@example.com>", false},
		{"a b@example.com", "a b@example.com", false},
		{"", "", false},
	}
	for _, c := range cases {
		got, ok := Email(c.in)
		if got != c.want || ok != c.valid {
			t.Errorf("Email(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.valid)
		}
	}
	if EmailKey("Zhang@Example.com") != EmailKey(" zhang@example.COM") {
		t.Error("EmailKey differs by case")
	}
}

func TestCleanName(t *testing.T) {
	cases := map[string]string{
		" 张三 ":                 "张三",
		"张\u3000三":             "张三",
		"\u200b王五\u00a0":       "王五",
		"John  Smith":          "John Smith",
		"\tBudi\u3000Santoso ": "Budi Santoso",
		"欧阳 Na":                "欧阳 Na",
		"Alice":                "Alice",
	}
	for in, want := range cases {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeKeepsOriginal(t *testing.T) {
	p := &dingbook.Person{Name: " 张三 ", Mobile: "138 0013 8000", StateCode: "86", Email: " A@B.COM ", Title: " 工程师 "}
	n := Person(p, "")
	if n.Name != "张三" || n.Mobile != "+8613800138000" || !n.MobileValid || n.Email != "A@b.com" || !n.EmailValid || n.Title != "工程师" {
		t.Fatalf("Person = %+v", n)
	}
	if p.Mobile != "138 0013 8000" || p.Email != " A@B.COM " || p.Name != " 张三 " {
		t.Fatalf("Person changed the person: %+v", p)
	}
}

// TestDotAtomAgreesWithNetMail checks the shortcut in Email:
// every address it accepts without net/mail, net/mail accepts unchanged.
func TestDotAtomAgreesWithNetMail(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const chars = "abcXYZ09.!#$%&'*+-/=?^_`{|}~\"(),:;<>@[] "
	accepted := 0
	for i := 0; i < 20000; i++ {
		b := make([]byte, 1+rng.IntN(12))
		for k := range b {
			b[k] = chars[rng.IntN(len(chars))]
		}
		local := string(b)
		if !dotAtom(local) {
			continue
		}
		accepted++
		addr := local + "@example.com"
		a, err := mail.ParseAddress(addr)
		if err != nil || a.Address != addr || a.Name != "" {
			t.Fatalf("dotAtom accepts %q, net/mail gives %v, %v", local, a, err)
		}
	}
	if accepted < 1000 {
		t.Fatalf("only %d local parts accepted: the test checks too little", accepted)
	}
}

// TestPlainIsSafe: every whitespace or invisible rune the cleaners remove
// makes plain false, so its fast path never skips a needed cleaning.
func TestPlainIsSafe(t *testing.T) {
	for r := rune(0); r <= 0x10FFFF; r++ {
		if (r >= 0xD800 && r <= 0xDFFF) || !isSpace(r) {
			continue
		}
		if s := "张" + string(r) + "三"; plain(s) {
			t.Fatalf("plain(%q) (U+%04X) is true", s, r)
		}
	}
	for _, s := range []string{"张三", "研发部经理", "zhang.san", "O'Brien"} {
		if !plain(s) || Name(s) != s || Text(s) != s {
			t.Errorf("%q: plain %v", s, plain(s))
		}
	}
}
