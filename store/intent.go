package store

import (
	"context"
	"time"
)

// ExportIntent says a bundle is about to be sealed at Path by the process
// whose private working directory is Workdir (migration
// 006_export_intent.sql).
type ExportIntent struct {
	ID, Actor, Action, Path, Workdir string
	Created                          time.Time
}

// AddExportIntent records that e's bundle is about to be written.
func (db *DB) AddExportIntent(ctx context.Context, e ExportIntent) error {
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(tx.ctx, `INSERT INTO export_intent (id, created_at, actor, action, path, workdir) VALUES (?,?,?,?,?,?)`,
			e.ID, ts(e.Created), e.Actor, e.Action, e.Path, e.Workdir)
		return err
	})
}

// ExportIntents lists the bundles being written (or left by a process
// that died writing them), oldest first.
func (db *DB) ExportIntents(ctx context.Context) ([]ExportIntent, error) {
	rows, err := db.sdb.QueryContext(ctx, `SELECT id, created_at, actor, action, path, workdir FROM export_intent ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ExportIntent
	for rows.Next() {
		var e ExportIntent
		var created string
		if err := rows.Scan(&e.ID, &created, &e.Actor, &e.Action, &e.Path, &e.Workdir); err != nil {
			return nil, err
		}
		e.Created, _ = time.Parse(time.RFC3339, created)
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeleteExportIntent removes export id's intent: in the transaction that
// records the export, or that records the sweep of its orphan.
func (tx *Tx) DeleteExportIntent(id string) error {
	_, err := tx.tx.ExecContext(tx.ctx, `DELETE FROM export_intent WHERE id = ?`, id)
	return err
}

// DeleteExportIntent removes export id's intent on its own (an export that
// failed and removed its bundle).
func (db *DB) DeleteExportIntent(ctx context.Context, id string) error {
	return db.Write(ctx, func(tx *Tx) error { return tx.DeleteExportIntent(id) })
}
