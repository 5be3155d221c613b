package store

// The seam for a second backend. Everything above store calls typed
// methods of DB and Tx and never sees SQL, rows or database/sql. What is
// SQLite's own is gathered here (the driver and its connection settings:
// WAL, busy timeout, BEGIN IMMEDIATE for every write transaction), in the
// migrations, and in the statements commented "SQLite:" where they are:
// INSERT OR IGNORE/REPLACE (pull checkpoints), LastInsertId (snapshot, pull
// run and holding ids), CAST(data AS TEXT) LIKE over the stored JSON
// (who-has), rowid order (audit verification), and secure_delete, VACUUM
// and wal_checkpoint (wipe). The rest is SQL that PostgreSQL shares but
// for the '?' placeholders, which a PostgreSQL dialect would rebind in one
// place. A PostgreSQL store keeps the methods, opens with its own dialect
// and migrations (migration/postgres/*.sql), writes ON CONFLICT and
// RETURNING id for the statements above, and serialises audit appends in
// Write with a lock on the chain's head (SELECT … FOR UPDATE) where SQLite
// has BEGIN IMMEDIATE.

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
