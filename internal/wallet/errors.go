package wallet

import (
	"net/http"

	"okpay/internal/apperr"
)

// Error codes of the wallet. They are part of the API and the help center: never rename
// one. Codes owned by other packages are reused, not registered again:
//   - apperr: amount_invalid, currency_not_supported, idempotency_conflict, maintenance,
//     not_found, forbidden, validation_failed;
//   - identity: email_not_verified, account_frozen, sending_restricted,
//     receiving_restricted, withdrawal_restricted, step_up_required;
//   - rail: card_expired, card_declined, card_reported_stolen, card_otp_required, …
const (
	CodeInsufficientFunds      = "insufficient_funds"
	CodeLimitExceeded          = "limit_exceeded"
	CodeRecipientNotFound      = "recipient_not_found"
	CodeRecipientCannotReceive = "recipient_cannot_receive"
	CodeCannotPaySelf          = "cannot_pay_self"
	CodeRequestExpired         = "request_expired"
	CodeRequestAlreadyPaid     = "request_already_paid"
	CodeRequestCancelled       = "request_cancelled"
	CodeCheckoutExpired        = "checkout_expired"
	CodeCheckoutAlreadyPaid    = "checkout_already_paid"
	CodeCheckoutNotPaid        = "checkout_not_paid"
	CodeRefundExceedsPaid      = "refund_exceeds_paid"
	CodeMerchantOnly           = "merchant_only"
	CodeOrderRefTaken          = "order_reference_taken"
	CodeCurrencyMismatch       = "currency_mismatch"
	CodeWithdrawalTooSmall     = "withdrawal_below_minimum"
	CodeWithdrawalTooLarge     = "withdrawal_above_maximum"
	CodeCardNotVerified        = "card_not_verified"
	CodeCardUnknown            = "card_unknown"
	CodeCardLimit              = "card_limit_reached"
	CodeCardNameMismatch       = "card_name_mismatch"
	CodeRealNameRequired       = "real_name_required"
	CodeTopUpState             = "top_up_state"
	CodeCryptoOnly             = "crypto_asset_required"
	CodeCursorInvalid          = "cursor_invalid"

	// Field codes inside validation_failed.
	FieldRecipientInvalid = "recipient_invalid"
	FieldMemoTooLong      = "memo_too_long"
	FieldKeyInvalid       = "idempotency_key_format" // not "idempotency_key_invalid": the API registers that code for its header check
	FieldKeyRequired      = "idempotency_key_required"
	FieldURLInvalid       = "url_invalid"
	FieldOrderRefInvalid  = "order_reference_invalid"
	FieldExpiryInvalid    = "expiry_invalid"
	FieldFilterInvalid    = "filter_invalid"
	FieldFilterNeedsAsset = "filter_needs_currency"
	FieldFilterAmount     = "filter_amount_invalid"
	FieldFilterDate       = "filter_date_invalid"
	FieldTextInvalid      = "text_invalid"
)

type txt = apperr.Text

func init() {
	apperr.Register(
		apperr.Def{Code: CodeInsufficientFunds, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Your balance is not enough for this payment.", Zh: "余额不足，无法完成此次付款。"},
			Fix: txt{En: "Add money to this wallet, or pay a smaller amount. Available: {available}. CNY is topped up from a bank card; USDT and BTC arrive by a deposit to your deposit address.",
				Zh: "请为该钱包充值，或减少付款金额。可用余额：{available}。人民币可用银行卡充值；USDT 和 BTC 请转入您的充值地址。"}},
		apperr.Def{Code: CodeLimitExceeded, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This would go over your {period} limit: {remaining} left.", Zh: "此次操作将超出您的{period_zh}限额：剩余额度 {remaining}。"},
			Fix:     txt{En: "Pay at most {remaining} now, wait for the limit to reset, or verify your identity (real name, then an ID document) to raise your limits.", Zh: "请将金额控制在 {remaining} 以内、等待额度重置，或完成身份认证（实名，再上传证件）以提高限额。"}},
		apperr.Def{Code: CodeRecipientNotFound, Status: http.StatusNotFound,
			Message: txt{En: "No OKPay account has this email, phone number or id.", Zh: "没有使用该邮箱、手机号或编号的 OKPay 账户。"},
			Fix:     txt{En: "Check the spelling with the person you are paying, or ask them to send you a payment request link.", Zh: "请与收款人核对拼写，或请对方向您发送收款链接。"}},
		apperr.Def{Code: CodeRecipientCannotReceive, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This account cannot receive money right now.", Zh: "该账户暂时无法收款。"},
			Fix:     txt{En: "Nothing was taken from you. Ask the recipient to check their account status page, or pay them another way.", Zh: "您的资金未被扣除。请让收款人查看其账户状态页，或改用其他方式付款。"}},
		apperr.Def{Code: CodeCannotPaySelf, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "You cannot pay yourself.", Zh: "不能向自己付款。"},
			Fix:     txt{En: "Enter the email, phone number or id of someone else.", Zh: "请填写他人的邮箱、手机号或编号。"}},
		apperr.Def{Code: CodeRequestExpired, Status: http.StatusGone,
			Message: txt{En: "This payment request has expired.", Zh: "该收款请求已过期。"},
			Fix:     txt{En: "Ask the person who sent it for a new payment link.", Zh: "请联系对方重新发送收款链接。"}},
		apperr.Def{Code: CodeRequestAlreadyPaid, Status: http.StatusConflict,
			Message: txt{En: "This payment request has already been paid.", Zh: "该收款请求已被支付。"},
			Fix:     txt{En: "Nothing more is owed. Check your activity for the payment's receipt.", Zh: "无需再次支付。可在账单明细中查看付款回单。"}},
		apperr.Def{Code: CodeRequestCancelled, Status: http.StatusGone,
			Message: txt{En: "This payment request was cancelled by the person who sent it.", Zh: "该收款请求已被发起人取消。"},
			Fix:     txt{En: "Ask them for a new payment link if money is still owed.", Zh: "如仍需付款，请联系对方发送新的收款链接。"}},
		apperr.Def{Code: CodeCheckoutExpired, Status: http.StatusGone,
			Message: txt{En: "This checkout has expired.", Zh: "该订单支付已过期。"},
			Fix:     txt{En: "Go back to the shop and place the order again.", Zh: "请返回商户重新下单。"}},
		apperr.Def{Code: CodeCheckoutAlreadyPaid, Status: http.StatusConflict,
			Message: txt{En: "This order has already been paid.", Zh: "该订单已支付。"},
			Fix:     txt{En: "Nothing more is owed. Return to the shop to see your order.", Zh: "无需再次支付。请返回商户查看订单。"}},
		apperr.Def{Code: CodeCheckoutNotPaid, Status: http.StatusConflict,
			Message: txt{En: "This order has not been paid, so nothing can be refunded.", Zh: "该订单尚未支付，无法退款。"},
			Fix:     txt{En: "Refund only orders whose status is paid.", Zh: "只能对已支付的订单退款。"}},
		apperr.Def{Code: CodeRefundExceedsPaid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The refund is more than what is left to refund: {remaining}.", Zh: "退款金额超过可退金额：{remaining}。"},
			Fix:     txt{En: "Refund at most {remaining}.", Zh: "请将退款金额控制在 {remaining} 以内。"}},
		apperr.Def{Code: CodeMerchantOnly, Status: http.StatusForbidden,
			Message: txt{En: "Only merchant accounts can do this.", Zh: "只有商户账户可以执行此操作。"},
			Fix:     txt{En: "Contact support to turn your account into a merchant account.", Zh: "请联系客服将您的账户开通为商户账户。"}},
		apperr.Def{Code: CodeOrderRefTaken, Status: http.StatusConflict,
			Message: txt{En: "A checkout with this order reference already exists.", Zh: "该订单号已创建过支付。"},
			Fix:     txt{En: "Use a new order reference, or retry with the same Idempotency-Key to get the existing checkout.", Zh: "请使用新的订单号，或使用相同的幂等键重试以获取已有的支付。"}},
		apperr.Def{Code: CodeCurrencyMismatch, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The card or address does not take this currency.", Zh: "该卡或地址不支持此币种。"},
			Fix:     txt{En: "Choose the currency shown next to the card or address.", Zh: "请选择卡或地址旁显示的币种。"}},
		apperr.Def{Code: CodeWithdrawalTooSmall, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The smallest withdrawal is {minimum}.", Zh: "单笔最低提现金额为 {minimum}。"},
			Fix:     txt{En: "Withdraw at least {minimum}.", Zh: "请至少提现 {minimum}。"}},
		apperr.Def{Code: CodeWithdrawalTooLarge, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The largest single withdrawal is {maximum}.", Zh: "单笔最高提现金额为 {maximum}。"},
			Fix:     txt{En: "Split it into several withdrawals of at most {maximum}.", Zh: "请分多笔提现，每笔不超过 {maximum}。"}},
		apperr.Def{Code: CodeCardUnknown, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This is not one of your cards; it may have been removed.", Zh: "这不是您名下的银行卡，可能已被删除。"},
			Fix:     txt{En: "Choose one of the cards listed under Cards, or add the card first.", Zh: "请从“银行卡”列表中选择一张卡，或先添加该卡。"}},
		apperr.Def{Code: CodeCardNotVerified, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This card has not been verified yet.", Zh: "该卡尚未完成验证。"},
			Fix:     txt{En: "Verify the card with the code from the small charge on your statement.", Zh: "请使用账单中小额扣款附带的验证码验证该卡。"}},
		apperr.Def{Code: CodeCardLimit, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "You have the most cards an account can hold.", Zh: "您绑定的银行卡已达上限。"},
			Fix:     txt{En: "Remove a card you no longer use, then add the new one (or use Change card).", Zh: "请先删除不再使用的卡再添加新卡（或使用“更换银行卡”）。"}},
		apperr.Def{Code: CodeCardNameMismatch, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The name on this card does not match your verified real name.", Zh: "该卡持卡人姓名与您的实名认证姓名不一致。"},
			Fix:     txt{En: "Withdraw to a card in your own name.", Zh: "请提现到本人名下的银行卡。"}},
		apperr.Def{Code: CodeRealNameRequired, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Withdrawals need a verified real name.", Zh: "提现需要先完成实名认证。"},
			Fix:     txt{En: "Verify your identity (real name and ID number) in Security settings, then try again.", Zh: "请在安全设置中完成实名认证（姓名和证件号码）后重试。"}},
		apperr.Def{Code: CodeTopUpState, Status: http.StatusConflict,
			Message: txt{En: "This top-up {status_en}, so it cannot do that now.", Zh: "该笔充值{status_zh}，暂时无法执行此操作。"},
			Fix:     txt{En: "Refresh to see the top-up's latest status.", Zh: "请刷新查看该笔充值的最新状态。"}},
		apperr.Def{Code: CodeCryptoOnly, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Deposit addresses exist only for crypto assets.", Zh: "只有数字资产才有充值地址。"},
			Fix:     txt{En: "Choose USDT or BTC; top up CNY and USD from a bank card.", Zh: "请选择 USDT 或 BTC；人民币和美元请用银行卡充值。"}},
		apperr.Def{Code: CodeCursorInvalid, Status: http.StatusBadRequest,
			Message: txt{En: "The page position is not valid.", Zh: "分页位置无效。"},
			Fix:     txt{En: "Start again from the first page.", Zh: "请从第一页重新开始。"}},

		apperr.Def{Code: FieldRecipientInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Enter an email address, a phone number or an account id.", Zh: "请填写邮箱、手机号或账户编号。"}},
		apperr.Def{Code: FieldMemoTooLong, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The note is too long (at most 140 characters).", Zh: "备注过长（最多 140 个字符）。"}},
		apperr.Def{Code: FieldKeyRequired, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Money calls need an Idempotency-Key header: a new random value, such as a UUID, for each payment, and the same value to retry it.",
				Zh: "资金类接口需要 Idempotency-Key 请求头：每笔付款使用一个新的随机值（例如 UUID），重试时使用同一个值。"}},
		apperr.Def{Code: FieldKeyInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The Idempotency-Key must be 1 to 128 printable characters.", Zh: "幂等键必须为 1 至 128 个可打印字符。"}},
		apperr.Def{Code: FieldURLInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Enter an http or https address.", Zh: "请填写 http 或 https 地址。"}},
		apperr.Def{Code: FieldOrderRefInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The order reference must be 1 to 64 printable characters.", Zh: "订单号必须为 1 至 64 个可打印字符。"}},
		apperr.Def{Code: FieldExpiryInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The expiry must be between 5 minutes and 30 days from now.", Zh: "有效期须在 5 分钟至 30 天之间。"}},
		apperr.Def{Code: FieldFilterInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This filter value is not one of the choices offered.", Zh: "该筛选值不在可选范围内。"}},
		apperr.Def{Code: FieldFilterNeedsAsset, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Choose a currency to filter by amount.", Zh: "按金额筛选时请先选择币种。"}},
		apperr.Def{Code: FieldFilterAmount, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Enter an amount such as 12.30; the maximum must not be below the minimum.", Zh: "请输入金额，例如 12.30；最大金额不能小于最小金额。"}},
		apperr.Def{Code: FieldFilterDate, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Enter a date as YYYY-MM-DD; the end date must not be before the start date.", Zh: "请按 YYYY-MM-DD 填写日期；结束日期不能早于开始日期。"}},
		apperr.Def{Code: FieldTextInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Search for words of letters or digits (at most 64 characters).", Zh: "请搜索由文字或数字组成的词（最多 64 个字符）。"}},
	)
}

// topUpStatusWords says where a top-up stands, as the end of "This top-up …" in each
// language: the message shows these, never the raw status, which is an API value and
// reads as English jargon inside a Chinese sentence.
var topUpStatusWords = map[string]apperr.Text{
	opPending:    {En: "is still waiting for the bank's answer", Zh: "正在等待银行答复"},
	opNeedsOTP:   {En: "is waiting for your bank's one-time code", Zh: "正在等待银行一次性验证码"},
	opProcessing: {En: "is being settled by the bank", Zh: "正在由银行结算"},
	opConfirming: {En: "is waiting for blockchain confirmations", Zh: "正在等待区块确认"},
	opCompleted:  {En: "has already completed", Zh: "已完成"},
	opFailed:     {En: "has failed", Zh: "已失败"},
}

// topUpStateError is top_up_state for a top-up in status. Params: status (the raw value,
// for programs) and status_en / status_zh (the words the message shows).
func topUpStateError(status string) *apperr.Error {
	w, ok := topUpStatusWords[status]
	if !ok {
		w = apperr.Text{En: "has changed state", Zh: "状态已变化"}
	}
	return apperr.New(CodeTopUpState).With("status", status).With("status_en", w.En).With("status_zh", w.Zh)
}

func invalid(field, code string) *apperr.Error {
	return apperr.New(apperr.CodeValidation).Field(field, code)
}
