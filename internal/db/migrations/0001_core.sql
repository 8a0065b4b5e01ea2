-- Settings that must survive restarts and be shared by every node (e.g. "demo data seeded").
CREATE TABLE meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);

-- Leases let several nodes share one database while each background job runs on one node
-- at a time: a node runs a job only while it holds an unexpired lease.
CREATE TABLE job_leases (
	name TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	expires_at BIGINT NOT NULL
);
