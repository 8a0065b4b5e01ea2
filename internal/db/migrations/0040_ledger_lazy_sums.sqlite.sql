-- SQLite ledger: account rows become checkpoints of sums kept in memory by the committer
-- (internal/ledger/sums.go). A row's sums include exactly the transfers touching it with
-- seq <= sums_seq; every transfer with seq <= ledger_state.flushed_seq is in its rows.
-- Rows written before this migration were exact.
ALTER TABLE ledger_accounts ADD COLUMN sums_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger_state ADD COLUMN flushed_seq INTEGER NOT NULL DEFAULT 0;
UPDATE ledger_accounts SET sums_seq = (SELECT COALESCE(MAX(seq), 0) FROM ledger_transfers);
UPDATE ledger_state SET flushed_seq = (SELECT COALESCE(MAX(seq), 0) FROM ledger_transfers);
