-- Account history on PostgreSQL reads ledger_transfers through two indexes instead of
-- ledger_history rows: per transfer that is two index entries of (account, time) instead
-- of two heap rows plus two index entries of (account, time, transfer id), about half the
-- history's share of the write-ahead log, and the rows it dirties after a checkpoint
-- (each written whole to the log once) fall with the smaller leaves.
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account_id, created_at);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account_id, created_at);
DROP TABLE ledger_history;
