// Package csv writes dingbook's CSV files: RFC 4180 with every field
// quoted, CRLF line ends by default (LF on request), UTF-8 with a BOM by
// default so that Chinese Windows Excel reads it, or UTF-8 without BOM,
// GB18030 or UTF-16LE (with BOM).
//
// Every field that starts with a spreadsheet trigger character (= + - @
// TAB CR LF NUL) is neutralised by prefixing a single quote ' (OWASP CSV
// injection, formats.md §3.2). This includes E.164 phone numbers such as
// +8613800138000, which are written as '+8613800138000: a spreadsheet
// would otherwise turn them into a formula or a number in scientific
// notation. dingbook's own CSV reader strips exactly one leading '.
//
// Usage:
//
//	w, err := csv.New(f, csv.Options{Encoding: csv.UTF8BOM})
//	w.Write([]string{"姓名", "手机"})
//	w.Write([]string{"王小明", "13800138000"})
//	err = w.Close() // flushes; does not close f
package csv

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/dingbook/dingbook"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
)

// Encodings accepted by Options.Encoding.
const (
	UTF8BOM = "utf-8-bom" // the default
	UTF8    = "utf-8"
	GB18030 = "gb18030"
	UTF16LE = "utf-16le" // written with a BOM (FF FE)

)

// Encodings lists the valid Options.Encoding values.
var Encodings = []string{UTF8BOM, UTF8, GB18030, UTF16LE}

// Options configure a Writer.
type Options struct {
	// Encoding is one of Encodings; "" means UTF8BOM.
	Encoding string
	// LF ends lines with "\n" instead of the default "\r\n".
	LF bool
	// Name names the file in error messages (optional).
	Name string
}

// Writer writes rows of text as CSV.
type Writer struct {
	bw   *bufio.Writer
	enc  *encoding.Encoder
	eol  string
	row  int
	buf  bytes.Buffer
	name string
	err  error
}

// New returns a Writer on w. It writes the BOM, if any, at once.
func New(w io.Writer, opts Options) (*Writer, error) {
	cw := &Writer{bw: bufio.NewWriterSize(w, 64<<10), eol: "\r\n", name: opts.Name}
	if cw.name == "" {
		cw.name = "CSV output"
	}
	if opts.LF {
		cw.eol = "\n"
	}
	switch strings.ToLower(opts.Encoding) {
	case "", UTF8BOM, "utf8-bom", "utf-8-sig":
		cw.bw.WriteString("\uFEFF")
	case UTF8, "utf8":
	case GB18030:
		cw.enc = simplifiedchinese.GB18030.NewEncoder()
	case UTF16LE, "utf16le", "utf-16":
		cw.bw.Write([]byte{0xFF, 0xFE})
		cw.enc = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewEncoder()
	default:
		return nil, dingbook.Errorf(dingbook.EINVALID, "unknown CSV encoding %q", opts.Encoding).
			WithHint("use one of: %s", strings.Join(Encodings, ", "))
	}
	return cw, nil
}

// Neutralise returns s with a ' in front when it starts with a character
// that makes a spreadsheet read it as a formula (= + - @ TAB CR LF NUL).
func Neutralise(s string) string {
	if NeedsNeutralising(s) {
		return "'" + s
	}
	return s
}

// NeedsNeutralising reports whether s starts with a formula trigger.
func NeedsNeutralising(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n', 0:
		return true
	}
	return false
}

// Write writes one row: every field neutralised, quoted, with inner
// quotes doubled.
func (w *Writer) Write(row []string) error {
	if w.err != nil {
		return w.err
	}
	w.row++
	w.buf.Reset()
	for i, f := range row {
		if !utf8.ValidString(f) {
			w.err = dingbook.Errorf(dingbook.EINVALID, "%s: row %d, column %d is not valid UTF-8 text", w.name, w.row, i+1).
				WithHint("repair the source value (it holds bytes that are not text) and export again")
			return w.err
		}
		if i > 0 {
			w.buf.WriteByte(',')
		}
		w.buf.WriteByte('"')
		if NeedsNeutralising(f) {
			w.buf.WriteByte('\'')
		}
		for j := 0; j < len(f); j++ {
			if f[j] == '"' {
				w.buf.WriteByte('"')
			}
			w.buf.WriteByte(f[j])
		}
		w.buf.WriteByte('"')
	}
	w.buf.WriteString(w.eol)
	out := w.buf.Bytes()
	if w.enc != nil {
		var err error
		out, err = w.enc.Bytes(out)
		if err != nil {
			w.err = &dingbook.Error{Code: dingbook.EINVALID,
				Message: fmt.Sprintf("%s: row %d cannot be encoded", w.name, w.row),
				Hint:    "choose the encoding utf-8-bom, which can represent every character", Field: "encoding", Err: err}
			return w.err
		}
	}
	if _, err := w.bw.Write(out); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Rows returns the number of rows written so far (header included).
func (w *Writer) Rows() int { return w.row }

// Close flushes buffered output. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	return w.bw.Flush()
}
