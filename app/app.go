// Package app is dingbook's use-case layer: one method per thing a person
// can ask dingbook to do (Pull, Export, Convert, Import), each taking a
// plain option struct and returning a result struct. It wires the store,
// the policy, govern, the sources and the export layer together, and
// holds no flag, terminal, signal, os.Exit or environment code: the CLI
// (internal/cli) is one front end over it, a web server is another.
// Cancellation comes in through the context; what a front end shows while
// a job runs (a member file's notes, merges, a pull's receipt) comes out
// through Hooks.
package app

import (
	"context"
	"path/filepath"
	"sync"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
	"github.com/dingbook/dingbook/export"
	"github.com/dingbook/dingbook/govern"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/pull"
	"github.com/dingbook/dingbook/source/console"
	"github.com/dingbook/dingbook/store"
)

// App is dingbook over one state directory. Its methods may run
// concurrently: every job has its own private directory, and the audit
// log serialises its appends.
type App struct {
	// DB is the state database ($DINGBOOK_HOME).
	DB *store.DB
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	// people is the directory's search index of the latest complete
	// snapshot (people.go), rebuilt when a newer one appears.
	people peopleCache
	// live serialises the live directory's writers (live.go).
	live liveState
	// Drift, if set, receives the counts by kind ("joiner", "leaver",
	// "change", "department") of every difference a new base showed that
	// the events had missed (a metric).
	Drift func(counts map[string]int)
	// admin caches the admin pages' reports per snapshot and scope
	// (adminview.go).
	admin adminCache
	// external is the external contacts of the latest complete snapshot
	// (external.go).
	external externalCache
	// sessions are the sessions read from the store (sessioncache.go).
	sessions sessionCache
	// bg are the App's background goroutines (the live index's rebuild):
	// Close cancels and waits for them.
	bg background
}

// background runs an App's goroutines under a context that Close
// cancels, and lets Close wait for them.
type background struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	closed bool
	wg     sync.WaitGroup
}

// goBackground runs f on a goroutine of its own under the App's
// background context, unless the App is closed (false: f does not run).
func (a *App) goBackground(f func(ctx context.Context)) bool {
	b := &a.bg
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	if b.ctx == nil {
		b.ctx, b.cancel = context.WithCancel(context.Background())
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f(b.ctx)
	}()
	return true
}

// Close stops the App's background work (waiting for it to end) and
// closes the state database.
func (a *App) Close() error {
	b := &a.bg
	b.mu.Lock()
	b.closed = true
	if b.cancel != nil {
		b.cancel()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return a.DB.Close()
}

// Open opens the state directory home (created 0700 if missing) and
// sweeps what killed processes left in its tmp folder.
func Open(ctx context.Context, home string) (*App, error) {
	db, err := store.Open(ctx, home)
	if err != nil {
		return nil, err
	}
	govern.Sweep(home)
	return &App{DB: db}, nil
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// TmpDir is where temporary files go (member files' spill directories).
func (a *App) TmpDir() string { return filepath.Join(a.DB.Dir, govern.TmpDirName) }

// Policy loads the policy (path, else $DINGBOOK_HOME/policy.yaml, else the
// defaults) and records a policy change in the audit log on actor's
// behalf.
func (a *App) Policy(ctx context.Context, path, actor string) (*policy.Policy, error) {
	return govern.LoadPolicy(ctx, a.DB, path, actor)
}

// Refuse records a refusal the front end decided before calling a use case
// (a request it could not build) and returns err unchanged.
func (a *App) Refuse(ctx context.Context, pol *policy.Policy, req *govern.Request, err error) error {
	return govern.Refuse(ctx, a.DB, pol, req, err)
}

// Hooks tell a front end what happens during a job; every one may be nil.
// They are called on the job's goroutine.
type Hooks struct {
	// MemberFile: what the member file reader skipped or guessed.
	MemberFile func(path string, rep *console.Report)
	// Merged: the rows a deduplication rule merged.
	Merged func(rule string, merges []clean.Merge)
	// Pulled: a pull finished (complete or not), before it is stored.
	Pulled func(res *pull.Result)
	// Exporting: the export's pass over dir begins (size: its people
	// when known, else 0). It returns the export.Options.Progress to call
	// for each person (people handled, rows written; on the writing
	// goroutine, so quick) and the function called when the pass ends.
	Exporting func(dir dingbook.Directory, size int) (progress func(people, rows int), done func())
}

func (h *Hooks) memberFile(path string, rep *console.Report) {
	if h != nil && h.MemberFile != nil && rep != nil {
		h.MemberFile(path, rep)
	}
}

func (h *Hooks) merged(rule string, m []clean.Merge) {
	if h != nil && h.Merged != nil {
		h.Merged(rule, m)
	}
}

// exporting sets o.Progress through the Exporting hook and returns the
// function to call when the pass ends.
func (h *Hooks) exporting(dir dingbook.Directory, o *export.Options) func() {
	if h == nil || h.Exporting == nil {
		return func() {}
	}
	progress, done := h.Exporting(dir, sizeOf(dir))
	o.Progress = progress
	if done == nil {
		done = func() {}
	}
	return done
}

func (h *Hooks) pulled(res *pull.Result) {
	if h != nil && h.Pulled != nil {
		h.Pulled(res)
	}
}
