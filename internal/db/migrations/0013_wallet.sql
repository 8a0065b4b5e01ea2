-- Wallet (internal/wallet): the business records around ledger transfers. Balances are
-- never stored here: they live in ledger_accounts and move only by ledger transfers.
-- Ids are UUID strings; times are integer microseconds; amounts are int64 minor units.

-- One row per accepted money request (a caller's Idempotency-Key): replaying the key
-- finds this row and returns the first result; a different request under the same key
-- has a different req_hash and is refused. The id is derived from (user, key).
CREATE TABLE wallet_ops (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	kind TEXT NOT NULL,
	req_hash TEXT NOT NULL,
	result_id TEXT NOT NULL,
	created_at BIGINT NOT NULL
);

-- Activity: one record per movement as one person sees it (a transfer is two records,
-- one for each side). direction is +1 for money in, -1 for money out; amount and fee are
-- never negative. timeline is a JSON array of status changes, for the receipt.
CREATE TABLE wallet_activity (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	ref_no TEXT NOT NULL,
	type TEXT NOT NULL,
	status TEXT NOT NULL,
	direction INTEGER NOT NULL,
	asset TEXT NOT NULL,
	amount BIGINT NOT NULL,
	fee BIGINT NOT NULL,
	refunded BIGINT NOT NULL,
	category TEXT NOT NULL,
	counterparty_id TEXT NOT NULL,
	counterparty TEXT NOT NULL,
	memo TEXT NOT NULL,
	source_kind TEXT NOT NULL,
	source_id TEXT NOT NULL,
	failure_code TEXT NOT NULL,
	confirmations INTEGER NOT NULL,
	confirmations_needed INTEGER NOT NULL,
	timeline TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX wallet_activity_ref ON wallet_activity (ref_no);
-- History is read newest first per user; each common filter has its own index with the
-- same (created_at, id) tail, so a filtered page is one index range walk, not a scan of
-- a million rows (see docs/PERFORMANCE.md, "Wallet history").
CREATE INDEX wallet_activity_user ON wallet_activity (user_id, created_at, id);
CREATE INDEX wallet_activity_user_type ON wallet_activity (user_id, type, created_at, id);
CREATE INDEX wallet_activity_user_status ON wallet_activity (user_id, status, created_at, id);
CREATE INDEX wallet_activity_user_asset ON wallet_activity (user_id, asset, created_at, id);
CREATE INDEX wallet_activity_source ON wallet_activity (source_id);

-- Words of counterparty and memo (lower-cased words, and single characters and pairs of
-- characters for Chinese), so "text in counterparty/memo" is an index walk too.
CREATE TABLE wallet_activity_terms (
	user_id TEXT NOT NULL,
	term TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	activity_id TEXT NOT NULL,
	PRIMARY KEY (user_id, term, created_at, activity_id)
);

-- Limit usage per user, flow and period ("d:2026-03-02", "m:2026-03"), in minor units of
-- the limit table's asset. Updated in the same transaction as the movement it counts.
CREATE TABLE wallet_usage (
	user_id TEXT NOT NULL,
	flow TEXT NOT NULL,
	period TEXT NOT NULL,
	used BIGINT NOT NULL,
	PRIMARY KEY (user_id, flow, period)
);
