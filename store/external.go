package store

import (
	"context"
	"time"
)

// ExternalWithdrawal says that an external contact's consent was
// withdrawn, when and by whom (migration 014_external_consent.sql).
type ExternalWithdrawal struct {
	// Seq orders withdrawals: a later one has a larger Seq.
	Seq     int64     `json:"seq"`
	Contact string    `json:"contact"`
	Time    time.Time `json:"time"`
	By      string    `json:"by"`
}

// WithdrawExternal marks contact's consent withdrawn at t by actor, in the
// transaction of the audit record that says so. A contact already marked
// keeps its first mark (false).
func (tx *Tx) WithdrawExternal(contact string, t time.Time, actor string) (bool, error) {
	// SQLite: INSERT OR IGNORE.
	n, err := tx.affected(`INSERT OR IGNORE INTO external_consent (contact, withdrawn_at, withdrawn_by) VALUES (?,?,?)`, contact, tsNano(t), actor)
	return n == 1, err
}

// ExternalWithdrawals returns every withdrawal by contact id.
func (db *DB) ExternalWithdrawals(ctx context.Context) (map[string]ExternalWithdrawal, error) {
	rows, err := db.sdb.QueryContext(ctx, `SELECT seq, contact, withdrawn_at, withdrawn_by FROM external_consent`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]ExternalWithdrawal{}
	for rows.Next() {
		var w ExternalWithdrawal
		var t string
		if err := rows.Scan(&w.Seq, &w.Contact, &t, &w.By); err != nil {
			return nil, err
		}
		w.Time, _ = time.Parse(time.RFC3339Nano, t)
		out[w.Contact] = w
	}
	return out, rows.Err()
}
