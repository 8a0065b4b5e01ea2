package identity

import (
	"okpay/internal/apperr"
	"okpay/internal/notify"
)

// inboxFor says which security mails also land in the user's notification inbox, so a
// person who signs in sees what happened to the account even if the mail went to spam.
// Mail that carries a code or a link token (verification, reset) stays out: the inbox
// would only repeat a secret.
var inboxFor = map[string]struct {
	kind notify.InboxKind
	link string
	text notify.InboxText
}{
	"new_signin": {notify.InboxSecurity, "/account/security", notify.InboxText{
		Title: apperr.Text{En: "New sign-in to your account", Zh: "您的账户有新的登录"},
		Body:  apperr.Text{En: "Someone signed in from a new device or place. If it was not you, freeze your account at once and reset your password.", Zh: "有人从新的设备或地点登录了您的账户。如果不是您本人，请立即冻结账户并重置密码。"}}},
	"password_changed": {notify.InboxSecurity, "/account/security", notify.InboxText{
		Title: apperr.Text{En: "Your password was changed", Zh: "您的密码已修改"},
		Body:  apperr.Text{En: "Every other session was signed out. If you did not do this, reset your password and contact support.", Zh: "其他所有会话均已退出。如果不是您本人操作，请重置密码并联系客服。"}}},
	"two_step_disabled": {notify.InboxSecurity, "/account/security", notify.InboxText{
		Title: apperr.Text{En: "2-step verification was turned off", Zh: "两步验证已关闭"},
		Body:  apperr.Text{En: "Your account is now protected by your password alone. Turn 2-step verification on again in Security.", Zh: "您的账户现在仅受密码保护。请在“安全设置”中重新开启两步验证。"}}},
	"email_changed": {notify.InboxSecurity, "/account/security", notify.InboxText{
		Title: apperr.Text{En: "Your email address was changed", Zh: "您的邮箱地址已更换"},
		Body:  apperr.Text{En: "Sign-in, security notices and password resets now use the new address, and every other session was signed out. If you did not do this, freeze your account and contact support.", Zh: "登录、安全通知和重置密码现在使用新邮箱，其他所有会话均已退出。如果不是您本人操作，请冻结账户并联系客服。"}}},
	"lockout": {notify.InboxSecurity, "/account/status", notify.InboxText{
		Title: apperr.Text{En: "Sign-in locked after wrong passwords", Zh: "因多次密码错误，登录已被锁定"},
		Body:  apperr.Text{En: "Too many wrong passwords locked sign-in for 15 minutes. If that was not you, reset your password.", Zh: "多次输入错误密码，登录已锁定 15 分钟。如果不是您本人，请重置密码。"}}},
	"account_frozen": {notify.InboxRestriction, "/account/status", notify.InboxText{
		Title: apperr.Text{En: "Your account is frozen", Zh: "您的账户已冻结"},
		Body:  apperr.Text{En: "No money can leave the account. The status page says why and how to unfreeze it.", Zh: "账户资金暂时无法转出。账户状态页说明了原因以及解冻方法。"}}},
	"account_unfrozen": {notify.InboxRestriction, "/account/status", notify.InboxText{
		Title: apperr.Text{En: "Your account is unfrozen", Zh: "您的账户已解冻"},
		Body:  apperr.Text{En: "You can send and withdraw money again.", Zh: "您可以重新转账和提现了。"}}},
}

func init() {
	for kind, v := range inboxFor {
		notify.RegisterInboxText("identity."+kind, v.text)
	}
}
