package serve

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/app"
	"github.com/dingbook/dingbook/policy"
)

// adminRoutes are the admin API's routes and the metrics (issue 10 §1,
// §4): one block of the route table.
func (s *Server) adminRoutes() []Route {
	return append([]Route{
		{Pattern: "POST /api/v1/admin/pulls", Rule: Puller, handle: s.startPull},
		{Pattern: "GET /api/v1/admin/pulls/{id}", Rule: Admin, handle: s.pullStatus},
		// admins may read the metrics in the browser; Prometheus scrapes
		// them at --metrics-addr, which needs no login
		{Pattern: "GET /metrics", Rule: Admin, handle: s.metricsPage},
	}, s.adminAPIRoutes()...) // the admin pages' JSON (adminapi.go)
}

// initAdmin makes the pull jobs, the quota and the metrics (Handler calls
// it once).
func (s *Server) initAdmin() {
	s.metrics = newMetrics()
	s.App.Drift = s.metrics.driftFound
	s.pulls = &app.PullJobs{App: s.App, Done: func(j app.PullJob) { s.metrics.pull(j.State) }, Logf: s.logf}
	s.quota = &app.Quota{App: s.App, Client: s.Client, Limit: s.policy().Serve.QuotaPerHour, Hit: s.metrics.quotaHit, Logf: s.logf,
		Say: tr}
}

// defaultPolicy is the built-in policy, made once: a policy is read,
// never changed, and making one (its hash) cost more than the rest of a
// request.
var defaultPolicy = sync.OnceValue(policy.Default)

// policy is the policy in force: Policy, else the built-in defaults.
func (s *Server) policy() *policy.Policy {
	if s.Policy != nil {
		return s.Policy
	}
	return defaultPolicy()
}

// Quota is the per-person hourly quota of person views and searches that
// the browsing routes spend from (valid after Handler).
func (s *Server) Quota() *app.Quota { return s.quota }

// WaitPulls waits for a pull started from the portal to end (after the
// server's Context is cancelled, it stops soon).
func (s *Server) WaitPulls() {
	if s.pulls != nil {
		s.pulls.Wait()
	}
}

// browse spends one view or search of the session's person from the
// quota: past it, it answers 429 (JSON under /api/, else a page) with
// Retry-After until the hour ends, and returns false. Person pages and
// searches call it first; /api/v1/me, the admin pages and the login do
// not.
func (s *Server) browse(w http.ResponseWriter, r *http.Request, sess *app.Session) bool {
	err := s.quota.Spend(r.Context(), sess.UserID)
	if err == nil {
		return true
	}
	var qe *app.QuotaError
	if !errors.As(err, &qe) {
		s.fail(w, r, err)
		return false
	}
	if d := qe.Until.Sub(s.now()); d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	}
	s.problem(w, r, http.StatusTooManyRequests, "problem.quota", err, qe.Limit, qe.Until.Format("15:04 MST"))
	return false
}

// RunSchedule pulls daily at the policy's serve.pull_daily_at until ctx
// ends (at once when the policy schedules none), one pull at a time with
// the admins' pulls; each is a job GET /api/v1/admin/pulls/{id} shows,
// audited with the actor "schedule". Call it after Handler.
func (s *Server) RunSchedule(ctx context.Context) {
	h, m, ok := s.policy().Serve.PullTime()
	if !ok {
		return
	}
	s.pulls.RunDaily(ctx, h, m, s.policy(), app.PullOptions{Client: s.Client, BaseURL: s.Client.BaseURL()})
}

// PullStarted is the answer of POST /api/v1/admin/pulls.
type PullStarted struct {
	ID string `json:"id"`
}

// beginPull starts an admin's pull in the background, under the
// server's lifetime (the API's POST and the pulls page's form).
func (s *Server) beginPull(sess *app.Session) (app.PullJob, error) {
	ctx := s.Context
	if ctx == nil {
		ctx = context.Background()
	}
	return s.pulls.Start(ctx, s.policy(), app.PullOptions{Actor: sess.UserID, Client: s.Client, BaseURL: s.Client.BaseURL()})
}

func (s *Server) startPull(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	job, err := s.beginPull(sess)
	if errors.Is(err, app.ErrPullRunning) {
		var de *dingbook.Error
		errors.As(err, &de)
		writeJSON(w, http.StatusConflict, map[string]string{"error": de.Code, "message": de.Message, "hint": de.Hint, "id": job.ID})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/admin/pulls/"+job.ID)
	writeJSON(w, http.StatusAccepted, PullStarted{ID: job.ID})
}

// pullJob is the request's pull {id}; false: it answered 404.
func (s *Server) pullJob(w http.ResponseWriter, r *http.Request) (app.PullJob, bool) {
	job, ok := s.pulls.Get(r.PathValue("id"))
	if !ok {
		s.problem(w, r, http.StatusNotFound, "problem.no_pull", &dingbook.Error{Code: dingbook.ENOTFOUND,
			Message: "no pull " + r.PathValue("id") + " in this server's memory", Hint: "start one with POST /api/v1/admin/pulls; older pulls are in the audit log"}, r.PathValue("id"))
	}
	return job, ok
}

// pullStatus answers a pull as the admin's page shows it (pullView).
func (s *Server) pullStatus(w http.ResponseWriter, r *http.Request, sess *app.Session) {
	if job, ok := s.pullJob(w, r); ok {
		writeJSON(w, http.StatusOK, s.pullView(sess, job))
	}
}
