-- Pull checkpoints: one row per pull run (its parameters), one row per
-- department the run discovered, with what is done for it. A run that is
-- killed resumes from these rows; they are deleted when its snapshot is
-- stored.
CREATE TABLE pull_run (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	run_key     TEXT    NOT NULL,
	params      TEXT    NOT NULL,
	started_at  TEXT    NOT NULL,
	finished_at TEXT,
	snapshot_id INTEGER
);
CREATE INDEX pull_run_key ON pull_run (run_key, finished_at);

CREATE TABLE pull_dept (
	run_id        INTEGER NOT NULL REFERENCES pull_run(id) ON DELETE CASCADE,
	dept_id       INTEGER NOT NULL,
	data          TEXT    NOT NULL, -- dingbook.Department JSON
	children_done INTEGER NOT NULL DEFAULT 0,
	detail_done   INTEGER NOT NULL DEFAULT 0,
	members_done  INTEGER NOT NULL DEFAULT 0,
	members       TEXT,             -- JSON []dingbook.Person as listed in this department
	visible       TEXT,             -- JSON []string: userids listed without restricted staff (--count-restricted)
	PRIMARY KEY (run_id, dept_id)
);

-- People fetched one by one (authed_user, --with-manager).
CREATE TABLE pull_user (
	run_id INTEGER NOT NULL REFERENCES pull_run(id) ON DELETE CASCADE,
	userid TEXT    NOT NULL,
	data   TEXT    NOT NULL, -- dingbook.Person JSON from v2/user/get
	PRIMARY KEY (run_id, userid)
);
