// Package xlsxread is a fast, streaming reader for the rows of one
// worksheet of an XLSX workbook, with exactly the values excelize's
// Rows/Columns and GetRows give when the file is opened with
// RawCellValue (the way source/console reads member files): shared
// strings, inline strings and rich-text runs as their text, numbers, dates
// and booleans as the raw value stored in the cell, gaps filled with "",
// empty rows kept by Rows and trailing ones dropped by GetRows.
//
// It is built for the one path dingbook needs fast: a big member file read
// once, top to bottom. The sheet part is inflated on one goroutine while
// the caller scans it with a byte-level scanner (no encoding/xml tokens),
// so a 1,000,000-row sheet reads in about the time it takes to inflate it.
//
// Anything outside the plain shapes it knows (strict OOXML, workbooks that
// are not in the usual places, rows out of order, comments or CDATA in the
// sheet data, XML that encoding/xml would reject, …) is reported as an
// error matching ErrUnsupported rather than guessed at: the caller falls
// back to excelize, which is never given a different answer. Unusual cell
// or string content (a formula with attributes, rich text, nested markup)
// is decoded with encoding/xml into copies of excelize's own types, so it
// too gives excelize's value.
package xlsxread

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf16"
)

// ErrUnsupported is matched (errors.Is) by every error that means "this
// reader does not handle this file; read it with excelize".
var ErrUnsupported = errors.New("not supported by the fast XLSX reader")

// UnsupportedError says what was not supported, and where.
type UnsupportedError struct {
	Part   string // zip part, e.g. xl/worksheets/sheet1.xml
	Offset int64  // byte offset in the inflated part, -1 when not known
	Reason string
}

func (e *UnsupportedError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%s (byte %d): %s: %s", e.Part, e.Offset, e.Reason, ErrUnsupported)
	}
	return fmt.Sprintf("%s: %s: %s", e.Part, e.Reason, ErrUnsupported)
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

func unsupported(part, format string, args ...any) error {
	return &UnsupportedError{Part: part, Offset: -1, Reason: fmt.Sprintf(format, args...)}
}

// Relationship types and the transitional SpreadsheetML namespace.
const (
	relOfficeDocument = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
	nsRelationships   = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
	nsMain            = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
	strictMarker      = "purl.oclc.org"
	sstPath           = "xl/sharedStrings.xml"
	maxRows           = 1048576 // excelize.TotalRows
	maxCols           = 16384   // excelize.MaxColumns
)

// File is an opened workbook.
type File struct {
	zr       *zip.Reader
	sheets   []sheetInfo
	date1904 bool
	sst      *zip.File // nil when the workbook has no shared strings
}

type sheetInfo struct {
	name string
	file *zip.File
}

// Open reads the workbook's structure (the zip directory, the workbook
// and its relationships); the sheets are read by Rows.
func Open(r io.ReaderAt, size int64) (*File, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, err
	}
	f := &File{zr: zr}
	parts := map[string]*zip.File{}
	contentTypes := false
	for _, zf := range zr.File {
		if strings.Contains(zf.Name, "\\") {
			return nil, unsupported(zf.Name, "a part name with a backslash")
		}
		if _, dup := parts[zf.Name]; dup {
			return nil, unsupported(zf.Name, "the part is in the zip twice")
		}
		parts[zf.Name] = zf
		switch {
		case strings.EqualFold(zf.Name, "[Content_Types].xml"):
			contentTypes = true
		case strings.EqualFold(zf.Name, sstPath):
			if f.sst != nil {
				return nil, unsupported(zf.Name, "two shared-string parts")
			}
			f.sst = zf
		}
	}
	if !contentTypes {
		return nil, unsupported("[Content_Types].xml", "missing")
	}
	var rootRels relationships
	if err := decodePart(parts, "_rels/.rels", &rootRels); err != nil {
		return nil, err
	}
	wbPath := ""
	for _, rel := range rootRels.Relationships {
		if rel.Type == relOfficeDocument {
			wbPath = strings.TrimPrefix(rel.Target, "/")
			break
		}
	}
	if wbPath != "xl/workbook.xml" {
		return nil, unsupported("_rels/.rels", "the workbook is at %q, not xl/workbook.xml", wbPath)
	}
	var wb workbook
	if err := decodePart(parts, wbPath, &wb); err != nil {
		return nil, err
	}
	var wbRels relationships
	if err := decodePart(parts, "xl/_rels/workbook.xml.rels", &wbRels); err != nil {
		return nil, err
	}
	if wb.WorkbookPr != nil {
		f.date1904 = wb.WorkbookPr.Date1904
	}
	for i, s := range wb.Sheets.Sheet {
		for _, o := range wb.Sheets.Sheet[:i] {
			if strings.EqualFold(o.Name, s.Name) {
				return nil, unsupported(wbPath, "two sheets named %q and %q", o.Name, s.Name)
			}
		}
		info := sheetInfo{name: s.Name}
		for _, rel := range wbRels.Relationships {
			if rel.ID != s.ID {
				continue
			}
			target := "xl/" + rel.Target
			if strings.HasPrefix(rel.Target, "/") {
				target = rel.Target
			}
			p := strings.TrimPrefix(path.Clean(target), "/")
			if zf := parts[p]; zf != nil {
				info.file = zf
			}
		}
		f.sheets = append(f.sheets, info)
	}
	return f, nil
}

// decodePart decodes a small XML part with encoding/xml.
func decodePart(parts map[string]*zip.File, name string, v any) error {
	zf := parts[name]
	if zf == nil {
		return unsupported(name, "missing")
	}
	rc, err := zf.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return err
	}
	if bytes.Contains(data, []byte(strictMarker)) {
		return unsupported(name, "strict OOXML")
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = refuseCharset
	if err := d.Decode(v); err != nil && err != io.EOF {
		return unsupported(name, "cannot decode: %v", err)
	}
	return nil
}

// refuseCharset stands for excelize's CharsetReader: a part in an encoding
// other than UTF-8 is left to excelize.
func refuseCharset(label string, _ io.Reader) (io.Reader, error) {
	return nil, &UnsupportedError{Offset: -1, Reason: "XML in encoding " + label}
}

type relationships struct {
	Relationships []struct {
		ID     string `xml:"Id,attr"`
		Target string `xml:"Target,attr"`
		Type   string `xml:"Type,attr"`
	} `xml:"Relationship"`
}

type workbook struct {
	WorkbookPr *struct {
		Date1904 bool `xml:"date1904,attr,omitempty"`
	} `xml:"workbookPr"`
	Sheets struct {
		Sheet []struct {
			Name string `xml:"name,attr,omitempty"`
			ID   string `xml:"http://schemas.openxmlformats.org/officeDocument/2006/relationships id,attr,omitempty"`
		} `xml:"sheet"`
	} `xml:"sheets"`
}

// Sheets returns the sheet names in workbook order (excelize's
// GetSheetList).
func (f *File) Sheets() []string {
	names := make([]string, len(f.sheets))
	for i, s := range f.sheets {
		names[i] = s.name
	}
	return names
}

// Date1904 reports whether the workbook counts dates from 1904.
func (f *File) Date1904() bool { return f.date1904 }

// Rows opens the named sheet (matched case-insensitively, as excelize
// does) for reading row by row. The caller must Close it.
func (f *File) Rows(sheet string) (*Rows, error) {
	if err := checkSheetName(sheet); err != nil {
		return nil, err
	}
	var zf *zip.File
	found := false
	for _, s := range f.sheets {
		if strings.EqualFold(s.name, sheet) {
			zf, found = s.file, true
		}
	}
	if !found {
		return nil, fmt.Errorf("sheet %s does not exist", sheet)
	}
	if zf == nil {
		return nil, unsupported("xl/workbook.xml", "sheet %q has no worksheet part", sheet)
	}
	in := startInflate(zf)
	var sst *sstTable
	if f.sst != nil {
		var err error
		if sst, err = readSST(f.sst); err != nil {
			in.close()
			return nil, err
		}
	}
	rows := &Rows{sst: sst, w: window{in: in, part: zf.Name}, total: int64(zf.UncompressedSize64)}
	if err := rows.start(); err != nil {
		in.close()
		return nil, err
	}
	return rows, nil
}

// GetRows reads every row of the sheet as excelize's GetRows does: empty
// rows between kept as nil, empty rows at the end dropped.
func (f *File) GetRows(sheet string) ([][]string, error) {
	rows, err := f.Rows(sheet)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]string
	last := 0
	for {
		row, err := rows.Next()
		if err == io.EOF {
			return out[:last], nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, row)
		if len(row) > 0 {
			last = len(out)
		}
	}
}

// checkSheetName is excelize's check on a sheet name given to Rows.
func checkSheetName(name string) error {
	switch {
	case name == "":
		return errors.New("the sheet name can not be blank")
	case len(utf16.Encode([]rune(name))) > 31:
		return errors.New("the sheet can not contain more than 31 characters")
	case strings.HasPrefix(name, "'") || strings.HasSuffix(name, "'"):
		return errors.New("the first or last character of the sheet name can not be a single quote")
	case strings.ContainsAny(name, ":\\/?*[]"):
		return errors.New("the sheet can not contain any of the characters :\\/?*[or]")
	}
	return nil
}
