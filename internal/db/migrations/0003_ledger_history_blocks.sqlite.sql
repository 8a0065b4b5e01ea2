-- SQLite ledger history as blocks: one row per account per merge holding that merge's
-- (time, transfer id) entries for the account, packed and sorted. A merge then writes
-- about one row per touched account instead of two rows per transfer; per-row cost is
-- what dominated the merge with the pure-Go driver (see docs/PERFORMANCE.md).
-- PostgreSQL keeps ledger_history rows (no merge there).
DROP TABLE ledger_history;
CREATE TABLE ledger_history_blocks (
	account_id BLOB NOT NULL,
	max_at INTEGER NOT NULL,
	first_seq INTEGER NOT NULL,
	min_at INTEGER NOT NULL,
	-- n entries of 24 bytes: created_at (8 bytes, big-endian, sign bit flipped) then the
	-- transfer id (16 bytes), ascending.
	entries BLOB NOT NULL,
	PRIMARY KEY (account_id, max_at, first_seq)
) WITHOUT ROWID;
-- Rebuild history from the transfers at the next merge.
UPDATE ledger_state SET merged_seq = 0;
