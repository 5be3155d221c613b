package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// AppPassword is one device's app password for the CardDAV address book
// (migration 011_app_password.sql). Hash is the password's SHA-256, never
// the password.
type AppPassword struct {
	ID     string
	UserID string
	Name   string
	// Person is the person's name (the session's), for the principal.
	Person     string
	Hash       string
	Roles      []string
	AdminScope []int64
	Lang       string
	Created    time.Time
	// LastUsed is zero when the password was never used.
	LastUsed time.Time
}

// AddAppPassword stores a new app password, in the transaction that
// records its creation.
func (tx *Tx) AddAppPassword(p AppPassword) error {
	scope, err := json.Marshal(p.AdminScope)
	if err != nil {
		return err
	}
	_, err = tx.tx.ExecContext(tx.ctx, `INSERT INTO app_password (id, userid, name, person, hash, roles, admin_scope, lang, created_at) VALUES (?,?,?,?,?,?,?,?,?)`,
		p.ID, p.UserID, p.Name, p.Person, p.Hash, strings.Join(p.Roles, ","), string(scope), p.Lang, tsNano(p.Created))
	return err
}

const appPasswordCols = `id, userid, name, person, hash, roles, admin_scope, lang, created_at, last_used_at`

func scanAppPassword(scan func(...any) error) (*AppPassword, error) {
	var p AppPassword
	var roles, scope, created, used string
	if err := scan(&p.ID, &p.UserID, &p.Name, &p.Person, &p.Hash, &roles, &scope, &p.Lang, &created, &used); err != nil {
		return nil, err
	}
	var err error
	if p.Roles, p.AdminScope, err = parseRoles(roles, scope); err != nil {
		return nil, err
	}
	p.Created, _ = time.Parse(time.RFC3339Nano, created)
	if used != "" {
		p.LastUsed, _ = time.Parse(time.RFC3339Nano, used)
	}
	return &p, nil
}

// AppPasswordByHash returns the app password whose hash is hash, or nil.
func (db *DB) AppPasswordByHash(ctx context.Context, hash string) (*AppPassword, error) {
	p, err := scanAppPassword(db.sdb.QueryRowContext(ctx, `SELECT `+appPasswordCols+` FROM app_password WHERE hash = ?`, hash).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return p, err
}

// UserAppPasswords lists userid's app passwords, oldest first.
func (db *DB) UserAppPasswords(ctx context.Context, userid string) ([]AppPassword, error) {
	rows, err := db.sdb.QueryContext(ctx, `SELECT `+appPasswordCols+` FROM app_password WHERE userid = ? ORDER BY created_at, id`, userid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AppPassword{}
	for rows.Next() {
		p, err := scanAppPassword(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}

// TouchAppPassword records that app password id was used at t.
func (db *DB) TouchAppPassword(ctx context.Context, id string, t time.Time) error {
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(tx.ctx, `UPDATE app_password SET last_used_at = ? WHERE id = ?`, tsNano(t), id)
		return err
	})
}

// DeleteAppPassword removes userid's app password id; it reports whether
// there was one.
func (tx *Tx) DeleteAppPassword(userid, id string) (bool, error) {
	n, err := tx.affected(`DELETE FROM app_password WHERE userid = ? AND id = ?`, userid, id)
	return n > 0, err
}

// DeleteUserAppPasswords removes every app password of userid (a person
// who left) and returns how many there were.
func (tx *Tx) DeleteUserAppPasswords(userid string) (int, error) {
	return tx.affected(`DELETE FROM app_password WHERE userid = ?`, userid)
}

// AppPasswordUserIDs lists the userids that have an app password, in order.
func (db *DB) AppPasswordUserIDs(ctx context.Context) ([]string, error) {
	return db.strings(ctx, `SELECT DISTINCT userid FROM app_password ORDER BY userid`)
}
