package ledger

import (
	"bytes"
	"context"
	"database/sql"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"okpay/internal/db"
)

// TestPackedTransferMigration checks migration 0051 on rows of the old layout: the SQL
// packing gives the same bytes as packTransfer, and the ledger_transfers view reads every
// field back as it was (NULL and set pending ids, zero and negative integers, empty and
// non-ASCII refs), so rows moved by the migration and rows the committer writes look alike.
func TestPackedTransferMigration(t *testing.T) {
	ctx := context.Background()
	conn, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// ledger_transfers as migration 0002 created it.
	if _, err := conn.ExecContext(ctx, `CREATE TABLE ledger_transfers (
		seq INTEGER PRIMARY KEY, debit_account_id BLOB NOT NULL, credit_account_id BLOB NOT NULL,
		created_at INTEGER NOT NULL, id BLOB NOT NULL UNIQUE, amount INTEGER NOT NULL, asset TEXT NOT NULL,
		code INTEGER NOT NULL, ref TEXT NOT NULL, flags INTEGER NOT NULL, pending_id BLOB, timeout_us INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 6, 30, 0, 123456000, time.UTC)
	want := []Transfer{
		{ID: uuid.New(), DebitAccountID: uuid.New(), CreditAccountID: uuid.New(), Amount: 1, Asset: "CNY", Code: 1, Ref: "", CreatedAt: at},
		{ID: uuid.New(), DebitAccountID: uuid.New(), CreditAccountID: uuid.New(), Amount: math.MaxInt64, Asset: "USDT", Code: -7,
			Ref: "退款:订单 42 ✓", Flags: Pending | Linked, Timeout: 90 * time.Second, CreatedAt: at.Add(time.Microsecond)},
		{ID: uuid.New(), DebitAccountID: uuid.New(), CreditAccountID: uuid.New(), Amount: 250, Asset: strings.Repeat("X", 16), Code: math.MaxInt32,
			Ref: strings.Repeat("r", maxRefBytes), Flags: PostPending, PendingID: uuid.New(), CreatedAt: time.UnixMicro(0).UTC()},
	}
	for i, tr := range want {
		if _, err := conn.ExecContext(ctx, `INSERT INTO ledger_transfers (seq, `+transferCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			i+1, tr.ID[:], tr.DebitAccountID[:], tr.CreditAccountID[:], tr.CreatedAt.UnixMicro(), tr.Amount, tr.Asset, tr.Code, tr.Ref,
			int64(tr.Flags), nullID(tr.PendingID), tr.Timeout.Microseconds()); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := db.Migrations(db.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	var mig string
	for _, m := range ms {
		if m.Version == 51 {
			mig = m.SQL
		}
	}
	if mig == "" {
		t.Fatal("migration 0051 not found")
	}
	if _, err := conn.ExecContext(ctx, mig); err != nil {
		t.Fatalf("migration: %v", err)
	}
	for i, w := range want {
		var body []byte
		if err := conn.QueryRowContext(ctx, `SELECT body FROM ledger_transfer_rows WHERE seq = ?`, i+1).Scan(&body); err != nil {
			t.Fatal(err)
		}
		if packed := packTransfer(nil, &w); !bytes.Equal(body, packed) || len(packed) != packedSize(&w) {
			t.Errorf("row %d: migration packed %x, packTransfer %x (size %d)", i+1, body, packed, packedSize(&w))
		}
		got, err := scanTransfer(conn.QueryRowContext(ctx, `SELECT `+transferCols+` FROM ledger_transfers WHERE id = ?`, w.ID[:]))
		if err != nil {
			t.Fatal(err)
		}
		if !got.CreatedAt.Equal(w.CreatedAt) {
			t.Errorf("row %d: created %v, want %v", i+1, got.CreatedAt, w.CreatedAt)
		}
		got.CreatedAt = w.CreatedAt
		if got != w {
			t.Errorf("row %d through the view:\n got %+v\nwant %+v", i+1, got, w)
		}
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM ledger_transfers WHERE pending_id IS NULL`).Scan(&n); err != nil || n != 2 {
		t.Errorf("NULL pending ids through the view: %d, %v; want 2", n, err)
	}
}
