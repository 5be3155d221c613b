package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
)

// dir hands out n people through one reused Person and Depts buffer, as
// the Directory contract allows.
type dir struct{ n int }

func (dir) Info() (string, string)             { return "", "" }
func (dir) Departments() []dingbook.Department { return nil }
func (d dir) EachPerson(ctx context.Context, fn func(*dingbook.Person) error) error {
	var p dingbook.Person
	buf := make([]dingbook.Membership, 1)
	for i := 0; i < d.n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		p = dingbook.Person{UserID: strconv.Itoa(i)}
		buf[0].DeptID = int64(i)
		p.Depts = buf
		if err := fn(&p); err != nil {
			return err
		}
	}
	return nil
}

// TestOrderAndCopies: with several workers, Each still sees every person
// once, in directory order, with the memberships they had when read, and
// Prepare's result travels with its chunk; RunSync gives the same.
func TestOrderAndCopies(t *testing.T) {
	const n = 10*Size + 17
	for _, sync := range []bool{false, true} {
		next := 0
		pl := Pipeline[[]string]{
			Workers: 4,
			Prepare: func(c *Chunk[[]string]) {
				c.Data = c.Data[:0]
				for _, p := range c.People {
					c.Data = append(c.Data, "prepared "+p.UserID)
				}
			},
			Each: func(c *Chunk[[]string], i int) error {
				p := &c.People[i]
				if p.UserID != strconv.Itoa(next) || p.Depts[0].DeptID != int64(next) || c.Data[i] != "prepared "+p.UserID {
					return fmt.Errorf("person %d: got %s, dept %d, %q", next, p.UserID, p.Depts[0].DeptID, c.Data[i])
				}
				next++
				return nil
			},
		}
		run := pl.Run
		if sync {
			run = pl.RunSync
		}
		if err := run(context.Background(), dir{n}); err != nil {
			t.Fatalf("sync=%v: %v", sync, err)
		}
		if next != n {
			t.Fatalf("sync=%v: %d people, want %d", sync, next, n)
		}
	}
}

// TestAfterInOrder: After runs once per chunk, in directory order.
func TestAfterInOrder(t *testing.T) {
	next := 0
	err := Pipeline[struct{}]{
		Prepare: func(*Chunk[struct{}]) {},
		After: func(c *Chunk[struct{}]) {
			if c.People[0].UserID != strconv.Itoa(next) {
				t.Errorf("After got the chunk starting at %s, want %d", c.People[0].UserID, next)
			}
			next += len(c.People)
		},
		Each: func(*Chunk[struct{}], int) error { return nil },
	}.Run(context.Background(), dir{5*Size + 3})
	if err != nil || next != 5*Size+3 {
		t.Fatalf("err %v, After saw %d people", err, next)
	}
}

// TestStops: Each's error, and a cancelled context, end the pass with
// that error and every goroutine stopped.
func TestStops(t *testing.T) {
	before := runtime.NumGoroutine()
	boom := errors.New("boom")
	err := Pipeline[int]{Workers: 3, Prepare: func(*Chunk[int]) {},
		Each: func(c *Chunk[int], i int) error {
			if c.People[i].UserID == "3000" {
				return boom
			}
			return nil
		}}.Run(context.Background(), dir{100 * Size})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = Pipeline[int]{Each: func(c *Chunk[int], i int) error {
		if c.People[i].UserID == "1000" {
			cancel()
		}
		return nil
	}}.Run(ctx, dir{100 * Size})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the passes, %d before", n, before)
	}
}
