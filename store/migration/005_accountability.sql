-- Accountability (issue 13): who held whom, breach incidents, consent.
--
-- A holding is one copy of people's data that left dingbook: an export or
-- convert bundle (kind 'export', ref = its export_id), and later a grant
-- download, a card share or a CardDAV device (kinds 'grant', 'share',
-- 'device'). It records purpose, recipient, fields and expiry, never the
-- people themselves: holding_hash keeps, per holding, the sorted list of
-- 8-byte truncated HMAC-SHA256 values of the people's userids under the key
-- in $DINGBOOK_HOME/holders.key, split into buckets by the hash's top 13
-- bits so that a lookup reads one small blob per holding.
CREATE TABLE holding (
	id                INTEGER PRIMARY KEY AUTOINCREMENT,
	kind              TEXT    NOT NULL,
	ref               TEXT    NOT NULL,
	time              TEXT    NOT NULL,
	actor             TEXT    NOT NULL DEFAULT '',
	purpose           TEXT    NOT NULL DEFAULT '',
	basis             TEXT    NOT NULL DEFAULT '',
	recipient         TEXT    NOT NULL DEFAULT '',
	recipient_country TEXT    NOT NULL DEFAULT '',
	fields            TEXT    NOT NULL DEFAULT '[]', -- JSON array of field keys
	people            INTEGER NOT NULL DEFAULT 0,
	snapshot_id       INTEGER NOT NULL DEFAULT 0,
	expires_at        TEXT    NOT NULL DEFAULT '',
	purged_at         TEXT,
	revoked_at        TEXT,
	audit_seq         INTEGER NOT NULL DEFAULT 0,
	UNIQUE (kind, ref)
);
CREATE INDEX holding_time ON holding (time);

-- Keyed by holding first, so that recording an export appends at the end
-- of the b-tree whatever the table's size; a lookup reads one bucket of
-- each holding by its key.
CREATE TABLE holding_hash (
	holding_id INTEGER NOT NULL REFERENCES holding(id) ON DELETE CASCADE,
	bucket     INTEGER NOT NULL, -- top 13 bits of the hashes
	hashes     BLOB    NOT NULL, -- sorted big-endian uint64s
	PRIMARY KEY (holding_id, bucket)
) WITHOUT ROWID;

-- Breach incidents (dingbook breach start): the 72-hour clock runs from
-- discovered_at to deadline.
CREATE TABLE incident (
	id            TEXT    PRIMARY KEY,
	opened_at     TEXT    NOT NULL,
	discovered_at TEXT    NOT NULL,
	deadline      TEXT    NOT NULL,
	description   TEXT    NOT NULL,
	holding_id    INTEGER NOT NULL REFERENCES holding(id),
	people        INTEGER NOT NULL DEFAULT 0,
	fields        TEXT    NOT NULL DEFAULT '[]',
	revoked       TEXT    NOT NULL DEFAULT '[]', -- JSON array: what was revoked
	closed_at     TEXT,
	audit_seq     INTEGER NOT NULL DEFAULT 0
);

-- The consent register: one row per given or withdrawn consent; the
-- latest row per (person, purpose) is the current state.
CREATE TABLE consent (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	person    TEXT    NOT NULL, -- userid, or an external contact's id
	purpose   TEXT    NOT NULL, -- compared case-insensitively with --purpose
	state     TEXT    NOT NULL CHECK (state IN ('given', 'withdrawn')),
	time      TEXT    NOT NULL,
	reference TEXT    NOT NULL DEFAULT '',
	fields    TEXT    NOT NULL DEFAULT '[]' -- fields consented to ([] = any)
);
CREATE INDEX consent_person ON consent (purpose, person, id);
