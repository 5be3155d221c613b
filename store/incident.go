package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dingbook/dingbook"
)

// Incident is a breach incident: a holding that was lost or exposed.
type Incident struct {
	ID           string    `json:"id"`
	OpenedAt     time.Time `json:"opened_at"`
	DiscoveredAt time.Time `json:"discovered_at"`
	Deadline     time.Time `json:"deadline"`
	Description  string    `json:"description"`
	HoldingID    int64     `json:"-"`
	// HoldingIDs are every holding the incident covers (a grant's
	// bundles), HoldingID first; read back as [HoldingID] for an incident
	// recorded before migration 016.
	HoldingIDs []int64    `json:"-"`
	People     int        `json:"people"`
	Fields     []string   `json:"fields"`
	Revoked    []string   `json:"revoked"`
	Closed     *time.Time `json:"closed_at,omitempty"`
	AuditSeq   int64      `json:"audit_seq"`
}

// AddIncident records a new incident, in the transaction of its audit
// record (in.AuditSeq).
func (tx *Tx) AddIncident(in *Incident) error {
	f, _ := json.Marshal(nonNil(in.Fields))
	r, _ := json.Marshal(nonNil(in.Revoked))
	ids := in.HoldingIDs
	if len(ids) == 0 {
		ids = []int64{in.HoldingID}
	}
	hs, _ := json.Marshal(ids)
	_, err := tx.tx.ExecContext(tx.ctx, `INSERT INTO incident (id, opened_at, discovered_at, deadline, description, holding_id, people, fields, revoked, audit_seq, holding_ids) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		in.ID, ts(in.OpenedAt), ts(in.DiscoveredAt), ts(in.Deadline), in.Description, in.HoldingID, in.People, string(f), string(r), in.AuditSeq, string(hs))
	return err
}

const incidentCols = `SELECT id, opened_at, discovered_at, deadline, description, holding_id, people, fields, revoked, closed_at, audit_seq, holding_ids FROM incident`

func scanIncident(row interface{ Scan(...any) error }) (*Incident, error) {
	in := &Incident{}
	var opened, disc, dl, f, r, hs string
	var closed sql.NullString
	if err := row.Scan(&in.ID, &opened, &disc, &dl, &in.Description, &in.HoldingID, &in.People, &f, &r, &closed, &in.AuditSeq, &hs); err != nil {
		return nil, err
	}
	json.Unmarshal([]byte(hs), &in.HoldingIDs)
	if len(in.HoldingIDs) == 0 {
		in.HoldingIDs = []int64{in.HoldingID}
	}
	in.OpenedAt, _ = time.Parse(time.RFC3339, opened)
	in.DiscoveredAt, _ = time.Parse(time.RFC3339, disc)
	in.Deadline, _ = time.Parse(time.RFC3339, dl)
	json.Unmarshal([]byte(f), &in.Fields)
	json.Unmarshal([]byte(r), &in.Revoked)
	if closed.Valid {
		t, _ := time.Parse(time.RFC3339, closed.String)
		in.Closed = &t
	}
	return in, nil
}

// FindIncident returns incident id.
func (db *DB) FindIncident(ctx context.Context, id string) (*Incident, error) {
	in, err := scanIncident(db.sdb.QueryRowContext(ctx, incidentCols+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &dingbook.Error{Code: dingbook.ENOTFOUND, Message: fmt.Sprintf("no breach incident %q", id), Hint: "run 'dingbook breach list' to see the incidents"}
	}
	return in, err
}

// Incidents lists incidents, oldest first; open only leaves out closed ones.
func (db *DB) Incidents(ctx context.Context, open bool) ([]*Incident, error) {
	q := incidentCols
	if open {
		q += ` WHERE closed_at IS NULL`
	}
	rows, err := db.sdb.QueryContext(ctx, q+` ORDER BY opened_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Incident
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// CloseIncident marks incident id closed at t, in the transaction of the
// audit record that says so; it reports whether it was open.
func (tx *Tx) CloseIncident(id string, t time.Time) (bool, error) {
	res, err := tx.tx.ExecContext(tx.ctx, `UPDATE incident SET closed_at = ? WHERE id = ? AND closed_at IS NULL`, ts(t), id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
