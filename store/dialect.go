package store

// The seam for a second backend. Everything above store calls typed
// methods of DB and Tx; what is SQLite's own is gathered here and in the
// migrations: the driver and its connection settings (WAL, busy timeout,
// BEGIN IMMEDIATE for every write transaction), and the SQL text of the
// methods, written in the subset SQLite and PostgreSQL share except for
// the placeholders ('?'; PostgreSQL's $1 would be rebound in one place)
// and the few statements marked "SQLite:" (blob functions, VACUUM,
// secure_delete, rowid). A PostgreSQL store would keep the same methods,
// open with its own dialect and migrations (migration/postgres/*.sql),
// begin writes with a lock on the audit chain (SELECT … FOR UPDATE on its
// head) instead of BEGIN IMMEDIATE, and need no wsem across processes.

type sqlDialect struct {
	driver string
	dsn    func(path string) string
}

var dialect = sqlDialect{
	driver: "sqlite",
	dsn: func(path string) string {
		return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	},
}
