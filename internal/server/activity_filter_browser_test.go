package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"okpay/internal/browsertest"
	"okpay/internal/identity"
)

// The activity filter's Apply button looks and sizes like the site's other primary buttons
// (brand colour, at least 44 px to tap) instead of the browser's bare default, in a real
// browser with the real style sheets.
func TestBrowserActivityFilterApplyIsStyled(t *testing.T) {
	relaxed(t)
	app := start(t, sqliteConfig(t))
	if _, err := app.Identity.CreateUser(context.Background(), identity.CreateUserInput{Email: "fay@example.com", Password: walletPW,
		Lang: identity.LangZh, Role: identity.RoleCustomer, Verified: true}); err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, app.URL())
	b.Go("/signin")
	b.Fill("#email", "fay@example.com")
	b.Fill("#password", walletPW)
	b.Click(`form[action="/signin"] button[type="submit"]`)
	for deadline := time.Now().Add(b.Step); strings.Contains(b.Location(), "/signin"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still on the sign-in page: %s", b.Text("main"))
		}
	}
	b.Go("/activity")
	b.Click("details.w-filter summary")
	b.Wait("#filter-submit")
	// A probe with the site's primary button classes, in the same form, is what the button
	// should look like.
	got := b.Eval(`(() => {
		const btn = document.querySelector('#filter-submit');
		const probe = document.createElement('button');
		probe.className = 'button primary';
		btn.parentElement.append(probe);
		const s = getComputedStyle(btn), p = getComputedStyle(probe);
		const out = [s.backgroundColor === p.backgroundColor, s.color === p.color, s.borderTopColor === p.borderTopColor,
			s.borderRadius === p.borderRadius, btn.getBoundingClientRect().height >= 44].join(',');
		probe.remove();
		return out;
	})()`)
	b.Screenshot("activity-filter")
	if got != "true,true,true,true,true" {
		t.Fatalf("the Apply button is not styled like a primary button (background, colour, border, radius, ≥44px): %s", got)
	}
}
