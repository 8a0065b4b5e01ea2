package wallet

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"regexp"
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
