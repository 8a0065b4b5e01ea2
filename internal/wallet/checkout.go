package wallet

import (
	"github.com/google/uuid"

	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/identity"
	"okpay/internal/ledger"
)

// Checkout statuses.
const (
	CheckoutOpen              = "open"
	CheckoutPaid              = "paid"
	CheckoutPartiallyRefunded = "partially_refunded"
	CheckoutRefunded          = "refunded"
	CheckoutExpired           = "expired"
)

// Checkout is a merchant's order waiting for (or having received) payment.
type Checkout struct {
	ID    string `json:"id"`
	Token string `json:"token"` // in the hosted page's link: /pay/c/{token}
	// MerchantID is not shown to payers; MerchantName is.
	MerchantID    string    `json:"-"`
	MerchantName  string    `json:"merchant_name"`
	Category      string    `json:"category"`
	OrderRef      string    `json:"order_ref"`
	Description   string    `json:"description"`
	ReturnURL     string    `json:"return_url"`
	Asset         string    `json:"asset"`
	AmountMinor   int64     `json:"amount_minor"`
	Amount        string    `json:"amount"`
	RefundedMinor int64     `json:"refunded_minor"`
	Status        string    `json:"status"`
	ExpiresAt     time.Time `json:"expires_at"`
	PayerID       string    `json:"-"`
	Payer         string    `json:"payer,omitempty"` // masked, for the merchant
	PaidAt        time.Time `json:"paid_at,omitzero"`
	CreatedAt     time.Time `json:"created_at"`
	// Refunds are listed for the merchant's and payer's views, oldest first.
	Refunds []Refund `json:"refunds"`
}

// Refund is money going back from a merchant to the payer of a checkout.
type Refund struct {
	ID          string    `json:"id"`
	CheckoutID  string    `json:"checkout_id"`
	Asset       string    `json:"asset"`
	AmountMinor int64     `json:"amount_minor"`
	Amount      string    `json:"amount"`
	Reason      string    `json:"reason"`
	Status      string    `json:"status"` // completed (refunds move at once)
	RefNo       string    `json:"ref_no"`
	CreatedAt   time.Time `json:"created_at"`
}

// CheckoutInput is what a merchant sends to create a checkout (API key, Idempotency-Key).
type CheckoutInput struct {
	MerchantID  string `json:"-"`
	Key         string `json:"-"`
	Amount      string `json:"amount"`
	Asset       string `json:"asset"`
	OrderRef    string `json:"order_ref"`
	ReturnURL   string `json:"return_url"`
	Description string `json:"description,omitempty"`
	// MerchantName is shown to the payer (default: the merchant's masked email).
	MerchantName string `json:"merchant_name,omitempty"`
	// Category groups the payment in the payer's spending analysis (lower-case word:
	// food, shopping, travel, …; default shopping).
	Category string `json:"category,omitempty"`
}

var (
	orderRefRE = regexp.MustCompile(`^[\x21-\x7e]{1,64}$`)
	categoryRE = regexp.MustCompile(`^[a-z][a-z_]{0,31}$`)
)

const checkoutCols = `c.id, c.token, c.merchant_id, c.merchant_name, c.category, c.order_ref, c.description, c.return_url, c.asset, c.amount,
	c.refunded, c.status, c.expires_at, c.payer_id, c.paid_at, c.created_at`

func scanCheckout(sc scanner, now int64) (*Checkout, error) {
	var c Checkout
	var exp, paid, created int64
	if err := sc.Scan(&c.ID, &c.Token, &c.MerchantID, &c.MerchantName, &c.Category, &c.OrderRef, &c.Description, &c.ReturnURL, &c.Asset,
		&c.AmountMinor, &c.RefundedMinor, &c.Status, &exp, &c.PayerID, &paid, &created); err != nil {
		return nil, err
	}
	c.Amount = formatMinor(c.AmountMinor, c.Asset)
	c.ExpiresAt, c.PaidAt, c.CreatedAt = time0(exp), time0(paid), time0(created)
	if c.Status == CheckoutOpen && exp <= now {
		c.Status = CheckoutExpired
	}
	c.Refunds = []Refund{}
	return &c, nil
}

func loadCheckout(ctx context.Context, tx *db.Tx, where string, lock bool, args ...any) (*Checkout, error) {
	q := `SELECT ` + checkoutCols + ` FROM wallet_checkouts c WHERE ` + where
	if lock {
		q += " " + tx.Dialect.ForUpdate()
	}
	c, err := scanCheckout(tx.QueryRowContext(ctx, q, args...), tx.NowMicros())
	if db.IsNoRows(err) {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load checkout: %w", err)
	}
	return c, nil
}

func loadRefunds(ctx context.Context, tx *db.Tx, c *Checkout) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, checkout_id, asset, amount, reason, status, ref_no, created_at FROM wallet_refunds
		WHERE checkout_id = $1 ORDER BY created_at, id LIMIT 1000`, c.ID)
	if err != nil {
		return fmt.Errorf("load refunds: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Refund
		var at int64
		if err := rows.Scan(&r.ID, &r.CheckoutID, &r.Asset, &r.AmountMinor, &r.Reason, &r.Status, &r.RefNo, &at); err != nil {
			return fmt.Errorf("load refunds: %w", err)
		}
		r.Amount, r.CreatedAt = formatMinor(r.AmountMinor, r.Asset), db.Micros(at)
		c.Refunds = append(c.Refunds, r)
	}
	return rows.Err()
}

// CreateCheckout creates a checkout for a merchant. The same key returns the same
// checkout; an order reference can have only one checkout.
//
// Errors: validation_failed (order_ref: order_reference_invalid; return_url: url_invalid;
// description/merchant_name: memo_too_long; category: filter_invalid; idempotency_key),
// amount_invalid, currency_not_supported, merchant_only, idempotency_conflict,
// order_reference_taken.
func (s *Service) CreateCheckout(ctx context.Context, in CheckoutInput) (*Checkout, error) {
	if err := validKey(in.Key); err != nil {
		return nil, err
	}
	asset, amount, err := parseAmount(in.Amount, in.Asset)
	if err != nil {
		return nil, err
	}
	if !orderRefRE.MatchString(in.OrderRef) {
		return nil, invalid("order_ref", FieldOrderRefInvalid)
	}
	if u, err := url.Parse(in.ReturnURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(in.ReturnURL) > 2048 {
		return nil, invalid("return_url", FieldURLInvalid)
	}
	if err := validMemo(in.Description); err != nil {
		return nil, invalid("description", FieldMemoTooLong)
	}
	if utf8.RuneCountInString(in.MerchantName) > 64 {
		return nil, invalid("merchant_name", FieldMemoTooLong)
	}
	if in.Category == "" {
		in.Category = CatShopping
	}
	if !categoryRE.MatchString(in.Category) || in.Category == CatTransfers || in.Category == CatTopUps || in.Category == CatWithdrawals {
		return nil, invalid("category", FieldFilterInvalid)
	}
	op := opID(in.MerchantID, in.Key)
	id := derive(op.String(), "checkout").String()
	hash := hashReq("checkout", asset.Code, fmt.Sprint(amount), in.OrderRef, in.ReturnURL, in.Description, in.MerchantName, in.Category)
	var out *Checkout
	err = s.inTx(ctx, "create checkout", func(tx *db.Tx) error {
		replayID, replay, err := beginOp(ctx, tx, op, in.MerchantID, "checkout", hash, id)
		if err != nil {
			return err
		}
		if !replay {
			m, err := loadPerson(ctx, tx, in.MerchantID)
			if err != nil {
				return err
			}
			if m.Role != string(identity.RoleMerchant) {
				return apperr.New(CodeMerchantOnly)
			}
			var one int
			err = tx.QueryRowContext(ctx, `SELECT 1 FROM wallet_checkouts WHERE merchant_id = $1 AND order_ref = $2`, in.MerchantID, in.OrderRef).Scan(&one)
			if err == nil {
				return apperr.New(CodeOrderRefTaken)
			} else if !db.IsNoRows(err) {
				return fmt.Errorf("check order reference: %w", err)
			}
			name := strings.TrimSpace(in.MerchantName)
			if name == "" {
				name = m.display()
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO wallet_checkouts (id, token, merchant_id, merchant_name, category, order_ref, description,
				return_url, asset, amount, refunded, status, expires_at, payer_id, pay_op, paid_at, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12, '', '', 0, $13, $13)`,
				id, newToken(), in.MerchantID, name, in.Category, in.OrderRef, in.Description, in.ReturnURL, asset.Code, amount,
				CheckoutOpen, tx.Now.Add(s.cfg.CheckoutTTL).UnixMicro(), tx.NowMicros()); err != nil {
				if db.IsUniqueViolation(err) {
					return apperr.New(CodeOrderRefTaken)
				}
				return fmt.Errorf("insert checkout: %w", err)
			}
			replayID = id
		}
		out, err = loadCheckout(ctx, tx, "c.id = $1", false, replayID)
		return err
	})
	return out, err
}

// GetCheckout returns a checkout by its public token, for the hosted pay page.
//
// Errors: not_found.
func (s *Service) GetCheckout(ctx context.Context, token string) (*Checkout, error) {
	if token == "" || len(token) > 64 {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	var out *Checkout
	err := s.read(ctx, "get checkout", func(tx *db.Tx) error {
		var err error
		out, err = loadCheckout(ctx, tx, "c.token = $1", false, token)
		if err != nil {
			return err
		}
		return loadRefunds(ctx, tx, out)
	})
	return out, err
}

// MerchantCheckout returns one of the merchant's checkouts by id or order reference,
// with its payer (masked) and refunds.
//
// Errors: not_found.
func (s *Service) MerchantCheckout(ctx context.Context, merchantID, idOrOrderRef string) (*Checkout, error) {
	var out *Checkout
	err := s.read(ctx, "merchant checkout", func(tx *db.Tx) error {
		var err error
		out, err = loadCheckout(ctx, tx, "c.merchant_id = $1 AND (c.id = $2 OR c.order_ref = $2)", false, merchantID, idOrOrderRef)
		if err != nil {
			return err
		}
		if out.PayerID != "" {
			if p, err := loadPerson(ctx, tx, out.PayerID); err == nil {
				out.Payer = p.display()
			}
		}
		return loadRefunds(ctx, tx, out)
	})
	return out, err
}

// PayCheckoutInput pays a checkout by its token.
type PayCheckoutInput struct {
	PayerID   string `json:"-"`
	SessionID string `json:"-"`
	Key       string `json:"-"`
	Token     string `json:"token"`
	// Guard, when set, keeps the caller's Idempotency-Key record in the payment's
	// transaction (see Guard); a replay by the guard returns (nil, nil).
	Guard Guard `json:"-"`
}

// PayCheckout pays a merchant's checkout from the payer's wallet and returns the payer's
// activity record (type payment, category the merchant's). The checkout is locked in the
// payment's transaction, so it is paid once.
//
// Errors: validation_failed, maintenance, idempotency_conflict, not_found,
// checkout_already_paid, checkout_expired, cannot_pay_self, and those of Transfer.
func (s *Service) PayCheckout(ctx context.Context, in PayCheckoutInput) (*Activity, error) {
	if err := validKey(in.Key); err != nil {
		return nil, err
	}
	if in.Token == "" || len(in.Token) > 64 {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	if err := s.checkMaintenance(ctx); err != nil {
		return nil, err
	}
	op := opID(in.PayerID, in.Key)
	hash := hashReq("pay_checkout", in.Token)
	var out *Activity
	var known []string
	err := s.inTx(ctx, "pay checkout", func(tx *db.Tx) error {
		out, known = nil, nil
		if in.Guard != nil {
			if replay, err := in.Guard.Begin(ctx, tx); err != nil || replay {
				return err
			}
		}
		err := s.payCheckoutTx(ctx, tx, in, op, hash, &out, &known)
		if err != nil || in.Guard == nil {
			return err
		}
		return in.Guard.Finish(ctx, tx, out)
	})
	if err != nil {
		return nil, err
	}
	if len(known) == 3 {
		s.markKnown(WalletAccount(known[0], known[2]), WalletAccount(known[1], known[2]))
	}
	return out, nil
}

// payCheckoutTx is PayCheckout's transaction after the guard's claim: it sets *out (the
// payer's record) and *known (payer, payee, asset) when the money moved.
func (s *Service) payCheckoutTx(ctx context.Context, tx *db.Tx, in PayCheckoutInput, op uuid.UUID, hash string, out **Activity, known *[]string) error {
	replayID, replay, err := beginOp(ctx, tx, op, in.PayerID, "pay_checkout", hash, derive(op.String(), "out").String())
	if err != nil {
		return err
	}
	if replay {
		*out, err = getActivity(ctx, tx, replayID)
		return err
	}
	c, err := loadCheckout(ctx, tx, "c.token = $1", true, in.Token)
	if err != nil {
		return err
	}
	switch c.Status {
	case CheckoutOpen:
	case CheckoutExpired:
		return apperr.New(CodeCheckoutExpired)
	default:
		return apperr.New(CodeCheckoutAlreadyPaid)
	}
	payer, err := loadPerson(ctx, tx, in.PayerID)
	if err != nil {
		return err
	}
	merchant, err := loadPerson(ctx, tx, c.MerchantID)
	if err != nil {
		return err
	}
	memo := c.Description
	if memo == "" {
		memo = c.OrderRef
	}
	*out, _, err = s.pay(ctx, tx, movement{op: op, from: payer, to: merchant, asset: c.Asset, amount: c.AmountMinor, memo: memo,
		code: TrPayment, outType: TypePayment, inType: TypePayment, category: c.Category, inCategory: "sales", sourceKind: "checkout",
		sourceID: c.ID, sessionID: in.SessionID, toName: c.MerchantName, skipNotify: true})
	if err != nil {
		return err
	}
	*known = []string{payer.ID, merchant.ID, c.Asset}
	_, err = tx.ExecContext(ctx, `UPDATE wallet_checkouts SET status = $1, payer_id = $2, pay_op = $3, paid_at = $4, updated_at = $4 WHERE id = $5`,
		CheckoutPaid, payer.ID, op.String(), tx.NowMicros(), c.ID)
	return err
}

// RefundInput refunds (part of) a paid checkout.
type RefundInput struct {
	MerchantID string `json:"-"`
	Key        string `json:"-"`
	CheckoutID string `json:"checkout_id"`
	// Amount is a decimal; empty refunds everything not yet refunded.
	Amount string `json:"amount,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Refund sends money back from the merchant's wallet to the checkout's payer at once.
// Several partial refunds may follow each other up to the paid amount. Both sides get a
// refund record; the original payment shows refunded or partially_refunded.
//
// Errors: validation_failed (reason: memo_too_long, idempotency_key), amount_invalid,
// maintenance, idempotency_conflict, not_found, checkout_not_paid, refund_exceeds_paid
// (param remaining), account_frozen / sending_restricted (the merchant),
// insufficient_funds (the merchant's balance).
func (s *Service) Refund(ctx context.Context, in RefundInput) (*Refund, error) {
	if err := validKey(in.Key); err != nil {
		return nil, err
	}
	if err := validMemo(in.Reason); err != nil {
		return nil, invalid("reason", FieldMemoTooLong)
	}
	if err := s.checkMaintenance(ctx); err != nil {
		return nil, err
	}
	op := opID(in.MerchantID, in.Key)
	id := derive(op.String(), "refund").String()
	hash := hashReq("refund", in.CheckoutID, in.Amount, in.Reason)
	var out *Refund
	err := s.inTx(ctx, "refund", func(tx *db.Tx) error {
		replayID, replay, err := beginOp(ctx, tx, op, in.MerchantID, "refund", hash, id)
		if err != nil {
			return err
		}
		c, err := loadCheckout(ctx, tx, "c.id = $1 AND c.merchant_id = $2", true, in.CheckoutID, in.MerchantID)
		if err != nil {
			return err
		}
		if !replay {
			if err := s.refund(ctx, tx, c, in, op.String(), id); err != nil {
				return err
			}
			c, err = loadCheckout(ctx, tx, "c.id = $1", false, c.ID)
			if err != nil {
				return err
			}
		}
		if err := loadRefunds(ctx, tx, c); err != nil {
			return err
		}
		for i := range c.Refunds {
			if c.Refunds[i].ID == replayID || c.Refunds[i].ID == id {
				out = &c.Refunds[i]
			}
		}
		if out == nil {
			return fmt.Errorf("refund %s not found after writing it", id)
		}
		return nil
	})
	return out, err
}

func (s *Service) refund(ctx context.Context, tx *db.Tx, c *Checkout, in RefundInput, op, id string) error {
	if c.Status != CheckoutPaid && c.Status != CheckoutPartiallyRefunded {
		if c.Status == CheckoutRefunded {
			return apperr.New(CodeRefundExceedsPaid).With("remaining", formatMinor(0, c.Asset))
		}
		return apperr.New(CodeCheckoutNotPaid)
	}
	remaining := c.AmountMinor - c.RefundedMinor
	amount := remaining
	if in.Amount != "" {
		_, a, err := parseAmount(in.Amount, c.Asset)
		if err != nil {
			return err
		}
		amount = a
	}
	if amount > remaining {
		return apperr.New(CodeRefundExceedsPaid).With("remaining", formatMinor(remaining, c.Asset))
	}
	// A frozen merchant cannot move money out, refunds included: the freeze is there
	// because someone may be misusing the account. The payer is not asked CanReceive:
	// money going back where it came from is never refused.
	if err := s.id.CanSend(ctx, tx, c.MerchantID); err != nil {
		return err
	}
	payer, err := loadPerson(ctx, tx, c.PayerID)
	if err != nil {
		return err
	}
	from, to := walletAcct(c.MerchantID, c.Asset), walletAcct(c.PayerID, c.Asset)
	if err := s.submit(ctx, tx, ledger.Transfer{ID: derive(op, "transfer"), DebitAccountID: from.ID, CreditAccountID: to.ID,
		Amount: amount, Asset: c.Asset, Code: TrRefund, Ref: "refund:" + id}); err != nil {
		return err
	}
	newRefunded := c.RefundedMinor + amount
	status := CheckoutPartiallyRefunded
	actStatus := StatusPartiallyRefunded
	if newRefunded == c.AmountMinor {
		status, actStatus = CheckoutRefunded, StatusRefunded
	}
	memo := in.Reason
	if memo == "" {
		memo = c.OrderRef
	}
	mAct, err := insertActivity(ctx, tx, newActivity{id: derive(op, "out"), userID: c.MerchantID, typ: TypeRefund, status: StatusCompleted,
		direction: -1, asset: c.Asset, amount: amount, category: "sales", counterpartyID: payer.ID, cpty: payer.display(), memo: memo,
		sourceKind: "refund", sourceID: id})
	if err != nil {
		return err
	}
	if _, err := insertActivity(ctx, tx, newActivity{id: derive(op, "in"), userID: c.PayerID, typ: TypeRefund, status: StatusCompleted,
		direction: 1, asset: c.Asset, amount: amount, category: CatRefunds, counterpartyID: c.MerchantID, cpty: c.MerchantName, memo: memo,
		sourceKind: "refund", sourceID: id}); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO wallet_refunds (id, checkout_id, merchant_id, payer_id, asset, amount, reason, status, ref_no, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, id, c.ID, c.MerchantID, c.PayerID, c.Asset, amount, in.Reason, StatusCompleted,
		mAct.RefNo, tx.NowMicros()); err != nil {
		return fmt.Errorf("insert refund: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE wallet_checkouts SET refunded = $1, status = $2, updated_at = $3 WHERE id = $4`,
		newRefunded, status, tx.NowMicros(), c.ID); err != nil {
		return fmt.Errorf("update checkout: %w", err)
	}
	// The payment records on both sides show the refund on their timelines.
	rows, err := tx.QueryContext(ctx, `SELECT id FROM wallet_activity WHERE source_id = $1 AND type = $2`, c.ID, TypePayment)
	if err != nil {
		return fmt.Errorf("find payment records: %w", err)
	}
	var ids []string
	for rows.Next() {
		var x string
		if err := rows.Scan(&x); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	note := NoteRefund(formatMinor(amount, c.Asset), mAct.RefNo)
	for _, x := range ids {
		if err := updateActivity(ctx, tx, x, activityUpdate{status: actStatus, refunded: amount, note: note}); err != nil {
			return err
		}
	}
	en := fmt.Sprintf("%s refunded %s to your OKPay wallet for order %s.", c.MerchantName, formatMinor(amount, c.Asset), c.OrderRef)
	zh := fmt.Sprintf("%s 已将订单 %s 的 %s 退回您的 OKPay 钱包。", c.MerchantName, c.OrderRef, formatMinor(amount, c.Asset))
	return s.mail(ctx, tx, payer, "refund_received", [2]string{"Refund received", "退款到账"}, [2]string{en, zh})
}
