-- The audit log: append-only and hash-chained (package audit). Each row's
-- hash is SHA-256 over a canonical encoding of (seq, prev_hash, data); data
-- is the record's canonical JSON and holds no personal data (counts, field
-- names, ids, hashes). time/actor/action/outcome are copies for queries;
-- 'audit verify' checks them against data.
CREATE TABLE audit_log (
	seq       INTEGER PRIMARY KEY,
	time      TEXT    NOT NULL,
	actor     TEXT    NOT NULL,
	action    TEXT    NOT NULL,
	outcome   TEXT    NOT NULL,
	data      TEXT    NOT NULL,
	prev_hash TEXT    NOT NULL,
	hash      TEXT    NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (time);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- The export registry: every sealed bundle dingbook wrote, for retention.
CREATE TABLE export (
	id         TEXT    PRIMARY KEY,
	created_at TEXT    NOT NULL,
	actor      TEXT    NOT NULL,
	action     TEXT    NOT NULL,
	path       TEXT    NOT NULL,
	seal       TEXT    NOT NULL,
	sha256     TEXT    NOT NULL,
	bytes      INTEGER NOT NULL DEFAULT 0,
	rows       INTEGER NOT NULL DEFAULT 0,
	expires_at TEXT    NOT NULL,
	purged_at  TEXT,
	audit_seq  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX export_expires ON export (expires_at);
