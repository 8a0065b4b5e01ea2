package troubleshoot

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/identity"
	"okpay/internal/support/help"
)

// A rule looks at a snapshot and either answers (a Diagnosis) or passes (nil). A problem's
// rules run in order and the first answer wins, so the more specific and more pressing
// causes come first and a problem always ends in an honest fallback.
type rule struct {
	id    string
	match func(s *Snapshot) *Diagnosis
}

// rules per problem. Shared rules (a freeze, maintenance) appear wherever they explain the
// problem.
var rules = map[string][]rule{
	ProblemSignIn: {
		{"account.locked", locked},
		{"account.signin_restricted", signInRestricted},
		{"signin.two_step", signInTwoStep},
		{"signin.ok", signInOK},
	},
	ProblemRestricted: {
		{"account.signin_restricted", signInRestricted},
		{"account.frozen_by_staff", frozenByStaff},
		{"account.restricted", restricted},
		{"account.frozen_by_owner", frozenByOwner},
		{"account.locked", locked},
		{"account.email_unverified", emailUnverified},
		{"account.unrestricted", unrestricted},
	},
	ProblemNoEmail: {
		{"email.verified", emailVerified},
		{"email.resend", emailResend},
	},
	ProblemPayment: {
		{"maintenance", maintenance},
		{"payment.failed_activity", paymentFailedActivity},
		{"account.frozen_by_staff", scoped(identity.ScopeSend, frozenByStaff)},
		{"account.restricted", scoped(identity.ScopeSend, restricted)},
		{"account.frozen_by_owner", scoped(identity.ScopeSend, frozenByOwner)},
		{"account.email_unverified", emailUnverified},
		{"payment.limit_reached", limitReached("send")},
		{"payment.no_balance", noBalance},
		{"payment.history_unknown", historyUnknown},
	},
	ProblemWithdrawal: {
		{"withdrawal.latest", withdrawalLatest},
		{"maintenance", maintenance},
		{"account.frozen_by_staff", scoped(identity.ScopeWithdraw, frozenByStaff)},
		{"account.restricted", scoped(identity.ScopeWithdraw, restricted)},
		{"account.frozen_by_owner", scoped(identity.ScopeWithdraw, frozenByOwner)},
		{"account.email_unverified", emailUnverified},
		{"withdrawal.limit_reached", limitReached("withdraw")},
		{"payment.history_unknown", historyUnknown},
	},
	ProblemUnauthorized: {
		{"unauthorized.frozen", unauthorizedFrozen},
		{"unauthorized.freeze_first", unauthorizedFreezeFirst},
	},
	ProblemCoins: {
		{"coins.deposit_confirming", depositConfirming},
		{"coins.on_hold", onHold},
		{"coins.escrow", escrowNotBuilt},
	},
	ProblemCard: {
		{"card.expired", cardExpired},
		{"card.expiring", cardExpiring},
		{"card.failed_recently", cardFailedRecently},
		{"card.verification_failed", cardVerificationFailed},
		{"card.change", cardChange},
	},
	ProblemAutoPay: {
		{"autopay.repeated_charges", autoPayRepeated},
		{"autopay.none", autoPayNone},
	},
	ProblemOther: {
		{"other.person", otherPerson},
	},
}

// Diagnose runs problem's rules over s. An unknown problem, or a state no rule explains,
// gets the honest answer: we could not tell, a person will look.
func Diagnose(s *Snapshot, problem string) *Diagnosis {
	for _, r := range rules[problem] {
		d := r.match(s)
		if d == nil {
			continue
		}
		return finish(s, problem, r.id, d)
	}
	return finish(s, problem, "unknown", unknown(s))
}

func finish(s *Snapshot, problem, id string, d *Diagnosis) *Diagnosis {
	d.Problem, d.ComputedAt = problem, s.Now
	if d.Rule == "" {
		d.Rule = id
	}
	if d.NeedsPerson {
		d.OfferTicket = true
		if d.Step.Action == "" {
			d.Step.Action = ActionOpenTicket
		}
	}
	if d.Step.Action == "" {
		d.Step.Action = ActionNone
	}
	if d.Facts == nil {
		d.Facts = map[string]string{}
	}
	d.Facts["two_step"] = strconv.FormatBool(s.TwoStep)
	d.Facts["email_verified"] = strconv.FormatBool(s.EmailVerified)
	d.Facts["level"] = strconv.Itoa(s.Level)
	if !s.MaintenanceUntil.IsZero() {
		d.Facts["maintenance_until"] = s.MaintenanceUntil.UTC().Format(time.RFC3339)
	}
	return d
}

// txt fills {name} placeholders in both languages from name, value pairs; a value may
// itself be a Text (for dates or amounts phrased differently per language).
func txt(en, zh string, kv ...any) Text {
	for i := 0; i+1 < len(kv); i += 2 {
		k := "{" + kv[i].(string) + "}"
		switch v := kv[i+1].(type) {
		case Text:
			en, zh = strings.ReplaceAll(en, k, v.En), strings.ReplaceAll(zh, k, v.Zh)
		default:
			str := anyString(v)
			en, zh = strings.ReplaceAll(en, k, str), strings.ReplaceAll(zh, k, str)
		}
	}
	return Text{En: en, Zh: zh}
}

func anyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	default:
		return ""
	}
}

// when phrases t in the user's zone for a sentence that reads "at {t}", "until {t}" or
// "by {t}": "14:32 today (UTC+8)" or "14:32 on 2026-11-20 (UTC+8)"; in Chinese
// "今天 14:32（UTC+8）".
func when(s *Snapshot, t time.Time) Text {
	lt, ln := t.In(s.Loc), s.Now.In(s.Loc)
	_, off := lt.Zone()
	zone := "UTC"
	if off != 0 {
		zone = fmt.Sprintf("UTC%+d", off/3600)
		if m := (off % 3600) / 60; m != 0 {
			zone += fmt.Sprintf(":%02d", abs(m))
		}
	}
	hm := lt.Format("15:04")
	if lt.Year() == ln.Year() && lt.YearDay() == ln.YearDay() {
		return Text{En: hm + " today (" + zone + ")", Zh: "今天 " + hm + "（" + zone + "）"}
	}
	day := lt.Format("2006-01-02")
	return Text{En: hm + " on " + day + " (" + zone + ")", Zh: day + " " + hm + "（" + zone + "）"}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func article(code string) string {
	slug, _ := help.ArticleForCode(code)
	return slug
}

// ---- account state ----

func locked(s *Snapshot) *Diagnosis {
	it := s.item(identity.StatusLocked)
	if it == nil {
		return nil
	}
	return &Diagnosis{
		Cause: txt("Your account was locked at {since} after too many wrong passwords, until {until}. Someone (maybe you) typed a wrong password several times in a row. Resetting your password unlocks it at once; otherwise it unlocks by itself at {until}.",
			"由于连续多次输入错误密码，您的账户已于 {since} 被锁定，锁定至 {until}。重置密码可立即解锁；否则将在 {until} 自动解锁。",
			"since", when(s, it.Since), "until", when(s, it.Until)),
		Step:  Step{Action: ActionResetPassword, Until: it.Until, Article: "account-locked"},
		Facts: map[string]string{"locked_until": it.Until.UTC().Format(time.RFC3339)},
	}
}

func signInRestricted(s *Snapshot) *Diagnosis {
	it := s.blocking(identity.ScopeSignIn)
	if it == nil {
		return nil
	}
	return staffHold(s, it, txt("Signing in to your account is blocked by a review: {reason}.", "您的账户因审核暂时无法登录：{reason}。",
		"reason", reasonOf(it)))
}

func frozenByStaff(s *Snapshot) *Diagnosis {
	it := s.item(identity.StatusFrozen)
	if it == nil {
		return nil
	}
	return staffHold(s, it, txt("OKPay {by} froze your account at {since}: {reason}. No money can leave it; money can still come in.",
		"OKPay {by}已于 {since} 冻结您的账户：{reason}。资金无法转出，但仍可收款。",
		"by", byText(it.By), "since", when(s, it.Since), "reason", reasonOf(it)))
}

func restricted(s *Snapshot) *Diagnosis {
	it := s.item(identity.StatusRestricted)
	if it == nil {
		return nil
	}
	return staffHold(s, it, txt("A risk review restricted {scopes} on your account at {since}: {reason}.",
		"风控审核已于 {since} 限制您账户的{scopes}：{reason}。",
		"scopes", scopesText(it.Scopes), "since", when(s, it.Since), "reason", reasonOf(it)))
}

// staffHold is a restriction only staff can lift: it ends by itself when it has an end,
// otherwise a person must review it.
func staffHold(s *Snapshot, it *identity.StatusItem, cause Text) *Diagnosis {
	d := &Diagnosis{Cause: cause, Facts: map[string]string{"restriction": it.RestrictionID, "restriction_kind": it.Kind,
		"restricted_by": it.By, "reason": it.Reason, "code": it.Code}}
	if !it.Until.IsZero() {
		d.Cause = txt(d.Cause.En+" It ends by itself at {until}.", d.Cause.Zh+"该限制将于 {until} 自动解除。", "until", when(s, it.Until))
		d.Step = Step{Action: ActionWaitUntil, Until: it.Until, Article: "account-frozen"}
		d.OfferTicket = true
		d.TicketWhen = Text{"If you need it lifted sooner, a person must review it.", "如需提前解除，需由客服人工审核。"}
		d.Facts["until"] = it.Until.UTC().Format(time.RFC3339)
		return d
	}
	d.Cause = txt(d.Cause.En+" Only a person at OKPay can review and lift it; the ticket carries this diagnosis, so you will not be asked to explain again.",
		d.Cause.Zh+"只有 OKPay 工作人员可以审核并解除；工单会附上本诊断，您无需再次说明。")
	d.NeedsPerson = true
	d.Step = Step{Action: ActionOpenTicket, Article: "account-frozen"}
	return d
}

func frozenByOwner(s *Snapshot) *Diagnosis {
	it := s.item(identity.StatusFrozenByOwner)
	if it == nil {
		return nil
	}
	d := &Diagnosis{
		Cause: txt("You froze your account at {since}, so no money can leave it. You can unfreeze it yourself with your password and 2-step code (or an emailed code).",
			"您已于 {since} 冻结了自己的账户，因此资金无法转出。您可以使用密码和两步验证码（或邮件验证码）自行解冻。",
			"since", when(s, it.Since)),
		Step:  Step{Action: ActionUnfreeze, Article: "account-frozen"},
		Facts: map[string]string{"restriction": it.RestrictionID, "restriction_kind": it.Kind},
	}
	return d
}

// scoped applies an account rule only when its restriction covers scope (a receive-only
// restriction does not explain a failed payment).
func scoped(scope identity.Scope, r func(*Snapshot) *Diagnosis) func(*Snapshot) *Diagnosis {
	return func(s *Snapshot) *Diagnosis {
		if s.blocking(scope) == nil {
			return nil
		}
		return r(s)
	}
}

func emailUnverified(s *Snapshot) *Diagnosis {
	if s.EmailVerified {
		return nil
	}
	return &Diagnosis{
		Cause: txt("Your email address {email} is not verified yet, so money cannot be moved. Enter the 6-digit code from our email (look in the spam folder too), or ask for a new one.",
			"您的邮箱 {email} 尚未验证，暂时无法进行资金操作。请输入邮件中的 6 位验证码（也请查看垃圾邮件文件夹），或重新获取。",
			"email", s.Email),
		Step: Step{Action: ActionVerifyEmail, Article: "registration-email"},
	}
}

func unrestricted(s *Snapshot) *Diagnosis {
	return &Diagnosis{
		Cause: Text{"Nothing limits your account right now: it is not frozen, restricted or locked, and your email is verified. If a payment still fails, choose \"A payment or top-up failed\".",
			"您的账户目前没有任何限制：未冻结、未受限、未锁定，邮箱也已验证。如果付款仍然失败，请选择“付款或充值失败”。"},
		Step: Step{Action: ActionRetry},
	}
}

func byText(by string) Text {
	switch by {
	case identity.ActorAdmin:
		return Text{"an administrator", "管理员"}
	case identity.ActorSystem:
		return Text{"risk control", "风控系统"}
	default:
		return Text{"support", "客服"}
	}
}

func reasonOf(it *identity.StatusItem) string {
	if r := strings.TrimSpace(it.Reason); r != "" {
		return r
	}
	return "—"
}

func scopesText(sc []identity.Scope) Text {
	names := map[identity.Scope]Text{
		identity.ScopeSignIn: {"signing in", "登录"}, identity.ScopeSend: {"paying and transferring", "付款和转账"},
		identity.ScopeReceive: {"receiving money", "收款"}, identity.ScopeWithdraw: {"withdrawals", "提现"},
	}
	var en, zh []string
	for _, x := range sc {
		if t, ok := names[x]; ok {
			en, zh = append(en, t.En), append(zh, t.Zh)
		}
	}
	return Text{strings.Join(en, ", "), strings.Join(zh, "、")}
}

// ---- sign-in ----

func signInTwoStep(s *Snapshot) *Diagnosis {
	if !s.TwoStep {
		return nil
	}
	return &Diagnosis{
		Cause: Text{"Your account is not locked or restricted. It uses 2-step verification: if you lost the phone with your authenticator app, sign in with one of your recovery codes instead of the 6-digit code.",
			"您的账户未被锁定或限制。账户已开启两步验证：如果丢失了装有验证器应用的手机，请使用恢复码代替 6 位验证码登录。"},
		Step:        Step{Action: ActionOpenArticle, Article: "two-step-verification"},
		OfferTicket: true,
		TicketWhen:  Text{"If you have no recovery codes left, a person must check your identity before turning 2-step off.", "如果恢复码已用完，需要客服核实身份后才能关闭两步验证。"},
	}
}

func signInOK(s *Snapshot) *Diagnosis {
	return &Diagnosis{
		Cause: Text{"Your account is not locked or restricted, so signing in works. If your password is refused on another device, reset it: the reset link goes to your email.",
			"您的账户未被锁定或限制，可以正常登录。如果在其他设备上密码被拒绝，请重置密码，重置链接会发送到您的邮箱。"},
		Step: Step{Action: ActionResetPassword, Article: "forgot-password"},
	}
}

// AnonymousSignIn is the answer for a visitor who is not signed in: without a session we
// cannot look at the account, so it says what usually causes it and how to get back in.
func AnonymousSignIn(now time.Time) *Diagnosis {
	return &Diagnosis{Problem: ProblemSignIn, Rule: "signin.anonymous", ComputedAt: now,
		Cause: Text{"We can't see your account until you sign in. The usual causes: a mistyped password (after 5 wrong tries the account locks for 15 minutes), or a lost 2-step device. Resetting your password works in both cases of a forgotten or locked password.",
			"登录前我们无法查看您的账户。常见原因：密码输入错误（连续错误 5 次账户将锁定 15 分钟），或丢失了两步验证设备。忘记密码或账户被锁定时，重置密码都可以解决。"},
		Step:  Step{Action: ActionResetPassword, Article: "account-locked"},
		Facts: map[string]string{},
	}
}

// ---- email ----

func emailVerified(s *Snapshot) *Diagnosis {
	if !s.EmailVerified {
		return nil
	}
	return &Diagnosis{
		Cause: txt("Your email address {email} is already verified; there is nothing more to do.", "您的邮箱 {email} 已验证，无需其他操作。", "email", s.Email),
		Step:  Step{Action: ActionNone},
	}
}

func emailResend(s *Snapshot) *Diagnosis {
	return &Diagnosis{
		Cause: txt("Your email address {email} is not verified yet. Our email may be in the spam or promotions folder, or the address may be mistyped. Ask for a new email: it replaces the old code, and the newest one always works.",
			"您的邮箱 {email} 尚未验证。我们的邮件可能在垃圾邮件或推广邮件文件夹中，也可能是邮箱地址填写有误。请重新发送验证邮件：新邮件会替换旧验证码，始终以最新的一封为准。",
			"email", s.Email),
		Step: Step{Action: ActionResendEmail, Article: "registration-email"},
	}
}

// ---- money ----

func maintenance(s *Snapshot) *Diagnosis {
	if s.MaintenanceUntil.IsZero() || !s.MaintenanceUntil.After(s.Now) {
		return nil
	}
	return &Diagnosis{
		Cause: txt("Payments, top-ups and withdrawals are paused for planned maintenance until {until}. Nothing was taken from you; try again after {until}.",
			"系统正在进行计划维护，付款、充值和提现暂停至 {until}。您的资金未被扣除，请在 {until} 之后重试。",
			"until", when(s, s.MaintenanceUntil)),
		Step: Step{Action: ActionWaitUntil, Until: s.MaintenanceUntil, Article: "maintenance"},
	}
}

const recentFailure = 30 * 24 * time.Hour

func isPayment(a Activity) bool {
	return a.Type == "payment" || a.Type == "transfer_out" || a.Type == "top_up"
}

func paymentFailedActivity(s *Snapshot) *Diagnosis {
	a := s.latest(recentFailure, func(a Activity) bool { return isPayment(a) && a.Status == "failed" })
	if a == nil {
		return nil
	}
	return byFailureCode(s, a)
}

// kindText names an activity type in both languages.
func kindText(typ string) Text {
	switch typ {
	case "top_up":
		return Text{"top-up", "充值"}
	case "withdrawal":
		return Text{"withdrawal", "提现"}
	case "payment":
		return Text{"payment", "付款"}
	case "transfer_out":
		return Text{"transfer", "转账"}
	case "deposit":
		return Text{"deposit", "充币"}
	}
	return Text{"movement", "交易"}
}

var placeholderRE = regexp.MustCompile(`\s*[:：]?\s*\{[a-z_]+\}`)

// codeMessage is the registered message of an error code with unfilled placeholders cut.
func codeMessage(code string) Text {
	def, ok := apperr.Lookup(code)
	if !ok {
		return Text{"the reason code is " + code, "原因代码为 " + code}
	}
	return Text{placeholderRE.ReplaceAllString(def.Message.En, ""), placeholderRE.ReplaceAllString(def.Message.Zh, "")}
}

// byFailureCode explains a failed movement by its failure code.
func byFailureCode(s *Snapshot, a *Activity) *Diagnosis {
	head := txt("Your {kind} of {amount} at {date} (reference {ref}) failed: {why}", "您于 {date} 的一笔 {amount} {kind}（参考号 {ref}）失败：{why}",
		"kind", kindText(a.Type), "amount", a.Amount+" "+a.Asset, "date", when(s, a.CreatedAt), "ref", a.Ref, "why", codeMessage(a.FailureCode))
	d := &Diagnosis{Related: []string{a.Ref}, Facts: map[string]string{"failure_code": a.FailureCode, "activity_type": a.Type,
		"activity_status": a.Status, "amount": a.Amount + " " + a.Asset}}
	if a.RailStatus != "" {
		d.Facts["rail_status"] = a.RailStatus
	}
	if a.Counterparty != "" {
		d.Facts["counterparty"] = a.Counterparty
	}
	add := func(en, zh string) { d.Cause = Text{head.En + " " + en, head.Zh + zh} }
	art := article(a.FailureCode)
	switch a.FailureCode {
	case "insufficient_funds":
		add("Top up your wallet, then pay again.", "请先为钱包充值，再重新付款。")
		d.Step = Step{Action: ActionTopUp, Article: art}
	case "limit_exceeded":
		if s.Level < identity.MaxLevel {
			add("Verifying your identity raises your limits.", "完成身份认证可提高限额。")
			d.Step = Step{Action: ActionRaiseLevel, Article: art}
		} else {
			next := nextDay(s)
			add("Your daily limit resets at midnight.", "您的每日额度将在零点重置。")
			d.Step = Step{Action: ActionWaitUntil, Until: next, Article: art}
		}
	case "card_expired", "card_declined", "card_insufficient_funds", "card_reported_stolen", "card_not_found":
		add("Use another card, or add the card that replaced it.", "请使用其他银行卡，或绑定替换后的新卡。")
		d.Step = Step{Action: ActionChangeCard, Article: art}
	case "card_otp_invalid", "card_otp_expired", "card_authorization_expired", "card_verification_expired", "card_verification_code_invalid",
		"card_otp_attempts_exceeded", "card_verification_attempts_exceeded":
		add("Nothing was taken from you; start again.", "您的资金未被扣除，请重新操作。")
		d.Step = Step{Action: ActionRetry, Article: art}
	case "payout_name_mismatch":
		add("The bank compares the name on the card with your verified real name. The money is back in your wallet. Withdraw to a card in your own name.",
			"银行会核对卡上的姓名与您的实名认证姓名。资金已退回您的钱包，请提现到本人名下的银行卡。")
		d.Step = Step{Action: ActionChangeCard, Article: art}
		d.OfferTicket = true
		d.TicketWhen = Text{"If the card is in your own name and the bank still refuses it, a person must check it with the bank.", "如果该卡确为本人名下而银行仍拒绝，需要客服与银行核实。"}
	case "payout_rejected":
		add("The money is back in your wallet. Check with your bank, or withdraw to another card.", "资金已退回您的钱包。请向银行核实，或提现到其他银行卡。")
		d.Step = Step{Action: ActionChangeCard, Article: art}
		d.OfferTicket = true
		d.TicketWhen = Text{"If your bank says it did not reject the payment, a person must trace it.", "如果银行表示并未拒绝该笔款项，需要客服追查。"}
	case "maintenance":
		if m := maintenance(s); m != nil {
			add("", "")
			d.Cause = Text{d.Cause.En + " " + m.Cause.En, d.Cause.Zh + m.Cause.Zh}
			d.Step = m.Step
		} else {
			add("The maintenance is over: try again now.", "维护已结束，请立即重试。")
			d.Step = Step{Action: ActionRetry, Article: "maintenance"}
		}
	case "email_not_verified":
		add("Verify your email first.", "请先验证邮箱。")
		d.Step = Step{Action: ActionVerifyEmail, Article: art}
	case "account_frozen", "sending_restricted", "withdrawal_restricted":
		for _, r := range []func(*Snapshot) *Diagnosis{frozenByStaff, restricted, frozenByOwner} {
			if x := r(s); x != nil {
				d.Cause = Text{head.En + " " + x.Cause.En, head.Zh + x.Cause.Zh}
				d.Step, d.NeedsPerson, d.OfferTicket, d.TicketWhen = x.Step, x.NeedsPerson, x.OfferTicket, x.TicketWhen
				for k, v := range x.Facts {
					d.Facts[k] = v
				}
				return d
			}
		}
		add("The restriction has been lifted since: try again now.", "该限制已解除，请立即重试。")
		d.Step = Step{Action: ActionRetry, Article: art}
	default:
		if art != "" {
			add("The help article explains this reason and what to do.", "帮助文章说明了该原因及处理方法。")
			d.Step = Step{Action: ActionOpenArticle, Article: art}
			d.OfferTicket = true
			d.TicketWhen = Text{"If the article does not solve it, a person will look at this record.", "如果文章未能解决，客服会查看这笔记录。"}
		} else {
			add("We don't have a self-service fix for this reason; a person will look at it.", "此原因暂无自助解决办法，客服会为您处理。")
			d.NeedsPerson = true
		}
	}
	return d
}

func nextDay(s *Snapshot) time.Time {
	n := s.Now.In(s.Loc)
	return time.Date(n.Year(), n.Month(), n.Day()+1, 0, 0, 0, 0, s.Loc)
}

// limitReached answers when flow's daily or monthly limit is used up.
func limitReached(flow string) func(*Snapshot) *Diagnosis {
	return func(s *Snapshot) *Diagnosis {
		if !s.Known.Limits {
			return nil
		}
		for _, l := range s.Limits {
			if l.Flow != flow {
				continue
			}
			d := &Diagnosis{Facts: map[string]string{"flow": flow, "daily_used_minor": strconv.FormatInt(l.DailyUsed, 10),
				"daily_limit_minor": strconv.FormatInt(l.DailyLimit, 10), "monthly_used_minor": strconv.FormatInt(l.MonthlyUsed, 10),
				"monthly_limit_minor": strconv.FormatInt(l.MonthlyLimit, 10), "limit_asset": l.Asset}}
			switch {
			case l.MonthlyLimit > 0 && l.MonthlyUsed >= l.MonthlyLimit:
				d.Cause = Text{"You have used this month's limit for this kind of payment.", "您本月此类交易的额度已用完。"}
				if s.Level < identity.MaxLevel {
					d.Step = Step{Action: ActionRaiseLevel, Article: article("limit_exceeded")}
				} else {
					n := s.Now.In(s.Loc)
					d.Step = Step{Action: ActionWaitUntil, Until: time.Date(n.Year(), n.Month()+1, 1, 0, 0, 0, 0, s.Loc)}
				}
				return d
			case l.DailyLimit > 0 && l.DailyUsed >= l.DailyLimit:
				d.Cause = Text{"You have used today's limit for this kind of payment; it resets at midnight.", "您今日此类交易的额度已用完，将在零点重置。"}
				d.Step = Step{Action: ActionWaitUntil, Until: nextDay(s), Article: article("limit_exceeded")}
				return d
			}
		}
		return nil
	}
}

func noBalance(s *Snapshot) *Diagnosis {
	if !s.Known.Balances || len(s.Balances) == 0 {
		return nil
	}
	for _, b := range s.Balances {
		if b.AvailableMinor > 0 {
			return nil
		}
	}
	b := s.Balances[0]
	return &Diagnosis{
		Cause: txt("Your wallet has no money available ({amount} {asset}), so payments fail with \"insufficient funds\". Top up from a bank card first.",
			"您的钱包可用余额为 {amount} {asset}，付款会因“余额不足”而失败。请先用银行卡充值。", "amount", b.Available, "asset", b.Asset),
		Step:  Step{Action: ActionTopUp, Article: article("insufficient_funds")},
		Facts: map[string]string{"available": b.Available + " " + b.Asset},
	}
}

// historyUnknown is the honest end of the money problems when the history could not be
// read: we do not claim that nothing failed.
func historyUnknown(s *Snapshot) *Diagnosis {
	if s.Known.Activity {
		return nil
	}
	return &Diagnosis{
		Cause: Text{"We could not read your recent activity just now, so we can't tell why it failed. A person will look at it with your account's state attached.",
			"暂时无法读取您最近的交易记录，因此无法判断失败原因。客服会结合您账户的当前状态为您处理。"},
		NeedsPerson: true,
	}
}

// ---- withdrawals ----

// withdrawalGrace is how long past its expected time a withdrawal in flight may run
// before the troubleshooter calls it late and hands it to a person.
const (
	withdrawalGrace     = 30 * time.Minute
	withdrawalNoETA     = 24 * time.Hour // in flight this long without an expected time: late
	bankCreditingWindow = 24 * time.Hour // a completed payout may take this long to show at the bank
)

func withdrawalLatest(s *Snapshot) *Diagnosis {
	a := s.latest(recentFailure, func(a Activity) bool { return a.Type == "withdrawal" })
	if a == nil {
		return nil
	}
	base := map[string]string{"activity_type": a.Type, "activity_status": a.Status, "amount": a.Amount + " " + a.Asset}
	if a.RailStatus != "" {
		base["rail_status"] = a.RailStatus
	}
	if a.Counterparty != "" {
		base["counterparty"] = a.Counterparty
	}
	switch a.Status {
	case "failed":
		return byFailureCode(s, a)
	case "pending", "processing":
		st := a.RailStatus
		if st == "" {
			st = a.Status
		}
		due := a.ExpectedBy
		late := (!due.IsZero() && s.Now.After(due.Add(withdrawalGrace))) || (due.IsZero() && s.Now.Sub(a.CreatedAt) > withdrawalNoETA)
		head := txt("Your withdrawal of {amount} to {to} (reference {ref}) was submitted at {date} and is {status} at the bank.",
			"您于 {date} 提交的 {amount} 提现（至 {to}，参考号 {ref}）目前在银行处于“{status}”状态。",
			"amount", a.Amount+" "+a.Asset, "to", orDash(a.Counterparty), "ref", a.Ref, "date", when(s, a.CreatedAt), "status", railText(st))
		d := &Diagnosis{Related: []string{a.Ref}, Facts: base}
		if late {
			d.Cause = Text{head.En + " It is taking longer than it should, so a person will trace it with the bank.", head.Zh + "处理时间已超出正常范围，客服将与银行追查。"}
			d.NeedsPerson = true
			return d
		}
		if due.IsZero() {
			d.Cause = Text{head.En + " Nothing is needed from you; it completes by itself, usually within a day.", head.Zh + "您无需任何操作，通常一天内自动完成。"}
			d.Step = Step{Action: ActionWaitUntil, Until: a.CreatedAt.Add(withdrawalNoETA), Article: "withdrawal-failed"}
			return d
		}
		d.Cause = txt(head.En+" Nothing is needed from you; it should complete by {until}.", head.Zh+"您无需任何操作，预计在 {until} 前完成。", "until", when(s, due))
		d.Step = Step{Action: ActionWaitUntil, Until: due, Article: "withdrawal-failed"}
		return d
	case "completed":
		done := a.UpdatedAt
		head := txt("Your withdrawal of {amount} to {to} (reference {ref}) was paid out by OKPay at {date}.",
			"您的 {amount} 提现（至 {to}，参考号 {ref}）已于 {date} 由 OKPay 付出。",
			"amount", a.Amount+" "+a.Asset, "to", orDash(a.Counterparty), "ref", a.Ref, "date", when(s, done))
		d := &Diagnosis{Related: []string{a.Ref}, Facts: base}
		if s.Now.Sub(done) < bankCreditingWindow {
			until := done.Add(bankCreditingWindow)
			d.Cause = txt(head.En+" Some banks take up to a day to show it on the card; give it until {until}, quoting the reference if you ask your bank.",
				head.Zh+"部分银行最长需要一天才会入账，请等到 {until}；如向银行查询，请提供参考号。", "until", when(s, until))
			d.Step = Step{Action: ActionWaitUntil, Until: until, Article: "withdrawal-failed"}
			return d
		}
		d.Cause = Text{head.En + " It should have arrived by now. A person will trace it with the bank; the ticket carries the reference.",
			head.Zh + "按理应已到账。客服将与银行追查，工单会附上参考号。"}
		d.NeedsPerson = true
		return d
	}
	return nil
}

func railText(st string) Text {
	switch st {
	case "pending":
		return Text{"submitted", "已提交"}
	case "processing":
		return Text{"processing", "处理中"}
	case "succeeded":
		return Text{"paid out", "已付出"}
	}
	return Text{st, st}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// ---- unauthorized payments ----

// outgoing returns the references of recent completed outgoing movements, newest first.
func outgoing(s *Snapshot, window time.Duration, limit int) []string {
	var out []string
	for _, a := range s.Activity {
		if s.Now.Sub(a.CreatedAt) > window || len(out) >= limit {
			break
		}
		if a.Out() && a.Status != "failed" {
			out = append(out, a.Ref)
		}
	}
	return out
}

func unauthorizedFrozen(s *Snapshot) *Diagnosis {
	it := s.item(identity.StatusFrozen, identity.StatusFrozenByOwner)
	if it == nil {
		return nil
	}
	return &Diagnosis{
		Cause: Text{"Your account is frozen, so no more money can leave it. A payment you did not make needs a person to investigate: the ticket lists your recent payments, so you only need to say which ones were not you.",
			"您的账户已冻结，资金无法再转出。非本人操作的付款需要客服调查：工单会列出您最近的付款，您只需指出哪些不是本人操作。"},
		NeedsPerson: true,
		Related:     outgoing(s, recentFailure, 10),
		Facts:       map[string]string{"frozen": "true"},
	}
}

func unauthorizedFreezeFirst(s *Snapshot) *Diagnosis {
	d := &Diagnosis{
		Cause: Text{"A payment you did not make needs a person to investigate. First freeze your account so no more money can leave it (you can unfreeze it yourself later), then open a ticket: it lists your recent payments.",
			"非本人操作的付款需要客服调查。请先冻结账户，阻止资金继续转出（之后可自行解冻），然后提交工单：工单会列出您最近的付款。"},
		Step:        Step{Action: ActionFreeze, Article: "unauthorized-transaction"},
		NeedsPerson: true,
		Related:     outgoing(s, recentFailure, 10),
		Facts:       map[string]string{"frozen": "false"},
	}
	if !s.TwoStep {
		d.Facts["advice"] = "two_step_off"
	}
	return d
}

// ---- coins, deposits, holds ----

func depositConfirming(s *Snapshot) *Diagnosis {
	a := s.latest(7*24*time.Hour, func(a Activity) bool { return a.Type == "deposit" && a.Status == "confirming" })
	if a == nil {
		return nil
	}
	d := &Diagnosis{
		Cause: txt("Your {asset} deposit of {amount} (reference {ref}) has {n} of {m} confirmations on the chain. It is credited automatically at {m}.",
			"您的 {amount} {asset} 充币（参考号 {ref}）已获得 {n}/{m} 个区块确认，达到 {m} 个确认后自动到账。",
			"asset", a.Asset, "amount", a.Amount, "ref", a.Ref, "n", a.Confirmations, "m", a.ConfirmationsRequired),
		Step:    Step{Action: ActionWaitUntil, Until: a.ExpectedBy, Article: "coins-not-released"},
		Related: []string{a.Ref},
		Facts:   map[string]string{"confirmations": strconv.Itoa(a.Confirmations), "confirmations_required": strconv.Itoa(a.ConfirmationsRequired)},
	}
	if a.ExpectedBy.IsZero() {
		d.Step = Step{Action: ActionNone, Article: "coins-not-released"}
	}
	return d
}

func onHold(s *Snapshot) *Diagnosis {
	a := s.latest(activityWindow, func(a Activity) bool { return a.Status == "on_hold" })
	if a == nil {
		return nil
	}
	d := &Diagnosis{Related: []string{a.Ref}, Facts: map[string]string{"activity_type": a.Type, "amount": a.Amount + " " + a.Asset}}
	if !a.HoldUntil.IsZero() && a.HoldUntil.After(s.Now) {
		d.Cause = txt("{amount} {asset} (reference {ref}) is on hold until {until}, then released automatically.",
			"{amount} {asset}（参考号 {ref}）被暂时冻结至 {until}，届时自动放行。", "amount", a.Amount, "asset", a.Asset, "ref", a.Ref, "until", when(s, a.HoldUntil))
		d.Step = Step{Action: ActionWaitUntil, Until: a.HoldUntil, Article: "transaction-held"}
		d.Facts["hold_until"] = a.HoldUntil.UTC().Format(time.RFC3339)
		return d
	}
	d.Cause = txt("{amount} {asset} (reference {ref}) is on hold for a review with no set end. A person will check it; the ticket carries the reference.",
		"{amount} {asset}（参考号 {ref}）因审核被暂时冻结，暂无结束时间。客服会为您核查，工单会附上参考号。", "amount", a.Amount, "asset", a.Asset, "ref", a.Ref)
	d.NeedsPerson = true
	return d
}

func escrowNotBuilt(s *Snapshot) *Diagnosis {
	return &Diagnosis{
		Cause: Text{"OKPay does not hold coin trades in escrow yet, so there is no trade here that we could release. If you paid a seller, a person must look at the payment and the trade with you: the ticket lists your recent payments.",
			"OKPay 目前尚未提供币的担保交易，因此这里没有可以放行的交易。如果您已向卖家付款，需要客服与您一起核查付款和交易：工单会列出您最近的付款。"},
		NeedsPerson: true,
		Related:     outgoing(s, 7*24*time.Hour, 10),
		Facts:       map[string]string{"escrow": "not_available"},
	}
}

// ---- cards ----

func cardExpired(s *Snapshot) *Diagnosis {
	if !s.Known.Cards {
		return nil
	}
	for _, c := range s.Cards {
		if c.FailureCode == "" && !s.Now.Before(c.ExpiresAt(s.Loc)) {
			return &Diagnosis{
				Cause: txt("Your {brand} card ending {last4} expired at the end of {mm}/{yy}. Add the card that replaced it, then remove the old one.",
					"您尾号 {last4} 的 {brand} 卡已于 {mm}/{yy} 月底过期。请绑定替换后的新卡，再删除旧卡。",
					"brand", c.Brand, "last4", c.Last4, "mm", twoDigits(c.ExpMonth), "yy", twoDigits(c.ExpYear%100)),
				Step:  Step{Action: ActionChangeCard, Article: "change-bank-card"},
				Facts: map[string]string{"card_last4": c.Last4, "card_expiry": twoDigits(c.ExpMonth) + "/" + strconv.Itoa(c.ExpYear)},
			}
		}
	}
	return nil
}

func cardExpiring(s *Snapshot) *Diagnosis {
	if !s.Known.Cards {
		return nil
	}
	for _, c := range s.Cards {
		if end := c.ExpiresAt(s.Loc); c.FailureCode == "" && end.Sub(s.Now) < 31*24*time.Hour {
			return &Diagnosis{
				Cause: txt("Your {brand} card ending {last4} expires at the end of {mm}/{yy}. Add the new card now so top-ups and withdrawals keep working.",
					"您尾号 {last4} 的 {brand} 卡将于 {mm}/{yy} 月底过期。请现在绑定新卡，以免影响充值和提现。",
					"brand", c.Brand, "last4", c.Last4, "mm", twoDigits(c.ExpMonth), "yy", twoDigits(c.ExpYear%100)),
				Step:  Step{Action: ActionChangeCard, Article: "change-bank-card"},
				Facts: map[string]string{"card_last4": c.Last4},
			}
		}
	}
	return nil
}

func cardFailedRecently(s *Snapshot) *Diagnosis {
	a := s.latest(recentFailure, func(a Activity) bool {
		return (a.Type == "top_up" || a.Type == "withdrawal") && a.Status == "failed" && (strings.HasPrefix(a.FailureCode, "card_") || strings.HasPrefix(a.FailureCode, "payout_"))
	})
	if a == nil {
		return nil
	}
	return byFailureCode(s, a)
}

// cardVerificationFailed: the bank refused the small verification charge, so the card was
// never usable.
func cardVerificationFailed(s *Snapshot) *Diagnosis {
	if !s.Known.Cards {
		return nil
	}
	for _, c := range s.Cards {
		if c.FailureCode == "" {
			continue
		}
		return &Diagnosis{
			Cause: txt("Your {brand} card ending {last4} could not be verified: {why} Add another card (or the one that replaced it), then remove this one.",
				"您尾号 {last4} 的 {brand} 卡未能通过验证：{why}请绑定其他银行卡（或替换后的新卡），再删除这张卡。",
				"brand", c.Brand, "last4", c.Last4, "why", codeMessage(c.FailureCode)),
			Step:  Step{Action: ActionChangeCard, Article: firstNonEmpty(article(c.FailureCode), "change-bank-card")},
			Facts: map[string]string{"card_last4": c.Last4, "failure_code": c.FailureCode},
		}
	}
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func cardChange(s *Snapshot) *Diagnosis {
	d := &Diagnosis{
		Cause: Text{"You can change your bank card yourself: add the new card (it is verified with a small charge whose code appears on your statement), then remove the old one.",
			"您可以自行更换银行卡：先绑定新卡（通过一笔小额验证扣款，验证码显示在银行账单上），再删除旧卡。"},
		Step: Step{Action: ActionChangeCard, Article: "change-bank-card"},
	}
	if s.Known.Cards {
		d.Facts = map[string]string{"cards": strconv.Itoa(len(s.Cards))}
	}
	return d
}

func twoDigits(n int) string {
	if n < 10 && n >= 0 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// ---- automatic payments ----

// autoPayRepeated: automatic payments do not exist in OKPay yet, but repeated payments to
// one merchant look like one to the user; a person checks them.
func autoPayRepeated(s *Snapshot) *Diagnosis {
	by := map[string][]string{}
	for _, a := range s.Activity {
		if s.Now.Sub(a.CreatedAt) > 60*24*time.Hour {
			break
		}
		if a.Type == "payment" && a.Status != "failed" && a.Counterparty != "" {
			by[a.Counterparty] = append(by[a.Counterparty], a.Ref)
		}
	}
	for _, a := range s.Activity {
		refs := by[a.Counterparty]
		if len(refs) < 2 {
			continue
		}
		return &Diagnosis{
			Cause: txt("OKPay does not take automatic payments (subscriptions) yet: every payment from your wallet was confirmed in your account. We see {n} payments to {who} in the last 60 days. If you did not agree to them, a person will check them with the merchant.",
				"OKPay 目前尚未提供自动扣款（订阅）功能：钱包中的每笔付款都是在您的账户中确认的。最近 60 天内有 {n} 笔付款给 {who}。如果您并未同意这些付款，客服会与商户核查。",
				"n", len(refs), "who", a.Counterparty),
			Step:        Step{Action: ActionOpenArticle, Article: "cancel-automatic-payment"},
			OfferTicket: true,
			TicketWhen:  Text{"If you did not agree to these payments.", "如果您并未同意这些付款。"},
			Related:     refs,
			Facts:       map[string]string{"automatic_payments": "not_available", "counterparty": a.Counterparty},
		}
	}
	return nil
}

func autoPayNone(s *Snapshot) *Diagnosis {
	return &Diagnosis{
		Cause: Text{"OKPay does not take automatic payments (subscriptions) yet, so there is nothing to cancel: no money leaves your wallet without you confirming it. If a shop charges your bank card directly, cancel it with the shop or your bank.",
			"OKPay 目前尚未提供自动扣款（订阅）功能，因此没有需要取消的扣款：未经您确认，资金不会从钱包转出。如果商户直接从您的银行卡扣款，请联系商户或银行取消。"},
		Step:        Step{Action: ActionOpenArticle, Article: "cancel-automatic-payment"},
		OfferTicket: true,
		TicketWhen:  Text{"If money left your wallet that you did not confirm.", "如果有未经您确认的资金从钱包转出。"},
		Facts:       map[string]string{"automatic_payments": "not_available"},
	}
}

// ---- the rest ----

func otherPerson(s *Snapshot) *Diagnosis {
	d := &Diagnosis{
		Cause: Text{"Tell us what happened in your own words. A person will read it with your account's current state attached, so you won't be asked for it again.",
			"请用您自己的话描述发生了什么。客服会结合您账户的当前状态查看，不会再向您索要这些信息。"},
		NeedsPerson: true,
	}
	if len(s.Items) > 0 {
		d.Facts = map[string]string{"status_items": statusKinds(s)}
	}
	return d
}

func unknown(s *Snapshot) *Diagnosis {
	return &Diagnosis{
		Cause: Text{"We checked your account's restrictions, sign-in, email, recent activity, cards, limits and maintenance, and found nothing that explains this. We would rather say so than guess: a person will look at it with what we checked attached.",
			"我们检查了您账户的限制、登录、邮箱、近期交易、银行卡、限额和系统维护情况，没有发现可以解释该问题的原因。我们不想胡乱猜测：客服会结合这些检查结果为您处理。"},
		NeedsPerson: true,
		Facts:       map[string]string{"status_items": statusKinds(s)},
	}
}

func statusKinds(s *Snapshot) string {
	var k []string
	for _, it := range s.Items {
		k = append(k, it.Kind)
	}
	return strings.Join(k, ",")
}

// ---- suggestions ----

// Suggest returns the problems the snapshot points at, most pressing first.
func Suggest(s *Snapshot) []Suggestion {
	var out []Suggestion
	add := func(problem string, why Text) {
		for _, x := range out {
			if x.Problem == problem {
				return
			}
		}
		if len(out) < maxSuggestions {
			p, _ := ProblemByID(problem)
			out = append(out, Suggestion{Problem: problem, Title: p.Title, Why: why})
		}
	}
	if it := s.item(identity.StatusLocked); it != nil {
		add(ProblemSignIn, txt("Your account is locked until {until}.", "您的账户被锁定至 {until}。", "until", when(s, it.Until)))
	}
	if it := s.item(identity.StatusFrozen, identity.StatusFrozenByOwner, identity.StatusRestricted); it != nil {
		add(ProblemRestricted, Text{"Your account is frozen or restricted.", "您的账户已被冻结或受限。"})
	}
	if !s.EmailVerified {
		add(ProblemNoEmail, txt("{email} is not verified yet.", "{email} 尚未验证。", "email", s.Email))
	}
	week := 7 * 24 * time.Hour
	if a := s.latest(week, func(a Activity) bool {
		return a.Type == "withdrawal" && (a.Status == "failed" || a.Status == "pending" || a.Status == "processing")
	}); a != nil {
		why := txt("Your withdrawal {ref} of {amount} failed.", "您的提现 {ref}（{amount}）失败。", "ref", a.Ref, "amount", a.Amount+" "+a.Asset)
		if a.Status != "failed" {
			why = txt("Your withdrawal {ref} of {amount} is on its way.", "您的提现 {ref}（{amount}）正在处理中。", "ref", a.Ref, "amount", a.Amount+" "+a.Asset)
		}
		add(ProblemWithdrawal, why)
	}
	if a := s.latest(week, func(a Activity) bool { return isPayment(a) && a.Status == "failed" }); a != nil {
		add(ProblemPayment, txt("Your {kind} {ref} of {amount} failed.", "您的{kind} {ref}（{amount}）失败。", "kind", kindText(a.Type), "ref", a.Ref, "amount", a.Amount+" "+a.Asset))
	}
	if s.Known.Cards {
		for _, c := range s.Cards {
			if c.FailureCode == "" && !s.Now.Before(c.ExpiresAt(s.Loc)) {
				add(ProblemCard, txt("Your card ending {last4} has expired.", "您尾号 {last4} 的卡已过期。", "last4", c.Last4))
				break
			}
		}
	}
	if a := s.latest(week, func(a Activity) bool { return a.Status == "on_hold" || a.Status == "confirming" }); a != nil {
		add(ProblemCoins, txt("{amount} {asset} ({ref}) is not available yet.", "{amount} {asset}（{ref}）尚未到账。", "amount", a.Amount, "asset", a.Asset, "ref", a.Ref))
	}
	if !s.MaintenanceUntil.IsZero() && s.MaintenanceUntil.After(s.Now) {
		add(ProblemPayment, txt("Payments are paused for maintenance until {until}.", "系统维护中，付款暂停至 {until}。", "until", when(s, s.MaintenanceUntil)))
	}
	return out
}
