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
// The report covers only the exported people, as exported (sel: their
// hidden mobiles left out), and quotes only values of the fields the
// export carries (mobiles not when masked): a cell of the Quality sheet
// holds a count, a label, a problem's name or an exported value of an
// exported person (privacy.md R-MIN).
//
// It analyses the directory in the export's own pass (clean.Live) when
// the directory can tell up front whether each manager exists (its
// recorded missing managers, or its listed userids); otherwise in a pass
// of its own before the export (clean.Analyze).
type quality struct {
	x        qualityLook
	live     *clean.Live                      // one pass
	problems func(*dingbook.Person) clean.Set // two passes: from the finished report
	rep      *clean.Report                    // two passes: the report
}

func newQuality(ctx context.Context, d dingbook.Directory, opts Options, lang string, fields []string, sel func(*dingbook.Person) *dingbook.Person, mask bool) (*quality, error) {
	visible := slices.Clone(fields)
	if mask {
		visible = slices.DeleteFunc(visible, func(f string) bool { return f == "mobile" || f == "mobile_e164" })
	}
	copts := clean.Options{Region: opts.Region, SizeHint: opts.QualitySize, Select: sel, Visible: visible}
	if len(opts.Depts) > 0 {
		copts.SizeHint = 0 // a part of the directory: let the tables grow
	}
	exists, err := managerCheck(ctx, d, opts.QualitySize)
	if err != nil {
		return nil, err
	}
	if exists != nil {
		return &quality{x: newQualityLook(lang, fields), live: clean.NewLive(copts, exists)}, nil
	}
	rep, err := clean.Analyze(ctx, d, copts)
	if err != nil {
		return nil, err
	}
	return &quality{x: newQualityLook(lang, fields), problems: rep.InOrder(), rep: rep}, nil
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
	return slices.Insert(slices.Clone(header), fields, q.x.statusHeader)
}

// ride hooks the one-pass analysis into the pass: prepared on the one
// worker beside the writer, then committed there in order.
func (q *quality) ride(pl *pipeline.Pipeline[clean.Batch]) {
	if q.live != nil {
		pl.Prepare = func(c *pipeline.Chunk[clean.Batch]) { q.live.Prepare(c.People, &c.Data) }
		pl.After = func(c *pipeline.Chunk[clean.Batch]) { q.live.Commit(&c.Data) }
	}
}

// cell is the status of person i of a chunk; p is the person as
// exported.
func (q *quality) cell(c *pipeline.Chunk[clean.Batch], i int, p *dingbook.Person) string {
	switch {
	case q.live == nil:
		return q.x.status(q.problems(p))
	case c.Data.Fill[i]:
		return q.x.needsFilling
	default:
		return q.x.ok
	}
}

// finish returns the report and the Quality sheet once the pass is over.
// With a department selection (inTree: the selected departments and
// their sub-departments), the sheet lists those departments only, as the
// Departments sheet does.
func (q *quality) finish(d dingbook.Directory, lang string, inTree map[int64]bool) (*clean.Report, Sheet) {
	rep := q.rep
	if q.live != nil {
		rep = q.live.Report(d)
	}
	if inTree != nil {
		rep.Departments = slices.DeleteFunc(rep.Departments, func(dq clean.DeptQuality) bool { return !inTree[dq.DeptID] })
	}
	h, n, row := qualityRows(rep, lang)
	return rep, Sheet{Name: QualitySheet, Header: h, Len: n, Row: row}
}

// close ends an unfinished analysis (letting go of its tables).
func (q *quality) close() {
	if q != nil && q.live != nil {
		q.live.Close()
	}
}
