-- SQLite ledger history moves to its own file (okpay-history.db, written by the ledger's
-- merger on its own connection; see internal/ledger/history.go). It is rebuilt from
-- ledger_transfers on the first start.
DROP TABLE ledger_history_blocks;
ALTER TABLE ledger_state DROP COLUMN merged_seq;
