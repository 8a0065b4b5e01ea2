package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/audit"
	"okpay/internal/db"
	"okpay/internal/identity"
	"okpay/internal/money"
	"okpay/internal/notify"
	"okpay/internal/support/troubleshoot"
)

// Identity check kinds.
const (
	CheckEmailCode = "email_code"
	CheckPhoneCode = "phone_code"
	CheckCardLast4 = "card_last4"
	CheckAmount    = "recent_amount"
)

// Limits on codes sent to customers: one per agent and customer per codeCooldown, at
// most codesPerHour in an hour, at most codeAttempts tries each.
const (
	codeCooldown = 60 * time.Second
	codesPerHour = 5
	codeAttempts = 5
	maxChecksRow = 200 // rows read per state computation
)

// CodeSent says where a check code went.
type CodeSent struct {
	Channel   string    `json:"channel" doc:"email or phone"`
	To        string    `json:"to" doc:"masked address"`
	ExpiresAt time.Time `json:"expires_at"`
	NextAt    time.Time `json:"next_at" doc:"when another code may be sent"`
}

// Availability says whether a check can be done for this customer, and why not.
type Availability struct {
	Kind string `json:"kind"`
	OK   bool   `json:"ok"`
	Why  string `json:"why,omitempty" doc:"no_verified_email, no_verified_phone, no_card, no_recent_activity"`
}

// CheckState is what this agent has established about this customer's identity.
type CheckState struct {
	CustomerID string `json:"customer_id"`
	// Passed lists the kinds passed within the check window.
	Passed []string `json:"passed"`
	Failed int      `json:"failed"`
	// Verified: a code read back, or both the card's last 4 and a recent amount.
	Verified      bool           `json:"verified"`
	VerifiedUntil time.Time      `json:"verified_until,omitzero"`
	Locked        bool           `json:"locked"`
	LockedUntil   time.Time      `json:"locked_until,omitzero"`
	Available     []Availability `json:"available"`
}

// Has reports whether kind was passed.
func (c *CheckState) Has(kind string) bool {
	for _, k := range c.Passed {
		if k == kind {
			return true
		}
	}
	return false
}

// Summary names the passed checks for the audit log: "email_code+card_last4".
func (c *CheckState) Summary() string { return strings.Join(c.Passed, "+") }

func (s *Service) actorKind(a Agent) string {
	if a.Role == identity.RoleAdmin {
		return audit.ActorAdmin
	}
	return audit.ActorAgent
}

// state computes the check state inside tx.
func (s *Service) state(ctx context.Context, tx *db.Tx, agentID, customerID string) (*CheckState, error) {
	since := tx.Now.Add(-s.cfg.CheckTTL).UnixMicro()
	rows, err := tx.QueryContext(ctx, `SELECT kind, passed, created_at, expires_at FROM console_checks
		WHERE agent_id = $1 AND customer_id = $2 AND created_at > $3 ORDER BY created_at DESC LIMIT $4`, agentID, customerID, since, maxChecksRow)
	if err != nil {
		return nil, fmt.Errorf("read checks: %w", err)
	}
	defer rows.Close()
	st := &CheckState{CustomerID: customerID, Passed: []string{}}
	until := map[string]time.Time{}
	var lastFail time.Time
	for rows.Next() {
		var kind string
		var passed int
		var created, expires int64
		if err := rows.Scan(&kind, &passed, &created, &expires); err != nil {
			return nil, fmt.Errorf("scan check: %w", err)
		}
		if passed == 0 {
			st.Failed++
			if t := db.Micros(created); t.After(lastFail) {
				lastFail = t
			}
			continue
		}
		if exp := db.Micros(expires); exp.After(tx.Now) && exp.After(until[kind]) {
			if _, seen := until[kind]; !seen {
				st.Passed = append(st.Passed, kind)
			}
			until[kind] = exp
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if st.Failed >= s.cfg.MaxFailures {
		st.Locked, st.LockedUntil = true, lastFail.Add(s.cfg.CheckTTL)
	}
	var best time.Time
	for _, k := range []string{CheckEmailCode, CheckPhoneCode} {
		if t := until[k]; t.After(best) {
			best = t
		}
	}
	if c, a := until[CheckCardLast4], until[CheckAmount]; !c.IsZero() && !a.IsZero() {
		pair := c
		if a.Before(pair) {
			pair = a
		}
		if pair.After(best) {
			best = pair
		}
	}
	// A locked check state verifies nothing: failures after a pass mean doubt.
	if !best.IsZero() && !st.Locked {
		st.Verified, st.VerifiedUntil = true, best
	}
	return st, nil
}

// facts are what the knowledge checks compare with.
type facts struct {
	user  *identity.User
	cards []troubleshoot.Card
	known bool // cards could be read
	acts  []troubleshoot.Activity
}

func (s *Service) facts(ctx context.Context, customerID string) (*facts, error) {
	u, err := s.customer(ctx, customerID)
	if err != nil {
		return nil, err
	}
	snap, err := s.cfg.Troubleshoot.Snapshot(ctx, customerID)
	if err != nil {
		return nil, err
	}
	f := &facts{user: u, known: snap.Known.Cards, acts: snap.Activity}
	for _, c := range snap.Cards {
		// Only a verified card proves anything: its holder read the bank's code.
		if c.Verified {
			f.cards = append(f.cards, c)
		}
	}
	return f, nil
}

func (f *facts) availability() []Availability {
	out := []Availability{
		{Kind: CheckEmailCode, OK: f.user.EmailVerified},
		{Kind: CheckPhoneCode, OK: f.user.PhoneVerified && f.user.Phone != ""},
		{Kind: CheckCardLast4, OK: f.known && len(f.cards) > 0},
		{Kind: CheckAmount, OK: len(f.acts) > 0},
	}
	why := []string{"no_verified_email", "no_verified_phone", "no_card", "no_recent_activity"}
	for i := range out {
		if !out[i].OK {
			out[i].Why = why[i]
		}
	}
	return out
}

// Checks returns what the agent has established about the customer's identity and which
// checks are possible.
//
// Errors: unauthenticated, forbidden (not staff), customer_not_found.
func (s *Service) Checks(ctx context.Context, a Agent, customerID string) (*CheckState, error) {
	if _, err := s.requireStaff(ctx, a); err != nil {
		return nil, err
	}
	f, err := s.facts(ctx, customerID)
	if err != nil {
		return nil, err
	}
	var st *CheckState
	err = s.read(ctx, "checks", func(tx *db.Tx) error {
		st, err = s.state(ctx, tx, a.ID, customerID)
		return err
	})
	if err != nil {
		return nil, err
	}
	st.Available = f.availability()
	return st, nil
}

func sixDigits() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(fmt.Sprintf("console: random: %v", err))
	}
	return fmt.Sprintf("%06d", n.Int64())
}

func maskEmail(e string) string {
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" {
		return "***"
	}
	r := []rune(local)
	return string(r[0]) + "***@" + domain
}

func maskPhone(p string) string {
	if len(p) < 8 {
		return "****"
	}
	return p[:len(p)-8] + "****" + p[len(p)-4:]
}

var codeText = struct{ subject, body [2]string }{
	subject: [2]string{"OKPay support: your identity check code", "OKPay 客服：身份核验码"},
	body: [2]string{
		"An OKPay support agent is checking that they are talking to the owner of this account.\n\nRead this code to the agent: %s\n\nIt works for %d minutes. If you are not talking to OKPay support right now, do not give it to anyone.",
		"OKPay 客服正在核实与其沟通的是否为本账户的持有人。\n\n请将此验证码告诉客服：%s\n\n验证码 %d 分钟内有效。如果您此刻没有在与 OKPay 客服沟通，请勿将验证码告诉任何人。",
	},
}

// SendCode sends a 6-digit code to the customer's verified email ("email") or phone
// ("phone"); the agent enters what the customer reads back with RecordChecks. A new code
// replaces the older ones of this agent for this customer.
//
// Errors: unauthenticated, forbidden, customer_not_found, validation_failed (channel),
// identity_check_unavailable (no verified address on that channel; param why),
// identity_check_locked (param until), identity_check_code_cooldown (param next_at).
func (s *Service) SendCode(ctx context.Context, a Agent, customerID, channel string) (*CodeSent, error) {
	if _, err := s.requireStaff(ctx, a); err != nil {
		return nil, err
	}
	if channel != "email" && channel != "phone" {
		return nil, apperr.New(apperr.CodeValidation).Field("channel", apperr.CodeBadRequest)
	}
	u, err := s.customer(ctx, customerID)
	if err != nil {
		return nil, err
	}
	to, masked := u.Email, maskEmail(u.Email)
	if channel == "email" && !u.EmailVerified {
		return nil, apperr.New(CodeCheckUnavailable).With("why", "no_verified_email")
	}
	if channel == "phone" {
		if !u.PhoneVerified || u.Phone == "" {
			return nil, apperr.New(CodeCheckUnavailable).With("why", "no_verified_phone")
		}
		to, masked = u.Phone, maskPhone(u.Phone)
	}
	var out CodeSent
	err = s.inTx(ctx, "send code", func(tx *db.Tx) error {
		st, err := s.state(ctx, tx, a.ID, customerID)
		if err != nil {
			return err
		}
		if st.Locked {
			return apperr.New(CodeCheckLocked).With("until", st.LockedUntil.Format(time.RFC3339))
		}
		var last int64
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(created_at), 0), COUNT(*) FROM console_codes
			WHERE agent_id = $1 AND customer_id = $2 AND created_at > $3`, a.ID, customerID, tx.Now.Add(-time.Hour).UnixMicro()).Scan(&last, &n); err != nil {
			return fmt.Errorf("recent codes: %w", err)
		}
		if next := db.Micros(last).Add(codeCooldown); last != 0 && next.After(tx.Now) {
			return apperr.New(CodeCodeCooldown).With("next_at", next.Format(time.RFC3339))
		}
		if n >= codesPerHour {
			return apperr.New(CodeCodeCooldown).With("next_at", tx.Now.Add(time.Hour).Format(time.RFC3339))
		}
		// Older codes stop working: only the newest one read back counts.
		if _, err := tx.ExecContext(ctx, `UPDATE console_codes SET used_at = $1 WHERE agent_id = $2 AND customer_id = $3 AND used_at = 0`,
			tx.NowMicros(), a.ID, customerID); err != nil {
			return fmt.Errorf("retire codes: %w", err)
		}
		id, code := newID(), sixDigits()
		exp := tx.Now.Add(s.cfg.CodeTTL)
		if _, err := tx.ExecContext(ctx, `INSERT INTO console_codes (id, agent_id, customer_id, channel, code_hash, attempts, created_at, expires_at, used_at)
			VALUES ($1, $2, $3, $4, $5, 0, $6, $7, 0)`, id, a.ID, customerID, channel, s.hash(id, customerID, code), tx.NowMicros(), exp.UnixMicro()); err != nil {
			return fmt.Errorf("insert code: %w", err)
		}
		li := 0
		if strings.HasPrefix(u.Lang, "zh") {
			li = 1
		}
		minutes := int(s.cfg.CodeTTL.Minutes())
		if channel == "email" {
			if _, err := notify.EnqueueEmail(ctx, tx, notify.Email{To: to, Lang: u.Lang, Subject: codeText.subject[li],
				Text: fmt.Sprintf(codeText.body[li], code, minutes), UserID: u.ID, Kind: "console_check_code"}); err != nil {
				return err
			}
		} else {
			if _, err := notify.EnqueueSMS(ctx, tx, notify.SMS{To: to, Text: fmt.Sprintf(codeText.body[li], code, minutes),
				UserID: u.ID, Kind: "console_check_code"}); err != nil {
				return err
			}
		}
		out = CodeSent{Channel: channel, To: masked, ExpiresAt: exp, NextAt: tx.Now.Add(codeCooldown)}
		return audit.Append(ctx, tx, audit.Entry{ActorKind: s.actorKind(a), ActorID: a.ID, Action: "console.check_code_sent",
			SubjectID: customerID, ClientAddr: a.ClientAddr, Details: map[string]string{"channel": channel, "to": masked}})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CheckInput is what the customer told the agent. Empty fields are not checked.
type CheckInput struct {
	Code      string `json:"code,omitempty" doc:"the 6 digits the customer read back"`
	CardLast4 string `json:"card_last4,omitempty"`
	Amount    string `json:"amount,omitempty" doc:"a recent transaction's amount, e.g. 128.50"`
	Asset     string `json:"asset,omitempty" doc:"the amount's asset; CNY when empty"`
}

type result struct {
	kind   string
	passed bool
}

// RecordChecks checks what the customer told the agent and records each result, passed
// or failed, for this agent and customer. Which facts were wrong is not said beyond
// passed/failed per kind, and never what the right answer was.
//
// Errors: unauthenticated, forbidden, customer_not_found, validation_failed (nothing to
// check; card_last4: 4 digits; amount: amount_invalid; asset: currency_not_supported),
// identity_check_locked (param until), identity_check_unavailable (param why),
// code_expired (no live code: send one).
func (s *Service) RecordChecks(ctx context.Context, a Agent, customerID string, in CheckInput) (*CheckState, error) {
	if _, err := s.requireStaff(ctx, a); err != nil {
		return nil, err
	}
	in.Code, in.CardLast4, in.Amount = strings.TrimSpace(in.Code), strings.TrimSpace(in.CardLast4), strings.TrimSpace(in.Amount)
	if in.Code == "" && in.CardLast4 == "" && in.Amount == "" {
		return nil, apperr.New(apperr.CodeValidation).Field("code", apperr.CodeRequired)
	}
	if in.CardLast4 != "" && (len(in.CardLast4) != 4 || strings.Trim(in.CardLast4, "0123456789") != "") {
		return nil, apperr.New(apperr.CodeValidation).Field("card_last4", apperr.CodeBadRequest)
	}
	if len(in.Code) > 16 {
		return nil, apperr.New(apperr.CodeValidation).Field("code", apperr.CodeBadRequest)
	}
	f, err := s.facts(ctx, customerID)
	if err != nil {
		return nil, err
	}
	var results []result
	if in.CardLast4 != "" {
		if !f.known || len(f.cards) == 0 {
			return nil, apperr.New(CodeCheckUnavailable).With("why", "no_card")
		}
		ok := false
		for _, c := range f.cards {
			ok = ok || hmac.Equal([]byte(c.Last4), []byte(in.CardLast4))
		}
		results = append(results, result{kind: CheckCardLast4, passed: ok})
	}
	if in.Amount != "" {
		code := strings.ToUpper(strings.TrimSpace(in.Asset))
		if code == "" {
			code = "CNY"
		}
		as, ok := money.Lookup(code)
		if !ok {
			return nil, apperr.New(apperr.CodeCurrencyUnsupported)
		}
		amt, err := money.Parse(strings.ReplaceAll(in.Amount, ",", ""), as)
		if err != nil {
			return nil, apperr.New(apperr.CodeValidation).Field("amount", apperr.CodeAmountInvalid)
		}
		if len(f.acts) == 0 {
			return nil, apperr.New(CodeCheckUnavailable).With("why", "no_recent_activity")
		}
		match := false
		for _, x := range f.acts {
			match = match || (x.Asset == as.Code && x.AmountMinor == int64(amt))
		}
		results = append(results, result{kind: CheckAmount, passed: match})
	}
	var st *CheckState
	err = s.inTx(ctx, "record checks", func(tx *db.Tx) error {
		cur, err := s.state(ctx, tx, a.ID, customerID)
		if err != nil {
			return err
		}
		if cur.Locked {
			return apperr.New(CodeCheckLocked).With("until", cur.LockedUntil.Format(time.RFC3339))
		}
		rs := results
		if in.Code != "" {
			r, err := s.checkCode(ctx, tx, a.ID, customerID, in.Code)
			if err != nil {
				return err
			}
			rs = append(rs, r)
		}
		for _, r := range rs {
			passed := 0
			if r.passed {
				passed = 1
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO console_checks (id, agent_id, customer_id, kind, passed, created_at, expires_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, newID(), a.ID, customerID, r.kind, passed, tx.NowMicros(), tx.Now.Add(s.cfg.CheckTTL).UnixMicro()); err != nil {
				return fmt.Errorf("record check: %w", err)
			}
			if err := audit.Append(ctx, tx, audit.Entry{ActorKind: s.actorKind(a), ActorID: a.ID, Action: "console.identity_check",
				SubjectID: customerID, ClientAddr: a.ClientAddr, Details: map[string]string{"kind": r.kind, "passed": strconv.FormatBool(r.passed)}}); err != nil {
				return err
			}
		}
		st, err = s.state(ctx, tx, a.ID, customerID)
		return err
	})
	if err != nil {
		return nil, err
	}
	st.Available = f.availability()
	return st, nil
}

// checkCode compares code with the agent's newest live code for the customer and uses it
// up when right (or after codeAttempts wrong tries).
func (s *Service) checkCode(ctx context.Context, tx *db.Tx, agentID, customerID, code string) (result, error) {
	var id, channel, h string
	var attempts int
	err := tx.QueryRowContext(ctx, `SELECT id, channel, code_hash, attempts FROM console_codes
		WHERE agent_id = $1 AND customer_id = $2 AND used_at = 0 AND expires_at > $3 ORDER BY created_at DESC LIMIT 1`,
		agentID, customerID, tx.NowMicros()).Scan(&id, &channel, &h, &attempts)
	if db.IsNoRows(err) {
		return result{}, apperr.New(identity.CodeCodeExpired)
	}
	if err != nil {
		return result{}, fmt.Errorf("load code: %w", err)
	}
	kind := CheckEmailCode
	if channel == "phone" {
		kind = CheckPhoneCode
	}
	code = strings.ReplaceAll(code, " ", "")
	if hmac.Equal([]byte(s.hash(id, customerID, code)), []byte(h)) {
		if _, err := tx.ExecContext(ctx, `UPDATE console_codes SET used_at = $1 WHERE id = $2`, tx.NowMicros(), id); err != nil {
			return result{}, fmt.Errorf("use code: %w", err)
		}
		return result{kind: kind, passed: true}, nil
	}
	used := int64(0)
	if attempts+1 >= codeAttempts {
		used = tx.NowMicros()
	}
	if _, err := tx.ExecContext(ctx, `UPDATE console_codes SET attempts = attempts + 1, used_at = $1 WHERE id = $2`, used, id); err != nil {
		return result{}, fmt.Errorf("count code try: %w", err)
	}
	return result{kind: kind, passed: false}, nil
}

// RequireVerified returns the agent's check state for the customer, or
// identity_check_required when no passed check is in force (identity_check_locked after
// too many failures).
//
// Errors: identity_check_required (param minutes), identity_check_locked.
func (s *Service) RequireVerified(ctx context.Context, a Agent, customerID string) (*CheckState, error) {
	var st *CheckState
	err := s.read(ctx, "require check", func(tx *db.Tx) error {
		var err error
		st, err = s.state(ctx, tx, a.ID, customerID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if st.Locked {
		return nil, apperr.New(CodeCheckLocked).With("until", st.LockedUntil.Format(time.RFC3339))
	}
	if !st.Verified {
		return nil, apperr.New(CodeCheckRequired).With("minutes", strconv.Itoa(int(s.cfg.CheckTTL.Minutes())))
	}
	return st, nil
}
