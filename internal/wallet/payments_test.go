package wallet

import (
	"sync"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/identity"
)

func TestRequests(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a, b, c := e.user("alice"), e.user("bob"), e.user("carol")
		e.fund(b.ID, "CNY", 100_00)
		e.fund(c.ID, "CNY", 100_00)
		in := RequestInput{UserID: a.ID, Key: "r1", Amount: "25.50", Asset: "CNY", Memo: "dinner 晚饭", ExpiresIn: time.Hour}
		r, err := e.w.CreateRequest(e.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != RequestOpen || r.AmountMinor != 25_50 || len(r.Token) < 20 {
			t.Fatalf("request %+v", r)
		}
		again, err := e.w.CreateRequest(e.ctx, in)
		if err != nil || again.ID != r.ID || again.Token != r.Token {
			t.Fatalf("replay %v %+v", err, again)
		}
		in.Amount = "1"
		_, err = e.w.CreateRequest(e.ctx, in)
		wantCode(t, err, apperr.CodeIdempotencyConflict)
		_, err = e.w.CreateRequest(e.ctx, RequestInput{UserID: a.ID, Key: "r2", Amount: "1", Asset: "CNY", ExpiresIn: time.Minute})
		wantCode(t, err, apperr.CodeValidation)

		// Own request cannot be paid by the requester.
		_, err = e.w.PayRequest(e.ctx, PayRequestInput{PayerID: a.ID, Key: e.key(), Token: r.Token})
		wantCode(t, err, CodeCannotPaySelf)
		// Two payers race: one payment.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, p := range []*identity.User{b, c} {
			wg.Add(1)
			go func(i int, p *identity.User) {
				defer wg.Done()
				_, errs[i] = e.w.PayRequest(e.ctx, PayRequestInput{PayerID: p.ID, Key: "pay", Token: r.Token})
			}(i, p)
		}
		wg.Wait()
		paid := 0
		for _, err := range errs {
			if err == nil {
				paid++
			} else if !apperr.HasCode(err, CodeRequestAlreadyPaid) {
				t.Fatal(err)
			}
		}
		if paid != 1 {
			t.Fatalf("paid %d times", paid)
		}
		if got := e.available(a.ID, "CNY"); got != 25_50 {
			t.Fatalf("requester got %d", got)
		}
		got, err := e.w.GetRequest(e.ctx, r.Token)
		if err != nil || got.Status != RequestPaid {
			t.Fatalf("after pay %v %+v", err, got)
		}
		// The winner's retry replays; the loser keeps getting already_paid.
		for i, p := range []*identity.User{b, c} {
			_, err := e.w.PayRequest(e.ctx, PayRequestInput{PayerID: p.ID, Key: "pay", Token: r.Token})
			if (errs[i] == nil) != (err == nil) {
				t.Fatalf("retry %d: %v", i, err)
			}
		}
		// Expired and cancelled requests.
		r2, err := e.w.CreateRequest(e.ctx, RequestInput{UserID: a.ID, Key: "r3", Amount: "1", Asset: "CNY", ExpiresIn: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		r3, err := e.w.CreateRequest(e.ctx, RequestInput{UserID: a.ID, Key: "r4", Amount: "1", Asset: "CNY"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.w.CancelRequest(e.ctx, a.ID, r3.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.w.PayRequest(e.ctx, PayRequestInput{PayerID: b.ID, Key: e.key(), Token: r3.Token})
		wantCode(t, err, CodeRequestCancelled)
		e.clock.Advance(11 * time.Minute)
		_, err = e.w.PayRequest(e.ctx, PayRequestInput{PayerID: b.ID, Key: e.key(), Token: r2.Token})
		wantCode(t, err, CodeRequestExpired)
		_, err = e.w.PayRequest(e.ctx, PayRequestInput{PayerID: b.ID, Key: e.key(), Token: "nope"})
		wantCode(t, err, apperr.CodeNotFound)
		list, err := e.w.ListRequests(e.ctx, a.ID, 10)
		if err != nil || len(list) != 3 {
			t.Fatalf("list %v %d", err, len(list))
		}
		e.reconcile()
	})
}

func TestCheckoutAndRefunds(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		m := e.userRole("shop", identity.RoleMerchant)
		p := e.user("payer")
		e.fund(p.ID, "CNY", 500_00)
		_, err := e.w.CreateCheckout(e.ctx, CheckoutInput{MerchantID: p.ID, Key: e.key(), Amount: "1", Asset: "CNY", OrderRef: "o1", ReturnURL: "https://shop.example/return"})
		wantCode(t, err, CodeMerchantOnly)
		in := CheckoutInput{MerchantID: m.ID, Key: "c1", Amount: "200", Asset: "CNY", OrderRef: "order-1", ReturnURL: "https://shop.example/return",
			Description: "Coffee beans", MerchantName: "Bean Shop", Category: "food"}
		c, err := e.w.CreateCheckout(e.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.w.CreateCheckout(e.ctx, in)
		if err != nil || again.ID != c.ID {
			t.Fatalf("replay %v", err)
		}
		in.Key = "c2"
		_, err = e.w.CreateCheckout(e.ctx, in)
		wantCode(t, err, CodeOrderRefTaken)
		in.OrderRef, in.ReturnURL = "order-2", "javascript:alert(1)"
		_, err = e.w.CreateCheckout(e.ctx, in)
		wantCode(t, err, apperr.CodeValidation)

		// Refund before payment.
		_, err = e.w.Refund(e.ctx, RefundInput{MerchantID: m.ID, Key: e.key(), CheckoutID: c.ID})
		wantCode(t, err, CodeCheckoutNotPaid)

		act, err := e.w.PayCheckout(e.ctx, PayCheckoutInput{PayerID: p.ID, Key: "pay1", Token: c.Token})
		if err != nil {
			t.Fatal(err)
		}
		if act.Type != TypePayment || act.Category != "food" || act.Counterparty != "Bean Shop" {
			t.Fatalf("payment activity %+v", act)
		}
		_, err = e.w.PayCheckout(e.ctx, PayCheckoutInput{PayerID: p.ID, Key: "pay2", Token: c.Token})
		wantCode(t, err, CodeCheckoutAlreadyPaid)
		mc, err := e.w.MerchantCheckout(e.ctx, m.ID, "order-1")
		if err != nil || mc.Status != CheckoutPaid || mc.Payer == "" {
			t.Fatalf("merchant view %v %+v", err, mc)
		}
		// Partial refunds up to the paid amount.
		r1, err := e.w.Refund(e.ctx, RefundInput{MerchantID: m.ID, Key: "rf1", CheckoutID: c.ID, Amount: "50", Reason: "one bag broken"})
		if err != nil || r1.AmountMinor != 50_00 {
			t.Fatalf("refund %v %+v", err, r1)
		}
		again1, err := e.w.Refund(e.ctx, RefundInput{MerchantID: m.ID, Key: "rf1", CheckoutID: c.ID, Amount: "50", Reason: "one bag broken"})
		if err != nil || again1.ID != r1.ID {
			t.Fatalf("refund replay %v", err)
		}
		_, err = e.w.Refund(e.ctx, RefundInput{MerchantID: m.ID, Key: "rf2", CheckoutID: c.ID, Amount: "200"})
		wantCode(t, err, CodeRefundExceedsPaid)
		if ae, _ := apperr.As(err); ae.Params["remaining"] != "150.00 CNY" {
			t.Fatalf("remaining %v", ae.Params)
		}
		pa, err := e.w.GetActivity(e.ctx, p.ID, act.ID)
		if err != nil || pa.Status != StatusPartiallyRefunded || pa.RefundedMinor != 50_00 || len(pa.Timeline) != 2 {
			t.Fatalf("payer's payment %v %+v", err, pa)
		}
		if _, err := e.w.Refund(e.ctx, RefundInput{MerchantID: m.ID, Key: "rf3", CheckoutID: c.ID}); err != nil {
			t.Fatal(err)
		}
		view, err := e.w.GetCheckout(e.ctx, c.Token)
		if err != nil || view.Status != CheckoutRefunded || len(view.Refunds) != 2 || view.RefundedMinor != 200_00 {
			t.Fatalf("checkout %v %+v", err, view)
		}
		_, err = e.w.Refund(e.ctx, RefundInput{MerchantID: m.ID, Key: "rf4", CheckoutID: c.ID, Amount: "1"})
		wantCode(t, err, CodeRefundExceedsPaid)
		if got := e.available(p.ID, "CNY"); got != 500_00 {
			t.Fatalf("payer %d", got)
		}
		if got := e.available(m.ID, "CNY"); got != 0 {
			t.Fatalf("merchant %d", got)
		}
		// Merchant without balance cannot refund; other merchants cannot see it.
		c2, err := e.w.CreateCheckout(e.ctx, CheckoutInput{MerchantID: m.ID, Key: "c3", Amount: "10", Asset: "CNY", OrderRef: "order-3", ReturnURL: "https://shop.example/r"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.w.PayCheckout(e.ctx, PayCheckoutInput{PayerID: p.ID, Key: "pay3", Token: c2.Token}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.w.Transfer(e.ctx, TransferInput{SenderID: m.ID, Key: e.key(), To: p.Email, Amount: "10", Asset: "CNY"}); err != nil {
			t.Fatal(err)
		}
		_, err = e.w.Refund(e.ctx, RefundInput{MerchantID: m.ID, Key: e.key(), CheckoutID: c2.ID})
		wantCode(t, err, CodeInsufficientFunds)
		m2 := e.userRole("shop2", identity.RoleMerchant)
		_, err = e.w.Refund(e.ctx, RefundInput{MerchantID: m2.ID, Key: e.key(), CheckoutID: c2.ID})
		wantCode(t, err, apperr.CodeNotFound)
		// Expired checkout.
		c3, err := e.w.CreateCheckout(e.ctx, CheckoutInput{MerchantID: m.ID, Key: "c4", Amount: "10", Asset: "CNY", OrderRef: "order-4", ReturnURL: "https://shop.example/r"})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(31 * time.Minute)
		_, err = e.w.PayCheckout(e.ctx, PayCheckoutInput{PayerID: p.ID, Key: e.key(), Token: c3.Token})
		wantCode(t, err, CodeCheckoutExpired)
		e.reconcile()
	})
}
