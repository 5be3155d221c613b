-- A grant gives one bundle per download (policy requests.downloads), and
-- each bundle is a holding of its own: kind 'grant', ref the bundle's
-- export id (unique, as holding's UNIQUE (kind, ref) wants), grant_id the
-- grant it was made for ('' for every other kind). Holdings of grants
-- recorded before this migration had the grant's id as ref: they take
-- their export's id (the export registered in the same transaction, so
-- with the same audit record) and keep the grant's id in grant_id.
ALTER TABLE holding ADD COLUMN grant_id TEXT NOT NULL DEFAULT '';
UPDATE holding SET grant_id = ref,
	ref = COALESCE((SELECT e.id FROM export e WHERE e.audit_seq = holding.audit_seq AND holding.audit_seq > 0), ref)
	WHERE kind = 'grant';
CREATE INDEX holding_grant ON holding (grant_id) WHERE grant_id <> '';

-- A breach on a grant covers every bundle of it: holding_ids are all the
-- holdings of an incident (JSON array; '[]' before this migration: only
-- holding_id).
ALTER TABLE incident ADD COLUMN holding_ids TEXT NOT NULL DEFAULT '[]';
