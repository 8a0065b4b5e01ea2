-- The sandbox rail's own state: what the simulated bank, card network and blockchain know.
-- It lives in the platform database only because the sandbox is built in; a real provider
-- keeps this on its side. Full card numbers and CVVs are never stored here: a card is its
-- brand, last four digits, expiry, holder name and the test behaviour its number selected.

CREATE TABLE rail_cards (
	id TEXT PRIMARY KEY,
	-- SHA-256 of the token: a copy of this table does not hand out usable tokens.
	token_hash TEXT NOT NULL UNIQUE,
	brand TEXT NOT NULL,
	last4 TEXT NOT NULL,
	exp_month INTEGER NOT NULL,
	exp_year INTEGER NOT NULL,
	holder TEXT NOT NULL,
	behaviour TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	deleted_at BIGINT
);

-- One row per verification, charge, payout or deposit. next_at is when the network will
-- next change it by itself (settle, expire, confirm); NULL when only a call can.
CREATE TABLE rail_operations (
	id TEXT PRIMARY KEY,
	reference TEXT NOT NULL UNIQUE,
	kind TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	card_id TEXT REFERENCES rail_cards (id),
	owner TEXT NOT NULL DEFAULT '',
	address TEXT NOT NULL DEFAULT '',
	asset TEXT NOT NULL,
	amount BIGINT NOT NULL CHECK (amount > 0),
	status TEXT NOT NULL,
	failure_code TEXT NOT NULL DEFAULT '',
	-- The bank's decision taken at submission but not yet visible (a payout that will
	-- bounce), so the outcome does not depend on when or where the sandbox is polled.
	planned_failure TEXT NOT NULL DEFAULT '',
	-- Verification code on the statement / attempts at it or at the OTP.
	secret_code TEXT NOT NULL DEFAULT '',
	attempts INTEGER NOT NULL DEFAULT 0,
	confirmations INTEGER NOT NULL DEFAULT 0,
	confirmations_required INTEGER NOT NULL DEFAULT 0,
	step_us BIGINT NOT NULL DEFAULT 0,
	descriptor TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	next_at BIGINT
);
CREATE INDEX rail_operations_due ON rail_operations (next_at) WHERE next_at IS NOT NULL;
CREATE INDEX rail_operations_card ON rail_operations (card_id, created_at);

-- The Updates feed. seq comes from rail_event_seq under a row lock held to commit, so seq
-- order is commit order and a reader that sees seq n has seen every seq below it.
CREATE TABLE rail_events (
	seq BIGINT PRIMARY KEY,
	operation_id TEXT NOT NULL REFERENCES rail_operations (id),
	status TEXT NOT NULL,
	failure_code TEXT NOT NULL DEFAULT '',
	confirmations INTEGER NOT NULL DEFAULT 0,
	at BIGINT NOT NULL
);

CREATE TABLE rail_event_seq (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	value BIGINT NOT NULL
);
INSERT INTO rail_event_seq (id, value) VALUES (1, 0);

CREATE TABLE rail_deposit_addresses (
	address TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	asset TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	UNIQUE (owner, asset)
);
