// Package xlsx writes dingbook's spreadsheets with excelize's StreamWriter,
// so a million-row export never holds the sheet in memory.
//
// Every cell is a text cell: values are written as inline strings
// (t="inlineStr", never a formula) and every data column carries the Text
// number format "@" (NumFmt 49), so phone numbers and job numbers such as
// 00123 or +8613800138000 stay exactly as written. The header row is styled
// and frozen, the data range has an autofilter, and column widths are
// chosen from the header and a sample of the first rows (CJK characters
// count double, capped at 60).
//
// Formula injection: inline strings are never evaluated, but a human who
// edits a cell (F2, Enter) makes Excel re-parse it. So text starting with
// = + - @ TAB CR LF or NUL is prefixed with ' (OWASP), except values that
// are plainly phone numbers ('+', then digits, spaces and '-' only), which
// cannot hold a function or a reference and must stay readable.
// Options.KeepFormulaText turns the prefix off.
//
// A sheet holds at most 1,048,575 data rows; further rows continue on
// "<sheet> (2)", "<sheet> (3)" … with the header repeated.
//
// Hooks for other packages:
//   - Options.Conditional: rules (Rule{Col, Kind, Value}) applied to the data
//     range of the main sheet(s) with a light-red fill: Kind "blank" marks
//     empty cells of column Col (0-based), Kind "equals" cells equal to Value.
//   - (*Writer).AddSheet(name, header, rows): an extra sheet (e.g. the
//     department tree or a quality report), written through its own
//     StreamWriter with the same header style, text format and widths.
//
// The workbook is written to the io.Writer given to New only by Close; the
// caller opens that file itself (0600, see internal/fileutil). Temporary
// sheet data goes to Options.TmpDir, which should be a private 0700
// directory; Close always removes it.
package xlsx

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/pflate"
	"github.com/xuri/excelize/v2"
)

// MaxDataRows is the number of data rows a sheet holds below its header.
const MaxDataRows = excelize.TotalRows - 1

// Rule is a conditional-formatting rule for one column of the data range.
type Rule struct {
	Col   int    // 0-based column index
	Kind  string // "blank" or "equals"
	Value string // the text compared with, for "equals"
}

// Options configure a Writer.
type Options struct {
	// SheetName names the main sheet; default "通讯录".
	SheetName string
	// TmpDir receives excelize's temporary sheet data (plaintext personal
	// data): use a private 0700 directory. "" means the system default.
	TmpDir string
	// Conditional rules for the main sheet(s).
	Conditional []Rule
	// KeepFormulaText writes text starting with a formula trigger without
	// the ' prefix (it is still an inline string, never a formula).
	KeepFormulaText bool
	// SampleRows is how many rows are buffered to size columns; default 200.
	SampleRows int
	// MaxRows overrides MaxDataRows (for tests); 0 means MaxDataRows.
	MaxRows int
	// Name names the file in error messages.
	Name string
}

// Writer streams rows into a workbook.
type Writer struct {
	out      io.Writer
	opts     Options
	f        *excelize.File
	header   []string
	hdrStyle int
	txtStyle int
	redStyle int

	sw        *excelize.StreamWriter // current main sheet
	sheets    []*sheet               // every sheet, in order
	sheetNo   int
	row       int // data rows in the current main sheet
	total     int
	sample    [][]string
	widths    []float64
	started   bool
	closed    bool
	rowBuf    []any
	firstMain bool
	truncated int // cells cut to MaxCellChars
}

type sheet struct {
	name   string
	sw     *excelize.StreamWriter
	cols   int
	rows   int // data rows
	isMain bool
}

// New starts a workbook whose main sheet has header. Nothing reaches out
// until Close.
func New(out io.Writer, header []string, opts Options) (*Writer, error) {
	if opts.SheetName == "" {
		opts.SheetName = "通讯录"
	}
	if opts.SampleRows <= 0 {
		opts.SampleRows = 200
	}
	if opts.MaxRows <= 0 || opts.MaxRows > MaxDataRows {
		opts.MaxRows = MaxDataRows
	}
	if opts.Name == "" {
		opts.Name = "XLSX output"
	}
	if len(header) == 0 {
		return nil, dingbook.Errorf(dingbook.EINVALID, "%s: no columns to write", opts.Name).WithHint("choose at least one field, or a profile").WithField("fields")
	}
	for _, r := range opts.Conditional {
		if r.Col < 0 || r.Col >= len(header) || (r.Kind != "blank" && r.Kind != "equals") {
			return nil, dingbook.Errorf(dingbook.EINVALID, "%s: bad conditional rule %+v", opts.Name, r).WithHint("Col must be a column index and Kind \"blank\" or \"equals\"")
		}
	}
	f := excelize.NewFile(excelize.Options{TmpDir: opts.TmpDir})
	w := &Writer{out: out, opts: opts, f: f, header: header, firstMain: true}
	var err error
	w.hdrStyle, err = f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
		Border:    []excelize.Border{{Type: "bottom", Color: "8EA9DB", Style: 1}},
		Alignment: &excelize.Alignment{Vertical: "center"},
		NumFmt:    49,
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	if w.txtStyle, err = f.NewStyle(&excelize.Style{NumFmt: 49}); err != nil {
		f.Close()
		return nil, err
	}
	if w.redStyle, err = f.NewConditionalStyle(&excelize.Style{
		Font: &excelize.Font{Color: "9C0006"},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FFC7CE"}},
	}); err != nil {
		f.Close()
		return nil, err
	}
	w.rowBuf = make([]any, len(header))
	return w, nil
}

// Neutralise returns the text written for s: s itself, or s with a '
// prefix when it starts with a formula trigger and is not a plain phone
// number.
func Neutralise(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '-', '@', '\t', '\r', '\n', 0:
		return "'" + s
	case '+':
		if isPhone(s) {
			return s
		}
		return "'" + s
	}
	return s
}

// isPhone: '+' then at least one digit, and only digits, spaces and '-'.
func isPhone(s string) bool {
	digits := 0
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == ' ' || c == '-':
		default:
			return false
		}
	}
	return digits > 0 && s[1] >= '0' && s[1] <= '9'
}

// displayWidth counts CJK and other wide runes double.
func displayWidth(s string) float64 {
	w := 0.0
	for _, r := range s {
		if r >= 0x1100 && (r <= 0x115F || (r >= 0x2E80 && r <= 0xA4CF) || (r >= 0xAC00 && r <= 0xD7A3) ||
			(r >= 0xF900 && r <= 0xFAFF) || (r >= 0xFE30 && r <= 0xFE4F) || (r >= 0xFF00 && r <= 0xFF60) ||
			(r >= 0xFFE0 && r <= 0xFFE6) || (r >= 0x20000 && r <= 0x3FFFD) || (r >= 0x1F300 && r <= 0x1FAFF)) {
			w += 2
		} else {
			w++
		}
	}
	return w
}

func columnWidths(header []string, rows [][]string) []float64 {
	ws := make([]float64, len(header))
	for i, h := range header {
		ws[i] = displayWidth(h) + 2 // room for the filter button
	}
	for _, r := range rows {
		for i, v := range r {
			if i < len(ws) {
				if w := displayWidth(v); w > ws[i] {
					ws[i] = w
				}
			}
		}
	}
	for i := range ws {
		ws[i] += 2
		if ws[i] < 8 {
			ws[i] = 8
		}
		if ws[i] > 60 {
			ws[i] = 60
		}
	}
	return ws
}

func (w *Writer) newSheet(name string, header []string, widths []float64, isMain bool) (*sheet, error) {
	if w.firstMain {
		w.firstMain = false
		if err := w.f.SetSheetName("Sheet1", name); err != nil {
			return nil, err
		}
	} else if _, err := w.f.NewSheet(name); err != nil {
		return nil, err
	}
	sw, err := w.f.NewStreamWriter(name)
	if err != nil {
		return nil, err
	}
	for i, width := range widths {
		if err := sw.SetColWidth(i+1, i+1, width); err != nil {
			return nil, err
		}
	}
	if err := sw.SetColStyle(1, len(header), w.txtStyle); err != nil {
		return nil, err
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}}}); err != nil {
		return nil, err
	}
	cells := make([]any, len(header))
	for i, h := range header {
		cells[i] = excelize.Cell{StyleID: w.hdrStyle, Value: h}
	}
	if err := sw.SetRow("A1", cells, excelize.RowOpts{Height: 20}); err != nil {
		return nil, err
	}
	s := &sheet{name: name, sw: sw, cols: len(header), isMain: isMain}
	w.sheets = append(w.sheets, s)
	return s, nil
}

func (w *Writer) mainName(n int) string {
	if n == 1 {
		return w.opts.SheetName
	}
	return fmt.Sprintf("%s (%d)", w.opts.SheetName, n)
}

func (w *Writer) start() error {
	w.started = true
	w.widths = columnWidths(w.header, w.sample)
	w.sheetNo = 1
	s, err := w.newSheet(w.mainName(1), w.header, w.widths, true)
	if err != nil {
		return w.wrap(err)
	}
	w.sw = s.sw
	sample := w.sample
	w.sample = nil
	for _, r := range sample {
		if err := w.put(r); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) wrap(err error) error {
	return &dingbook.Error{Code: dingbook.EINTERNAL, Message: w.opts.Name + ": writing the spreadsheet failed",
		Hint: "check free space in the temporary directory and the output directory", Err: err}
}

// Write adds one data row to the main sheet. row may be shorter than the
// header; extra values are an error.
func (w *Writer) Write(row []string) error {
	if w.closed {
		return fmt.Errorf("%s: write after Close", w.opts.Name)
	}
	if len(row) > len(w.header) {
		return dingbook.Errorf(dingbook.EINVALID, "%s: row %d has %d values for %d columns", w.opts.Name, w.total+1, len(row), len(w.header))
	}
	if !w.started {
		if len(w.sample) < w.opts.SampleRows {
			w.sample = append(w.sample, append([]string(nil), row...))
			return nil
		}
		if err := w.start(); err != nil {
			return err
		}
	}
	return w.put(row)
}

func (w *Writer) put(row []string) error {
	if w.row == w.opts.MaxRows {
		w.sheetNo++
		s, err := w.newSheet(w.mainName(w.sheetNo), w.header, w.widths, true)
		if err != nil {
			return w.wrap(err)
		}
		w.sw = s.sw
		w.row = 0
	}
	w.row++
	w.total++
	w.sheets[len(w.sheets)-1].rows = w.row
	vals := w.cells(row, w.rowBuf[:len(w.header)])
	err := w.sw.SetRow(cellName(1, w.row+1), vals)
	clear(vals) // the caller's text is not kept past the call
	if err != nil {
		return w.wrap(err)
	}
	return nil
}

// cells fills vals with row's values as StreamWriter takes them: nil for
// an empty or missing value (no cell), the text neutralised otherwise.
func (w *Writer) cells(row []string, vals []any) []any {
	for i := range vals {
		vals[i] = nil
		if i < len(row) && row[i] != "" {
			v := row[i]
			if !w.opts.KeepFormulaText {
				v = Neutralise(v)
			}
			if len(v) > MaxCellChars && utf16Len(v) > MaxCellChars {
				w.truncated++
			}
			vals[i] = v
		}
	}
	return vals
}

// MaxCellChars is the most an Excel cell holds, in UTF-16 code units:
// excelize cuts longer text to it.
const MaxCellChars = excelize.TotalCellChars

// utf16Len is the length of s in UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// Truncated returns how many cells written so far were longer than
// MaxCellChars and so were cut short.
func (w *Writer) Truncated() int { return w.truncated }

func cellName(col, row int) string {
	s, _ := excelize.CoordinatesToCellName(col, row)
	return s
}

// SheetRows is one sheet of a workbook: its name, its number of data
// rows below the header, and whether it holds the main rows.
type SheetRows struct {
	Name string
	Rows int
	Main bool
}

// Sheets lists the workbook's sheets in order (complete after Close).
func (w *Writer) Sheets() []SheetRows {
	out := make([]SheetRows, len(w.sheets))
	for i, s := range w.sheets {
		out[i] = SheetRows{Name: s.name, Rows: s.rows, Main: s.isMain}
	}
	return out
}

// Rows returns the number of data rows written to the main sheet(s).
func (w *Writer) Rows() int { return w.total + len(w.sample) }

// AddSheet adds a sheet with header and rows, written at once through its
// own StreamWriter (with a frozen header, text format and autofilter).
// Call it after the main rows; the sheet appears after the main sheet(s).
func (w *Writer) AddSheet(name string, header []string, rows [][]string) error {
	return w.AddSheetFunc(name, header, len(rows), func(i int) []string { return rows[i] })
}

// AddSheetFunc is AddSheet for n rows made one at a time by row(i) (in
// order, from 0; the first ones twice, to size the columns), so that a
// long sheet is never held whole. row's result may be reused by the
// next call.
func (w *Writer) AddSheetFunc(name string, header []string, n int, row func(i int) []string) error {
	if w.closed {
		return fmt.Errorf("%s: AddSheet after Close", w.opts.Name)
	}
	if !w.started {
		if err := w.start(); err != nil {
			return err
		}
	}
	if n > MaxDataRows {
		return dingbook.Errorf(dingbook.EINVALID, "%s: sheet %q would have %d rows, more than a sheet holds (%d)", w.opts.Name, name, n, MaxDataRows)
	}
	if idx, _ := w.f.GetSheetIndex(name); idx >= 0 {
		return dingbook.Errorf(dingbook.EINVALID, "%s: sheet %q already exists", w.opts.Name, name)
	}
	sample := make([][]string, min(n, w.opts.SampleRows))
	for i := range sample {
		sample[i] = slices.Clone(row(i))
	}
	s, err := w.newSheet(name, header, columnWidths(header, sample), false)
	if err != nil {
		return w.wrap(err)
	}
	vals := make([]any, len(header))
	for i := range n {
		if err := s.sw.SetRow(cellName(1, i+2), w.cells(row(i), vals)); err != nil {
			return w.wrap(err)
		}
	}
	s.rows = n
	return nil
}

// Close finishes every sheet (autofilter, conditional formats), writes the
// workbook to the io.Writer given to New and removes temporary files. It
// does not close that io.Writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	defer w.f.Close()
	if !w.started {
		if err := w.start(); err != nil {
			return err
		}
	}
	w.closed = true
	for _, s := range w.sheets {
		last := cellName(s.cols, s.rows+1)
		if err := w.f.AutoFilter(s.name, "A1:"+last, nil); err != nil {
			return w.wrap(err)
		}
		if s.isMain && s.rows > 0 {
			for _, r := range w.opts.Conditional {
				col, _ := excelize.ColumnNumberToName(r.Col + 1)
				ref := fmt.Sprintf("%s2:%s%d", col, col, s.rows+1)
				format := w.redStyle
				opt := excelize.ConditionalFormatOptions{Type: "blanks", Format: &format}
				if r.Kind == "equals" {
					opt = excelize.ConditionalFormatOptions{Type: "cell", Criteria: "==", Value: formulaString(r.Value), Format: &format}
				}
				if err := w.f.SetConditionalFormat(s.name, ref, []excelize.ConditionalFormatOptions{opt}); err != nil {
					return w.wrap(err)
				}
			}
		}
		if err := s.sw.Flush(); err != nil {
			return w.wrap(err)
		}
	}
	// excelize would build the whole zip in a bytes.Buffer before copying
	// it out (hundreds of MB for a million rows); its ZipWriter hook lets
	// the archive stream straight into out instead.
	zw := &streamZip{Writer: zip.NewWriter(w.out), dims: w.dimensions()}
	// Compressing a big sheet on one core is about a third of an export:
	// pflate spreads it over all of them (archive/zip's own level, 5).
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) { return pflate.NewWriter(out, 5) })
	w.f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zw })
	buf, err := w.f.WriteToBuffer()
	if err == nil && buf.Len() > 0 {
		err = fmt.Errorf("excelize wrote %d bytes around the zip writer", buf.Len())
	}
	if err == nil {
		err = zw.err
	}
	if err == nil {
		err = zw.dimsWritten()
	}
	if err != nil {
		return w.wrap(err)
	}
	return w.f.Close()
}

// dimensions returns the true <dimension ref> of every sheet, by the path
// of its part in the archive: from A1 to its last column and row. The
// StreamWriter writes a sheet's dimension before its rows, so it can only
// write "A1"; readers that trust it (openpyxl's read-only mode) would then
// see one cell. excelize keeps sheet N (its sheetId) in
// xl/worksheets/sheetN.xml.
func (w *Writer) dimensions() map[string]string {
	ids := map[string]int{}
	for id, name := range w.f.GetSheetMap() {
		ids[name] = id
	}
	dims := map[string]string{}
	for _, s := range w.sheets {
		ref := "A1"
		if last := cellName(s.cols, s.rows+1); last != ref {
			ref += ":" + last
		}
		dims[fmt.Sprintf("xl/worksheets/sheet%d.xml", ids[s.name])] = ref
	}
	return dims
}

// streamZip is the archive/zip writer excelize uses by default, writing
// to the output directly. It refuses an entry over 4 GiB: excelize marks
// such entries zip64 by patching their local headers in its buffer, which
// a streamed archive cannot do.
//
// It also writes each sheet's true dimension (dims: part path → ref) in
// place of the "A1" the StreamWriter wrote.
type streamZip struct {
	*zip.Writer
	err  error
	dims map[string]string
	open *dimWriter // the sheet part being written, if any
}

func (z *streamZip) Create(name string) (io.Writer, error) {
	if err := z.endPart(); err != nil {
		return nil, err
	}
	fw, err := z.Writer.Create(name)
	if err != nil {
		return nil, err
	}
	ew := &entryWriter{z: z, w: fw, name: name}
	if ref, ok := z.dims[name]; ok {
		z.open = &dimWriter{w: ew, ref: ref, name: name}
		return z.open, nil
	}
	return ew, nil
}

// endPart ends the sheet part being written: it must have had its
// dimension rewritten.
func (z *streamZip) endPart() error {
	d := z.open
	if d == nil {
		return nil
	}
	z.open = nil
	if !d.done {
		z.err = fmt.Errorf("%s: no <dimension> element before the sheet data", d.name)
		return z.err
	}
	delete(z.dims, d.name)
	return nil
}

// dimsWritten reports a sheet whose dimension was not rewritten.
func (z *streamZip) dimsWritten() error {
	if err := z.endPart(); err != nil {
		return err
	}
	for name := range z.dims {
		return fmt.Errorf("%s: the sheet was not written", name)
	}
	return nil
}

// dimWriter passes a sheet part through, with the ref of its first
// <dimension> element (which comes before the sheet data) replaced by ref.
type dimWriter struct {
	w    io.Writer
	ref  string
	name string
	buf  []byte // the start of the part, until the element is found
	done bool
}

// maxDimSearch bounds how much of a part is held looking for the element.
const maxDimSearch = 1 << 20

func (d *dimWriter) Write(b []byte) (int, error) {
	if d.done {
		return d.w.Write(b)
	}
	d.buf = append(d.buf, b...)
	const open = `<dimension ref="`
	i := bytes.Index(d.buf, []byte(open))
	end := -1
	if i >= 0 {
		end = bytes.IndexByte(d.buf[i+len(open):], '"')
	}
	if i < 0 || end < 0 {
		if bytes.Contains(d.buf, []byte("<sheetData")) || len(d.buf) > maxDimSearch {
			return 0, fmt.Errorf("%s: no <dimension> element before the sheet data", d.name)
		}
		return len(b), nil
	}
	start := i + len(open)
	end += start
	out := make([]byte, 0, len(d.buf)+len(d.ref))
	out = append(append(append(out, d.buf[:start]...), d.ref...), d.buf[end:]...)
	d.done, d.buf = true, nil
	if _, err := d.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

type entryWriter struct {
	z    *streamZip
	w    io.Writer
	n    int64
	name string
}

func (e *entryWriter) Write(b []byte) (int, error) {
	e.n += int64(len(b))
	if e.n > math.MaxUint32 {
		e.z.err = dingbook.Errorf(dingbook.EINVALID, "%s is larger than 4 GiB, more than this writer puts in one XLSX part", e.name).WithHint("export fewer fields, or write CSV").WithField("fields")
		return 0, e.z.err
	}
	return e.w.Write(b)
}

// Abort discards the workbook without writing it and removes temporary
// files. It is a no-op after Close.
func (w *Writer) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	w.f.Close()
}

// formulaString quotes s as a formula string literal ("" doubles quotes),
// so a conditional-format value never becomes a formula of its own.
func formulaString(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
