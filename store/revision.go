package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
)

// The live directory's revision log (migration 015_revision.sql).

// Revision causes and change operations.
const (
	CauseEvent = "event"
	CausePull  = "pull"
	OpUpsert   = "upsert"
	OpRemove   = "remove"
)

// Revision is one step of the live directory: the changes of one Stream
// event, or those a pull found the events had missed (its drift).
type Revision struct {
	Rev       int64
	At        time.Time
	Cause     string
	EventID   string // the Stream eventId (empty for a pull)
	EventType string
	// Base is the snapshot the revision applies to.
	Base int64
	// Reset starts the log afresh: tokens before it are no longer valid.
	Reset  bool
	People []PersonChange
	Depts  []DeptChange
}

// PersonChange is one card's change. After is the person after an
// upsert (nil for a remove, and for an upsert of the card alone: a
// department of theirs was renamed or moved); Before is what decides who could see them
// before (departments, restricted and hidden-mobile flags), nil when they
// were not in the directory.
type PersonChange struct {
	UserID        string
	Op            string
	After, Before *dingbook.Person
}

// DeptChange is one department's change; After nil: removed.
type DeptChange struct {
	ID    int64
	After *dingbook.Department
}

// ErrEventApplied is AddRevision's answer to an event already applied
// (its eventId is in the log): nothing was written.
var ErrEventApplied = errors.New("the event was applied already")

// VisibilityOf is the part of p a revision keeps as "before": enough to
// decide who could see p (and p's mobile), nothing else.
func VisibilityOf(p *dingbook.Person) *dingbook.Person {
	if p == nil {
		return nil
	}
	return &dingbook.Person{UserID: p.UserID, Depts: p.Depts, Restricted: p.Restricted, HideMobile: p.HideMobile, Senior: p.Senior}
}

func jsonOrNull(v any, isNil bool) (any, error) {
	if isNil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// ErrBaseChanged is AddRevision's answer to an event revision on a base
// that is no longer the live directory's (another process, a CLI pull,
// bridged to a new snapshot after the event was read): nothing was
// written, and the event is to be applied again over the new base.
var ErrBaseChanged = errors.New("the live directory's base changed while the event was applied: apply it again")

// AddRevision appends r and its changes and sets r.Rev. An event whose
// eventId is in the log already is ErrEventApplied; an event on a base
// other than the latest revision's is ErrBaseChanged (apply would leave
// it out: it reads only its base's events).
func (tx *Tx) AddRevision(r *Revision) error {
	if r.Cause == CauseEvent {
		var base int64
		err := tx.tx.QueryRowContext(tx.ctx, `SELECT base FROM revision ORDER BY rev DESC LIMIT 1`).Scan(&base)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && base != r.Base {
			return ErrBaseChanged
		}
	}
	var eventID any
	if r.EventID != "" {
		var n int
		if err := tx.tx.QueryRowContext(tx.ctx, `SELECT COUNT(*) FROM revision WHERE event_id = ?`, r.EventID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrEventApplied
		}
		eventID = r.EventID
	}
	res, err := tx.tx.ExecContext(tx.ctx, `INSERT INTO revision (at, cause, event_id, event_type, base, reset) VALUES (?,?,?,?,?,?)`,
		tsNano(r.At), r.Cause, eventID, r.EventType, r.Base, r.Reset)
	if err != nil {
		return err
	}
	if r.Rev, err = res.LastInsertId(); err != nil { // SQLite: LastInsertId
		return err
	}
	for _, c := range r.People {
		after, err := jsonOrNull(c.After, c.After == nil)
		if err != nil {
			return err
		}
		before, err := jsonOrNull(VisibilityOf(c.Before), c.Before == nil)
		if err != nil {
			return err
		}
		if _, err := tx.tx.ExecContext(tx.ctx, `INSERT INTO revision_change (rev, userid, op, after, before) VALUES (?,?,?,?,?)`,
			r.Rev, c.UserID, c.Op, after, before); err != nil {
			return fmt.Errorf("store the change of %s: %w", c.UserID, err)
		}
	}
	for _, d := range r.Depts {
		after, err := jsonOrNull(d.After, d.After == nil)
		if err != nil {
			return err
		}
		if _, err := tx.tx.ExecContext(tx.ctx, `INSERT INTO revision_dept (rev, dept_id, after) VALUES (?,?,?)`, r.Rev, d.ID, after); err != nil {
			return fmt.Errorf("store the change of department %d: %w", d.ID, err)
		}
	}
	return nil
}

// EventApplied reports whether the event with this eventId is in the log.
func (db *DB) EventApplied(ctx context.Context, eventID string) (bool, error) {
	var n int
	err := db.sdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM revision WHERE event_id = ?`, eventID).Scan(&n)
	return n > 0, err
}

const revisionCols = `rev, at, cause, coalesce(event_id, ''), event_type, base, reset`

func scanRevision(scan func(...any) error) (*Revision, error) {
	var r Revision
	var at string
	if err := scan(&r.Rev, &at, &r.Cause, &r.EventID, &r.EventType, &r.Base, &r.Reset); err != nil {
		return nil, err
	}
	r.At, _ = time.Parse(time.RFC3339Nano, at)
	return &r, nil
}

// LatestRevision returns the newest revision without its changes, or nil
// when the log is empty.
func (db *DB) LatestRevision(ctx context.Context) (*Revision, error) {
	r, err := scanRevision(db.sdb.QueryRowContext(ctx, `SELECT `+revisionCols+` FROM revision ORDER BY rev DESC LIMIT 1`).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return r, err
}

// BaseStart returns the first revision of base (0: none).
func (db *DB) BaseStart(ctx context.Context, base int64) (int64, error) {
	var rev sql.NullInt64
	err := db.sdb.QueryRowContext(ctx, `SELECT MIN(rev) FROM revision WHERE base = ?`, base).Scan(&rev)
	return rev.Int64, err
}

// RevisionBase returns the base snapshot of revision rev (0: no such
// revision).
func (db *DB) RevisionBase(ctx context.Context, rev int64) (int64, error) {
	var base int64
	err := db.sdb.QueryRowContext(ctx, `SELECT base FROM revision WHERE rev = ?`, rev).Scan(&base)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return base, err
}

// LastReset returns the newest revision that started the log afresh, or
// the oldest one kept when that is newer (PruneRevisions dropped those
// before it); 0: none. A sync token before it is no longer valid.
func (db *DB) LastReset(ctx context.Context) (int64, error) {
	var rev sql.NullInt64
	err := db.sdb.QueryRowContext(ctx, `SELECT MAX(r) FROM (SELECT MAX(rev) AS r FROM revision WHERE reset UNION ALL SELECT MIN(rev) FROM revision)`).Scan(&rev)
	return rev.Int64, err
}

// PruneRevisions deletes, with their changes, the revisions made before
// cutoff and those whose base snapshot is gone (purged), except those of
// base current (the live directory's base, which the index is made
// from), and returns how many it deleted. The sync tokens before the
// revisions kept are then refused (LastReset).
func (tx *Tx) PruneRevisions(cutoff time.Time, current int64) (int, error) {
	// SQLite: the revision_change and revision_dept rows go by ON DELETE
	// CASCADE (foreign_keys on, dialect.go)
	return tx.affected(`DELETE FROM revision WHERE base != ? AND (at < ? OR base NOT IN (SELECT id FROM snapshot))`, current, tsNano(cutoff))
}

// Revisions returns the revisions after rev up to and including upTo
// (0: the newest), oldest first, with their changes.
func (db *DB) Revisions(ctx context.Context, after, upTo int64) ([]Revision, error) {
	if upTo <= 0 {
		upTo = 1<<63 - 1
	}
	rows, err := db.sdb.QueryContext(ctx, `SELECT `+revisionCols+` FROM revision WHERE rev > ? AND rev <= ? ORDER BY rev`, after, upTo)
	if err != nil {
		return nil, err
	}
	var out []Revision
	pos := map[int64]int{}
	for rows.Next() {
		r, err := scanRevision(rows.Scan)
		if err != nil {
			rows.Close()
			return nil, err
		}
		pos[r.Rev] = len(out)
		out = append(out, *r)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	changes, err := db.personChanges(ctx, `SELECT rev, userid, op, after, before FROM revision_change WHERE rev > ? AND rev <= ? ORDER BY rev`, after, upTo)
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		r := &out[pos[c.rev]]
		r.People = append(r.People, c.PersonChange)
	}
	drows, err := db.sdb.QueryContext(ctx, `SELECT rev, dept_id, after FROM revision_dept WHERE rev > ? AND rev <= ? ORDER BY rev`, after, upTo)
	if err != nil {
		return nil, err
	}
	defer drows.Close()
	for drows.Next() {
		var rev int64
		var d DeptChange
		var a sql.NullString
		if err := drows.Scan(&rev, &d.ID, &a); err != nil {
			return nil, err
		}
		if a.Valid {
			d.After = new(dingbook.Department)
			if err := json.Unmarshal([]byte(a.String), d.After); err != nil {
				return nil, fmt.Errorf("revision %d department %d: %w", rev, d.ID, err)
			}
		}
		r := &out[pos[rev]]
		r.Depts = append(r.Depts, d)
	}
	return out, drows.Err()
}

type revChange struct {
	rev int64
	PersonChange
}

func (db *DB) personChanges(ctx context.Context, query string, args ...any) ([]revChange, error) {
	rows, err := db.sdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []revChange
	for rows.Next() {
		var c revChange
		var a, b sql.NullString
		if err := rows.Scan(&c.rev, &c.UserID, &c.Op, &a, &b); err != nil {
			return nil, err
		}
		for _, x := range []struct {
			s  sql.NullString
			to **dingbook.Person
		}{{a, &c.After}, {b, &c.Before}} {
			if !x.s.Valid {
				continue
			}
			*x.to = new(dingbook.Person)
			if err := json.Unmarshal([]byte(x.s.String), *x.to); err != nil {
				return nil, fmt.Errorf("revision %d change of %s: %w", c.rev, c.UserID, err)
			}
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ChangedSince returns, for every userid changed after revision rev, its
// first change after rev (whose Before is what the person was at rev),
// in the order of those first changes: the work of a sync from rev,
// proportional to the changes, not to the directory.
func (db *DB) ChangedSince(ctx context.Context, rev int64) ([]PersonChange, error) {
	changes, err := db.personChanges(ctx, `SELECT rev, userid, op, NULL, before FROM revision_change WHERE rev > ? ORDER BY rev`, rev)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(changes))
	var out []PersonChange
	for _, c := range changes {
		if !seen[c.UserID] {
			seen[c.UserID] = true
			out = append(out, c.PersonChange)
		}
	}
	return out, nil
}

// DriftCounts returns, per kind ("joiner", "leaver", "change"), how many
// people a pull revision changed.
func (r *Revision) DriftCounts() map[string]int {
	out := map[string]int{}
	for _, c := range r.People {
		switch {
		case c.Op == OpRemove:
			out["leaver"]++
		case c.Before == nil:
			out["joiner"]++
		default:
			out["change"]++
		}
	}
	if len(r.Depts) > 0 {
		out["department"] += len(r.Depts)
	}
	return out
}

// revisionTables are the tables WipeData empties.
var revisionTables = strings.Fields(`revision_change revision_dept revision`)
