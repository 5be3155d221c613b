package normalize

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// MaskPhone hides the middle of a phone number, keeping the first 3 and
// the last 4 digits of the national number: 13812341234 → 138****1234,
// +8613812341234 → +86138****1234, +852-91234567 → +852-912*4567. A
// leading "+<country code>" (E.164) or "+<code>-" prefix is kept. National
// numbers of 7 digits or fewer keep only their last 2 digits.
func MaskPhone(s string) string {
	if s == "" {
		return s
	}
	prefix, nat := "", s
	if strings.HasPrefix(s, "+") {
		if i := strings.IndexAny(s, "- "); i > 0 {
			prefix, nat = s[:i+1], s[i+1:]
		} else if num, err := phonenumbers.Parse(s, "CN"); err == nil {
			cc := strconv.Itoa(int(num.GetCountryCode()))
			if strings.HasPrefix(s[1:], cc) {
				prefix, nat = s[:1+len(cc)], s[1+len(cc):]
			}
		}
	}
	var digits []int // byte positions of digits in nat
	for i := 0; i < len(nat); i++ {
		if nat[i] >= '0' && nat[i] <= '9' {
			digits = append(digits, i)
		}
	}
	keepHead, keepTail := 3, 4
	if len(digits) <= 7 {
		keepHead, keepTail = 0, min(2, len(digits))
	}
	b := []byte(nat)
	for k, pos := range digits {
		if k >= keepHead && k < len(digits)-keepTail {
			b[pos] = '*'
		}
	}
	return prefix + string(b)
}
