package xlsxread

import (
	"bytes"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/xuri/excelize/v2"
)

// Rows reads one sheet row by row.
type Rows struct {
	w       window
	total   int64        // the sheet part's inflated size
	scanned atomic.Int64 // bytes of it read so far (Progress)
	sst     *sstTable
	last    int  // number of the last <row> element read
	cur     int  // number of the last row returned by Next
	done    bool // </sheetData> reached

	pending    bool // a parsed row waits for the gap rows before it
	pendingNum int
	pendingRow []string

	prefix  []byte // the sheet up to <sheetData …>, for checkTail
	dimRows int    // the last row of the <dimension> element, 0 if none
	attrs   []attr // the row tag's, reused
	scratch []byte
	buf     []byte // the row's decoded text
	// cells is the unused rest of a block that rows' cells are cut from
	// (one allocation per cellBlock cells, not one per row); a block is
	// never written again once cut.
	cells []string
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

// cellBlock is how many cells are allocated at a time.
const cellBlock = 4096

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
			case "dimension":
				for _, a := range se.Attr {
					if a.Name.Local == "ref" && a.Name.Space == "" {
						r.dimRows = dimensionRows(a.Value)
					}
				}
			case "row", "c":
				return w.unsupported(int(d.InputOffset()), "a <%s> outside <sheetData>", se.Name.Local)
			case "sheetData":
				if d.InputOffset() != int64(len(prefix)) || se.Name.Space != nsMain {
					return w.unsupported(idx, "an unusual <sheetData>")
				}
				w.off = len(prefix)
				r.done = prefix[len(prefix)-2] == '/'
				r.prefix = append([]byte(nil), prefix...)
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
			// The rows handed over keep the strings they use; the table
			// itself (tens of MB for a big file) is let go now, not when
			// the caller closes the reader after its own work.
			r.done, r.sst, r.spans, r.cells = true, nil, nil, nil
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

// checkTail reads the rest of the sheet after </sheetData> as excelize's
// decoder does after the last row: it goes on looking for a <row> until
// the end or an XML error, and would read one found there as a further
// row. Such a sheet is left to excelize.
func (r *Rows) checkTail() error {
	w := &r.w
	d := xml.NewDecoder(io.MultiReader(bytes.NewReader(r.prefix), strings.NewReader("</sheetData>"), tailReader{w}))
	d.CharsetReader = refuseCharset
	inTail := false
	for {
		tok, err := d.Token()
		if err != nil {
			return nil
		}
		switch el := tok.(type) {
		case xml.EndElement:
			if el.Name.Local == "sheetData" {
				inTail = true
			}
		case xml.StartElement:
			if inTail && el.Name.Local == "row" {
				return w.unsupported(0, "a <row> after </sheetData>")
			}
		}
	}
}

// tailReader reads what is left of the part.
type tailReader struct{ w *window }

func (t tailReader) Read(p []byte) (int, error) {
	for len(t.w.rest()) == 0 {
		ok, err := t.w.more()
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, io.EOF
		}
	}
	n := copy(p, t.w.rest())
	t.w.off += n
	return n, nil
}

// SizeHint estimates the number of rows from the sheet's <dimension>
// element (what the writer said the sheet spans), for sizing tables; 0
// when there is none. It is capped by what the sheet part can hold (a
// row takes at least minRowBytes) and by a sheet's most rows (maxRows, which Next refuses past):
// the part's size is what the zip's directory claims, so a false
// dimension with a false size still cannot make a caller reserve more
// than a full sheet's tables.
func (r *Rows) SizeHint() int {
	return min(r.dimRows, int(min(r.total/minRowBytes, maxRows)))
}

// minRowBytes is the fewest bytes of sheet XML a row with a value takes:
// <row><c><v>1</v></c></row>.
const minRowBytes = 26

// dimensionRows returns the last row of a dimension reference ("A1:L1000"
// → 1000, "A1" → 1), 0 if it is not one.
func dimensionRows(ref string) int {
	if i := strings.LastIndexByte(ref, ':'); i >= 0 {
		ref = ref[i+1:]
	}
	i := 0
	for i < len(ref) && (ref[i] >= 'A' && ref[i] <= 'Z' || ref[i] >= 'a' && ref[i] <= 'z' || ref[i] == '$') {
		i++
	}
	n, err := strconv.Atoi(strings.TrimPrefix(ref[i:], "$"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Progress returns the fraction of the sheet read so far, from 0 to 1. It
// may be called from any goroutine.
func (r *Rows) Progress() float64 {
	if r.total <= 0 {
		return 0
	}
	return min(1, float64(r.scanned.Load())/float64(r.total))
}

// Close stops reading.
func (r *Rows) Close() error {
	r.w.in.close()
	r.sst, r.spans, r.cells = nil, nil, nil
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
		if i >= len(rest) || rest[i] != '>' {
			return 0, nil, false, w.unsupported(0, "a malformed </sheetData>")
		}
		w.off += i + 1
		if r.last > 0 {
			if err := r.checkTail(); err != nil {
				return 0, nil, false, err
			}
		}
		return 0, nil, true, nil
	case hasTag(rest, "row"):
	default:
		if len(rest) == 0 {
			return 0, nil, false, w.unsupported(0, "the sheet ends inside <sheetData>")
		}
		return 0, nil, false, w.unsupported(0, "%q where a <row> was expected", clip(rest))
	}
	seg, err := w.element(closeRow)
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
	r.scanned.Store(w.base + int64(w.off))
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
	attrs, scratch, n, selfClose, ok := parseTag(seg, "row", r.attrs[:0], r.scratch[:0])
	r.attrs, r.scratch = attrs, scratch
	if !ok {
		return 0, nil, 0, false
	}
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
			end, c, good := r.cell(seg, i, col)
			if !good {
				return 0, nil, i, false
			}
			i, col = end, c
		}
	}
	if len(r.spans) == 0 {
		return num, nil, 0, true
	}
	s := string(r.buf)
	if len(r.cells) < len(r.spans) {
		r.cells = make([]string, max(cellBlock, len(r.spans)))
	}
	cells, r.cells = r.cells[:len(r.spans):len(r.spans)], r.cells[len(r.spans):]
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

// cell reads the <c> element at seg[i:] into r.spans and returns its end;
// col is the column of the previous <c> (1-based), and the column of this
// one is returned.
func (r *Rows) cell(seg []byte, i, col int) (end, newCol int, ok bool) {
	col++
	c, end, ok := r.fastCell(seg, i)
	if !ok {
		if end = elementEnd(seg, i, "c"); end < 0 {
			return 0, col, false
		}
		if c, ok = slowCell(seg[i:end]); !ok {
			return 0, col, false
		}
	}
	if len(c.ref) > 0 {
		n, ok := column(c.ref)
		if !ok {
			return 0, col, false
		}
		col = n
	}
	sp, ok := r.value(&c)
	if !ok {
		return 0, col, false
	}
	if sp.empty() && !c.hasF {
		return end, col, true
	}
	for k := col - len(r.spans); k > 1; k-- {
		r.spans = append(r.spans, span{})
	}
	r.spans = append(r.spans, sp)
	return end, col, true
}

func (sp span) empty() bool {
	if sp.inBuf {
		return sp.a == sp.b
	}
	return sp.s == ""
}

// rawCell is what a <c> holds, as excelize's xlsxC.
type rawCell struct {
	ref, t []byte
	// <v>: decoded into r.buf[vA:vB] (fast path), raw in seg (vRaw, a
	// shared-string index left undecoded), or in vs (slow path)
	vInBuf bool
	vA, vB int
	vRaw   []byte
	vs     string
	hasF   bool
	is     *xlsxSI // slow path
	isText string  // fast path: the plain inline string
	hasIS  bool
}

// value is excelize's getValueFrom with RawCellValue.
func (r *Rows) value(c *rawCell) (span, bool) {
	switch string(c.t) {
	case "s":
		var i int
		switch {
		case c.vRaw != nil:
			i = smallInt(c.vRaw)
		case c.vInBuf:
			if c.vA == c.vB {
				return span{}, true
			}
			i, _ = strconv.Atoi(strings.TrimSpace(string(r.buf[c.vA:c.vB])))
		default:
			if c.vs == "" {
				return span{}, true
			}
			i, _ = strconv.Atoi(strings.TrimSpace(c.vs))
		}
		return span{s: r.sst.get(i)}, true
	case "inlineStr":
		if c.hasIS {
			if c.is != nil {
				return span{s: c.is.String()}, true
			}
			return span{s: bstrUnmarshal(c.isText)}, true
		}
	}
	if c.vInBuf {
		return span{a: c.vA, b: c.vB, inBuf: true}, true
	}
	return span{s: c.vs}, true
}

// smallInt parses a shared-string index of plain digits (what fastCell
// leaves raw); anything longer than 9 digits does not index a table.
func smallInt(b []byte) int {
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n
}

// plainValue reports whether an attribute value or text needs no decoding
// and no checking: printable ASCII without '&' and '<'.
func plainValue(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7F || c == '&' || c == '<' {
			return false
		}
	}
	return true
}

// fastCell reads the plain shapes of the <c> at seg[i:]: attributes of
// printable ASCII (r, s, t and others), children <f>…</f> or <f/>
// without attributes, <v>…</v> or <v/>, and <is> with one plain <t>.
// Anything else is left to slowCell (ok false).
func (r *Rows) fastCell(seg []byte, i int) (c rawCell, end int, ok bool) {
	j := i + 2
	selfClose := false
attrs:
	for {
		sp := j
		for j < len(seg) && isSpace(seg[j]) {
			j++
		}
		if j+1 >= len(seg) {
			return c, 0, false
		}
		switch seg[j] {
		case '>':
			j++
			break attrs
		case '/':
			if seg[j+1] != '>' {
				return c, 0, false
			}
			j += 2
			selfClose = true
			break attrs
		}
		if j == sp || !isNameStart(seg[j]) {
			return c, 0, false
		}
		ns := j
		for j < len(seg) && isNameByte(seg[j]) {
			j++
		}
		name := seg[ns:j]
		if j+1 >= len(seg) || seg[j] != '=' || seg[j+1] != '"' {
			return c, 0, false
		}
		k := bytes.IndexByte(seg[j+2:], '"')
		if k < 0 {
			return c, 0, false
		}
		val := seg[j+2 : j+2+k]
		if !plainValue(val) {
			return c, 0, false
		}
		j += 2 + k + 1
		switch string(name) {
		case "r":
			c.ref = val
		case "t":
			c.t = val
		case "s":
			if len(val) == 0 || len(val) > 9 || !allDigits(val) {
				return c, 0, false
			}
		default:
			if bytes.IndexByte(name, ':') >= 0 {
				l, _ := attr{name: name}.local()
				if l == "r" || l == "s" || l == "t" || bytes.Count(name, []byte(":")) > 1 {
					return c, 0, false
				}
			}
		}
	}
	if selfClose {
		return c, j, true
	}
	hasV := false
	for {
		for j < len(seg) && isSpace(seg[j]) {
			j++
		}
		rest := seg[j:]
		switch {
		case bytes.HasPrefix(rest, []byte("</c>")):
			return c, j + 4, true
		case bytes.HasPrefix(rest, []byte("<v>")):
			if hasV {
				return c, 0, false
			}
			hasV = true
			k := bytes.IndexByte(rest[3:], '<')
			if k < 0 || !bytes.HasPrefix(rest[3+k:], []byte("</v>")) {
				return c, 0, false
			}
			raw := rest[3 : 3+k]
			if string(c.t) == "s" && len(raw) > 0 && len(raw) <= 9 && allDigits(raw) {
				c.vRaw = raw
			} else {
				a := len(r.buf)
				var good bool
				if r.buf, good = appendText(r.buf, raw); !good {
					r.buf = r.buf[:a]
					return c, 0, false
				}
				c.vInBuf, c.vA, c.vB = true, a, len(r.buf)
			}
			j += 3 + k + 4
		case bytes.HasPrefix(rest, []byte("<v/>")):
			if hasV {
				return c, 0, false
			}
			hasV = true
			j += 4
		case bytes.HasPrefix(rest, []byte("<f>")):
			if c.hasF {
				return c, 0, false
			}
			c.hasF = true
			k := bytes.IndexByte(rest[3:], '<')
			if k < 0 || !bytes.HasPrefix(rest[3+k:], []byte("</f>")) || !plainValue(rest[3:3+k]) {
				return c, 0, false
			}
			j += 3 + k + 4
		case bytes.HasPrefix(rest, []byte("<f/>")):
			if c.hasF {
				return c, 0, false
			}
			c.hasF = true
			j += 4
		case bytes.HasPrefix(rest, []byte("<is>")):
			if c.hasIS {
				return c, 0, false
			}
			raw, k, good := plainT(seg, j+4)
			if !good || !bytes.HasPrefix(seg[k:], []byte("</is>")) {
				return c, 0, false
			}
			txt, good := appendText(nil, raw)
			if !good {
				return c, 0, false
			}
			c.hasIS, c.isText = true, string(txt)
			j = k + 5
		default:
			return c, 0, false
		}
	}
}

// plainT reads one plain <t>…</t> (optionally <t xml:space="preserve">)
// after white space at b[i:], and the white space after it: it returns the
// raw text and where the next markup starts; ok is false for any other
// shape.
func plainT(b []byte, i int) (raw []byte, end int, ok bool) {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	t := b[i:]
	var tn int
	switch {
	case bytes.HasPrefix(t, []byte("<t>")):
		tn = 3
	case bytes.HasPrefix(t, []byte(`<t xml:space="preserve">`)):
		tn = len(`<t xml:space="preserve">`)
	default:
		return nil, 0, false
	}
	e := bytes.IndexByte(t[tn:], '<')
	if e < 0 || !bytes.HasPrefix(t[tn+e:], []byte("</t>")) {
		return nil, 0, false
	}
	end = i + tn + e + 4
	for end < len(b) && isSpace(b[end]) {
		end++
	}
	return t[tn : tn+e], end, true
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// column returns the column number of a cell reference, as excelize's
// CellNameToCoordinates; ok is false where it returns an error.
func column(ref []byte) (int, bool) {
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
	col, _, err := excelize.CellNameToCoordinates(string(ref))
	if err != nil {
		return 0, false
	}
	return col, true
}
