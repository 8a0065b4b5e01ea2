-- The notifications inbox: one row per notice sent to one user, written in the transaction
-- of the change that caused it. Text is stored either finished in both languages or as a
-- registered key with parameters, rendered in the reader's language when listed.
-- Announcements are not copied here (that would be a row per user per announcement): the
-- inbox shows them by query, and inbox_notice_reads records only which ones a user read.
CREATE TABLE inbox (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	kind TEXT NOT NULL,
	text_key TEXT NOT NULL,
	params TEXT NOT NULL,
	title_en TEXT NOT NULL,
	title_zh TEXT NOT NULL,
	body_en TEXT NOT NULL,
	body_zh TEXT NOT NULL,
	link TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	read_at BIGINT NOT NULL DEFAULT 0
);
-- Newest first per user, and the unread count per user.
CREATE INDEX inbox_user_created ON inbox (user_id, created_at, id);
CREATE INDEX inbox_user_unread ON inbox (user_id, read_at);

CREATE TABLE inbox_notice_reads (
	user_id TEXT NOT NULL,
	notice_id TEXT NOT NULL,
	read_at BIGINT NOT NULL,
	PRIMARY KEY (user_id, notice_id)
);
