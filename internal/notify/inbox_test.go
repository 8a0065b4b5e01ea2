package notify_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/notify"
)

func init() {
	notify.RegisterInboxText("test.payment_received", notify.InboxText{
		Title: apperr.Text{En: "You received {amount}", Zh: "您收到了 {amount}"},
		Body:  apperr.Text{En: "From {from}.", Zh: "来自 {from}。"},
	})
}

func notifyTx(t *testing.T, d *db.DB, user string, kind notify.InboxKind, m notify.InboxMessage) string {
	t.Helper()
	var id string
	err := d.InTx(context.Background(), func(tx *db.Tx) error {
		var err error
		id, err = notify.Notify(context.Background(), tx, user, kind, m)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestInbox(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		live := []notify.Announcement{{ID: "0190aaaa-0000-7000-8000-000000000001", Kind: "maintenance",
			Title: apperr.Text{En: "Maintenance tonight", Zh: "今晚维护"}, Body: apperr.Text{En: "b", Zh: "正文"},
			StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour)}}
		in := notify.NewInbox(d, func(context.Context) ([]notify.Announcement, error) { return live, nil })

		pay := notifyTx(t, d, "alice", notify.InboxPaymentReceived, notify.InboxMessage{Key: "test.payment_received",
			Params: map[string]string{"amount": "¥12.00", "from": "bob"}, Link: "/activity/1"})
		d.Clock.(*dbtest.Clock).Advance(time.Second)
		sec := notifyTx(t, d, "alice", notify.InboxSecurity, notify.InboxMessage{
			Title: apperr.Text{En: "New sign-in", Zh: "新设备登录"}, Body: apperr.Text{En: "From Chrome.", Zh: "来自 Chrome。"}})
		other := notifyTx(t, d, "bob", notify.InboxWithdrawalFailed, notify.InboxMessage{
			Title: apperr.Text{En: "Withdrawal failed", Zh: "提现失败"}, Body: apperr.Text{En: "x", Zh: "x"}})

		// A rolled-back change leaves no notification.
		_ = d.InTx(ctx, func(tx *db.Tx) error {
			if _, err := notify.Notify(ctx, tx, "alice", notify.InboxSecurity, notify.InboxMessage{Title: apperr.Text{En: "x", Zh: "x"}, Body: apperr.Text{En: "x", Zh: "x"}}); err != nil {
				t.Fatal(err)
			}
			return errors.New("roll back")
		})

		n, err := in.Unread(ctx, "alice")
		if err != nil || n != 3 {
			t.Fatalf("unread = %d, %v; want 2 notifications + 1 announcement", n, err)
		}
		page, err := in.List(ctx, "alice", "zh-CN", "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 3 || page.Items[0].Kind != notify.InboxAnnouncement || page.Items[0].Title != "今晚维护" ||
			page.Items[1].ID != sec || page.Items[2].ID != pay || page.Items[2].Title != "您收到了 ¥12.00" || page.Items[2].Body != "来自 bob。" ||
			page.Items[2].Link != "/activity/1" || page.Unread != 3 {
			t.Fatalf("page: %+v", page)
		}
		// Bob's notification is not Alice's to read or to mark.
		if err := in.MarkRead(ctx, "alice", other); !apperr.HasCode(err, apperr.CodeNotFound) {
			t.Fatalf("alice marked bob's notification: %v", err)
		}
		if p, _ := in.List(ctx, "bob", "en", "", 10); len(p.Items) != 2 || p.Items[1].ID != other || p.Items[1].Read {
			t.Fatalf("bob's inbox: %+v", p)
		}
		if err := in.MarkRead(ctx, "alice", pay); err != nil {
			t.Fatal(err)
		}
		if err := in.MarkRead(ctx, "alice", pay); err != nil { // twice is fine
			t.Fatal(err)
		}
		if err := in.MarkRead(ctx, "alice", "notice:"+live[0].ID); err != nil {
			t.Fatal(err)
		}
		if err := in.MarkRead(ctx, "alice", "notice:0190aaaa-0000-7000-8000-00000000dead"); !apperr.HasCode(err, apperr.CodeNotFound) {
			t.Fatalf("unknown announcement: %v", err)
		}
		if n, _ := in.Unread(ctx, "alice"); n != 1 {
			t.Fatalf("unread after marking two = %d", n)
		}
		if n, _ := in.Unread(ctx, "bob"); n != 2 {
			t.Fatalf("bob's unread changed: %d", n)
		}
		changed, err := in.MarkAllRead(ctx, "alice")
		if err != nil || changed != 1 {
			t.Fatalf("mark all: %d %v", changed, err)
		}
		if n, _ := in.Unread(ctx, "alice"); n != 0 {
			t.Fatalf("unread after all = %d", n)
		}
		if n, _ := in.Unread(ctx, "bob"); n != 2 {
			t.Fatalf("bob's unread changed by alice's mark-all: %d", n)
		}
		// A new announcement is unread again without a row per user.
		live = append(live, notify.Announcement{ID: "0190aaaa-0000-7000-8000-000000000002", Kind: "info",
			Title: apperr.Text{En: "New", Zh: "新"}, Body: apperr.Text{En: "b", Zh: "b"}, StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour)})
		if n, _ := in.Unread(ctx, "alice"); n != 1 {
			t.Fatalf("new announcement unread = %d", n)
		}
	})
}

func TestInboxPagesAndValidation(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		in := notify.NewInbox(d, nil)
		var ids []string
		for i := 0; i < 5; i++ {
			ids = append(ids, notifyTx(t, d, "u", notify.InboxTicketReply, notify.InboxMessage{
				Title: apperr.Text{En: "Reply", Zh: "回复"}, Body: apperr.Text{En: "b", Zh: "b"}, Link: "/tickets/1"}))
		}
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			p, err := in.List(ctx, "u", "en", cursor, 2)
			if err != nil || pages > 5 {
				t.Fatalf("list: %v", err)
			}
			for _, it := range p.Items {
				got = append(got, it.ID)
			}
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		if len(got) != 5 || got[0] != ids[4] || got[4] != ids[0] {
			t.Fatalf("pages: %v want reverse of %v", got, ids)
		}
		if _, err := in.List(ctx, "u", "en", "garbage", 2); !apperr.HasCode(err, apperr.CodeValidation) {
			t.Fatalf("bad cursor: %v", err)
		}
		bad := []struct {
			kind notify.InboxKind
			m    notify.InboxMessage
		}{
			{"nonsense", notify.InboxMessage{Title: apperr.Text{En: "a", Zh: "b"}, Body: apperr.Text{En: "a", Zh: "b"}}},
			{notify.InboxAnnouncement, notify.InboxMessage{Title: apperr.Text{En: "a", Zh: "b"}, Body: apperr.Text{En: "a", Zh: "b"}}},
			{notify.InboxSecurity, notify.InboxMessage{Title: apperr.Text{En: "a"}, Body: apperr.Text{En: "a", Zh: "b"}}},
			{notify.InboxSecurity, notify.InboxMessage{Key: "no.such.key"}},
			{notify.InboxSecurity, notify.InboxMessage{Title: apperr.Text{En: "a", Zh: "b"}, Body: apperr.Text{En: "a", Zh: "b"}, Link: "//evil.example/x"}},
		}
		for i, b := range bad {
			err := d.InTx(ctx, func(tx *db.Tx) error {
				_, err := notify.Notify(ctx, tx, "u", b.kind, b.m)
				return err
			})
			if !apperr.HasCode(err, apperr.CodeValidation) {
				t.Errorf("case %d accepted: %v", i, err)
			}
		}
	})
}
