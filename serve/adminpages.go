package serve

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

// The admin pages (issue 10 §4, issue 12 §3): plain HTML under /admin/,
// no script; the one form (pull now) posts behind the cross-origin
// protection. What an admin sees is app's to decide (ScopedQuality,
// ScopedDiff); these handlers only lay it out. The charts are SVG drawn
// here, inline in the page, with attributes only (the CSP forbids inline
// styles) and every label escaped.

// auditRule is the rule of the audit log's pages: the auditors (the
// primary admin and those the policy names).
const auditRule = Auditor

// adminPageRoutes are the admin pages: one block of the route table.
func (s *Server) adminPageRoutes() []Route {
	return []Route{
		{Pattern: "GET /admin", Rule: Admin, handle: s.adminHome},
		{Pattern: "GET /admin/pulls", Rule: Admin, handle: s.adminPulls},
		{Pattern: "POST /admin/pulls", Rule: Puller, handle: s.adminPullNow},
		{Pattern: "GET /admin/pulls/{id}", Rule: Admin, handle: s.adminPull},
		{Pattern: "GET /admin/quality", Rule: Admin, handle: s.adminQuality},
		{Pattern: "GET /admin/changes", Rule: Admin, handle: s.adminChanges},
		// the export registry carries no departments: the whole
		// organisation's exports are the primary admin's
		{Pattern: "GET /admin/exports", Rule: PrimaryAdmin, handle: s.adminExports},
		// the audit log, in one place (auditRule)
		{Pattern: "GET /admin/audit", Rule: auditRule, handle: s.adminAudit},
	}
}

// adminPage is the data of the admin pages (pageData.Admin).
type adminPage struct {
	// Primary: the primary admin (the exports page is theirs); MayPull:
	// the person may start a pull (Puller); MayAudit: read the audit log
	// (auditRule).
	Primary, MayPull, MayAudit bool
	// Scope names the sub-admin's departments (empty: the whole
	// organisation).
	Scope []string

	Schedule, NextPull string
	Pulls              []pullRow
	Job                *pullRow

	Quality       *app.AdminQuality
	TakenAt       string
	DeptChart     template.HTML
	ProblemChart  template.HTML
	DeptRows      []deptRow
	Problems      []problemRow
	ChartedDepts  int
	DeptsInReport int

	Diff   *app.DiffResult
	NoDiff string

	Exports []exportRow

	Audit                []auditRow
	AuditState, AuditMsg string
	AuditFirstBad        int64
	AuditRecords         int
	Page, PrevPage       int
	NextPage             int
}

// timeFormat is how the admin pages show a time.
const timeFormat = "2006-01-02 15:04 MST"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(timeFormat)
}

// IsAdmin reports whether the page's person is an admin (the nav bar's
// Admin link).
func (d pageData) IsAdmin() bool { return Admin.Allows(d.Session) }

// IsAuditor reports whether the page's person may read the audit log (an
// auditor who is no admin finds it in the nav bar).
func (d pageData) IsAuditor() bool { return auditRule.Allows(d.Session) }

func (s *Server) adminData(sess *app.Session) *adminPage {
	return &adminPage{Primary: PrimaryAdmin.Allows(sess), MayPull: Puller.AllowsUnder(sess, s.policy()), MayAudit: auditRule.AllowsUnder(sess, s.policy())}
}

// adminHome links to the admin pages and names the admin's scope.
func (s *Server) adminHome(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	a := s.adminData(sess)
	if !a.Primary {
		names := map[int64]string{}
		if tree, err := s.App.DirectoryTree(r.Context()); err == nil {
			for _, d := range tree.Departments {
				names[d.ID] = d.Path
			}
		}
		for _, id := range sess.AdminScope {
			a.Scope = append(a.Scope, cmp.Or(names[id], strconv.FormatInt(id, 10)))
		}
	}
	s.render(w, r, http.StatusOK, "admin", pageData{Title: "admin.title", Session: sess, Admin: a})
}

// pullRow is one pull as the pulls pages show it.
// GET /api/v1/admin/pulls lists the same rows, with its JSON names; a
// sub-admin's rows, like their page, hold no reason and no problem list.
type pullRow struct {
	ID      string    `json:"id,omitempty"`
	Time    string    `json:"-"`
	At      time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
	// Snapshot is the snapshot the pull stored (0: none).
	Snapshot int64 `json:"snapshot,omitempty"`
	// Receipt: Complete (and HasReceipt), the counts, the restricted
	// count (-1 unknown) and the duration.
	HasReceipt  bool     `json:"has_receipt"`
	Complete    bool     `json:"complete"`
	People      int      `json:"people"`
	Departments int      `json:"departments"`
	Restricted  int      `json:"restricted"`
	Duration    string   `json:"duration"`
	Problems    []string `json:"problems,omitempty"`
}

// receiptRow adds a receipt to a pull's row. Why a pull failed or is
// incomplete may name any department (one outside the app's range): the
// primary admin's pages only say it.
func (a *adminPage) receiptRow(p *pullRow, rc *dingbook.Receipt) {
	if !a.Primary {
		p.Reason = ""
	}
	if rc == nil {
		return
	}
	p.HasReceipt, p.Complete, p.People, p.Departments, p.Restricted = true, rc.Complete, rc.People, rc.Departments, rc.Restricted
	p.Duration = rc.Duration.Round(time.Millisecond).String()
	if a.Primary {
		p.Problems = rc.Problems
	}
}

// recentPulls is how many pulls the pulls page lists.
const recentPulls = 20

// adminPulls: pull now, the schedule, the recent pulls with receipts.
func (s *Server) adminPulls(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	a := s.adminData(sess)
	if h, m, ok := s.policy().Serve.PullTime(); ok {
		a.Schedule = s.policy().Serve.PullDailyAt
		a.NextPull = fmtTime(app.NextDaily(s.now(), h, m))
	}
	if err := s.pullRows(r.Context(), a); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "admin-pulls", pageData{Title: "admin.pulls.title", Session: sess, Admin: a})
}

// pullRows fills a.Pulls with the recent pulls as a's admin may see them
// (the pulls page and GET /api/v1/admin/pulls).
func (s *Server) pullRows(ctx context.Context, a *adminPage) error {
	pulls, err := s.App.RecentPulls(ctx, recentPulls)
	if err != nil {
		return err
	}
	for _, p := range pulls {
		row := pullRow{Time: fmtTime(p.Time), At: p.Time, Actor: p.Actor, Outcome: p.Outcome, Reason: p.Reason, Snapshot: p.Snapshot}
		a.receiptRow(&row, p.Receipt)
		a.Pulls = append(a.Pulls, row)
	}
	return nil
}

// adminPullNow starts a pull (as POST /api/v1/admin/pulls) and shows its
// status page; while another runs, that one's.
func (s *Server) adminPullNow(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	job, err := s.beginPull(sess)
	if err != nil && !errors.Is(err, app.ErrPullRunning) {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/pulls/"+job.ID, http.StatusSeeOther)
}

// adminPull is one pull's status page.
func (s *Server) adminPull(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	job, ok := s.pullJob(w, r)
	if !ok {
		return
	}
	a := s.adminData(sess)
	a.jobRow(job)
	s.render(w, r, http.StatusOK, "admin-pull", pageData{Title: "admin.pull.title", Session: sess, Admin: a})
}

// jobRow sets a.Job to a pull job's row as a's admin may see it.
func (a *adminPage) jobRow(job app.PullJob) {
	row := pullRow{ID: job.ID, Time: fmtTime(job.Started), At: job.Started, Actor: job.Actor, Outcome: job.State, Reason: job.Error, Snapshot: job.Snapshot}
	a.receiptRow(&row, job.Receipt)
	a.Job = &row
}

// deptRow is one department's completeness.
type deptRow struct {
	Path                                   string
	Members                                int
	Complete, Mobile, Email, Title, JobNum string
}

// problemRow is one kind of problem and how many people have it.
type problemRow struct {
	Kind, Label string
	Count       int
}

// chartedDepts is how many departments the completeness chart shows at
// most: the least complete first.
const chartedDepts = 30

func pct(f float64) string { return strconv.Itoa(int(f*100+0.5)) + "%" }

// deptCompleteness is a department of the quality report with its
// completeness (GET /api/v1/admin/quality lists them): the share of the
// four contact fields filled in, and each field's share.
type deptCompleteness struct {
	DeptID        int64   `json:"dept_id"`
	Path          string  `json:"path"`
	Members       int     `json:"members"`
	Completeness  float64 `json:"completeness"`
	MobileRate    float64 `json:"mobile_rate"`
	EmailRate     float64 `json:"email_rate"`
	TitleRate     float64 `json:"title_rate"`
	JobNumberRate float64 `json:"job_number_rate"`
}

// shownDepts are the departments of q the quality page and API show:
// those with direct members, with their completeness.
func shownDepts(q *app.AdminQuality) []deptCompleteness {
	out := []deptCompleteness{}
	for _, d := range q.Departments {
		if d.Members > 0 {
			out = append(out, deptCompleteness{DeptID: d.DeptID, Path: d.Path, Members: d.Members,
				Completeness: (d.MobileRate + d.EmailRate + d.TitleRate + d.JobNumberRate) / 4,
				MobileRate:   d.MobileRate, EmailRate: d.EmailRate, TitleRate: d.TitleRate, JobNumberRate: d.JobNumberRate})
		}
	}
	return out
}

// adminQuality: the latest complete snapshot's quality in the admin's
// scope, as two bar charts and their tables.
func (s *Server) adminQuality(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	q, err := s.App.ScopedQuality(r.Context(), sess)
	if err != nil {
		s.dirFail(w, r, err)
		return
	}
	lang := pickLang(r, sess)
	a := s.adminData(sess)
	a.Quality, a.TakenAt = q, fmtTime(q.TakenAt)
	var bars []bar
	for _, dq := range shownDepts(q) {
		c := dq.Completeness
		a.DeptRows = append(a.DeptRows, deptRow{Path: dq.Path, Members: dq.Members, Complete: pct(c),
			Mobile: pct(dq.MobileRate), Email: pct(dq.EmailRate), Title: pct(dq.TitleRate), JobNum: pct(dq.JobNumberRate)})
		bars = append(bars, bar{Label: dq.Path, Value: c, Text: pct(c)})
	}
	a.DeptsInReport = len(bars)
	slices.SortStableFunc(bars, func(x, y bar) int { return cmp.Compare(x.Value, y.Value) })
	bars = bars[:min(len(bars), chartedDepts)]
	a.ChartedDepts = len(bars)
	a.DeptChart = barChart(tr(lang, "admin.quality.dept_chart"), bars, 1)
	var pbars []bar
	most := 0
	for _, p := range dingbook.AllProblems {
		n := q.Counts[p]
		label := tr(lang, fmt.Sprintf("admin.problem.%s", p))
		a.Problems = append(a.Problems, problemRow{Kind: string(p), Label: label, Count: n})
		pbars = append(pbars, bar{Label: label, Value: float64(n), Text: strconv.Itoa(n)})
		most = max(most, n)
	}
	a.ProblemChart = barChart(tr(lang, "admin.quality.problem_chart"), pbars, float64(max(most, 1)))
	s.render(w, r, http.StatusOK, "admin-quality", pageData{Title: "admin.quality.title", Session: sess, Admin: a})
}

// bar is one bar of a chart: its label, its value (of the chart's
// scale) and the text written after it.
type bar struct {
	Label, Text string
	Value       float64
}

// Chart geometry, in SVG user units.
const (
	chartLabelW = 260
	chartBarW   = 300
	chartRowH   = 24
	chartTextW  = 60
)

// barChart draws horizontal bars as an SVG element: each row a label, a
// track, a bar of value/scale and the bar's text. Labels are escaped
// (and shortened, the whole in a <title>); only attributes style it.
func barChart(title string, bars []bar, scale float64) template.HTML {
	var b strings.Builder
	h := chartRowH * max(len(bars), 1)
	w := chartLabelW + chartBarW + chartTextW
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`, w, h, w, h)
	b.WriteString(`<title>` + xmlEscape(title) + `</title>`)
	for i, br := range bars {
		y := i * chartRowH
		short := shorten(br.Label, chartLabelW-16)
		v := br.Value / scale
		v = min(max(v, 0), 1)
		fmt.Fprintf(&b, `<g><title>%s: %s</title>`, xmlEscape(br.Label), xmlEscape(br.Text))
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#1a1a1a">%s</text>`, chartLabelW-8, y+17, xmlEscape(short))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#e4e7eb"/>`, chartLabelW, y+4, chartBarW, chartRowH-8)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="#1f5fa8"/>`, chartLabelW, y+4, v*chartBarW, chartRowH-8)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#1a1a1a">%s</text></g>`, chartLabelW+chartBarW+6, y+17, xmlEscape(br.Text))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// shorten keeps the end of label (a path's most specific part) that fits
// in about width units at the charts' font size, "…" in front of what it
// cut: a Han, kana or Hangul character is about 13 units, others 7.5.
func shorten(label string, width int) string {
	rs := []rune(label)
	w := 0.0
	for i := len(rs) - 1; i >= 0; i-- {
		if unicode.In(rs[i], unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) || rs[i] >= 0xFF00 && rs[i] <= 0xFFEF {
			w += 13
		} else {
			w += 7.5
		}
		if w > float64(width) {
			return "…" + string(rs[i+2:])
		}
	}
	return label
}

// xmlEscape escapes text for XML content and attribute values.
var xmlEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace

// adminChanges: what changed between the last two snapshots, in the
// admin's scope.
func (s *Server) adminChanges(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	a := s.adminData(sess)
	d, err := s.App.ScopedDiff(r.Context(), sess, s.policy())
	var de *dingbook.Error
	switch {
	case errors.As(err, &de) && de.Code == dingbook.ENOTFOUND:
		a.NoDiff = "admin.changes.need_two"
	case err != nil:
		s.fail(w, r, err)
		return
	default:
		a.Diff = d
	}
	s.render(w, r, http.StatusOK, "admin-changes", pageData{Title: "admin.changes.title", Session: sess, Admin: a})
}

// exportRow is one registered bundle (GET /api/v1/admin/exports lists
// the same rows, with its JSON names).
type exportRow struct {
	ID        string     `json:"id"`
	File      string     `json:"file"`
	Actor     string     `json:"actor"`
	Created   string     `json:"-"`
	CreatedAt time.Time  `json:"created"`
	Purpose   string     `json:"purpose"`
	Expires   string     `json:"-"`
	ExpiresAt time.Time  `json:"expires"`
	Purged    string     `json:"-"`
	PurgedAt  *time.Time `json:"purged,omitempty"`
	State     string     `json:"state"`
	Rows      int        `json:"rows"`
}

// exportRows fills a.Exports with the registered bundles, newest first.
func (s *Server) exportRows(ctx context.Context, a *adminPage) error {
	list, err := s.App.Exports(ctx)
	if err != nil {
		return err
	}
	seqs := make([]int64, len(list))
	for i, e := range list {
		seqs[i] = e.AuditSeq
	}
	recs, err := s.App.AuditRecordsOf(ctx, seqs)
	if err != nil {
		return err
	}
	for i := len(list) - 1; i >= 0; i-- { // newest first
		e := list[i]
		row := exportRow{ID: e.ID, File: filepath.Base(e.Path), Actor: e.Actor, Created: fmtTime(e.Created), CreatedAt: e.Created,
			Expires: fmtTime(e.Expires), ExpiresAt: e.Expires, PurgedAt: e.Purged, State: e.State, Rows: e.Rows}
		if e.Purged != nil {
			row.Purged = fmtTime(*e.Purged)
		}
		row.Purpose = recs[e.AuditSeq].Purpose
		a.Exports = append(a.Exports, row)
	}
	return nil
}

// adminExports: the registered bundles with their expiry.
func (s *Server) adminExports(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	a := s.adminData(sess)
	if err := s.exportRows(r.Context(), a); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "admin-exports", pageData{Title: "admin.exports.title", Session: sess, Admin: a})
}

// auditRow is one audit record (GET /api/v1/audit lists the same rows,
// with its JSON names).
type auditRow struct {
	Seq     int64     `json:"seq"`
	Time    string    `json:"-"`
	At      time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Outcome string    `json:"outcome"`
	Details string    `json:"details,omitempty"`
}

// auditPageSize is how many records an audit page shows.
const auditPageSize = 50

// auditPageNumber is the request's ?page=N (1 without it); false: it
// answered 400.
func (s *Server) auditPageNumber(w http.ResponseWriter, r *http.Request) (int, bool) {
	p := r.URL.Query().Get("page")
	if p == "" {
		return 1, true
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 {
		s.problem(w, r, http.StatusBadRequest, "admin.audit.bad_page", &dingbook.Error{Code: dingbook.EINVALID, Field: "page",
			Message: "the page (page) must be a number from 1", Hint: "open " + r.URL.Path + " without ?page"})
		return 0, false
	}
	return n, true
}

// auditRows fills a with page (from 1) of the audit log, newest first,
// the chain's verify status (cached by the chain's head) and the paging
// (the audit page and GET /api/v1/audit).
func (s *Server) auditRows(ctx context.Context, a *adminPage, page int) error {
	v, err := s.App.CachedVerifyAudit(ctx)
	if err != nil {
		return err
	}
	head, _, err := s.App.AuditHead(ctx)
	if err != nil {
		return err
	}
	recs, err := s.App.AuditPage(ctx, page, auditPageSize)
	if err != nil {
		return err
	}
	a.AuditState, a.AuditMsg, a.AuditFirstBad, a.AuditRecords = app.VerifyState(v), v.Problem, v.FirstBad, v.Records
	a.Page = page
	for _, rec := range recs {
		details := rec.Reason
		if details == "" && rec.ExportID != "" {
			details = rec.ExportID
		}
		a.Audit = append(a.Audit, auditRow{Seq: rec.Seq, Time: fmtTime(rec.Time), At: rec.Time, Actor: rec.Actor, Action: rec.Action, Outcome: rec.Outcome, Details: details})
	}
	if page > 1 {
		a.PrevPage = page - 1
	}
	if int64(page*auditPageSize) < head {
		a.NextPage = page + 1
	}
	return nil
}

// adminAudit: the audit log, newest first, a page at a time (?page=N),
// with the chain's verify status.
func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	page, ok := s.auditPageNumber(w, r)
	if !ok {
		return
	}
	a := s.adminData(sess)
	if err := s.auditRows(r.Context(), a, page); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "admin-audit", pageData{Title: "admin.audit.title", Session: sess, Admin: a})
}
