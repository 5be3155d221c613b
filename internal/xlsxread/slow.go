package xlsxread

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"math"
	"strconv"
	"strings"
	"unsafe"
)

// The types below are copies of excelize's own (xmlSharedStrings.go,
// xmlWorksheet.go, xmlStyles.go, xmlChart.go, xmlComments.go), so that
// content outside the fast path decodes exactly as excelize decodes it,
// errors included.

type xlsxSI struct {
	T          *xlsxT             `xml:"t,omitempty"`
	R          []xlsxR            `xml:"r"`
	RPh        []*xlsxPhoneticRun `xml:"rPh"`
	PhoneticPr *xlsxPhoneticPr    `xml:"phoneticPr"`
}

type xlsxR struct {
	XMLName xml.Name `xml:"r"`
	RPr     *xlsxRPr `xml:"rPr"`
	T       *xlsxT   `xml:"t"`
}

type xlsxT struct {
	XMLName xml.Name `xml:"t"`
	Space   xml.Attr `xml:"space,attr,omitempty"`
	Val     string   `xml:",chardata"`
}

type xlsxRPr struct {
	RFont     *attrValString `xml:"rFont"`
	Charset   *attrValInt    `xml:"charset"`
	Family    *attrValInt    `xml:"family"`
	B         *attrValBool   `xml:"b"`
	I         *attrValBool   `xml:"i"`
	Strike    *attrValBool   `xml:"strike"`
	Outline   *attrValBool   `xml:"outline"`
	Shadow    *attrValBool   `xml:"shadow"`
	Condense  *attrValBool   `xml:"condense"`
	Extend    *attrValBool   `xml:"extend"`
	Color     *xlsxColor     `xml:"color"`
	Sz        *attrValFloat  `xml:"sz"`
	U         *attrValString `xml:"u"`
	VertAlign *attrValString `xml:"vertAlign"`
	Scheme    *attrValString `xml:"scheme"`
}

type attrValInt struct {
	Val *int `xml:"val,attr"`
}

type attrValFloat struct {
	Val *float64 `xml:"val,attr"`
}

type attrValBool struct {
	Val *bool `xml:"val,attr"`
}

type attrValString struct {
	Val *string `xml:"val,attr"`
}

type xlsxColor struct {
	Auto    bool    `xml:"auto,attr,omitempty"`
	RGB     string  `xml:"rgb,attr,omitempty"`
	Indexed int     `xml:"indexed,attr,omitempty"`
	Theme   *int    `xml:"theme,attr"`
	Tint    float64 `xml:"tint,attr,omitempty"`
}

type xlsxPhoneticRun struct {
	Sb uint32 `xml:"sb,attr"`
	Eb uint32 `xml:"eb,attr"`
	T  string `xml:"t"`
}

type xlsxPhoneticPr struct {
	XMLName   xml.Name `xml:"phoneticPr"`
	Alignment string   `xml:"alignment,attr,omitempty"`
	FontID    *int     `xml:"fontId,attr"`
	Type      string   `xml:"type,attr,omitempty"`
}

type xlsxF struct {
	Content string `xml:",chardata"`
	T       string `xml:"t,attr,omitempty"`
	Aca     bool   `xml:"aca,attr,omitempty"`
	Ref     string `xml:"ref,attr,omitempty"`
	Dt2D    bool   `xml:"dt2D,attr,omitempty"`
	Dtr     bool   `xml:"dtr,attr,omitempty"`
	Del1    bool   `xml:"del1,attr,omitempty"`
	Del2    bool   `xml:"del2,attr,omitempty"`
	R1      string `xml:"r1,attr,omitempty"`
	R2      string `xml:"r2,attr,omitempty"`
	Ca      bool   `xml:"ca,attr,omitempty"`
	Si      *int   `xml:"si,attr"`
	Bx      bool   `xml:"bx,attr,omitempty"`
}

// String is excelize's xlsxSI.String.
func (x xlsxSI) String() string {
	var value strings.Builder
	if x.T != nil {
		value.WriteString(x.T.Val)
	}
	for _, s := range x.R {
		if s.T != nil {
			value.WriteString(s.T.Val)
		}
	}
	if value.Len() == 0 {
		return ""
	}
	return bstrUnmarshal(value.String())
}

// newDecoder decodes one element on its own.
func newDecoder(el []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(el))
	d.CharsetReader = refuseCharset
	return d
}

// slowCell decodes a <c> element as excelize's cellXMLHandler does; ok is
// false where excelize would meet an error (its reading then goes
// differently, so the file is left to it).
func slowCell(raw []byte) (c rawCell, ok bool) {
	d := newDecoder(raw)
	tok, err := d.Token()
	if err != nil {
		return c, false
	}
	start, isStart := tok.(xml.StartElement)
	if !isStart {
		return c, false
	}
	for _, a := range start.Attr {
		switch a.Name.Local {
		case "r":
			c.ref = []byte(a.Value)
		case "s":
			val, err := strconv.ParseInt(a.Value, 10, 64)
			if err != nil || val < math.MinInt || val > math.MaxInt {
				return c, false
			}
		case "t":
			c.t = []byte(a.Value)
		}
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return c, false
		}
		switch el := tok.(type) {
		case xml.StartElement:
			switch el.Name.Local {
			case "v":
				err = d.DecodeElement(&c.vs, &el)
			case "f":
				var f *xlsxF
				err = d.DecodeElement(&f, &el)
				c.hasF = true
			case "is":
				err = d.DecodeElement(&c.is, &el)
				c.hasIS = c.is != nil
			default:
				// excelize's handler ends the cell at the first </c>, even
				// one nested in another element: leave such cells to it.
				return c, false
			}
			if err != nil {
				return c, false
			}
		case xml.EndElement:
			if el == start.End() {
				return c, d.InputOffset() == int64(len(raw))
			}
		}
	}
}

// sstTable is the shared strings: one string, and where each item ends.
type sstTable struct {
	data string
	ends []uint32
}

// get returns item i, "" for an index outside the table (as excelize,
// which ignores the error it gets there).
func (t *sstTable) get(i int) string {
	if t == nil || i < 0 || i >= len(t.ends) {
		return ""
	}
	start := uint32(0)
	if i > 0 {
		start = t.ends[i-1]
	}
	return t.data[start:t.ends[i]]
}

// readSST reads the shared strings.
func readSST(zf *zip.File) (*sstTable, error) {
	in := startInflate(zf)
	defer in.close()
	w := &window{in: in, part: zf.Name}
	idx := -1
	for {
		if i := bytes.Index(w.rest(), []byte("<sst")); i >= 0 {
			idx = i
			break
		}
		if len(w.rest()) > maxPrefix {
			return nil, w.unsupported(0, "no <sst> in the first %d bytes", maxPrefix)
		}
		ok, err := w.more()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, w.unsupported(0, "no <sst>")
		}
	}
	w.off = idx
	te, err := w.tagEnd()
	w.off = 0
	if err != nil {
		return nil, err
	}
	if te < 0 {
		return nil, w.unsupported(idx, "the <sst> tag does not end")
	}
	prefix := w.rest()[:idx+te]
	d := newDecoder(prefix)
	var unique int64
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, w.unsupported(int(d.InputOffset()), "before the strings: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Local != "sst" || se.Name.Space != nsMain || d.InputOffset() != int64(len(prefix)) {
			return nil, w.unsupported(idx, "an unusual <sst>")
		}
		for _, a := range se.Attr {
			if a.Name.Local == "count" || a.Name.Local == "uniqueCount" {
				n, err := strconv.ParseInt(strings.TrimSpace(a.Value), 10, 64)
				if err != nil {
					return nil, w.unsupported(idx, "<sst %s=%q>", a.Name.Local, a.Value)
				}
				if a.Name.Local == "uniqueCount" {
					unique = n
				}
			}
		}
		break
	}
	// Sized up front from the part: its text is about its size less the
	// markup of each item, so a million names are not copied over and
	// over as the arena grows, nor left with up to half of it unused.
	size := int64(zf.UncompressedSize64) - int64(len(prefix)) - unique*int64(len("<si><t></t></si>"))
	// Both numbers come from the file: trust them only within what the
	// part could hold (an item is at least "<si/>"), and only so far.
	if unique < 0 || unique > int64(zf.UncompressedSize64)/5 || unique > 1<<25 {
		unique = 0
	}
	size = max(0, min(size, 1<<28))
	arena := make([]byte, 0, size)
	ends := make([]uint32, 0, unique)
	w.off = len(prefix)
	if prefix[len(prefix)-2] == '/' {
		return nil, nil
	}
	for {
		if err := w.skipSpace(); err != nil {
			return nil, err
		}
		if err := w.need(8); err != nil {
			return nil, err
		}
		rest := w.rest()
		if bytes.HasPrefix(rest, []byte("</sst")) {
			i := len("</sst")
			for i < len(rest) && isSpace(rest[i]) {
				i++
			}
			if i >= len(rest) || rest[i] != '>' {
				return nil, w.unsupported(0, "a malformed </sst>")
			}
			w.off += i + 1
			break
		}
		if !hasTag(rest, "si") {
			return nil, w.unsupported(0, "%q where an <si> was expected", clip(rest))
		}
		el, err := w.element(closeSI)
		if err != nil {
			return nil, err
		}
		if el == nil {
			return nil, w.unsupported(0, "the strings end inside an <si>")
		}
		var ok bool
		if arena, ok = appendSI(arena, el); !ok {
			return nil, w.unsupported(0, "a string item this reader does not know (%q)", clip(el))
		}
		if len(arena) > math.MaxUint32 {
			return nil, w.unsupported(0, "more than 4 GB of shared strings")
		}
		ends = append(ends, uint32(len(arena)))
		w.off += len(el)
	}
	// Only white space may follow the root.
	for {
		if err := w.skipSpace(); err != nil {
			return nil, err
		}
		if len(w.rest()) > 0 {
			return nil, w.unsupported(0, "%q after </sst>", clip(w.rest()))
		}
		ok, err := w.more()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
	}
	if len(arena) == 0 {
		return &sstTable{ends: ends}, nil
	}
	// The arena is never written again: share it rather than copy it (a
	// million names would briefly need their space twice).
	return &sstTable{data: unsafe.String(&arena[0], len(arena)), ends: ends}, nil
}

// appendSI appends the text of one <si> element, as excelize's
// xlsxSI.String gives it.
func appendSI(arena, el []byte) ([]byte, bool) {
	if el[len(el)-2] == '/' {
		if _, _, _, _, ok := parseTag(el, "si", nil, nil); ok {
			return arena, true
		}
		return slowSI(arena, el)
	}
	if !bytes.HasPrefix(el, []byte("<si>")) {
		return slowSI(arena, el)
	}
	raw, k, ok := plainT(el, 4)
	if !ok || string(el[k:]) != "</si>" {
		return slowSI(arena, el)
	}
	start := len(arena)
	arena, ok = appendText(arena, raw)
	if !ok {
		return slowSI(arena[:start], el)
	}
	if bytes.Contains(arena[start:], []byte("_x")) {
		s := bstrUnmarshal(string(arena[start:]))
		arena = append(arena[:start], s...)
	}
	return arena, true
}

// slowSI decodes an <si> with encoding/xml into excelize's type.
func slowSI(arena, el []byte) ([]byte, bool) {
	var si xlsxSI
	d := newDecoder(el)
	if err := d.Decode(&si); err != nil || d.InputOffset() != int64(len(el)) {
		return arena, false
	}
	return append(arena, si.String()...), true
}
