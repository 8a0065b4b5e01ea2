package wallet

import (
	"github.com/google/uuid"

	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// Request statuses.
const (
	RequestOpen      = "open"
	RequestPaid      = "paid"
	RequestExpired   = "expired"
	RequestCancelled = "cancelled"
)

// PaymentRequest is a request for money (收款): a link or QR code anyone signed in can
// pay once before it expires.
type PaymentRequest struct {
	ID string `json:"id"`
	// Token goes in the public link (/pay/r/{token}) and the QR code.
	Token       string    `json:"token"`
	RequesterID string    `json:"-"`
	Requester   string    `json:"requester"` // masked
	Asset       string    `json:"asset"`
	AmountMinor int64     `json:"amount_minor"`
	Amount      string    `json:"amount"`
	Memo        string    `json:"memo"`
	Status      string    `json:"status"`
	ExpiresAt   time.Time `json:"expires_at"`
	PaidAt      time.Time `json:"paid_at,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
}

// RequestInput creates a payment request.
type RequestInput struct {
	UserID string `json:"-"`
	Key    string `json:"-"`
	Amount string `json:"amount"`
	Asset  string `json:"asset"`
	Memo   string `json:"memo,omitempty"`
	// ExpiresIn is how long the request can be paid: 5 minutes .. 30 days; 0 takes
	// Config.RequestTTL.
	ExpiresIn time.Duration `json:"expires_in,omitempty"`
}

func newToken() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("wallet: random: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

const requestCols = `r.id, r.token, r.requester_id, u.email, r.asset, r.amount, r.memo, r.status, r.expires_at, r.paid_at, r.created_at`

func scanRequest(sc scanner, now int64) (*PaymentRequest, error) {
	var p PaymentRequest
	var email string
	var exp, paid, created int64
	if err := sc.Scan(&p.ID, &p.Token, &p.RequesterID, &email, &p.Asset, &p.AmountMinor, &p.Memo, &p.Status, &exp, &paid, &created); err != nil {
		return nil, err
	}
	p.Requester = maskEmail(email)
	p.Amount = formatMinor(p.AmountMinor, p.Asset)
	p.ExpiresAt, p.CreatedAt = time0(exp), time0(created)
	p.PaidAt = time0(paid)
	if p.Status == RequestOpen && exp <= now {
		p.Status = RequestExpired
	}
	return &p, nil
}

func time0(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return db.Micros(us)
}

// CreateRequest makes a payment request for the signed-in user. Retrying with the same
// key returns the same request.
//
// Errors: validation_failed (memo, idempotency_key, expires_in: expiry_invalid),
// amount_invalid, currency_not_supported, idempotency_conflict, not_found (user).
func (s *Service) CreateRequest(ctx context.Context, in RequestInput) (*PaymentRequest, error) {
	if err := validKey(in.Key); err != nil {
		return nil, err
	}
	asset, amount, err := parseAmount(in.Amount, in.Asset)
	if err != nil {
		return nil, err
	}
	if err := validMemo(in.Memo); err != nil {
		return nil, err
	}
	ttl := in.ExpiresIn
	if ttl == 0 {
		ttl = s.cfg.RequestTTL
	}
	if ttl < 5*time.Minute || ttl > 30*24*time.Hour {
		return nil, invalid("expires_in", FieldExpiryInvalid)
	}
	op := opID(in.UserID, in.Key)
	id := derive(op.String(), "request").String()
	hash := hashReq("request", asset.Code, fmt.Sprint(amount), in.Memo, ttl.String())
	var out *PaymentRequest
	err = s.inTx(ctx, "create request", func(tx *db.Tx) error {
		replayID, replay, err := beginOp(ctx, tx, op, in.UserID, "request", hash, id)
		if err != nil {
			return err
		}
		if !replay {
			if err := userExists(ctx, tx, in.UserID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO wallet_requests (id, token, requester_id, asset, amount, memo, status, expires_at, payer_id, paid_at, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', 0, $9)`, id, newToken(), in.UserID, asset.Code, amount, in.Memo, RequestOpen,
				tx.Now.Add(ttl).UnixMicro(), tx.NowMicros()); err != nil {
				return fmt.Errorf("insert request: %w", err)
			}
			replayID = id
		}
		out, err = loadRequest(ctx, tx, "r.id = $1", replayID, false)
		return err
	})
	return out, err
}

func loadRequest(ctx context.Context, tx *db.Tx, where string, arg any, lock bool) (*PaymentRequest, error) {
	q := `SELECT ` + requestCols + ` FROM wallet_requests r JOIN users u ON u.id = r.requester_id WHERE ` + where
	if lock {
		// FOR UPDATE OF r: lock the request, not the requester's user row.
		if tx.Dialect.ForUpdate() != "" {
			q += " FOR UPDATE OF r"
		}
	}
	p, err := scanRequest(tx.QueryRowContext(ctx, q, arg), tx.NowMicros())
	if db.IsNoRows(err) {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load request: %w", err)
	}
	return p, nil
}

// GetRequest returns a request by its public token, for the pay page.
//
// Errors: not_found.
func (s *Service) GetRequest(ctx context.Context, token string) (*PaymentRequest, error) {
	if token == "" || len(token) > 64 {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	var out *PaymentRequest
	err := s.read(ctx, "get request", func(tx *db.Tx) error {
		var err error
		out, err = loadRequest(ctx, tx, "r.token = $1", token, false)
		return err
	})
	return out, err
}

// ListRequests returns userID's own requests, newest first, at most limit (1..100).
//
// Errors: none besides internal ones.
func (s *Service) ListRequests(ctx context.Context, userID string, limit int) ([]PaymentRequest, error) {
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	out := []PaymentRequest{}
	err := s.read(ctx, "list requests", func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+requestCols+` FROM wallet_requests r JOIN users u ON u.id = r.requester_id
			WHERE r.requester_id = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT $2`, userID, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanRequest(rows, tx.NowMicros())
			if err != nil {
				return err
			}
			out = append(out, *p)
		}
		return rows.Err()
	})
	return out, err
}

// CancelRequest stops an open request of userID's from being paid.
//
// Errors: not_found, request_already_paid, request_expired.
func (s *Service) CancelRequest(ctx context.Context, userID, requestID string) error {
	return s.inTx(ctx, "cancel request", func(tx *db.Tx) error {
		p, err := loadRequest(ctx, tx, "r.id = $1", requestID, true)
		if err != nil {
			return err
		}
		if p.RequesterID != userID {
			return apperr.New(apperr.CodeNotFound)
		}
		switch p.Status {
		case RequestPaid:
			return apperr.New(CodeRequestAlreadyPaid)
		case RequestExpired:
			return apperr.New(CodeRequestExpired)
		case RequestCancelled:
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE wallet_requests SET status = $1 WHERE id = $2`, RequestCancelled, p.ID)
		return err
	})
}

// PayRequestInput pays a request by its token.
type PayRequestInput struct {
	PayerID   string `json:"-"`
	SessionID string `json:"-"`
	Key       string `json:"-"`
	Token     string `json:"token"`
	// Guard, when set, keeps the caller's Idempotency-Key record in the payment's
	// transaction (see Guard); a replay by the guard returns (nil, nil).
	Guard Guard `json:"-"`
}

// PayRequest pays a request once and returns the payer's activity record. The request is
// locked in the payment's transaction, so two payers racing for it get one payment and
// one request_already_paid.
//
// Errors: validation_failed (idempotency_key), maintenance, idempotency_conflict,
// not_found, request_already_paid, request_expired, request_cancelled, cannot_pay_self,
// and those of Transfer (email_not_verified, account_frozen, sending_restricted,
// recipient_cannot_receive, step_up_required, limit_exceeded, insufficient_funds).
func (s *Service) PayRequest(ctx context.Context, in PayRequestInput) (*Activity, error) {
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
	hash := hashReq("pay_request", in.Token)
	var out *Activity
	var known []string
	err := s.inTx(ctx, "pay request", func(tx *db.Tx) error {
		out, known = nil, nil
		if in.Guard != nil {
			if replay, err := in.Guard.Begin(ctx, tx); err != nil || replay {
				return err
			}
		}
		err := s.payRequestTx(ctx, tx, in, op, hash, &out, &known)
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

// payRequestTx is PayRequest's transaction after the guard's claim: it sets *out (the
// payer's record) and *known (payer, payee, asset) when the money moved.
func (s *Service) payRequestTx(ctx context.Context, tx *db.Tx, in PayRequestInput, op uuid.UUID, hash string, out **Activity, known *[]string) error {
	replayID, replay, err := beginOp(ctx, tx, op, in.PayerID, "pay_request", hash, derive(op.String(), "out").String())
	if err != nil {
		return err
	}
	if replay {
		*out, err = getActivity(ctx, tx, replayID)
		return err
	}
	p, err := loadRequest(ctx, tx, "r.token = $1", in.Token, true)
	if err != nil {
		return err
	}
	switch p.Status {
	case RequestPaid:
		return apperr.New(CodeRequestAlreadyPaid)
	case RequestExpired:
		return apperr.New(CodeRequestExpired)
	case RequestCancelled:
		return apperr.New(CodeRequestCancelled)
	}
	payer, err := loadPerson(ctx, tx, in.PayerID)
	if err != nil {
		return err
	}
	requester, err := loadPerson(ctx, tx, p.RequesterID)
	if err != nil {
		return err
	}
	*out, _, err = s.pay(ctx, tx, movement{op: op, from: payer, to: requester, asset: p.Asset, amount: p.AmountMinor, memo: p.Memo,
		code: TrRequest, outType: TypeTransferOut, inType: TypeTransferIn, category: CatTransfers, sourceKind: "request",
		sourceID: p.ID, sessionID: in.SessionID})
	if err != nil {
		return err
	}
	*known = []string{payer.ID, requester.ID, p.Asset}
	_, err = tx.ExecContext(ctx, `UPDATE wallet_requests SET status = $1, payer_id = $2, paid_at = $3 WHERE id = $4`,
		RequestPaid, payer.ID, tx.NowMicros(), p.ID)
	return err
}
