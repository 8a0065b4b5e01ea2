package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"okpay/internal/identity"
	"okpay/internal/server"
	"okpay/internal/wallet"
)

// Transfers sent at once through the real API share batches (wallet/batch.go), and the
// Idempotency-Key keeps its promises there: every copy of a request sent three times at
// once gets the first answer and moves money once, a refusal is the key's answer for
// every copy and later, a different body under a used key is a conflict, and the money
// adds up.
func TestTransfersAtOnce(t *testing.T) {
	walletEngines(t, func(t *testing.T, app *server.App, _ *syncBuffer) {
		ctx := context.Background()
		const n = 4
		ids, cookies := make([]string, n), make([]string, n)
		for i := range ids {
			email := fmt.Sprintf("once%d@example.com", i)
			u, err := app.Identity.CreateUser(ctx, identity.CreateUserInput{Email: email, Password: walletPW, Lang: "en", Role: identity.RoleCustomer, Verified: true})
			if err != nil {
				t.Fatal(err)
			}
			si, err := app.Identity.SignIn(ctx, identity.SignInInput{Email: email, Password: walletPW}, identity.Client{IP: "127.0.0.9", UserAgent: "test"})
			if err != nil || si.Session == nil {
				t.Fatalf("sign in: %v", err)
			}
			if err := app.FundWithCard(ctx, u.ID, si.Session.ID, "Once Tester", "100.00"); err != nil {
				t.Fatal(err)
			}
			ids[i], cookies[i] = u.ID, "okpay_session="+si.Token
		}
		type answer struct {
			status int
			body   string
		}
		post := func(from int, key string, body map[string]string) answer {
			b, _ := json.Marshal(body)
			req, _ := http.NewRequest("POST", app.URL()+"/api/v1/transfers", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Cookie", cookies[from])
			req.Header.Set("Idempotency-Key", key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return answer{}
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			return answer{resp.StatusCode, string(raw)}
		}
		body := func(to int, amount string) map[string]string {
			return map[string]string{"to": ids[to], "amount": amount, "asset": "CNY"}
		}
		var mu sync.Mutex
		got := map[string][]answer{}
		var wg sync.WaitGroup
		for k := 0; k < 40; k++ {
			for copy := 0; copy < 3; copy++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					from := k % n
					a := post(from, fmt.Sprint("once-", k), body((from+1)%n, "1.00"))
					mu.Lock()
					got[fmt.Sprint(k)] = append(got[fmt.Sprint(k)], a)
					mu.Unlock()
				}()
			}
		}
		for copy := 0; copy < 3; copy++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := post(0, "once-big", body(1, "500.00"))
				mu.Lock()
				got["big"] = append(got["big"], a)
				mu.Unlock()
			}()
		}
		wg.Wait()
		seen := map[string]bool{}
		for k, as := range got {
			if len(as) != 3 {
				t.Fatalf("key %s: %d answers", k, len(as))
			}
			for _, a := range as[1:] {
				if a != as[0] {
					t.Fatalf("key %s: copies answered differently:\n%d %s\n%d %s", k, as[0].status, as[0].body, a.status, a.body)
				}
			}
			if k == "big" {
				var e apiError
				if json.Unmarshal([]byte(as[0].body), &e); e.Error.Code != wallet.CodeInsufficientFunds {
					t.Fatalf("big: %d %s", as[0].status, as[0].body)
				}
				continue
			}
			var act wallet.Activity
			if as[0].status != 201 || json.Unmarshal([]byte(as[0].body), &act) != nil || seen[act.ID] {
				t.Fatalf("key %s: %d %s", k, as[0].status, as[0].body)
			}
			seen[act.ID] = true
		}
		// Later: the refusal is still the key's answer, a different body a conflict.
		if a := post(0, "once-big", body(1, "500.00")); a.body != got["big"][0].body {
			t.Fatalf("refusal replay: %d %s", a.status, a.body)
		}
		if a := post(0, "once-0", body(1, "2.00")); a.status != http.StatusConflict {
			t.Fatalf("conflict: %d %s", a.status, a.body)
		}
		for i := range ids {
			b, err := app.Wallet.BalanceOf(ctx, ids[i], "CNY")
			if err != nil || b.Available != "100.00" {
				t.Fatalf("user %d: %+v %v", i, b, err)
			}
		}
		reconcile(t, app)
	})
}
