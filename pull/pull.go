// Package pull walks a DingTalk organisation through the dingtalk client
// and builds a snapshot with its completeness receipt.
//
// The walk is a pipeline: each department discovered by listsub is queued
// at once for its own listsub, its department/get and its member listing
// (v2/user/list with contain_access_limit=true, 100 per page, following the
// cursor to the end), and each API has its own pool of workers, so
// discovery and member listing run side by side at their own rate limits.
// People are merged across departments by userid, keeping every
// membership's order and leader flag.
//
// Progress is checkpointed in the state database (store/pull.go) as it
// goes: a rerun after a crash or kill -9 resumes without refetching the
// departments already finished, and ends with the same snapshot.
package pull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/source/dingtalk"
	"github.com/dingbook/dingbook/store"
)

// Options configures a pull.
type Options struct {
	Client *dingtalk.Client
	// DB is the state database for checkpoints; nil pulls without them.
	DB *store.DB
	// WithManager fetches manager_userid (and the other user/get-only
	// fields) with one v2/user/get per person.
	WithManager bool
	// External fetches the external contacts into Org.External.
	External bool
	// CountRestricted lists every department a second time with
	// user/listsimple without contain_access_limit, to count (and flag)
	// the access-restricted staff. Off by default: Receipt.Restricted is
	// then -1 ("not measured").
	CountRestricted bool
	// Fresh ignores an unfinished checkpoint and starts over.
	Fresh bool
	// Workers is the number of requests in flight per API (0: derived
	// from the client's QPS so that 500 ms of latency still fills it).
	Workers int
	// Progress, if set, is called (from several goroutines, serialised)
	// whenever a department or page is done.
	Progress func(Progress)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Progress is a pull's progress.
type Progress struct {
	DeptsFound  int // departments discovered
	DeptsListed int // departments whose members are all fetched
	People      int // distinct people so far
	Calls       int // API requests so far
	Phase       string
}

// Result is a finished pull.
type Result struct {
	Snapshot *dingbook.Snapshot
	// Resumed is true when the pull continued an interrupted one.
	Resumed bool
	// RunID is the checkpoint run (0 without DB).
	RunID int64
	Stats dingtalk.Stats
}

type deptState struct {
	dept         dingbook.Department
	childrenDone bool
	detailDone   bool
	membersDone  bool
	members      []dingbook.Person
	visibleDone  bool     // --count-restricted listing done
	visible      []string // userids listed without restricted staff
	gap          int      // DingTalk code that kept us out (50004, 60003)
}

type runner struct {
	opt   Options
	c     *dingtalk.Client
	db    *store.DB
	runID int64
	start time.Time

	mu     sync.Mutex
	depts  map[int64]*deptState
	people map[string]bool // distinct userids seen, for progress
	// pending counts queued discovery calls per API (under mu).
	pending map[string]int
	dbMu    sync.Mutex

	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelCauseFunc
	sems   map[string]chan struct{}

	progMu sync.Mutex
}

// Run pulls the organisation and returns the snapshot with its receipt.
// It does not store the snapshot: the caller decides (see Save).
func Run(ctx context.Context, opt Options) (*Result, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	r := &runner{opt: opt, c: opt.Client, db: opt.DB, start: time.Now(), depts: map[int64]*deptState{}, people: map[string]bool{}, pending: map[string]int{}}
	workers := opt.Workers
	r.sems = map[string]chan struct{}{}
	for _, api := range []string{dingtalk.APIListSub, dingtalk.APIDeptGet, dingtalk.APIUserList, dingtalk.APIUserGet, dingtalk.APIListSimple, dingtalk.APIListSubID} {
		n := workers
		if n <= 0 {
			n = r.c.QPS(api)/2 + 2
			if n > 64 {
				n = 64
			}
		}
		r.sems[api] = make(chan struct{}, n)
	}
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	defer r.cancel(nil)

	res := &Result{}
	// Checkpoint.
	var stored map[string]json.RawMessage
	if r.db != nil {
		key, params := runKey(r.c, opt)
		if opt.Fresh {
			if err := r.db.AbandonPullRuns(ctx, key, opt.Now()); err != nil {
				return nil, err
			}
		}
		run, resumed, err := r.db.OpenPullRun(ctx, key, params, opt.Now())
		if err != nil {
			return nil, fmt.Errorf("pull checkpoint: %w", err)
		}
		r.runID, res.Resumed, res.RunID = run.ID, resumed, run.ID
		if resumed {
			pds, err := r.db.PullDepts(ctx, run.ID)
			if err != nil {
				return nil, fmt.Errorf("pull checkpoint: %w", err)
			}
			for _, pd := range pds {
				st := &deptState{dept: pd.Dept, childrenDone: pd.ChildrenDone, detailDone: pd.DetailDone, membersDone: pd.MembersDone}
				if pd.Visible != nil && json.Unmarshal(pd.Visible, &st.visible) == nil {
					st.visibleDone = true
				}
				if pd.MembersDone {
					if err := json.Unmarshal(pd.Members, &st.members); err != nil {
						return nil, fmt.Errorf("pull checkpoint dept %d: %w", pd.Dept.ID, err)
					}
					for i := range st.members {
						r.people[st.members[i].UserID] = true
					}
				}
				r.depts[pd.Dept.ID] = st
			}
			if stored, err = r.db.PullUsers(ctx, run.ID); err != nil {
				return nil, err
			}
		}
	}

	// auth/scopes and user/count run beside the walk, which starts at
	// once from the root (the usual whole-organisation range); when the
	// range turns out narrower, the root answers 50004 (recorded as out of
	// range) and the walk continues from each authed_dept.
	r.progress("departments")
	type scopesResult struct {
		s   *dingtalk.Scopes
		err error
	}
	scopesCh := make(chan scopesResult, 1)
	go func() {
		s, err := r.c.AuthScopes(r.ctx)
		scopesCh <- scopesResult{s, err}
	}()
	orgCount, countErr := -1, error(nil)
	countDone := make(chan struct{})
	go func() {
		defer close(countDone)
		orgCount, countErr = r.c.UserCount(r.ctx, false)
	}()
	if err := r.seed([]int64{dingbook.RootDeptID}, true); err != nil {
		return nil, err
	}
	sr := <-scopesCh
	if sr.err != nil {
		// The first failure wins: a job may have failed (and cancelled
		// the scopes call) before auth/scopes itself did.
		r.cancel(sr.err)
		r.wg.Wait()
		<-countDone
		return nil, context.Cause(r.ctx)
	}
	scopes := sr.s
	if !scopes.WholeOrg() {
		var roots []int64
		for _, d := range scopes.AuthedDept {
			if d > 0 {
				roots = append(roots, d)
			}
		}
		if err := r.seed(roots, false); err != nil {
			r.cancel(err)
			r.wg.Wait()
			<-countDone
			return nil, context.Cause(r.ctx)
		}
	}
	r.wg.Wait()
	<-countDone
	if err := context.Cause(r.ctx); err != nil {
		return nil, err
	}

	rc := &dingbook.Receipt{OrgCount: -1, Restricted: -1, PeoplePerDept: map[int64]int{}}
	org := r.assemble(rc)

	// People named one by one in the contact range.
	if len(scopes.AuthedUser) > 0 && !scopes.WholeOrg() {
		if err := r.fetchUsers(scopes.AuthedUser, stored, org, true); err != nil {
			return nil, err
		}
	}
	if opt.WithManager {
		r.progress("managers")
		ids := make([]string, len(org.People))
		for i := range org.People {
			ids[i] = org.People[i].UserID
		}
		if err := r.fetchUsers(ids, stored, org, false); err != nil {
			return nil, err
		}
	}
	sort.Slice(org.People, func(i, j int) bool { return org.People[i].UserID < org.People[j].UserID })

	// Departments outside the range: walk the whole tree's ids (listsubid
	// ignores the range) when the range is not the whole organisation.
	if !scopes.WholeOrg() {
		r.progress("range")
		if err := r.rangeGaps(rc); err != nil {
			return nil, err
		}
	}
	if opt.CountRestricted {
		r.progress("restricted")
		if err := r.countRestricted(org, rc); err != nil {
			return nil, err
		}
	}
	if opt.External {
		r.progress("external")
		ext, err := r.c.AllExternal(ctx)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(ext, func(x dingbook.ExternalContact) bool { return len(x.LabelIDs) > 0 }) {
			// the labels' names (listlabelgroups), kept with each contact
			labels, err := r.c.ExternalLabels(ctx)
			if err != nil {
				return nil, err
			}
			for i := range ext {
				ext[i].NameLabels(labels)
			}
		}
		org.External = ext
	}
	if countErr == nil {
		rc.OrgCount = orgCount
	} else {
		rc.Problems = append(rc.Problems, "DingTalk's headcount (user/count) could not be read: "+countErr.Error())
	}
	r.finishReceipt(org, rc, scopes)
	res.Stats = r.c.Stats()
	rc.APICalls = res.Stats.Total
	rc.Retries = res.Stats.Retries
	rc.Duration = time.Since(r.start)
	res.Snapshot = &dingbook.Snapshot{
		Source:  "dingtalk:" + r.c.BaseURL(),
		TakenAt: opt.Now().UTC(),
		Org:     *org,
		Receipt: rc,
	}
	r.progress("done")
	return res, nil
}

// Save stores res's snapshot and closes its checkpoint.
func Save(ctx context.Context, db *store.DB, res *Result, now time.Time) error {
	if err := db.SaveSnapshot(ctx, res.Snapshot); err != nil {
		return fmt.Errorf("store the snapshot: %w", err)
	}
	if res.RunID != 0 {
		return db.FinishPullRun(ctx, res.RunID, res.Snapshot.ID, now)
	}
	return nil
}

// runKey identifies "the same pull" for resuming: same API host, app and
// options.
func runKey(c *dingtalk.Client, opt Options) (string, []byte) {
	params, _ := json.Marshal(map[string]any{
		"base": c.BaseURL(), "app_key": c.AppKey(), "with_manager": opt.WithManager,
		"external": opt.External, "count_restricted": opt.CountRestricted,
	})
	h := sha256.Sum256(params)
	return hex.EncodeToString(h[:16]), params
}

// seed adds the departments ids as walk roots (checkpointed) and, when
// all is true, queues every unfinished job of the checkpoint as well.
func (r *runner) seed(ids []int64, all bool) error {
	r.mu.Lock()
	var fresh []dingbook.Department
	for _, id := range ids {
		if _, ok := r.depts[id]; !ok {
			fresh = append(fresh, dingbook.Department{ID: id, MemberCount: -1, OwningMemberCount: -1})
		}
	}
	r.mu.Unlock()
	if err := r.checkpoint(func() error { return r.db.SavePullChildren(r.ctx, r.runID, 0, fresh) }); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var queue []int64
	for _, d := range fresh {
		if _, ok := r.depts[d.ID]; !ok {
			r.depts[d.ID] = &deptState{dept: d}
			queue = append(queue, d.ID)
		}
	}
	if all {
		queue = queue[:0]
		for id := range r.depts {
			queue = append(queue, id)
		}
	}
	sort.Slice(queue, func(i, j int) bool { return queue[i] < queue[j] })
	for _, id := range queue {
		r.queueLocked(id)
	}
	return nil
}

func (r *runner) checkpoint(fn func() error) error {
	if r.db == nil {
		return nil
	}
	r.dbMu.Lock()
	defer r.dbMu.Unlock()
	if err := fn(); err != nil {
		return fmt.Errorf("pull checkpoint: %w", err)
	}
	return nil
}

func (r *runner) progress(phase string) {
	if r.opt.Progress == nil {
		return
	}
	r.mu.Lock()
	p := Progress{DeptsFound: len(r.depts), People: len(r.people), Phase: phase}
	for _, st := range r.depts {
		if st.membersDone {
			p.DeptsListed++
		}
	}
	r.mu.Unlock()
	p.Calls = r.c.Stats().Total
	r.progMu.Lock()
	r.opt.Progress(p)
	r.progMu.Unlock()
}

// queueLocked starts the jobs department id still needs; r.mu is held.
func (r *runner) queueLocked(id int64) {
	st := r.depts[id]
	if !st.childrenDone {
		// Discovery alternates between listsub and listsubid (each has
		// its own rate budget; department/get supplies the names), so the
		// walk discovers departments twice as fast as member listing and
		// department/get consume them.
		api := dingtalk.APIListSub
		if r.pending[dingtalk.APIListSubID] < r.pending[dingtalk.APIListSub] {
			api = dingtalk.APIListSubID
		}
		r.pending[api]++
		r.spawn(api, func() error { return r.listSub(id, api) })
	}
	if !st.detailDone {
		r.spawn(dingtalk.APIDeptGet, func() error { return r.detail(id) })
	}
	if !st.membersDone {
		r.spawn(dingtalk.APIUserList, func() error { return r.members(id) })
	}
	if r.opt.CountRestricted && !st.visibleDone {
		r.spawn(dingtalk.APIListSimple, func() error { return r.visible(id) })
	}
}

func (r *runner) spawn(api string, job func() error) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		sem := r.sems[api]
		select {
		case sem <- struct{}{}:
		case <-r.ctx.Done():
			return
		}
		defer func() { <-sem }()
		if r.ctx.Err() != nil {
			return
		}
		if err := job(); err != nil {
			r.cancel(err)
		}
	}()
}

// gap records that DingTalk keeps department id out of reach; it reports
// whether err was such a refusal (and so is not fatal).
func (r *runner) gap(id int64, err error) bool {
	code := dingtalk.Code(err)
	if code != dingtalk.CodeDeptOutOfRange && code != dingtalk.CodeDeptNotFound {
		return false
	}
	r.mu.Lock()
	if st := r.depts[id]; st != nil && st.gap == 0 {
		st.gap = code
	}
	r.mu.Unlock()
	return true
}

func (r *runner) listSub(id int64, api string) error {
	var children []dingbook.Department
	var err error
	if api == dingtalk.APIListSubID {
		var ids []int64
		ids, err = r.c.ListSubID(r.ctx, id)
		for _, c := range ids {
			children = append(children, dingbook.Department{ID: c, ParentID: id, MemberCount: -1, OwningMemberCount: -1})
		}
	} else {
		children, err = r.c.ListSub(r.ctx, id)
	}
	r.mu.Lock()
	r.pending[api]--
	r.mu.Unlock()
	if err != nil {
		if r.gap(id, err) {
			return nil
		}
		return err
	}
	r.mu.Lock()
	var fresh []dingbook.Department
	for _, ch := range children {
		if _, ok := r.depts[ch.ID]; ok {
			continue
		}
		fresh = append(fresh, ch)
	}
	r.mu.Unlock()
	if err := r.checkpoint(func() error { return r.db.SavePullChildren(r.ctx, r.runID, id, fresh) }); err != nil {
		return err
	}
	r.mu.Lock()
	r.depts[id].childrenDone = true
	for _, ch := range fresh {
		if _, ok := r.depts[ch.ID]; ok {
			continue
		}
		r.depts[ch.ID] = &deptState{dept: ch}
		r.queueLocked(ch.ID)
	}
	r.mu.Unlock()
	r.progress("departments")
	return nil
}

func (r *runner) detail(id int64) error {
	d, err := r.c.GetDept(r.ctx, id)
	if err != nil {
		if r.gap(id, err) {
			return nil
		}
		return err
	}
	r.mu.Lock()
	st := r.depts[id]
	if d.ParentID == 0 && id != dingbook.RootDeptID {
		d.ParentID = st.dept.ParentID
	}
	r.mu.Unlock()
	if err := r.checkpoint(func() error { return r.db.SavePullDetail(r.ctx, r.runID, *d) }); err != nil {
		return err
	}
	r.mu.Lock()
	st.dept = *d
	st.detailDone = true
	r.mu.Unlock()
	return nil
}

func (r *runner) members(id int64) error {
	var list []dingbook.Person
	var cursor dingtalk.Cursor
	seen := map[string]bool{}
	for page := 0; ; page++ {
		pg, err := r.c.ListUsers(r.ctx, id, cursor)
		if err != nil {
			if r.gap(id, err) {
				return nil
			}
			return err
		}
		for i := range pg.List {
			p := pg.List[i].Person(id)
			if p.UserID == "" || seen[p.UserID] {
				continue
			}
			seen[p.UserID] = true
			list = append(list, p)
		}
		if !bool(pg.HasMore) {
			break
		}
		if len(pg.NextCursor) == 0 || string(pg.NextCursor) == string(cursor) {
			// has_more without a usable cursor: fall back to the offset.
			cursor = dingtalk.Cursor(fmt.Sprint(len(list)))
			if len(pg.List) == 0 {
				return &dingbook.Error{Code: dingbook.EINTERNAL,
					Message: fmt.Sprintf("DingTalk %s (dept_id %d) says has_more but returns no rows and no next_cursor", dingtalk.APIUserList, id),
					Hint:    "rerun the pull; if it persists, report it to DingTalk support"}
			}
		} else {
			cursor = pg.NextCursor
		}
		if page > 100000/dingtalk.PageSize+1 {
			return &dingbook.Error{Code: dingbook.EINTERNAL, Message: fmt.Sprintf("DingTalk %s (dept_id %d) keeps paging past 100,000 members", dingtalk.APIUserList, id),
				Hint: "report it to DingTalk support"}
		}
	}
	b, _ := json.Marshal(list)
	if err := r.checkpoint(func() error { return r.db.SavePullMembers(r.ctx, r.runID, id, b) }); err != nil {
		return err
	}
	r.mu.Lock()
	st := r.depts[id]
	st.members = list
	st.membersDone = true
	for i := range list {
		r.people[list[i].UserID] = true
	}
	r.mu.Unlock()
	r.progress("members")
	return nil
}

// assemble merges the departments' listings into an Org, in department id
// order so that a resumed pull builds exactly the same people.
func (r *runner) assemble(rc *dingbook.Receipt) *dingbook.Org {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]int64, 0, len(r.depts))
	for id := range r.depts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	org := &dingbook.Org{}
	byID := map[string]int{}
	for _, id := range ids {
		st := r.depts[id]
		if st.gap != 0 {
			rc.OutOfRange = append(rc.OutOfRange, dingbook.RangeGap{DeptID: id, Name: st.dept.Name})
			if st.gap == dingtalk.CodeDeptNotFound {
				rc.Problems = append(rc.Problems, fmt.Sprintf("department %d %q vanished during the pull (60003); rerun to get a consistent copy", id, st.dept.Name))
			}
			continue
		}
		if id == dingbook.RootDeptID {
			org.Name = st.dept.Name
		}
		org.Depts = append(org.Depts, st.dept)
		rc.PeoplePerDept[id] = len(st.members)
		for i := range st.members {
			p := st.members[i]
			m, _ := p.Membership(id)
			if j, ok := byID[p.UserID]; ok {
				setMembership(&org.People[j], m)
				continue
			}
			p.Depts = append([]dingbook.Membership(nil), p.Depts...)
			byID[p.UserID] = len(org.People)
			org.People = append(org.People, p)
		}
	}
	return org
}

func setMembership(p *dingbook.Person, m dingbook.Membership) {
	for i := range p.Depts {
		if p.Depts[i].DeptID == m.DeptID {
			p.Depts[i] = m
			return
		}
	}
	p.Depts = append(p.Depts, m)
}

// fetchUsers runs v2/user/get for ids (checkpointed). add=true adds people
// not yet in org (authed_user); otherwise the user/get-only fields
// (manager_userid, senior, real_authed, org_email_type) are filled in.
func (r *runner) fetchUsers(ids []string, stored map[string]json.RawMessage, org *dingbook.Org, add bool) error {
	got := make([]*dingbook.Person, len(ids))
	var errMu sync.Mutex
	var firstErr error
	for i, id := range ids {
		if b, ok := stored[id]; ok {
			var p dingbook.Person
			if json.Unmarshal(b, &p) == nil {
				got[i] = &p
				continue
			}
		}
		r.spawn(dingtalk.APIUserGet, func() error {
			p, err := r.c.GetUser(r.ctx, id)
			if err != nil {
				if c := dingtalk.Code(err); c == dingtalk.CodeUserNotFound || c == dingtalk.CodeUserOutOfRange {
					return nil // left meanwhile, or out of range: reported by the counts
				}
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
				return err
			}
			b, _ := json.Marshal(p)
			if err := r.checkpoint(func() error { return r.db.SavePullUser(r.ctx, r.runID, id, b) }); err != nil {
				return err
			}
			got[i] = p
			return nil
		})
	}
	r.wg.Wait()
	if err := context.Cause(r.ctx); err != nil {
		return err
	}
	if firstErr != nil {
		return firstErr
	}
	idx := map[string]int{}
	for i := range org.People {
		idx[org.People[i].UserID] = i
	}
	for _, p := range got {
		if p == nil {
			continue
		}
		j, ok := idx[p.UserID]
		if !ok {
			if add {
				idx[p.UserID] = len(org.People)
				org.People = append(org.People, *p)
			}
			continue
		}
		q := &org.People[j]
		q.ManagerUserID = p.ManagerUserID
		q.Senior = p.Senior
		q.RealAuthed = p.RealAuthed
		if q.OrgEmailType == "" {
			q.OrgEmailType = p.OrgEmailType
		}
	}
	return nil
}

// rangeGaps finds departments outside the contact range by walking every
// department id from the root with listsubid (which ignores the range).
func (r *runner) rangeGaps(rc *dingbook.Receipt) error {
	known := map[int64]bool{}
	r.mu.Lock()
	for id, st := range r.depts {
		if st.gap == 0 {
			known[id] = true
		}
	}
	r.mu.Unlock()
	for _, g := range rc.OutOfRange {
		known[g.DeptID] = true // already reported
	}
	var mu sync.Mutex
	var all []int64
	var walk func(id int64)
	walk = func(id int64) {
		r.spawn(dingtalk.APIListSubID, func() error {
			kids, err := r.c.ListSubID(r.ctx, id)
			if err != nil {
				return err
			}
			mu.Lock()
			all = append(all, kids...)
			mu.Unlock()
			for _, k := range kids {
				walk(k)
			}
			return nil
		})
	}
	walk(dingbook.RootDeptID)
	r.wg.Wait()
	if err := context.Cause(r.ctx); err != nil {
		return err
	}
	all = append(all, dingbook.RootDeptID)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	for _, id := range all {
		if !known[id] {
			known[id] = true
			rc.OutOfRange = append(rc.OutOfRange, dingbook.RangeGap{DeptID: id})
		}
	}
	sort.Slice(rc.OutOfRange, func(i, j int) bool { return rc.OutOfRange[i].DeptID < rc.OutOfRange[j].DeptID })
	return nil
}

// visible lists department id with user/listsimple without
// contain_access_limit (--count-restricted), in the same pipeline as the
// member listing but on its own API budget.
func (r *runner) visible(id int64) error {
	var ids []string
	var cursor dingtalk.Cursor
	for {
		pg, err := r.c.ListSimple(r.ctx, id, cursor, dingtalk.PageSize, false)
		if err != nil {
			if r.gap(id, err) {
				return nil
			}
			return err
		}
		for _, u := range pg.List {
			ids = append(ids, string(u.UserID))
		}
		if !bool(pg.HasMore) || len(pg.NextCursor) == 0 || string(pg.NextCursor) == string(cursor) {
			break
		}
		cursor = pg.NextCursor
	}
	b, _ := json.Marshal(ids)
	if err := r.checkpoint(func() error { return r.db.SavePullVisible(r.ctx, r.runID, id, b) }); err != nil {
		return err
	}
	r.mu.Lock()
	st := r.depts[id]
	st.visible, st.visibleDone = ids, true
	r.mu.Unlock()
	return nil
}

// countRestricted flags the pulled people absent from every listing
// without contain_access_limit: they are access-restricted staff.
func (r *runner) countRestricted(org *dingbook.Org, rc *dingbook.Receipt) error {
	seen := map[string]bool{}
	r.mu.Lock()
	for _, st := range r.depts {
		for _, u := range st.visible {
			seen[u] = true
		}
	}
	r.mu.Unlock()
	n := 0
	for i := range org.People {
		if !seen[org.People[i].UserID] {
			org.People[i].Restricted = true
			n++
		}
	}
	rc.Restricted = n
	return nil
}

// finishReceipt fills the counts and states every reason the pull cannot
// vouch for completeness.
func (r *runner) finishReceipt(org *dingbook.Org, rc *dingbook.Receipt, scopes *dingtalk.Scopes) {
	rc.Departments = len(org.Depts)
	rc.People = len(org.People)
	mobiles, emails := 0, 0
	for i := range org.People {
		p := &org.People[i]
		if p.HideMobile {
			rc.HiddenMobiles++
		}
		if p.Mobile != "" || p.StateCode != "" {
			mobiles++
		}
		if p.Email != "" || p.OrgEmail != "" || p.WorkPlace != "" || p.Remark != "" || len(p.Extension) > 0 {
			emails++
		}
	}
	if len(org.People) > 0 {
		if mobiles == 0 {
			rc.HiddenFields = append(rc.HiddenFields, "mobile", "state_code")
		}
		if emails == 0 {
			rc.HiddenFields = append(rc.HiddenFields, "email", "org_email", "work_place", "remark", "extension")
		}
	}
	var problems []string
	if n := len(rc.OutOfRange); n > 0 {
		const show = 10
		var names []string
		for i, g := range rc.OutOfRange {
			if i == show {
				names = append(names, fmt.Sprintf("and %d more", n-show))
				break
			}
			if g.Name != "" {
				names = append(names, fmt.Sprintf("%q (%d)", g.Name, g.DeptID))
			} else {
				names = append(names, fmt.Sprint(g.DeptID))
			}
		}
		what := "1 department is"
		if n > 1 {
			what = fmt.Sprintf("%d departments are", n)
		}
		problems = append(problems, fmt.Sprintf("%s outside the app's contact range: %s; widen the range at open-dev.dingtalk.com → the app → 通讯录权限范围 / contact range → 全部员工",
			what, strings.Join(names, ", ")))
	}
	if rc.OrgCount >= 0 && rc.OrgCount != rc.People {
		problems = append(problems, fmt.Sprintf("DingTalk counts %d people (user/count, only_active=false) but the pull found %d", rc.OrgCount, rc.People))
	}
	for _, d := range org.Depts {
		if d.OwningMemberCount >= 0 && d.OwningMemberCount != rc.PeoplePerDept[d.ID] {
			problems = append(problems, fmt.Sprintf("department %d %q has %d direct members (department/get) but %d were listed", d.ID, d.Name, d.OwningMemberCount, rc.PeoplePerDept[d.ID]))
		}
	}
	if len(rc.HiddenFields) > 0 {
		if contains(rc.HiddenFields, "mobile") {
			problems = append(problems, "nobody's mobile was returned: the app lacks 企业员工手机号信息 (employee mobile) — grant it at open-dev.dingtalk.com → the app → 权限管理 / Permissions")
		}
		if contains(rc.HiddenFields, "email") {
			problems = append(problems, "nobody's email was returned: the app lacks 邮箱等个人信息 (email and personal info) — grant it at open-dev.dingtalk.com → the app → 权限管理 / Permissions")
		}
	}
	rc.Problems = append(rc.Problems, problems...)
	rc.Complete = len(rc.Problems) == 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// IncompleteError is the error for a pull that cannot vouch for
// completeness (exit status 5), listing every reason.
func IncompleteError(rc *dingbook.Receipt) error {
	return &dingbook.Error{Code: dingbook.EINCOMPLETE,
		Message: fmt.Sprintf("the pull cannot vouch for completeness (%d reason(s)):\n  - %s", len(rc.Problems), strings.Join(rc.Problems, "\n  - ")),
		Hint:    "fix the reasons above and rerun (finished departments are not fetched again), or allow a partial pull to store the snapshot marked incomplete", Field: "allow_partial"}
}
