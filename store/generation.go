package store

import (
	"context"
	"database/sql"
	"sync"
)

// generation watches the database for commits: a connection of its own,
// which never writes, and its prepared statement.
type generation struct {
	mu   sync.Mutex
	conn *sql.Conn
	stmt *sql.Stmt
	// epoch counts the connections opened: a new one's data_version
	// starts afresh, so the epoch is part of the number
	epoch int64
}

// Generation returns a number that changes whenever a change is committed
// to the database, by this process or another (a CLI pull beside a
// server). A value read from the database stays true while the
// generation read before it is current, so a cache of rows can check one
// number instead of querying them again. SQLite: PRAGMA data_version on a
// connection that never writes (it changes for every other connection's
// commit).
func (db *DB) Generation(ctx context.Context) (int64, error) {
	g := &db.gen
	g.mu.Lock()
	defer g.mu.Unlock()
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

func (g *generation) close() {
	if g.stmt != nil {
		g.stmt.Close()
		g.conn.Close()
		g.stmt, g.conn = nil, nil
	}
}
