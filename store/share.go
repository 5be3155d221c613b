package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// CardShare is one shared business card (migration 013_card_share.sql):
// a vCard download, a QR code or a share link. TokenHash is the link
// token's SHA-256, never the token; empty for a download.
type CardShare struct {
	ID            string     `json:"id"`
	Kind          string     `json:"kind"`
	TokenHash     string     `json:"-"`
	Sharer        string     `json:"sharer"`
	SharerName    string     `json:"sharer_name"`
	Subject       string     `json:"subject"`
	SubjectName   string     `json:"subject_name"`
	Fields        []string   `json:"fields"`
	IncludeMobile bool       `json:"include_mobile"`
	Snapshot      int64      `json:"snapshot"`
	Created       time.Time  `json:"created_at"`
	Expires       time.Time  `json:"expires_at"`
	Revoked       *time.Time `json:"revoked_at,omitempty"`
	AuditSeq      int64      `json:"audit_seq"`
}

// AddCardShare stores a share, in the transaction of its audit record,
// with its holding (h nil: none, a download) of the subject's hash.
func (tx *Tx) AddCardShare(c CardShare, h *Holding, hashes []uint64) error {
	fields, err := json.Marshal(nonNil(c.Fields))
	if err != nil {
		return err
	}
	var token any
	if c.TokenHash != "" {
		token = c.TokenHash
	}
	if _, err := tx.tx.ExecContext(tx.ctx, `INSERT INTO card_share (id, kind, token_hash, sharer, sharer_name, subject, subject_name, fields, include_mobile, snapshot_id, created_at, expires_at, audit_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		c.ID, c.Kind, token, c.Sharer, c.SharerName, c.Subject, c.SubjectName, string(fields), c.IncludeMobile, c.Snapshot, tsNano(c.Created), tsNano(c.Expires), c.AuditSeq); err != nil {
		return err
	}
	if h == nil {
		return nil
	}
	return insertHolding(tx.ctx, tx.tx, h, hashes)
}

// cardShareCols reads a share with its revocation: its own, or its
// holding's (a breach revokes the holding).
const cardShareCols = `SELECT s.id, s.kind, COALESCE(s.token_hash, ''), s.sharer, s.sharer_name, s.subject, s.subject_name, s.fields, s.include_mobile, s.snapshot_id, s.created_at, s.expires_at,
	COALESCE(s.revoked_at, h.revoked_at), s.audit_seq FROM card_share s LEFT JOIN holding h ON h.kind = '` + KindShare + `' AND h.ref = s.id `

func scanCardShare(scan func(...any) error) (*CardShare, error) {
	var c CardShare
	var fields, created, expires string
	var revoked sql.NullString
	if err := scan(&c.ID, &c.Kind, &c.TokenHash, &c.Sharer, &c.SharerName, &c.Subject, &c.SubjectName, &fields, &c.IncludeMobile, &c.Snapshot, &created, &expires, &revoked, &c.AuditSeq); err != nil {
		return nil, err
	}
	json.Unmarshal([]byte(fields), &c.Fields)
	c.Created, _ = time.Parse(time.RFC3339Nano, created)
	c.Expires, _ = time.Parse(time.RFC3339Nano, expires)
	if revoked.Valid {
		t, _ := time.Parse(time.RFC3339Nano, revoked.String)
		c.Revoked = &t
	}
	return &c, nil
}

// CardShareByToken returns the share link whose token hash is hash, or nil.
func (db *DB) CardShareByToken(ctx context.Context, hash string) (*CardShare, error) {
	c, err := scanCardShare(db.sdb.QueryRowContext(ctx, cardShareCols+`WHERE s.token_hash = ?`, hash).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return c, err
}

// CardSharesOf lists the shares of userid's card and those userid made,
// newest first.
func (db *DB) CardSharesOf(ctx context.Context, userid string) ([]CardShare, error) {
	rows, err := db.sdb.QueryContext(ctx, cardShareCols+`WHERE s.subject = ? OR s.sharer = ? ORDER BY s.created_at DESC, s.id`, userid, userid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []CardShare{}
	for rows.Next() {
		c, err := scanCardShare(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}

// RevokeCardShare marks share link id revoked at t, with its holding, when
// userid is its subject or its sharer; it reports whether a live link was
// revoked.
func (tx *Tx) RevokeCardShare(userid, id string, t time.Time) (bool, error) {
	n, err := tx.affected(`UPDATE card_share SET revoked_at = ? WHERE id = ? AND kind = 'link' AND revoked_at IS NULL AND (subject = ? OR sharer = ?)`,
		tsNano(t), id, userid, userid)
	if err != nil || n == 0 {
		return false, err
	}
	_, err = tx.tx.ExecContext(tx.ctx, `UPDATE holding SET revoked_at = ? WHERE kind = ? AND ref = ? AND revoked_at IS NULL`, ts(t), KindShare, id)
	return err == nil, err
}
