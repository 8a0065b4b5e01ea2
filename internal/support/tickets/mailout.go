package tickets

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/notify"
)

// Outbound mail. Every mail about a ticket carries "[T-2026-000123]" in its subject, and
// its Message-ID is derived from the outbox id (notify's scheme), which is recorded as
// "outbox:<id>" in ticket_mail_ids: a customer's reply threads by the subject tag or by
// In-Reply-To/References naming that Message-ID, whichever survives their mail client.

// recipient returns where mail about t goes: the customer's verified address, or for a
// ticket opened by mail from an unknown address, that address. ok is false when there is
// nowhere safe to send (the customer has no verified address).
func (s *Service) recipient(ctx context.Context, t *ticketRow) (to, lang string, ok bool, err error) {
	if t.CustomerID == "" {
		return t.ContactEmail, t.Lang, t.ContactEmail != "", nil
	}
	u, err := s.dir.GetUser(ctx, t.CustomerID)
	if err != nil {
		if apperr.HasCode(err, apperr.CodeNotFound) {
			return "", "", false, nil
		}
		return "", "", false, fmt.Errorf("ticket mail recipient: %w", err)
	}
	return u.Email, u.Lang, u.EmailVerified, nil
}

func zh(lang string) bool { return strings.HasPrefix(strings.ToLower(lang), "zh") }

// subjectFor is "[T-…] " + prefix + the ticket's subject, cut to notify's limit.
func subjectFor(t *ticketRow, prefix string) string {
	s := "[" + t.Number + "] " + prefix + t.Subject
	if utf8.RuneCountInString(s) > notify.MaxSubjectRunes {
		s = string([]rune(s)[:notify.MaxSubjectRunes-1]) + "…"
	}
	return s
}

func (s *Service) link(t *ticketRow) string {
	if s.cfg.BaseURL == "" {
		return "/tickets/" + t.Number
	}
	return s.cfg.BaseURL + "/tickets/" + t.Number
}

var statusNames = map[Status][2]string{
	StatusNew:      {"received", "已受理"},
	StatusOpen:     {"in progress", "处理中"},
	StatusWaiting:  {"waiting for your reply", "等待您的回复"},
	StatusResolved: {"resolved", "已解决"},
	StatusClosed:   {"closed", "已关闭"},
}

// StatusName is a status in words for mail and pages.
func StatusName(st Status, lang string) string {
	n, ok := statusNames[st]
	if !ok {
		return string(st)
	}
	if zh(lang) {
		return n[1]
	}
	return n[0]
}

// footer tells the reader how to answer; unverified senders are asked to sign in, since
// the desk will not discuss an account with an address no account has verified.
func (s *Service) footer(t *ticketRow, lang string) string {
	var b strings.Builder
	if zh(lang) {
		fmt.Fprintf(&b, "\n\n——\nOKPay 客服\n工单 %s：%s\n状态：%s\n", t.Number, t.Subject, StatusName(Status(t.Status), lang))
		b.WriteString("直接回复此邮件即可补充信息（请保留主题中的 [" + t.Number + "]），或访问 " + s.link(t) + "\n")
		if t.Verified == 0 {
			b.WriteString("我们无法将此邮箱与已验证的 OKPay 账户对应。请登录 OKPay 后在“我的工单”中查看；在确认您的身份之前，我们不会通过邮件讨论账户详情。\n")
		}
		b.WriteString("OKPay 客服绝不会索要您的密码或验证码。")
		return b.String()
	}
	fmt.Fprintf(&b, "\n\n--\nOKPay Support\nTicket %s: %s\nStatus: %s\n", t.Number, t.Subject, StatusName(Status(t.Status), lang))
	b.WriteString("Reply to this email to add information (keep [" + t.Number + "] in the subject), or open " + s.link(t) + "\n")
	if t.Verified == 0 {
		b.WriteString("We could not match this address to a verified OKPay account. Please sign in to OKPay and follow the ticket under My tickets; until we know it is you, we will not discuss account details by email.\n")
	}
	b.WriteString("OKPay Support never asks for your password or verification codes.")
	return b.String()
}

func (s *Service) send(ctx context.Context, tx *db.Tx, t *ticketRow, kind, subjectPrefixEn, subjectPrefixZh, bodyEn, bodyZh string) error {
	to, lang, ok, err := s.recipient(ctx, t)
	if err != nil || !ok {
		return err
	}
	subject, body := subjectFor(t, subjectPrefixEn), bodyEn
	if zh(lang) {
		subject, body = subjectFor(t, subjectPrefixZh), bodyZh
	}
	if max := notify.MaxTextBytes - 2048; len(body) > max {
		body = strings.ToValidUTF8(body[:max], "") + "\n[…]"
	}
	id, err := notify.EnqueueEmail(ctx, tx, notify.Email{To: to, Lang: lang, Subject: subject, Text: body + s.footer(t, lang),
		UserID: t.CustomerID, Kind: kind})
	if err != nil {
		if apperr.HasCode(err, apperr.CodeValidation) {
			// A stored address notify refuses (e.g. an odd unverified sender) must not
			// block the agent's work; the reply is on the ticket page anyway.
			s.log.Warn("ticket mail not sent", "ticket", t.Number, "kind", kind, "err", err)
			return nil
		}
		return fmt.Errorf("ticket mail: %w", err)
	}
	return addMailID(ctx, tx, t.ID, "outbox:"+id)
}

// mailReply sends an agent's answer to the customer.
func (s *Service) mailReply(ctx context.Context, tx *db.Tx, t *ticketRow, body string, nFiles int) error {
	en, zhb := body, body
	if nFiles > 0 {
		en += fmt.Sprintf("\n\n(%d attachment(s) on the ticket page.)", nFiles)
		zhb += fmt.Sprintf("\n\n（工单页面上有 %d 个附件。）", nFiles)
	}
	return s.send(ctx, tx, t, "ticket_reply", "Re: ", "回复：", en, zhb)
}

// mailStatus tells the customer their ticket changed status.
func (s *Service) mailStatus(ctx context.Context, tx *db.Tx, t *ticketRow) error {
	days := int(s.cfg.AutoCloseAfter / (24 * time.Hour))
	st := Status(t.Status)
	en := fmt.Sprintf("Your ticket %s is now %s.", t.Number, StatusName(st, "en"))
	zhb := fmt.Sprintf("您的工单 %s 状态已更新为：%s。", t.Number, StatusName(st, "zh-CN"))
	switch st {
	case StatusResolved:
		en += fmt.Sprintf(" If the problem is not solved, reply within %d days and the ticket reopens; after that it closes.", days)
		zhb += fmt.Sprintf("如果问题仍未解决，请在 %d 天内回复，工单将重新打开；之后工单会自动关闭。", days)
	case StatusClosed:
		en += " If you need more help, open a new ticket and mention " + t.Number + "."
		zhb += "如需更多帮助，请新建工单并注明 " + t.Number + "。"
	}
	return s.send(ctx, tx, t, "ticket_status", "", "", en, zhb)
}

// mailReceived acknowledges a ticket opened by mail, with when to expect an answer.
func (s *Service) mailReceived(ctx context.Context, tx *db.Tx, t *ticketRow) error {
	ch, _ := s.desk.Channel(hoursChannel(t.Channel))
	due := db.Micros(t.FirstDue).In(ch.Cal.Location())
	en := fmt.Sprintf("We received your message and opened ticket %s. You can expect a first answer by %s (%s).",
		t.Number, due.Format("Mon 2 Jan 2006 15:04"), ch.Cal.Location())
	zhb := fmt.Sprintf("我们已收到您的邮件，并创建了工单 %s。预计最晚于 %s（%s）首次回复。",
		t.Number, due.Format("2006年1月2日 15:04"), ch.Cal.Location())
	return s.send(ctx, tx, t, "ticket_received", "", "", en, zhb)
}

// Inbox texts of the desk: stored as a key and parameters so each reader sees them in
// their current language.
func init() {
	notify.RegisterInboxText("ticket.reply", notify.InboxText{
		Title: apperr.Text{En: "New reply on ticket {number}", Zh: "工单 {number} 有新回复"},
		Body:  apperr.Text{En: "OKPay Support answered “{subject}”.", Zh: "OKPay 客服回复了“{subject}”。"},
	})
}

// inbox puts a notification in the customer's inbox (tickets from unknown senders have no
// inbox: their mail is the only channel).
func (s *Service) inbox(ctx context.Context, tx *db.Tx, t *ticketRow, m notify.InboxMessage) error {
	if t.CustomerID == "" {
		return nil
	}
	m.Link = "/tickets/" + t.Number
	if _, err := notify.Notify(ctx, tx, t.CustomerID, notify.InboxTicketReply, m); err != nil {
		return fmt.Errorf("ticket inbox: %w", err)
	}
	return nil
}

func (s *Service) inboxReply(ctx context.Context, tx *db.Tx, t *ticketRow) error {
	subject := t.Subject
	if r := []rune(subject); len(r) > 100 {
		subject = string(r[:100]) + "…"
	}
	return s.inbox(ctx, tx, t, notify.InboxMessage{Key: "ticket.reply", Params: map[string]string{"number": t.Number, "subject": subject}})
}

func (s *Service) inboxStatus(ctx context.Context, tx *db.Tx, t *ticketRow) error {
	st := Status(t.Status)
	return s.inbox(ctx, tx, t, notify.InboxMessage{
		Title: apperr.Text{En: fmt.Sprintf("Ticket %s: %s", t.Number, StatusName(st, "en")), Zh: fmt.Sprintf("工单 %s：%s", t.Number, StatusName(st, "zh-CN"))},
		Body: apperr.Text{En: fmt.Sprintf("Your ticket “%s” is now %s.", t.Subject, StatusName(st, "en")),
			Zh: fmt.Sprintf("您的工单“%s”状态已更新为：%s。", t.Subject, StatusName(st, "zh-CN"))},
	})
}
