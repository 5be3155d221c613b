package store

import (
	"context"
	"database/sql"
	"sync"
)

// generation watches the database for commits: a connection of its own,
// which never writes, and its prepared statement. Concurrent callers
// share a query, never one that started before they called (it could
// miss a commit they must see): callers arriving while a query runs wait
// for the next one, which one of them runs for all.
type generation struct {
	mu   sync.Mutex
	cond *sync.Cond
	conn *sql.Conn
	stmt *sql.Stmt
	// epoch counts the connections opened: a new one's data_version
	// starts afresh, so the epoch is part of the number
	epoch int64
	// running: a query runs; pending is the round the callers arriving
	// now wait for (nil: none yet)
	running bool
	pending *genRound
}

type genRound struct {
	done bool
	v    int64
	err  error
}

// Generation returns a number that changes whenever a change is committed
// to the database, by this process or another (a CLI pull beside a
// server). A value read from the database stays true while the
// generation read before it is current, so a cache of rows can check one
// number instead of querying them again. SQLite: PRAGMA data_version on a
// connection that never writes (it changes for every other connection's
// commit). Under a context of OneLook, the first number read is the
// answer for the rest of it.
func (db *DB) Generation(ctx context.Context) (int64, error) {
	look, _ := ctx.Value(oneLookKey{}).(*oneLook)
	if look == nil || look.db != db {
		return db.generation(ctx)
	}
	look.mu.Lock()
	defer look.mu.Unlock()
	if !look.read {
		v, err := db.generation(ctx)
		if err != nil {
			return 0, err
		}
		look.v, look.read = v, true
	}
	return look.v, nil
}

// oneLook is a context's generation (OneLook), once read.
type oneLook struct {
	db   *DB
	mu   sync.Mutex
	v    int64
	read bool
}

type oneLookKey struct{}

// OneLook returns a context under which Generation reads the database's
// generation once, at its first call, and answers that number after: the
// caches that check it (a request's session, then its directory) see the
// database as it was at that first look, one query instead of one each.
// For a reader only (a GET): one that commits and then reads through a
// cache could be answered from before its own commit.
func (db *DB) OneLook(ctx context.Context) context.Context {
	return context.WithValue(ctx, oneLookKey{}, &oneLook{db: db})
}

// generation reads the generation (Generation without OneLook).
func (db *DB) generation(ctx context.Context) (int64, error) {
	g := &db.gen
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	r := g.pending
	if r == nil {
		r = &genRound{}
		g.pending = r
	}
	for !r.done {
		if g.running {
			g.cond.Wait()
			continue
		}
		// run this round for every caller in it; later callers make the
		// next one
		g.running, g.pending = true, nil
		g.mu.Unlock()
		// one caller's cancellation must not fail the others' round
		v, err := db.dataVersion(context.WithoutCancel(ctx))
		g.mu.Lock()
		r.v, r.err, r.done = v, err, true
		g.running = false
		g.cond.Broadcast()
	}
	return r.v, r.err
}

// dataVersion runs the query (only the caller that set gen.running).
func (db *DB) dataVersion(ctx context.Context) (int64, error) {
	g := &db.gen
	if g.stmt == nil {
		conn, err := db.sdb.Conn(ctx)
		if err != nil {
			return 0, err
		}
		stmt, err := conn.PrepareContext(ctx, `PRAGMA data_version`)
		if err != nil {
			conn.Close()
			return 0, err
		}
		g.conn, g.stmt = conn, stmt
		g.epoch++
	}
	var v int64
	if err := g.stmt.QueryRowContext(ctx).Scan(&v); err != nil {
		// a new connection next time
		g.close()
		return 0, err
	}
	return g.epoch<<40 | v, nil
}

// closeWait closes the connection once no query runs.
func (g *generation) closeWait() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.running {
		g.cond.Wait()
	}
	g.close()
}

func (g *generation) close() {
	if g.stmt != nil {
		g.stmt.Close()
		g.conn.Close()
		g.stmt, g.conn = nil, nil
	}
}
