package tickets

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/support/hours"
)

var ctx = context.Background()

func shTime(t *testing.T, s string) time.Time {
	t.Helper()
	loc, _ := time.LoadLocation("Asia/Shanghai")
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTicketLifecycle(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		diag := json.RawMessage(`{"problem":"withdrawal_failed","code":"rail_account_mismatch"}`)
		tk, err := e.svc.Open(ctx, OpenInput{CustomerID: e.alice.UserID, Category: "withdrawal", Subject: "提现失败\n第二行",
			Description: "我的提现失败了，钱去哪了？", RelatedRef: "wd_0193", Related: []string{"tr_1", "tr_2"}, Diagnosis: diag,
			Via: ViaTroubleshooter, Attachments: []Upload{up("截图.png", pngBytes(t)), up("statement.PDF", pdfBytes)}})
		if err != nil {
			t.Fatal(err)
		}
		if tk.Number != "T-2026-000001" || tk.Status != StatusNew || tk.Subject != "提现失败 第二行" || !tk.Verified {
			t.Fatalf("ticket = %+v", tk)
		}
		if tk.Diagnosis != nil {
			t.Fatal("the customer's view must not carry the diagnosis")
		}
		// Opened Monday 17:00 Beijing time; one business day (11 h) of the web calendar
		// later is Tuesday 17:00.
		if want := shTime(t, "2026-03-03 17:00"); !tk.FirstResponseDue.Equal(want) || !tk.ResponseDue.Equal(want) {
			t.Fatalf("due = %s, want %s", tk.FirstResponseDue, want)
		}
		tk2, err := e.svc.Open(ctx, OpenInput{CustomerID: e.bob.UserID, Category: "payment", Subject: "Payment failed", Description: "Card declined"})
		if err != nil || tk2.Number != "T-2026-000002" {
			t.Fatalf("second ticket = %+v, %v", tk2, err)
		}

		// Customers see only their own tickets; another's number is "not found".
		if _, err := e.svc.Get(ctx, e.bob, tk.Number); !apperr.HasCode(err, "not_found") {
			t.Fatalf("bob reading alice's ticket: %v", err)
		}
		th, err := e.svc.Get(ctx, e.alice, tk.Number)
		if err != nil || len(th.Messages) != 1 || len(th.Messages[0].Attachments) != 2 {
			t.Fatalf("thread = %+v, %v", th, err)
		}
		a0 := th.Messages[0].Attachments[0]
		if a0.ContentType != "image/png" || a0.FileName != "截图.png" || th.Messages[0].Attachments[1].FileName != "statement.pdf" {
			t.Fatalf("attachments = %+v", th.Messages[0].Attachments)
		}
		// Agents see the diagnosis and related records.
		ath, err := e.svc.Get(ctx, e.agent, tk.Number)
		if err != nil || string(ath.Ticket.Diagnosis) != string(diag) || len(ath.Ticket.Related) != 2 || ath.Ticket.Channel != ViaTroubleshooter {
			t.Fatalf("agent view = %+v, %v", ath.Ticket, err)
		}
		// Attachments: the owner and agents can open them, nobody else.
		f, err := e.svc.OpenAttachment(ctx, e.alice, tk.Number, a0.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(f.Content)
		f.Content.Close()
		if !bytes.Equal(got, pngBytes(t)) {
			t.Fatal("attachment content differs")
		}
		if _, err := e.svc.OpenAttachment(ctx, e.bob, tk.Number, a0.ID); !apperr.HasCode(err, "not_found") {
			t.Fatalf("bob opening alice's file: %v", err)
		}
		if _, err := e.svc.OpenAttachment(ctx, e.alice, tk2.Number, a0.ID); !apperr.HasCode(err, "not_found") {
			t.Fatalf("file through another ticket: %v", err)
		}
		// Stored under a random name, not the uploaded one, and private to the OKPay user.
		var names []string
		filepath.WalkDir(e.files, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				names = append(names, p)
				if st, _ := d.Info(); st.Mode().Perm() != 0o600 {
					t.Errorf("%s mode %v", p, st.Mode().Perm())
				}
			}
			return nil
		})
		if len(names) != 2 || strings.Contains(strings.Join(names, " "), "statement") {
			t.Fatalf("stored files %v", names)
		}

		// Customers cannot act as agents.
		if _, err := e.svc.Note(ctx, e.alice, tk.Number, "x"); !apperr.HasCode(err, "forbidden") {
			t.Fatalf("customer note: %v", err)
		}
		if _, err := e.svc.SetStatus(ctx, e.alice, tk.Number, StatusClosed, ""); !apperr.HasCode(err, "forbidden") {
			t.Fatalf("customer status: %v", err)
		}

		// The agent assigns, notes, and replies two hours later.
		if at, err := e.svc.Assign(ctx, e.agent, tk.Number, e.agent2.UserID); err != nil || at.Status != StatusOpen || at.AssigneeID != e.agent2.UserID {
			t.Fatalf("assign = %+v, %v", at, err)
		}
		if _, err := e.svc.Assign(ctx, e.agent, tk.Number, e.bob.UserID); !apperr.HasCode(err, "validation_failed") {
			t.Fatalf("assign to a customer: %v", err)
		}
		if _, err := e.svc.Note(ctx, e.agent, tk.Number, "内部备注：银行账户名不一致"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(2 * time.Hour)
		if _, err := e.svc.Reply(ctx, e.agent2, tk.Number, ReplyInput{Body: "您好，收款账户姓名与实名不一致，请更换银行卡。"}); err != nil {
			t.Fatal(err)
		}
		th, _ = e.svc.Get(ctx, e.alice, tk.Number)
		if th.Ticket.Status != StatusWaiting || th.Ticket.FirstRespondedAt.IsZero() || th.Ticket.Breached || !th.Ticket.ResponseDue.IsZero() {
			t.Fatalf("after reply = %+v", th.Ticket)
		}
		for _, m := range th.Messages {
			if m.Kind == KindNote || strings.Contains(m.Body, "内部备注") {
				t.Fatal("customer sees the internal note")
			}
			if m.Kind == KindAgent && m.AuthorID != "" {
				t.Fatal("customer sees the agent's account id")
			}
		}
		mails := outbox(t, e.d, "alice@example.com")
		if len(mails) != 1 || mails[0].Kind != "ticket_reply" || !strings.HasPrefix(mails[0].Subject, "[T-2026-000001] 回复：提现失败") ||
			!strings.Contains(mails[0].Text, "请更换银行卡") || !strings.Contains(mails[0].Text, "https://okpay.example/tickets/T-2026-000001") {
			t.Fatalf("reply mail = %+v", mails)
		}
		if strings.Contains(mails[0].Text, "内部备注") {
			t.Fatal("the note leaked into mail")
		}
		var inbox int
		if err := e.d.R.QueryRow(`SELECT COUNT(*) FROM inbox WHERE user_id = $1 AND kind = 'ticket_reply' AND link = $2`,
			e.alice.UserID, "/tickets/"+tk.Number).Scan(&inbox); err != nil || inbox != 1 {
			t.Fatalf("inbox notifications = %d, %v", inbox, err)
		}

		// The customer answers: the ticket opens again and the desk owes a reply.
		e.clock.Advance(time.Hour)
		if _, err := e.svc.Reply(ctx, e.alice, tk.Number, ReplyInput{Body: "已更换，谢谢", Attachments: []Upload{up("new.png", pngBytes(t))}}); err != nil {
			t.Fatal(err)
		}
		th, _ = e.svc.Get(ctx, e.agent, tk.Number)
		if th.Ticket.Status != StatusOpen || th.Ticket.ResponseDue.IsZero() {
			t.Fatalf("after customer reply = %+v", th.Ticket)
		}

		// Resolve; closed tickets cannot be resolved again; auto-close after 7 days.
		if _, err := e.svc.SetStatus(ctx, e.agent, tk.Number, StatusResolved, "bank card changed"); err != nil {
			t.Fatal(err)
		}
		if st := outbox(t, e.d, "alice@example.com"); len(st) != 2 || st[1].Kind != "ticket_status" || !strings.Contains(st[1].Text, "已解决") {
			t.Fatalf("status mail = %+v", st)
		}
		e.clock.Advance(7*24*time.Hour - time.Minute)
		if n, err := e.svc.AutoClose(ctx, 100); err != nil || n != 0 {
			t.Fatalf("early auto-close = %d, %v", n, err)
		}
		e.clock.Advance(2 * time.Minute)
		if n, err := e.svc.AutoClose(ctx, 100); err != nil || n != 1 {
			t.Fatalf("auto-close = %d, %v", n, err)
		}
		th, _ = e.svc.Get(ctx, e.alice, tk.Number)
		if th.Ticket.Status != StatusClosed || th.Ticket.ClosedAt.IsZero() || th.Messages[len(th.Messages)-1].Body != EventAutoClosed {
			t.Fatalf("closed = %+v", th.Ticket)
		}
		if _, err := e.svc.Reply(ctx, e.alice, tk.Number, ReplyInput{Body: "again"}); !apperr.HasCode(err, CodeTicketClosed) {
			t.Fatalf("reply to closed: %v", err)
		}
		if _, err := e.svc.SetStatus(ctx, e.agent, tk.Number, StatusOpen, ""); !apperr.HasCode(err, CodeStatusChange) {
			t.Fatalf("reopen closed: %v", err)
		}

		// Lists: own tickets only, newest first, paginated.
		p, err := e.svc.List(ctx, e.alice, "", 10)
		if err != nil || len(p.Tickets) != 1 || p.Tickets[0].Number != tk.Number {
			t.Fatalf("alice's list = %+v, %v", p, err)
		}
		for i := 0; i < 3; i++ {
			if _, err := e.svc.Open(ctx, OpenInput{CustomerID: e.bob.UserID, Category: "other", Subject: "s", Description: "d"}); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Second)
		}
		p1, _ := e.svc.List(ctx, e.bob, "", 2)
		p2, err := e.svc.List(ctx, e.bob, p1.Next, 2)
		if err != nil || len(p1.Tickets) != 2 || p1.Next == "" || len(p2.Tickets) != 2 || p2.Next != "" || p2.Tickets[1].Number != tk2.Number {
			t.Fatalf("pages %+v / %+v, %v", p1, p2, err)
		}

		want := []string{"ticket.assign", "ticket.note", "ticket.reply", "ticket.status", "ticket.auto_close"}
		if got := auditActions(t, e.d); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("audit = %v, want %v", got, want)
		}
	})
}

func TestAttachmentRejection(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		html := []byte("<html><script>alert(1)</script></html>")
		gif := []byte("GIF89a\x01\x00\x01\x00")
		big := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), MaxAttachmentBytes)...)
		exact := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), MaxAttachmentBytes-9)...)
		base := OpenInput{CustomerID: e.alice.UserID, Category: "other", Subject: "s", Description: "d"}

		in := base
		// Wrong type by content whatever the name says; too big; empty; one good file.
		in.Attachments = []Upload{up("receipt.png", html), up("ok.png", pngBytes(t)), up("anim.gif", gif), up("big.pdf", big), up("empty.jpg", nil)}
		_, err := e.svc.Open(ctx, in)
		ae := wantCode(t, err, "validation_failed")
		got := map[string]string{}
		for _, f := range ae.Fields {
			got[f.Field] = f.Code
		}
		want := map[string]string{"attachments.0": CodeAttachmentType, "attachments.2": CodeAttachmentType,
			"attachments.3": CodeAttachmentTooLarge, "attachments.4": CodeAttachmentEmpty}
		if len(got) != len(want) {
			t.Fatalf("fields = %v", got)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("fields = %v, want %v", got, want)
			}
		}
		// Too many.
		in = base
		for i := 0; i < MaxAttachments+1; i++ {
			in.Attachments = append(in.Attachments, up("p.png", pngBytes(t)))
		}
		ae = wantCode(t, func() error { _, err := e.svc.Open(ctx, in); return err }(), "validation_failed")
		if ae.Fields[0].Field != "attachments" || ae.Fields[0].Code != CodeTooManyAttachments {
			t.Fatalf("too many: %+v", ae.Fields)
		}
		// Nothing was stored or opened.
		if entries, _ := os.ReadDir(e.files); len(entries) != 0 {
			t.Fatalf("files left behind: %v", entries)
		}
		if p, _ := e.svc.List(ctx, e.alice, "", 10); len(p.Tickets) != 0 {
			t.Fatal("a ticket was opened")
		}
		// Exactly 5 MB and exactly 5 files pass; JPEG by magic bytes.
		in = base
		in.Attachments = []Upload{up("a.pdf", exact), up("b.jpg", []byte("\xFF\xD8\xFF\xE0rest")), up("c.png", pngBytes(t)), up("d", pdfBytes), up("../../etc/passwd", pngBytes(t))}
		tk, err := e.svc.Open(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		th, _ := e.svc.Get(ctx, e.alice, tk.Number)
		names := []string{}
		for _, a := range th.Messages[0].Attachments {
			names = append(names, a.FileName+"="+a.ContentType)
		}
		if strings.Join(names, ",") != "a.pdf=application/pdf,b.jpg=image/jpeg,c.png=image/png,d.pdf=application/pdf,passwd.png=image/png" {
			t.Fatalf("names %v", names)
		}
		// Replies have the same limits.
		_, err = e.svc.Reply(ctx, e.alice, tk.Number, ReplyInput{Body: "more", Attachments: []Upload{up("x.png", html)}})
		if ae := wantCode(t, err, "validation_failed"); ae.Fields[0].Code != CodeAttachmentType {
			t.Fatalf("reply: %+v", ae.Fields)
		}
	})
}

func TestValidation(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		cases := []struct {
			in    OpenInput
			field string
		}{
			{OpenInput{CustomerID: e.alice.UserID, Category: "nope", Subject: "s", Description: "d"}, "category"},
			{OpenInput{CustomerID: e.alice.UserID, Category: "other", Subject: " ", Description: "d"}, "subject"},
			{OpenInput{CustomerID: e.alice.UserID, Category: "other", Subject: strings.Repeat("长", MaxSubjectRunes+1), Description: "d"}, "subject"},
			{OpenInput{CustomerID: e.alice.UserID, Category: "other", Subject: "s"}, "description"},
			{OpenInput{CustomerID: e.alice.UserID, Category: "other", Subject: "s", Description: "d", Priority: "asap"}, "priority"},
			{OpenInput{CustomerID: e.alice.UserID, Category: "other", Subject: "s", Description: "d", RelatedRef: "a\x01b"}, "related_ref"},
			{OpenInput{CustomerID: e.alice.UserID, Category: "other", Subject: "s", Description: "d", Diagnosis: json.RawMessage(`[1]`)}, "diagnosis"},
			{OpenInput{CustomerID: e.alice.UserID, Category: "other", Subject: "s", Description: "d", Related: make([]string, MaxRelated+1)}, "related"},
		}
		for _, c := range cases {
			_, err := e.svc.Open(ctx, c.in)
			if ae := wantCode(t, err, "validation_failed"); ae.Fields[0].Field != c.field {
				t.Errorf("%s: fields %+v", c.field, ae.Fields)
			}
		}
		if _, err := e.svc.Open(ctx, OpenInput{Category: "other", Subject: "s", Description: "d"}); !apperr.HasCode(err, "unauthenticated") {
			t.Fatalf("anonymous: %v", err)
		}
		// At most MaxTicketsPerHour new tickets an hour per customer.
		for i := 0; i < MaxTicketsPerHour; i++ {
			if _, err := e.svc.Open(ctx, OpenInput{CustomerID: e.bob.UserID, Category: "other", Subject: "s", Description: "d"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.Open(ctx, OpenInput{CustomerID: e.bob.UserID, Category: "other", Subject: "s", Description: "d"}); !apperr.HasCode(err, "rate_limited") {
			t.Fatalf("11th ticket: %v", err)
		}
		e.clock.Advance(time.Hour)
		if _, err := e.svc.Open(ctx, OpenInput{CustomerID: e.bob.UserID, Category: "other", Subject: "s", Description: "d"}); err != nil {
			t.Fatalf("an hour later: %v", err)
		}
		if _, err := e.svc.Get(ctx, e.alice, "T-2026-999999"); !apperr.HasCode(err, "not_found") {
			t.Fatal(err)
		}
		if _, err := e.svc.Get(ctx, e.alice, "../etc"); !apperr.HasCode(err, "not_found") {
			t.Fatal(err)
		}
	})
}

// TestSLAInBusinessTime: deadlines follow the ticket calendar across the weekend, the
// lunch break and the National Day holiday; breaches are flagged by the job and by late
// answers; the agents' queue is sorted by the deadline.
func TestSLAInBusinessTime(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		open := func(at string, p hours.Priority) *Ticket {
			t.Helper()
			e.clock.Set(shTime(t, at))
			tk, err := e.svc.Open(ctx, OpenInput{CustomerID: e.bob.UserID, Category: "other", Subject: "s", Description: "d", Priority: p})
			if err != nil {
				t.Fatal(err)
			}
			return tk
		}
		cases := []struct {
			at  string
			p   hours.Priority
			due string
		}{
			{"2026-03-06 20:00", hours.PriorityNormal, "2026-03-09 20:00"}, // Friday evening: 1 h Fri + 10 h Mon
			{"2026-03-07 10:00", hours.PriorityUrgent, "2026-03-09 11:00"}, // Saturday: 2 h from Monday 09:00
			{"2026-03-09 11:00", hours.PriorityHigh, "2026-03-09 16:00"},   // 4 h across the lunch hour
			{"2026-03-09 23:00", hours.PriorityLow, "2026-03-12 21:00"},    // 3 business days
			{"2026-09-30 20:00", hours.PriorityHigh, "2026-10-08 12:00"},   // 1 h before the holiday, 3 h after
		}
		var nums []string
		for _, c := range cases {
			tk := open(c.at, c.p)
			if want := shTime(t, c.due); !tk.FirstResponseDue.Equal(want) {
				t.Errorf("opened %s %s: due %s, want %s", c.at, c.p, tk.FirstResponseDue.In(want.Location()), c.due)
			}
			nums = append(nums, tk.Number)
		}
		// Tuesday 10 March 12:30: the Friday, Saturday and Monday-high tickets are late.
		e.clock.Set(shTime(t, "2026-03-10 12:30"))
		q, err := e.svc.Queue(ctx, e.agent, QueueInput{})
		if err != nil {
			t.Fatal(err)
		}
		order := []string{}
		for _, tk := range q.Tickets {
			order = append(order, tk.Number)
		}
		// Sorted by deadline: Sat-urgent (9 Mar 11:00), Mon-high (16:00), Fri (20:00), low (12 Mar), holiday (8 Oct).
		if want := []string{nums[1], nums[2], nums[0], nums[3], nums[4]}; strings.Join(order, ",") != strings.Join(want, ",") {
			t.Fatalf("queue %v, want %v", order, want)
		}
		if !q.Tickets[0].Breached || q.Tickets[3].Breached {
			t.Fatalf("computed breach flags wrong: %+v", q.Tickets)
		}
		if n, err := e.svc.MarkBreaches(ctx, 100); err != nil || n != 3 {
			t.Fatalf("MarkBreaches = %d, %v", n, err)
		}
		if n, _ := e.svc.MarkBreaches(ctx, 100); n != 0 {
			t.Fatalf("second run flagged %d", n)
		}
		// Answering the low ticket in time does not breach it; answering a late one keeps
		// its breach after the deadline is gone.
		if _, err := e.svc.Reply(ctx, e.agent, nums[3], ReplyInput{Body: "on it"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Reply(ctx, e.agent, nums[0], ReplyInput{Body: "sorry for the wait"}); err != nil {
			t.Fatal(err)
		}
		for i, want := range map[int]bool{3: false, 0: true} {
			th, _ := e.svc.Get(ctx, e.agent, nums[i])
			if th.Ticket.Breached != want {
				t.Errorf("ticket %s breached = %v", nums[i], th.Ticket.Breached)
			}
		}
		// Resolving a late ticket without a reply keeps the breach and records no answer.
		if tk, err := e.svc.SetStatus(ctx, e.agent, nums[2], StatusResolved, "duplicate"); err != nil || !tk.Breached || !tk.FirstRespondedAt.IsZero() {
			t.Fatalf("resolve late = %+v, %v", tk, err)
		}
		if _, err := e.svc.SetStatus(ctx, e.agent, nums[2], StatusOpen, "reopened"); err != nil {
			t.Fatal(err)
		}
		// Waiting tickets sort after the ones the desk owes.
		q, _ = e.svc.Queue(ctx, e.agent, QueueInput{})
		if last := q.Tickets[len(q.Tickets)-1]; last.Status != StatusWaiting {
			t.Fatalf("last in queue = %+v", last)
		}
		if q, _ := e.svc.Queue(ctx, e.agent, QueueInput{Assignee: "me"}); len(q.Tickets) != 2 {
			t.Fatalf("my queue = %d", len(q.Tickets))
		}
		if _, err := e.svc.Queue(ctx, e.bob, QueueInput{}); !apperr.HasCode(err, "forbidden") {
			t.Fatalf("customer queue: %v", err)
		}
		if _, err := e.svc.Queue(ctx, e.agent, QueueInput{Statuses: []Status{"bogus"}}); !apperr.HasCode(err, "validation_failed") {
			t.Fatalf("bad status: %v", err)
		}
	})
}

func TestNumberFormat(t *testing.T) {
	for s, ok := range map[string]bool{"T-2026-000123": true, "T-2026-1234567": true, "T-26-000001": false, "t-2026-000001": false, "T-2026-00001": false} {
		if ValidNumber(s) != ok {
			t.Errorf("ValidNumber(%q) != %v", s, ok)
		}
	}
	if !regexp.MustCompile(`^T-\d{4}-\d{6}$`).MatchString("T-2026-000001") {
		t.Fatal()
	}
}
