package xlsxread

import (
	"bytes"
	"encoding/xml"
	"io"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Rows reads one sheet row by row.
type Rows struct {
	w    window
	sst  []string
	last int  // number of the last <row> element read
	cur  int  // number of the last row returned by Next
	done bool // </sheetData> reached

	pending    bool // a parsed row waits for the gap rows before it
	pendingNum int
	pendingRow []string

	buf   []byte // the row's decoded text
	spans []span
	err   error
}

// span is one cell value: a string already made (shared strings, slow
// paths) or buf[a:b].
type span struct {
	s     string
	a, b  int
	inBuf bool
}

// maxPrefix bounds how far the sheet is searched for <sheetData>.
const maxPrefix = 16 << 20

// start checks everything before <sheetData> with encoding/xml (what
// excelize's decoder reads before the first row) and positions the
// window after the <sheetData> tag.
func (r *Rows) start() error {
	w := &r.w
	idx := -1
	for {
		if i := bytes.Index(w.rest(), []byte("<sheetData")); i >= 0 {
			idx = i
			break
		}
		if len(w.rest()) > maxPrefix {
			return w.unsupported(0, "no <sheetData> in the first %d bytes", maxPrefix)
		}
		ok, err := w.more()
		if err != nil {
			return err
		}
		if !ok {
			return w.unsupported(0, "no <sheetData>")
		}
	}
	w.off = idx
	te, err := w.tagEnd()
	w.off = 0
	if err != nil {
		return err
	}
	if te < 0 {
		return w.unsupported(idx, "the <sheetData> tag does not end")
	}
	prefix := w.rest()[:idx+te]
	d := xml.NewDecoder(bytes.NewReader(prefix))
	d.CharsetReader = refuseCharset
	for {
		tok, err := d.Token()
		if err != nil {
			return w.unsupported(int(d.InputOffset()), "before the rows: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "row", "c":
				return w.unsupported(int(d.InputOffset()), "a <%s> outside <sheetData>", se.Name.Local)
			case "sheetData":
				if d.InputOffset() != int64(len(prefix)) || se.Name.Space != nsMain {
					return w.unsupported(idx, "an unusual <sheetData>")
				}
				w.off = len(prefix)
				r.done = prefix[len(prefix)-2] == '/'
				return nil
			}
		}
	}
}

// Next returns the next row's cells, as excelize's Rows.Next and
// Rows.Columns would (nil for an empty row or a row missing between two
// <row> elements), or io.EOF after the last row. The strings stay valid
// after the next call.
func (r *Rows) Next() ([]string, error) {
	if r.err != nil {
		return nil, r.err
	}
	if !r.pending {
		if r.done {
			return nil, io.EOF
		}
		num, cells, end, err := r.readRow()
		if err != nil {
			r.err = err
			return nil, err
		}
		if end {
			r.done = true
			return nil, io.EOF
		}
		r.pending, r.pendingNum, r.pendingRow = true, num, cells
	}
	r.cur++
	if r.cur < r.pendingNum {
		return nil, nil
	}
	r.pending = false
	row := r.pendingRow
	r.pendingRow = nil
	return row, nil
}

// Close stops reading.
func (r *Rows) Close() error {
	r.w.in.close()
	return nil
}

// readRow reads the next <row> element, or the end of the sheet data.
func (r *Rows) readRow() (num int, cells []string, end bool, err error) {
	w := &r.w
	if err := w.skipSpace(); err != nil {
		return 0, nil, false, err
	}
	if err := w.need(12); err != nil {
		return 0, nil, false, err
	}
	rest := w.rest()
	switch {
	case bytes.HasPrefix(rest, []byte("</sheetData")):
		i := len("</sheetData")
		for i < len(rest) && isSpace(rest[i]) {
			i++
		}
		if i < len(rest) && rest[i] == '>' {
			return 0, nil, true, nil
		}
		return 0, nil, false, w.unsupported(0, "a malformed </sheetData>")
	case hasTag(rest, "row"):
	default:
		if len(rest) == 0 {
			return 0, nil, false, w.unsupported(0, "the sheet ends inside <sheetData>")
		}
		return 0, nil, false, w.unsupported(0, "%q where a <row> was expected", clip(rest))
	}
	seg, err := w.element("row")
	if err != nil {
		return 0, nil, false, err
	}
	if seg == nil {
		return 0, nil, false, w.unsupported(0, "the sheet ends inside a row")
	}
	num, cells, at, ok := r.parseRow(seg)
	if !ok {
		return 0, nil, false, w.unsupported(at, "a row this reader does not know (%q)", clip(seg[at:]))
	}
	w.off += len(seg)
	return num, cells, false, nil
}

func clip(b []byte) string {
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}

// hasTag reports whether b starts with the tag <name followed by white
// space, '>' or '/'.
func hasTag(b []byte, name string) bool {
	if len(b) < len(name)+2 || b[0] != '<' || string(b[1:1+len(name)]) != name {
		return false
	}
	c := b[1+len(name)]
	return isSpace(c) || c == '>' || c == '/'
}

// attr is one attribute of a tag; value is decoded.
type attr struct {
	name  []byte
	value []byte
}

// parseTag parses the start tag <name …> or <name …/> at the start of b,
// which must end within b. It returns the attributes (values decoded
// into scratch), the tag's length and whether it closes itself; ok is
// false for anything encoding/xml might read differently.
func parseTag(b []byte, name string, attrs []attr, scratch []byte) (_ []attr, _ []byte, n int, selfClose, ok bool) {
	i := 1 + len(name)
	for {
		sp := i
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) {
			return attrs, scratch, 0, false, false
		}
		switch b[i] {
		case '>':
			return attrs, scratch, i + 1, false, true
		case '/':
			if i+1 < len(b) && b[i+1] == '>' {
				return attrs, scratch, i + 2, true, true
			}
			return attrs, scratch, 0, false, false
		}
		if i == sp {
			return attrs, scratch, 0, false, false // attributes run together
		}
		ns := i
		if !isNameStart(b[i]) {
			return attrs, scratch, 0, false, false
		}
		for i < len(b) && isNameByte(b[i]) {
			i++
		}
		an := b[ns:i]
		if bytes.Count(an, []byte(":")) > 1 || i >= len(b) || b[i] != '=' {
			return attrs, scratch, 0, false, false
		}
		i++
		if i >= len(b) || b[i] != '"' && b[i] != '\'' {
			return attrs, scratch, 0, false, false
		}
		q := b[i]
		j := bytes.IndexByte(b[i+1:], q)
		if j < 0 {
			return attrs, scratch, 0, false, false
		}
		raw := b[i+1 : i+1+j]
		if bytes.IndexByte(raw, '<') >= 0 {
			return attrs, scratch, 0, false, false
		}
		start := len(scratch)
		var good bool
		if scratch, good = appendText(scratch, raw); !good {
			return attrs, scratch, 0, false, false
		}
		attrs = append(attrs, attr{name: an, value: scratch[start:]})
		i += j + 2
	}
}

func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

func isNameByte(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9' || c == ':' || c == '.' || c == '-'
}

// local returns the attribute's local name and whether it has a prefix.
func (a attr) local() (string, bool) {
	if i := bytes.IndexByte(a.name, ':'); i >= 0 {
		return string(a.name[i+1:]), true
	}
	return string(a.name), false
}

// parseRow parses a whole <row> element. at is where it gave up.
func (r *Rows) parseRow(seg []byte) (num int, cells []string, at int, ok bool) {
	var scratch [64]byte
	attrs, vals, n, selfClose, ok := parseTag(seg, "row", make([]attr, 0, 8), scratch[:0])
	if !ok {
		return 0, nil, 0, false
	}
	_ = vals
	num = r.last + 1
	seenR := false
	for _, a := range attrs {
		l, prefixed := a.local()
		if l != "r" {
			continue
		}
		if prefixed || seenR {
			return 0, nil, 0, false
		}
		seenR = true
		v, err := strconv.Atoi(string(a.value))
		if err != nil || v <= r.last || v > maxRows {
			return 0, nil, 0, false
		}
		num = v
	}
	if num > maxRows {
		return 0, nil, 0, false
	}
	r.last = num
	r.buf, r.spans = r.buf[:0], r.spans[:0]
	if !selfClose {
		col := 0
		i := n
		for {
			for i < len(seg) && isSpace(seg[i]) {
				i++
			}
			if bytes.HasPrefix(seg[i:], []byte("</row")) {
				j := i + len("</row")
				for isSpace(seg[j]) {
					j++
				}
				if j != len(seg)-1 {
					return 0, nil, i, false
				}
				break
			}
			if !hasTag(seg[i:], "c") {
				return 0, nil, i, false
			}
			end := elementEnd(seg, i, "c")
			if end < 0 {
				return 0, nil, i, false
			}
			var good bool
			if col, good = r.cell(seg[i:end], col); !good {
				return 0, nil, i, false
			}
			i = end
		}
	}
	if len(r.spans) == 0 {
		return num, nil, 0, true
	}
	s := string(r.buf)
	cells = make([]string, len(r.spans))
	for k, sp := range r.spans {
		if sp.inBuf {
			cells[k] = s[sp.a:sp.b]
		} else {
			cells[k] = sp.s
		}
	}
	return num, cells, 0, true
}

// elementEnd returns the end (exclusive) in b of the element name that
// starts at b[i], or -1.
func elementEnd(b []byte, i int, name string) int {
	var quote byte
	te := -1
	for k := i + 1; k < len(b); k++ {
		c := b[k]
		if quote != 0 {
			if c == quote {
				quote = 0
			}
			continue
		}
		if c == '"' || c == '\'' {
			quote = c
		} else if c == '>' {
			te = k + 1
			break
		}
	}
	if te < 0 {
		return -1
	}
	if b[te-2] == '/' {
		return te
	}
	closing := "</" + name
	for from := te; ; {
		k := bytes.Index(b[from:], []byte(closing))
		if k < 0 {
			return -1
		}
		j := from + k + len(closing)
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if j < len(b) && b[j] == '>' {
			return j + 1
		}
		from += k + 1
	}
}

// cell reads one <c> element into r.spans; col is the column of the
// previous <c> (1-based), and the column of this one is returned.
func (r *Rows) cell(el []byte, col int) (int, bool) {
	col++
	c, ok := r.fastCell(el)
	if !ok {
		if c, ok = slowCell(el); !ok {
			return col, false
		}
	}
	if c.ref != "" {
		n, ok := column(c.ref)
		if !ok {
			return col, false
		}
		col = n
	}
	mark := len(r.buf)
	val, inBuf, a, b := r.value(&c)
	if val == "" && !inBuf && !c.hasF {
		r.buf = r.buf[:mark]
		return col, true
	}
	if inBuf && a == b && !c.hasF {
		r.buf = r.buf[:mark]
		return col, true
	}
	for k := col - len(r.spans); k > 1; k-- {
		r.spans = append(r.spans, span{})
	}
	r.spans = append(r.spans, span{s: val, a: a, b: b, inBuf: inBuf})
	return col, true
}

// rawCell is what a <c> holds, as excelize's xlsxC.
type rawCell struct {
	ref, t  string
	v       []byte // decoded <v>, in r.buf when from the fast path
	vInBuf  bool
	vA, vB  int
	vs      string // <v> from the slow path
	hasF    bool
	is      *xlsxSI
	isText  string // the fast path's plain inline string
	hasIS   bool
	isPlain bool
}

// value is excelize's getValueFrom with RawCellValue.
func (r *Rows) value(c *rawCell) (s string, inBuf bool, a, b int) {
	vStr := func() string {
		if c.vInBuf {
			return string(r.buf[c.vA:c.vB])
		}
		return c.vs
	}
	switch c.t {
	case "s":
		v := vStr()
		if v == "" {
			return "", false, 0, 0
		}
		i, _ := strconv.Atoi(strings.TrimSpace(v))
		if i < 0 || i >= len(r.sst) {
			return "", false, 0, 0
		}
		return r.sst[i], false, 0, 0
	case "inlineStr":
		if c.hasIS {
			if c.isPlain {
				return bstrUnmarshal(c.isText), false, 0, 0
			}
			return c.is.String(), false, 0, 0
		}
	}
	if c.vInBuf {
		return "", true, c.vA, c.vB
	}
	return c.vs, false, 0, 0
}

// fastCell reads the plain shapes of <c>: attributes r, s, t; children
// <f>…</f> or <f/> without attributes, <v>…</v> or <v/>, and <is> with one
// plain <t>. Anything else is left to slowCell.
func (r *Rows) fastCell(el []byte) (c rawCell, ok bool) {
	var attrBuf [4]attr
	attrs, _, n, selfClose, ok := parseTag(el, "c", attrBuf[:0], nil)
	if !ok {
		return c, false
	}
	for _, a := range attrs {
		l, prefixed := a.local()
		if prefixed {
			if l == "r" || l == "s" || l == "t" {
				return c, false
			}
			continue
		}
		switch l {
		case "r":
			c.ref = string(a.value)
		case "s":
			if _, err := strconv.ParseInt(string(a.value), 10, 64); err != nil {
				return c, false
			}
		case "t":
			c.t = string(a.value)
		}
	}
	if selfClose {
		return c, true
	}
	hasV := false
	i := n
	for {
		for i < len(el) && isSpace(el[i]) {
			i++
		}
		rest := el[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("</c")):
			return c, true // elementEnd found the end here
		case bytes.HasPrefix(rest, []byte("<v>")):
			if hasV {
				return c, false
			}
			hasV = true
			j := bytes.IndexByte(rest[3:], '<')
			if j < 0 || !bytes.HasPrefix(rest[3+j:], []byte("</v>")) {
				return c, false
			}
			a := len(r.buf)
			var good bool
			if r.buf, good = appendText(r.buf, rest[3:3+j]); !good {
				r.buf = r.buf[:a]
				return c, false
			}
			c.vInBuf, c.vA, c.vB = true, a, len(r.buf)
			i += 3 + j + 4
		case bytes.HasPrefix(rest, []byte("<v/>")):
			if hasV {
				return c, false
			}
			hasV = true
			i += 4
		case bytes.HasPrefix(rest, []byte("<f>")):
			if c.hasF {
				return c, false
			}
			c.hasF = true
			j := bytes.IndexByte(rest[3:], '<')
			if j < 0 || !bytes.HasPrefix(rest[3+j:], []byte("</f>")) {
				return c, false
			}
			if _, good := appendText(nil, rest[3:3+j]); !good {
				return c, false
			}
			i += 3 + j + 4
		case bytes.HasPrefix(rest, []byte("<f/>")):
			if c.hasF {
				return c, false
			}
			c.hasF = true
			i += 4
		case bytes.HasPrefix(rest, []byte("<is>")):
			if c.hasIS {
				return c, false
			}
			k := i + 4
			for k < len(el) && isSpace(el[k]) {
				k++
			}
			t := el[k:]
			var tn int
			switch {
			case bytes.HasPrefix(t, []byte("<t>")):
				tn = 3
			case bytes.HasPrefix(t, []byte(`<t xml:space="preserve">`)):
				tn = len(`<t xml:space="preserve">`)
			default:
				return c, false
			}
			j := bytes.IndexByte(t[tn:], '<')
			if j < 0 || !bytes.HasPrefix(t[tn+j:], []byte("</t>")) {
				return c, false
			}
			txt, good := appendText(nil, t[tn:tn+j])
			if !good {
				return c, false
			}
			k += tn + j + 4
			for k < len(el) && isSpace(el[k]) {
				k++
			}
			if !bytes.HasPrefix(el[k:], []byte("</is>")) {
				return c, false
			}
			c.hasIS, c.isPlain, c.isText = true, true, string(txt)
			i = k + 5
		default:
			return c, false
		}
	}
}

// column returns the column number of a cell reference, as excelize's
// CellNameToCoordinates; ok is false where it returns an error.
func column(ref string) (int, bool) {
	n, i := 0, 0
	for i < len(ref) && i < 4 && 'A' <= ref[i] && ref[i] <= 'Z' {
		n = n*26 + int(ref[i]-'A'+1)
		i++
	}
	if i > 0 && i < 4 && i < len(ref) && '1' <= ref[i] && ref[i] <= '9' && len(ref)-i <= 7 {
		row := 0
		for k := i; k < len(ref); k++ {
			if ref[k] < '0' || ref[k] > '9' {
				row = -1
				break
			}
			row = row*10 + int(ref[k]-'0')
		}
		if row > 0 && row <= maxRows && n <= maxCols {
			return n, true
		}
	}
	col, _, err := excelize.CellNameToCoordinates(ref)
	if err != nil {
		return 0, false
	}
	return col, true
}
