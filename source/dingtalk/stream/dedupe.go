package stream

import (
	"container/list"
	"sync"
)

// Deduper remembers which events were handled, by Event.ID. The client
// asks Seen before calling the handler (a seen event is acknowledged
// without calling it) and calls Done after the handler returned nil, so a
// failed event is never remembered. A consumer that applies events to a
// store should implement it there, in the same transaction as the change,
// so that duplicates are recognised across restarts; the default is an
// in-memory LRU.
type Deduper interface {
	Seen(id string) bool
	Done(id string)
}

// LRU is a Deduper that remembers the last N event ids in memory.
type LRU struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = newest
	ids   map[string]*list.Element
}

// NewLRU returns an LRU remembering n ids (n ≤ 0: 4096).
func NewLRU(n int) *LRU {
	if n <= 0 {
		n = 4096
	}
	return &LRU{max: n, order: list.New(), ids: map[string]*list.Element{}}
}

// Seen implements Deduper.
func (l *LRU) Seen(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.ids[id]
	if ok {
		l.order.MoveToFront(el)
	}
	return ok
}

// Done implements Deduper.
func (l *LRU) Done(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.ids[id]; ok {
		l.order.MoveToFront(el)
		return
	}
	l.ids[id] = l.order.PushFront(id)
	for l.order.Len() > l.max {
		old := l.order.Back()
		l.order.Remove(old)
		delete(l.ids, old.Value.(string))
	}
}
