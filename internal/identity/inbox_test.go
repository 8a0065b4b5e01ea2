package identity

import (
	"context"
	"testing"

	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/notify"
)

// Security events reach the inbox as well as the mailbox, in the reader's language; mail
// that carries a code (verification) does not.
func TestSecurityEventsInInbox(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, _ := newTestService(t, d)
		c := laptop
		alice := registerVerified(t, s, rec, "alice@example.com", &c)
		inbox := notify.NewInbox(d, nil)
		page, err := inbox.List(ctx, alice.User.ID, "en", "", 20)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 0 {
			t.Fatalf("verification mail reached the inbox: %+v", page.Items)
		}
		if _, err := s.FreezeSelf(ctx, alice.User.ID, FreezeInput{Reason: "lost my phone"}, c); err != nil {
			t.Fatal(err)
		}
		page, err = inbox.List(ctx, alice.User.ID, "zh-CN", "", 20)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Unread != 1 || page.Items[0].Kind != notify.InboxRestriction ||
			page.Items[0].Title != "您的账户已冻结" || page.Items[0].Link != "/account/status" {
			t.Fatalf("freeze not in inbox: %+v", page)
		}
	})
}
