package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Tx is one write transaction (DB.Write). Its methods are the writes that
// must land together: an audit record with the export it registers and
// the export's holding, or a sweep's record with the removal of the
// orphan it swept.
type Tx struct {
	ctx context.Context
	tx  *sql.Tx
}

// Write runs fn in one write transaction and commits it when fn returns
// nil; any error rolls everything back. The transaction takes the
// database's write lock when it begins (BEGIN IMMEDIATE), so what fn reads
// through tx (the audit chain's head) cannot change before it commits:
// writers of this process queue in order, other processes wait up to the
// busy timeout. fn may do work outside the database while it holds the
// lock (the audit anchor file), but must not call back into db.
func (db *DB) Write(ctx context.Context, fn func(*Tx) error) error {
	select {
	case db.wsem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-db.wsem }()
	sqltx, err := db.sdb.BeginTx(ctx, nil) // BEGIN IMMEDIATE (dialect.dsn)
	if err != nil {
		return fmt.Errorf("begin a write: %w", err)
	}
	defer sqltx.Rollback()
	if err := fn(&Tx{ctx: ctx, tx: sqltx}); err != nil {
		return err
	}
	return sqltx.Commit()
}
