-- Snapshots of an organisation: one row per snapshot, its departments and
-- its people stored as JSON in DingTalk's field names.
CREATE TABLE snapshot (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	source      TEXT    NOT NULL,
	taken_at    TEXT    NOT NULL,
	corp_id     TEXT    NOT NULL DEFAULT '',
	org_name    TEXT    NOT NULL DEFAULT '',
	complete    INTEGER NOT NULL DEFAULT 0,
	departments INTEGER NOT NULL DEFAULT 0,
	people      INTEGER NOT NULL DEFAULT 0,
	receipt     TEXT
);

CREATE TABLE snapshot_dept (
	snapshot_id INTEGER NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
	seq         INTEGER NOT NULL,
	dept_id     INTEGER NOT NULL,
	data        TEXT    NOT NULL,
	PRIMARY KEY (snapshot_id, dept_id)
);

CREATE TABLE snapshot_person (
	snapshot_id INTEGER NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
	seq         INTEGER NOT NULL,
	userid      TEXT    NOT NULL,
	data        TEXT    NOT NULL,
	PRIMARY KEY (snapshot_id, userid)
);
CREATE INDEX snapshot_person_seq ON snapshot_person (snapshot_id, seq);
