package serve

import (
	"encoding/xml"
	"html"
	"net/http"
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/dingbook/dingbook/app"
)

// addressbook-query (RFC 6352 §8.6, §10.5): the cards whose properties
// pass the filter. Every vCard property and parameter of the served
// cards may be filtered on (FN, N, EMAIL, TEL, UID, ORG, TITLE, X-...),
// with text-match's four match types, negate-condition and the
// collations i;unicode-casemap (the default), i;ascii-casecmp and
// i;octet. A filter part this server does not know is refused with 403
// supported-filter (an unknown collation: supported-collation) rather
// than ignored, so that a client never takes a wider answer for a
// filtered one. address-data's prop subset (§10.4.2) is not applied: the
// whole card is returned, as the RFC allows for a server that does not
// support it.

// cardFilter is <card:filter>.
type cardFilter struct {
	Test  string       `xml:"test,attr"`
	Props []propFilter `xml:"prop-filter"`
	Other []davAny     `xml:",any"`
}

type propFilter struct {
	Name         string        `xml:"name,attr"`
	Test         string        `xml:"test,attr"`
	IsNotDefined *struct{}     `xml:"is-not-defined"`
	TextMatches  []textMatch   `xml:"text-match"`
	ParamFilters []paramFilter `xml:"param-filter"`
	Other        []davAny      `xml:",any"`
}

type paramFilter struct {
	Name         string     `xml:"name,attr"`
	IsNotDefined *struct{}  `xml:"is-not-defined"`
	TextMatch    *textMatch `xml:"text-match"`
	Other        []davAny   `xml:",any"`
}

type textMatch struct {
	Collation string `xml:"collation,attr"`
	Negate    string `xml:"negate-condition,attr"`
	MatchType string `xml:"match-type,attr"`
	Text      string `xml:",chardata"`
	// fold and text (folded) are set by check.
	fold func(string) string
}

// davAny is an element a filter does not know.
type davAny struct{ XMLName xml.Name }

// vprop is one property line of a card: its name and parameter names
// upper-cased, parameter values split at commas, the value unescaped.
type vprop struct {
	name   string
	params map[string][]string
	value  string
}

// collations are the text-match collations served (RFC 4790).
var collations = map[string]func(string) string{
	"i;unicode-casemap": func(s string) string { return norm.NFKD.String(cases.Fold().String(s)) },
	"i;ascii-casecmp":   asciiLower,
	"i;octet":           func(s string) string { return s },
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// check validates the filter and prepares its text-matches; the answer
// is the precondition it fails ("" when it is served).
func (f *cardFilter) check() string {
	if len(f.Other) > 0 || !validTest(f.Test) {
		return "supported-filter"
	}
	for i := range f.Props {
		pf := &f.Props[i]
		if pf.Name == "" || len(pf.Other) > 0 || !validTest(pf.Test) ||
			pf.IsNotDefined != nil && (len(pf.TextMatches) > 0 || len(pf.ParamFilters) > 0) {
			return "supported-filter"
		}
		for j := range pf.TextMatches {
			if c := pf.TextMatches[j].check(); c != "" {
				return c
			}
		}
		for j := range pf.ParamFilters {
			pa := &pf.ParamFilters[j]
			if pa.Name == "" || len(pa.Other) > 0 || pa.IsNotDefined != nil && pa.TextMatch != nil {
				return "supported-filter"
			}
			if pa.TextMatch != nil {
				if c := pa.TextMatch.check(); c != "" {
					return c
				}
			}
		}
	}
	return ""
}

func validTest(t string) bool { return t == "" || t == "anyof" || t == "allof" }

func (t *textMatch) check() string {
	coll := t.Collation
	if coll == "" {
		coll = "i;unicode-casemap"
	}
	t.fold = collations[coll]
	if t.fold == nil {
		return "supported-collation"
	}
	switch t.MatchType {
	case "", "equals", "contains", "starts-with", "ends-with":
	default:
		return "supported-filter"
	}
	if t.Negate != "" && t.Negate != "yes" && t.Negate != "no" {
		return "supported-filter"
	}
	t.Text = t.fold(t.Text)
	return ""
}

func (t *textMatch) match(v string) bool {
	v = t.fold(v)
	var ok bool
	switch t.MatchType {
	case "equals":
		ok = v == t.Text
	case "starts-with":
		ok = strings.HasPrefix(v, t.Text)
	case "ends-with":
		ok = strings.HasSuffix(v, t.Text)
	default:
		ok = strings.Contains(v, t.Text)
	}
	return ok != (t.Negate == "yes")
}

// combine applies test ("anyof", the default, or "allof") to n results.
func combine(test string, n int, result func(int) bool) bool {
	all := test == "allof"
	for i := range n {
		if result(i) != all {
			return !all
		}
	}
	return all
}

// matches reports whether a card's properties pass the filter (nil: no
// filter, every card passes).
func (f *cardFilter) matches(props []vprop) bool {
	if f == nil || len(f.Props) == 0 {
		return true
	}
	return combine(f.Test, len(f.Props), func(i int) bool { return f.Props[i].matches(props) })
}

// matches: a prop-filter passes when some property of its name passes
// its text-matches and param-filters (or, with none, exists); with
// is-not-defined when no property has the name.
func (pf *propFilter) matches(props []vprop) bool {
	name := strings.ToUpper(pf.Name)
	found := false
	for _, p := range props {
		if p.name != name {
			continue
		}
		found = true
		if pf.IsNotDefined != nil {
			return false
		}
		nt := len(pf.TextMatches)
		if nt+len(pf.ParamFilters) == 0 || combine(pf.Test, nt+len(pf.ParamFilters), func(i int) bool {
			if i < nt {
				return pf.TextMatches[i].match(p.value)
			}
			return pf.ParamFilters[i-nt].matches(p)
		}) {
			return true
		}
	}
	return !found && pf.IsNotDefined != nil
}

func (pa *paramFilter) matches(p vprop) bool {
	vs, ok := p.params[strings.ToUpper(pa.Name)]
	switch {
	case pa.IsNotDefined != nil:
		return !ok
	case !ok:
		return false
	case pa.TextMatch == nil:
		return true
	}
	if pa.TextMatch.Negate == "yes" {
		// not any value matches
		for _, v := range vs {
			if !pa.TextMatch.match(v) {
				return false
			}
		}
		return true
	}
	for _, v := range vs {
		if pa.TextMatch.match(v) {
			return true
		}
	}
	return false
}

// parseCard splits a vCard's body into its properties (folded lines
// joined, values unescaped).
func parseCard(body string) []vprop {
	body = strings.NewReplacer("\r\n ", "", "\r\n\t", "", "\n ", "", "\n\t", "").Replace(body)
	var out []vprop
	for line := range strings.Lines(body) {
		line = strings.TrimRight(line, "\r\n")
		parts, value, ok := splitHead(line)
		if !ok {
			continue
		}
		name := strings.ToUpper(parts[0])
		if _, after, dot := strings.Cut(name, "."); dot {
			name = after // a group
		}
		p := vprop{name: name, params: map[string][]string{}, value: unescapeValue(value)}
		for _, param := range parts[1:] {
			k, v, eq := strings.Cut(param, "=")
			if !eq {
				k, v = "TYPE", param // vCard 2.1's bare type
			}
			k = strings.ToUpper(k)
			for _, x := range strings.Split(v, ",") {
				p.params[k] = append(p.params[k], strings.Trim(x, `"`))
			}
		}
		out = append(out, p)
	}
	return out
}

// splitHead splits a content line at the first colon outside quotes:
// the name and parameters (split at semicolons outside quotes), then
// the value.
func splitHead(line string) (parts []string, value string, ok bool) {
	quoted, start := false, 0
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '"':
			quoted = !quoted
		case c == ';' && !quoted:
			parts = append(parts, line[start:i])
			start = i + 1
		case c == ':' && !quoted:
			return append(parts, line[start:i]), line[i+1:], true
		}
	}
	return nil, "", false
}

// unescapeValue undoes vCard's text escapes (\\ \, \; \n).
func unescapeValue(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
			switch v[i] {
			case 'n', 'N':
				b.WriteByte('\n')
			default:
				b.WriteByte(v[i])
			}
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// addressbookQuery answers the report: the matching cards, at most
// <limit> of them; a truncated answer ends with a 507 response for the
// book (RFC 6352 §8.6.1).
func (s *Server) addressbookQuery(w http.ResponseWriter, r *http.Request, sess *app.Session, d *davRequest, ask []xml.Name) {
	if d.Filter != nil {
		if cond := d.Filter.check(); cond != "" {
			davError(w, http.StatusForbidden, "card:"+cond)
			return
		}
	}
	b, ok := s.bookCards(w, r, sess)
	if !ok {
		return
	}
	limit := -1
	if d.Limit != nil && d.Limit.NResults > 0 {
		limit = d.Limit.NResults
	}
	m := newMultistatus()
	m.stream(w)
	n := 0
	for c := range b.All {
		if m.left {
			break
		}
		if d.Filter != nil && len(d.Filter.Props) > 0 && !d.Filter.matches(parseCard(c.Body)) {
			continue
		}
		if n == limit {
			m.b.WriteString("<d:response><d:href>" + html.EscapeString(bookHref(sess)) + "</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status>" +
				"<d:error><d:number-of-matches-within-limits/></d:error></d:response>")
			break
		}
		n++
		m.response(bookHref(sess)+c.Name, cardProps(c, ask), ask)
	}
	m.write(w, "")
}
