// Package clean normalises an organisation's contact data (phone numbers to
// E.164, e-mail addresses, names), finds duplicates and builds the quality
// report that `dingbook quality` prints and `dingbook export --clean` embeds
// in a workbook.
//
// The problem definitions are the dingbook.Problem constants in the root
// package; the generator (source/gen) injects exactly those and the tests
// check that the cleaner finds exactly what was injected.
//
// Everything streams: Analyze reads a dingbook.Directory person by person
// and never keeps Person values. It keeps a 64-bit hash per person id
// (with the person's problems, and in directory order), and per duplicate
// key (normalised mobile, e-mail, name-in-department) its hash and the
// holder's position in flat pointer-free columns; a bit table tells which
// keys may repeat, so only those keep their text and only those are
// sorted at the end. Memory is proportional to the number of keys
// (scripts/bench-clean.sh measures it). A manager who comes later in the
// stream than their reports is resolved at the end. A second pass over
// the same directory (WriteJSON, WriteText, EachPersonProblems, the
// export's status column) looks every person's problems up in the report;
// the status column, called in directory order, finds each person by
// position (one key comparison) rather than by a table probe. Hashes use
// hash/maphash with a fresh seed per report; the chance of any false
// match among a million keys is about 3·10⁻⁸.
//
// Speed: phone numbers are checked against libphonenumber's metadata by
// automata compiled from its patterns (phonefast.go), which answer
// "certainly valid" or "certainly invalid" for nearly every number;
// anything else goes to libphonenumber itself. People are normalised on
// all CPUs in batches and committed in directory order.
//
// Person identity: a userid is one person however often it is listed (a
// person in several departments is never their own duplicate). Imported
// rows have no userid; each row is its own person unless Dedupe merged
// them first, and reports name them by their 1-based row in the directory.
package clean

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
// none is given (--region).
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

// CleanText trims whitespace (including full-width U+3000, NBSP and
// zero-width characters) from both ends of s and removes zero-width
// characters inside it.
func CleanText(s string) string {
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

// CleanName removes stray whitespace from a person's name: both ends are
// trimmed (full-width spaces, NBSP and zero-width characters included),
// runs of inner whitespace become one ASCII space, and whitespace between
// two Han characters is dropped ("张　三" → "张三", "John  Smith" →
// "John Smith").
func CleanName(s string) string {
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

// NormalizeEmail trims s and lower-cases its domain. valid reports whether
// the result is one plain address: exactly one '@', a non-empty local part,
// a domain with at least one dot and valid labels, accepted by
// net/mail.ParseAddress without a display name. An empty s is not valid.
func NormalizeEmail(s string) (string, bool) {
	s = CleanText(s)
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
	n, _ := NormalizeEmail(s)
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
	sc := strings.TrimPrefix(CleanText(stateCode), "+")
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

// Normalized is a person's contact data normalised; the Person itself is
// left untouched, so the original values stay available.
type Normalized struct {
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

// Normalize returns p's normalised contact data. region is the default
// region for numbers without a state_code ("" = DefaultRegion).
func Normalize(p *dingbook.Person, region string) Normalized {
	n := Normalized{
		Name:          CleanName(p.Name),
		Title:         CleanText(p.Title),
		JobNumber:     CleanText(p.JobNumber),
		ManagerUserID: CleanText(p.ManagerUserID),
	}
	n.Mobile, n.MobileValid = E164(p.Mobile, p.StateCode, region)
	n.Email, n.EmailValid = NormalizeEmail(p.Email)
	n.OrgEmail, n.OrgEmailValid = NormalizeEmail(p.OrgEmail)
	return n
}

// Cleaned returns a copy of p with its text fields cleaned for output:
// the name (CleanName), e-mails (NormalizeEmail; an invalid one is only
// trimmed), title, job number, telephone, work place and manager trimmed.
// The mobile is kept as written (its E.164 form is E164's, the
// mobile_e164 column); p itself is not changed.
func Cleaned(p *dingbook.Person) *dingbook.Person {
	c := *p
	c.Name = CleanName(p.Name)
	c.Email, _ = NormalizeEmail(p.Email)
	c.OrgEmail, _ = NormalizeEmail(p.OrgEmail)
	c.Title = CleanText(p.Title)
	c.JobNumber = CleanText(p.JobNumber)
	c.Telephone = CleanText(p.Telephone)
	c.WorkPlace = CleanText(p.WorkPlace)
	c.ManagerUserID = CleanText(p.ManagerUserID)
	return &c
}
