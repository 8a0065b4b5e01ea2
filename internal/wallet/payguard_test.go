package wallet

import (
	"errors"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/identity"
)

// Paying a request or a checkout keeps the caller's Idempotency-Key record in the
// payment's transaction, as a transfer does: a replay by the guard moves nothing and
// answers nothing, a refusal by Begin or Finish moves nothing, and Finish gets the
// payer's record in the transaction that moves the money.
func TestPayGuard(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a, payer := e.user("alice"), e.user("payer")
		m := e.userRole("shop", identity.RoleMerchant)
		e.fund(payer.ID, "CNY", 100_00)
		req, err := e.w.CreateRequest(e.ctx, RequestInput{UserID: a.ID, Key: e.key(), Amount: "2.00", Asset: "CNY", ExpiresIn: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		co, err := e.w.CreateCheckout(e.ctx, CheckoutInput{MerchantID: m.ID, Key: e.key(), Amount: "3.00", Asset: "CNY", OrderRef: "o-guard",
			ReturnURL: "https://shop.example/return", MerchantName: "Shop"})
		if err != nil {
			t.Fatal(err)
		}
		pays := []struct {
			name string
			pay  func(key string, g Guard) (*Activity, error)
			cost int64
		}{
			{"request", func(key string, g Guard) (*Activity, error) {
				return e.w.PayRequest(e.ctx, PayRequestInput{PayerID: payer.ID, Key: key, Token: req.Token, Guard: g})
			}, 2_00},
			{"checkout", func(key string, g Guard) (*Activity, error) {
				return e.w.PayCheckout(e.ctx, PayCheckoutInput{PayerID: payer.ID, Key: key, Token: co.Token, Guard: g})
			}, 3_00},
		}
		want := int64(100_00)
		for _, p := range pays {
			g := &fakeGuard{replay: true}
			if out, err := p.pay(p.name+"-1", g); err != nil || out != nil || g.begun != 1 || len(g.finished) != 0 {
				t.Fatalf("%s replay: %v %+v %+v", p.name, err, out, g)
			}
			g = &fakeGuard{failBegin: apperr.New(apperr.CodeIdempotencyConflict)}
			_, err := p.pay(p.name+"-2", g)
			wantCode(t, err, apperr.CodeIdempotencyConflict)
			g = &fakeGuard{failEnd: errors.New("cannot store")}
			if _, err := p.pay(p.name+"-3", g); err == nil || len(g.finished) == 0 {
				t.Fatalf("%s finish failure: %v %+v", p.name, err, g)
			}
			if got := e.available(payer.ID, "CNY"); got != want {
				t.Fatalf("%s: guarded failures moved money: %d", p.name, got)
			}
			g = &fakeGuard{}
			out, err := p.pay(p.name+"-4", g)
			if err != nil || len(g.finished) == 0 || g.finished[len(g.finished)-1].(*Activity).ID != out.ID {
				t.Fatalf("%s success: %v %+v", p.name, err, g)
			}
			want -= p.cost
			// The wallet's own key record still answers a retry without the guard.
			if again, err := p.pay(p.name+"-4", nil); err != nil || again.ID != out.ID {
				t.Fatalf("%s wallet replay: %v %+v", p.name, err, again)
			}
			if got := e.available(payer.ID, "CNY"); got != want {
				t.Fatalf("%s: available %d, want %d", p.name, got, want)
			}
		}
		e.reconcile()
	})
}
