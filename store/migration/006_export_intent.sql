-- Bundles being written: a row is added before a bundle is sealed at its
-- final path and deleted in the transaction that records the export
-- (its audit record, registration and holding). A row left behind names
-- a bundle whose process died between sealing and recording: the next
-- export or purge deletes that bundle and records the sweep.
CREATE TABLE export_intent (
	id         TEXT PRIMARY KEY,
	created_at TEXT NOT NULL,
	actor      TEXT NOT NULL,
	action     TEXT NOT NULL,
	path       TEXT NOT NULL,
	workdir    TEXT NOT NULL
);
