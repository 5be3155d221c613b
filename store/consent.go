package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Consent states.
const (
	ConsentGiven     = "given"
	ConsentWithdrawn = "withdrawn"
)

// Consent is one entry of the consent register: a person (userid or an
// external contact's id) gave or withdrew consent for a purpose.
type Consent struct {
	ID        int64     `json:"id"`
	Person    string    `json:"person"`
	Purpose   string    `json:"purpose"`
	State     string    `json:"state"`
	Time      time.Time `json:"time"`
	Reference string    `json:"reference,omitempty"`
	// Fields the consent covers (empty: any). A job asking for more needs
	// fresh consent (R-RECONSENT).
	Fields []string `json:"fields,omitempty"`
}

// ConsentPurpose is how purposes are compared: trimmed, case-folded.
func ConsentPurpose(p string) string { return strings.ToLower(strings.Join(strings.Fields(p), " ")) }

// AddConsents appends entries to the register, in the transaction of the
// audit record that says so.
func (tx *Tx) AddConsents(cs []Consent) error {
	st, err := tx.tx.PrepareContext(tx.ctx, `INSERT INTO consent (person, purpose, state, time, reference, fields) VALUES (?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, c := range cs {
		if c.State != ConsentGiven && c.State != ConsentWithdrawn {
			return fmt.Errorf("consent state %q is neither given nor withdrawn", c.State)
		}
		f, _ := json.Marshal(nonNil(c.Fields))
		if _, err := st.ExecContext(tx.ctx, c.Person, ConsentPurpose(c.Purpose), c.State, ts(c.Time), c.Reference, string(f)); err != nil {
			return err
		}
	}
	return nil
}

// CurrentConsents returns the current entry (the latest by time, then by
// order of entry) for each person and purpose; purpose "" means every
// purpose, person "" every person.
func (db *DB) CurrentConsents(ctx context.Context, purpose, person string) ([]Consent, error) {
	q := `SELECT id, person, purpose, state, time, reference, fields FROM consent WHERE 1=1`
	var args []any
	if purpose != "" {
		q += ` AND purpose = ?`
		args = append(args, ConsentPurpose(purpose))
	}
	if person != "" {
		q += ` AND person = ?`
		args = append(args, person)
	}
	rows, err := db.sdb.QueryContext(ctx, q+` ORDER BY purpose, person, time, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Consent
	for rows.Next() {
		var c Consent
		var t, f string
		if err := rows.Scan(&c.ID, &c.Person, &c.Purpose, &c.State, &t, &c.Reference, &f); err != nil {
			return nil, err
		}
		c.Time, _ = time.Parse(time.RFC3339, t)
		json.Unmarshal([]byte(f), &c.Fields)
		if n := len(out); n > 0 && out[n-1].Person == c.Person && out[n-1].Purpose == c.Purpose {
			out[n-1] = c // a later entry replaces the earlier one
			continue
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Covers reports whether c is a current consent that covers fields.
func (c *Consent) Covers(fields []string) bool {
	if c.State != ConsentGiven {
		return false
	}
	if len(c.Fields) == 0 {
		return true
	}
	for _, f := range fields {
		if !slices.Contains(c.Fields, f) {
			return false
		}
	}
	return true
}
