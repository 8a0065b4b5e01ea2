-- The wallet's payment feed (internal/wallet/feed.go): a transfer's transaction appends
-- one row here instead of writing both activity records, their search terms, the
-- recipient's email and notification, whose indexes land on random pages. A background
-- step (and any read of those rows, first) expands rows into them in batches and deletes
-- the rows it expanded, in one transaction. seq only orders the rows; body is the JSON
-- the expansion needs, at the payment's time.
CREATE TABLE wallet_feed (
	seq INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: an expansion deletes by seq
	body TEXT NOT NULL
);
