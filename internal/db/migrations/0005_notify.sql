-- The outbox: every message the platform sends (email now; SMS; webhooks later) is written
-- here in the same transaction as the change that caused it, and sent after commit by
-- notify.Worker. A rolled-back change therefore sends nothing. Times are microseconds.
--
-- status: pending (never tried) → sending (claimed by a worker until next_attempt_at, the
-- claim's lease) → sent | failed (will retry at next_attempt_at) → dead (gave up).
CREATE TABLE outbox (
	id TEXT PRIMARY KEY,
	channel TEXT NOT NULL,
	kind TEXT NOT NULL,
	recipient TEXT NOT NULL,
	user_id TEXT,
	lang TEXT NOT NULL,
	subject TEXT NOT NULL,
	body_text TEXT NOT NULL,
	body_html TEXT NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead')),
	attempts INTEGER NOT NULL,
	next_attempt_at BIGINT NOT NULL,
	claim_token TEXT,
	last_error TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	sent_at BIGINT
);

-- Only unfinished rows are ever looked up by due time; sent and dead rows stay out of it.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending', 'sending', 'failed');

-- The dev mailbox lists mail newest first, for everyone or one address.
CREATE INDEX outbox_channel_created ON outbox (channel, created_at);
CREATE INDEX outbox_recipient_created ON outbox (channel, recipient, created_at);
