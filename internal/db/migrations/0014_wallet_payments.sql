-- Payment requests (收款), merchant checkouts and refunds (internal/wallet). The money is
-- in the ledger; these rows say what it was for and where each request stands.

-- A request is paid at most once: paying locks the row and checks status in the same
-- transaction as the transfer. "expired" is not stored; it is expires_at passing.
CREATE TABLE wallet_requests (
	id TEXT PRIMARY KEY,
	token TEXT NOT NULL,
	requester_id TEXT NOT NULL,
	asset TEXT NOT NULL,
	amount BIGINT NOT NULL,
	memo TEXT NOT NULL,
	status TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	payer_id TEXT NOT NULL,
	paid_at BIGINT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX wallet_requests_token ON wallet_requests (token);
CREATE INDEX wallet_requests_requester ON wallet_requests (requester_id, created_at);

CREATE TABLE wallet_checkouts (
	id TEXT PRIMARY KEY,
	token TEXT NOT NULL,
	merchant_id TEXT NOT NULL,
	merchant_name TEXT NOT NULL,
	category TEXT NOT NULL,
	order_ref TEXT NOT NULL,
	description TEXT NOT NULL,
	return_url TEXT NOT NULL,
	asset TEXT NOT NULL,
	amount BIGINT NOT NULL,
	refunded BIGINT NOT NULL,
	status TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	payer_id TEXT NOT NULL,
	pay_op TEXT NOT NULL,
	paid_at BIGINT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX wallet_checkouts_token ON wallet_checkouts (token);
CREATE UNIQUE INDEX wallet_checkouts_order ON wallet_checkouts (merchant_id, order_ref);
CREATE INDEX wallet_checkouts_merchant ON wallet_checkouts (merchant_id, created_at);

CREATE TABLE wallet_refunds (
	id TEXT PRIMARY KEY,
	checkout_id TEXT NOT NULL,
	merchant_id TEXT NOT NULL,
	payer_id TEXT NOT NULL,
	asset TEXT NOT NULL,
	amount BIGINT NOT NULL,
	reason TEXT NOT NULL,
	status TEXT NOT NULL,
	ref_no TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX wallet_refunds_checkout ON wallet_refunds (checkout_id, created_at);
