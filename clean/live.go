package clean

import (
	"context"
	"math/bits"
	"runtime"

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
// whether their manager exists. So NewLive first takes every userid of
// the directory (a stored snapshot lists them from an index, far cheaper
// than reading the people).
type Live struct {
	a       *Analyzer
	known   idSet  // userKey of every userid listed to NewLive
	restore func() // undoes lowerGCPercent
}

// Batch is one run of consecutive people prepared for Commit.
type Batch struct {
	prep []prepared
	n    int
	// Fill[i] reports whether person i has one of the FillProblems: the
	// "Needs filling" status.
	Fill []bool
}

// NewLive starts a live analysis. userIDs calls its function with every
// userid of the directory (in any order; empty ones are skipped).
func NewLive(ctx context.Context, opts Options, userIDs func(ctx context.Context, fn func(string) error) error) (*Live, error) {
	a := NewAnalyzer(opts)
	l := &Live{a: a}
	var keys []uint64
	if opts.SizeHint > 0 {
		keys = make([]uint64, 0, opts.SizeHint)
	}
	err := userIDs(ctx, func(id string) error {
		if id != "" {
			keys = append(keys, a.r.userKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	l.known = newIDSet(keys)
	n := max(opts.SizeHint, len(keys))
	a.presize(n)
	// As in Analyze: the tables are big and pointer-free, so a lower
	// collector target keeps the heap near them instead of doubling it.
	l.restore = func() {}
	if n >= bigOrg {
		l.restore = lowerGCPercent()
	}
	return l, nil
}

// Prepare analyses people into b. It touches nothing shared and may run
// on many goroutines at once.
func (l *Live) Prepare(people []dingbook.Person, b *Batch) {
	if cap(b.prep) < len(people) {
		b.prep = make([]prepared, len(people))
		b.Fill = make([]bool, len(people))
	}
	b.prep, b.Fill, b.n = b.prep[:len(people)], b.Fill[:len(people)], len(people)
	r := l.a.r
	for i := range people {
		pp := &b.prep[i]
		r.prepare(&people[i], pp)
		s := pp.set
		if pp.manager != "" && !l.known.has(pp.mgrKey) {
			s |= Bit(dingbook.ProblemManagerNotFound)
		}
		b.Fill[i] = s&FillProblems != 0
	}
}

// Commit adds a prepared batch to the report. Call it from one goroutine,
// for every batch, in directory order.
func (l *Live) Commit(b *Batch) {
	l.a.touch(b.prep[:b.n])
	for i := range b.prep[:b.n] {
		l.a.commit(&b.prep[i])
	}
}

// Report finishes the analysis of dir (for its departments and names).
func (l *Live) Report(dir dingbook.Directory) *Report {
	r := l.a.Report(dir.Departments())
	r.Org, r.CorpID = dir.Info()
	l.a, l.known = nil, idSet{}
	l.Close()
	if r.People >= bigOrg {
		// As in Analyze: the tables are garbage now; one collection bases
		// the next heap goal on what is left, not on them.
		runtime.GC()
	}
	return r
}

// Close ends the analysis early (Report closes it too): it restores the
// collector's target. Safe to call more than once.
func (l *Live) Close() {
	if l.restore != nil {
		l.restore()
		l.restore = nil
	}
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
