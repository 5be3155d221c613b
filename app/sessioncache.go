package app

import (
	"context"
	"sync"
)

// sessionCache keeps the sessions read from the store with the store's
// generation read before them (store.DB.Generation): an entry serves only
// while that generation is current, so any commit, by this process or
// another (a logout, a CLI pull ending a leaver's sessions, a timeout, a
// touch), sends the next lookups back to the store, and a session ended
// anywhere is never let through. A request then costs one PRAGMA instead
// of a query.
type sessionCache struct {
	mu   sync.Mutex
	gen  int64
	byID map[string]Session
}

// cachedSession returns the stored session id (nil: none), from the
// cache while nothing has been committed since it was read. The copy
// returned is the caller's; its slices are shared and read-only.
func (a *App) cachedSession(ctx context.Context, id string) (*Session, error) {
	gen, err := a.DB.Generation(ctx)
	if err != nil {
		return nil, err
	}
	c := &a.sessions
	c.mu.Lock()
	s, ok := c.byID[id]
	if c.gen != gen {
		ok = false
	}
	c.mu.Unlock()
	if ok {
		return &s, nil
	}
	stored, err := a.DB.Session(ctx, id)
	if err != nil || stored == nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen != gen || c.byID == nil {
		// a newer generation (or an older one, read by a request that
		// raced this one) empties the cache: it holds one generation
		c.gen, c.byID = gen, map[string]Session{}
	}
	c.byID[id] = *stored
	c.mu.Unlock()
	return stored, nil
}

// OneLook returns a context under which the caches that check the
// database's generation (the sessions here, the live directory) check it
// once, at the first look, and trust that answer for the rest of the
// context (store.DB.OneLook): for a request that only reads (a GET),
// one query instead of one per cache. The request then sees the database
// as it was when it began.
func (a *App) OneLook(ctx context.Context) context.Context { return a.DB.OneLook(ctx) }
