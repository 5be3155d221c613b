// Package pipeline reads a dingbook.Directory in chunks of consecutive
// people on a goroutine of its own, has each chunk prepared on worker
// goroutines, and hands every person to the caller in directory order:
//
//	reader ─▶ workers: Prepare (then After, with one worker) ─▶ Each, in order
//
// The reader (a stored snapshot's SQLite and JSON decoding, a member
// file's parsing) so overlaps with whatever the caller does with each
// person. clean.Analyze uses it to normalise people on every core and
// commit them in order; export.Run to analyse them on one goroutine
// beside the one writing the spreadsheet.
package pipeline

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/dingbook/dingbook"
)

// Size is how many people travel together.
const Size = 256

// Chunk is a run of consecutive people, copied out of the directory with
// their memberships (a Directory may reuse the Person it hands over), and
// what Prepare made of them.
type Chunk[T any] struct {
	People []dingbook.Person
	Data   T
	depts  []dingbook.Membership
	ready  chan struct{} // closed once prepared
	refs   atomic.Int32  // goroutines still using the chunk; the last recycles it
}

// add copies p, with its memberships, into the chunk.
func (c *Chunk[T]) add(p *dingbook.Person) {
	c.People = append(c.People, *p)
	cp := &c.People[len(c.People)-1]
	start := len(c.depts)
	c.depts = append(c.depts, p.Depts...)
	cp.Depts = c.depts[start:len(c.depts):len(c.depts)]
}

func (c *Chunk[T]) reset() {
	c.People, c.depts = c.People[:0], c.depts[:0]
}

// Pipeline is one pass over a directory.
type Pipeline[T any] struct {
	// Workers is the number of goroutines running Prepare (0 means 1).
	Workers int
	// Prepare works on a chunk before its people reach Each; it may be
	// nil. Chunks are reused: Prepare should reuse c.Data's memory.
	Prepare func(c *Chunk[T])
	// After runs on the worker once Prepare has released the chunk to
	// Each, in directory order; it needs a single worker. It may be nil.
	After func(c *Chunk[T])
	// Each is called for person i of a chunk, for every person in
	// directory order, on the goroutine that called Run. The first error
	// stops the pass.
	Each func(c *Chunk[T], i int) error
}

// RunSync is Run on the calling goroutine alone, for a directory that
// must not be read while Each runs (a member file whose department tree
// grows as it is read): each chunk is prepared, handed to Each and to
// After before the next person is read.
func (pl Pipeline[T]) RunSync(ctx context.Context, d dingbook.Directory) error {
	c := &Chunk[T]{People: make([]dingbook.Person, 0, Size)}
	flush := func() error {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if pl.Prepare != nil {
			pl.Prepare(c)
		}
		for i := range c.People {
			if err := pl.Each(c, i); err != nil {
				return err
			}
		}
		if pl.After != nil {
			pl.After(c)
		}
		c.reset()
		return nil
	}
	err := d.EachPerson(ctx, func(p *dingbook.Person) error {
		c.add(p)
		if len(c.People) == Size {
			return flush()
		}
		return nil
	})
	if err == nil && len(c.People) > 0 {
		err = flush()
	}
	return err
}

// Run makes the pass. It returns once every goroutine it started has
// stopped, with Each's error, else the directory's.
func (pl Pipeline[T]) Run(ctx context.Context, d dingbook.Directory) error {
	workers := max(pl.Workers, 1)
	if pl.After != nil && workers != 1 {
		panic("pipeline: After needs a single worker")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	order := make(chan *Chunk[T], 4+2*workers)
	work := make(chan *Chunk[T], 4+2*workers)
	free := make(chan *Chunk[T], 8+4*workers)
	newChunk := func() *Chunk[T] {
		var c *Chunk[T]
		select {
		case c = <-free:
			c.reset()
		default:
			c = &Chunk[T]{People: make([]dingbook.Person, 0, Size)}
		}
		if pl.Prepare != nil {
			c.ready = make(chan struct{})
			c.refs.Store(2) // a worker and Each
		} else {
			c.refs.Store(1)
		}
		return c
	}
	release := func(c *Chunk[T]) {
		if c.refs.Add(-1) == 0 {
			select {
			case free <- c:
			default:
			}
		}
	}

	var wg sync.WaitGroup
	if pl.Prepare != nil {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for c := range work {
					pl.Prepare(c)
					close(c.ready)
					if pl.After != nil {
						pl.After(c)
					}
					release(c)
				}
			}()
		}
	}

	var readErr error
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(order)
		defer close(work)
		cur := newChunk()
		send := func() error {
			if pl.Prepare != nil {
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
			if len(cur.People) == Size {
				return send()
			}
			return nil
		})
		if readErr == nil && len(cur.People) > 0 {
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
		if err = ctx.Err(); err != nil {
			err = context.Cause(ctx)
			continue
		}
		for i := range c.People {
			if err = pl.Each(c, i); err != nil {
				cancel()
				break
			}
		}
		if err == nil {
			release(c)
		}
	}
	<-readDone
	wg.Wait()
	if err != nil {
		return err
	}
	return readErr
}
