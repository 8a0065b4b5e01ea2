package rail

import (
	"errors"
	"net/http"

	"okpay/internal/apperr"
)

// Error codes of the rail. They are part of the API and the help center: never rename one.
const (
	// Card input (ParseCard). Each is also used as a field code inside the error.
	CodeCardNumberInvalid    = "card_number_invalid"
	CodeCardExpired          = "card_expired"
	CodeCardExpiryInvalid    = "card_expiry_invalid"
	CodeCardCVVInvalid       = "card_cvv_invalid"
	CodeCardHolderInvalid    = "card_holder_invalid"
	CodeCardBrandUnsupported = "card_brand_unsupported"

	// Answers from the card's bank.
	CodeCardDeclined             = "card_declined"
	CodeCardReportedStolen       = "card_reported_stolen"
	CodeCardInsufficientFunds    = "card_insufficient_funds"
	CodeCardOTPRequired          = "card_otp_required"
	CodeCardOTPInvalid           = "card_otp_invalid"
	CodeCardOTPAttempts          = "card_otp_attempts_exceeded"
	CodeCardOTPMalformed         = "card_otp_malformed"
	CodeCardOTPExpired           = "card_otp_expired"
	CodeCardAuthorizationExpired = "card_authorization_expired"
	CodeCardVerifyCodeInvalid    = "card_verification_code_invalid"
	CodeCardVerifyAttempts       = "card_verification_attempts_exceeded"
	CodeCardVerifyCodeMalformed  = "card_verification_code_malformed"
	CodeCardVerifyExpired        = "card_verification_expired"
	CodeCardNotFound             = "card_not_found"

	// Payouts to a card.
	CodePayoutNameMismatch = "payout_name_mismatch"
	CodePayoutRejected     = "payout_rejected"

	// Crypto deposits.
	CodeDepositAddressUnknown = "deposit_address_unknown"

	// Operations.
	CodeReferenceConflict = "rail_reference_conflict"
	CodeOperationNotFound = "rail_operation_not_found"
	CodeOperationState    = "rail_operation_state"
)

// ErrInvalidRequest marks a request the calling code should never have built (a malformed
// reference, an empty token, a limit out of range). It is a bug in the caller, not
// something a user can fix, so it has no code and renders as "internal error".
var ErrInvalidRequest = errors.New("rail: invalid request")

type txt = apperr.Text

func init() {
	apperr.Register(
		apperr.Def{Code: CodeCardNumberInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This card number is not valid.", Zh: "卡号无效。"},
			Fix:     txt{En: "Check the 12 to 19 digits on the front of your card and enter them again; spaces and dashes are fine.", Zh: "请核对卡片正面的 12 至 19 位数字后重新输入，可以包含空格或短横线。"}},
		apperr.Def{Code: CodeCardExpired, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This card has expired.", Zh: "该卡已过期。"},
			Fix:     txt{En: "Use a card with a later expiry date, or ask your bank for a replacement card.", Zh: "请使用有效期更晚的卡，或向发卡银行申请换卡。"}},
		apperr.Def{Code: CodeCardExpiryInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The expiry date is not valid.", Zh: "有效期无效。"},
			Fix: txt{En: "Enter the month (01–12) and the four-digit year printed on the card: 08/29 on the card is month 08, year 2029.",
				Zh: "请按卡面填写月份（01–12）和四位年份：卡面上的 08/29 即月份 08、年份 2029。"}},
		apperr.Def{Code: CodeCardCVVInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The security code (CVV) is not valid.", Zh: "安全码（CVV）无效。"},
			Fix:     txt{En: "Enter the 3 digits on the back of the card (4 digits on the front for American Express).", Zh: "请输入卡背面的 3 位数字（美国运通卡为卡正面的 4 位数字）。"}},
		apperr.Def{Code: CodeCardHolderInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The name on the card is not valid.", Zh: "持卡人姓名无效。"},
			Fix:     txt{En: "Enter the name exactly as printed on the card (letters only, at most 64 characters).", Zh: "请按卡面填写持卡人姓名（仅限文字，最多 64 个字符）。"}},
		apperr.Def{Code: CodeCardBrandUnsupported, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This type of card is not accepted.", Zh: "不支持该类型的卡。"},
			Fix:     txt{En: "Use a Visa, Mastercard, American Express, UnionPay, JCB or Discover card.", Zh: "请使用 Visa、万事达、美国运通、银联、JCB 或 Discover 卡。"}},

		apperr.Def{Code: CodeCardDeclined, Status: http.StatusPaymentRequired,
			Message: txt{En: "Your bank declined this card payment.", Zh: "发卡银行拒绝了此次扣款。"},
			Fix:     txt{En: "Use another card, or contact your bank to find out why and try again afterwards.", Zh: "请换一张卡，或联系发卡银行了解原因后再试。"}},
		apperr.Def{Code: CodeCardReportedStolen, Status: http.StatusPaymentRequired,
			Message: txt{En: "Your bank has blocked this card because it was reported lost or stolen.", Zh: "该卡已被挂失，发卡银行已将其冻结。"},
			Fix:     txt{En: "Do not try this card again. Contact your bank, and remove the card from OKPay; add your replacement card instead.", Zh: "请勿再次使用该卡。请联系发卡银行，并在 OKPay 中删除该卡，改为添加补发的新卡。"}},
		apperr.Def{Code: CodeCardInsufficientFunds, Status: http.StatusPaymentRequired,
			Message: txt{En: "Your bank declined the payment: not enough money on the card.", Zh: "发卡银行拒绝扣款：卡内余额不足。"},
			Fix:     txt{En: "Top up a smaller amount, add money to the card's bank account, or use another card.", Zh: "请减少充值金额、向该卡账户存入资金，或换一张卡。"}},
		apperr.Def{Code: CodeCardOTPRequired, Status: http.StatusConflict,
			Message: txt{En: "Your bank needs a one-time code to confirm this payment.", Zh: "发卡银行需要一次性验证码来确认此次付款。"},
			Fix:     txt{En: "Enter the code your bank sent to your phone.", Zh: "请输入发卡银行发送到您手机的验证码。"}},
		apperr.Def{Code: CodeCardOTPInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The one-time code from your bank is wrong.", Zh: "银行一次性验证码错误。"},
			Fix:     txt{En: "Check the newest message from your bank and enter its code (tries left: {remaining}).", Zh: "请核对银行最新发送的短信并输入其中的验证码（还可尝试 {remaining} 次）。"}},
		apperr.Def{Code: CodeCardOTPAttempts, Status: http.StatusGone,
			Message: txt{En: "The top-up was stopped: your bank's one-time code was entered wrong 3 times.", Zh: "充值已终止：银行一次性验证码输错 3 次。"},
			Fix:     txt{En: "Nothing was taken from your card. Start the top-up again and enter the code from your bank's newest message.", Zh: "您的卡未被扣款。请重新发起充值，并输入银行最新短信中的验证码。"}},
		apperr.Def{Code: CodeCardOTPMalformed, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This is not a one-time code from your bank.", Zh: "这不是银行发送的一次性验证码。"},
			Fix:     txt{En: "Enter the 6 digits from your bank's text message, for example 123456. This did not use up a try.", Zh: "请输入银行短信中的 6 位数字，例如 123456。本次输入不计入尝试次数。"}},
		apperr.Def{Code: CodeCardOTPExpired, Status: http.StatusGone,
			Message: txt{En: "The payment was not confirmed in time.", Zh: "付款未在规定时间内确认。"},
			Fix:     txt{En: "Start the top-up again and enter your bank's code within 10 minutes.", Zh: "请重新发起充值，并在 10 分钟内输入银行验证码。"}},
		apperr.Def{Code: CodeCardAuthorizationExpired, Status: http.StatusGone,
			Message: txt{En: "The card payment was not completed in time and was released by the bank.", Zh: "该笔银行卡付款未及时完成，银行已释放预授权。"},
			Fix:     txt{En: "Start the top-up again. Nothing was taken from your card.", Zh: "请重新发起充值。您的卡未被扣款。"}},
		apperr.Def{Code: CodeCardVerifyCodeInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The verification code does not match the small charge on your card.", Zh: "验证码与卡上的小额扣款不符。"},
			Fix:     txt{En: "Find the charge from OKPAY*VERIFY on your bank statement and enter the 4 digits after it (tries left: {remaining}).", Zh: "请在银行账单中找到 OKPAY*VERIFY 的扣款记录，输入其后的 4 位数字（还可尝试 {remaining} 次）。"}},
		apperr.Def{Code: CodeCardVerifyAttempts, Status: http.StatusGone,
			Message: txt{En: "The card could not be verified: the code was entered wrong 3 times.", Zh: "银行卡验证失败：验证码输错 3 次。"},
			Fix:     txt{En: "Remove this card and add it again; a new small charge with a new code will appear on your statement.", Zh: "请删除该卡后重新添加，账单中会出现一笔带新验证码的小额扣款。"}},
		apperr.Def{Code: CodeCardVerifyCodeMalformed, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This is not a card verification code.", Zh: "这不是银行卡验证码。"},
			Fix:     txt{En: "Enter the 4 digits after OKPAY*VERIFY on your bank statement, for example 1234. This did not use up a try.", Zh: "请输入银行账单中 OKPAY*VERIFY 后面的 4 位数字，例如 1234。本次输入不计入尝试次数。"}},
		apperr.Def{Code: CodeCardVerifyExpired, Status: http.StatusGone,
			Message: txt{En: "The card was not verified in time.", Zh: "银行卡未在规定时间内完成验证。"},
			Fix:     txt{En: "Remove the card and add it again; a new small charge with a new code will appear on your statement.", Zh: "请删除该卡后重新添加，账单中会出现一笔带新验证码的小额扣款。"}},
		apperr.Def{Code: CodeCardNotFound, Status: http.StatusNotFound,
			Message: txt{En: "This card is no longer on file with the bank network.", Zh: "该卡已不在银行网络的记录中。"},
			Fix:     txt{En: "Remove the card and add it again.", Zh: "请删除该卡后重新添加。"}},

		apperr.Def{Code: CodePayoutNameMismatch, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The bank returned the withdrawal: the account name does not match.", Zh: "银行退回了提现：收款账户姓名不符。"},
			Fix:     txt{En: "Withdraw to a card in your own name: the name on the card must match your verified real name. The money is back in your wallet.", Zh: "请提现到本人名下的卡：卡上的持卡人姓名必须与您实名认证的姓名一致。资金已退回您的钱包。"}},
		apperr.Def{Code: CodePayoutRejected, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The receiving bank rejected the withdrawal.", Zh: "收款银行拒绝了该笔提现。"},
			Fix:     txt{En: "The money is back in your wallet. Check with your bank that the card can receive transfers, or withdraw to another card.", Zh: "资金已退回您的钱包。请向银行确认该卡可以接收转账，或提现到其他卡。"}},

		apperr.Def{Code: CodeDepositAddressUnknown, Status: http.StatusNotFound,
			Message: txt{En: "This deposit address does not belong to OKPay.", Zh: "该充值地址不属于 OKPay。"},
			Fix:     txt{En: "Copy the deposit address again from the Deposit page for this asset.", Zh: "请在该币种的充值页面重新复制充值地址。"}},

		apperr.Def{Code: CodeReferenceConflict, Status: http.StatusConflict,
			Message: txt{En: "This reference was already used for a different payment request.", Zh: "该业务编号已用于另一笔不同的付款请求。"},
			Fix:     txt{En: "Start a new request; a reference may only be reused to retry the very same request.", Zh: "请发起新的请求；只有重试完全相同的请求时才能复用业务编号。"}},
		apperr.Def{Code: CodeOperationNotFound, Status: http.StatusNotFound,
			Message: txt{En: "No payment with this reference was sent to the bank network.", Zh: "未找到以该编号提交至银行网络的付款。"},
			Fix:     txt{En: "Check the reference number on the receipt, or contact support.", Zh: "请核对回单上的编号，或联系客服。"}},
		apperr.Def{Code: CodeOperationState, Status: http.StatusConflict,
			Message: txt{En: "This payment cannot do that now: it {status_en}.", Zh: "该笔付款{status_zh}，暂时无法执行此操作。"},
			Fix:     txt{En: "Refresh the page to see the payment's latest status.", Zh: "请刷新页面查看该笔付款的最新状态。"}},
	)
}

// statusWords says where an operation stands, as the end of "This payment …" in each
// language. Messages carry these instead of the raw Status, which is an API value and
// reads as English jargon inside a Chinese sentence.
var statusWords = map[Status]apperr.Text{
	StatusRequiresCode: {En: "is waiting for the code from your bank statement", Zh: "正在等待输入账单上的验证码"},
	StatusRequiresOTP:  {En: "is waiting for your bank's one-time code", Zh: "正在等待银行一次性验证码"},
	StatusAuthorized:   {En: "is approved by the bank and waiting to be completed", Zh: "已获银行授权，正在等待完成"},
	StatusCapturing:    {En: "is being settled by the bank", Zh: "正在由银行结算"},
	StatusPending:      {En: "has been sent to the bank", Zh: "已提交至银行"},
	StatusProcessing:   {En: "is being processed by the bank", Zh: "正在由银行处理"},
	StatusConfirming:   {En: "is waiting for blockchain confirmations", Zh: "正在等待区块确认"},
	StatusSucceeded:    {En: "has already gone through", Zh: "已完成"},
	StatusFailed:       {En: "has failed", Zh: "已失败"},
	StatusCanceled:     {En: "was canceled", Zh: "已取消"},
}

// StateError is CodeOperationState for an operation in status st. Params: status (the
// raw Status, for programs) and status_en / status_zh (the words the message shows).
func StateError(st Status) *apperr.Error {
	w, ok := statusWords[st]
	if !ok {
		// A provider's status this package does not know: say so without naming it.
		w = apperr.Text{En: "has changed state", Zh: "状态已变化"}
	}
	return apperr.New(CodeOperationState).With("status", string(st)).With("status_en", w.En).With("status_zh", w.Zh)
}

// failureError is the user-facing error for an operation that failed with code.
// Operations that failed on their last wrong code before the attempts codes existed
// carry the per-try code, whose fix counts tries left; they are reported as what they
// are, attempts used up.
func failureError(code string) *apperr.Error {
	switch code {
	case CodeCardVerifyCodeInvalid:
		code = CodeCardVerifyAttempts
	case CodeCardOTPInvalid:
		code = CodeCardOTPAttempts
	}
	return apperr.New(code)
}
