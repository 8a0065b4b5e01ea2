package identity

import (
	"net/http"

	"okpay/internal/apperr"
)

// Error codes of the identity service. They are part of the API: never rename one.
const (
	CodeEmailTaken           = "email_taken"
	CodeInvalidCredentials   = "invalid_credentials"
	CodeAccountLocked        = "account_locked"
	CodeCodeInvalid          = "code_invalid"
	CodeCodeExpired          = "code_expired"
	CodeCodeAttempts         = "code_attempts_exceeded"
	CodeCodeMalformed        = "code_malformed"
	CodeResendCooldown       = "resend_cooldown"
	CodeDailyCap             = "code_daily_cap"
	CodeEmailNotVerified     = "email_not_verified"
	CodeEmailAlreadyVerified = "email_already_verified"
	CodePhoneNotVerified     = "phone_not_verified"
	CodeAccountFrozen        = "account_frozen"
	CodeSigninRestricted     = "signin_restricted"
	CodeSendingRestricted    = "sending_restricted"
	CodeReceivingRestricted  = "receiving_restricted"
	CodeWithdrawRestricted   = "withdrawal_restricted"
	CodeStepUpRequired       = "step_up_required"
	CodeTOTPInvalid          = "totp_invalid"
	CodeTOTPAlreadyEnabled   = "totp_already_enabled"
	CodeTOTPNotEnabled       = "totp_not_enabled"
	CodeTOTPNotPending       = "totp_not_pending"
	CodePasswordIncorrect    = "password_incorrect"
	CodeSigninExpired        = "signin_expired"
	CodeNotFrozen            = "not_frozen"
	CodeAlreadyFrozen        = "already_frozen"
	CodeLevelRequirement     = "level_requirement"
	CodeReviewConflict       = "review_conflict"
	CodeUnfreezeNeedsSupport = "unfreeze_needs_support"

	// Field codes, used inside validation_failed.
	FieldEmailInvalid      = "email_invalid"
	FieldPhoneInvalid      = "phone_invalid"
	FieldLangInvalid       = "language_invalid"
	FieldPasswordLength    = "password_length"
	FieldPasswordClasses   = "password_classes"
	FieldPasswordCommon    = "password_common"
	FieldPasswordEmail     = "password_contains_email"
	FieldRealNameInvalid   = "real_name_invalid"
	FieldIDNumberInvalid   = "id_number_invalid"
	FieldIDTypeInvalid     = "id_type_invalid"
	FieldBirthDateInvalid  = "birth_date_invalid"
	FieldBirthDateMismatch = "birth_date_mismatch"
	FieldRoleInvalid       = "role_invalid"
	FieldScopeInvalid      = "scope_invalid"
	FieldNameInvalid       = "name_invalid"
	FieldDocumentInvalid   = "document_invalid"
	FieldDateInvalid       = "date_invalid"
)

type txt = apperr.Text

func init() {
	apperr.Register(
		apperr.Def{Code: CodeEmailTaken, Status: http.StatusConflict,
			Message: txt{En: "This email address is already registered.", Zh: "该邮箱已注册。"},
			Fix:     txt{En: "Sign in, or reset your password if you have forgotten it.", Zh: "请直接登录；如果忘记密码，请重置密码。"}},
		apperr.Def{Code: CodeInvalidCredentials, Status: http.StatusUnauthorized,
			Message: txt{En: "The email or password is wrong.", Zh: "邮箱或密码错误。"},
			Fix:     txt{En: "Check both and try again. After 5 wrong tries the account is locked for 15 minutes; if you forgot the password, reset it.", Zh: "请检查后重试。连续输错 5 次账户将被锁定 15 分钟；如果忘记密码，请重置密码。"}},
		apperr.Def{Code: CodeAccountLocked, Status: http.StatusLocked,
			Message: txt{En: "This account is locked after too many wrong passwords, until {until}.", Zh: "由于密码错误次数过多，该账户已被锁定至 {until}。"},
			Fix:     txt{En: "Wait until {until}, or reset your password now (this also unlocks the account). We have emailed the owner a reset link.", Zh: "请等到 {until} 之后再试，或立即重置密码（重置后自动解锁）。我们已向账户邮箱发送重置链接。"}},
		apperr.Def{Code: CodeCodeInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The code is wrong.", Zh: "验证码错误。"},
			Fix:     txt{En: "Check the newest message we sent and try again (tries left for this code: {remaining}).", Zh: "请核对我们最新发送的验证码后重试（该验证码还可尝试 {remaining} 次）。"}},
		apperr.Def{Code: CodeCodeMalformed, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This is not a code from our message.", Zh: "这不是我们发送的验证码。"},
			Fix:     txt{En: "Enter the 6 digits from the newest message we sent, for example 123456 (spaces and dashes are fine). This did not use up a try.", Zh: "请输入我们最新发送的消息中的 6 位数字，例如 123456（可以包含空格或短横线）。本次输入不计入尝试次数。"}},
		apperr.Def{Code: CodeCodeExpired, Status: http.StatusGone,
			Message: txt{En: "This code or link has expired or was already used.", Zh: "该验证码或链接已过期或已被使用。"},
			Fix:     txt{En: "Ask for a new code.", Zh: "请重新获取验证码。"}},
		apperr.Def{Code: CodeCodeAttempts, Status: http.StatusGone,
			Message: txt{En: "Too many wrong tries for this code.", Zh: "该验证码的错误尝试次数过多。"},
			Fix:     txt{En: "Ask for a new code and use the newest one.", Zh: "请重新获取验证码，并使用最新的一个。"}},
		apperr.Def{Code: CodeResendCooldown, Status: http.StatusTooManyRequests,
			Message: txt{En: "A code was sent moments ago.", Zh: "验证码刚刚已发送。"},
			Fix:     txt{En: "Check your inbox and spam folder. You can ask for another code at {next_at} (in {retry_after} seconds).", Zh: "请查看收件箱和垃圾邮件文件夹。{next_at}（{retry_after} 秒后）可再次获取验证码。"}},
		apperr.Def{Code: CodeDailyCap, Status: http.StatusTooManyRequests,
			Message: txt{En: "You have asked for the most codes allowed in a day.", Zh: "今日获取验证码的次数已达上限。"},
			Fix:     txt{En: "Check your spam folder for the codes already sent. You can ask again at {next_at}, or contact support.", Zh: "请在垃圾邮件文件夹中查找已发送的验证码。{next_at} 后可再次获取，或联系客服。"}},
		apperr.Def{Code: CodeEmailNotVerified, Status: http.StatusForbidden,
			Message: txt{En: "Your email address is not verified yet, so money cannot be moved.", Zh: "您的邮箱尚未验证，暂时无法进行资金操作。"},
			Fix:     txt{En: "Verify your email: enter the code we sent (check the spam folder), or ask for a new one.", Zh: "请验证邮箱：输入我们发送的验证码（可查看垃圾邮件文件夹），或重新获取验证码。"}},
		apperr.Def{Code: CodeEmailAlreadyVerified, Status: http.StatusConflict,
			Message: txt{En: "Your email address is already verified.", Zh: "您的邮箱已验证。"},
			Fix:     txt{En: "Nothing to do; carry on.", Zh: "无需操作，请继续。"}},
		apperr.Def{Code: CodePhoneNotVerified, Status: http.StatusForbidden,
			Message: txt{En: "There is no verified phone number on this account.", Zh: "该账户没有已验证的手机号。"},
			Fix:     txt{En: "Use the email option, or add and verify a phone number under Security.", Zh: "请改用邮箱方式，或在 安全设置 中添加并验证手机号。"}},
		apperr.Def{Code: CodeAccountFrozen, Status: http.StatusForbidden,
			Message: txt{En: "This account is frozen: no money can leave it.", Zh: "该账户已冻结，资金无法转出。"},
			Fix:     txt{En: "If you froze it, unfreeze it under Account › Account status with your password and 2-step code. Otherwise contact support.", Zh: "如果是您本人冻结的，请在 我的账户 › 账户状态 中使用密码和两步验证码解冻；否则请联系客服。"}},
		apperr.Def{Code: CodeSigninRestricted, Status: http.StatusForbidden,
			Message: txt{En: "Signing in to this account is blocked by a review.", Zh: "该账户因审核暂时无法登录。"},
			Fix:     txt{En: "Contact support; they will tell you what the review needs.", Zh: "请联系客服，客服会告知审核所需材料。"}},
		apperr.Def{Code: CodeSendingRestricted, Status: http.StatusForbidden,
			Message: txt{En: "Sending money from this account is restricted.", Zh: "该账户的付款/转账功能已受限。"},
			Fix:     txt{En: "See the account status page for the reason and how to lift it.", Zh: "请在账户状态页面查看原因及解除方法。"}},
		apperr.Def{Code: CodeReceivingRestricted, Status: http.StatusForbidden,
			Message: txt{En: "This account cannot receive money right now.", Zh: "该账户暂时无法收款。"},
			Fix:     txt{En: "The account owner should check their account status page.", Zh: "请账户持有人查看账户状态页面。"}},
		apperr.Def{Code: CodeWithdrawRestricted, Status: http.StatusForbidden,
			Message: txt{En: "Withdrawals from this account are restricted.", Zh: "该账户的提现功能已受限。"},
			Fix:     txt{En: "See the account status page for the reason and how to lift it.", Zh: "请在账户状态页面查看原因及解除方法。"}},
		apperr.Def{Code: CodeStepUpRequired, Status: http.StatusForbidden,
			Message: txt{En: "Please confirm it is you before doing this.", Zh: "执行此操作前，请先确认是您本人。"},
			Fix:     txt{En: "Enter your 2-step code (or your password if 2-step is off), then try again within 5 minutes.", Zh: "请输入两步验证码（未开启两步验证则输入密码），然后在 5 分钟内重试。"}},
		apperr.Def{Code: CodeTOTPInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The 2-step code is wrong or was already used.", Zh: "两步验证码错误或已被使用。"},
			Fix:     txt{En: "Enter the current code from your authenticator app (each code works once: wait for the next one if you just used it), or use a recovery code.", Zh: "请输入验证器应用中的当前验证码（每个验证码只能使用一次，刚用过请等待下一个），或使用恢复码。"}},
		apperr.Def{Code: CodeTOTPAlreadyEnabled, Status: http.StatusConflict,
			Message: txt{En: "2-step verification is already on.", Zh: "两步验证已开启。"},
			Fix:     txt{En: "To use a new phone, turn 2-step off and set it up again.", Zh: "如需更换手机，请先关闭两步验证再重新设置。"}},
		apperr.Def{Code: CodeTOTPNotEnabled, Status: http.StatusConflict,
			Message: txt{En: "2-step verification is not on.", Zh: "两步验证未开启。"},
			Fix:     txt{En: "Turn it on under Security › 2-step verification.", Zh: "请在 安全设置 › 两步验证 中开启。"}},
		apperr.Def{Code: CodeTOTPNotPending, Status: http.StatusConflict,
			Message: txt{En: "There is no 2-step set-up waiting for confirmation.", Zh: "没有待确认的两步验证设置。"},
			Fix:     txt{En: "Start the set-up again and scan the new QR code.", Zh: "请重新开始设置并扫描新的二维码。"}},
		apperr.Def{Code: CodePasswordIncorrect, Status: http.StatusForbidden,
			Message: txt{En: "The password is wrong.", Zh: "密码错误。"},
			Fix:     txt{En: "Enter your current password. If you forgot it, reset it.", Zh: "请输入当前密码。如果忘记密码，请重置密码。"}},
		apperr.Def{Code: CodeSigninExpired, Status: http.StatusUnauthorized,
			Message: txt{En: "The sign-in took too long and has expired.", Zh: "登录超时，已失效。"},
			Fix:     txt{En: "Sign in again with your email and password.", Zh: "请重新输入邮箱和密码登录。"}},
		apperr.Def{Code: CodeNotFrozen, Status: http.StatusConflict,
			Message: txt{En: "This account is not frozen.", Zh: "该账户未被冻结。"},
			Fix:     txt{En: "Nothing to do.", Zh: "无需操作。"}},
		apperr.Def{Code: CodeAlreadyFrozen, Status: http.StatusConflict,
			Message: txt{En: "This account is already frozen.", Zh: "该账户已被冻结。"},
			Fix:     txt{En: "Nothing more to do: no money can leave it.", Zh: "无需其他操作，资金已无法转出。"}},
		apperr.Def{Code: CodeUnfreezeNeedsSupport, Status: http.StatusForbidden,
			Message: txt{En: "This account was frozen by OKPay support or risk review, so only they can unfreeze it.", Zh: "该账户由 OKPay 客服或风控审核冻结，只能由其解冻。"},
			Fix:     txt{En: "Contact support; have your ID ready so they can check it is you.", Zh: "请联系客服，并准备好身份证件以便核实身份。"}},
		apperr.Def{Code: CodeLevelRequirement, Status: http.StatusConflict,
			Message: txt{En: "This step needs identity level {level} first.", Zh: "此步骤需要先完成 {level} 级身份认证。"},
			Fix:     txt{En: "Complete the earlier identity level first.", Zh: "请先完成前一级身份认证。"}},
		apperr.Def{Code: CodeReviewConflict, Status: http.StatusConflict,
			Message: txt{En: "This document was already reviewed.", Zh: "该证件已审核。"},
			Fix:     txt{En: "Reload the review queue.", Zh: "请刷新审核队列。"}},

		apperr.Def{Code: FieldEmailInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Enter a valid email address, such as name@example.com.", Zh: "请输入有效的邮箱地址，例如 name@example.com。"}},
		apperr.Def{Code: FieldPhoneInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Enter the phone number with its country code, such as +86 138 0013 8000.", Zh: "请输入带国家代码的手机号，例如 +86 138 0013 8000。"}},
		apperr.Def{Code: FieldLangInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Choose 简体中文 (zh-CN) or English (en).", Zh: "请选择简体中文（zh-CN）或英语（en）。"}},
		apperr.Def{Code: FieldPasswordLength, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The password must be 8 to 128 characters long.", Zh: "密码长度须为 8 到 128 个字符。"}},
		apperr.Def{Code: FieldPasswordClasses, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The password must contain letters, digits and a symbol (such as ! # %).", Zh: "密码须同时包含字母、数字和符号（例如 ! # %）。"}},
		apperr.Def{Code: FieldPasswordCommon, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This password is on a list of commonly used passwords; choose another.", Zh: "该密码属于常用密码，请换一个。"}},
		apperr.Def{Code: FieldPasswordEmail, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The password must not contain your email name.", Zh: "密码不能包含您的邮箱用户名。"}},
		apperr.Def{Code: FieldRealNameInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Enter your full name as on your ID (1 to 64 characters).", Zh: "请输入与证件一致的姓名（1 到 64 个字符）。"}},
		apperr.Def{Code: FieldIDNumberInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This ID number is not valid; check every digit.", Zh: "证件号码无效，请逐位核对。"}},
		apperr.Def{Code: FieldIDTypeInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Choose a Chinese resident ID card or a passport.", Zh: "请选择居民身份证或护照。"}},
		apperr.Def{Code: FieldBirthDateInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Enter the date of birth as YYYY-MM-DD; you must be at least 18.", Zh: "请按 YYYY-MM-DD 格式输入出生日期；须年满 18 周岁。"}},
		apperr.Def{Code: FieldBirthDateMismatch, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The date of birth does not match the ID number.", Zh: "出生日期与身份证号码不一致。"}},
		apperr.Def{Code: FieldRoleInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Unknown role.", Zh: "未知角色。"}},
		apperr.Def{Code: FieldScopeInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Unknown scope.", Zh: "未知权限范围。"}},
		apperr.Def{Code: FieldNameInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Enter a name of 1 to 64 characters.", Zh: "请输入 1 到 64 个字符的名称。"}},
		apperr.Def{Code: FieldDocumentInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Upload a JPEG, PNG or PDF of up to 10 MB.", Zh: "请上传不超过 10 MB 的 JPEG、PNG 或 PDF 文件。"}},
		apperr.Def{Code: FieldDateInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Choose a date in the future.", Zh: "请选择一个将来的日期。"}},
	)
}

// isCoded reports whether err already carries a user-facing code, so it is passed on as is.
func isCoded(err error) bool {
	_, ok := apperr.As(err)
	return ok
}

// invalid builds a validation_failed error with one field error.
func invalid(field, code string) *apperr.Error {
	return apperr.New(apperr.CodeValidation).Field(field, code)
}

func notFound() *apperr.Error  { return apperr.New(apperr.CodeNotFound) }
func unauthenticated() error   { return apperr.New(apperr.CodeUnauthenticated) }
func forbidden() *apperr.Error { return apperr.New(apperr.CodeForbidden) }
func required(field string) error {
	return apperr.New(apperr.CodeValidation).Field(field, apperr.CodeRequired)
}
