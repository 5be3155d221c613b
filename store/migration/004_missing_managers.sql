-- The manager_userids of a snapshot that name nobody in it (a JSON array),
-- found when the snapshot is saved, so that an export can tell each row's
-- status without first listing every userid. NULL for snapshots saved
-- before this column existed.
ALTER TABLE snapshot ADD COLUMN missing_managers TEXT;
