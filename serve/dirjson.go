package serve

import (
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/dingbook/dingbook/app"
)

// The two answers the directory's load is made of, GET /api/v1/people
// and GET /api/v1/people/{userid}, encoded by hand: byte for byte what
// writeJSON (encoding/json, HTML escaped) writes, without its reflection,
// which was a third of a search's CPU. TestDirJSON holds them to
// encoding/json with every field of app.DirPerson set (a field added
// there fails it until it is added here), FuzzDirJSON with any strings.

// jsonBufs are the answers' buffers, reused.
var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// writeJSONBytes answers with the JSON encode appends (appendPeople,
// appendPerson), with writeJSON's headers and its final newline.
func writeJSONBytes(w http.ResponseWriter, status int, encode func([]byte) []byte) {
	bp := jsonBufs.Get().(*[]byte)
	b := append(encode((*bp)[:0]), '\n')
	jsonHeaders(w)
	w.WriteHeader(status)
	w.Write(b)
	if cap(b) <= 1<<20 {
		*bp = b
		jsonBufs.Put(bp)
	}
}

// appendPeople appends People{people} as JSON.
func appendPeople(dst []byte, people []app.DirPerson) []byte {
	dst = append(dst, `{"people":`...)
	if people == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range people {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendPerson(dst, &people[i])
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendPerson appends p as JSON, in the order and with the omitempty of
// app.DirPerson's tags.
func appendPerson(dst []byte, p *app.DirPerson) []byte {
	dst = append(dst, `{"userid":`...)
	dst = appendJSONString(dst, p.UserID)
	dst = append(dst, `,"name":`...)
	dst = appendJSONString(dst, p.Name)
	dst = append(dst, `,"title":`...)
	dst = appendJSONString(dst, p.Title)
	dst = append(dst, `,"departments":`...)
	if p.Departments == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, d := range p.Departments {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"id":`...)
			dst = strconv.AppendInt(dst, d.ID, 10)
			dst = append(dst, `,"name":`...)
			dst = appendJSONString(dst, d.Name)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = appendOptional(dst, `,"job_number":`, p.JobNumber)
	dst = appendOptional(dst, `,"state_code":`, p.StateCode)
	dst = appendOptional(dst, `,"mobile":`, p.Mobile)
	dst = append(dst, `,"mobile_hidden":`...)
	dst = strconv.AppendBool(dst, p.MobileHidden)
	dst = appendOptional(dst, `,"telephone":`, p.Telephone)
	dst = appendOptional(dst, `,"email":`, p.Email)
	dst = appendOptional(dst, `,"org_email":`, p.OrgEmail)
	dst = appendOptional(dst, `,"work_place":`, p.WorkPlace)
	return append(dst, '}')
}

// appendOptional appends an omitempty string field: key (with its comma
// and colon) and v, unless v is empty.
func appendOptional(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	return appendJSONString(append(dst, key...), v)
}

// jsonSafe holds the ASCII bytes encoding/json copies as they are with
// HTML escaping on (its htmlSafeSet).
var jsonSafe = func() (safe [utf8.RuneSelf]bool) {
	for b := range safe {
		safe[b] = b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return safe
}()

// appendJSONString appends s quoted as encoding/json quotes it with HTML
// escaping (its appendString): \" \\ \b \f \n \r \t, other control
// bytes and < > & as \u00xx, invalid UTF-8 as \ufffd, U+2028 and U+2029
// escaped.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
