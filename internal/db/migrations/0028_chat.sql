-- Live chat. A chat is queued until an agent picks it up, active while they talk, closed
-- at the end; "left" is a message left outside service hours when no ticket system took it.
-- Messages are numbered per chat (seq, from chats.last_seq under the row lock), so every
-- node delivers them in the same order and a receiver that missed a notification re-reads
-- everything after the last seq it delivered.
CREATE TABLE chats (
	id TEXT PRIMARY KEY,
	customer_id TEXT NOT NULL,
	agent_id TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL CHECK (status IN ('queued', 'active', 'closed', 'left')),
	lang TEXT NOT NULL,
	last_seq BIGINT NOT NULL DEFAULT 0,
	customer_read_seq BIGINT NOT NULL DEFAULT 0,
	agent_read_seq BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	assigned_at BIGINT NOT NULL DEFAULT 0,
	closed_at BIGINT NOT NULL DEFAULT 0,
	closed_by TEXT NOT NULL DEFAULT '',
	ticket_id TEXT NOT NULL DEFAULT '',
	-- when the transcript was last mailed: at most once per chat per few minutes.
	transcript_sent_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX chats_status_created ON chats (status, created_at);
CREATE INDEX chats_customer ON chats (customer_id, created_at);
CREATE INDEX chats_agent ON chats (agent_id, status);
-- Expected wait is computed from recent pickups.
CREATE INDEX chats_assigned ON chats (assigned_at);

CREATE TABLE chat_messages (
	chat_id TEXT NOT NULL REFERENCES chats (id),
	seq BIGINT NOT NULL,
	sender_kind TEXT NOT NULL CHECK (sender_kind IN ('customer', 'agent', 'system')),
	sender_id TEXT NOT NULL,
	body TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (chat_id, seq)
);
