package clean

import (
	"context"
	"hash/maphash"
	"math/bits"

	"github.com/dingbook/dingbook"
)

// Live is an analysis that rides along with another pass over a
// directory (an export), so the source is read once: the pass hands
// batches of people to Prepare (on any goroutines), learns from the
// prepared batch whether each person needs filling in before it writes
// that person's row, and hands every batch to Commit in directory order.
// Report then gives the same report as Analyze.
//
// A row's status depends on one thing the person alone does not show:
// whether their manager exists. So NewLive takes that answer up front
// (ListedUserIDs, from every userid of the directory; MissingManagers,
// from a list the directory recorded).
type Live struct {
	a      *Analyzer
	exists func(userid string) bool
}

// Batch is one run of consecutive people prepared for Commit.
type Batch struct {
	prep []prepared
	n    int
	// Fill[i] reports whether person i has one of the FillProblems: the
	// "Needs filling" status.
	Fill []bool
}

// NewLive starts a live analysis. managerExists reports whether a
// manager_userid names somebody in the directory (compared exactly); it
// is called from many goroutines at once.
func NewLive(opts Options, managerExists func(userid string) bool) *Live {
	a := NewAnalyzer(opts)
	l := &Live{a: a, exists: managerExists}
	if opts.SizeHint > 0 {
		a.presize(opts.SizeHint)
	}
	return l
}

// ListedUserIDs returns the managerExists of NewLive for a directory
// that lists its userids (each, e.g. dingbook.UserIDLister.EachUserID):
// a set of their hashes (8 bytes a slot, half full at most).
func ListedUserIDs(ctx context.Context, each func(ctx context.Context, fn func(string) error) error, sizeHint int) (func(string) bool, error) {
	seed := maphash.MakeSeed()
	keys := make([]uint64, 0, sizeHint)
	err := each(ctx, func(id string) error {
		if id != "" {
			keys = append(keys, maphash.String(seed, id))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	set := newIDSet(keys)
	return func(id string) bool { return set.has(maphash.String(seed, id)) }, nil
}

// MissingManagers returns the managerExists of NewLive for a directory
// that knows which manager_userids name nobody
// (dingbook.MissingManagerLister).
func MissingManagers(missing []string) func(string) bool {
	set := make(map[string]struct{}, len(missing))
	for _, id := range missing {
		set[id] = struct{}{}
	}
	return func(id string) bool {
		_, gone := set[id]
		return !gone
	}
}

// Prepare analyses people into b. It touches nothing shared and may run
// on many goroutines at once.
func (l *Live) Prepare(people []dingbook.Person, b *Batch) {
	l.a.prepareBatch(people, b, l.exists)
}

// Commit adds a prepared batch to the report. Call it from one goroutine,
// for every batch, in directory order.
func (l *Live) Commit(b *Batch) {
	l.a.touch(b.prep[:b.n])
	for i := range b.prep[:b.n] {
		l.a.commit(&b.prep[i])
	}
}

// prepareBatch prepares people into b (reusing its memory). With
// managerExists, it also sets b.Fill; Analyze, which resolves managers at
// the end, passes nil.
func (a *Analyzer) prepareBatch(people []dingbook.Person, b *Batch, managerExists func(string) bool) {
	if cap(b.prep) < len(people) {
		b.prep = make([]prepared, len(people))
		b.Fill = make([]bool, len(people))
	}
	b.prep, b.Fill, b.n = b.prep[:len(people)], b.Fill[:len(people)], len(people)
	for i := range people {
		pp := &b.prep[i]
		a.r.prepare(&people[i], pp)
		b.Fill[i] = false
		if managerExists == nil || pp.skip {
			continue
		}
		s := pp.set
		if pp.manager != "" && !managerExists(pp.manager) {
			s |= Bit(dingbook.ProblemManagerNotFound)
		}
		b.Fill[i] = s&FillProblems != 0
	}
}

// Report finishes the analysis of dir (for its departments and names).
func (l *Live) Report(dir dingbook.Directory) *Report {
	r := l.a.Report(dir.Departments())
	r.Org, r.CorpID = dir.Info()
	l.Close()
	return r
}

// Close ends the analysis early (Report closes it too): it lets go of the
// analysis's tables. It changes no process-wide setting (the
// collector's target is left alone, so that concurrent exports do not
// undo each other's). Safe to call more than once.
func (l *Live) Close() {
	l.a, l.exists = nil, nil // the tables are garbage from now on
}

// idSet is a read-only set of 64-bit keys: open addressing with linear
// probing at a load of at most 1/2 (8 bytes a slot; 0 marks an empty
// slot, so a key of 0 is kept aside).
type idSet struct {
	slots []uint64
	zero  bool
}

func newIDSet(keys []uint64) idSet {
	n := 16
	for n < 2*len(keys) {
		n <<= 1
	}
	s := idSet{slots: make([]uint64, n)}
	for _, k := range keys {
		if k == 0 {
			s.zero = true
			continue
		}
		hi, _ := bits.Mul64(k, uint64(n))
		for i := int(hi); ; i++ {
			if i == n {
				i = 0
			}
			if s.slots[i] == 0 {
				s.slots[i] = k
				break
			}
			if s.slots[i] == k {
				break
			}
		}
	}
	return s
}

func (s idSet) has(k uint64) bool {
	if k == 0 {
		return s.zero
	}
	n := len(s.slots)
	if n == 0 {
		return false
	}
	hi, _ := bits.Mul64(k, uint64(n))
	for i := int(hi); ; i++ {
		if i == n {
			i = 0
		}
		switch s.slots[i] {
		case k:
			return true
		case 0:
			return false
		}
	}
}
