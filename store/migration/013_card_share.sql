-- Business cards shared from 'dingbook serve' (issue 11 §3): every
-- vCard download, QR code and share link. id is a public random handle
-- (to list and revoke); a link's token is shown once and only its
-- SHA-256 (hex) is kept in token_hash (NULL for a download). sharer
-- (named sharer_name) shared subject's (subject_name's) card with
-- fields (a JSON list of field keys), the mobile only when
-- include_mobile (the subject's own card, by choice).
-- A link works until expires_at unless revoked_at is set (by the subject
-- or the sharer, or by a breach through its holding of kind 'share').
-- audit_seq is the 'card-share' audit record written in the same
-- transaction.
CREATE TABLE card_share (
	id             TEXT PRIMARY KEY,
	kind           TEXT NOT NULL,
	token_hash     TEXT UNIQUE,
	sharer         TEXT NOT NULL,
	sharer_name    TEXT NOT NULL,
	subject        TEXT NOT NULL,
	subject_name   TEXT NOT NULL,
	fields         TEXT NOT NULL,
	include_mobile INTEGER NOT NULL,
	snapshot_id    INTEGER NOT NULL,
	created_at     TEXT NOT NULL,
	expires_at     TEXT NOT NULL,
	revoked_at     TEXT,
	audit_seq      INTEGER NOT NULL
);
CREATE INDEX card_share_subject ON card_share (subject);
CREATE INDEX card_share_sharer ON card_share (sharer);
