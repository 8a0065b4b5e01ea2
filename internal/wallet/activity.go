package wallet

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/money"
)

// Activity types: what a movement is to the person who sees it.
const (
	TypeTopUp       = "top_up"
	TypeTransferIn  = "transfer_in"
	TypeTransferOut = "transfer_out"
	TypePayment     = "payment"
	TypeRefund      = "refund"
	TypeWithdrawal  = "withdrawal"
	TypeFee         = "fee"
	TypeDeposit     = "deposit"
)

// Types lists every activity type.
var Types = []string{TypeTopUp, TypeTransferIn, TypeTransferOut, TypePayment, TypeRefund, TypeWithdrawal, TypeFee, TypeDeposit}

// Activity statuses.
const (
	StatusPending           = "pending"
	StatusConfirming        = "confirming"
	StatusCompleted         = "completed"
	StatusFailed            = "failed"
	StatusRefunded          = "refunded"
	StatusPartiallyRefunded = "partially_refunded"
	StatusOnHold            = "on_hold"
	// StatusProcessing is a withdrawal the rail has accepted and is paying out.
	StatusProcessing = "processing"
)

// Statuses lists every activity status.
var Statuses = []string{StatusPending, StatusConfirming, StatusProcessing, StatusCompleted, StatusFailed, StatusRefunded, StatusPartiallyRefunded, StatusOnHold}

// Categories for spending analysis besides a merchant's own category.
const (
	CatTransfers   = "transfers"
	CatTopUps      = "top_ups"
	CatWithdrawals = "withdrawals"
	CatRefunds     = "refunds"
	CatFees        = "fees"
	CatDeposits    = "deposits"
	CatRequests    = "requests"
	CatShopping    = "shopping" // merchants that gave no category
)

// Step is one status change on a receipt's timeline.
// Timeline notes the wallet writes. They are stored in English, as the API shows them;
// the web pages translate these shapes (and show any other note as stored).
const (
	NoteOTPWait  = "waiting for the bank's one-time code"
	NoteSettling = "captured; the bank settles shortly"
)

// NoteConfirmations is a deposit's progress note.
func NoteConfirmations(n, of int) string { return fmt.Sprintf("%d/%d confirmations", n, of) }

// NoteRefund is the note a refund adds to the payment it returns (amount with asset).
func NoteRefund(amount, ref string) string { return "refund " + amount + " " + ref }

type Step struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	Code   string    `json:"code,omitempty"` // failure code, when the step is a failure
	Note   string    `json:"note,omitempty"`
}

// Activity is one movement as one person understands it.
type Activity struct {
	ID     string `json:"id"`
	UserID string `json:"-"`
	// RefNo is the human-friendly reference printed on the receipt, unique.
	RefNo  string `json:"ref_no"`
	Type   string `json:"type"`
	Status string `json:"status"`
	// Direction is +1 for money in, -1 for money out.
	Direction   int    `json:"direction"`
	Asset       string `json:"asset"`
	AmountMinor int64  `json:"amount_minor"`
	Amount      string `json:"amount"`
	FeeMinor    int64  `json:"fee_minor"`
	Fee         string `json:"fee"`
	// RefundedMinor is what has been refunded of a payment so far.
	RefundedMinor  int64  `json:"refunded_minor"`
	Category       string `json:"category"`
	CounterpartyID string `json:"-"`
	// Counterparty is shown masked: "a***e@example.com", "138****8000", a merchant name.
	Counterparty string `json:"counterparty"`
	Memo         string `json:"memo"`
	// SourceKind/SourceID name the business record (transfer, request, checkout, refund,
	// top_up, withdrawal, deposit).
	SourceKind          string    `json:"source_kind"`
	SourceID            string    `json:"source_id"`
	FailureCode         string    `json:"failure_code,omitempty"`
	Confirmations       int       `json:"confirmations,omitempty"`
	ConfirmationsNeeded int       `json:"confirmations_needed,omitempty"`
	Timeline            []Step    `json:"timeline"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

const activityCols = `id, user_id, ref_no, type, status, direction, asset, amount, fee, refunded, category, counterparty_id,
	counterparty, memo, source_kind, source_id, failure_code, confirmations, confirmations_needed, timeline, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanActivity(sc scanner) (*Activity, error) {
	var a Activity
	var tl string
	var created, updated int64
	if err := sc.Scan(&a.ID, &a.UserID, &a.RefNo, &a.Type, &a.Status, &a.Direction, &a.Asset, &a.AmountMinor, &a.FeeMinor, &a.RefundedMinor,
		&a.Category, &a.CounterpartyID, &a.Counterparty, &a.Memo, &a.SourceKind, &a.SourceID, &a.FailureCode, &a.Confirmations,
		&a.ConfirmationsNeeded, &tl, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(tl), &a.Timeline); err != nil {
		return nil, fmt.Errorf("activity %s: timeline: %w", a.ID, err)
	}
	a.CreatedAt, a.UpdatedAt = db.Micros(created), db.Micros(updated)
	a.fill()
	return &a, nil
}

func (a *Activity) fill() {
	if as, ok := money.Lookup(a.Asset); ok {
		a.Amount = money.Amount(a.AmountMinor).Format(as)
		a.Fee = money.Amount(a.FeeMinor).Format(as)
	}
}

// refNo makes the receipt number from the activity id: the date (CST) and 12 characters of
// Crockford base32 (60 bits), readable over the phone and unique in practice; the unique
// index is the guarantee.
func refNo(id uuid.UUID, at time.Time) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	v := binary.BigEndian.Uint64(id[8:])
	var b [12]byte
	for i := range b {
		b[i] = alphabet[v&31]
		v >>= 5
	}
	return at.In(cst).Format("060102") + string(b[:])
}

// maxMemoRunes caps memos (validated at the edge of each flow).
const maxMemoRunes = 140

func validMemo(m string) error {
	if utf8.RuneCountInString(m) > maxMemoRunes || !utf8.ValidString(m) {
		return invalid("memo", FieldMemoTooLong)
	}
	for _, r := range m {
		if unicode.IsControl(r) {
			return invalid("memo", FieldMemoTooLong)
		}
	}
	return nil
}

// newActivity is what a flow records; insertActivity fills the rest.
type newActivity struct {
	id                        uuid.UUID
	userID, typ, status       string
	direction                 int
	asset                     string
	amount, fee               int64
	category                  string
	counterpartyID, cpty      string
	memo                      string
	sourceKind, sourceID      string
	failureCode               string
	confirmations, confNeeded int
	note                      string
}

func insertActivity(ctx context.Context, tx *db.Tx, n newActivity) (*Activity, error) {
	as, err := insertActivities(ctx, tx, n)
	if err != nil {
		return nil, err
	}
	return as[0], nil
}

// insertActivities records ns with one statement for the rows and one for their search
// terms (a payment's two sides).
func insertActivities(ctx context.Context, tx *db.Tx, ns ...newActivity) ([]*Activity, error) {
	rows := make([]activityRow, len(ns))
	out := make([]*Activity, len(ns))
	for i, n := range ns {
		rows[i] = makeActivity(n, tx.Now)
		out[i] = rows[i].a
	}
	if err := writeActivities(ctx, tx, rows); err != nil {
		return nil, err
	}
	return out, nil
}

// activityRow is a new activity record with what its insert needs besides the record.
type activityRow struct {
	a        *Activity
	timeline string // JSON
	atMicros int64  // created_at and updated_at
}

// makeActivity makes n's record as created at now: its receipt number, a timeline of one
// step, formatted amounts.
func makeActivity(n newActivity, now time.Time) activityRow {
	tl := []Step{{Status: n.status, At: now, Code: n.failureCode, Note: n.note}}
	tlj, _ := json.Marshal(tl)
	a := &Activity{ID: n.id.String(), UserID: n.userID, RefNo: refNo(n.id, now), Type: n.typ, Status: n.status, Direction: n.direction,
		Asset: n.asset, AmountMinor: n.amount, FeeMinor: n.fee, Category: n.category, CounterpartyID: n.counterpartyID,
		Counterparty: n.cpty, Memo: n.memo, SourceKind: n.sourceKind, SourceID: n.sourceID, FailureCode: n.failureCode,
		Confirmations: n.confirmations, ConfirmationsNeeded: n.confNeeded, Timeline: tl, CreatedAt: now, UpdatedAt: now}
	a.fill()
	return activityRow{a: a, timeline: string(tlj), atMicros: now.UnixMicro()}
}

// activityChunk bounds the records of one INSERT (22 parameters each).
const activityChunk = 64

// writeActivities inserts rows and their search terms: one statement each for a payment's
// two sides, a few for a feed batch.
func writeActivities(ctx context.Context, tx *db.Tx, rows []activityRow) error {
	var ts []termRow
	for len(rows) > 0 {
		n := chunk(len(rows), activityChunk)
		b := newBulk(tx, `INSERT INTO wallet_activity (`+activityCols+`) VALUES `, n*21)
		for _, r := range rows[:n] {
			a := r.a
			b.row(a.ID, a.UserID, a.RefNo, a.Type, a.Status, a.Direction, a.Asset, a.AmountMinor, a.FeeMinor, sqlLit("0"), a.Category,
				a.CounterpartyID, a.Counterparty, a.Memo, a.SourceKind, a.SourceID, a.FailureCode, a.Confirmations, a.ConfirmationsNeeded,
				r.timeline, r.atMicros, r.atMicros)
			for _, t := range terms(a.Counterparty + " " + a.Memo) {
				ts = append(ts, termRow{a.UserID, t, a.ID, r.atMicros})
			}
		}
		if _, err := tx.ExecCached(ctx, b.String(), b.args...); err != nil {
			return fmt.Errorf("record activity: %w", err)
		}
		rows = rows[n:]
	}
	return insertTerms(ctx, tx, ts)
}

// activityUpdate changes an activity's status (appending to the timeline) and optionally
// other fields.
type activityUpdate struct {
	status        string
	failureCode   string
	note          string
	refunded      int64 // added to refunded
	confirmations int   // set when > 0
}

func updateActivity(ctx context.Context, tx *db.Tx, id string, u activityUpdate) error {
	var tl string
	var status string
	if err := tx.QueryRowCached(ctx, `SELECT status, timeline FROM wallet_activity WHERE id = $1 `+tx.Dialect.ForUpdate(), id).Scan(&status, &tl); err != nil {
		return fmt.Errorf("load activity %s: %w", id, err)
	}
	var steps []Step
	if err := json.Unmarshal([]byte(tl), &steps); err != nil {
		return fmt.Errorf("activity %s timeline: %w", id, err)
	}
	if u.status == "" {
		u.status = status
	}
	// The timeline records changes, not repeats (a confirmation count moving 1/3 → 2/3 is
	// noted once per count).
	if u.status != status || u.note != "" {
		if len(steps) < 64 {
			steps = append(steps, Step{Status: u.status, At: tx.Now, Code: u.failureCode, Note: u.note})
		}
	}
	b, _ := json.Marshal(steps)
	_, err := tx.ExecCached(ctx, `UPDATE wallet_activity SET status = $1, failure_code = CASE WHEN $2 = '' THEN failure_code ELSE $2 END,
		refunded = refunded + $3, confirmations = CASE WHEN $4 > 0 THEN $4 ELSE confirmations END, timeline = $5, updated_at = $6 WHERE id = $7`,
		u.status, u.failureCode, u.refunded, u.confirmations, string(b), tx.NowMicros(), id)
	if err != nil {
		return fmt.Errorf("update activity %s: %w", id, err)
	}
	return nil
}

func getActivity(ctx context.Context, tx *db.Tx, id string) (*Activity, error) {
	a, err := scanActivity(tx.QueryRowCached(ctx, `SELECT `+activityCols+` FROM wallet_activity WHERE id = $1`, id))
	if db.IsNoRows(err) {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load activity: %w", err)
	}
	return a, nil
}

// GetActivity returns one of userID's activity records with its timeline, for the
// receipt page; by id or by reference number.
//
// Errors: not_found (unknown, or someone else's).
func (s *Service) GetActivity(ctx context.Context, userID, idOrRef string) (*Activity, error) {
	if err := s.Settle(ctx); err != nil {
		return nil, err
	}
	var out *Activity
	err := s.read(ctx, "get activity", func(tx *db.Tx) error {
		a, err := scanActivity(tx.QueryRowContext(ctx, `SELECT `+activityCols+` FROM wallet_activity WHERE (id = $1 OR ref_no = $1) AND user_id = $2`, idOrRef, userID))
		if db.IsNoRows(err) {
			return apperr.New(apperr.CodeNotFound)
		}
		if err != nil {
			return fmt.Errorf("load activity: %w", err)
		}
		out = a
		return nil
	})
	return out, err
}

// Terms: lower-cased runs of letters/digits (Latin, digits) as words, and for CJK text
// every single character and every pair of neighbours, so a search for "房租" or "房"
// finds "三月房租". At most maxTerms per record.
const (
	maxTerms     = 24
	maxTermBytes = 48
)

func terms(s string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(t string) {
		if t == "" || len(t) > maxTermBytes || seen[t] || len(out) >= maxTerms {
			return
		}
		seen[t] = true
		out = append(out, t)
	}
	var word []rune
	var prevCJK rune
	flush := func() {
		// Single Latin letters (the kept ends of a masked email) find everything: skip.
		if len(word) > 1 || (len(word) == 1 && unicode.IsDigit(word[0])) {
			add(strings.ToLower(string(word)))
		}
		word = word[:0]
	}
	for _, r := range s {
		switch {
		case isCJK(r):
			flush()
			add(string(r))
			if prevCJK != 0 {
				add(string([]rune{prevCJK, r}))
			}
			prevCJK = r
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			word = append(word, r)
		default:
			flush()
		}
		prevCJK = 0
	}
	flush()
	return out
}

func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

// termRow is one search term of one activity record.
type termRow struct {
	userID, term, activityID string
	atMicros                 int64
}

// termChunk bounds the terms of one INSERT (4 parameters each).
const termChunk = 256

func insertTerms(ctx context.Context, tx *db.Tx, ts []termRow) error {
	for len(ts) > 0 {
		n := chunk(len(ts), termChunk)
		b := newBulk(tx, `INSERT INTO wallet_activity_terms (user_id, term, created_at, activity_id) VALUES `, n*4)
		for _, t := range ts[:n] {
			b.row(t.userID, t.term, t.atMicros, t.activityID)
		}
		b.q.WriteString(` ON CONFLICT DO NOTHING`)
		if _, err := tx.ExecCached(ctx, b.String(), b.args...); err != nil {
			return fmt.Errorf("index activity text: %w", err)
		}
		ts = ts[n:]
	}
	return nil
}

// maskEmail keeps the first and last character of the local part and the domain:
// "alice@example.com" → "a***e@example.com"; enough for the payer to recognise the
// person, not enough to harvest addresses from receipts.
func maskEmail(e string) string {
	local, domain, ok := strings.Cut(e, "@")
	if !ok {
		return "***"
	}
	r := []rune(local)
	switch len(r) {
	case 0:
		return "***@" + domain
	case 1, 2:
		return string(r[0]) + "***@" + domain
	}
	return string(r[0]) + "***" + string(r[len(r)-1]) + "@" + domain
}

// maskPhone keeps the first 3 and last 4 digits of the national number: 138****8000.
func maskPhone(p string) string {
	d := strings.TrimPrefix(p, "+86")
	if len(d) < 8 {
		return "****"
	}
	return d[:3] + "****" + d[len(d)-4:]
}
