package export

import (
	"context"
	"slices"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/internal/pipeline"
)

// quality is the cleaner's part of an xlsx export (Options.Quality): the
// status column right after the fields (where its highlighting rule
// expects it), the highlighting rules and the Quality sheet.
//
// It analyses the directory in the export's own pass (clean.Live) when
// the directory can tell up front whether each manager exists (its
// recorded missing managers, or its listed userids); otherwise in a pass
// of its own before the export (clean.Analyze).
type quality struct {
	x      clean.XLSX
	live   *clean.Live                   // one pass
	status func(*dingbook.Person) string // two passes: from the finished report
	rep    *clean.Report                 // two passes: the report
}

func newQuality(ctx context.Context, d dingbook.Directory, opts Options, lang string, fields []string) (*quality, error) {
	copts := clean.Options{Region: opts.Region, SizeHint: opts.QualitySize}
	exists, err := managerCheck(ctx, d, opts.QualitySize)
	if err != nil {
		return nil, err
	}
	if exists != nil {
		return &quality{x: clean.XLSXColumn(lang, fields), live: clean.NewLive(copts, exists)}, nil
	}
	rep, err := clean.Analyze(ctx, d, copts)
	if err != nil {
		return nil, err
	}
	x := clean.XLSXExtras(rep, lang, fields)
	return &quality{x: x, status: x.Status, rep: rep}, nil
}

// managerCheck returns how a quality export in one pass tells whether a
// manager exists: from the missing managers the directory recorded, or
// from all its userids; nil when the directory can say neither.
func managerCheck(ctx context.Context, d dingbook.Directory, size int) (func(string) bool, error) {
	if m, ok := d.(dingbook.MissingManagerLister); ok {
		ids, known, err := m.MissingManagers(ctx)
		if err != nil {
			return nil, err
		}
		if known {
			return clean.MissingManagers(ids), nil
		}
	}
	if l, ok := d.(dingbook.UserIDLister); ok {
		return clean.ListedUserIDs(ctx, l.EachUserID, size)
	}
	return nil, nil
}

// header inserts the status column's header after the fields.
func (q *quality) header(header []string, fields int) []string {
	return slices.Insert(slices.Clone(header), fields, q.x.StatusHeader)
}

// ride hooks the one-pass analysis into the pass: prepared on the one
// worker beside the writer, then committed there in order.
func (q *quality) ride(pl *pipeline.Pipeline[clean.Batch]) {
	if q.live != nil {
		pl.Prepare = func(c *pipeline.Chunk[clean.Batch]) { q.live.Prepare(c.People, &c.Data) }
		pl.After = func(c *pipeline.Chunk[clean.Batch]) { q.live.Commit(&c.Data) }
	}
}

// cell is the status of person i of a chunk.
func (q *quality) cell(c *pipeline.Chunk[clean.Batch], i int) string {
	switch {
	case q.live == nil:
		return q.status(&c.People[i])
	case c.Data.Fill[i]:
		return q.x.NeedsFilling
	default:
		return q.x.OK
	}
}

// finish returns the report and the Quality sheet once the pass is over.
func (q *quality) finish(d dingbook.Directory, lang string) (*clean.Report, Sheet) {
	if q.live != nil {
		rep := q.live.Report(d)
		h, rows := rep.Sheet(lang)
		return rep, Sheet{Name: q.x.SheetName, Header: h, Rows: rows}
	}
	return q.rep, Sheet{Name: q.x.SheetName, Header: q.x.SheetHeader, Rows: q.x.SheetRows}
}

// close ends an unfinished analysis (restoring the collector's target).
func (q *quality) close() {
	if q != nil && q.live != nil {
		q.live.Close()
	}
}
