-- Support tickets: opened from the web, the API, the troubleshooter or by email; answered
-- by agents; closed by themselves seven days after they are resolved. Times are integer
-- microseconds; 0 means "not yet".

-- One counter per year numbers tickets T-2026-000123 without gaps from concurrent opens.
CREATE TABLE ticket_counters (
	year INTEGER PRIMARY KEY,
	last BIGINT NOT NULL
);

CREATE TABLE tickets (
	id TEXT PRIMARY KEY,
	number TEXT NOT NULL,
	-- customer_id is empty for mail from an address no verified account has (verified = 0).
	customer_id TEXT NOT NULL,
	verified INTEGER NOT NULL,
	-- contact_email is where an unverified sender's replies go; for customers the account's
	-- current address is used when mail is sent.
	contact_email TEXT NOT NULL,
	lang TEXT NOT NULL,
	channel TEXT NOT NULL,
	category TEXT NOT NULL,
	subject TEXT NOT NULL,
	description TEXT NOT NULL,
	related_ref TEXT NOT NULL,
	related TEXT NOT NULL,   -- JSON array of record references
	diagnosis TEXT NOT NULL, -- JSON object from the troubleshooter, '{}' when none
	priority TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
	status TEXT NOT NULL CHECK (status IN ('new', 'open', 'waiting_on_customer', 'resolved', 'closed')),
	assignee_id TEXT NOT NULL,
	first_response_due BIGINT NOT NULL,
	first_responded_at BIGINT NOT NULL,
	-- response_due is when the desk owes the next answer; 0 while the customer has the turn.
	response_due BIGINT NOT NULL,
	breached INTEGER NOT NULL,
	resolved_at BIGINT NOT NULL,
	closed_at BIGINT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX tickets_number ON tickets (number);
CREATE INDEX tickets_customer ON tickets (customer_id, created_at);
CREATE INDEX tickets_contact ON tickets (contact_email, created_at);
CREATE INDEX tickets_queue ON tickets (status, response_due);
CREATE INDEX tickets_resolved ON tickets (status, resolved_at);

-- The thread. kind: customer, agent, note (internal, never shown to the customer), system.
CREATE TABLE ticket_messages (
	id TEXT PRIMARY KEY,
	ticket_id TEXT NOT NULL REFERENCES tickets (id),
	seq INTEGER NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('customer', 'agent', 'note', 'system')),
	author_id TEXT NOT NULL,
	body TEXT NOT NULL,
	via TEXT NOT NULL,
	-- email_ref threads mail: the Message-ID of an inbound mail, or "outbox:<id>" for mail
	-- sent about this message (its Message-ID is derived from the outbox id).
	email_ref TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ticket_messages_seq ON ticket_messages (ticket_id, seq);

-- Mail ids (ours and the customer's) that thread into a ticket, so a reply naming any of
-- them in In-Reply-To or References finds it.
CREATE TABLE ticket_mail_ids (
	mail_id TEXT PRIMARY KEY,
	ticket_id TEXT NOT NULL REFERENCES tickets (id),
	created_at BIGINT NOT NULL
);

-- Files live in the data folder under a random name; the row says whose they are.
CREATE TABLE ticket_attachments (
	id TEXT PRIMARY KEY,
	ticket_id TEXT NOT NULL REFERENCES tickets (id),
	message_id TEXT NOT NULL REFERENCES ticket_messages (id),
	file_name TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size_bytes BIGINT NOT NULL,
	sha256 TEXT NOT NULL,
	storage_ref TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX ticket_attachments_ticket ON ticket_attachments (ticket_id);
