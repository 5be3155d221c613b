// Package vcard writes vCard 3.0 (default) or 4.0 address cards for
// dingbook people, following formats.md §1:
//
//   - UTF-8, never quoted-printable, CRLF line ends, no BOM;
//   - lines longer than 75 octets are folded at 75 octets, never inside a
//     UTF-8 sequence, continuation lines starting with one space;
//   - `\`, `,`, `;` and newlines are escaped in every text value and in
//     each component of structured values (N, ORG);
//   - N is split for Chinese names (compound surnames included) and
//     X-PHONETIC-LAST-NAME / X-PHONETIC-FIRST-NAME carry pinyin without
//     spaces (see SplitName, SplitNameFor and Phonetic);
//   - ORG is `<company>;<department path joined with />`, TEL;TYPE=CELL is
//     E.164 when the number is valid, UID is stable per userid.
//
// The writer is our own: go-vcard does not escape `;` and never folds
// (formats.md §1.6).
package vcard

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/normalize"
)

// Versions the writer produces.
const (
	V3 = "3.0"
	V4 = "4.0"
)

// ProdID is written as the PRODID of every card.
const ProdID = "-//dingbook//EN"

// MaxLine is the folding limit in octets, excluding CRLF.
const MaxLine = 75

// Options configures a Writer.
type Options struct {
	// Version is "3.0" (default, what phones import) or "4.0".
	Version string
	// Company is ORG's first component; "" = the name of the tree's root
	// department.
	Company string
	// CorpID goes into UIDs: dingtalk-<corpId>-<userId>.
	CorpID string
	// Now stamps REV; nil omits REV (deterministic output).
	Now func() time.Time
	// Names overrides the name split per userid ([family, given]), for the
	// rare names a heuristic cannot split (formats.md §1.3).
	Names map[string][2]string
}

// Card is one vCard, already decided.
type Card struct {
	UID, FN, Family, Given, PhoneticFamily, PhoneticGiven string
	// Org is ORG's components: company, then units.
	Org    []string
	Title  string
	Tels   []Tel
	Emails []Email
	Note   string
}

// Tel is a telephone number with its TYPE parameters, e.g. ["CELL"].
type Tel struct {
	Number string
	Types  []string
}

// Email is an e-mail address with its TYPE parameters, e.g. ["INTERNET"].
type Email struct {
	Address string
	Types   []string
}

// Writer writes cards, one after another, to an io.Writer.
type Writer struct {
	bw    *bufio.Writer
	opts  Options
	err   error
	cards int
	line  []byte
	raw   []byte // the line being made, before folding
	// units remembers the ORG unit of each department of unitTree.
	unitTree *dingbook.Tree
	units    map[int64]string
}

// New returns a Writer on w. An unknown Version is reported by the first
// write.
func New(w io.Writer, opts Options) *Writer { return newWriter(w, opts, 64<<10) }

// newWriter is New with a buffer of size bytes.
func newWriter(w io.Writer, opts Options, size int) *Writer {
	if opts.Version == "" {
		opts.Version = V3
	}
	wr := &Writer{bw: bufio.NewWriterSize(w, size), opts: opts}
	if opts.Version != V3 && opts.Version != V4 {
		wr.err = dingbook.Errorf(dingbook.EINVALID, "vCard version %q is not supported", opts.Version).
			WithHint("use 3.0 (phones) or 4.0")
	}
	return wr
}

// Cards returns how many cards were written.
func (w *Writer) Cards() int { return w.cards }

// WritePerson writes p's card (see CardFor).
func (w *Writer) WritePerson(p *dingbook.Person, tree *dingbook.Tree) error {
	if w.err != nil {
		return w.err
	}
	return w.WriteCard(cardFor(p, tree, w.opts, w.unit))
}

// unit is tree.PathString(id, "/"), remembered per department: every
// person of a department has the same ORG. A department's path is fixed
// once the department is in the tree (a tree grows by departments whose
// parents it holds already); a path that does not reach the root yet is
// not remembered.
func (w *Writer) unit(tree *dingbook.Tree, id int64) string {
	if tree != w.unitTree {
		w.unitTree, w.units = tree, map[int64]string{}
	}
	if u, ok := w.units[id]; ok {
		return u
	}
	u := tree.PathString(id, "/")
	top := id
	for hops := 0; hops < 1000; hops++ { // a cycle stops here too
		d := tree.Dept(top)
		if d == nil || d.ParentID == 0 || d.ParentID == d.ID {
			break
		}
		top = d.ParentID
	}
	if top == dingbook.RootDeptID {
		w.units[id] = u
	}
	return u
}

// WriteCard writes c. FN falls back to the joined N components, and N is
// always written (3.0 requires it).
func (w *Writer) WriteCard(c Card) error {
	if w.err != nil {
		return w.err
	}
	v4 := w.opts.Version == V4
	w.prop("BEGIN:VCARD")
	w.prop("VERSION:", w.opts.Version)
	w.prop("PRODID:" + ProdID)
	if c.UID != "" {
		if v4 {
			w.prop("UID;VALUE=text:", Escape(c.UID))
		} else {
			w.prop("UID:", Escape(c.UID))
		}
	}
	w.structured("N:", c.Family, c.Given, "", "", "")
	fn := c.FN
	if strings.TrimSpace(fn) == "" {
		fn = strings.TrimSpace(c.Family + c.Given)
	}
	w.prop("FN:", Escape(fn))
	if c.PhoneticFamily != "" {
		w.prop("X-PHONETIC-LAST-NAME:", Escape(c.PhoneticFamily))
	}
	if c.PhoneticGiven != "" {
		w.prop("X-PHONETIC-FIRST-NAME:", Escape(c.PhoneticGiven))
	}
	if len(c.Org) > 0 {
		w.structured("ORG:", c.Org...)
	}
	if c.Title != "" {
		w.prop("TITLE:", Escape(c.Title))
	}
	for _, t := range c.Tels {
		if strings.TrimSpace(t.Number) == "" {
			continue
		}
		if v4 {
			types := lower(t.Types)
			if isE164(t.Number) {
				w.typed("TEL;VALUE=uri", types, ":tel:", t.Number)
			} else {
				w.typed("TEL;VALUE=text", types, ":", Escape(t.Number))
			}
		} else {
			w.typed("TEL", t.Types, ":", Escape(t.Number))
		}
	}
	for _, e := range c.Emails {
		if strings.TrimSpace(e.Address) == "" {
			continue
		}
		types := e.Types
		if v4 {
			// 4.0 has no INTERNET type (RFC 6350 §6.4.2).
			types = nil
			for _, t := range e.Types {
				if !strings.EqualFold(t, "INTERNET") {
					types = append(types, strings.ToLower(t))
				}
			}
		}
		w.typed("EMAIL", types, ":", Escape(e.Address))
	}
	if c.Note != "" {
		w.prop("NOTE:", Escape(c.Note))
	}
	if w.opts.Now != nil {
		w.prop("REV:", w.opts.Now().UTC().Format("20060102T150405Z"))
	}
	w.prop("END:VCARD")
	if w.err == nil {
		w.cards++
	}
	return w.err
}

// Close flushes buffered cards; it does not close the underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = err
	}
	return w.err
}

// prop writes the content line made of parts, folded. The parts are
// put together in the writer's own buffer (a card's lines would
// otherwise be strings made and dropped for every person).
func (w *Writer) prop(parts ...string) {
	w.raw = w.raw[:0]
	for _, p := range parts {
		w.raw = append(w.raw, p...)
	}
	w.flush()
}

// structured writes name followed by components joined with `;`, each
// escaped (as Structured).
func (w *Writer) structured(name string, components ...string) {
	w.raw = append(w.raw[:0], name...)
	for i, c := range components {
		if i > 0 {
			w.raw = append(w.raw, ';')
		}
		w.raw = append(w.raw, Escape(c)...)
	}
	w.flush()
}

// typed writes name, the TYPE parameters of types (as params), then
// sep and value.
func (w *Writer) typed(name string, types []string, sep, value string) {
	w.raw = append(w.raw[:0], name...)
	for _, t := range types {
		if t != "" {
			w.raw = append(w.raw, ";TYPE="...)
			w.raw = append(w.raw, t...)
		}
	}
	w.raw = append(append(w.raw, sep...), value...)
	w.flush()
}

// flush folds the line in w.raw and writes it.
func (w *Writer) flush() {
	if w.err != nil {
		return
	}
	w.line = appendFolded(w.line[:0], w.raw)
	if _, err := w.bw.Write(w.line); err != nil {
		w.err = err
	}
}

func lower(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ToLower(v)
	}
	return out
}

func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' {
		return false
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// AppendFolded appends line to dst followed by CRLF, folded so that no
// physical line exceeds MaxLine octets (excluding CRLF). Folds happen only
// at UTF-8 character boundaries; each continuation line starts with one
// space, which counts towards its 75 octets. Lines of 75 octets or fewer
// are not folded.
func AppendFolded(dst []byte, line string) []byte {
	return appendFolded(dst, line)
}

func appendFolded[S string | []byte](dst []byte, line S) []byte {
	limit := MaxLine
	for len(line) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		if cut == 0 { // cannot happen with valid UTF-8 and limit >= 4
			cut = limit
		}
		dst = append(dst, line[:cut]...)
		dst = append(dst, '\r', '\n', ' ')
		line = line[cut:]
		limit = MaxLine - 1
	}
	dst = append(dst, line...)
	return append(dst, '\r', '\n')
}

// Escape escapes a text value: backslash, comma, semicolon and newlines
// (CRLF, LF or CR become `\n`). Other control characters except TAB are
// dropped, and invalid UTF-8 is replaced by U+FFFD.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	s = strings.ToValidUTF8(s, "\uFFFD")
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == ',':
			b.WriteString(`\,`)
		case c == ';':
			b.WriteString(`\;`)
		case c == '\r':
			b.WriteString(`\n`)
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
		case c == '\n':
			b.WriteString(`\n`)
		case c < 0x20 && c != '\t' || c == 0x7f:
			// dropped
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func needsEscape(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' || c == ',' || c == ';' || (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
		if c >= 0x80 {
			ascii = false
		}
	}
	return !ascii && !utf8.ValidString(s)
}

// Structured joins components with `;`, escaping each.
func Structured(components ...string) string {
	esc := make([]string, len(components))
	for i, c := range components {
		esc[i] = Escape(c)
	}
	return strings.Join(esc, ";")
}

// UID returns the stable UID of p: dingtalk-<corpId>-<userId>, or
// dingtalk-<userId> without a corp id. A person without a userid gets
// dingbook-<hash>, the first 32 hex digits of SHA-256 over name, state
// code and mobile, so the same person keeps the same UID across exports.
func UID(p *dingbook.Person, corpID string) string {
	if p.UserID != "" {
		if corpID != "" {
			return "dingtalk-" + corpID + "-" + p.UserID
		}
		return "dingtalk-" + p.UserID
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(p.Name) + "\x00" + p.StateCode + "\x00" + p.Mobile))
	return "dingbook-" + hex.EncodeToString(h[:16])
}

// CardFor builds p's card:
//   - N and FN from SplitNameFor(name, state code) (or opts.Names[userid]),
//     X-PHONETIC-* for Han names only;
//   - ORG = company (opts.Company, else the root department's name), then
//     the path of the person's first department joined with "/";
//   - TEL;TYPE=CELL = the mobile in E.164 when it is valid with its state
//     code, else "+<state code> <mobile>" (see E164),
//     TEL;TYPE=WORK;TYPE=VOICE = telephone;
//   - EMAIL;TYPE=INTERNET;TYPE=WORK = org_email, EMAIL;TYPE=INTERNET = email;
//   - NOTE = remark.
//
// Hidden or masked mobiles are written exactly as given: the export layer
// decides what p contains.
func CardFor(p *dingbook.Person, tree *dingbook.Tree, opts Options) Card {
	return cardFor(p, tree, opts, func(tree *dingbook.Tree, id int64) string { return tree.PathString(id, "/") })
}

// cardFor is CardFor with unit giving a department's path.
func cardFor(p *dingbook.Person, tree *dingbook.Tree, opts Options, unit func(*dingbook.Tree, int64) string) Card {
	name := strings.TrimSpace(p.Name)
	c := Card{UID: UID(p, opts.CorpID), FN: name, Title: p.Title, Note: p.Remark}
	if o, ok := opts.Names[p.UserID]; ok && p.UserID != "" {
		c.Family, c.Given = o[0], o[1]
		if isHan(o[0]+o[1]) && o[0] != "" {
			c.PhoneticFamily, c.PhoneticGiven = PhoneticFamily(o[0]), Phonetic(o[1])
		}
	} else {
		family, given, split := SplitNameFor(name, p.StateCode)
		c.Family, c.Given = family, given
		if isHan(strings.Join(strings.Fields(name), "")) {
			if split {
				c.PhoneticFamily, c.PhoneticGiven = PhoneticFamily(family), Phonetic(given)
				c.FN = family + given
			} else {
				c.PhoneticGiven = Phonetic(given)
			}
		}
	}
	company := opts.Company
	if company == "" && tree != nil {
		if root := tree.Dept(dingbook.RootDeptID); root != nil {
			company = root.Name
		}
	}
	var u string
	if tree != nil && len(p.Depts) > 0 && p.Depts[0].DeptID != dingbook.RootDeptID {
		if tree.Dept(p.Depts[0].DeptID) != nil {
			u = unit(tree, p.Depts[0].DeptID)
		}
	}
	switch {
	case u != "":
		c.Org = []string{company, u}
	case company != "":
		c.Org = []string{company}
	}
	if m := strings.TrimSpace(p.Mobile); m != "" {
		c.Tels = append(c.Tels, Tel{Number: E164(p.StateCode, m), Types: []string{"CELL"}})
	}
	if t := strings.TrimSpace(p.Telephone); t != "" {
		num := t
		if strings.HasPrefix(t, "+") {
			num = E164("", t)
		}
		c.Tels = append(c.Tels, Tel{Number: num, Types: []string{"WORK", "VOICE"}})
	}
	if e := strings.TrimSpace(p.OrgEmail); e != "" {
		c.Emails = append(c.Emails, Email{Address: e, Types: []string{"INTERNET", "WORK"}})
	}
	if e := strings.TrimSpace(p.Email); e != "" && !strings.EqualFold(e, strings.TrimSpace(p.OrgEmail)) {
		c.Emails = append(c.Emails, Email{Address: e, Types: []string{"INTERNET"}})
	}
	return c
}

// E164 formats a mobile as E.164 (+<code><national>) when phonenumbers
// says it is valid. stateCode is the dialling code without '+' ("86");
// with stateCode "" the mobile must carry its own "+<code>". A number
// phonenumbers calls invalid still gets the state code DingTalk holds,
// "+<code> <number>" (+62 8423540524): bare local digits would be dialled
// in the phone's own country. Anything else (a masked number, text, no
// state code) is returned unchanged.
func E164(stateCode, mobile string) string {
	raw := strings.TrimSpace(mobile)
	if stateCode == "" && !strings.HasPrefix(raw, "+") {
		return raw // no country known: do not guess one
	}
	if e, ok := normalize.E164(raw, stateCode, ""); ok {
		return e
	}
	if stateCode != "" && !strings.HasPrefix(raw, "+") && dialable(raw) {
		return "+" + stateCode + " " + strings.TrimPrefix(raw, stateCode+"-")
	}
	return raw
}

// dialable reports whether s is digits with only spaces, '-' and
// parentheses between them (not masked, not text).
func dialable(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == ' ' || r == '-' || r == '(' || r == ')':
		default:
			return false
		}
	}
	return digits > 0
}

// String renders c as one card (previews, and each card of serve's
// CardDAV books). Its buffer is a card's size, not New's 64 KB: a book
// renders 100,000 cards one at a time, and 64 KB each made ~7 GB of
// garbage for one sync.
func (c Card) String() string {
	var b strings.Builder
	w := newWriter(&b, Options{}, 1<<10)
	w.WriteCard(c)
	w.Close()
	return b.String()
}

var _ fmt.Stringer = Card{}
