package clean

import (
	"regexp"
	"strconv"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// A fast path for the common case of E164: libphonenumber's Parse plus
// IsValidNumber costs ~15 µs a number (regular expressions rebuilt as
// strings on every call), which is most of the cleaning time for a million
// people. fastE164 answers only "valid" and only when libphonenumber would
// certainly agree: a digits-only number for a region whose country code has
// no other region, with no national or international prefix at its start,
// that matches the region's general pattern and its fixed-line or mobile
// pattern (getNumberTypeHelper then returns a type other than UNKNOWN).
// Everything else goes to phonenumbers.Parse; TestFastPathAgrees checks the
// two agree.

type fastDesc struct {
	lengths []int32
	re      *regexp.Regexp
}

func newFastDesc(d *phonenumbers.PhoneNumberDesc) *fastDesc {
	if d == nil || d.GetNationalNumberPattern() == "" {
		return nil
	}
	return &fastDesc{lengths: d.PossibleLength, re: regexp.MustCompile("^(?:" + d.GetNationalNumberPattern() + ")$")}
}

func (d *fastDesc) match(n string) bool {
	if d == nil {
		return false
	}
	if len(d.lengths) > 0 {
		found := false
		for _, l := range d.lengths {
			if int(l) == len(n) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return d.re.MatchString(n)
}

type fastRegion struct {
	cc   string
	meta *phonenumbers.PhoneMetadata
	once sync.Once
	ok   bool
	// compiled on first use
	general, fixed, mobile *fastDesc
	npp, idd               *regexp.Regexp
}

func (fr *fastRegion) compile() {
	m := fr.meta
	fr.general = newFastDesc(m.GetGeneralDesc())
	fr.fixed = newFastDesc(m.GetFixedLine())
	fr.mobile = newFastDesc(m.GetMobile())
	if p := m.GetNationalPrefixForParsing(); p != "" {
		fr.npp = regexp.MustCompile("^(?:" + p + ")")
	} else if p := m.GetNationalPrefix(); p != "" {
		fr.npp = regexp.MustCompile("^(?:" + regexp.QuoteMeta(p) + ")")
	}
	if p := m.GetInternationalPrefix(); p != "" {
		fr.idd = regexp.MustCompile("^(?:" + p + ")")
	}
	fr.ok = fr.general != nil
}

var (
	fastOnce    sync.Once
	fastRegions map[string]*fastRegion // region → data, only single-region country codes
	fastByCC    map[string]*fastRegion // country code digits → data
)

func loadFast() {
	fastRegions = map[string]*fastRegion{}
	fastByCC = map[string]*fastRegion{}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return
	}
	for _, m := range coll.Metadata {
		cc := int(m.GetCountryCode())
		if len(phonenumbers.GetRegionCodesForCountryCode(cc)) != 1 || m.GetId() == "" || m.GetId() == "001" {
			continue
		}
		if m.GetSameMobileAndFixedLinePattern() {
			continue // keep the helper's logic simple: never guess
		}
		fr := &fastRegion{cc: strconv.Itoa(cc), meta: m}
		fastRegions[m.GetId()] = fr
		fastByCC[fr.cc] = fr
	}
}

// fastE164 returns the E.164 form of s in region r when it is certainly
// valid; ok false means "ask libphonenumber", not "invalid".
func fastE164(s, r string) (string, bool) {
	fastOnce.Do(loadFast)
	if len(s) < 2 {
		return "", false
	}
	var fr *fastRegion
	var national string
	if s[0] == '+' {
		d := s[1:]
		if !allDigits(d) {
			return "", false
		}
		for l := 1; l <= 3 && l < len(d); l++ {
			if x := fastByCC[d[:l]]; x != nil {
				fr, national = x, d[l:]
				break
			}
		}
		if fr == nil {
			return "", false
		}
	} else {
		fr = fastRegions[r]
		if fr == nil || !allDigits(s) {
			return "", false
		}
		national = s
		if fr.once.Do(fr.compile); fr.idd != nil && fr.idd.MatchString(national) {
			return "", false
		}
	}
	if national == "" || national[0] == '0' || len(national) > 17 {
		return "", false
	}
	if fr.once.Do(fr.compile); !fr.ok {
		return "", false
	}
	if fr.npp != nil && fr.npp.MatchString(national) {
		return "", false
	}
	if !fr.general.match(national) || !(fr.mobile.match(national) || fr.fixed.match(national)) {
		return "", false
	}
	return "+" + fr.cc + national, true
}
