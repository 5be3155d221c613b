// Package console reads the DingTalk admin console's member file (the
// 通讯录 Excel export, or a CSV saved from it or from another tool) into a
// dingbook.Org, following console-file.md §5:
//
//   - the container is sniffed by magic bytes: xlsx (zip), OLE2 (legacy .xls
//     or a password-protected workbook: refused with a clear error), HTML or
//     XML pretending to be a spreadsheet (refused), else CSV/TSV text in
//     UTF-8 (with or without BOM), UTF-16 (with BOM) or GB18030, with the
//     delimiter (`,`, tab, `;`) sniffed;
//   - instruction rows (填写须知…) above the header are skipped; the header
//     row is the first of the first 10 rows where at least two cells are
//     known headers;
//   - columns are found by header text (Chinese, English and Indonesian
//     synonyms, normalised), never by position; --map adds more; unknown
//     headers become extension.<header> custom fields;
//   - department cells hold `-` paths separated by `,` (ParseDeptCell) and
//     become a tree with stable synthetic ids under the root (id 1, the
//     company);
//   - phones stored as numbers are repaired, dates (Excel serials and text)
//     become hired_date milliseconds at midnight China time.
//
// xlsx files are read with internal/xlsxread (the sheet inflated on one
// goroutine and scanned on another), or, for what that reader does not
// support, with excelize's streaming Rows() and a private temporary
// directory (Options.TmpDir), with a warning saying so; CSV is streamed
// through a decoder. Either way a
// goroutine reads rows ahead, and workers (one per core) turn them into
// people, handed over in file order.
//
// ReadFile returns the whole Org. Open returns a Stream that hands over
// each person as soon as its row is read, with a department tree that grows
// as rows arrive (a dingbook.Directory for export.Run), so a million-row
// file converts to vCard without being held; see Stream for the little it
// resolves differently (managers named further down the file).
package console

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/fileutil"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Options configures reading.
type Options struct {
	// Map maps header text to a field key, from --map '手机=mobile'. Keys
	// are field keys (mobile, dept, manager_userid, …), extension.<name>,
	// or "-" to ignore the column. Header text is matched normalised.
	Map map[string]string
	// Sheet is the sheet to read; "" = the first sheet.
	Sheet string
	// Company names the root department (the organisation); "" = the file
	// name without its extension. Department paths that start with it are
	// read below the root.
	Company string
	// TmpDir is where an xlsx reader makes its private 0700 directory for
	// the sheets excelize unzips to disk (plaintext personal data), locked
	// while it lives (fileutil.LockedDir); "" = the system's temporary
	// directory. dingbook passes $DINGBOOK_HOME/tmp, which every command
	// sweeps of directories a killed process left behind.
	TmpDir string
	// Encoding of a text (CSV) file: "" detects it (a byte-order mark,
	// else UTF-8, else GB18030); "utf-8", "gb18030" (or "gbk"),
	// "utf-16le" or "utf-16be" force it. Ignored for xlsx.
	Encoding string
}

// Encodings are the values of Options.Encoding (the --encoding flag of
// the commands that read a member file).
var Encodings = []string{"utf-8", "gb18030", "gbk", "utf-16le", "utf-16be"}

// Report says what the reader did.
type Report struct {
	File      string            `json:"file"`
	Sheet     string            `json:"sheet,omitempty"`
	HeaderRow int               `json:"header_row"` // 1-based
	Skipped   []string          `json:"skipped,omitempty"`
	Columns   map[string]string `json:"columns"` // header → field key
	Unknown   []string          `json:"unknown,omitempty"`
	Encoding  string            `json:"encoding"` // "xlsx", "UTF-8", "UTF-8 BOM", "UTF-16LE", "UTF-16BE", "GB18030"
	Delimiter string            `json:"delimiter,omitempty"`
	Rows      int               `json:"rows"` // people read
	Warnings  []string          `json:"warnings,omitempty"`
	// LongRows counts rows with non-empty cells right of the header's
	// last column; those cells are not read.
	LongRows int `json:"long_rows,omitempty"`
}

// maxListed caps Skipped and Warnings so a damaged million-row file does
// not fill memory with messages.
const maxListed = 1000

func (r *Report) warn(format string, args ...any) {
	r.Warnings = appendCapped(r.Warnings, fmt.Sprintf(format, args...))
}

func (r *Report) skip(format string, args ...any) {
	r.Skipped = appendCapped(r.Skipped, fmt.Sprintf(format, args...))
}

func appendCapped(list []string, s string) []string {
	switch {
	case len(list) < maxListed:
		return append(list, s)
	case len(list) == maxListed:
		return append(list, "… more not listed")
	}
	return list
}

// kind of container.
const (
	kindText = iota
	kindXLSX
	kindOLE2
)

var ole2Magic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

func sniffKind(head []byte) int {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return kindXLSX
	case bytes.HasPrefix(head, ole2Magic):
		return kindOLE2
	}
	return kindText
}

// ReadFile reads the member file at path.
func ReadFile(path string, opts Options) (*dingbook.Org, *Report, error) {
	return ReadFileContext(context.Background(), path, opts)
}

// ReadFileContext is ReadFile stopping with ctx's error once ctx is done.
func ReadFileContext(ctx context.Context, path string, opts Options) (*dingbook.Org, *Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("cannot open %s", path),
			Hint: "check the file name and its permissions", Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.IsDir() {
		return nil, nil, dingbook.Errorf(dingbook.EINVALID, "%s is a directory", path).
			WithHint("give the member file exported from the DingTalk admin console (.xlsx or .csv)")
	}
	return read(ctx, f, st.Size(), path, opts, func(o excelize.Options) (*excelize.File, error) {
		return excelize.OpenFile(path, o)
	})
}

// Read reads a member file of size bytes from r; name is used in messages
// and as the default company name.
func Read(r io.ReaderAt, size int64, name string, opts Options) (*dingbook.Org, *Report, error) {
	return read(context.Background(), r, size, name, opts, func(o excelize.Options) (*excelize.File, error) {
		return excelize.OpenReader(io.NewSectionReader(r, 0, size), o)
	})
}

func read(ctx context.Context, r io.ReaderAt, size int64, name string, opts Options, openX func(excelize.Options) (*excelize.File, error)) (*dingbook.Org, *Report, error) {
	rd, err := open(r, size, name, opts, openX)
	if err != nil {
		return nil, nil, err
	}
	defer rd.close()
	err = rd.each(ctx, func(p *dingbook.Person, manager string, row int) error {
		rd.people = append(rd.people, *p)
		rd.pending = append(rd.pending, pending{row: row, manager: manager})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return rd.finish(), rd.rep, nil
}

// open checks the options, sniffs the container, opens it and reads up to
// the header row. The caller must close the reader.
func open(r io.ReaderAt, size int64, name string, opts Options, openX func(excelize.Options) (*excelize.File, error)) (*reader, error) {
	for h, k := range opts.Map {
		if _, ok := fieldForKey(k); !ok {
			return nil, dingbook.Errorf(dingbook.EINVALID, "--map %s=%s: unknown field %q", h, k, k).
				WithHint("map a header to one of: name, userid, mobile, telephone, job_number, title, email, org_email, dept, work_place, hired_date, remark, manager_userid, leader_in_dept, state_code, extension.<name>, or - to ignore it")
		}
	}
	if size == 0 {
		return nil, dingbook.Errorf(dingbook.EINVALID, "%s is empty", name).
			WithHint("export the members again from the DingTalk admin console")
	}
	head := make([]byte, 8)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	rep := &Report{File: name, Columns: map[string]string{}}
	company := opts.Company
	if company == "" {
		base := filepath.Base(name)
		company = strings.TrimSuffix(base, filepath.Ext(base))
	}
	rd := &reader{opts: opts, rep: rep, name: name, company: company}
	var err error
	switch sniffKind(head) {
	case kindOLE2:
		return nil, dingbook.Errorf(dingbook.EINVALID, "%s is a legacy Excel .xls file or a password-protected workbook, which dingbook cannot read", name).
			WithHint("open it in Excel or LibreOffice, remove any password, and save it as .xlsx (Excel Workbook) or CSV UTF-8")
	case kindXLSX:
		err = rd.readXLSX(r, size, openX)
	default:
		err = rd.readText(r, size)
	}
	if err == nil {
		err = rd.readHeader()
	}
	rd.flushNotes()
	if err != nil {
		rd.close()
		return nil, err
	}
	return rd, nil
}

// close releases the workbook and its temporary directory.
func (rd *reader) close() {
	for i := len(rd.closers) - 1; i >= 0; i-- {
		rd.closers[i]()
	}
	rd.closers = nil
}

// readXLSX reads the workbook with the fast reader (fastxlsx.go), or with
// excelize where that one does not support the file.
func (rd *reader) readXLSX(r io.ReaderAt, size int64, open func(excelize.Options) (*excelize.File, error)) error {
	if rd.readFastXLSX(r, size, open) {
		return nil
	}
	return rd.readExcelize(open)
}

// pickSheet returns the sheet to read: Options.Sheet, else the first.
func (rd *reader) pickSheet(sheets []string) (string, error) {
	sheet := rd.opts.Sheet
	if sheet == "" {
		if len(sheets) == 0 {
			return "", dingbook.Errorf(dingbook.EINVALID, "%s has no sheets", rd.name).WithHint("export the members again")
		}
		return sheets[0], nil
	}
	if !slices.Contains(sheets, sheet) {
		return "", dingbook.Errorf(dingbook.EINVALID, "%s has no sheet %q", rd.name, sheet).
			WithHint("the sheets are: %s", strings.Join(sheets, ", "))
	}
	return sheet, nil
}

// readExcelize reads the workbook with excelize's streaming Rows.
func (rd *reader) readExcelize(open func(excelize.Options) (*excelize.File, error)) error {
	tmp, cleanup, err := fileutil.LockedDir(rd.opts.TmpDir, "import-*")
	if err != nil {
		return err
	}
	rd.closers = append(rd.closers, cleanup)
	xf, err := open(excelize.Options{RawCellValue: true, UnzipSizeLimit: 2 << 30, TmpDir: tmp})
	if err != nil {
		hint := "export the members again, or open the file in Excel and save it as .xlsx"
		if errors.Is(err, excelize.ErrWorkbookFileFormat) {
			return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s is a zip file but not an Excel workbook", rd.name), Hint: hint, Err: err}
		}
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("cannot read the workbook %s", rd.name), Hint: hint, Err: err}
	}
	rd.closers = append(rd.closers, func() { xf.Close() })
	sheet, err := rd.pickSheet(xf.GetSheetList())
	if err != nil {
		return err
	}
	rd.rep.Sheet, rd.rep.Encoding = sheet, "xlsx"
	rd.numeric = true
	if props, err := xf.GetWorkbookProps(); err == nil && props.Date1904 != nil {
		rd.date1904 = *props.Date1904
	}
	rows, err := xf.Rows(sheet)
	if err != nil {
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s, sheet %s: cannot read the rows", rd.name, sheet),
			Hint: "open the file in Excel and save it again as .xlsx", Err: err}
	}
	rd.closers = append(rd.closers, func() { rows.Close() })
	line := 0
	rd.next = func() ([]string, int, error) {
		if !rows.Next() {
			if err := rows.Error(); err != nil {
				return nil, line + 1, err
			}
			return nil, line + 1, io.EOF
		}
		line++
		cells, err := rows.Columns()
		return cells, line, err
	}
	return nil
}

func (rd *reader) readText(r io.ReaderAt, size int64) error {
	head := make([]byte, 4)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	counted := &countingReader{r: io.NewSectionReader(r, 0, size)}
	rd.progress = func() float64 { return float64(counted.n.Load()) / float64(size) }
	var (
		src  io.Reader = counted
		dec  *encoding.Decoder
		name string
	)
	switch enc := strings.ToLower(rd.opts.Encoding); {
	case enc == "":
	case enc == "utf-8" || enc == "utf8":
		if bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}) {
			counted.r.Seek(3, io.SeekStart)
		}
		name = "UTF-8"
	case enc == "gb18030" || enc == "gbk":
		dec, name = simplifiedchinese.GB18030.NewDecoder(), "GB18030"
	case enc == "utf-16le":
		dec, name = unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder(), "UTF-16LE"
	case enc == "utf-16be":
		dec, name = unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewDecoder(), "UTF-16BE"
	default:
		return dingbook.Errorf(dingbook.EINVALID, "--encoding %q is not an encoding dingbook reads", rd.opts.Encoding).
			WithHint("use one of: %s (or leave it out to detect the encoding)", strings.Join(Encodings, ", "))
	}
	switch {
	case name != "":
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		counted.r.Seek(3, io.SeekStart)
		name = "UTF-8 BOM"
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		dec, name = unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder(), "UTF-16LE"
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		dec, name = unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder(), "UTF-16BE"
	default:
		sample := make([]byte, 64<<10)
		m, _ := r.ReadAt(sample, 0)
		sample = sample[:m]
		if bytes.Count(sample, []byte{0}) > len(sample)/100 {
			return dingbook.Errorf(dingbook.EINVALID, "%s is neither an Excel workbook nor a text (CSV) file", rd.name).
				WithHint("if it is UTF-16 text without a byte-order mark, save it again as CSV UTF-8; otherwise export the members again as .xlsx")
		}
		// A sample cut in the middle of a character is still UTF-8.
		trim := len(sample)
		for i := 0; i < 3 && trim > 0 && !utf8.Valid(sample[:trim]); i++ {
			trim--
		}
		if utf8.Valid(sample[:trim]) || mostlyUTF8(sample[:trim]) {
			name = "UTF-8"
		} else {
			dec, name = simplifiedchinese.GB18030.NewDecoder(), "GB18030"
		}
	}
	if dec != nil {
		src = transform.NewReader(src, dec)
	}
	rd.rep.Encoding = name
	br := bufio.NewReaderSize(src, 64<<10)
	peek, _ := br.Peek(64 << 10)
	if kind := markup(peek); kind != "" {
		return dingbook.Errorf(dingbook.EINVALID, "%s is an %s page saved with a spreadsheet name, not a real workbook", rd.name, kind).
			WithHint("open it in Excel or LibreOffice and save it as .xlsx, or export the members again from the admin console")
	}
	delim := sniffDelimiter(peek, name)
	rd.rep.Delimiter = string(delim)
	if delim == '\t' {
		rd.rep.Delimiter = "tab"
	}
	cr := csv.NewReader(br)
	cr.Comma = delim
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	utf8Text := name == "UTF-8" || name == "UTF-8 BOM"
	line := 0
	rd.next = func() ([]string, int, error) {
		rec, err := cr.Read()
		var pe *csv.ParseError
		switch {
		case err == nil:
			line, _ = cr.FieldPos(0)
		case errors.As(err, &pe):
			return nil, pe.StartLine, err
		default:
			return nil, line + 1, err
		}
		for i, c := range rec {
			if utf8.ValidString(c) {
				continue
			}
			if utf8Text {
				l, _ := cr.FieldPos(i)
				return nil, l, rd.invalidText(l, i)
			}
			rec[i] = strings.ToValidUTF8(c, "\uFFFD")
			rd.invalidUTF8 = true
		}
		return rec, line, nil
	}
	return nil
}

// countingReader counts the bytes read through it (for progress).
type countingReader struct {
	r *io.SectionReader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// invalidText is the error for bytes that are not UTF-8 in a file read as
// UTF-8, in cell idx of the record starting at line (the line in the file).
func (rd *reader) invalidText(line, idx int) error {
	col, _ := excelize.ColumnNumberToName(idx + 1)
	for _, c := range rd.cols {
		if c.idx == idx {
			col += " (" + c.header + ")"
		}
	}
	return dingbook.Errorf(dingbook.EINVALID, "%s: invalid UTF-8 at row %d, column %s", rd.name, line, col).
		WithHint("the file mixes encodings: save it again as CSV UTF-8 in Excel, or if it is GBK/GB18030 text give --encoding gb18030 (--in-encoding gb18030 with export and convert)")
}

// mostlyUTF8 reports whether text that is not valid UTF-8 is still UTF-8
// with a few bad bytes (more well-formed multi-byte characters than bad
// bytes) rather than GB18030, whose two-byte characters seldom form UTF-8.
func mostlyUTF8(text []byte) bool {
	good, bad := 0, 0
	for len(text) > 0 {
		r, n := utf8.DecodeRune(text)
		switch {
		case r == utf8.RuneError && n <= 1:
			bad++
		case n > 1:
			good++
		}
		text = text[n:]
	}
	return good > bad
}

// markup reports "HTML" or "XML" when text is a web page or an XML
// spreadsheet rather than CSV.
func markup(text []byte) string {
	t := bytes.ToLower(bytes.TrimSpace(bytes.TrimPrefix(text, []byte("\xEF\xBB\xBF"))))
	if len(t) == 0 || t[0] != '<' {
		return ""
	}
	if len(t) > 4096 {
		t = t[:4096]
	}
	for _, m := range []string{"<html", "<table", "<!doctype html", "<meta"} {
		if bytes.Contains(t, []byte(m)) {
			return "HTML"
		}
	}
	if bytes.HasPrefix(t, []byte("<?xml")) {
		return "XML"
	}
	return ""
}

// sniffDelimiter picks `,`, tab or `;`: the one found, outside quotes, on
// the most of the first 10 non-empty lines, then the most often. UTF-16
// text (Excel's "Unicode text") defaults to tab.
func sniffDelimiter(text []byte, enc string) rune {
	cands := []rune{',', '\t', ';'}
	lines, total := make([]int, 3), make([]int, 3)
	inQuote := false
	counts := make([]int, 3)
	nlines := 0
	endLine := func() {
		for i := range cands {
			if counts[i] > 0 {
				lines[i]++
				total[i] += counts[i]
			}
			counts[i] = 0
		}
		nlines++
	}
	for _, r := range string(text) {
		if nlines >= 10 {
			break
		}
		switch {
		case r == '"':
			inQuote = !inQuote
		case r == '\n' && !inQuote:
			endLine()
		case !inQuote:
			for i, c := range cands {
				if r == c {
					counts[i]++
				}
			}
		}
	}
	if nlines < 10 {
		endLine()
	}
	best := -1
	for i := range cands {
		if lines[i] == 0 {
			continue
		}
		if best < 0 || lines[i] > lines[best] || lines[i] == lines[best] && total[i] > total[best] {
			best = i
		}
	}
	if best < 0 {
		if strings.HasPrefix(enc, "UTF-16") {
			return '\t'
		}
		return ','
	}
	return cands[best]
}

// reader turns rows into an Org.
type reader struct {
	opts     Options
	rep      *Report
	name     string
	company  string
	numeric  bool // xlsx: raw numbers are numeric cells
	date1904 bool

	// next returns the next row (io.EOF at the end); after the header it
	// runs on each's reading goroutine, which alone sets invalidUTF8.
	// The int is the row's line in the file (a CSV record's first line,
	// an xlsx row's number): the row number of every message.
	next    func() ([]string, int, error)
	closers []func()
	header  int // header row, 1-based
	rowNum  int // rows read so far

	invalidUTF8 bool
	// rowsRead counts the rows read ahead; progress, when set, tells the
	// fraction of the file read (both for Stream.Progress).
	rowsRead atomic.Int64
	progress func() float64
	// rowsHint is the sheet's last row as its <dimension> says, 0 if
	// unknown (Stream.SizeHint).
	rowsHint int
	notesMu  sync.Mutex // fallbackNote's notes, until flushNotes
	notes    []string
	// headerWidth is the header row's number of cells; firstLong the
	// first row with a non-empty cell beyond it.
	headerWidth, firstLong int
	cols                   []column
	depts                  *deptBuilder
	people                 []dingbook.Person
	pending                []pending
}

type column struct {
	idx    int
	header string
	key    string
	f      dingbook.Field // key's accessors (Kind 0 for "-")
}

// pending holds what can be resolved only once every row is read.
type pending struct {
	row     int
	manager string
}

// where names a cell for messages.
func (rd *reader) where(row int, c column) string {
	col, _ := excelize.ColumnNumberToName(c.idx + 1)
	if rd.rep.Sheet != "" {
		return fmt.Sprintf("%s, sheet %s, row %d, column %s (%s)", rd.name, rd.rep.Sheet, row, col, c.header)
	}
	return fmt.Sprintf("%s, row %d, column %s (%s)", rd.name, row, col, c.header)
}

func (rd *reader) rowName(row int) string {
	if rd.rep.Sheet != "" {
		return fmt.Sprintf("%s, sheet %s, row %d", rd.name, rd.rep.Sheet, row)
	}
	return fmt.Sprintf("%s, row %d", rd.name, row)
}

// headerScanRows is how many rows are searched for the header row.
const headerScanRows = 10

func (rd *reader) keyFor(header string) string {
	n := normHeader(header)
	for h, k := range rd.opts.Map {
		if normHeader(h) == n {
			key, _ := fieldForKey(k)
			return key
		}
	}
	return synonyms[n]
}

func cleanCell(s string) string {
	s = strings.TrimPrefix(s, "'")
	return strings.TrimSpace(s)
}

// readHeader reads rows up to the header row and sets the columns.
func (rd *reader) readHeader() error {
	rd.depts = newDeptBuilder(rd.company, rd.opts.Company == "")
	var buffered [][]string
	header := -1
	var lines []int
	rowNum := 0
	for header < 0 {
		row, line, err := rd.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rd.readErr(line, err)
		}
		rowNum++
		buffered = append(buffered, row)
		lines = append(lines, line)
		score := 0
		for _, c := range row {
			if c := cleanCell(c); c != "" && rd.keyFor(c) != "" {
				score++
			}
		}
		if score >= 2 {
			header = rowNum
		} else if rowNum >= headerScanRows {
			break
		}
	}
	if header < 0 {
		where := rd.name
		if rd.rep.Sheet != "" {
			where += ", sheet " + rd.rep.Sheet
		}
		return dingbook.Errorf(dingbook.EINVALID, "%s: no header row found in the first %d rows (looked for headers such as 姓名, 员工UserID, 手机, 部门, Name, Mobile, Nama)", where, headerScanRows).
			WithHint("check that this is the member file from the DingTalk admin console (and the right --sheet); map your own headers with --map '<header>=<field>', e.g. --map '手机号=mobile'")
	}
	rd.rep.HeaderRow = lines[header-1]
	for i := 0; i < header-1; i++ {
		if isInstruction(buffered[i]) {
			rd.rep.skip("row %d: instructions (填写须知) above the header", lines[i])
		} else {
			rd.rep.skip("row %d: above the header row", lines[i])
		}
	}
	rd.header, rd.rowNum = lines[header-1], lines[rowNum-1]
	rd.headerWidth = len(buffered[header-1])
	return rd.setColumns(buffered[header-1], rd.header)
}

// batchRows is how many rows the reading goroutine hands over at a time.
const batchRows = 256

// rowBatch is rows read ahead with their lines, then the error that
// ended the reading and its line; once a worker has parsed it (ready is
// closed), out holds what each row made.
type rowBatch struct {
	rows    [][]string
	lines   []int
	first   bool // rows[0] is the first row after the header
	err     error
	errLine int
	out     []parsed
	ready   chan struct{}
}

// each turns the rows after the header into people, calling fn with each
// person, the raw manager cell and the row number, in file order, on the
// calling goroutine. A goroutine reads the rows ahead (the XML scanning)
// and hands them over in batches; workers (one per core) parse each batch
// into people (parse: cells, phones, dates, department paths), and the
// calling goroutine takes the batches in order, does what needs the rows
// before (commit: the department tree, leaders, the report's counts and
// messages, in row order, so they are as a single goroutine makes them)
// and runs fn. Reading, parsing and fn so overlap on every core.
func (rd *reader) each(ctx context.Context, fn func(p *dingbook.Person, manager string, row int) error) error {
	workers := max(1, runtime.GOMAXPROCS(0))
	order := make(chan *rowBatch, 4+2*workers)
	work := make(chan *rowBatch, 4+2*workers)
	free := make(chan *rowBatch, 8+4*workers)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				for i, cells := range b.rows {
					rd.parse(&b.out[i], b.lines[i], b.first && i == 0, cells)
				}
				close(b.ready)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(order)
		defer close(work)
		send := func(b *rowBatch) bool {
			b.out = slices.Grow(b.out[:0], len(b.rows))[:len(b.rows)]
			select {
			case work <- b:
			case <-done:
				return false
			}
			select {
			case order <- b:
				return true
			case <-done:
				return false
			}
		}
		newBatch := func() *rowBatch {
			select {
			case b := <-free:
				clear(b.rows)
				b.rows, b.lines = b.rows[:0], b.lines[:0]
				b.ready = make(chan struct{})
				return b
			default:
				return &rowBatch{rows: make([][]string, 0, batchRows), lines: make([]int, 0, batchRows), ready: make(chan struct{})}
			}
		}
		b := newBatch()
		b.first = true
		for {
			row, line, err := rd.next()
			if errors.Is(err, io.EOF) {
				if len(b.rows) > 0 {
					send(b)
				}
				return
			}
			if err != nil {
				b.err, b.errLine = err, line
				send(b)
				return
			}
			b.rows, b.lines = append(b.rows, row), append(b.lines, line)
			if len(b.rows) == batchRows {
				if !send(b) {
					return
				}
				b = newBatch()
			}
		}
	}()
	defer func() {
		close(done)
		for range order { // let the reader stop
		}
		wg.Wait()
	}()
	for b := range order {
		if err := ctx.Err(); err != nil {
			return err
		}
		rd.rowsRead.Add(int64(len(b.rows)))
		<-b.ready
		for i := range b.out {
			r := &b.out[i]
			rd.rowNum = b.lines[i]
			ok, err := rd.commit(r, rd.rowNum)
			if err != nil {
				return err
			}
			if ok {
				if err := fn(&r.p, r.manager, rd.rowNum); err != nil {
					return err
				}
			}
			*r = parsed{warns: r.warns[:0]} // its text must not outlive the pass (it may pin the shared strings)
		}
		if b.err != nil {
			return rd.readErr(b.errLine, b.err)
		}
		select {
		case free <- b:
		default:
		}
	}
	if rd.rep.LongRows > 0 {
		rd.rep.warn("%s: %d row(s) have cells right of the header's last column (%d columns); those cells were not read (the first: row %d)",
			rd.name, rd.rep.LongRows, rd.headerWidth, rd.firstLong)
	}
	// The reading goroutine has ended (order is closed): invalidUTF8 is final.
	rd.flushNotes()
	if rd.invalidUTF8 {
		rd.rep.warn("%s has bytes that are not valid %s; they were replaced by �", rd.name, rd.rep.Encoding)
	}
	return nil
}

func (rd *reader) readErr(row int, err error) error {
	var de *dingbook.Error
	if errors.As(err, &de) {
		return err
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		row = pe.StartLine
		return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s, line %d: cannot read the CSV", rd.name, row),
			Hint: "check the quoting on that line, or open the file in Excel and save it as .xlsx", Err: err}
	}
	return &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("%s: cannot read row %d", rd.rowName(row), row),
		Hint: "open the file in Excel and save it again (as .xlsx or CSV UTF-8)", Err: err}
}

func (rd *reader) setColumns(cells []string, row int) error {
	taken := map[string]string{}
	for i, raw := range cells {
		// A copy: the header stays in the report and the columns, and a
		// cell's text may pin a whole shared-strings table.
		h := strings.Clone(cleanCell(raw))
		if h == "" {
			continue
		}
		key := rd.keyFor(h)
		if key == "" {
			key = dingbook.ExtensionPrefix + h
			rd.rep.Unknown = append(rd.rep.Unknown, h)
		}
		if prev, dup := taken[key]; dup && key != keyIgnore {
			rd.rep.warn("%s: column %q means the same field (%s) as column %q; read as %s%s", rd.rowName(row), h, key, prev, dingbook.ExtensionPrefix, h)
			key = dingbook.ExtensionPrefix + h
		}
		taken[key] = h
		rd.rep.Columns[h] = key
		f, _ := dingbook.FieldByKey(key)
		rd.cols = append(rd.cols, column{idx: i, header: h, key: key, f: f})
	}
	if _, ok := taken["name"]; !ok {
		return dingbook.Errorf(dingbook.EINVALID, "%s: the header row has no name column (姓名 / Name / Nama)", rd.rowName(row)).
			WithHint("map the column that holds names with --map '<header>=name'")
	}
	return nil
}

// parsed is what parse made of a row, for commit.
type parsed struct {
	p       dingbook.Person // without its departments
	manager string
	skip    string   // why the row holds nobody ("" = it holds a person)
	warns   []string // the row's warnings, in order
	long    bool     // a non-empty cell right of the header's last column
	err     error
	paths   [][]string
	deptIDs []int64
	leader  string
	leaderC column
}

// parse turns the cells of row rowNum into r: everything about the row
// that needs no other row. It runs on each's workers, so it reads the
// reader's settings and nothing else of it; commit does the rest in row
// order.
func (rd *reader) parse(r *parsed, rowNum int, firstData bool, cells []string) {
	*r = parsed{warns: r.warns[:0]}
	get := func(c column) string {
		if c.idx < len(cells) {
			return cleanCell(cells[c.idx])
		}
		return ""
	}
	empty := true
	for _, c := range cells {
		if cleanCell(c) != "" {
			empty = false
			break
		}
	}
	if empty {
		r.skip = fmt.Sprintf("row %d: empty", rowNum)
		return
	}
	for _, c := range cells[min(rd.headerWidth, len(cells)):] {
		if cleanCell(c) != "" {
			r.long = true
			break
		}
	}
	warn := func(format string, args ...any) { r.warns = append(r.warns, fmt.Sprintf(format, args...)) }
	p := &r.p
	*p = dingbook.Person{Active: true, SourceRow: rowNum}
	var stateCol, e164 string
	for _, c := range rd.cols {
		v := get(c)
		if v == "" {
			continue
		}
		switch c.key {
		case "mobile":
			sc, nat, w := parseMobile(v)
			p.StateCode, p.Mobile = sc, nat
			if w != "" {
				warn("%s: %s", rd.where(rowNum, c), w)
			}
		case "mobile_e164":
			e164 = v
		case "state_code":
			stateCol = strings.TrimPrefix(strings.TrimPrefix(v, "+"), "＋")
			stateCol, _ = repairNumber(stateCol)
		case "telephone":
			t, lost := repairNumber(v)
			if lost {
				warn("%s: %q is in exponent form: digits were lost when the file was saved; kept as written", rd.where(rowNum, c), v)
			}
			p.Telephone = t
		case "job_number":
			p.JobNumber, _ = repairNumber(v)
		case "hired_date":
			ms, err := parseDate(v, rd.numeric, rd.date1904)
			if err != nil {
				r.err = dingbook.Errorf(dingbook.EINVALID, "%s: %v", rd.where(rowNum, c), err).
					WithHint("write dates as 2021-03-01 (or 2021/3/1, 2021年3月1日, 20210301), or as Excel dates")
				return
			}
			p.HiredDate = ms
		case keyDept:
			ps, warns, err := ParseDeptCellWarn(v)
			if err != nil {
				r.err = dingbook.Errorf(dingbook.EINVALID, "%s: %v", rd.where(rowNum, c), err).
					WithHint("write departments as 上级部门-下级部门, several separated by ','; escape a '-' or ',' inside a name as \\- or \\,")
				return
			}
			for _, w := range warns {
				warn("%s: %s", rd.where(rowNum, c), w)
			}
			r.paths = ps
		case "dept_id_list":
			for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '，' }) {
				id, err := strconv.ParseInt(s, 10, 64)
				if err != nil || id <= 0 {
					warn("%s: %q is not a list of department ids; ignored", rd.where(rowNum, c), v)
					r.deptIDs = nil
					break
				}
				r.deptIDs = append(r.deptIDs, id)
			}
		case keyLeader:
			r.leader, r.leaderC = v, c
		case keyMgr:
			r.manager = v
		case keyIgnore:
		default:
			switch c.f.Kind {
			case dingbook.KindText: // name, userid, unionid, title, e-mails, work place, remark
				*c.f.Text(p) = v
			case dingbook.KindFlag: // active, admin, boss, hide_mobile
				b, ok := parseBool(v)
				if !ok {
					warn("%s: %q is not yes/no (是/否, Y/N, true/false); ignored", rd.where(rowNum, c), v)
					continue
				}
				*c.f.Flag(p) = b
			case dingbook.KindExtension:
				if p.Extension == nil {
					p.Extension = map[string]string{}
				}
				p.Extension[c.key[len(dingbook.ExtensionPrefix):]] = v
			}
		}
	}
	if p.Name == "" {
		r.skip = fmt.Sprintf("row %d: no name", rowNum)
		return
	}
	if firstData && (strings.Contains(p.Name, "示例") || strings.Contains(p.Name, "样例")) {
		r.skip = fmt.Sprintf("row %d: the template's sample row (%s)", rowNum, p.Name)
		return
	}
	if p.Mobile == "" && e164 != "" {
		p.StateCode, p.Mobile, _ = parseMobile(e164)
	}
	if stateCol != "" {
		if p.StateCode != "" && p.StateCode != stateCol && strings.HasPrefix(strings.TrimSpace(p.Mobile), "+") {
			warn("%s: country code %s differs from the mobile's +%s", rd.rowName(rowNum), stateCol, p.StateCode)
		}
		if p.StateCode == "" && p.Mobile != "" {
			p.Mobile = withStateCode(stateCol, p.Mobile)
		}
		p.StateCode = stateCol
	}
	if len(r.deptIDs) != len(r.paths) {
		r.deptIDs = nil
	}
	// The memberships are made here, on a worker; commit fills in the ids.
	if len(r.paths) == 0 {
		p.Depts = []dingbook.Membership{{DeptID: dingbook.RootDeptID}}
	} else {
		p.Depts = make([]dingbook.Membership, 0, len(r.paths))
	}
}

// commit does, in row order, what parse left of row rowNum: the report's
// count and messages, the departments (which grow the tree) and the
// leaders. ok is false for rows that hold nobody (empty, no name, the
// template's sample row).
func (rd *reader) commit(r *parsed, rowNum int) (ok bool, err error) {
	if r.long {
		if rd.rep.LongRows == 0 {
			rd.firstLong = rowNum
		}
		rd.rep.LongRows++
	}
	for _, w := range r.warns {
		rd.rep.Warnings = appendCapped(rd.rep.Warnings, w)
	}
	if r.err != nil {
		return false, r.err
	}
	if r.skip != "" {
		rd.rep.Skipped = appendCapped(rd.rep.Skipped, r.skip)
		return false, nil
	}
	p := &r.p
	for i, path := range r.paths { // p.Depts has room for them (parse)
		var want int64
		if r.deptIDs != nil {
			want = r.deptIDs[i]
		}
		id := rd.depts.id(path, want)
		if _, dup := p.Membership(id); !dup {
			p.Depts = append(p.Depts, dingbook.Membership{DeptID: id})
		}
	}
	if len(p.Depts) == 0 {
		p.Depts = []dingbook.Membership{{DeptID: dingbook.RootDeptID}}
	}
	if r.leader != "" {
		rd.applyLeader(p, r.paths, r.leader, rowNum, r.leaderC)
	}
	return true, nil
}

// applyLeader reads a 部门主管 cell: one yes/no for every department, a
// `,` list of yes/no aligned with the departments, or the departments the
// person leads.
func (rd *reader) applyLeader(p *dingbook.Person, paths [][]string, v string, rowNum int, c column) {
	if b, ok := parseBool(v); ok {
		for i := range p.Depts {
			p.Depts[i].Leader = b
		}
		return
	}
	parts := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '，' || r == '；' })
	if len(parts) == len(p.Depts) {
		flags := make([]bool, len(parts))
		ok := true
		for i, s := range parts {
			if flags[i], ok = parseBool(s); !ok {
				break
			}
		}
		if ok {
			for i := range p.Depts {
				p.Depts[i].Leader = flags[i]
			}
			return
		}
	}
	if lp, err := ParseDeptCell(v); err == nil && len(lp) > 0 {
		matched := 0
		for _, path := range lp {
			id := rd.depts.lookup(path)
			for i := range p.Depts {
				if id != 0 && p.Depts[i].DeptID == id {
					p.Depts[i].Leader = true
					matched++
				}
			}
		}
		if matched == len(lp) {
			return
		}
	}
	rd.rep.warn("%s: cannot read %q as yes/no or as departments of this person; ignored", rd.where(rowNum, c), v)
}

func (b *deptBuilder) lookup(path []string) int64 {
	if len(path) > 0 && b.root != "" && path[0] == b.root {
		path = path[1:]
	}
	if len(path) == 0 {
		return dingbook.RootDeptID
	}
	id, _ := b.known(path)
	return id
}

// finish resolves managers, fills department leaders and counts, and
// returns the Org.
func (rd *reader) finish() *dingbook.Org {
	byUser := map[string]bool{}
	byName := map[string][]int{}
	for i := range rd.people {
		p := &rd.people[i]
		if p.UserID != "" {
			if byUser[p.UserID] {
				rd.rep.warn("%s: userid %q appears more than once", rd.rowName(rd.pending[i].row), p.UserID)
			}
			byUser[p.UserID] = true
		}
		byName[p.Name] = append(byName[p.Name], i)
	}
	for i := range rd.people {
		m := rd.pending[i].manager
		if m == "" {
			continue
		}
		p := &rd.people[i]
		switch idx := byName[m]; {
		case byUser[m]:
			p.ManagerUserID = m
		case len(idx) == 1 && rd.people[idx[0]].UserID != "":
			p.ManagerUserID = rd.people[idx[0]].UserID
		case len(idx) > 1:
			rd.rep.warn("%s: manager %q matches %d people by name; left empty", rd.rowName(rd.pending[i].row), m, len(idx))
		default:
			rd.rep.warn("%s: manager %q matches no userid and no person with a userid; left empty", rd.rowName(rd.pending[i].row), m)
		}
	}
	depts := rd.depts.depts
	index := make(map[int64]int, len(depts))
	for i, d := range depts {
		index[d.ID] = i
	}
	for _, p := range rd.people {
		for _, m := range p.Depts {
			d := &depts[index[m.DeptID]]
			d.OwningMemberCount++
			if m.Leader && p.UserID != "" {
				d.ManagerUserIDs = append(d.ManagerUserIDs, p.UserID)
			}
		}
	}
	// MemberCount counts distinct people in the department and below.
	tree := dingbook.NewTree(depts)
	count := map[int64]int{}
	var anc []int64
	for _, p := range rd.people {
		anc = anc[:0]
		for _, m := range p.Depts {
			for id, hops := m.DeptID, 0; id != 0 && hops < len(depts); hops++ {
				if !slices.Contains(anc, id) {
					anc = append(anc, id)
				}
				d := tree.Dept(id)
				if d == nil {
					break
				}
				id = d.ParentID
			}
		}
		for _, id := range anc {
			count[id]++
		}
	}
	for i := range depts {
		depts[i].MemberCount = count[depts[i].ID]
	}
	sort.Strings(rd.rep.Unknown)
	rd.rep.Rows = len(rd.people)
	return &dingbook.Org{Name: rd.depts.root, Depts: depts, People: rd.people}
}
