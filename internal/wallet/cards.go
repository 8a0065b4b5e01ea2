package wallet

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/audit"
	"okpay/internal/db"
	"okpay/internal/money"
	"okpay/internal/rail"
)

// Card statuses.
const (
	CardVerifying = "verifying" // the small charge is on the statement; waiting for its code
	CardVerified  = "verified"
	// CardFailed: the verification ended without success — the code was wrong too many
	// times or not entered in time (failure_code says which). The card stays listed so its
	// owner sees why, until they remove it. A card the bank refuses outright is not kept
	// at all (AddCard).
	CardFailed = "failed"
)

// Card is a bound bank card as lists show it: brand and last four digits, never more.
type Card struct {
	ID          string `json:"id"`
	Brand       string `json:"brand"`
	Last4       string `json:"last4"`
	ExpMonth    int    `json:"exp_month"`
	ExpYear     int    `json:"exp_year"`
	Holder      string `json:"holder"`
	Asset       string `json:"asset"`
	Status      string `json:"status"`
	FailureCode string `json:"failure_code,omitempty"`
	Default     bool   `json:"default"`
	// Replaces is the card this one will replace once verified (the change-card flow).
	Replaces  string    `json:"replaces,omitempty"`
	CreatedAt time.Time `json:"created_at"`

	userID, tokenSealed, verifyRef string
}

// BrandName is the card's network as printed on cards ("Visa", "UnionPay"), for display;
// Brand stays the stable lower-case id the API and the database use.
func (c Card) BrandName() string { return rail.Brand(c.Brand).DisplayName() }

// FailureReason says in lang why a failed card could not be verified and what to do
// next (the failure code's message and fix), or "" when the card has not failed or its
// code is not one the platform can explain.
func (c Card) FailureReason(lang string) string {
	if c.Status != CardFailed {
		return ""
	}
	e, ok := apperr.As(rail.FailureError(c.FailureCode))
	if !ok {
		return ""
	}
	return strings.TrimSpace(e.Message(lang) + " " + e.Fix(lang))
}

const cardCols = `id, user_id, token_sealed, brand, last4, exp_month, exp_year, holder, asset, status, failure_code, verify_ref, replaces, is_default, created_at`

func scanCard(sc scanner) (*Card, error) {
	var c Card
	var def int
	var at int64
	if err := sc.Scan(&c.ID, &c.userID, &c.tokenSealed, &c.Brand, &c.Last4, &c.ExpMonth, &c.ExpYear, &c.Holder, &c.Asset, &c.Status,
		&c.FailureCode, &c.verifyRef, &c.Replaces, &def, &at); err != nil {
		return nil, err
	}
	c.Default, c.CreatedAt = def == 1, db.Micros(at)
	return &c, nil
}

func (s *Service) seal(plain, aad string) string {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("wallet: random: %v", err))
	}
	return base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(plain), []byte(aad)))
}

func (s *Service) unseal(sealed, aad string) (string, error) {
	b, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errors.New("wallet: sealed card token is malformed")
	}
	n := s.aead.NonceSize()
	p, err := s.aead.Open(nil, b[:n], b[n:], []byte(aad))
	if err != nil {
		return "", fmt.Errorf("wallet: open card token (wrong secret key?): %w", err)
	}
	return string(p), nil
}

func (s *Service) needRail() error {
	if s.rl == nil {
		return apperr.New(apperr.CodeUnavailable)
	}
	return nil
}

// loadCard reads one of userID's live cards. Errors: not_found.
func loadCard(ctx context.Context, tx *db.Tx, userID, cardID string, lock bool) (*Card, error) {
	q := `SELECT ` + cardCols + ` FROM wallet_cards WHERE id = $1 AND user_id = $2 AND removed_at = 0`
	if lock {
		q += " " + tx.Dialect.ForUpdate()
	}
	c, err := scanCard(tx.QueryRowContext(ctx, q, cardID, userID))
	if db.IsNoRows(err) {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load card: %w", err)
	}
	return c, nil
}

// AddCardInput is a card as typed into the form. Number and CVV go to the rail and are
// dropped; they are never stored or logged.
type AddCardInput struct {
	UserID    string `json:"-"`
	SessionID string `json:"-"`
	Number    string `json:"number"`
	ExpMonth  string `json:"exp_month"`
	ExpYear   string `json:"exp_year"`
	Holder    string `json:"holder"`
	CVV       string `json:"cvv"`
	// Asset is the card's currency (CNY or USD; default CNY).
	Asset string `json:"asset,omitempty"`
}

// AddCard binds a card: checks it (Luhn, brand, expiry), tokenises it on the rail and
// starts verification — a small charge whose statement line carries a 4-digit code for
// VerifyCard. Binding a card is a sensitive change and needs a recent step-up.
//
// Errors: unavailable (no rail), step_up_required, unauthenticated, card_limit_reached,
// currency_not_supported, card_number_invalid, card_expiry_invalid, card_expired,
// card_cvv_invalid, card_holder_invalid, card_brand_unsupported (validation and the
// rail), card_declined, card_expired, card_reported_stolen (the bank refused the
// verification: the card is not kept — not listed, no card slot used — and the rail
// forgets its token).
func (s *Service) AddCard(ctx context.Context, in AddCardInput) (*Card, error) {
	return s.addCard(ctx, in, "")
}

func (s *Service) addCard(ctx context.Context, in AddCardInput, replaces string) (*Card, error) {
	if err := s.needRail(); err != nil {
		return nil, err
	}
	if in.Asset == "" {
		in.Asset = "CNY"
	}
	if a, err := assetOf(in.Asset); err != nil || a.Kind != money.Fiat {
		return nil, apperr.New(apperr.CodeCurrencyUnsupported)
	}
	// Check step-up and the card count before the card goes to the network.
	err := s.read(ctx, "add card", func(tx *db.Tx) error {
		if _, err := s.id.RequireStepUp(ctx, tx, in.SessionID); err != nil {
			return err
		}
		return s.checkCardCount(ctx, tx, in.UserID, replaces)
	})
	if err != nil {
		return nil, err
	}
	pc, err := rail.ParseCard(in.Number, in.ExpMonth, in.ExpYear, in.Holder, in.CVV, s.d.Clock.Now())
	if err != nil {
		return nil, err
	}
	tok, err := s.rl.TokenizeCard(ctx, pc)
	if err != nil {
		return nil, err
	}
	id := newUUID()
	verifyRef := "v-" + id
	err = s.inTx(ctx, "add card", func(tx *db.Tx) error {
		if err := s.checkCardCount(ctx, tx, in.UserID, replaces); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO wallet_cards (`+cardCols+`, rail, removed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '', $11, $12, 0, $13, $14, 0)`,
			id, in.UserID, s.seal(tok.Token, id), string(tok.Brand), tok.Last4, tok.ExpMonth, tok.ExpYear, pc.Holder, in.Asset, CardVerifying,
			verifyRef, replaces, tx.NowMicros(), s.rl.Name())
		if err != nil {
			return fmt.Errorf("insert card: %w", err)
		}
		return s.audit(ctx, tx, in.UserID, "wallet.card_add", id)
	})
	if err != nil {
		_ = s.rl.DeleteCard(ctx, tok.Token)
		return nil, err
	}
	op, err := s.rl.StartCardVerification(ctx, rail.VerifyRequest{Reference: verifyRef, Token: tok.Token, Asset: in.Asset})
	if err == nil && op.Status == rail.StatusFailed {
		err = op.Err()
	}
	if err != nil {
		// A card the bank refuses (or that could not be sent for verification) can never
		// be used, so it is not kept: a real wallet does not list a card it could not add,
		// nor count it against the card limit. The cleanup runs even if the caller has
		// gone, or a dead card would be left behind.
		if derr := s.discardCard(context.WithoutCancel(ctx), in.UserID, id, op.FailureCode, tok.Token); derr != nil {
			return nil, derr
		}
		return nil, err
	}
	return s.getCard(ctx, in.UserID, id)
}

// discardCard takes a card that failed to be added off the user's list: the row stays,
// marked removed with the reason, so the audit trail of its adding still resolves, and
// the rail forgets the token.
func (s *Service) discardCard(ctx context.Context, userID, id, code, token string) error {
	err := s.inTx(ctx, "discard card", func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE wallet_cards SET status = $1, failure_code = $2, removed_at = $3, is_default = 0
			WHERE id = $4`, CardFailed, code, tx.NowMicros(), id); err != nil {
			return fmt.Errorf("discard card: %w", err)
		}
		return s.audit(ctx, tx, userID, "wallet.card_add_failed", id)
	})
	if err != nil {
		return err
	}
	_ = s.rl.DeleteCard(ctx, token) // failing that only leaves a dead token at the rail
	return nil
}

func (s *Service) checkCardCount(ctx context.Context, tx *db.Tx, userID, replaces string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM wallet_cards WHERE user_id = $1 AND removed_at = 0`, userID).Scan(&n); err != nil {
		return fmt.Errorf("count cards: %w", err)
	}
	limit := s.cfg.MaxCards
	if replaces != "" {
		limit++ // the old card goes once the new one is verified
	}
	if n >= limit {
		return apperr.New(CodeCardLimit)
	}
	return nil
}

func (s *Service) setCardStatus(ctx context.Context, id, status, code string) error {
	return s.inTx(ctx, "card status", func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE wallet_cards SET status = $1, failure_code = $2 WHERE id = $3`, status, code, id)
		return err
	})
}

func (s *Service) audit(ctx context.Context, tx *db.Tx, userID, action, cardID string) error {
	return audit.Append(ctx, tx, audit.Entry{ActorKind: audit.ActorUser, ActorID: userID, Action: action, SubjectID: userID,
		Details: map[string]string{"card": cardID}})
}

func (s *Service) getCard(ctx context.Context, userID, id string) (*Card, error) {
	var out *Card
	err := s.read(ctx, "get card", func(tx *db.Tx) error {
		var err error
		out, err = loadCard(ctx, tx, userID, id, false)
		return err
	})
	return out, err
}

// VerifyCard checks the 4-digit code from the verification charge on the statement. A
// verified card becomes the default when there is none, or replaces the card it was
// added to replace (ChangeCard).
//
// A code that is not 4 digits uses up no try. The last wrong try fails the card (it stays
// listed as failed with the reason until removed); from then on every try answers the
// same failure, whose fix is to remove the card and add it again.
//
// Errors: unavailable, not_found, card_verification_code_malformed (field code),
// card_verification_code_invalid (param remaining), card_verification_attempts_exceeded,
// card_verification_expired, rail_operation_state (canceled: add the card again).
func (s *Service) VerifyCard(ctx context.Context, userID, cardID, code string) (*Card, error) {
	if err := s.needRail(); err != nil {
		return nil, err
	}
	c, err := s.getCard(ctx, userID, cardID)
	if err != nil {
		return nil, err
	}
	if c.Status == CardVerified {
		return c, nil
	}
	if c.Status == CardFailed && c.FailureCode != "" {
		// Over for good: say why, whatever was typed, without asking the rail again.
		return nil, rail.FailureError(c.FailureCode)
	}
	op, err := s.rl.ConfirmCardVerification(ctx, c.verifyRef, code)
	if err != nil {
		if op.Status == rail.StatusFailed {
			_ = s.setCardStatus(ctx, c.ID, CardFailed, op.FailureCode)
		}
		return nil, err
	}
	if op.Status != rail.StatusSucceeded {
		return nil, rail.StateError(op.Status)
	}
	var old *Card
	err = s.inTx(ctx, "verify card", func(tx *db.Tx) error {
		c, err := loadCard(ctx, tx, userID, cardID, true)
		if err != nil {
			return err
		}
		var defaults int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM wallet_cards WHERE user_id = $1 AND removed_at = 0 AND is_default = 1`, userID).Scan(&defaults); err != nil {
			return err
		}
		makeDefault := defaults == 0
		if c.Replaces != "" {
			if o, err := loadCard(ctx, tx, userID, c.Replaces, true); err == nil {
				old = o
				makeDefault = makeDefault || o.Default
				if _, err := tx.ExecContext(ctx, `UPDATE wallet_cards SET removed_at = $1, is_default = 0 WHERE id = $2`, tx.NowMicros(), o.ID); err != nil {
					return err
				}
				if err := s.audit(ctx, tx, userID, "wallet.card_change", c.ID); err != nil {
					return err
				}
			}
		}
		if makeDefault {
			if _, err := tx.ExecContext(ctx, `UPDATE wallet_cards SET is_default = 0 WHERE user_id = $1`, userID); err != nil {
				return err
			}
		}
		d := 0
		if makeDefault {
			d = 1
		}
		_, err = tx.ExecContext(ctx, `UPDATE wallet_cards SET status = $1, failure_code = '', is_default = $2 WHERE id = $3`, CardVerified, d, c.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if old != nil {
		if tok, err := s.unseal(old.tokenSealed, old.ID); err == nil {
			_ = s.rl.DeleteCard(ctx, tok) // the rail forgets it; failing that only leaves a dead token there
		}
	}
	return s.getCard(ctx, userID, cardID)
}

// ListCards returns userID's cards, default first, then newest.
//
// Errors: none besides internal ones.
func (s *Service) ListCards(ctx context.Context, userID string) ([]Card, error) {
	out := []Card{}
	err := s.read(ctx, "list cards", func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+cardCols+` FROM wallet_cards WHERE user_id = $1 AND removed_at = 0
			ORDER BY is_default DESC, created_at DESC, id LIMIT 50`, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanCard(rows)
			if err != nil {
				return err
			}
			out = append(out, *c)
		}
		return rows.Err()
	})
	return out, err
}

// SetDefaultCard makes a verified card the default for top-ups and withdrawals.
//
// Errors: not_found, card_not_verified.
func (s *Service) SetDefaultCard(ctx context.Context, userID, cardID string) error {
	return s.inTx(ctx, "set default card", func(tx *db.Tx) error {
		c, err := loadCard(ctx, tx, userID, cardID, true)
		if err != nil {
			return err
		}
		if c.Status != CardVerified {
			return apperr.New(CodeCardNotVerified)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE wallet_cards SET is_default = 0 WHERE user_id = $1`, userID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE wallet_cards SET is_default = 1 WHERE id = $1`, c.ID)
		return err
	})
}

// RemoveCard unbinds a card (step-up needed). A removed default passes the default to the
// newest other verified card. Top-ups and withdrawals already under way finish.
//
// Errors: unavailable, step_up_required, unauthenticated, not_found.
func (s *Service) RemoveCard(ctx context.Context, userID, sessionID, cardID string) error {
	if err := s.needRail(); err != nil {
		return err
	}
	var c *Card
	err := s.inTx(ctx, "remove card", func(tx *db.Tx) error {
		if _, err := s.id.RequireStepUp(ctx, tx, sessionID); err != nil {
			return err
		}
		var err error
		c, err = loadCard(ctx, tx, userID, cardID, true)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE wallet_cards SET removed_at = $1, is_default = 0 WHERE id = $2`, tx.NowMicros(), c.ID); err != nil {
			return err
		}
		if c.Default {
			if _, err := tx.ExecContext(ctx, `UPDATE wallet_cards SET is_default = 1 WHERE id = (SELECT id FROM wallet_cards
				WHERE user_id = $1 AND removed_at = 0 AND status = $2 ORDER BY created_at DESC, id LIMIT 1)`, userID, CardVerified); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, userID, "wallet.card_remove", c.ID)
	})
	if err != nil {
		return err
	}
	if tok, err := s.unseal(c.tokenSealed, c.ID); err == nil {
		_ = s.rl.DeleteCard(ctx, tok)
	}
	return nil
}

// ChangeCardInput replaces OldCardID with a new card.
type ChangeCardInput struct {
	AddCardInput
	OldCardID string `json:"old_card_id"`
}

// ChangeCard adds the new card (step-up needed) marked as replacing the old one; when
// VerifyCard succeeds on it, it takes over the default and the old card is removed, in
// one transaction. Until then the old card keeps working.
//
// Errors: those of AddCard, and not_found (old card).
func (s *Service) ChangeCard(ctx context.Context, in ChangeCardInput) (*Card, error) {
	if _, err := s.getCard(ctx, in.UserID, in.OldCardID); err != nil {
		return nil, err
	}
	return s.addCard(ctx, in.AddCardInput, in.OldCardID)
}

// usableCard loads a verified, unexpired card of userID's in asset, with its token.
//
// Errors: card_unknown (field card_id), card_not_verified, card_expired, currency_mismatch.
func (s *Service) usableCard(ctx context.Context, tx *db.Tx, userID, cardID, asset string) (*Card, string, error) {
	c, err := loadCard(ctx, tx, userID, cardID, false)
	if apperr.HasCode(err, apperr.CodeNotFound) {
		// A field of the request, not the page: not_found would say "check the address".
		return nil, "", apperr.New(CodeCardUnknown).Field("card_id", CodeCardUnknown)
	}
	if err != nil {
		return nil, "", err
	}
	if c.Status != CardVerified {
		return nil, "", apperr.New(CodeCardNotVerified)
	}
	now := tx.Now.In(cst)
	if c.ExpYear < now.Year() || (c.ExpYear == now.Year() && c.ExpMonth < int(now.Month())) {
		return nil, "", apperr.New(rail.CodeCardExpired)
	}
	if c.Asset != asset {
		return nil, "", apperr.New(CodeCurrencyMismatch)
	}
	tok, err := s.unseal(c.tokenSealed, c.ID)
	if err != nil {
		return nil, "", err
	}
	return c, tok, nil
}
