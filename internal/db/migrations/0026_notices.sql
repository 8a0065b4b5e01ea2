-- Announcements and maintenance windows. A notice is shown (banner, status page, inbox)
-- while starts_at <= now < ends_at and it is not withdrawn. A maintenance notice is also
-- the window in which money-moving calls are refused: every node reads the same rows, so
-- the window starts and ends at the same instant everywhere. Times are microseconds.
CREATE TABLE notices (
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('info', 'maintenance', 'incident')),
	title_en TEXT NOT NULL,
	title_zh TEXT NOT NULL,
	body_en TEXT NOT NULL,
	body_zh TEXT NOT NULL,
	starts_at BIGINT NOT NULL,
	ends_at BIGINT NOT NULL,
	created_by TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	-- withdrawn_at > 0: an admin removed it; kept for the record.
	withdrawn_at BIGINT NOT NULL DEFAULT 0,
	withdrawn_by TEXT NOT NULL DEFAULT '',
	CHECK (ends_at > starts_at)
);
-- Current and upcoming notices are found by end time (the live ones end in the future).
CREATE INDEX notices_ends ON notices (ends_at, starts_at);
