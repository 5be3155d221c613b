package console

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/xuri/excelize/v2"
)

// China is the zone hire dates are read in: a date in the file becomes
// midnight China Standard Time (UTC+8, no daylight saving since 1991),
// which is how DingTalk's hired_date milliseconds are understood
// (console-file.md §5.5).
var China = time.FixedZone("CST", 8*3600)

var (
	reDateSep   = regexp.MustCompile(`^(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$`)
	reDateCJK   = regexp.MustCompile(`^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?$`)
	reDateDigit = regexp.MustCompile(`^(\d{4})(\d{2})(\d{2})$`)
	reSerial    = regexp.MustCompile(`^\d{1,7}(\.\d+)?$`)
)

// parseDate reads a hire date: an Excel serial (numeric cells only, or a
// plain number below 2958466 in a CSV), 2021-03-01, 2021/3/1, 2021.3.1,
// 2021年3月1日, 20210301 (optionally with a time, which is dropped). It
// returns Unix milliseconds at midnight in China.
func parseDate(s string, numeric, date1904 bool) (int64, error) {
	s = strings.TrimSpace(s)
	var y, m, d int
	// Up to 7 digits is a serial (the date forms need 8 digits or
	// separators): no need to try the expressions, a million rows over.
	plainSerial := len(s) > 0 && len(s) <= 7 && allDigits(s)
	if mm := matchDate(s, plainSerial); mm != nil {
		y, m, d = atoi(mm[1]), atoi(mm[2]), atoi(mm[3])
	} else if plainSerial || reSerial.MatchString(s) && (numeric || !strings.Contains(s, ".")) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 1 || f >= 2958466 {
			return 0, fmt.Errorf("cannot read date %q", s)
		}
		t, err := excelize.ExcelDateToTime(f, date1904)
		if err != nil {
			return 0, fmt.Errorf("cannot read date %q: %v", s, err)
		}
		y, m, d = t.Year(), int(t.Month()), t.Day()
	} else {
		return 0, fmt.Errorf("cannot read date %q", s)
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, China)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d || y < 1900 || y > 2200 {
		return 0, fmt.Errorf("cannot read date %q", s)
	}
	return t.UnixMilli(), nil
}

// matchDate matches the text date forms, unless skip.
func matchDate(s string, skip bool) []string {
	if skip {
		return nil
	}
	for _, re := range []*regexp.Regexp{reDateDigit, reDateSep, reDateCJK} {
		if mm := re.FindStringSubmatch(s); mm != nil {
			return mm
		}
	}
	return nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

var reExp = regexp.MustCompile(`^[+-]?\d+(\.\d+)?[eE][+-]?\d+$`)

// repairNumber undoes what spreadsheets do to numbers stored as numbers:
// "13800138000.0" → "13800138000". Exponent forms are reported via lost.
func repairNumber(s string) (out string, lost bool) {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "eE") && reExp.MatchString(s) {
		return s, true
	}
	if i := strings.IndexByte(s, '.'); i > 0 && allDigits(s[:i]) && strings.Trim(s[i+1:], "0") == "" {
		return s[:i], false
	}
	return s, false
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseMobile splits a mobile cell into the state code and the national
// number, as DingTalk's API holds them:
//   - "+86-13800138000", "+62 812-3456-7890", "+6281234567890" → code and
//     national significant number (phonenumbers, else split at the first
//     separator);
//   - "86-13800138000" (a code of 1–3 digits not starting with 0 and a
//     dash) → likewise;
//   - 11 digits starting with 1 → a Chinese mobile, state code 86;
//   - anything else is kept as written with no state code.
//
// warn is non-empty when the value looks damaged.
// Built once: a Replacer is costly to make, and a million-row file parses
// a million mobiles.
var (
	mobileSeparators = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "", "\u00a0", "")
	spaceDash        = strings.NewReplacer(" ", "", "-", "")
	phoneSeparators  = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "")
)

func parseMobile(raw string) (stateCode, national, warn string) {
	s, lost := repairNumber(raw)
	if lost {
		return "", s, fmt.Sprintf("mobile %q is in exponent form: digits were lost when the file was saved; kept as written", raw)
	}
	if s == "" {
		return "", "", ""
	}
	compact := s
	if strings.ContainsAny(s, " -()\u00a0") { // Replace would copy s even when there is nothing to replace
		compact = mobileSeparators.Replace(s)
	}
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "＋") {
		s = "+" + strings.TrimPrefix(strings.TrimPrefix(s, "+"), "＋")
		compact = "+" + strings.TrimLeft(compact, "+＋")
		if num, err := phonenumbers.Parse(compact, ""); err == nil && num.GetCountryCode() != 0 {
			nat := phonenumbers.GetNationalSignificantNumber(num)
			if phonenumbers.IsValidNumber(num) {
				return strconv.Itoa(int(num.GetCountryCode())), nat, ""
			}
		}
		if i := strings.IndexAny(s, "- "); i > 1 && allDigits(s[1:i]) {
			rest := spaceDash.Replace(s[i+1:])
			return s[1:i], rest, fmt.Sprintf("mobile %q is not a valid number for +%s", raw, s[1:i])
		}
		return "", s, fmt.Sprintf("mobile %q has no readable country code", raw)
	}
	if i := strings.IndexByte(s, '-'); i >= 1 && i <= 3 && s[0] != '0' && allDigits(s[:i]) {
		rest := spaceDash.Replace(s[i+1:])
		if allDigits(rest) && len(rest) >= 6 {
			num, err := phonenumbers.Parse("+"+s[:i]+rest, "")
			if err == nil && phonenumbers.IsValidNumber(num) && strconv.Itoa(int(num.GetCountryCode())) == s[:i] {
				return strconv.Itoa(int(num.GetCountryCode())), phonenumbers.GetNationalSignificantNumber(num), ""
			}
		}
	}
	if allDigits(compact) && len(compact) == 11 && compact[0] == '1' {
		return "86", compact, ""
	}
	if allDigits(compact) && len(compact) < 11 && len(compact) >= 9 && compact[0] == '1' {
		return "", s, fmt.Sprintf("mobile %q looks truncated", raw)
	}
	return "", s, ""
}

// withStateCode normalises a mobile written without a country code once
// the code is known from a state_code column: "0812-3456-7890" with 62 →
// "81234567890". It returns mobile unchanged when that is not a valid
// number.
func withStateCode(code, mobile string) string {
	compact := phoneSeparators.Replace(mobile)
	if !allDigits(compact) {
		return mobile
	}
	if num, err := phonenumbers.Parse("+"+code+strings.TrimLeft(compact, "0"), ""); err == nil && phonenumbers.IsValidNumber(num) {
		return phonenumbers.GetNationalSignificantNumber(num)
	}
	return mobile
}

// parseBool reads 是/否, Y/N, yes/no, true/false, 1/0, ya/tidak.
func parseBool(s string) (v, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "是", "y", "yes", "true", "1", "ya", "√", "✓", "t":
		return true, true
	case "否", "n", "no", "false", "0", "tidak", "×", "f", "":
		return false, true
	}
	return false, false
}
