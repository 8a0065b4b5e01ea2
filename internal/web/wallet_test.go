package web

import (
	"strings"
	"testing"

	"okpay/internal/wallet"
)

// The keys the wallet pages choose in Go exist in every language.
func TestWalletKeys(t *testing.T) {
	text, err := loadLocales(embedded)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, ty := range wallet.Types {
		keys = append(keys, "w.type."+ty)
	}
	for _, s := range wallet.Statuses {
		keys = append(keys, "w.status."+s)
	}
	for _, c := range []string{wallet.CatTransfers, wallet.CatTopUps, wallet.CatWithdrawals, wallet.CatRefunds, wallet.CatFees, wallet.CatDeposits, wallet.CatRequests, wallet.CatShopping} {
		keys = append(keys, "w.cat."+c)
	}
	for _, s := range []string{wallet.RequestOpen, wallet.RequestPaid, wallet.RequestExpired, wallet.RequestCancelled} {
		keys = append(keys, "w.req."+s)
	}
	for _, s := range []string{"pending", "requires_otp", "processing", "confirming", "completed", "failed"} {
		keys = append(keys, "w.op."+s)
	}
	for _, s := range []string{wallet.CardVerifying, wallet.CardVerified, wallet.CardFailed} {
		keys = append(keys, "w.card.status."+s)
	}
	for _, k := range wdoneKeys {
		keys = append(keys, k)
	}
	for _, code := range []string{wallet.CodeInsufficientFunds, wallet.CodeLimitExceeded, "card_expired", "sending_restricted", "maintenance", wallet.CodeRequestAlreadyPaid} {
		acts := walletActions(code)
		if len(acts) == 0 {
			t.Errorf("%s has no next step", code)
		}
		for _, a := range acts {
			keys = append(keys, a.Key)
		}
	}
	for _, k := range keys {
		for _, lang := range Langs {
			if _, ok := text[lang][k]; !ok {
				t.Errorf("%s: missing %q", lang, k)
			}
		}
	}
}

// Chart labels are people's words (memos, names): they are escaped inside the SVG.
func TestChartsEscape(t *testing.T) {
	svg := string(hbars([]hbar{{label: `<script>alert(1)</script>`, v: 5, shown: "5.00 CNY"}, {label: "房租", v: 3, shown: "3.00 CNY"}}, "x"))
	if strings.Contains(svg, "<script>") || !strings.Contains(svg, "&lt;script&gt;") || !strings.Contains(svg, "房租") {
		t.Fatalf("svg: %s", svg)
	}
	m := string(monthBars(&wallet.Analysis{Months: []wallet.MonthSummary{{Month: "2026-10", IncomeMinor: 100, SpendingMinor: 50}}}, "In", "Out"))
	if !strings.Contains(m, `class="bar-in"`) || !strings.Contains(m, `class="bar-out"`) {
		t.Fatalf("month bars: %s", m)
	}
}
