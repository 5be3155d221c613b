package console

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/dingbook/dingbook/internal/xlsxread"
	"github.com/xuri/excelize/v2"
)

// readFastXLSX sets up rd.next on internal/xlsxread and reports whether it
// could. Where that reader gives up, before the first row or in the middle
// of the sheet, the file is read with excelize instead (from the start,
// skipping the rows already handed over: both readers give the same rows
// for everything the fast one reads), with a warning naming the reason.
func (rd *reader) readFastXLSX(r io.ReaderAt, size int64, open func(excelize.Options) (*excelize.File, error)) bool {
	fx, err := xlsxread.Open(r, size)
	if err != nil {
		rd.fallbackNote(err)
		return false
	}
	sheet, err := rd.pickSheet(fx.Sheets())
	if err != nil {
		// Let excelize give the same answer in its own words.
		return false
	}
	rows, err := fx.Rows(sheet)
	if err != nil {
		rd.fallbackNote(err)
		return false
	}
	rd.rep.Sheet, rd.rep.Encoding = sheet, "xlsx"
	rd.rowsHint = rows.SizeHint()
	rd.numeric, rd.date1904 = true, fx.Date1904()
	rd.closers = append(rd.closers, func() { rows.Close() })
	var fellBack atomic.Bool
	rd.progress = func() float64 {
		if fellBack.Load() {
			return -1
		}
		return rows.Progress()
	}
	delivered := 0
	rd.next = func() ([]string, int, error) {
		row, err := rows.Next()
		if err == nil {
			delivered++
			return row, delivered, nil
		}
		if errors.Is(err, io.EOF) {
			return nil, delivered + 1, io.EOF
		}
		rows.Close()
		rd.fallbackNote(err)
		fellBack.Store(true)
		if err := rd.readExcelize(open); err != nil {
			return nil, delivered + 1, err
		}
		for i := 0; i < delivered; i++ {
			if _, line, err := rd.next(); err != nil {
				if errors.Is(err, io.EOF) {
					err = errors.New("the sheet ended earlier on the second reading")
				}
				return nil, line, err
			}
		}
		return rd.next()
	}
	return true
}

// fallbackNote warns that the slower reader is used, and why. It may run
// on each's reading goroutine: the warning waits in rd.notes until
// flushNotes, on the goroutine that owns the report.
func (rd *reader) fallbackNote(err error) {
	rd.notesMu.Lock()
	defer rd.notesMu.Unlock()
	rd.notes = append(rd.notes, fmt.Sprintf("%s: read with the general XLSX reader, which is slower (%v)", rd.name, err))
}

// flushNotes moves the waiting notes into the report's warnings.
func (rd *reader) flushNotes() {
	rd.notesMu.Lock()
	defer rd.notesMu.Unlock()
	for _, n := range rd.notes {
		rd.rep.warn("%s", n)
	}
	rd.notes = nil
}
