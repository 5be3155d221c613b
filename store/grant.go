package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Grant is one stored grant (migration 012_grant.sql); Doc is app's JSON
// of it.
type Grant struct {
	ID, RequestID, Grantee, State string
	Doc                           []byte
	Created, Updated              time.Time
}

// InsertGrant stores a new grant, in the transaction that records it in
// the audit log. It reports false (and writes nothing) when the request
// already has its grant.
func (tx *Tx) InsertGrant(g Grant) (bool, error) {
	// SQLite: INSERT OR IGNORE
	n, err := tx.affected(`INSERT OR IGNORE INTO export_grant (id, request_id, grantee, state, doc, created_at, updated_at) VALUES (?,?,?,?,?,?,?)`,
		g.ID, g.RequestID, g.Grantee, g.State, string(g.Doc), tsNano(g.Created), tsNano(g.Updated))
	return n > 0, err
}

// UpdateGrant replaces a grant's state and doc, in the transaction that
// records the change in the audit log, when its stored state is one of
// from. It reports false (and writes nothing) otherwise: the grant
// changed meanwhile (another request or process ended it).
func (tx *Tx) UpdateGrant(g Grant, from ...string) (bool, error) {
	args := []any{g.State, string(g.Doc), tsNano(g.Updated), g.ID}
	for _, f := range from {
		args = append(args, f)
	}
	n, err := tx.affected(`UPDATE export_grant SET state = ?, doc = ?, updated_at = ? WHERE id = ? AND state IN (?`+strings.Repeat(",?", max(len(from)-1, 0))+`)`, args...)
	return n > 0, err
}

// Grant returns the grant with id, or nil when there is none.
func (db *DB) Grant(ctx context.Context, id string) (*Grant, error) {
	gs, err := db.grants(ctx, `WHERE id = ?`, id)
	if err != nil || len(gs) == 0 {
		return nil, err
	}
	return &gs[0], nil
}

// Grants lists every grant, oldest first.
func (db *DB) Grants(ctx context.Context) ([]Grant, error) {
	return db.grants(ctx, ``)
}

func (db *DB) grants(ctx context.Context, where string, args ...any) ([]Grant, error) {
	rows, err := db.sdb.QueryContext(ctx, `SELECT id, request_id, grantee, state, doc, created_at, updated_at FROM export_grant `+where+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Grant
	for rows.Next() {
		var g Grant
		var doc, created, updated string
		if err := rows.Scan(&g.ID, &g.RequestID, &g.Grantee, &g.State, &doc, &created, &updated); err != nil {
			return nil, err
		}
		g.Doc = []byte(doc)
		g.Created, _ = time.Parse(time.RFC3339Nano, created)
		g.Updated, _ = time.Parse(time.RFC3339Nano, updated)
		out = append(out, g)
	}
	return out, rows.Err()
}

// GrantDownload is one bundle built for a grant and its one-time link.
type GrantDownload struct {
	TokenHash, GrantID, ExportID, Path, SHA256 string
	Created, Expires                           time.Time
	// Used is zero until the link was used.
	Used time.Time
}

// AddGrantDownload stores a bundle's link, in the transaction that
// records the grant's new state.
func (tx *Tx) AddGrantDownload(d GrantDownload) error {
	_, err := tx.tx.ExecContext(tx.ctx, `INSERT INTO grant_download (token_hash, grant_id, export_id, path, sha256, created_at, expires_at) VALUES (?,?,?,?,?,?,?)`,
		d.TokenHash, d.GrantID, d.ExportID, d.Path, d.SHA256, tsNano(d.Created), tsNano(d.Expires))
	return err
}

// UseGrantDownload marks the link whose token hash is hash used at t, in
// the transaction that records the download. It reports false when the
// link was used already (or is unknown): a link works once.
func (tx *Tx) UseGrantDownload(hash string, t time.Time) (bool, error) {
	n, err := tx.affected(`UPDATE grant_download SET used_at = ? WHERE token_hash = ? AND used_at = ''`, tsNano(t), hash)
	return n > 0, err
}

const grantDownloadCols = `SELECT token_hash, grant_id, export_id, path, sha256, created_at, expires_at, used_at FROM grant_download`

func scanGrantDownload(scan func(...any) error) (*GrantDownload, error) {
	var d GrantDownload
	var created, expires, used string
	if err := scan(&d.TokenHash, &d.GrantID, &d.ExportID, &d.Path, &d.SHA256, &created, &expires, &used); err != nil {
		return nil, err
	}
	d.Created, _ = time.Parse(time.RFC3339Nano, created)
	d.Expires, _ = time.Parse(time.RFC3339Nano, expires)
	if used != "" {
		d.Used, _ = time.Parse(time.RFC3339Nano, used)
	}
	return &d, nil
}

// GrantDownloadByHash returns the link whose token hash is hash, or nil.
func (db *DB) GrantDownloadByHash(ctx context.Context, hash string) (*GrantDownload, error) {
	d, err := scanGrantDownload(db.sdb.QueryRowContext(ctx, grantDownloadCols+` WHERE token_hash = ?`, hash).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return d, err
}

// GrantDownloads lists the links of grant id, oldest first, inside the
// transaction: a revocation reads them under the write lock, so no
// bundle's link lands between its read and its commit.
func (tx *Tx) GrantDownloads(id string) ([]GrantDownload, error) {
	rows, err := tx.tx.QueryContext(tx.ctx, grantDownloadCols+` WHERE grant_id = ? ORDER BY created_at`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []GrantDownload
	for rows.Next() {
		d, err := scanGrantDownload(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, *d)
	}
	return out, rows.Err()
}

// GrantState returns the stored state of grant id ("" when there is
// none), inside the transaction: a bundle's recording checks under the
// write lock that its grant is still live.
func (tx *Tx) GrantState(id string) (string, error) {
	var state string
	err := tx.tx.QueryRowContext(tx.ctx, `SELECT state FROM export_grant WHERE id = ?`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return state, err
}
