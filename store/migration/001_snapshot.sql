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
	PRIMARY KEY (snapshot_id, seq)
);

CREATE TABLE snapshot_person (
	snapshot_id INTEGER NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
	seq         INTEGER NOT NULL,
	userid      TEXT    NOT NULL,
	data        TEXT    NOT NULL,
	PRIMARY KEY (snapshot_id, seq)
);
-- userid is empty for people imported from files that carry none.
CREATE INDEX snapshot_person_userid ON snapshot_person (snapshot_id, userid);

-- External contacts of a snapshot (pull --external).
CREATE TABLE snapshot_external (
	snapshot_id INTEGER NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
	seq         INTEGER NOT NULL,
	data        TEXT    NOT NULL,
	PRIMARY KEY (snapshot_id, seq)
);
