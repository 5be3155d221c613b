package export

import (
	"context"
	"runtime"
	"sync"

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
}

// pipeline is how a pass reads the directory:
//
//	reader ─▶ prepare workers (optional) ─▶ each, in order ─▶ after, in order
//
// The reader (the directory's own decoding: JSON for a stored snapshot)
// runs on its own goroutine, so it overlaps with the writers; prepare
// runs on up to GOMAXPROCS workers; each runs on the calling goroutine
// for every person in directory order; after runs on one more goroutine,
// in order, once a chunk is written.
type pipeline struct {
	prepare func(*chunk)            // may be nil
	each    func(*chunk, int) error // person i of the chunk
	after   func(*chunk)            // may be nil
}

func (pl pipeline) run(ctx context.Context, d dingbook.Directory) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := 0
	if pl.prepare != nil {
		workers = runtime.GOMAXPROCS(0)
	}
	order := make(chan *chunk, 4+2*workers)
	work := make(chan *chunk, 4+2*workers)
	free := make(chan *chunk, 8+4*workers)
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
		}
		return c
	}
	recycle := func(c *chunk) {
		select {
		case free <- c:
		default:
		}
	}

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				pl.prepare(c)
				close(c.ready)
			}
		}()
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
			cur.people = append(cur.people, *p)
			cp := &cur.people[len(cur.people)-1]
			start := len(cur.depts)
			cur.depts = append(cur.depts, p.Depts...)
			cp.Depts = cur.depts[start:len(cur.depts):len(cur.depts)]
			if len(cur.people) == chunkSize {
				return send()
			}
			return nil
		})
		if readErr == nil && len(cur.people) > 0 {
			readErr = send()
		}
	}()

	var committed chan *chunk
	afterDone := make(chan struct{})
	if pl.after != nil {
		committed = make(chan *chunk, 4)
		go func() {
			defer close(afterDone)
			for c := range committed {
				pl.after(c)
				recycle(c)
			}
		}()
	} else {
		close(afterDone)
	}

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
		if err != nil {
			continue
		}
		if committed != nil {
			committed <- c
		} else {
			recycle(c)
		}
	}
	if committed != nil {
		close(committed)
	}
	<-afterDone
	wg.Wait()
	<-readDone
	if err != nil {
		return err
	}
	return readErr
}
