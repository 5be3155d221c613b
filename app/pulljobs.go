package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/internal/ctxsleep"
	"github.com/dingbook/dingbook/policy"
)

// States of a PullJob.
const (
	PullRunning = "running"
	PullDone    = "done"
	PullFailed  = "failed"
)

// PullJob is a pull started in the background (by an admin in the
// portal).
type PullJob struct {
	ID       string     `json:"id"`
	State    string     `json:"state"`
	Actor    string     `json:"actor"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	// Snapshot is the id of the snapshot stored (0: none).
	Snapshot int64             `json:"snapshot,omitempty"`
	Receipt  *dingbook.Receipt `json:"receipt,omitempty"`
	// Error says why a failed pull failed (no secret: the client's
	// errors name the API call, never the token).
	Error         string `json:"error,omitempty"`
	SessionsEnded int    `json:"sessions_ended,omitempty"`
	// Drift counts what the pull found that DingTalk's events had missed
	// (PullResult.Drift).
	Drift map[string]int `json:"drift,omitempty"`
	// RolesChanged counts the people whose portal roles the pull changed.
	RolesChanged int `json:"roles_changed,omitempty"`
}

// CodeBusy is the error code of a pull refused while another runs.
const CodeBusy = "busy"

// ErrPullRunning is PullJobs.Start's refusal while a pull runs.
var ErrPullRunning = errors.New("a pull is already running")

// PullJobs runs pulls in the background, one at a time, and remembers
// the jobs of this process (the audit log keeps every pull for good).
type PullJobs struct {
	App *App
	// Done, if set, is called with each finished job (a metric).
	Done func(PullJob)
	// Sleep waits for d or until ctx ends (nil: a timer); tests replace it
	// to move their clock instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logf receives a scheduled pull that could not start.
	Logf func(format string, args ...any)

	mu      sync.Mutex
	running string
	jobs    map[string]*PullJob
	order   []string
	wg      sync.WaitGroup
}

// pullJobsKept is how many finished jobs Get still finds.
const pullJobsKept = 100

// Start starts App.Pull with pol and o in the background, under ctx (the
// server's lifetime: cancelling it stops the pull). While one runs it
// returns the running job and an error wrapping ErrPullRunning.
//
// A portal pull always marks access-restricted staff (CountRestricted):
// the portal's visibility rules hide them by that mark, so a snapshot
// without it would show them to everyone. It also pulls the external
// contacts (External), which the portal shows to those they are shared
// with (external.go), and makes the new base's index (Warm).
func (j *PullJobs) Start(ctx context.Context, pol *policy.Policy, o PullOptions) (PullJob, error) {
	o.CountRestricted, o.External, o.Warm = true, true, true
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.running != "" {
		return *j.jobs[j.running], &dingbook.Error{Code: CodeBusy, Message: "a pull is already running (" + j.running + ")",
			Hint: "wait for it to finish: GET /api/v1/admin/pulls/" + j.running, Err: ErrPullRunning}
	}
	job := &PullJob{ID: newID(), State: PullRunning, Actor: o.Actor, Started: j.App.now()}
	if j.jobs == nil {
		j.jobs = map[string]*PullJob{}
	}
	j.jobs[job.ID] = job
	j.order = append(j.order, job.ID)
	if len(j.order) > pullJobsKept {
		delete(j.jobs, j.order[0])
		j.order = j.order[1:]
	}
	j.running = job.ID
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		res, err := j.App.Pull(ctx, pol, o)
		j.mu.Lock()
		now := j.App.now()
		job.Finished = &now
		job.State = PullDone
		if res != nil && res.Result != nil && res.Snapshot != nil {
			job.Receipt = res.Snapshot.Receipt
			if res.Stored {
				job.Snapshot = res.Snapshot.ID
			}
			job.SessionsEnded, job.RolesChanged = res.SessionsEnded, res.RolesChanged
			job.Drift = res.Drift
		}
		if err != nil {
			job.State, job.Error = PullFailed, err.Error()
		}
		j.running = ""
		done := *job
		j.mu.Unlock()
		if j.Done != nil {
			j.Done(done)
		}
	}()
	return *job, nil
}

// Get returns job id as it stands.
func (j *PullJobs) Get(id string) (PullJob, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	job, ok := j.jobs[id]
	if !ok {
		return PullJob{}, false
	}
	return *job, true
}

// Wait waits for the running pull (if any) to end.
func (j *PullJobs) Wait() { j.wg.Wait() }

// ScheduledActor is the actor of scheduled pulls in the audit log.
const ScheduledActor = "schedule"

// NextDaily returns the first hour:minute strictly after now, in now's
// time zone.
func NextDaily(now time.Time, hour, minute int) time.Time {
	next := time.Date(now.Year(), now.Month(), now.Day(), hour, minute, 0, 0, now.Location())
	if !next.After(now) {
		next = time.Date(now.Year(), now.Month(), now.Day()+1, hour, minute, 0, 0, now.Location())
	}
	return next
}

// RunDaily starts a pull every day at hour:minute (the clock's time zone)
// with actor ScheduledActor until ctx ends, one at a time: when a pull
// (an admin's) is still running then, that day's scheduled one is
// skipped and logged. Each pull's receipt is in its job and its audit
// record. It waits for the last pull it started before returning.
func (j *PullJobs) RunDaily(ctx context.Context, hour, minute int, pol *policy.Policy, o PullOptions) {
	sleep := j.Sleep
	if sleep == nil {
		sleep = ctxsleep.Sleep
	}
	o.Actor = ScheduledActor
	for {
		now := j.App.now()
		if err := sleep(ctx, NextDaily(now, hour, minute).Sub(now)); err != nil {
			return
		}
		job, err := j.Start(ctx, pol, o)
		if err != nil {
			if j.Logf != nil {
				j.Logf("scheduled pull skipped: pull %s is still running", job.ID)
			}
			continue
		}
		j.Wait()
	}
}
