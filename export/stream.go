package export

import (
	"context"
	"sync/atomic"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/clean"
)

// chunkSize is how many people travel together through the pipeline.
const chunkSize = 256

// chunk is a run of consecutive people, copied out of the directory
// (with their memberships) so the reader can go on while they are
// written.
type chunk struct {
	people []dingbook.Person
	depts  []dingbook.Membership
	q      clean.Batch
	ready  chan struct{} // closed once prepared (when there is a prepare stage)
	refs   atomic.Int32  // goroutines still using the chunk; the last recycles it
}

// pipeline is how a pass reads the directory:
//
//	reader ─▶ worker: prepare, then after (optional) ─▶ each, in order
//
// The reader (the directory's own decoding: JSON for a stored snapshot)
// runs on its own goroutine, so it overlaps with the writers. The worker
// prepares each chunk (the quality analysis: normalise, check, hash),
// releases it to each, and then runs after on it (the analysis's
// in-order commit), one chunk after another. each runs on the calling
// goroutine for every person in directory order: it is the critical path
// (the XLSX writer), so the rest is kept to two goroutines beside it.
type pipeline struct {
	prepare func(*chunk)            // may be nil
	each    func(*chunk, int) error // person i of the chunk
	after   func(*chunk)            // with prepare only; may be nil
}

// runSync is run on the calling goroutine alone, for a directory whose
// department tree grows as it is read (each reads the tree): people are
// gathered into chunks and each chunk is prepared, written and handed to
// after before the next person is read.
func (pl pipeline) runSync(ctx context.Context, d dingbook.Directory) error {
	c := &chunk{people: make([]dingbook.Person, 0, chunkSize)}
	flush := func() error {
		if pl.prepare != nil {
			pl.prepare(c)
		}
		for i := range c.people {
			if err := pl.each(c, i); err != nil {
				return err
			}
		}
		if pl.after != nil {
			pl.after(c)
		}
		c.people, c.depts = c.people[:0], c.depts[:0]
		return nil
	}
	err := d.EachPerson(ctx, func(p *dingbook.Person) error {
		c.add(p)
		if len(c.people) == chunkSize {
			return flush()
		}
		return nil
	})
	if err == nil && len(c.people) > 0 {
		err = flush()
	}
	return err
}

// add copies p, with its memberships, into the chunk.
func (c *chunk) add(p *dingbook.Person) {
	c.people = append(c.people, *p)
	cp := &c.people[len(c.people)-1]
	start := len(c.depts)
	c.depts = append(c.depts, p.Depts...)
	cp.Depts = c.depts[start:len(c.depts):len(c.depts)]
}

func (pl pipeline) run(ctx context.Context, d dingbook.Directory) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	order := make(chan *chunk, 8)
	work := make(chan *chunk, 8)
	free := make(chan *chunk, 24)
	newChunk := func() *chunk {
		var c *chunk
		select {
		case c = <-free:
			c.people, c.depts = c.people[:0], c.depts[:0]
		default:
			c = &chunk{people: make([]dingbook.Person, 0, chunkSize)}
		}
		if pl.prepare != nil {
			c.ready = make(chan struct{})
			c.refs.Store(2) // the worker and each
		} else {
			c.refs.Store(1)
		}
		return c
	}
	release := func(c *chunk) {
		if c.refs.Add(-1) == 0 {
			select {
			case free <- c:
			default:
			}
		}
	}

	workerDone := make(chan struct{})
	if pl.prepare != nil {
		go func() {
			defer close(workerDone)
			for c := range work {
				pl.prepare(c)
				close(c.ready)
				if pl.after != nil {
					pl.after(c)
				}
				release(c)
			}
		}()
	} else {
		close(workerDone)
	}

	var readErr error
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(order)
		defer close(work)
		cur := newChunk()
		send := func() error {
			if pl.prepare != nil {
				select {
				case work <- cur:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			select {
			case order <- cur:
			case <-ctx.Done():
				return ctx.Err()
			}
			cur = newChunk()
			return nil
		}
		readErr = d.EachPerson(ctx, func(p *dingbook.Person) error {
			cur.add(p)
			if len(cur.people) == chunkSize {
				return send()
			}
			return nil
		})
		if readErr == nil && len(cur.people) > 0 {
			readErr = send()
		}
	}()

	var err error
	for c := range order {
		if err != nil {
			continue // drain, so the reader can stop
		}
		if c.ready != nil {
			<-c.ready
		}
		for i := range c.people {
			if err = pl.each(c, i); err != nil {
				cancel()
				break
			}
		}
		if err == nil {
			release(c)
		}
	}
	<-readDone
	<-workerDone
	if err != nil {
		return err
	}
	return readErr
}
