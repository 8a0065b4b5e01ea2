-- SQLite ledger: a transfer's fields are stored packed in one blob. The committer's insert
-- bound eleven values per transfer, and the pure-Go driver copies and clears every bound
-- value; two (id, body) cost about a third as much (see docs/PERFORMANCE.md, "Packed
-- transfer rows"). ledger_transfers becomes a view with the old columns, so every query
-- that reads transfers is unchanged; only the committer writes ledger_transfer_rows.
--
-- body layout (0-based offsets; integers big-endian, 8 bytes, two's complement), written
-- by packTransfer in internal/ledger/store.go:
--   0 debit_account_id (16)   16 credit_account_id (16)   32 created_at   40 amount
--   48 timeout_us   56 code   64 flags   72 len(asset) (1)   73 len(pending_id): 0 or 16 (1)
--   74 asset, then pending_id, then ref (the rest), UTF-8.
-- okpay_int (internal/db/sqlfuncs.go) reads the integers back.
CREATE TABLE ledger_transfer_rows (
	seq INTEGER PRIMARY KEY,
	id BLOB NOT NULL UNIQUE,
	body BLOB NOT NULL
);

INSERT INTO ledger_transfer_rows (seq, id, body)
SELECT seq, id, CAST(
	debit_account_id || credit_account_id
	|| unhex(printf('%016x', created_at)) || unhex(printf('%016x', amount))
	|| unhex(printf('%016x', timeout_us)) || unhex(printf('%016x', code)) || unhex(printf('%016x', flags))
	|| unhex(printf('%02x', length(CAST(asset AS BLOB))))
	|| CASE WHEN pending_id IS NULL THEN x'00' ELSE x'10' END
	|| CAST(asset AS BLOB) || COALESCE(pending_id, x'') || CAST(ref AS BLOB) AS BLOB)
FROM ledger_transfers ORDER BY seq;

DROP TABLE ledger_transfers;

CREATE VIEW ledger_transfers AS SELECT
	seq,
	id,
	substr(body, 1, 16) AS debit_account_id,
	substr(body, 17, 16) AS credit_account_id,
	okpay_int(body, 32, 8) AS created_at,
	okpay_int(body, 40, 8) AS amount,
	CAST(substr(body, 75, okpay_int(body, 72, 1)) AS TEXT) AS asset,
	okpay_int(body, 56, 8) AS code,
	CAST(substr(body, 75 + okpay_int(body, 72, 1) + okpay_int(body, 73, 1)) AS TEXT) AS ref,
	okpay_int(body, 64, 8) AS flags,
	CASE WHEN okpay_int(body, 73, 1) = 0 THEN NULL ELSE substr(body, 75 + okpay_int(body, 72, 1), 16) END AS pending_id,
	okpay_int(body, 48, 8) AS timeout_us
FROM ledger_transfer_rows;
