-- External contacts whose consent is withdrawn (issue 11 §4): from then
-- on a contact leaves every new export, card, search and CardDAV view of
-- 'dingbook serve'. One row per contact (its extcontact userid), written
-- in the transaction of the audit record that says who marked it and
-- when; a withdrawal is final (no row is deleted; a wipe keeps them, as
-- it keeps the consent register).
CREATE TABLE external_consent (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	contact      TEXT NOT NULL UNIQUE,
	withdrawn_at TEXT NOT NULL,
	withdrawn_by TEXT NOT NULL
);
