-- Bank cards, top-ups, withdrawals and crypto deposits through a rail (internal/wallet).
-- A card is kept as the rail's token (sealed with the server key: whoever holds a token can
-- charge the card), brand, last four digits and expiry: never the number or the CVV.
CREATE TABLE wallet_cards (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	rail TEXT NOT NULL,
	token_sealed TEXT NOT NULL,
	brand TEXT NOT NULL,
	last4 TEXT NOT NULL,
	exp_month INTEGER NOT NULL,
	exp_year INTEGER NOT NULL,
	holder TEXT NOT NULL,
	asset TEXT NOT NULL,
	status TEXT NOT NULL,
	failure_code TEXT NOT NULL,
	verify_ref TEXT NOT NULL,
	replaces TEXT NOT NULL,
	is_default INTEGER NOT NULL,
	created_at BIGINT NOT NULL,
	removed_at BIGINT NOT NULL
);
CREATE INDEX wallet_cards_user ON wallet_cards (user_id, removed_at);
CREATE INDEX wallet_cards_verify ON wallet_cards (verify_ref);

-- One row per top-up, withdrawal or deposit on a rail; ref is the reference the rail
-- knows it by. status is the wallet's side; applying a rail update locks the row, so an
-- update applied twice (a crash, two nodes) books the money once.
CREATE TABLE wallet_rail_ops (
	ref TEXT PRIMARY KEY,
	rail TEXT NOT NULL,
	kind TEXT NOT NULL,
	user_id TEXT NOT NULL,
	card_id TEXT NOT NULL,
	asset TEXT NOT NULL,
	amount BIGINT NOT NULL,
	fee BIGINT NOT NULL,
	status TEXT NOT NULL,
	failure_code TEXT NOT NULL,
	activity_id TEXT NOT NULL,
	confirmations INTEGER NOT NULL,
	confirmations_needed INTEGER NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX wallet_rail_ops_status ON wallet_rail_ops (status, updated_at);

-- The last rail update applied, per rail: the feed is gapless, so this is a complete cursor.
CREATE TABLE wallet_rail_cursor (
	rail TEXT PRIMARY KEY,
	seq BIGINT NOT NULL
);
