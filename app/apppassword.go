package app

import (
	"context"
	"crypto/subtle"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/store"
)

// App passwords: one per device, for the CardDAV address book's Basic
// auth. The username is the person's userid; the password is 256 random
// bits, shown once and stored as its SHA-256 (a random secret needs no
// slow hash). Each carries the roles and admin scope of the session that
// created it.

// ViaAppPassword is the Via of a session made from an app password.
const ViaAppPassword = "app-password"

// AppPassword is a stored app password (never the password itself).
type AppPassword = store.AppPassword

// MaxAppPasswordName is the longest device name, in characters.
const MaxAppPasswordName = 100

// NewAppPassword is a created app password: Password is shown once.
type NewAppPassword struct {
	ID       string
	Username string
	Password string
}

// CreateAppPassword creates an app password named name (the device) for
// the session's person and records it.
func (a *App) CreateAppPassword(ctx context.Context, s *Session, name string) (*NewAppPassword, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxAppPasswordName || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return nil, &dingbook.Error{Code: dingbook.EINVALID, Field: "name",
			Message: "the app password's name must be 1 to 100 characters without control characters",
			Hint:    `name the device, e.g. {"name":"iPhone"}`}
	}
	password := NewToken()
	now := a.now()
	p := AppPassword{ID: newID(), UserID: s.UserID, Name: name, Person: s.Name, Hash: sessionID(password),
		Roles: slices.Clone(s.Roles), AdminScope: slices.Clone(s.AdminScope), Lang: s.Lang, Created: now}
	if p.AdminScope == nil {
		p.AdminScope = []int64{}
	}
	rec := audit.Record{Time: now, Actor: s.UserID, Action: audit.ActionAppPassword, Outcome: audit.OutcomeOK,
		Details: map[string]string{"op": "create", "id": p.ID, "name": name}}
	if _, err := audit.AppendWith(ctx, a.DB, rec, func(tx *store.Tx, _ audit.Record) error { return tx.AddAppPassword(p) }); err != nil {
		return nil, err
	}
	return &NewAppPassword{ID: p.ID, Username: s.UserID, Password: password}, nil
}

// AppPasswords lists the session's person's app passwords.
func (a *App) AppPasswords(ctx context.Context, s *Session) ([]AppPassword, error) {
	return a.DB.UserAppPasswords(ctx, s.UserID)
}

// RevokeAppPassword revokes the session's person's app password id and
// records it; another person's id, or an unknown one, is not found.
func (a *App) RevokeAppPassword(ctx context.Context, s *Session, id string) error {
	rec := audit.Record{Time: a.now(), Actor: s.UserID, Action: audit.ActionAppPassword, Outcome: audit.OutcomeOK,
		Details: map[string]string{"op": "revoke", "id": id}}
	_, err := audit.AppendWith(ctx, a.DB, rec, func(tx *store.Tx, _ audit.Record) error {
		found, err := tx.DeleteAppPassword(s.UserID, id)
		if err == nil && !found {
			err = errNoAppPassword(id)
		}
		return err
	})
	return err
}

func errNoAppPassword(id string) error {
	return &dingbook.Error{Code: dingbook.ENOTFOUND, Field: "id", Message: "you have no app password " + id,
		Hint: "list yours with GET /api/v1/app-passwords"}
}

// AppPasswordSession checks a Basic auth username and password and
// returns the session they stand for (its ID is the app password's id),
// or nil when they do not match a live app password. A use is recorded
// (at most once a minute).
func (a *App) AppPasswordSession(ctx context.Context, username, password string) (*Session, error) {
	if username == "" || password == "" {
		return nil, nil
	}
	p, err := a.DB.AppPasswordByHash(ctx, sessionID(password))
	if err != nil || p == nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(p.UserID), []byte(username)) != 1 {
		return nil, nil
	}
	now := a.now()
	if now.Sub(p.LastUsed) >= time.Minute {
		if err := a.DB.TouchAppPassword(ctx, p.ID, now); err != nil {
			return nil, err
		}
	}
	return &Session{ID: p.ID, UserID: p.UserID, Name: p.Person, Roles: p.Roles, AdminScope: p.AdminScope, Via: ViaAppPassword,
		Created: p.Created, Seen: now, Lang: p.Lang}, nil
}

// RevokeUserAppPasswords revokes every app password of userid (a person
// who left) on actor's behalf, recorded when there were any.
func (a *App) RevokeUserAppPasswords(ctx context.Context, userid, actor, reason string) (int, error) {
	ps, err := a.DB.UserAppPasswords(ctx, userid)
	if err != nil || len(ps) == 0 {
		return 0, err
	}
	n := 0
	rec := audit.Record{Time: a.now(), Actor: actor, Action: audit.ActionAppPassword, Outcome: audit.OutcomeOK, Reason: reason,
		Details: map[string]string{"op": "revoke", "userid": userid}}
	_, err = audit.AppendWith(ctx, a.DB, rec, func(tx *store.Tx, _ audit.Record) error {
		var err error
		n, err = tx.DeleteUserAppPasswords(userid)
		return err
	})
	return n, err
}

// revokeLeaverAppPasswords revokes the app passwords of everyone who is
// not an active member of org (a complete pull's organisation).
func (a *App) revokeLeaverAppPasswords(ctx context.Context, org *dingbook.Org, actor string) (int, error) {
	users, err := a.DB.AppPasswordUserIDs(ctx)
	if err != nil {
		return 0, err
	}
	return forLeavers(org, users, func(u string) (int, error) {
		return a.RevokeUserAppPasswords(ctx, u, actor, "no longer an active member of the organisation (pull)")
	})
}
