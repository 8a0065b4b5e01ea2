-- Identity: users, credentials, sessions, devices, codes, 2-step, restrictions, levels.
-- Times are integer microseconds since the Unix epoch; 0 means "never / not set" where a
-- column is NOT NULL, so comparisons stay simple and portable across both engines.

CREATE TABLE users (
	id TEXT PRIMARY KEY,
	-- email is normalised (trimmed, lower-cased) and unique; login is by this value.
	email TEXT NOT NULL,
	email_verified_at BIGINT NOT NULL DEFAULT 0,
	phone TEXT NOT NULL DEFAULT '',
	phone_verified_at BIGINT NOT NULL DEFAULT 0,
	password_hash TEXT NOT NULL,
	password_changed_at BIGINT NOT NULL,
	lang TEXT NOT NULL,
	role TEXT NOT NULL,
	level INTEGER NOT NULL DEFAULT 0,
	-- TOTP seeds are AES-GCM sealed (base64); pending holds an unconfirmed enrolment.
	totp_secret TEXT NOT NULL DEFAULT '',
	totp_pending TEXT NOT NULL DEFAULT '',
	totp_enabled_at BIGINT NOT NULL DEFAULT 0,
	-- The last accepted TOTP time step: a code is accepted only for a later step, so each
	-- code works once even within its ±1 step window.
	totp_last_step BIGINT NOT NULL DEFAULT 0,
	locked_until BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_phone ON users (phone);

-- One row per wrong password; the lockout counts rows in the last window, so the rule is
-- exact across restarts and nodes.
CREATE TABLE signin_failures (
	user_id TEXT NOT NULL REFERENCES users (id),
	at BIGINT NOT NULL
);
CREATE INDEX signin_failures_user ON signin_failures (user_id, at);

-- One-time codes: email verification, password reset, phone verification, unfreeze, and
-- link-only tokens (freeze link). Codes and link tokens are stored as keyed hashes.
CREATE TABLE identity_codes (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users (id),
	purpose TEXT NOT NULL,
	channel TEXT NOT NULL,
	target TEXT NOT NULL,
	code_hash TEXT NOT NULL,
	link_hash TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX identity_codes_user ON identity_codes (user_id, purpose, created_at);
CREATE INDEX identity_codes_link ON identity_codes (link_hash);

-- Password-reset requests for addresses that may not exist, so the request path writes the
-- same amount whatever the answer, and per-target throttling needs no user row.
CREATE TABLE reset_requests (
	target_hash TEXT NOT NULL,
	at BIGINT NOT NULL
);
CREATE INDEX reset_requests_target ON reset_requests (target_hash, at);

CREATE TABLE devices (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users (id),
	-- SHA-256 of the device cookie value: the cookie is not a credential, but a leaked
	-- database should not let anyone pose as a known device.
	cookie_hash TEXT NOT NULL,
	name TEXT NOT NULL,
	first_seen_at BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL,
	last_ip TEXT NOT NULL,
	last_place TEXT NOT NULL
);
CREATE UNIQUE INDEX devices_user_cookie ON devices (user_id, cookie_hash);

CREATE TABLE known_places (
	user_id TEXT NOT NULL REFERENCES users (id),
	place TEXT NOT NULL,
	first_seen_at BIGINT NOT NULL,
	PRIMARY KEY (user_id, place)
);

CREATE TABLE sessions (
	id TEXT PRIMARY KEY,
	token_hash TEXT NOT NULL,
	user_id TEXT NOT NULL REFERENCES users (id),
	device_id TEXT NOT NULL DEFAULT '',
	device_name TEXT NOT NULL,
	user_agent TEXT NOT NULL,
	ip TEXT NOT NULL,
	place TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	-- When this session last proved a second factor (or the password, for users without
	-- 2-step); step-up needs it within the last few minutes.
	stepped_up_at BIGINT NOT NULL DEFAULT 0,
	revoked_at BIGINT NOT NULL DEFAULT 0,
	revoke_reason TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX sessions_token ON sessions (token_hash);
CREATE INDEX sessions_user ON sessions (user_id, revoked_at);

-- A password was right but the second step is still owed.
CREATE TABLE signin_challenges (
	id TEXT PRIMARY KEY,
	token_hash TEXT NOT NULL,
	user_id TEXT NOT NULL REFERENCES users (id),
	device_cookie TEXT NOT NULL,
	user_agent TEXT NOT NULL,
	ip TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX signin_challenges_token ON signin_challenges (token_hash);

CREATE TABLE recovery_codes (
	user_id TEXT NOT NULL REFERENCES users (id),
	code_hash TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	used_at BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE api_keys (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users (id),
	name TEXT NOT NULL,
	prefix TEXT NOT NULL,
	key_hash TEXT NOT NULL,
	scopes TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	last_used_at BIGINT NOT NULL DEFAULT 0,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);
CREATE INDEX api_keys_user ON api_keys (user_id);

-- Scoped restrictions: a freeze by the owner or an agent, or a risk restriction on one
-- action. Active while lifted_at = 0 and (until_at = 0 or until_at > now).
CREATE TABLE restrictions (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users (id),
	kind TEXT NOT NULL,
	scopes TEXT NOT NULL,
	reason TEXT NOT NULL,
	created_by_kind TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	until_at BIGINT NOT NULL DEFAULT 0,
	lifted_at BIGINT NOT NULL DEFAULT 0,
	lifted_by_kind TEXT NOT NULL DEFAULT '',
	lifted_by TEXT NOT NULL DEFAULT '',
	lift_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX restrictions_user ON restrictions (user_id, lifted_at);

-- Level 1 identity details. The ID number is sealed; only a masked form is readable.
CREATE TABLE identity_profiles (
	user_id TEXT PRIMARY KEY REFERENCES users (id),
	real_name TEXT NOT NULL,
	id_type TEXT NOT NULL,
	id_number_sealed TEXT NOT NULL,
	id_number_masked TEXT NOT NULL,
	birth_date TEXT NOT NULL,
	submitted_at BIGINT NOT NULL
);

-- Level 2 document uploads (metadata; the bytes live in file storage) and their review.
CREATE TABLE identity_documents (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users (id),
	kind TEXT NOT NULL,
	storage_ref TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size_bytes BIGINT NOT NULL,
	sha256 TEXT NOT NULL,
	status TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	reviewed_at BIGINT NOT NULL DEFAULT 0,
	reviewer_id TEXT NOT NULL DEFAULT '',
	review_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX identity_documents_user ON identity_documents (user_id, created_at);
CREATE INDEX identity_documents_status ON identity_documents (status, created_at);
