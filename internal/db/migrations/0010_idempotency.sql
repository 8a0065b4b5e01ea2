-- Stored first responses of mutating API calls, so a retry with the same Idempotency-Key
-- gets the same answer instead of doing the work again. scope is the caller (user or API
-- key), so two callers can never see each other's responses.
CREATE TABLE idempotency_keys (
	scope TEXT NOT NULL,
	key TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	state TEXT NOT NULL,
	status INTEGER NOT NULL DEFAULT 0,
	content_type TEXT NOT NULL DEFAULT '',
	body TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	locked_until BIGINT NOT NULL,
	PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
