package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ExportRequest is one stored export request (migration
// 010_export_request.sql); Doc is app's JSON of it.
type ExportRequest struct {
	ID, Requester, State string
	Doc                  []byte
	Created, Updated     time.Time
}

// PutExportRequest inserts or replaces a request, in the transaction that
// records it in the audit log.
func (tx *Tx) PutExportRequest(r ExportRequest) error {
	_, err := tx.tx.ExecContext(tx.ctx, `INSERT INTO export_request (id, requester, state, doc, created_at, updated_at) VALUES (?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, doc = excluded.doc, updated_at = excluded.updated_at`,
		r.ID, r.Requester, r.State, string(r.Doc), tsNano(r.Created), tsNano(r.Updated))
	return err
}

// ExportRequest returns the request with id, or nil when there is none.
func (db *DB) ExportRequest(ctx context.Context, id string) (*ExportRequest, error) {
	rs, err := db.exportRequests(ctx, `WHERE id = ?`, id)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return &rs[0], nil
}

// ExportRequests lists every request, oldest first.
func (db *DB) ExportRequests(ctx context.Context) ([]ExportRequest, error) {
	return db.exportRequests(ctx, ``)
}

func (db *DB) exportRequests(ctx context.Context, where string, args ...any) ([]ExportRequest, error) {
	rows, err := db.sdb.QueryContext(ctx, `SELECT id, requester, state, doc, created_at, updated_at FROM export_request `+where+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ExportRequest
	for rows.Next() {
		var r ExportRequest
		var doc, created, updated string
		if err := rows.Scan(&r.ID, &r.Requester, &r.State, &doc, &created, &updated); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil, nil
			}
			return nil, err
		}
		r.Doc = []byte(doc)
		r.Created, _ = time.Parse(time.RFC3339Nano, created)
		r.Updated, _ = time.Parse(time.RFC3339Nano, updated)
		out = append(out, r)
	}
	return out, rows.Err()
}
