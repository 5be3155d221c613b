-- Grants of 'dingbook serve' (issue 11): an approved export request
-- becomes a grant (one per request), valid until expires_at for a number
-- of downloads. doc is the grant as app keeps it (JSON: scope, fields,
-- approvers, terms accepted, downloads left); grantee and state are
-- columns for the listings. The table is export_grant, not grant: GRANT
-- is a reserved word in PostgreSQL, the second backend.
CREATE TABLE export_grant (
	id         TEXT PRIMARY KEY,
	request_id TEXT NOT NULL UNIQUE,
	grantee    TEXT NOT NULL,
	state      TEXT NOT NULL,
	doc        TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX export_grant_grantee ON export_grant (grantee);

-- One row per bundle built for a grant: token_hash is the SHA-256 (hex)
-- of the download link's random token (the token is never stored);
-- used_at is set by the one download the link allows.
CREATE TABLE grant_download (
	token_hash TEXT PRIMARY KEY,
	grant_id   TEXT NOT NULL,
	export_id  TEXT NOT NULL,
	path       TEXT NOT NULL,
	sha256     TEXT NOT NULL,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	used_at    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX grant_download_grant ON grant_download (grant_id);
