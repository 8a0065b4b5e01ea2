package wallet

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"okpay/internal/db"
)

// refNeutralize is the rule the CSV export has always applied: a cell starting with = + - @ (or a tab or carriage return) gets a
// leading apostrophe unless it is a plain number.
var refPlainNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

func refNeutralize(s string) string {
	if s == "" || refPlainNumber.MatchString(s) {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// The rule itself, pinned by example (CSV injection: a spreadsheet must not run a cell).
func TestNeutralizeRule(t *testing.T) {
	for in, want := range map[string]string{
		"=SUM(A1)": "'=SUM(A1)", "+1": "'+1", "-12.30": "-12.30", "-x": "'-x", "@cmd": "'@cmd", "\t=1": "'\t=1",
		"三月房租": "三月房租", "": "", "12": "12", "+86 138": "'+86 138",
	} {
		if got := refNeutralize(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

// refCSV is the reference encoding: encoding/csv with CRLF of the neutralised record.
func refCSV(t testing.TB, rec []string) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	out := make([]string, len(rec))
	for i, c := range rec {
		out[i] = refNeutralize(c)
	}
	if err := w.Write(out); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return b.String()
}

var csvCells = []string{"", "=SUM(A1)", "+1", "-12.30", "-x", "@cmd", "\t=1", "\r=1", "三月房租", "12", "+86 138", "a,b", `say "hi"`,
	"line\nbreak", "cr\rin", "crlf\r\n", " lead", "\u3000全角", "\u00a0nbsp", "\u0085nel", `\.`, `\x`, "-", "-1.", "1.5", ".5", "--1", "-0",
	"=a,\"b\"", "'quoted", "=\"x\"\n", "@", "\v", "\f x", "end ", "é", "\xff\xfe", "0.000001", "-1.2.3", "1-2"}

func rowOf(cells []string, at time.Time) Row {
	return Row{CreatedAt: at, RefNo: cells[0], Type: cells[1], Status: cells[2], Asset: cells[3], Amount: cells[4], Fee: cells[5],
		Counterparty: cells[6], Memo: cells[7], FailureCode: cells[8]}
}

// The CSV writer's bytes are encoding/csv's for the neutralised cells.
func TestCSVMatchesEncodingCSV(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 4, 5, 0, time.FixedZone("CST", 8*3600))
	check := func(cells []string) {
		t.Helper()
		r := rowOf(cells, at)
		want := refCSV(t, r.Record())
		if got := string(r.AppendCSV(nil)); got != want {
			t.Fatalf("cells %q:\n got %q\nwant %q", cells, got, want)
		}
	}
	for _, c := range csvCells {
		check([]string{c, c, c, c, c, c, c, c, c})
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	pieces := append([]string{"=", "+", "-", "@", "\t", "\r", "\n", ",", `"`, " ", ".", "1", "a", "房", "\u3000", `\`}, csvCells...)
	for i := 0; i < 20000; i++ {
		cells := make([]string, 9)
		for j := range cells {
			for k := rnd.IntN(4); k > 0; k-- {
				cells[j] += pieces[rnd.IntN(len(pieces))]
			}
		}
		check(cells)
	}
	// The header with the byte-order mark.
	var b bytes.Buffer
	w := NewCSVWriter(&b)
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "\ufeff" + refCSV(t, ExportHeader); b.String() != want {
		t.Fatalf("header %q, want %q", b.String(), want)
	}
}

func FuzzCSVCell(f *testing.F) {
	for _, c := range csvCells {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cells := []string{s, s, s, s, s, s, s, s, s}
		r := rowOf(cells, time.Unix(0, 0))
		if got, want := string(r.AppendCSV(nil)), refCSV(t, r.Record()); got != want {
			t.Fatalf("%q: got %q, want %q", s, got, want)
		}
		if plainNumber(s) != refPlainNumber.MatchString(s) {
			t.Fatalf("plainNumber(%q) = %v", s, plainNumber(s))
		}
	})
}

// A whole export through CSVWriter reads back with encoding/csv, row for row what
// ExportActivity gives, Chinese memos intact and formulas neutralised; filters apply.
func TestExportCSV(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		u := e.user("csv")
		all := seedActivity(t, e, u.ID, 150, 11)
		// Rows a spreadsheet must not run, and cells that need quoting.
		last := all[len(all)-1].CreatedAt
		err := e.d.InTx(e.ctx, func(tx *db.Tx) error {
			tx.Now = last
			for i, memo := range []string{"=HYPERLINK(\"http://x\",\"点我\")", "+1 555", "@SUM(1)", "a, \"b\"", "-5", "两行\n备注"} {
				tx.Now = tx.Now.Add(time.Minute)
				id := derive("csv", u.ID, fmt.Sprint(i))
				a, err := insertActivity(e.ctx, tx, newActivity{id: id, userID: u.ID, typ: TypePayment, status: StatusFailed, direction: -1,
					asset: "CNY", amount: 1230, fee: 5, category: "food", cpty: "=cmd|' /C calc'!A0", memo: memo, sourceKind: "seed",
					sourceID: id.String(), failureCode: "card_declined"})
				if err != nil {
					return err
				}
				all = append(all, *a)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []Filter{{}, {Types: []string{TypePayment, TypeRefund}}, {Text: "地铁"}} {
			var want [][]string
			if err := e.w.ExportActivity(e.ctx, u.ID, f, func(r Row) error { want = append(want, r.Record()); return nil }); err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			w := NewCSVWriter(&b)
			if err := w.WriteHeader(); err != nil {
				t.Fatal(err)
			}
			if err := e.w.ExportActivity(e.ctx, u.ID, f, func(r Row) error { return w.Write(&r) }); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			raw := b.Bytes()
			if !bytes.HasPrefix(raw, []byte("\ufeff")) || !bytes.Contains(raw, []byte("\r\n")) {
				t.Fatalf("no BOM or CRLF: %q", raw[:min(40, len(raw))])
			}
			got, err := csv.NewReader(bytes.NewReader(raw[3:])).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got[0], ",") != strings.Join(ExportHeader, ",") || len(got)-1 != len(want) || len(want) == 0 {
				t.Fatalf("filter %+v: header %v, %d rows, want %d", f, got[0], len(got)-1, len(want))
			}
			for i, rec := range want {
				for j := range rec {
					// encoding/csv reads a quoted CRLF back as LF.
					if w := strings.ReplaceAll(refNeutralize(rec[j]), "\r\n", "\n"); got[i+1][j] != w {
						t.Fatalf("filter %+v row %d cell %s: %q, want %q", f, i, ExportHeader[j], got[i+1][j], w)
					}
				}
			}
		}
		// The injected rows are the newest: neutralised, and the Chinese intact.
		var b bytes.Buffer
		w := NewCSVWriter(&b)
		if err := e.w.ExportActivity(e.ctx, u.ID, Filter{Statuses: []string{StatusFailed}}, func(r Row) error { return w.Write(&r) }); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		got, err := csv.NewReader(&b).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if got[0][5] != "-12.30" || got[0][6] != "0.05" || got[0][7] != "'=cmd|' /C calc'!A0" || got[0][8] != "两行\n备注" ||
			got[1][8] != "-5" || got[2][8] != `a, "b"` || got[3][8] != "'@SUM(1)" || got[4][8] != "'+1 555" || got[5][8] != "'=HYPERLINK(\"http://x\",\"点我\")" {
			t.Fatalf("failed rows: %q", got[:6])
		}
	})
}

// Chunk boundaries do not lose or repeat rows, for every query shape (one index walk,
// UNION ALL of walks, the terms table).
func TestExportChunks(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		u := e.user("chunks")
		all := seedActivity(t, e, u.ID, 120, 5)
		for _, f := range []Filter{{}, {Types: []string{TypePayment}}, {Types: []string{TypeTopUp, TypeWithdrawal}}, {Statuses: []string{StatusFailed, StatusPending}},
			{Asset: "USD"}, {Text: "bill"}, {From: all[30].CreatedAt, To: all[90].CreatedAt}} {
			var whole, chunked []string
			if err := e.w.exportActivity(e.ctx, u.ID, f, exportChunk, func(r Row) error { whole = append(whole, r.RefNo); return nil }); err != nil {
				t.Fatal(err)
			}
			if err := e.w.exportActivity(e.ctx, u.ID, f, 7, func(r Row) error { chunked = append(chunked, r.RefNo); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(whole) == 0 || strings.Join(whole, " ") != strings.Join(chunked, " ") {
				t.Fatalf("filter %+v: %d rows whole, %d in chunks of 7", f, len(whole), len(chunked))
			}
		}
	})
}

// exportGoroutines counts the goroutines running the export's pipeline (planner, readers).
func exportGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "wallet.(*exportPipe)")
}

// An export that stops — fn's error, a cancelled context, a failing query — returns the
// error, and none of its goroutines is left, in both pipeline shapes (planned ranges with
// two readers; one reader for a UNION ALL filter).
func TestExportStops(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		u := e.user("stops")
		seedActivity(t, e, u.ID, 120, 9)
		for _, f := range []Filter{{}, {Types: []string{TypePayment, TypeRefund, TypeTransferIn, TypeTransferOut, TypeTopUp}}} {
			check := func(what string, err, want error) {
				t.Helper()
				if !errors.Is(err, want) {
					t.Fatalf("filter %+v, %s: %v, want %v", f, what, err, want)
				}
				if n := exportGoroutines(); n != 0 {
					t.Fatalf("filter %+v, %s: %d export goroutines left", f, what, n)
				}
			}
			stop := errors.New("stop")
			n := 0
			err := e.w.exportActivity(e.ctx, u.ID, f, 7, func(Row) error {
				if n++; n == 10 {
					return stop
				}
				return nil
			})
			check("fn's error", err, stop)
			ctx, cancel := context.WithCancel(e.ctx)
			n = 0
			err = e.w.exportActivity(ctx, u.ID, f, 7, func(Row) error {
				if n++; n == 10 {
					cancel()
				}
				return nil
			})
			check("cancelled", err, context.Canceled)
			// The table goes away after the first rows: a later query fails.
			n = 0
			var renamed bool
			err = e.w.exportActivity(e.ctx, u.ID, f, 7, func(Row) error {
				if n++; n == 2 {
					if _, err := e.d.W.ExecContext(e.ctx, `ALTER TABLE wallet_activity RENAME TO wallet_activity_gone`); err != nil {
						return err
					}
					renamed = true
				}
				return nil
			})
			if renamed {
				if _, rerr := e.d.W.ExecContext(e.ctx, `ALTER TABLE wallet_activity_gone RENAME TO wallet_activity`); rerr != nil {
					t.Fatal(rerr)
				}
			}
			if err == nil || n >= 120 || !strings.Contains(err.Error(), "wallet: export:") {
				t.Fatalf("filter %+v, failing query: %v after %d rows", f, err, n)
			}
			check("failing query", err, err)
		}
	})
}

// Rows that enter or leave a status filter during an export (their status changes)
// shrink or grow the planned ranges: every row comes out at most once, in order, and
// every row that kept the status comes out.
func TestExportRangesChange(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		u := e.user("ranges")
		all := seedActivity(t, e, u.ID, 200, 13)
		f := Filter{Statuses: []string{StatusPending}}
		kept := map[string]bool{}
		var flip []Activity
		for i, a := range all {
			switch {
			case i%3 == 0:
				flip = append(flip, a) // pending ones leave, others enter
			case a.Status == StatusPending:
				kept[a.RefNo] = true
			}
		}
		var got []Row
		err := e.w.exportActivity(e.ctx, u.ID, f, 7, func(r Row) error {
			if len(got) == 1 {
				for _, a := range flip {
					st := StatusPending
					if a.Status == StatusPending {
						st = StatusCompleted
					}
					if _, err := e.d.W.ExecContext(e.ctx, `UPDATE wallet_activity SET status = $1 WHERE id = $2`, st, a.ID); err != nil {
						return err
					}
				}
			}
			got = append(got, r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for i, r := range got {
			if seen[r.RefNo] {
				t.Fatalf("row %s twice", r.RefNo)
			}
			seen[r.RefNo] = true
			if i > 0 && !r.CreatedAt.Before(got[i-1].CreatedAt) {
				t.Fatalf("row %d out of order", i)
			}
		}
		for ref := range kept {
			if !seen[ref] {
				t.Fatalf("row %s kept its status but is missing (%d rows out)", ref, len(got))
			}
		}
		if len(kept) < 20 || len(flip) < 20 {
			t.Fatalf("seed: %d kept, %d flipped", len(kept), len(flip))
		}
	})
}
