package store

// The audit log's rows (migration 003_audit.sql). The chain's logic (the
// hash, the head anchor audit.head, verification) is package audit's;
// store only reads and writes the rows.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AuditRow is one audit_log row as stored: Data is the record's canonical
// JSON the hash covers; Time, Actor, Action and Outcome are copies of it
// for queries.
type AuditRow struct {
	Seq                          int64
	Time, Actor, Action, Outcome string
	Data, PrevHash, Hash         string
}

const auditCols = `SELECT seq, time, actor, action, outcome, data, prev_hash, hash FROM audit_log`

func scanAudit(row interface{ Scan(...any) error }) (AuditRow, error) {
	var r AuditRow
	err := row.Scan(&r.Seq, &r.Time, &r.Actor, &r.Action, &r.Outcome, &r.Data, &r.PrevHash, &r.Hash)
	return r, err
}

// AuditHead returns the seq and hash of the last record as this
// transaction sees it (0 and "" when the log is empty).
func (tx *Tx) AuditHead() (int64, string, error) {
	return auditHead(tx.ctx, tx.tx)
}

// AuditHead returns the seq and hash of the last record (0 and "" when
// the log is empty).
func (db *DB) AuditHead(ctx context.Context) (int64, string, error) {
	return auditHead(ctx, db.sdb)
}

func auditHead(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int64, string, error) {
	var seq int64
	var hash string
	err := q.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("audit: read head: %w", err)
	}
	return seq, hash, nil
}

// AppendAudit inserts r.
func (tx *Tx) AppendAudit(r AuditRow) error {
	if _, err := tx.tx.ExecContext(tx.ctx, `INSERT INTO audit_log (seq, time, actor, action, outcome, data, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)`,
		r.Seq, r.Time, r.Actor, r.Action, r.Outcome, r.Data, r.PrevHash, r.Hash); err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	return nil
}

// AuditRecord returns row seq; ok is false when there is none.
func (db *DB) AuditRecord(ctx context.Context, seq int64) (r AuditRow, ok bool, err error) {
	r, err = scanAudit(db.sdb.QueryRowContext(ctx, auditCols+` WHERE seq = ?`, seq))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// AuditRecordsBySeq returns the rows whose seq is in seqs (one that has
// none is left out), in no particular order: one query per 500 seqs, not
// one per row.
func (db *DB) AuditRecordsBySeq(ctx context.Context, seqs []int64) ([]AuditRow, error) {
	var out []AuditRow
	for batch := range slices.Chunk(seqs, 500) {
		args := make([]any, len(batch))
		for i, s := range batch {
			args[i] = s
		}
		rows, err := db.sdb.QueryContext(ctx, auditCols+` WHERE seq IN (?`+strings.Repeat(",?", len(batch)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			r, err := scanAudit(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, r)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AuditQuery selects rows for EachAudit. Zero fields do not filter.
type AuditQuery struct {
	Since, Until time.Time // time >= Since, time < Until
	Action       string
	Outcome      string
	Actor        string
	// Last keeps only the last Last rows (still in order); Skip leaves
	// out the newest Skip rows before them (a page of the log seeks:
	// LIMIT Last OFFSET Skip, without reading the newer rows).
	Last, Skip int
	// Stored walks the rows in the order they were inserted (SQLite:
	// rowid order) instead of by seq, so that verification sees reordering.
	Stored bool
}

// EachAudit calls fn with the rows q selects, by seq (or as stored).
func (db *DB) EachAudit(ctx context.Context, q AuditQuery, fn func(AuditRow) error) error {
	s := auditCols + ` WHERE 1=1`
	var args []any
	if !q.Since.IsZero() {
		s += ` AND time >= ?`
		args = append(args, q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		s += ` AND time < ?`
		args = append(args, q.Until.UTC().Format(time.RFC3339Nano))
	}
	for _, f := range []struct{ col, v string }{{"action", q.Action}, {"outcome", q.Outcome}, {"actor", q.Actor}} {
		if f.v != "" {
			s += ` AND ` + f.col + ` = ?`
			args = append(args, f.v)
		}
	}
	order := ` ORDER BY seq`
	if q.Stored {
		order = ` ORDER BY rowid`
	}
	if q.Last > 0 {
		s = `SELECT * FROM (` + s + ` ORDER BY seq DESC LIMIT ` + strconv.Itoa(q.Last) + ` OFFSET ` + strconv.Itoa(max(q.Skip, 0)) + `)`
	}
	rows, err := db.sdb.QueryContext(ctx, s+order, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// LastAudit returns the newest row with action and outcome; ok is false
// when there is none.
func (db *DB) LastAudit(ctx context.Context, action, outcome string) (r AuditRow, ok bool, err error) {
	r, err = scanAudit(db.sdb.QueryRowContext(ctx, auditCols+` WHERE action = ? AND outcome = ? ORDER BY seq DESC LIMIT 1`, action, outcome))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}
