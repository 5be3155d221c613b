package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Session is one logged-in browser of 'dingbook serve' (migration
// 007_session.sql). ID is the hash of the cookie's token, never the token.
type Session struct {
	ID         string
	UserID     string
	Name       string
	Roles      []string
	AdminScope []int64
	// Via is how the person logged in: "browser" or "inapp".
	Via     string
	Created time.Time
	Seen    time.Time
	// Lang is the language the person chose ("" for none; 009_session_lang.sql).
	Lang string
}

// AddSession stores a new session, in the transaction that records the
// login.
func (tx *Tx) AddSession(s Session) error {
	scope, err := json.Marshal(s.AdminScope)
	if err != nil {
		return err
	}
	_, err = tx.tx.ExecContext(tx.ctx, `INSERT INTO session (id, userid, name, roles, admin_scope, via, created_at, seen_at, lang) VALUES (?,?,?,?,?,?,?,?,?)`,
		s.ID, s.UserID, s.Name, strings.Join(s.Roles, ","), string(scope), s.Via, tsNano(s.Created), tsNano(s.Seen), s.Lang)
	return err
}

// Session returns the session with id, or nil when there is none.
func (db *DB) Session(ctx context.Context, id string) (*Session, error) {
	var s Session
	var roles, scope, created, seen string
	err := db.sdb.QueryRowContext(ctx, `SELECT id, userid, name, roles, admin_scope, via, created_at, seen_at, lang FROM session WHERE id = ?`, id).
		Scan(&s.ID, &s.UserID, &s.Name, &roles, &scope, &s.Via, &created, &seen, &s.Lang)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if s.Roles, s.AdminScope, err = parseRoles(roles, scope); err != nil {
		return nil, err
	}
	s.Created, _ = time.Parse(time.RFC3339Nano, created)
	s.Seen, _ = time.Parse(time.RFC3339Nano, seen)
	return &s, nil
}

// parseRoles reads the stored roles (comma-separated) and admin scope
// (JSON) of a session or an app password.
func parseRoles(roles, scope string) ([]string, []int64, error) {
	var list []string
	if roles != "" {
		list = strings.Split(roles, ",")
	}
	var ids []int64
	err := json.Unmarshal([]byte(scope), &ids)
	return list, ids, err
}

// TouchSession records that session id was used at t.
func (db *DB) TouchSession(ctx context.Context, id string, t time.Time) error {
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(tx.ctx, `UPDATE session SET seen_at = ? WHERE id = ?`, tsNano(t), id)
		return err
	})
}

// SetSessionLang records the language chosen in session id.
func (db *DB) SetSessionLang(ctx context.Context, id, lang string) error {
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(tx.ctx, `UPDATE session SET lang = ? WHERE id = ?`, lang, id)
		return err
	})
}

// UserLang is the language userid chose in their most recently used
// session ("" when none of their sessions has one): the language of the
// work notices they are sent.
func (db *DB) UserLang(ctx context.Context, userid string) (string, error) {
	var lang string
	err := db.sdb.QueryRowContext(ctx, `SELECT lang FROM session WHERE userid = ? AND lang != '' ORDER BY seen_at DESC LIMIT 1`, userid).Scan(&lang)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return lang, err
}

// DeleteSession removes session id (a logout or a timeout); it reports
// whether there was one.
func (tx *Tx) DeleteSession(id string) (bool, error) {
	n, err := tx.affected(`DELETE FROM session WHERE id = ?`, id)
	return n > 0, err
}

// DeleteUserSessions removes every session of userid (a person who left)
// and returns how many there were.
func (tx *Tx) DeleteUserSessions(userid string) (int, error) {
	return tx.affected(`DELETE FROM session WHERE userid = ?`, userid)
}

// affected runs a statement and returns how many rows it changed.
func (tx *Tx) affected(query string, args ...any) (int, error) {
	res, err := tx.tx.ExecContext(tx.ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// UserSessions counts the sessions of userid.
func (db *DB) UserSessions(ctx context.Context, userid string) (int, error) {
	var n int
	err := db.sdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM session WHERE userid = ?`, userid).Scan(&n)
	return n, err
}

func tsNano(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// SessionUserIDs lists the userids that have a session, in order.
func (db *DB) SessionUserIDs(ctx context.Context) ([]string, error) {
	return db.strings(ctx, `SELECT DISTINCT userid FROM session ORDER BY userid`)
}

// strings runs a query of one text column and returns its values.
func (db *DB) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := db.sdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// HeldRoles are the roles and admin scope a person's sessions or app
// passwords carry (one row per distinct pair).
type HeldRoles struct {
	UserID     string
	Roles      []string
	AdminScope []int64
}

// HeldRoles lists the distinct roles and admin scopes of every live
// session and app password, by userid.
func (db *DB) HeldRoles(ctx context.Context) ([]HeldRoles, error) {
	return db.heldRoles(ctx, `SELECT userid, roles, admin_scope FROM session UNION SELECT userid, roles, admin_scope FROM app_password ORDER BY 1, 2, 3`)
}

// HeldRolesOf is HeldRoles of one person: only userid's rows are read
// (an admin event names one person).
func (db *DB) HeldRolesOf(ctx context.Context, userid string) ([]HeldRoles, error) {
	return db.heldRoles(ctx, `SELECT userid, roles, admin_scope FROM session WHERE userid = ?
		UNION SELECT userid, roles, admin_scope FROM app_password WHERE userid = ? ORDER BY 1, 2, 3`, userid, userid)
}

func (db *DB) heldRoles(ctx context.Context, query string, args ...any) ([]HeldRoles, error) {
	rows, err := db.sdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []HeldRoles
	for rows.Next() {
		var h HeldRoles
		var roles, scope string
		if err := rows.Scan(&h.UserID, &roles, &scope); err != nil {
			return nil, err
		}
		if h.Roles, h.AdminScope, err = parseRoles(roles, scope); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// SetUserRoles gives every session and app password of userid new roles
// and admin scope (DingTalk changed them) and returns how many it changed.
func (tx *Tx) SetUserRoles(userid string, roles []string, scope []int64) (int, error) {
	js, err := json.Marshal(scope)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, table := range []string{"session", "app_password"} {
		m, err := tx.affected(`UPDATE `+table+` SET roles = ?, admin_scope = ? WHERE userid = ?`, strings.Join(roles, ","), string(js), userid)
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}
