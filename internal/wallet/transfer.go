package wallet

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/identity"
	"okpay/internal/ledger"
	"okpay/internal/notify"
)

var (
	normalizeEmail = identity.NormalizeEmail
	normalizePhone = identity.NormalizePhone
)

// TransferInput is a payment to another user.
type TransferInput struct {
	// SenderID is the signed-in user; SessionID their session (for step-up on large
	// amounts; empty for API keys, which then cannot send above the threshold).
	SenderID  string `json:"-"`
	SessionID string `json:"-"`
	// Key is the Idempotency-Key: the same key returns the first result.
	Key string `json:"-"`
	// To is the recipient's email, phone number or account id.
	To     string `json:"to"`
	Amount string `json:"amount"` // decimal, e.g. "12.30"
	Asset  string `json:"asset"`  // CNY, USD, USDT, BTC
	Memo   string `json:"memo,omitempty"`
	// Guard, when set, keeps the caller's own record of this call in the call's
	// transaction (the JSON API's Idempotency-Key store). See Guard.
	Guard Guard `json:"-"`
}

// Guard is a caller's record of a money call kept in the call's own transaction, so that
// the JSON API's Idempotency-Key claim and stored response cost no write transactions of
// their own. Begin runs first in the transaction: replay = true ends the call at once
// with no result (the caller answers from its own record), and an error refuses the call.
// Finish runs last with the call's result and may still refuse it (everything then rolls
// back). Both may run again when the transaction is retried; neither may have effects
// outside tx.
type Guard interface {
	Begin(ctx context.Context, tx *db.Tx) (replay bool, err error)
	Finish(ctx context.Context, tx *db.Tx, result any) error
}

// Transfer sends money to another user at once and returns the sender's activity record
// (transfer_out, completed). The recipient gets a transfer_in record and a "payment
// received" email. With in.Guard, a replay by the guard returns (nil, nil).
//
// Errors: validation_failed (to, memo, idempotency_key), amount_invalid,
// currency_not_supported, maintenance, idempotency_conflict, recipient_not_found,
// cannot_pay_self, email_not_verified, account_frozen, sending_restricted,
// recipient_cannot_receive, step_up_required, unauthenticated, limit_exceeded,
// insufficient_funds.
func (s *Service) Transfer(ctx context.Context, in TransferInput) (*Activity, error) {
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
	if _, _, err := normaliseRecipient(in.To); err != nil {
		return nil, err
	}
	if err := s.checkMaintenance(ctx); err != nil {
		return nil, err
	}
	op := opID(in.SenderID, in.Key)
	outID := derive(op.String(), "out")
	hash := hashReq("transfer", strings.TrimSpace(strings.ToLower(in.To)), asset.Code, fmt.Sprint(amount), in.Memo)
	if c := s.batchable(ctx, in, asset.Code, amount, op, hash); c != nil {
		s.batch.do(c)
		switch {
		case c.err == nil:
			return c.out, nil
		case errors.Is(c.err, errAlone):
			// The per-call path below answers it.
		default:
			if _, ok := apperr.As(c.err); ok {
				s.fillAvailable(ctx, c.err)
			}
			return nil, c.err
		}
	}
	var out *Activity
	var opened []uuid.UUID
	err = s.inGroupTx(ctx, "transfer", func(ctx context.Context, tx *db.Tx) error {
		out, opened = nil, nil
		if in.Guard != nil {
			if replay, err := in.Guard.Begin(ctx, tx); err != nil || replay {
				return err
			}
		}
		replayID, replay, err := beginOp(ctx, tx, op, in.SenderID, "transfer", hash, outID.String())
		if err != nil {
			return err
		}
		if replay {
			// The first call's records may still be in the payment feed.
			if err = s.expandInTx(ctx, tx); err == nil {
				out, err = getActivity(ctx, tx, replayID)
			}
		} else {
			var sender, rcpt *person
			if sender, err = loadPerson(ctx, tx, in.SenderID); err != nil {
				return err
			}
			if rcpt, err = findRecipient(ctx, tx, in.To); err != nil {
				return err
			}
			m := movement{op: op, from: sender, to: rcpt, asset: asset.Code, amount: amount, memo: in.Memo,
				code: TrP2P, outType: TypeTransferOut, inType: TypeTransferIn, category: CatTransfers,
				sourceKind: "transfer", sourceID: op.String(), sessionID: in.SessionID, feed: true}
			out, opened, err = s.pay(ctx, tx, m)
		}
		if err != nil || in.Guard == nil {
			return err
		}
		return in.Guard.Finish(ctx, tx, out)
	})
	if err != nil {
		return nil, err
	}
	s.markKnown(opened...)
	if opened != nil {
		s.logged()
	}
	return out, nil
}

// batchable returns the call as a batch entry (batch.go), or nil when it takes the
// per-call path: no batcher, a guard without a batch form, a phone-number recipient
// (verified numbers only, duplicates refused: the per-call lookup), or an amount that
// needs step-up.
func (s *Service) batchable(ctx context.Context, in TransferInput, asset string, amount int64, op uuid.UUID, hash string) *xfer {
	if s.batch == nil {
		return nil
	}
	if in.Guard != nil {
		if _, ok := in.Guard.(BatchGuard); !ok {
			return nil
		}
	}
	kind, val, err := normaliseRecipient(in.To)
	if err != nil || (kind != "id" && kind != "email") {
		return nil
	}
	v, err := s.toLimit(asset, amount)
	if err != nil || v >= s.cfg.StepUpMinor {
		return nil
	}
	return &xfer{ctx: ctx, in: in, asset: asset, amount: amount, limitV: v, toKind: kind, toVal: val, op: op, hash: hash}
}

// movement is one user paying another: the shared core of transfers, paid requests and
// checkout payments.
type movement struct {
	op               uuid.UUID
	from, to         *person
	asset            string
	amount           int64
	memo             string
	code             int32
	outType, inType  string
	category         string // the payer's category (merchant category for payments)
	inCategory       string // the payee's; defaults to category
	sourceKind       string
	sourceID         string
	sessionID        string
	fromName, toName string // shown instead of the masked email (merchant names)
	skipNotify       bool
	// feed logs the records and the mail to the payment feed (feed.go) instead of writing
	// them: for movements whose records nothing updates later (transfers).
	feed bool
}

// pay runs the checks and the money movement of m inside tx, and records both sides'
// activity. It returns the payer's record and the wallet accounts it opened (to mark
// known after commit).
func (s *Service) pay(ctx context.Context, tx *db.Tx, m movement) (*Activity, []uuid.UUID, error) {
	if m.from.ID == m.to.ID {
		return nil, nil, apperr.New(CodeCannotPaySelf)
	}
	// Restrictions are read in this transaction, so a freeze committed before it is seen
	// and one committed after it is ordered after the payment. Both people were read in
	// it too (loadPerson, findRecipient): identity checks both sides in one statement.
	send, receive, err := s.id.CheckTransfer(ctx, tx, m.from.ID, m.from.EmailVerifiedAt > 0, m.to.ID)
	if err != nil {
		return nil, nil, err
	}
	if send != nil {
		return nil, nil, send
	}
	if receive != nil {
		return nil, nil, apperr.New(CodeRecipientCannotReceive).Wrap(receive)
	}
	if err := s.needStepUp(ctx, tx, m.sessionID, m.asset, m.amount); err != nil {
		return nil, nil, err
	}
	// The records and the mail are written before the limit counter and the ledger, which
	// lock rows (the sender's counters, both accounts) on PostgreSQL until commit: taken
	// last, they are held for a few statements instead of most of the transaction. A
	// refusal still rolls everything back, and the checks keep their order.
	toName, fromName := m.toName, m.fromName
	if toName == "" {
		toName = m.to.display()
	}
	if fromName == "" {
		fromName = m.from.display()
	}
	inCat := m.inCategory
	if inCat == "" {
		inCat = m.category
	}
	var out *Activity
	notifyTo := s.cfg.NotifyPaymentReceived && !m.skipNotify
	if m.feed {
		// Logged for the feed (feed.go): one narrow row now, the records and the mail
		// in a batch shortly after. out is the payer's record as the feed will write it.
		p := &feedPay{At: tx.Now, Op: m.op.String(), From: m.from.ID, To: m.to.ID, FromName: fromName, ToName: toName,
			Asset: m.asset, Amount: m.amount, Memo: m.memo, OutType: m.outType, InType: m.inType, OutCat: m.category, InCat: inCat,
			SrcKind: m.sourceKind, SrcID: m.sourceID}
		if notifyTo {
			p.Mail = &feedMail{Email: m.to.Email, Lang: m.to.Lang}
		}
		if err := appendFeed(ctx, tx, p); err != nil {
			return nil, nil, err
		}
		out = makeActivity(p.sides()[0], tx.Now).a
	} else {
		acts, err := insertActivities(ctx, tx,
			newActivity{id: derive(m.op.String(), "out"), userID: m.from.ID, typ: m.outType, status: StatusCompleted,
				direction: -1, asset: m.asset, amount: m.amount, category: m.category, counterpartyID: m.to.ID, cpty: toName, memo: m.memo,
				sourceKind: m.sourceKind, sourceID: m.sourceID},
			newActivity{id: derive(m.op.String(), "in"), userID: m.to.ID, typ: m.inType, status: StatusCompleted,
				direction: 1, asset: m.asset, amount: m.amount, category: inCat, counterpartyID: m.from.ID, cpty: fromName, memo: m.memo,
				sourceKind: m.sourceKind, sourceID: m.sourceID})
		if err != nil {
			return nil, nil, err
		}
		out = acts[0]
		if notifyTo {
			if err := s.mailPaymentReceived(ctx, tx, m.to, fromName, formatMinor(m.amount, m.asset), m.memo); err != nil {
				return nil, nil, err
			}
		}
	}
	if err := s.useLimitAt(ctx, tx, m.from.ID, m.from.Level, FlowSend, m.asset, m.amount); err != nil {
		return nil, nil, err
	}
	fromAcct, toAcct := walletAcct(m.from.ID, m.asset), walletAcct(m.to.ID, m.asset)
	if err := s.ensureWallets(ctx, tx, fromAcct, toAcct); err != nil {
		return nil, nil, err
	}
	if err := s.submit(ctx, tx, ledger.Transfer{ID: derive(m.op.String(), "transfer"), DebitAccountID: fromAcct.ID,
		CreditAccountID: toAcct.ID, Amount: m.amount, Asset: m.asset, Code: m.code, Ref: m.sourceKind + ":" + m.sourceID}); err != nil {
		return nil, nil, err
	}
	return out, []uuid.UUID{fromAcct.ID, toAcct.ID}, nil
}

// inboxKinds are the wallet mails that also land in the recipient's notification inbox,
// so money arriving or a withdrawal's outcome is visible on the next visit.
var inboxKinds = map[string]notify.InboxKind{
	"payment_received":     notify.InboxPaymentReceived,
	"refund_received":      notify.InboxPaymentReceived,
	"withdrawal_completed": notify.InboxWithdrawalCompleted,
	"withdrawal_failed":    notify.InboxWithdrawalFailed,
}

// mail writes one email to the outbox in tx, in the recipient's language, and for the
// kinds in inboxKinds a notification in both languages.
func (s *Service) mail(ctx context.Context, tx *db.Tx, p *person, kind string, subject, body [2]string) error {
	in, em := renderMail(p, kind, subject, body)
	if in != nil {
		if _, err := notify.Notify(ctx, tx, p.ID, in.kind, in.msg); err != nil {
			return fmt.Errorf("inbox %s: %w", kind, err)
		}
	}
	if em != nil {
		if _, err := notify.EnqueueEmail(ctx, tx, *em); err != nil {
			return fmt.Errorf("queue %s email: %w", kind, err)
		}
	}
	return nil
}

// inboxMsg is a notification to write.
type inboxMsg struct {
	kind notify.InboxKind
	msg  notify.InboxMessage
}

// renderMail makes what mail writes for p: the notification (nil when kind has none) and
// the email (nil when p has no address).
func renderMail(p *person, kind string, subject, body [2]string) (*inboxMsg, *notify.Email) {
	var in *inboxMsg
	if ik, ok := inboxKinds[kind]; ok && p.ID != "" {
		in = &inboxMsg{kind: ik, msg: notify.InboxMessage{Title: apperr.Text{En: subject[0], Zh: subject[1]}, Body: apperr.Text{En: body[0], Zh: body[1]}, Link: "/activity"}}
	}
	if p.Email == "" {
		return in, nil
	}
	i := 0
	lang := identity.LangEn
	if strings.HasPrefix(strings.ToLower(p.Lang), "zh") {
		i, lang = 1, identity.LangZh
	}
	return in, &notify.Email{To: p.Email, Lang: lang, Subject: subject[i], Text: body[i], UserID: p.ID, Kind: kind}
}

func (s *Service) mailPaymentReceived(ctx context.Context, tx *db.Tx, to *person, from, amount, memo string) error {
	subject, body := paymentReceivedText(from, amount, memo)
	return s.mail(ctx, tx, to, "payment_received", subject, body)
}

// paymentReceivedMail is what mailPaymentReceived writes (the feed writes it later).
func paymentReceivedMail(to *person, from, amount, memo string) (*inboxMsg, *notify.Email) {
	subject, body := paymentReceivedText(from, amount, memo)
	return renderMail(to, "payment_received", subject, body)
}

func paymentReceivedText(from, amount, memo string) (subject, body [2]string) {
	en := fmt.Sprintf("You received %s from %s.", amount, from)
	zh := fmt.Sprintf("您收到来自 %s 的 %s。", from, amount)
	if memo != "" {
		en += "\nNote: " + memo
		zh += "\n备注：" + memo
	}
	en += "\n\nThe money is in your OKPay wallet now."
	zh += "\n\n款项已存入您的 OKPay 钱包。"
	return [2]string{"Payment received: " + amount, "收款到账：" + amount}, [2]string{en, zh}
}
