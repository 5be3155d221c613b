-- The live directory's revision log (issue 12 §2): the latest complete
-- snapshot plus the revisions after it is what 'dingbook serve' shows, and
-- a CardDAV sync token is a revision number. A revision comes from one
-- Stream event (cause 'event', event_id its eventId, unique: an event
-- redelivered after a restart is applied once) or from a pull that made a
-- new snapshot the base (cause 'pull': the differences the events had
-- missed, the drift). reset starts the log afresh: tokens before it are
-- no longer valid. base is the snapshot the revision applies to.
CREATE TABLE revision (
	rev        INTEGER PRIMARY KEY AUTOINCREMENT,
	at         TEXT    NOT NULL,
	cause      TEXT    NOT NULL,
	event_id   TEXT    UNIQUE,
	event_type TEXT    NOT NULL DEFAULT '',
	base       INTEGER NOT NULL,
	reset      INTEGER NOT NULL DEFAULT 0
);

-- Per-card changes: the person after (op 'upsert'; NULL for 'remove') and
-- what decides who could see them before (departments, the restricted
-- and hidden-mobile flags; NULL: not in the directory before).
CREATE TABLE revision_change (
	rev    INTEGER NOT NULL REFERENCES revision(rev) ON DELETE CASCADE,
	userid TEXT    NOT NULL,
	op     TEXT    NOT NULL,
	after  TEXT,
	before TEXT,
	PRIMARY KEY (rev, userid)
);
CREATE INDEX revision_change_userid ON revision_change (userid, rev);

-- Department changes: the department after (NULL: removed).
CREATE TABLE revision_dept (
	rev     INTEGER NOT NULL REFERENCES revision(rev) ON DELETE CASCADE,
	dept_id INTEGER NOT NULL,
	after   TEXT,
	PRIMARY KEY (rev, dept_id)
);
