-- Export requests of 'dingbook serve' (issue 11): one row per request.
-- doc is the request as app keeps it (JSON: scope, fields, purpose,
-- approvers, approvals, the decision); requester and state are columns
-- for the inbox queries.
CREATE TABLE export_request (
	id         TEXT PRIMARY KEY,
	requester  TEXT NOT NULL,
	state      TEXT NOT NULL,
	doc        TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX export_request_requester ON export_request (requester);
