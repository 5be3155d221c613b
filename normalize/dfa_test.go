package normalize

import (
	"math/rand/v2"
	"regexp"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// TestDigitDFAAgrees checks digitDFA against the regexp package on every
// national-number pattern of every region (and the national and
// international prefixes), over random digit strings and their
// prefixes: full match and prefix match must agree exactly.
func TestDigitDFAAgrees(t *testing.T) {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	built, checked, matched := 0, 0, 0
	check := func(p string, valid []string) {
		d := newDigitDFA(p)
		if d == nil {
			return
		}
		built++
		full := regexp.MustCompile("^(?:" + p + ")$")
		pre := regexp.MustCompile("^(?:" + p + ")")
		inputs := append([]string{""}, valid...)
		for i := 0; i < 40; i++ {
			b := make([]byte, rng.IntN(14))
			for k := range b {
				b[k] = byte('0' + rng.IntN(10))
			}
			inputs = append(inputs, string(b))
		}
		for _, v := range valid {
			// Mutations of a valid number reach deep into the pattern.
			for i := 0; i < 5 && v != ""; i++ {
				b := []byte(v)
				b[rng.IntN(len(b))] = byte('0' + rng.IntN(10))
				inputs = append(inputs, string(b), string(b[:rng.IntN(len(b))]))
			}
		}
		for _, s := range inputs {
			checked++
			if got, want := d.full(s), full.MatchString(s); got != want {
				t.Fatalf("pattern %q, %q: dfa full %v, regexp %v", p, s, got, want)
			} else if got {
				matched++
			}
			if got, want := d.prefix(s), pre.MatchString(s); got != want {
				t.Fatalf("pattern %q, %q: dfa prefix %v, regexp %v", p, s, got, want)
			}
		}
	}
	for _, m := range coll.Metadata {
		for _, desc := range []*phonenumbers.PhoneNumberDesc{m.GetGeneralDesc(), m.GetFixedLine(), m.GetMobile(),
			m.GetPremiumRate(), m.GetTollFree(), m.GetSharedCost(), m.GetVoip(), m.GetPersonalNumber(),
			m.GetPager(), m.GetUan(), m.GetVoicemail()} {
			if desc.GetNationalNumberPattern() != "" {
				check(desc.GetNationalNumberPattern(), []string{desc.GetExampleNumber()})
			}
		}
		for _, p := range []string{m.GetNationalPrefixForParsing(), m.GetInternationalPrefix()} {
			if p != "" {
				check(p, nil)
			}
		}
	}
	t.Logf("%d automata, %d checks, %d full matches", built, checked, matched)
	if built < 500 || matched < 1000 {
		t.Fatalf("only %d automata built, %d matches among %d checks: the test checks too little", built, matched, checked)
	}
	if d := newDigitDFA(`\d{2}$`); d != nil {
		t.Fatal("a pattern with an empty-width assertion must keep its regexp")
	}
}
