package console

import (
	"context"
	"strings"

	"okpay/internal/apperr"
	"okpay/internal/support/tickets"
	"okpay/internal/support/troubleshoot"
)

// Canned is a ready answer for the ticket reply box, in both languages. {name} is the
// customer's placeholder the agent fills in before sending; the rest is complete.
type Canned struct {
	ID    string            `json:"id"`
	Title troubleshoot.Text `json:"title"`
	Body  troubleshoot.Text `json:"body"`
}

// canned is the small table of answers agents use most. It lives in code (reviewed like
// any other user-facing text) and is short on purpose: a canned reply is a start, not a
// substitute for reading the ticket.
var canned = []Canned{
	{ID: "greeting",
		Title: troubleshoot.Text{En: "Looking into it", Zh: "正在处理"},
		Body: troubleshoot.Text{En: "Thank you for contacting OKPay support. I have your account and the troubleshooter's findings in front of me, so there is no need to send anything again. I am looking into it now and will update this ticket.",
			Zh: "感谢您联系 OKPay 客服。我已看到您的账户以及问题助手的诊断结果，您无需再次提供任何资料。我正在处理，稍后会在本工单中回复您。"}},
	{ID: "name_mismatch",
		Title: troubleshoot.Text{En: "Withdrawal: name mismatch", Zh: "提现：姓名不一致"},
		Body: troubleshoot.Text{En: "Your withdrawal was returned by the receiving bank because the name on the card does not match your verified real name. The full amount is back in your OKPay wallet. Please withdraw to a card in your own name; if this card is yours, reply here and we will check the name with the bank.",
			Zh: "您的提现被收款银行退回，原因是卡上的姓名与您的实名认证姓名不一致。全部款项已退回您的 OKPay 钱包。请提现到本人名下的银行卡；如果该卡确为本人所有，请在此回复，我们将与银行核实姓名。"}},
	{ID: "payout_rejected",
		Title: troubleshoot.Text{En: "Withdrawal: bank rejected", Zh: "提现：银行拒绝"},
		Body: troubleshoot.Text{En: "The receiving bank rejected your withdrawal and the money is back in your OKPay wallet. Banks reject payouts to closed, frozen or credit cards; please check with your bank or withdraw to another debit card.",
			Zh: "收款银行拒绝了您的提现，款项已退回您的 OKPay 钱包。银行通常会拒绝向已注销、已冻结的卡或信用卡付款；请向银行核实，或提现到其他借记卡。"}},
	{ID: "unlocked",
		Title: troubleshoot.Text{En: "Account unlocked", Zh: "账户已解锁"},
		Body: troubleshoot.Text{En: "I have checked your identity and unlocked your account; you can sign in again now. If you did not type the wrong passwords yourself, please change your password and turn on 2-step verification.",
			Zh: "我已核实您的身份并为您解锁账户，您现在可以重新登录。如果错误密码不是您本人输入的，请修改密码并开启两步验证。"}},
	{ID: "unfrozen",
		Title: troubleshoot.Text{En: "Account unfrozen", Zh: "账户已解冻"},
		Body: troubleshoot.Text{En: "I have checked your identity and lifted the freeze on your account; payments and withdrawals work again.",
			Zh: "我已核实您的身份并解除了账户冻结，付款和提现功能已恢复。"}},
	{ID: "unauthorized",
		Title: troubleshoot.Text{En: "Unauthorized payment: investigating", Zh: "非本人交易：调查中"},
		Body: troubleshoot.Text{En: "Your account is protected while we investigate: no money can leave it. I have the list of your recent payments; please reply with the reference numbers of the ones you did not make.",
			Zh: "调查期间您的账户处于保护状态，资金无法转出。我已看到您最近的付款记录，请回复不是您本人操作的交易参考号。"}},
	{ID: "resolved",
		Title: troubleshoot.Text{En: "Closing", Zh: "结束工单"},
		Body: troubleshoot.Text{En: "I am marking this ticket as resolved. If anything is still not right, just reply within 7 days and it reopens.",
			Zh: "我将把本工单标记为已解决。如仍有问题，请在 7 天内直接回复，工单会重新打开。"}},
}

// CannedReplies returns the canned answers in display order.
func CannedReplies() []Canned { return append([]Canned(nil), canned...) }

// CannedByID returns one canned answer.
func CannedByID(id string) (Canned, bool) {
	for _, c := range canned {
		if c.ID == id {
			return c, true
		}
	}
	return Canned{}, false
}

// Reply answers a ticket from the console: body as written, or when body is empty the
// canned answer cannedID in the ticket's language. The desk mails it, audits it and moves
// the ticket to status (waiting_on_customer when empty).
//
// Errors: unauthenticated, forbidden, validation_failed (body: required; canned: unknown),
// not_found, and the desk's reply errors (ticket_closed, ticket_text_too_long, …).
func (s *Service) Reply(ctx context.Context, a Agent, number, body, cannedID string, status tickets.Status) (*tickets.Message, error) {
	if _, err := s.requireStaff(ctx, a); err != nil {
		return nil, err
	}
	if s.cfg.Tickets == nil {
		return nil, apperr.New(apperr.CodeUnavailable)
	}
	if strings.TrimSpace(body) == "" {
		if cannedID == "" {
			return nil, apperr.New(apperr.CodeValidation).Field("body", apperr.CodeRequired)
		}
		c, ok := CannedByID(cannedID)
		if !ok {
			return nil, apperr.New(apperr.CodeValidation).Field("canned", apperr.CodeBadRequest)
		}
		th, err := s.cfg.Tickets.Get(ctx, a.ticketActor(), number)
		if err != nil {
			return nil, err
		}
		body = c.Body.In(th.Ticket.Lang)
	}
	return s.cfg.Tickets.Reply(ctx, a.ticketActor(), number, tickets.ReplyInput{Body: body, Status: status})
}
