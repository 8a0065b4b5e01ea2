package wallet

import (
	"context"
	"encoding/base64"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/money"
)

// Page sizes and export bounds.
const (
	DefaultPage   = 20
	MaxPage       = 100
	MaxExportRows = 1_000_000
	maxTextRunes  = 64
	maxQueryTerms = 4
)

// Filter narrows the history. Zero fields do not filter.
type Filter struct {
	From time.Time `json:"from,omitzero"` // created at or after
	To   time.Time `json:"to,omitzero"`   // created before
	// Types and Statuses: any of (at most 8 each).
	Types    []string `json:"types,omitempty"`
	Statuses []string `json:"statuses,omitempty"`
	Asset    string   `json:"asset,omitempty"`
	// MinAmount/MaxAmount are decimals in Asset (Asset is required with them), inclusive.
	MinAmount string `json:"min_amount,omitempty"`
	MaxAmount string `json:"max_amount,omitempty"`
	// Text matches words in the counterparty or memo (every word must match; Chinese
	// matches by characters).
	Text string `json:"text,omitempty"`
}

// filterParams maps Filter's field names to the query parameters both HTTP layers read
// them from (from, to, type, status, asset, min, max, q).
var filterParams = map[string]string{"types": "type", "statuses": "status", "min_amount": "min", "max_amount": "max", "text": "q"}

// FilterErrorInQuery renames the fields of a filter's validation error to the query
// parameters, so the error names what the caller sent (min, not min_amount).
func FilterErrorInQuery(err error) error {
	if e, ok := apperr.As(err); ok {
		for i := range e.Fields {
			if p, ok := filterParams[e.Fields[i].Field]; ok {
				e.Fields[i].Field = p
			}
		}
	}
	return err
}

// compiled is a validated filter.
type compiled struct {
	from, to   int64 // [from, to) µs; to = max when open
	types      []string
	statuses   []string
	asset      string
	minA, maxA int64 // inclusive; maxA = -1 when open
	terms      []string
	hasAmount  bool
}

func (f Filter) compile() (*compiled, error) {
	c := &compiled{from: 0, to: 1<<63 - 1, asset: f.Asset, maxA: -1}
	if !f.From.IsZero() {
		c.from = f.From.UnixMicro()
	}
	if !f.To.IsZero() {
		c.to = f.To.UnixMicro()
	}
	if c.to <= c.from {
		return nil, invalid("to", FieldFilterDate)
	}
	if len(f.Types) > 8 || len(f.Statuses) > 8 {
		return nil, invalid("types", FieldFilterInvalid)
	}
	for _, t := range f.Types {
		if !slices.Contains(Types, t) {
			return nil, invalid("types", FieldFilterInvalid)
		}
		if !slices.Contains(c.types, t) {
			c.types = append(c.types, t)
		}
	}
	for _, st := range f.Statuses {
		if !slices.Contains(Statuses, st) {
			return nil, invalid("statuses", FieldFilterInvalid)
		}
		if !slices.Contains(c.statuses, st) {
			c.statuses = append(c.statuses, st)
		}
	}
	if f.Asset != "" {
		if _, err := assetOf(f.Asset); err != nil {
			return nil, err
		}
	}
	if f.MinAmount != "" || f.MaxAmount != "" {
		if f.Asset == "" {
			return nil, invalid("asset", FieldFilterNeedsAsset)
		}
		a := money.MustLookup(f.Asset)
		c.hasAmount = true
		if f.MinAmount != "" {
			m, err := money.Parse(f.MinAmount, a)
			if err != nil || m < 0 {
				return nil, invalid("min_amount", FieldFilterAmount)
			}
			c.minA = int64(m)
		}
		if f.MaxAmount != "" {
			m, err := money.Parse(f.MaxAmount, a)
			if err != nil || m < 0 || int64(m) < c.minA {
				return nil, invalid("max_amount", FieldFilterAmount)
			}
			c.maxA = int64(m)
		}
	}
	if f.Text != "" {
		if utf8.RuneCountInString(f.Text) > maxTextRunes {
			return nil, invalid("text", FieldTextInvalid)
		}
		ts := queryTerms(f.Text)
		if len(ts) == 0 {
			return nil, invalid("text", FieldTextInvalid)
		}
		c.terms = ts
	}
	return c, nil
}

// queryTerms are the index terms a search must all match: words as indexed, and for a
// Chinese run its pairs (or the single character), which were all indexed.
func queryTerms(s string) []string {
	all := terms(s)
	// For CJK runs longer than one character, the pairs imply the single characters:
	// keep pairs only, fewer lookups for the same rows.
	var out []string
	for _, t := range all {
		r := []rune(t)
		if len(r) == 1 && isCJK(r[0]) {
			inPair := false
			for _, u := range all {
				if ur := []rune(u); len(ur) == 2 && isCJK(ur[0]) && (ur[0] == r[0] || ur[1] == r[0]) {
					inPair = true
					break
				}
			}
			if inPair {
				continue
			}
		}
		out = append(out, t)
	}
	// The longest terms are the most selective: drive the lookup from them.
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	if len(out) > maxQueryTerms {
		out = out[:maxQueryTerms]
	}
	return out
}

// cursor is the position after the last row of a page: (created_at, id), newest first.
type cursor struct {
	at int64
	id string
}

func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.at, 10) + "|" + c.id))
}

func parseCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{at: 1<<63 - 1, id: "~"}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 80 {
		return cursor{}, apperr.New(CodeCursorInvalid)
	}
	at, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return cursor{}, apperr.New(CodeCursorInvalid)
	}
	return cursor{at: n, id: id}, nil
}

// query builds one page query: the rows of c after cur, newest first, at most limit. The
// driving index is chosen by the most selective filter given — the text terms table, one
// of the (user, type|status|asset, time) indexes, or (user, time) — so the database walks
// one index range in order and stops after limit matches. Several types or statuses
// become a UNION ALL of per-value walks, each limited, merged and cut again.
func (c *compiled) query(engine db.Engine, cols, userID string, cur cursor, limit int) (string, []any) {
	return c.queryRange(engine, cols, userID, cur, nil, limit)
}

// queryRange is query with the rows' keys bounded below too: at or after *end when end is
// not nil (the export reads ranges of the history; see exportPipe).
func (c *compiled) queryRange(engine db.Engine, cols, userID string, cur cursor, end *cursor, limit int) (string, []any) {
	// Both engines seek the index with the row-value bound only: a cursor later than the
	// filter's end would make them walk down to it row by row. (to, "") is the same bound
	// as created_at < to, because every id sorts after "".
	if cur.at >= c.to {
		cur = cursor{at: c.to, id: ""}
	}
	args := []any{userID, cur.at, cur.id}
	// Time bounds only when given: an always-present range on created_at makes SQLite
	// prefer the (user, time) index over the filter's own.
	var bounds, tbounds string
	if c.from > 0 {
		args = append(args, c.from)
		bounds += " AND a.created_at >= $" + strconv.Itoa(len(args))
		tbounds += " AND t.created_at >= $" + strconv.Itoa(len(args))
	}
	if c.to < 1<<63-1 {
		args = append(args, c.to)
		bounds += " AND a.created_at < $" + strconv.Itoa(len(args))
		tbounds += " AND t.created_at < $" + strconv.Itoa(len(args))
	}
	if end != nil {
		args = append(args, end.at, end.id)
		n := strconv.Itoa(len(args) - 1)
		bounds += " AND (a.created_at, a.id) >= ($" + n + ", $" + strconv.Itoa(len(args)) + ")"
		tbounds += " AND (t.created_at, t.activity_id) >= ($" + n + ", $" + strconv.Itoa(len(args)) + ")"
	}
	// SQLite's planner, without statistics, walks the (user, time) index and filters when
	// a time range is present, which scans a million rows for a rare status. The index is
	// named for it (INDEXED BY is SQLite's only hint); PostgreSQL plans from statistics.
	indexed := func(idx string) string {
		if engine == db.SQLite {
			return " INDEXED BY " + idx
		}
		return ""
	}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	// residual predicates on a (the activity row).
	resid := func(skip string) string {
		var w []string
		if skip != "type" && len(c.types) > 0 {
			w = append(w, "a.type IN ("+list(c.types, arg)+")")
		}
		if skip != "status" && len(c.statuses) > 0 {
			w = append(w, "a.status IN ("+list(c.statuses, arg)+")")
		}
		if skip != "asset" && c.asset != "" {
			w = append(w, "a.asset = "+arg(c.asset))
		}
		if c.hasAmount {
			w = append(w, "a.amount >= "+arg(c.minA))
			if c.maxA >= 0 {
				w = append(w, "a.amount <= "+arg(c.maxA))
			}
		}
		if len(w) == 0 {
			return ""
		}
		return " AND " + strings.Join(w, " AND ")
	}
	lim := strconv.Itoa(limit)
	sel := strings.ReplaceAll(cols, "\n", " ")
	if len(c.terms) > 0 {
		q := `SELECT ` + sel + ` FROM wallet_activity_terms t JOIN wallet_activity a ON a.id = t.activity_id
			WHERE t.user_id = $1 AND t.term = ` + arg(c.terms[0]) + ` AND (t.created_at, t.activity_id) < ($2, $3)` + tbounds
		for _, term := range c.terms[1:] {
			q += ` AND EXISTS (SELECT 1 FROM wallet_activity_terms t2 WHERE t2.user_id = $1 AND t2.term = ` + arg(term) +
				` AND t2.created_at = t.created_at AND t2.activity_id = t.activity_id)`
		}
		q += resid("") + ` ORDER BY t.created_at DESC, t.activity_id DESC LIMIT ` + lim
		return q, args
	}
	base := func(idx string) string {
		return ` FROM wallet_activity a` + indexed(idx) + ` WHERE a.user_id = $1 AND (a.created_at, a.id) < ($2, $3)` + bounds
	}
	order := ` ORDER BY a.created_at DESC, a.id DESC LIMIT ` + lim
	per := func(col string, vals []string) (string, []any) {
		idx := "wallet_activity_user_" + col
		if len(vals) == 1 {
			return `SELECT ` + sel + base(idx) + ` AND a.` + col + ` = ` + arg(vals[0]) + resid(col) + order, args
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = `SELECT * FROM (SELECT ` + sel + base(idx) + ` AND a.` + col + ` = ` + arg(v) + resid(col) + order + `) p` + strconv.Itoa(i)
		}
		return `SELECT * FROM (` + strings.Join(parts, " UNION ALL ") + `) u ORDER BY created_at DESC, id DESC LIMIT ` + lim, args
	}
	switch {
	case len(c.types) > 0 && (len(c.statuses) == 0 || len(c.types) <= len(c.statuses)):
		return per("type", c.types)
	case len(c.statuses) > 0:
		return per("status", c.statuses)
	case c.asset != "":
		return per("asset", []string{c.asset})
	}
	return `SELECT ` + sel + base("wallet_activity_user") + resid("") + order, args
}

func list(vals []string, arg func(any) string) string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = arg(v)
	}
	return strings.Join(out, ", ")
}

var activityColsA = prefixCols(activityCols, "a.")

func prefixCols(cols, p string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// ActivityPage is one page of history, newest first. Next is the cursor of the following
// page, "" at the end.
type ActivityPage struct {
	Items []Activity `json:"items"`
	Next  string     `json:"next,omitempty"`
}

// ListActivity returns userID's history matching f, newest first, limit per page (1..100,
// default 20), continuing after cursor ("" for the first page). Pages are stable: rows
// created after the first page do not shift later pages.
//
// Errors: validation_failed (filter fields: filter_invalid, text_invalid),
// currency_not_supported, cursor_invalid.
func (s *Service) ListActivity(ctx context.Context, userID string, f Filter, cur string, limit int) (*ActivityPage, error) {
	if limit <= 0 {
		limit = DefaultPage
	}
	if limit > MaxPage {
		limit = MaxPage
	}
	c, err := f.compile()
	if err != nil {
		return nil, err
	}
	pos, err := parseCursor(cur)
	if err != nil {
		return nil, err
	}
	if err := s.Settle(ctx); err != nil {
		return nil, err
	}
	q, args := c.query(s.d.Engine, activityColsA, userID, pos, limit+1)
	page := &ActivityPage{Items: []Activity{}}
	err = s.read(ctx, "list activity", func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanActivity(rows)
			if err != nil {
				return err
			}
			page.Items = append(page.Items, *a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		last := page.Items[limit-1]
		page.Next = cursor{at: last.CreatedAt.UnixMicro(), id: last.ID}.String()
	}
	return page, nil
}

// Analysis is spending analysis over a period in one asset.
type Analysis struct {
	Asset  string         `json:"asset"`
	From   time.Time      `json:"from"`
	To     time.Time      `json:"to"`
	Months []MonthSummary `json:"months"`
	// Categories are totals over the whole period, largest spending first.
	Categories []CategorySummary `json:"categories"`
	// TopCounterparties are who the user spent most with (at most 10).
	TopCounterparties []CounterpartySummary `json:"top_counterparties"`
	IncomeMinor       int64                 `json:"income_minor"`
	SpendingMinor     int64                 `json:"spending_minor"`
}

// MonthSummary is one calendar month (China Standard Time).
type MonthSummary struct {
	Month         string            `json:"month"` // "2026-03"
	IncomeMinor   int64             `json:"income_minor"`
	SpendingMinor int64             `json:"spending_minor"`
	ByCategory    map[string]int64  `json:"spending_by_category"`
	Categories    []CategorySummary `json:"categories"`
}

// CategorySummary sums one category: money in and out, and how many records.
type CategorySummary struct {
	Category string `json:"category"`
	InMinor  int64  `json:"in_minor"`
	OutMinor int64  `json:"out_minor"`
	Count    int64  `json:"count"`
}

// CounterpartySummary is spending with one counterparty.
type CounterpartySummary struct {
	Counterparty string `json:"counterparty"`
	OutMinor     int64  `json:"out_minor"`
	Count        int64  `json:"count"`
}

// ownMoney categories move the user's own money between OKPay and their bank: shown as
// categories, not counted as income or spending.
func ownMoney(cat string) bool {
	return cat == CatTopUps || cat == CatWithdrawals || cat == CatDeposits
}

// maxAnalysisMonths bounds one analysis (each month is one indexed aggregate).
const maxAnalysisMonths = 24

// Analyze summarises userID's completed movements in asset per month of [from, to)
// (months in China Standard Time; at most 24): income vs spending, spending per
// category (merchant category, transfers, top-ups, withdrawals, …) and the top
// counterparties. Top-ups, withdrawals and deposits are the user's own money: they are
// listed per category but not counted as income or spending.
//
// Errors: currency_not_supported, validation_failed (to: filter_invalid).
func (s *Service) Analyze(ctx context.Context, userID, asset string, from, to time.Time) (*Analysis, error) {
	if _, err := assetOf(asset); err != nil {
		return nil, err
	}
	f, t := monthStart(from), to.In(cst)
	if !t.After(f) {
		return nil, invalid("to", FieldFilterInvalid)
	}
	out := &Analysis{Asset: asset, From: f.UTC(), To: t.UTC(), Months: []MonthSummary{}, Categories: []CategorySummary{}, TopCounterparties: []CounterpartySummary{}}
	if err := s.Settle(ctx); err != nil {
		return nil, err
	}
	done := []string{StatusCompleted, StatusRefunded, StatusPartiallyRefunded}
	total := map[string]*CategorySummary{}
	err := s.read(ctx, "analyze", func(tx *db.Tx) error {
		for m := f; m.Before(t); m = m.AddDate(0, 1, 0) {
			if len(out.Months) >= maxAnalysisMonths {
				return invalid("to", FieldFilterInvalid)
			}
			end := m.AddDate(0, 1, 0)
			if end.After(t) {
				end = t
			}
			ms := MonthSummary{Month: m.Format("2006-01"), ByCategory: map[string]int64{}, Categories: []CategorySummary{}}
			rows, err := tx.QueryContext(ctx, `SELECT category, direction, SUM(amount), COUNT(*) FROM wallet_activity a
				WHERE a.user_id = $1 AND a.asset = $2 AND a.created_at >= $3 AND a.created_at < $4 AND a.status IN ($5, $6, $7)
				GROUP BY category, direction ORDER BY category`, userID, asset, m.UnixMicro(), end.UnixMicro(), done[0], done[1], done[2])
			if err != nil {
				return err
			}
			cats := map[string]*CategorySummary{}
			for rows.Next() {
				var cat string
				var dir int
				var sum, n int64
				if err := rows.Scan(&cat, &dir, &sum, &n); err != nil {
					rows.Close()
					return err
				}
				cs := cats[cat]
				if cs == nil {
					cs = &CategorySummary{Category: cat}
					cats[cat] = cs
				}
				ts := total[cat]
				if ts == nil {
					ts = &CategorySummary{Category: cat}
					total[cat] = ts
				}
				cs.Count += n
				ts.Count += n
				if dir > 0 {
					cs.InMinor += sum
					ts.InMinor += sum
					if !ownMoney(cat) {
						ms.IncomeMinor += sum
					}
				} else {
					cs.OutMinor += sum
					ts.OutMinor += sum
					if !ownMoney(cat) {
						ms.SpendingMinor += sum
						ms.ByCategory[cat] += sum
					}
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, cs := range cats {
				ms.Categories = append(ms.Categories, *cs)
			}
			sortCats(ms.Categories)
			out.IncomeMinor += ms.IncomeMinor
			out.SpendingMinor += ms.SpendingMinor
			out.Months = append(out.Months, ms)
		}
		rows, err := tx.QueryContext(ctx, `SELECT counterparty, SUM(amount), COUNT(*) FROM wallet_activity a
			WHERE a.user_id = $1 AND a.asset = $2 AND a.created_at >= $3 AND a.created_at < $4 AND a.direction = -1
			AND a.status IN ($5, $6, $7) AND a.type IN ($8, $9) AND a.counterparty <> ''
			GROUP BY counterparty ORDER BY SUM(amount) DESC, counterparty LIMIT 10`,
			userID, asset, f.UnixMicro(), t.UnixMicro(), done[0], done[1], done[2], TypePayment, TypeTransferOut)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c CounterpartySummary
			if err := rows.Scan(&c.Counterparty, &c.OutMinor, &c.Count); err != nil {
				return err
			}
			out.TopCounterparties = append(out.TopCounterparties, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	for _, cs := range total {
		out.Categories = append(out.Categories, *cs)
	}
	sortCats(out.Categories)
	return out, nil
}

func sortCats(cs []CategorySummary) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].OutMinor != cs[j].OutMinor {
			return cs[i].OutMinor > cs[j].OutMinor
		}
		return cs[i].Category < cs[j].Category
	})
}

func monthStart(t time.Time) time.Time {
	t = t.In(cst)
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, cst)
}
