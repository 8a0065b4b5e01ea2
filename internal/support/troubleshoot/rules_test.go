package troubleshoot

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"okpay/internal/identity"
)

var (
	testLoc = time.FixedZone("CST", 8*3600)
	testNow = time.Date(2026, 11, 21, 14, 0, 0, 0, testLoc)
)

// base is a healthy account: verified, nothing restricted, history readable.
func base() *Snapshot {
	return &Snapshot{Now: testNow, Loc: testLoc, UserID: "u1", Email: "ann@example.com", EmailVerified: true, Level: 1,
		Known:    Known{Activity: true, Balances: true, Limits: true, Cards: true},
		Balances: []Balance{{Asset: "CNY", AvailableMinor: 10000, Available: "100.00"}}}
}

func with(f func(*Snapshot)) *Snapshot {
	s := base()
	f(s)
	return s
}

func act(typ, status, code string, ago time.Duration) Activity {
	dir := -1
	if typ == "deposit" || typ == "transfer_in" {
		dir = 1
	}
	return Activity{Ref: "261121" + strings.ToUpper(typ[:3]) + status[:2], Type: typ, Status: status, FailureCode: code, Direction: dir,
		Asset: "CNY", AmountMinor: 10014, Amount: "100.14", Counterparty: "card ****4242",
		CreatedAt: testNow.Add(-ago), UpdatedAt: testNow.Add(-ago).Add(30 * time.Second)}
}

func TestRules(t *testing.T) {
	lockedItem := identity.StatusItem{Kind: identity.StatusLocked, Code: identity.CodeAccountLocked, Scopes: []identity.Scope{identity.ScopeSignIn},
		Since: testNow.Add(-5 * time.Minute), Until: testNow.Add(10 * time.Minute)}
	staffFreeze := identity.StatusItem{Kind: identity.StatusFrozen, Code: identity.CodeAccountFrozen, RestrictionID: "r1", By: "agent",
		Reason: "card fraud report", Scopes: []identity.Scope{identity.ScopeSend, identity.ScopeWithdraw}, Since: testNow.Add(-time.Hour)}
	ownerFreeze := identity.StatusItem{Kind: identity.StatusFrozenByOwner, Code: identity.CodeAccountFrozen, RestrictionID: "r2", By: "user",
		Scopes: []identity.Scope{identity.ScopeSend, identity.ScopeWithdraw}, Since: testNow.Add(-time.Hour)}
	timedRestriction := identity.StatusItem{Kind: identity.StatusRestricted, Code: identity.CodeWithdrawRestricted, RestrictionID: "r3", By: "agent",
		Reason: "new device", Scopes: []identity.Scope{identity.ScopeWithdraw}, Since: testNow.Add(-time.Hour), Until: testNow.Add(2 * time.Hour)}
	receiveOnly := identity.StatusItem{Kind: identity.StatusRestricted, Code: identity.CodeReceivingRestricted, RestrictionID: "r4", By: "agent",
		Reason: "x", Scopes: []identity.Scope{identity.ScopeReceive}, Since: testNow.Add(-time.Hour)}

	cases := []struct {
		name, problem string
		snap          *Snapshot
		rule, action  string
		person, offer bool
		causeHas      string
	}{
		{"locked", ProblemSignIn, with(func(s *Snapshot) { s.Items = []identity.StatusItem{lockedItem} }), "account.locked", ActionResetPassword, false, false, "14:10 today"},
		{"signin restricted", ProblemSignIn, with(func(s *Snapshot) {
			s.Items = []identity.StatusItem{{Kind: identity.StatusRestricted, Scopes: []identity.Scope{identity.ScopeSignIn}, Reason: "KYC"}}
		}), "account.signin_restricted", ActionOpenTicket, true, true, "KYC"},
		{"two-step help", ProblemSignIn, with(func(s *Snapshot) { s.TwoStep = true }), "signin.two_step", ActionOpenArticle, false, true, "recovery"},
		{"sign-in fine", ProblemSignIn, base(), "signin.ok", ActionResetPassword, false, false, "not locked"},
		{"staff freeze beats owner freeze", ProblemRestricted, with(func(s *Snapshot) { s.Items = []identity.StatusItem{ownerFreeze, staffFreeze} }),
			"account.frozen_by_staff", ActionOpenTicket, true, true, "card fraud report"},
		{"owner freeze", ProblemRestricted, with(func(s *Snapshot) { s.Items = []identity.StatusItem{ownerFreeze} }), "account.frozen_by_owner", ActionUnfreeze, false, false, "You froze"},
		{"timed restriction waits", ProblemRestricted, with(func(s *Snapshot) { s.Items = []identity.StatusItem{timedRestriction} }),
			"account.restricted", ActionWaitUntil, false, true, "16:00 today"},
		{"nothing restricted", ProblemRestricted, base(), "account.unrestricted", ActionRetry, false, false, "Nothing limits"},
		{"email verified", ProblemNoEmail, base(), "email.verified", ActionNone, false, false, "already verified"},
		{"email resend", ProblemNoEmail, with(func(s *Snapshot) { s.EmailVerified = false }), "email.resend", ActionResendEmail, false, false, "spam"},
		{"maintenance first", ProblemPayment, with(func(s *Snapshot) {
			s.MaintenanceUntil = testNow.Add(30 * time.Minute)
			s.Activity = []Activity{act("payment", "failed", "insufficient_funds", time.Hour)}
		}), "maintenance", ActionWaitUntil, false, false, "14:30 today"},
		{"insufficient funds", ProblemPayment, with(func(s *Snapshot) { s.Activity = []Activity{act("payment", "failed", "insufficient_funds", time.Hour)} }),
			"payment.failed_activity", ActionTopUp, false, false, "Top up"},
		{"expired card top-up", ProblemPayment, with(func(s *Snapshot) { s.Activity = []Activity{act("top_up", "failed", "card_expired", time.Hour)} }),
			"payment.failed_activity", ActionChangeCard, false, false, "expired"},
		// Three wrong one-time codes end the top-up; nothing was taken, so the next step is
		// to start again, not to wait for a person.
		{"one-time code tries used up", ProblemPayment, with(func(s *Snapshot) {
			s.Activity = []Activity{act("top_up", "failed", "card_otp_attempts_exceeded", time.Hour)}
		}), "payment.failed_activity", ActionRetry, false, false, "start again"},
		{"limit at max level waits", ProblemPayment, with(func(s *Snapshot) {
			s.Level = identity.MaxLevel
			s.Activity = []Activity{act("transfer_out", "failed", "limit_exceeded", time.Hour)}
		}), "payment.failed_activity", ActionWaitUntil, false, false, "midnight"},
		{"receive-only restriction does not explain a payment", ProblemPayment, with(func(s *Snapshot) {
			s.Items = []identity.StatusItem{receiveOnly}
			s.Limits = []Limit{{Flow: "send", Asset: "CNY", DailyLimit: 100, DailyUsed: 100, MonthlyLimit: 1000, MonthlyUsed: 100}}
		}), "payment.limit_reached", ActionWaitUntil, false, false, "today"},
		{"empty wallet", ProblemPayment, with(func(s *Snapshot) { s.Balances[0].AvailableMinor, s.Balances[0].Available = 0, "0.00" }),
			"payment.no_balance", ActionTopUp, false, false, "0.00"},
		{"history unreadable is honest", ProblemPayment, with(func(s *Snapshot) { s.Known = Known{} }), "payment.history_unknown", ActionOpenTicket, true, true, "could not read"},
		{"nothing explains a payment", ProblemPayment, base(), "unknown", ActionOpenTicket, true, true, "rather say so"},
		{"name mismatch", ProblemWithdrawal, with(func(s *Snapshot) {
			s.Activity = []Activity{act("withdrawal", "failed", "payout_name_mismatch", time.Hour)}
		}),
			"withdrawal.latest", ActionChangeCard, false, true, "name"},
		{"withdrawal in flight", ProblemWithdrawal, with(func(s *Snapshot) {
			a := act("withdrawal", "processing", "", 20*time.Second)
			a.RailStatus, a.ExpectedBy = "processing", testNow.Add(40*time.Second)
			s.Activity = []Activity{a}
		}), "withdrawal.latest", ActionWaitUntil, false, false, "processing"},
		{"withdrawal late", ProblemWithdrawal, with(func(s *Snapshot) {
			a := act("withdrawal", "processing", "", 3*time.Hour)
			a.ExpectedBy = testNow.Add(-2 * time.Hour)
			s.Activity = []Activity{a}
		}), "withdrawal.latest", ActionOpenTicket, true, true, "longer than it should"},
		{"withdrawal completed long ago", ProblemWithdrawal, with(func(s *Snapshot) { s.Activity = []Activity{act("withdrawal", "completed", "", 3*24*time.Hour)} }),
			"withdrawal.latest", ActionOpenTicket, true, true, "trace"},
		{"withdrawal restricted until", ProblemWithdrawal, with(func(s *Snapshot) { s.Items = []identity.StatusItem{timedRestriction} }),
			"account.restricted", ActionWaitUntil, false, true, "withdrawals"},
		{"unauthorized: freeze first", ProblemUnauthorized, with(func(s *Snapshot) {
			s.Activity = []Activity{act("transfer_out", "completed", "", time.Hour), act("payment", "failed", "x", 2*time.Hour)}
		}), "unauthorized.freeze_first", ActionFreeze, true, true, "freeze"},
		{"unauthorized: already frozen", ProblemUnauthorized, with(func(s *Snapshot) { s.Items = []identity.StatusItem{ownerFreeze} }),
			"unauthorized.frozen", ActionOpenTicket, true, true, "frozen"},
		{"deposit confirming", ProblemCoins, with(func(s *Snapshot) {
			a := act("deposit", "confirming", "", time.Minute)
			a.Asset, a.Confirmations, a.ConfirmationsRequired, a.ExpectedBy = "USDT", 1, 3, testNow.Add(time.Minute)
			s.Activity = []Activity{a}
		}), "coins.deposit_confirming", ActionWaitUntil, false, false, "1 of 3"},
		{"held until", ProblemCoins, with(func(s *Snapshot) {
			a := act("transfer_in", "on_hold", "", time.Minute)
			a.HoldUntil = testNow.Add(48 * time.Hour)
			s.Activity = []Activity{a}
		}), "coins.on_hold", ActionWaitUntil, false, false, "on hold"},
		{"escrow is not built", ProblemCoins, base(), "coins.escrow", ActionOpenTicket, true, true, "escrow"},
		{"expired card", ProblemCard, with(func(s *Snapshot) { s.Cards = []Card{{Brand: "visa", Last4: "0069", ExpMonth: 10, ExpYear: 2026}} }),
			"card.expired", ActionChangeCard, false, false, "0069"},
		{"card expiring", ProblemCard, with(func(s *Snapshot) { s.Cards = []Card{{Brand: "visa", Last4: "4242", ExpMonth: 11, ExpYear: 2026}} }),
			"card.expiring", ActionChangeCard, false, false, "expires"},
		{"card refused at verification", ProblemCard, with(func(s *Snapshot) {
			s.Cards = []Card{{Brand: "visa", Last4: "9979", ExpMonth: 12, ExpYear: 2030, FailureCode: "card_reported_stolen"}}
		}), "card.verification_failed", ActionChangeCard, false, false, "could not be verified"},
		{"change card", ProblemCard, with(func(s *Snapshot) { s.Known.Cards = false }), "card.change", ActionChangeCard, false, false, "yourself"},
		{"no automatic payments", ProblemAutoPay, base(), "autopay.none", ActionOpenArticle, false, true, "not take automatic"},
		{"repeated charges", ProblemAutoPay, with(func(s *Snapshot) {
			a, b := act("payment", "completed", "", 24*time.Hour), act("payment", "completed", "", 48*time.Hour)
			a.Counterparty, b.Counterparty, b.Ref = "Gym Co", "Gym Co", "other"
			s.Activity = []Activity{a, b}
		}), "autopay.repeated_charges", ActionOpenArticle, false, true, "2 payments to Gym Co"},
		{"something else", ProblemOther, base(), "other.person", ActionOpenTicket, true, true, "own words"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Diagnose(c.snap, c.problem)
			if d.Rule != c.rule || d.Step.Action != c.action || d.NeedsPerson != c.person || d.OfferTicket != c.offer {
				t.Fatalf("got rule=%s action=%s person=%v offer=%v; want %s %s %v %v\ncause: %s", d.Rule, d.Step.Action, d.NeedsPerson,
					d.OfferTicket, c.rule, c.action, c.person, c.offer, d.Cause.En)
			}
			if !strings.Contains(d.Cause.En, c.causeHas) {
				t.Errorf("cause %q lacks %q", d.Cause.En, c.causeHas)
			}
			if d.Cause.Zh == "" || strings.Contains(d.Cause.En+d.Cause.Zh, "{") {
				t.Errorf("cause not filled in both languages: %+v", d.Cause)
			}
			if d.Step.Action == ActionWaitUntil && d.Step.Until.IsZero() {
				t.Errorf("wait without an end")
			}
			if d.Problem != c.problem || d.ComputedAt != testNow {
				t.Errorf("problem/time not set: %+v", d)
			}
			var back map[string]any
			if err := json.Unmarshal(d.JSON(), &back); err != nil || back["rule"] != c.rule {
				t.Errorf("diagnosis JSON: %v %v", err, back)
			}
		})
	}
}

func TestEveryProblemHasRules(t *testing.T) {
	for _, p := range Problems() {
		if len(rules[p.ID]) == 0 {
			t.Errorf("problem %s has no rules", p.ID)
		}
		if p.Title.En == "" || p.Title.Zh == "" || p.Category == "" {
			t.Errorf("problem %s incomplete", p.ID)
		}
	}
	if d := Diagnose(base(), "nope"); d.Rule != "unknown" || !d.NeedsPerson {
		t.Errorf("unknown problem: %+v", d)
	}
}

func TestRelatedRecords(t *testing.T) {
	s := with(func(s *Snapshot) {
		for i := range 15 {
			a := act("payment", "completed", "", time.Duration(i+1)*time.Hour)
			a.Ref = "R" + twoDigits(i)
			s.Activity = append(s.Activity, a)
		}
	})
	d := Diagnose(s, ProblemUnauthorized)
	if len(d.Related) != 10 || d.Related[0] != "R00" {
		t.Fatalf("related = %v", d.Related)
	}
}

func TestSuggest(t *testing.T) {
	s := with(func(s *Snapshot) {
		s.EmailVerified = false
		s.Items = []identity.StatusItem{{Kind: identity.StatusLocked, Until: testNow.Add(time.Minute)}}
		s.Activity = []Activity{act("withdrawal", "failed", "payout_rejected", time.Hour), act("payment", "failed", "insufficient_funds", 2*time.Hour)}
	})
	got := Suggest(s)
	if len(got) != maxSuggestions || got[0].Problem != ProblemSignIn || got[1].Problem != ProblemNoEmail || got[2].Problem != ProblemWithdrawal {
		t.Fatalf("suggestions = %+v", got)
	}
	if got := Suggest(base()); len(got) != 0 {
		t.Fatalf("healthy account got suggestions %+v", got)
	}
	old := with(func(s *Snapshot) {
		s.Activity = []Activity{act("payment", "failed", "insufficient_funds", 8*24*time.Hour)}
	})
	if got := Suggest(old); len(got) != 0 {
		t.Fatalf("old failure suggested: %+v", got)
	}
}

func TestWhen(t *testing.T) {
	s := base()
	if got := when(s, testNow.Add(time.Hour)); got.En != "15:00 today (UTC+8)" || got.Zh != "今天 15:00（UTC+8）" {
		t.Errorf("today = %+v", got)
	}
	if got := when(s, testNow.Add(24*time.Hour)); got.En != "14:00 on 2026-11-22 (UTC+8)" || got.Zh != "2026-11-22 14:00（UTC+8）" {
		t.Errorf("tomorrow = %+v", got)
	}
	s.Loc = time.UTC
	if got := when(s, testNow); got.En != "06:00 today (UTC)" {
		t.Errorf("utc = %+v", got)
	}
}
