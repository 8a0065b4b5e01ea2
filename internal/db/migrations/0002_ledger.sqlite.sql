-- The ledger (internal/ledger). Ids are 16-byte UUIDs as blobs; amounts are int64 minor
-- units; times are integer microseconds. Rows in ledger_transfers are never updated.

-- WITHOUT ROWID: accounts are always found by id, so the id B-tree is the table.
CREATE TABLE ledger_accounts (
	id BLOB PRIMARY KEY,
	asset TEXT NOT NULL,
	code INTEGER NOT NULL,
	owner TEXT NOT NULL,
	flags INTEGER NOT NULL,
	debits_pending INTEGER NOT NULL,
	debits_posted INTEGER NOT NULL,
	credits_pending INTEGER NOT NULL,
	credits_posted INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX ledger_accounts_owner ON ledger_accounts (owner, id);

-- seq (the rowid) is the commit order: SQLite has one writer, so a larger seq always
-- committed later. Transfers with seq > ledger_state.merged_seq are not yet in
-- ledger_history and are found by scanning this tail. No index by account here: an
-- (account, time) index dirties pages all over its tree on every batch (see
-- docs/PERFORMANCE.md), so history is merged in sorted bulk instead.
CREATE TABLE ledger_transfers (
	seq INTEGER PRIMARY KEY,
	debit_account_id BLOB NOT NULL,
	credit_account_id BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	id BLOB NOT NULL UNIQUE,
	amount INTEGER NOT NULL,
	asset TEXT NOT NULL,
	code INTEGER NOT NULL,
	ref TEXT NOT NULL,
	flags INTEGER NOT NULL,
	pending_id BLOB,
	timeout_us INTEGER NOT NULL
);

-- One row per pending transfer: its state (0 pending, 1 posted, 2 voided, 3 expired) and
-- what the sweep needs without reading ledger_transfers.
CREATE TABLE ledger_pending (
	id BLOB PRIMARY KEY,
	debit_account_id BLOB NOT NULL,
	credit_account_id BLOB NOT NULL,
	amount INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	state INTEGER NOT NULL,
	resolved_by BLOB,
	resolved_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX ledger_pending_expiry ON ledger_pending (expires_at) WHERE state = 0 AND expires_at > 0;

-- Account-ordered history: two rows per transfer (debit side, credit side), written in
-- sorted bulk by the merge.
CREATE TABLE ledger_history (
	account_id BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	transfer_id BLOB NOT NULL,
	PRIMARY KEY (account_id, created_at, transfer_id)
) WITHOUT ROWID;

CREATE TABLE ledger_state (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	merged_seq INTEGER NOT NULL
);
INSERT INTO ledger_state (id, merged_seq) VALUES (1, 0);
