package xlsxread

import (
	"bytes"
	"regexp"
	"strconv"
	"unicode/utf8"
)

// appendText appends the XML character data raw (no markup in it) to dst
// as encoding/xml decodes it: the five predefined entities and character
// references replaced, "\r\n" and "\r" turned into "\n". ok is false when
// encoding/xml would refuse the text (an unknown or malformed entity, a
// character outside XML's range, invalid UTF-8, "]]>"), and dst is then
// unspecified.
func appendText(dst, raw []byte) (out []byte, ok bool) {
	plain := true
	for _, c := range raw {
		if c < 0x20 && c != '\t' && c != '\n' || c >= 0x7F || c == '&' || c == '\r' || c == '>' {
			plain = false
			break
		}
	}
	if plain {
		return append(dst, raw...), true
	}
	if bytes.Contains(raw, []byte("]]>")) {
		return dst, false
	}
	start := len(dst)
	var prev byte
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '&':
			j := bytes.IndexByte(raw[i:], ';')
			if j < 0 {
				return dst, false
			}
			r, ok := entity(raw[i+1 : i+j])
			if !ok {
				return dst, false
			}
			dst = utf8.AppendRune(dst, r)
			i += j
			prev = 0
			continue
		case c == '\r':
			dst = append(dst, '\n')
		case c == '\n' && prev == '\r':
		default:
			dst = append(dst, c)
		}
		prev = c
	}
	return dst, validChars(dst[start:])
}

// entity decodes the name between '&' and ';' as encoding/xml does in
// strict mode.
func entity(name []byte) (rune, bool) {
	switch string(name) {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "apos":
		return '\'', true
	case "quot":
		return '"', true
	}
	if len(name) < 2 || name[0] != '#' {
		return 0, false
	}
	digits, base := name[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 {
		return 0, false
	}
	for _, c := range digits {
		if !('0' <= c && c <= '9' || base == 16 && ('a' <= c && c <= 'f' || 'A' <= c && c <= 'F')) {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(digits), base, 64)
	if err != nil || n > utf8.MaxRune {
		return 0, false
	}
	// string(rune(n)) as encoding/xml does: a surrogate becomes U+FFFD.
	r, _ := utf8.DecodeRuneInString(string(rune(n)))
	return r, true
}

// validChars is encoding/xml's check of decoded text.
func validChars(b []byte) bool {
	for len(b) > 0 {
		if c := b[0]; c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return false
			}
			b = b[1:]
			continue
		}
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			return false
		}
		if !(r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
			return false
		}
		b = b[size:]
	}
	return true
}

var bstrExp = regexp.MustCompile(`_x[a-fA-F\d]{4}_`)

// bstrUnmarshal is excelize's decoding of the _xHHHH_ escapes in a string
// item, kept exactly as it is there.
func bstrUnmarshal(s string) (result string) {
	if !bytes.Contains([]byte(s), []byte("_x")) {
		return s
	}
	matches, l, cursor := bstrExp.FindAllStringSubmatchIndex(s, -1), len(s), 0
	for _, match := range matches {
		result += s[cursor:match[0]]
		subStr := s[match[0]:match[1]]
		if subStr == "_x005F_" {
			cursor = match[1]
			result += "_"
			continue
		}
		if bstrExp.MatchString(subStr) {
			cursor = match[1]
			v, _ := strconv.Unquote(`"\u` + s[match[0]+2:match[1]-1] + `"`)
			result += v
		}
	}
	if cursor < l {
		result += s[cursor:]
	}
	return result
}
