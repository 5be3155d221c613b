package serve

import (
	"errors"
	"net/http"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
)

// The admin pages' JSON API (issue 10 §4: "the JSON API mirrors the pages
// with the same rules"): each route has its page's rule and builds its
// answer with the page's own calls (ScopedQuality, ScopedDiff, pullRows,
// exportRows, auditRows), so a sub-admin's answer holds what their page
// shows and nothing more.

func (s *Server) adminAPIRoutes() []Route {
	return []Route{
		{Pattern: "GET /api/v1/admin/quality", Rule: Admin, handle: s.apiAdminQuality},
		{Pattern: "GET /api/v1/admin/changes", Rule: Admin, handle: s.apiAdminChanges},
		{Pattern: "GET /api/v1/admin/pulls", Rule: Admin, handle: s.apiAdminPulls},
		{Pattern: "GET /api/v1/admin/exports", Rule: PrimaryAdmin, handle: s.apiAdminExports},
		{Pattern: "GET /api/v1/audit", Rule: auditRule, handle: s.apiAudit},
	}
}

// AdminQualityAnswer is the answer of GET /api/v1/admin/quality: the
// latest complete snapshot's quality in the admin's scope.
type AdminQualityAnswer struct {
	Snapshot           int64     `json:"snapshot"`
	TakenAt            time.Time `json:"taken_at"`
	People             int       `json:"people"`
	PeopleWithProblems int       `json:"people_with_problems"`
	// Problems counts the people with each kind of problem (every kind,
	// 0 included).
	Problems map[string]int `json:"problems"`
	// Departments are the scope's departments with direct members.
	Departments []deptCompleteness `json:"departments"`
}

func (s *Server) apiAdminQuality(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	q, err := s.App.ScopedQuality(r.Context(), sess)
	if err != nil {
		s.dirFail(w, r, err)
		return
	}
	out := AdminQualityAnswer{Snapshot: q.Snapshot, TakenAt: q.TakenAt, People: q.People, PeopleWithProblems: q.PeopleWithProblems,
		Problems: map[string]int{}, Departments: shownDepts(q)}
	for _, p := range dingbook.AllProblems {
		out.Problems[string(p)] = q.Counts[p]
	}
	writeJSON(w, http.StatusOK, out)
}

// AdminChangesAnswer is the answer of GET /api/v1/admin/changes: the diff
// of the last two snapshots in the admin's scope (diff.Report's fields:
// from, to, counts, joiners, leavers, moves, changes), or, while there is
// no second snapshot, only Note.
type AdminChangesAnswer struct {
	*app.DiffResult
	Profile string `json:"profile,omitempty"`
	Note    string `json:"note,omitempty"`
}

func (s *Server) apiAdminChanges(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	d, err := s.App.ScopedDiff(r.Context(), sess, s.policy())
	var de *dingbook.Error
	switch {
	case errors.As(err, &de) && de.Code == dingbook.ENOTFOUND:
		writeJSON(w, http.StatusOK, AdminChangesAnswer{Note: de.Message})
	case err != nil:
		s.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, AdminChangesAnswer{DiffResult: d, Profile: d.Profile})
	}
}

// AdminPullsAnswer is the answer of GET /api/v1/admin/pulls: the recent
// pulls, newest first, each with its receipt (a sub-admin's without the
// reasons and problems, which may name any department).
type AdminPullsAnswer struct {
	Pulls []pullRow `json:"pulls"`
}

func (s *Server) apiAdminPulls(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	a := s.adminData(sess)
	if err := s.pullRows(r.Context(), a); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, AdminPullsAnswer{Pulls: nonNil(a.Pulls)})
}

// AdminExportsAnswer is the answer of GET /api/v1/admin/exports: the
// registered bundles, newest first, with their expiry.
type AdminExportsAnswer struct {
	Exports []exportRow `json:"exports"`
}

func (s *Server) apiAdminExports(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	a := s.adminData(sess)
	if err := s.exportRows(r.Context(), a); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, AdminExportsAnswer{Exports: nonNil(a.Exports)})
}

// AuditAnswer is the answer of GET /api/v1/audit?page=N: a page of the
// audit log (newest first, 50 records) and the chain's verify status.
type AuditAnswer struct {
	Records  []auditRow  `json:"records"`
	Verify   AuditVerify `json:"verify"`
	Page     int         `json:"page"`
	NextPage int         `json:"next_page,omitempty"`
}

// AuditVerify is the chain's verify status: State is "ok", "broken"
// (FirstBad is the first bad record) or "anchor" (the chain and its head
// anchor disagree).
type AuditVerify struct {
	State    string `json:"state"`
	OK       bool   `json:"ok"`
	Records  int    `json:"records"`
	FirstBad int64  `json:"first_bad,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	page, ok := s.auditPageNumber(w, r)
	if !ok {
		return
	}
	a := s.adminData(sess)
	if err := s.auditRows(r.Context(), a, page); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, AuditAnswer{Records: nonNil(a.Audit), Page: page, NextPage: a.NextPage,
		Verify: AuditVerify{State: a.AuditState, OK: a.AuditState == app.AuditOK, Records: a.AuditRecords, FirstBad: a.AuditFirstBad, Problem: a.AuditMsg}})
}

// PullView is GET /api/v1/admin/pulls/{id}'s answer to a sub-admin: the
// pull as their page shows it (no error text, no receipt problems, no
// per-department counts: those may name departments outside their
// scope). The primary admin gets the whole app.PullJob.
type PullView struct {
	ID       string       `json:"id"`
	State    string       `json:"state"`
	Actor    string       `json:"actor"`
	Started  time.Time    `json:"started"`
	Finished *time.Time   `json:"finished,omitempty"`
	Snapshot int64        `json:"snapshot,omitempty"`
	Receipt  *PullReceipt `json:"receipt,omitempty"`
}

// PullReceipt is the part of a receipt a sub-admin's page shows.
type PullReceipt struct {
	Complete    bool          `json:"complete"`
	People      int           `json:"people"`
	Departments int           `json:"departments"`
	Restricted  int           `json:"restricted"`
	Duration    time.Duration `json:"duration_ns"`
}

// pullView is job as sess's admin may see it.
func (s *Server) pullView(sess *app.Session, job app.PullJob) any {
	if PrimaryAdmin.Allows(sess) {
		return job
	}
	v := PullView{ID: job.ID, State: job.State, Actor: job.Actor, Started: job.Started, Finished: job.Finished, Snapshot: job.Snapshot}
	if rc := job.Receipt; rc != nil {
		v.Receipt = &PullReceipt{Complete: rc.Complete, People: rc.People, Departments: rc.Departments, Restricted: rc.Restricted, Duration: rc.Duration}
	}
	return v
}

// nonNil is list, or an empty list for nil (JSON [] rather than null).
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
