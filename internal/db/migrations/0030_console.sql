-- The agent console's identity checks and notes. Before an agent unlocks, unfreezes or
-- reviews anything on a customer's behalf, the console records which checks the caller
-- passed (a code sent to the customer's verified email or phone and read back, the last 4
-- digits of a bound card, the amount of a recent transaction). A check counts only for
-- the agent who made it, for that one customer, for a short time.
CREATE TABLE console_codes (
	id TEXT PRIMARY KEY,
	agent_id TEXT NOT NULL,
	customer_id TEXT NOT NULL,
	channel TEXT NOT NULL CHECK (channel IN ('email', 'phone')),
	-- HMAC of the code with the server key: a database dump alone cannot brute-force it.
	code_hash TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX console_codes_pair ON console_codes (agent_id, customer_id, created_at);

CREATE TABLE console_checks (
	id TEXT PRIMARY KEY,
	agent_id TEXT NOT NULL,
	customer_id TEXT NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('email_code', 'phone_code', 'card_last4', 'recent_amount')),
	passed INTEGER NOT NULL CHECK (passed IN (0, 1)),
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX console_checks_pair ON console_checks (agent_id, customer_id, created_at);

-- Internal notes about a customer (not about one ticket): never shown to the customer.
CREATE TABLE console_notes (
	id TEXT PRIMARY KEY,
	customer_id TEXT NOT NULL,
	agent_id TEXT NOT NULL,
	body TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX console_notes_customer ON console_notes (customer_id, created_at);
