package rail

import (
	"okpay/internal/apperr"
	"okpay/internal/money"
)

// behaviour is what the sandbox bank does with a card, chosen by its number when it is
// tokenised and stored with the card (the number itself is not).
type behaviour string

const (
	behaveSuccess        behaviour = "success"
	behaveDeclined       behaviour = "declined"        // verification and charges declined
	behaveDeclinedCharge behaviour = "declined_charge" // verifies, then charges declined
	behaveExpired        behaviour = "expired"         // the bank says expired
	behaveStolen         behaviour = "stolen"          // reported lost or stolen
	behaveInsufficient   behaviour = "insufficient"    // verifies; charges lack funds
	behaveOTP            behaviour = "otp"             // charges need the bank's one-time code
	behaveSlow           behaviour = "slow"            // captures settle after SettleDelay
	behavePayoutRejected behaviour = "payout_rejected" // charges work; payouts rejected
)

// SandboxOTP is the one-time code the sandbox "bank" always sends.
const SandboxOTP = "123456"

// Payout amounts whose last two digits in minor units (the cents: 100.13 CNY) force an
// outcome, so a bank-side failure can be shown even when the wallet's own checks pass.
const (
	PayoutRejectCents       = 13
	PayoutNameMismatchCents = 14
)

// TestCard documents one sandbox test card, for docs/SANDBOX.md, the help center and the
// dev page. Any other valid card number behaves like 4242 4242 4242 4242.
type TestCard struct {
	Number  string // grouped as printed
	Brand   Brand
	Outcome apperr.Text
	// Code is the failure code the card produces, "" for success.
	Code      string
	behaviour behaviour
}

var testCards = []TestCard{
	{"4242 4242 4242 4242", Visa, txt{En: "Success: verifies, tops up, receives payouts.", Zh: "成功：可验证、充值、接收提现。"}, "", behaveSuccess},
	{"5555 5555 5555 4444", Mastercard, txt{En: "Success.", Zh: "成功。"}, "", behaveSuccess},
	{"2223 0031 2200 3222", Mastercard, txt{En: "Success (2-series Mastercard).", Zh: "成功（2 开头的万事达卡）。"}, "", behaveSuccess},
	{"3782 822463 10005", Amex, txt{En: "Success (4-digit CVV).", Zh: "成功（4 位安全码）。"}, "", behaveSuccess},
	{"6200 0000 0000 0005", UnionPay, txt{En: "Success.", Zh: "成功。"}, "", behaveSuccess},
	{"3566 0020 2036 0505", JCB, txt{En: "Success.", Zh: "成功。"}, "", behaveSuccess},
	{"6011 1111 1111 1117", Discover, txt{En: "Success.", Zh: "成功。"}, "", behaveSuccess},
	{"4000 0000 0000 0002", Visa, txt{En: "Declined by the bank, at verification and top-up.", Zh: "银行拒绝：验证和充值均失败。"}, CodeCardDeclined, behaveDeclined},
	{"6200 0000 0000 0047", UnionPay, txt{En: "Declined by the bank, at verification and top-up.", Zh: "银行拒绝：验证和充值均失败。"}, CodeCardDeclined, behaveDeclined},
	{"4000 0000 0000 0341", Visa, txt{En: "Verifies, then every top-up is declined.", Zh: "可通过验证，但每次充值都被拒绝。"}, CodeCardDeclined, behaveDeclinedCharge},
	{"4000 0000 0000 0069", Visa, txt{En: "Expired at the bank (the date typed is accepted).", Zh: "银行记录已过期（输入的有效期可通过校验）。"}, CodeCardExpired, behaveExpired},
	{"4000 0000 0000 9979", Visa, txt{En: "Reported stolen: refused everywhere; never retry.", Zh: "已挂失：所有操作均被拒绝，请勿重试。"}, CodeCardReportedStolen, behaveStolen},
	{"4000 0000 0000 9995", Visa, txt{En: "Verifies; top-ups fail for insufficient funds.", Zh: "可通过验证；充值因余额不足失败。"}, CodeCardInsufficientFunds, behaveInsufficient},
	{"4000 0027 6000 3184", Visa, txt{En: "Top-ups need the bank's one-time code 123456 (wrong code: card_otp_invalid).", Zh: "充值需要银行一次性验证码 123456（输错：card_otp_invalid）。"}, CodeCardOTPRequired, behaveOTP},
	{"6200 0000 0000 0062", UnionPay, txt{En: "Top-ups need the bank's one-time code 123456.", Zh: "充值需要银行一次性验证码 123456。"}, CodeCardOTPRequired, behaveOTP},
	{"4000 0000 0000 1257", Visa, txt{En: "Slow: a top-up settles 2 minutes after capture.", Zh: "慢速：充值在扣款后 2 分钟到账。"}, "", behaveSlow},
	{"4000 0000 0000 0119", Visa, txt{En: "Top-ups work; payouts to it are rejected by the bank.", Zh: "可正常充值；向该卡提现会被银行拒绝。"}, CodePayoutRejected, behavePayoutRejected},
}

var behaviourByNumber = func() map[string]behaviour {
	m := make(map[string]behaviour, len(testCards))
	for _, c := range testCards {
		m[digitsOnly(c.Number)] = c.behaviour
	}
	return m
}()

// TestCards returns the sandbox's documented test cards. The slice is the caller's.
func TestCards() []TestCard { return append([]TestCard(nil), testCards...) }

func behaviourOf(pan string) behaviour {
	if b, ok := behaviourByNumber[pan]; ok {
		return b
	}
	return behaveSuccess
}

func digitsOnly(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

// payoutTrigger returns the failure an amount forces, or "".
func payoutTrigger(amount money.Amount) string {
	switch amount % 100 {
	case PayoutRejectCents:
		return CodePayoutRejected
	case PayoutNameMismatchCents:
		return CodePayoutNameMismatch
	}
	return ""
}
