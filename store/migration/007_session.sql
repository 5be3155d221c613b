-- Sessions of 'dingbook serve': one row per logged-in browser. id is the
-- SHA-256 (hex) of the cookie's random token, so the database never holds
-- a usable cookie. A pull ends a leaver's sessions (DeleteUserSessions).
CREATE TABLE session (
	id          TEXT PRIMARY KEY,
	userid      TEXT NOT NULL,
	name        TEXT NOT NULL,
	roles       TEXT NOT NULL,
	admin_scope TEXT NOT NULL,
	via         TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	seen_at     TEXT NOT NULL
);
CREATE INDEX session_userid ON session (userid);
