// Package normalize puts a person's contact data into canonical form:
// phone numbers to E.164 (E164), e-mail addresses (Email, EmailKey),
// names and other text (Name, Text), and masks phone numbers for display
// (MaskPhone). It is a leaf: it imports only the domain package, so that
// both the cleaner (clean) and the file formats (format/...) use it
// without the formats depending on the cleaner.
//
// Speed: phone numbers are checked against libphonenumber's metadata by
// automata compiled from its patterns (phonefast.go), which answer
// "certainly valid" or "certainly invalid" for nearly every number;
// anything else goes to libphonenumber itself.
package normalize

import (
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/dingbook/dingbook"
	"github.com/nyaruka/phonenumbers"
)

// DefaultRegion is the region used for numbers without a state_code when
// the caller gives none.
const DefaultRegion = "CN"

// ValidRegion reports whether region is a region libphonenumber knows
// (ISO 3166 alpha-2, upper case, e.g. "CN", "ID").
func ValidRegion(region string) bool {
	return phonenumbers.GetSupportedRegions()[region]
}

// isInvisible reports runes that are whitespace-like but not caught by
// unicode.IsSpace: zero-width spaces and joiners, the BOM, word joiner.
func isInvisible(r rune) bool {
	switch r {
	case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u180e':
		return true
	}
	return false
}

func isSpace(r rune) bool { return unicode.IsSpace(r) || isInvisible(r) }

// Text trims whitespace (including full-width U+3000, NBSP and
// zero-width characters) from both ends of s and removes zero-width
// characters inside it.
func Text(s string) string {
	if s == "" {
		return s
	}
	if plain(s) {
		return s
	}
	if isASCII(s) {
		return strings.TrimSpace(s)
	}
	s = strings.TrimFunc(s, isSpace)
	if strings.IndexFunc(s, isInvisible) >= 0 {
		s = strings.Map(func(r rune) rune {
			if isInvisible(r) {
				return -1
			}
			return r
		}, s)
	}
	return s
}

// plain reports whether s certainly holds no whitespace or invisible
// rune: no ASCII space or control byte, and none of the UTF-8 lead bytes
// of the non-ASCII ones (U+0085 and U+00A0: C2; U+1680 and U+180E: E1;
// U+2000–U+2060: E2; U+3000: E3; U+FEFF: EF). Most Chinese text (E4–E9)
// is plain.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if notPlain[s[i]] {
			return false
		}
	}
	return true
}

var notPlain = func() (t [256]bool) {
	for c := 0; c <= ' '; c++ {
		t[c] = true
	}
	for _, c := range []byte{0xC2, 0xE1, 0xE2, 0xE3, 0xEF} {
		t[c] = true
	}
	return t
}()

func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

// Name removes stray whitespace from a person's name: both ends are
// trimmed (full-width spaces, NBSP and zero-width characters included),
// runs of inner whitespace become one ASCII space, and whitespace between
// two Han characters is dropped ("张　三" → "张三", "John  Smith" →
// "John Smith").
func Name(s string) string {
	if s == "" {
		return s
	}
	fast := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || c == ' ' || c < 0x20 {
			fast = false
			break
		}
	}
	if fast || plain(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	pendingSpace := false
	var prev rune
	for _, r := range s {
		if isInvisible(r) {
			continue
		}
		if unicode.IsSpace(r) {
			pendingSpace = b.Len() > 0
			continue
		}
		if pendingSpace && !(isHan(prev) && isHan(r)) {
			b.WriteByte(' ')
		}
		pendingSpace = false
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// Email trims s and lower-cases its domain. valid reports whether
// the result is one plain address: exactly one '@', a non-empty local part,
// a domain with at least one dot and valid labels, accepted by
// net/mail.ParseAddress without a display name. An empty s is not valid.
func Email(s string) (string, bool) {
	s = Text(s)
	if s == "" {
		return "", false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s, false
	}
	if hasUpperASCII(s[at+1:]) || !isASCII(s[at+1:]) {
		s = s[:at+1] + strings.ToLower(s[at+1:])
	}
	if strings.Count(s, "@") != 1 || at == 0 || hasSpace(s) {
		return s, false
	}
	if !validDomain(s[at+1:]) {
		return s, false
	}
	if dotAtom(s[:at]) && isASCII(s[at+1:]) {
		// A plain dot-atom address: exactly what net/mail accepts
		// unchanged (TestDotAtomAgreesWithNetMail), without its cost.
		return s, true
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return s, false
	}
	return s, true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// hasSpace reports whether s contains a unicode.IsSpace rune.
func hasSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf:
			return strings.IndexFunc(s[i:], unicode.IsSpace) >= 0
		case c == ' ' || '\t' <= c && c <= '\r':
			return true
		}
	}
	return false
}

func hasUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// dotAtom reports whether local is an RFC 5322 dot-atom of ASCII atext.
func dotAtom(local string) bool {
	if local == "" || local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func validDomain(d string) bool {
	if len(d) > 253 || strings.IndexByte(d, '.') < 0 {
		return false
	}
	tldDigits := true
	for len(d) > 0 {
		l := d
		if i := strings.IndexByte(d, '.'); i >= 0 {
			l, d = d[:i], d[i+1:]
			if d == "" {
				return false // trailing dot
			}
		} else {
			d = ""
		}
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; c < utf8.RuneSelf {
				if !(c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
					return false
				}
				continue
			}
			for _, r := range l[i:] {
				if !(r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
					return false
				}
			}
			break
		}
		tldDigits = allDigits(l)
	}
	return !tldDigits
}

// EmailKey is the key under which two addresses are the same for duplicate
// detection: the normalised address, wholly lower-cased.
func EmailKey(s string) string {
	n, _ := Email(s)
	return strings.ToLower(n)
}

var (
	excelExponent = regexp.MustCompile(`^[0-9](\.[0-9]+)?[eE]\+?[0-9]+$`)
)

// cleanPhone folds full-width characters, removes whitespace, strips one
// leading "'" (an Excel text marker) and an Excel ".0" suffix. ok is false
// for a value whose digits are already lost (an exponent such as
// "8.6138E+12").
func cleanPhone(raw string) (string, bool) {
	if allDigits(raw) {
		return raw, true
	}
	var b strings.Builder
	b.Grow(len(raw))
	for _, r := range raw {
		switch {
		case r >= '０' && r <= '９':
			r = r - '０' + '0'
		case r == '＋':
			r = '+'
		case r == '－' || r == '‐' || r == '‑' || r == '–' || r == '—':
			r = '-'
		case r == '（':
			r = '('
		case r == '）':
			r = ')'
		case r == '．':
			r = '.'
		}
		if isSpace(r) {
			continue
		}
		b.WriteRune(r)
	}
	s := b.String()
	s = strings.TrimPrefix(s, "'")
	if excelExponent.MatchString(s) {
		return s, false
	}
	if rest, ok := strings.CutSuffix(s, ".0"); ok && rest != "" && allDigits(rest) {
		s = rest
	}
	return s, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// stateCodeRegion returns the main region of a DingTalk state_code ("86",
// "+62"), or "" when it names no country.
func stateCodeRegion(stateCode string) (int, string) {
	if n := len(stateCode); n >= 1 && n <= 3 && stateCode[0] != '0' && allDigits(stateCode) {
		// The common case ("86", "62"): a table look-up.
		cc := 0
		for i := 0; i < n; i++ {
			cc = cc*10 + int(stateCode[i]-'0')
		}
		ccOnce.Do(loadCCRegions)
		return cc, ccRegions[cc]
	}
	sc := strings.TrimPrefix(Text(stateCode), "+")
	if sc == "" {
		return 0, ""
	}
	cc, err := strconv.Atoi(sc)
	if err != nil || cc <= 0 {
		return 0, ""
	}
	r := phonenumbers.GetRegionCodeForCountryCode(cc)
	if r == "ZZ" || r == "" {
		return cc, ""
	}
	return cc, r
}

var (
	ccOnce    sync.Once
	ccRegions [1000]string // country code → main region, "" for none
)

func loadCCRegions() {
	for cc := 1; cc < len(ccRegions); cc++ {
		if r := phonenumbers.GetRegionCodeForCountryCode(cc); r != "ZZ" {
			ccRegions[cc] = r
		}
	}
}

// ccDash matches DingTalk's "cc-number" form: one to three digits, not
// starting with 0, then '-' (the regexp ^([1-9][0-9]{0,2})-). It returns
// the country code's digits and the rest after the dash.
func ccDash(s string) (cc, rest string, ok bool) {
	k := 0
	for k < len(s) && k < 4 && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	if k == 0 || k > 3 || s[0] == '0' || k >= len(s) || s[k] != '-' {
		return "", "", false
	}
	return s[:k], s[k+1:], true
}

// E164 normalises a phone number to E.164 ("+8613800138000"). stateCode is
// DingTalk's state_code (dialling code without '+', e.g. "86", "62"); it
// chooses the region for numbers written without an international prefix,
// and region (e.g. "CN") is used when stateCode is empty. Understood forms
// include "+62-812-3456-7890", "0812 3456 7890", "86-13800138000",
// "(0812) 345-678", full-width digits and spaces, a leading "'" and Excel's
// "13800138000.0". ok is false when raw is empty or not a valid number
// according to libphonenumber; e164 is then "".
func E164(raw, stateCode, region string) (e164 string, ok bool) {
	s, good := cleanPhone(raw)
	if !good || s == "" {
		return "", false
	}
	cc, r := stateCodeRegion(stateCode)
	if r == "" {
		if cc != 0 {
			// A state_code naming no country: only an explicit +cc number
			// can be valid.
			r = "ZZ"
		} else {
			r = region
			if r == "" {
				r = DefaultRegion
			}
			cc = phonenumbers.GetCountryCodeForRegion(r)
		}
	}
	// DingTalk's "cc-number" form (86-138…, +62-812…).
	if d, rest, ok := ccDash(s); ok {
		if p, _ := strconv.Atoi(d); p == cc {
			if e, ok := e164Clean("+"+d+rest, r); ok {
				return e, true
			}
		}
	}
	if e, ok := e164Clean(s, r); ok {
		return e, true
	}
	return "", false
}

// e164Clean validates a cleaned number s in region r.
func e164Clean(s, r string) (string, bool) {
	if e, ok := fastE164(s, r); ok {
		return e, true
	}
	if fastInvalid(s, r) {
		return "", false
	}
	num, err := phonenumbers.Parse(s, r)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", false
	}
	return phonenumbers.Format(num, phonenumbers.E164), true
}

// Contact is a person's contact data normalised; the Person itself is
// left untouched, so the original values stay available.
type Contact struct {
	Name string `json:"name"`
	// Mobile is the E.164 form; "" when the mobile is empty or invalid.
	Mobile      string `json:"mobile,omitempty"`
	MobileValid bool   `json:"mobile_valid"`
	// Email and OrgEmail are trimmed with lower-cased domains.
	Email         string `json:"email,omitempty"`
	EmailValid    bool   `json:"email_valid"`
	OrgEmail      string `json:"org_email,omitempty"`
	OrgEmailValid bool   `json:"org_email_valid"`
	Title         string `json:"title,omitempty"`
	JobNumber     string `json:"job_number,omitempty"`
	ManagerUserID string `json:"manager_userid,omitempty"`
}

// Person returns p's normalised contact data. region is the default
// region for numbers without a state_code ("" = DefaultRegion).
func Person(p *dingbook.Person, region string) Contact {
	n := Contact{
		Name:          Name(p.Name),
		Title:         Text(p.Title),
		JobNumber:     Text(p.JobNumber),
		ManagerUserID: Text(p.ManagerUserID),
	}
	n.Mobile, n.MobileValid = E164(p.Mobile, p.StateCode, region)
	n.Email, n.EmailValid = Email(p.Email)
	n.OrgEmail, n.OrgEmailValid = Email(p.OrgEmail)
	return n
}
