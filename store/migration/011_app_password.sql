-- Per-device app passwords of 'dingbook serve' (the CardDAV address
-- book's Basic auth). id is a public random handle (to list and revoke),
-- hash the SHA-256 (hex) of the random password, which is shown once and
-- never stored. roles and admin_scope are those of the session that
-- created it (what the book shows follows them); person the person's
-- name (the principal's displayname). A pull deletes a leaver's
-- app passwords (DeleteUserAppPasswords).
CREATE TABLE app_password (
	id           TEXT PRIMARY KEY,
	userid       TEXT NOT NULL,
	name         TEXT NOT NULL,
	person       TEXT NOT NULL,
	hash         TEXT NOT NULL UNIQUE,
	roles        TEXT NOT NULL,
	admin_scope  TEXT NOT NULL,
	lang         TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	last_used_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX app_password_userid ON app_password (userid);
