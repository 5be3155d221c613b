package vcard

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/fuzzseed"
)

// FuzzWriter writes one person with any name, phone, title, department,
// company, e-mail and remark, in vCard 3.0 or 4.0, and reads the output
// back with a strict parser (parseCards). The output must be well formed
// (UTF-8, CRLF line ends and nothing else, physical lines of at most 75
// octets, folds only before a single space, only the escapes \\ \, \; \n,
// no unescaped , or ; in text values) and every value must survive: the
// name (FN, and N's family and given), the mobile as CardFor formats it,
// title, ORG's company and department path, e-mails and note, each as
// Escape's documented normalisation of the input (newlines as \n, other
// controls dropped, invalid UTF-8 as U+FFFD).
// The seed corpus is testdata/fuzz/FuzzWriter.
func FuzzWriter(f *testing.F) {
	f.Fuzz(func(t *testing.T, name, stateCode, mobile, title, dept, company, email, remark string, v4 bool) {
		p, tree := fuzzPerson(name, stateCode, mobile, title, dept, company, email, remark)
		opts := Options{CorpID: "ding1", Version: V3}
		if v4 {
			opts.Version = V4
		}
		var buf bytes.Buffer
		w := New(&buf, opts)
		if err := w.WritePerson(p, tree); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		cards, err := parseCards(buf.Bytes())
		if err != nil {
			t.Fatalf("%v\n%q", err, buf.Bytes())
		}
		if len(cards) != 1 {
			t.Fatalf("%d cards, want 1", len(cards))
		}
		got := cards[0]
		c := CardFor(p, tree, opts)
		want := map[string][]string{
			"VERSION": {opts.Version},
			"UID":     {"dingtalk-ding1-u1"},
			"N":       {norm(c.Family), norm(c.Given), "", "", ""},
			"TITLE":   {norm(title)},
			"NOTE":    {norm(remark)},
		}
		switch {
		case dept != "":
			want["ORG"] = []string{norm(company), norm(dept)}
		case company != "":
			want["ORG"] = []string{norm(company)}
		}
		fn := c.FN
		if strings.TrimSpace(fn) == "" {
			fn = strings.TrimSpace(c.Family + c.Given)
		}
		want["FN"] = []string{norm(fn)}
		if title == "" {
			delete(want, "TITLE")
		}
		if remark == "" {
			delete(want, "NOTE")
		}
		for prop, w := range want {
			if g := got.props[prop]; fmt.Sprint(g) != fmt.Sprint(w) {
				t.Errorf("%s = %q, want %q", prop, g, w)
			}
		}
		// The name survives: FN holds the name's text, spaces aside, and
		// N's family and given are parts of it.
		if squeeze(got.props["FN"][0]) != squeeze(norm(name)) {
			t.Errorf("FN %q does not hold the name %q", got.props["FN"][0], name)
		}
		if n := got.props["N"]; !strings.Contains(squeeze(norm(name)), squeeze(n[0])) || !strings.Contains(squeeze(norm(name)), squeeze(n[1])) {
			t.Errorf("N %q is not made of the name %q", n, name)
		}
		// The mobile survives, in E.164 when valid, with the CELL type.
		var cell []string
		for _, tel := range got.tels {
			if strings.Contains(strings.ToUpper(tel[0]), "CELL") {
				cell = append(cell, tel[1])
			}
		}
		if m := strings.TrimSpace(mobile); m == "" {
			if len(cell) != 0 {
				t.Errorf("no mobile, but TEL;CELL %q", cell)
			}
		} else {
			num := E164(stateCode, m)
			if v4 && isE164(num) {
				num = "tel:" + num
			} else {
				num = norm(num)
			}
			if len(cell) != 1 || cell[0] != num {
				t.Errorf("mobile %q (state code %q) written as %q, want %q", mobile, stateCode, cell, num)
			}
		}
		var emails []string
		for _, e := range got.emails {
			emails = append(emails, e[1])
		}
		wantEmails := []string{"other@example.com"}
		if e := strings.TrimSpace(email); e != "" && !strings.EqualFold(e, "other@example.com") {
			wantEmails = []string{norm(e), "other@example.com"}
		} else if e != "" {
			wantEmails = []string{norm(e)}
		}
		if fmt.Sprint(emails) != fmt.Sprint(wantEmails) {
			t.Errorf("EMAIL %q, want %q", emails, wantEmails)
		}
	})
}

// fuzzPerson is FuzzWriter's person, in department dept of company.
func fuzzPerson(name, stateCode, mobile, title, dept, company, email, remark string) (*dingbook.Person, *dingbook.Tree) {
	tree := dingbook.NewTree([]dingbook.Department{
		{ID: 1, Name: company},
		{ID: 2, Name: dept, ParentID: 1},
	})
	return &dingbook.Person{UserID: "u1", Name: name, StateCode: stateCode, Mobile: mobile, Title: title,
		OrgEmail: email, Email: "other@example.com", Remark: remark, Depts: []dingbook.Membership{{DeptID: 2}}}, tree
}

// TestVobjectReadsFuzzSeeds has python3-vobject read the card of every
// FuzzWriter seed and checks that it reads what parseCards reads: the
// strict parser is not more lenient than a real one.
func TestVobjectReadsFuzzSeeds(t *testing.T) {
	seeds, err := fuzzseed.Read("FuzzWriter")
	if err != nil || len(seeds) < 5 {
		t.Fatalf("%d FuzzWriter seeds: %v", len(seeds), err)
	}
	for label, a := range seeds {
		p, tree := fuzzPerson(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])
		org := &dingbook.Org{People: []dingbook.Person{*p}}
		version := V3
		if a[8] == "true" {
			version = V4
		}
		got, raw := parseWithVobject(t, org, tree, Options{CorpID: "ding1"}, version)
		mine, err := parseCards(raw)
		if err != nil || len(got) != 1 || len(mine) != 1 {
			t.Fatalf("%s: vobject read %d cards, parseCards %d (%v)", label, len(got), len(mine), err)
		}
		g, m := got[0], mine[0]
		if g.FN != m.props["FN"][0] || fmt.Sprint(g.N) != fmt.Sprint(m.props["N"]) || fmt.Sprint(g.Org) != fmt.Sprint(m.props["ORG"]) ||
			g.UID != m.props["UID"][0] || g.Title != strings.Join(m.props["TITLE"], "") || len(g.Tels) != len(m.tels) || len(g.Emails) != len(m.emails) {
			t.Errorf("%s: vobject read %+v\nparseCards read %+v", label, g, m)
		}
		for i, tel := range m.tels {
			if fmt.Sprint(g.Tels[i][0]) != tel[1] {
				t.Errorf("%s: vobject TEL %v, parseCards %q", label, g.Tels[i], tel)
			}
		}
	}
}

// norm is what Escape promises a value reads back as: invalid UTF-8 as
// U+FFFD, CRLF, CR and LF as one newline, other control characters except
// TAB dropped.
func norm(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// squeeze drops every white space character.
func squeeze(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// parsedVCard is one card as parseCards reads it: each single property's
// components (unescaped), and TEL and EMAIL as [parameters, value].
type parsedVCard struct {
	props  map[string][]string
	tels   [][2]string
	emails [][2]string
}

// structuredProps are split into components at unescaped semicolons.
var structuredProps = map[string]bool{"N": true, "ORG": true}

// parseCards is a strict vCard 3.0/4.0 reader for what Writer produces:
// it fails on anything a careful importer could trip over.
func parseCards(data []byte) ([]parsedVCard, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("not valid UTF-8")
	}
	if !bytes.HasSuffix(data, []byte("\r\n")) {
		return nil, fmt.Errorf("does not end with CRLF")
	}
	physical := strings.Split(strings.TrimSuffix(string(data), "\r\n"), "\r\n")
	var logical []string
	for i, l := range physical {
		if strings.ContainsAny(l, "\r\n") {
			return nil, fmt.Errorf("line %d: bare CR or LF in %q", i+1, l)
		}
		if len(l) > MaxLine {
			return nil, fmt.Errorf("line %d: %d octets, more than %d", i+1, len(l), MaxLine)
		}
		if strings.HasPrefix(l, " ") {
			if len(logical) == 0 || len(l) == 1 {
				return nil, fmt.Errorf("line %d: stray continuation %q", i+1, l)
			}
			logical[len(logical)-1] += l[1:]
			continue
		}
		if strings.HasPrefix(l, "\t") || l == "" {
			return nil, fmt.Errorf("line %d: empty or tab-folded line %q", i+1, l)
		}
		logical = append(logical, l)
	}
	var cards []parsedVCard
	var cur *parsedVCard
	for _, l := range logical {
		head, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("no colon in %q", l)
		}
		prop, params, _ := strings.Cut(head, ";")
		if prop == "" || strings.Trim(prop, "ABCDEFGHIJKLMNOPQRSTUVWXYZ-") != "" {
			return nil, fmt.Errorf("bad property name in %q", l)
		}
		switch {
		case prop == "BEGIN" && value == "VCARD":
			if cur != nil {
				return nil, fmt.Errorf("nested BEGIN")
			}
			cur = &parsedVCard{props: map[string][]string{}}
			continue
		case cur == nil:
			return nil, fmt.Errorf("%q outside a card", l)
		case prop == "END" && value == "VCARD":
			for _, req := range []string{"VERSION", "N", "FN"} {
				if _, ok := cur.props[req]; !ok {
					return nil, fmt.Errorf("card without %s", req)
				}
			}
			cards = append(cards, *cur)
			cur = nil
			continue
		}
		parts, err := unescape(value, structuredProps[prop])
		if err != nil {
			return nil, fmt.Errorf("%s: %v in %q", prop, err, value)
		}
		switch prop {
		case "TEL":
			if strings.Contains(params, "VALUE=uri") {
				parts = []string{value} // a URI, not text
			}
			cur.tels = append(cur.tels, [2]string{params, parts[0]})
		case "EMAIL":
			cur.emails = append(cur.emails, [2]string{params, parts[0]})
		default:
			if _, dup := cur.props[prop]; dup {
				return nil, fmt.Errorf("%s twice", prop)
			}
			cur.props[prop] = parts
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("card without END")
	}
	return cards, nil
}

// unescape reads a text value: \\ \, \; \n (or \N) are the only escapes,
// and , or ; may not appear unescaped, except ; between the components of
// a structured value.
func unescape(v string, structured bool) ([]string, error) {
	var parts []string
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '\\':
			if i+1 == len(v) {
				return nil, fmt.Errorf("trailing backslash")
			}
			i++
			switch v[i] {
			case '\\', ',', ';':
				b.WriteByte(v[i])
			case 'n', 'N':
				b.WriteByte('\n')
			default:
				return nil, fmt.Errorf("unknown escape \\%c", v[i])
			}
		case ';':
			if !structured {
				return nil, fmt.Errorf("unescaped semicolon")
			}
			parts = append(parts, b.String())
			b.Reset()
		case ',':
			return nil, fmt.Errorf("unescaped comma")
		default:
			if c < 0x20 && c != '\t' || c == 0x7f {
				return nil, fmt.Errorf("control character %#x", c)
			}
			b.WriteByte(c)
		}
	}
	return append(parts, b.String()), nil
}
