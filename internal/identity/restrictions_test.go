package identity

import (
	"context"
	"strings"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
)

func canSend(s *Service, d *db.DB, userID string) error {
	ctx := context.Background()
	return d.Read(ctx, func(tx *db.Tx) error { return s.CanSend(ctx, tx, userID) })
}

func TestFreezeAndUnfreeze(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, clock := newTestService(t, d)
		c := laptop
		alice := registerVerified(t, s, rec, "alice@example.com", &c)
		uid := alice.User.ID

		// Owner freezes at once, with an automatic unfreeze in 3 days.
		until := clock.Now().Add(72 * time.Hour)
		_, err := s.FreezeSelf(ctx, uid, FreezeInput{Reason: "lost my phone", Until: clock.Now().Add(-time.Hour)}, c)
		wantCode(t, err, apperr.CodeValidation)
		r, err := s.FreezeSelf(ctx, uid, FreezeInput{Reason: "lost my phone", Until: until}, c)
		if err != nil || !r.ByOwner || r.Kind != KindFreeze {
			t.Fatalf("freeze %+v %v", r, err)
		}
		_, _, err = s.Authenticate(ctx, alice.Token)
		wantCode(t, err, apperr.CodeUnauthenticated)
		e := wantCode(t, canSend(s, d, uid), CodeAccountFrozen)
		if e.Params["until"] == "" {
			t.Fatal("frozen error lacks until")
		}
		must(t, d.Read(ctx, func(tx *db.Tx) error { return s.CanReceive(ctx, tx, uid) }))
		err = d.Read(ctx, func(tx *db.Tx) error { return s.CanWithdraw(ctx, tx, uid) })
		wantCode(t, err, CodeAccountFrozen)
		_, err = s.FreezeSelf(ctx, uid, FreezeInput{}, c)
		wantCode(t, err, CodeAlreadyFrozen)

		st, err := s.AccountStatus(ctx, uid)
		must(t, err)
		if len(st.Items) != 1 || st.Items[0].Kind != StatusFrozenByOwner || st.CanSend ||
			st.Items[0].Actions[0] != ActionWaitUntil || st.Items[0].Actions[1] != ActionUnfreeze || st.Items[0].Reason != "lost my phone" {
			t.Fatalf("status %+v", st.Items)
		}

		// Sign-in still works (to see the account and unfreeze); unfreezing needs password +
		// an emailed code (no 2-step here).
		si, err := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		must(t, err)
		wantCode(t, s.Unfreeze(ctx, si.Session.ID, UnfreezeInput{Password: goodPassword, Code: "123456"}, c), CodeCodeExpired)
		_, err = s.RequestUnfreezeCode(ctx, si.Session.ID, c)
		must(t, err)
		code := codeOf(t, rec.last(t, mailUnfreezeCode, "alice@example.com"))
		wantCode(t, s.Unfreeze(ctx, si.Session.ID, UnfreezeInput{Password: "Wrong-pass1", Code: code}, c), CodePasswordIncorrect)
		must(t, s.Unfreeze(ctx, si.Session.ID, UnfreezeInput{Password: goodPassword, Code: code}, c))
		must(t, canSend(s, d, uid))
		if rec.count(mailUnfrozen, "alice@example.com") != 1 || !rec.hasAudit("account.unfreeze", uid) {
			t.Fatal("unfreeze not mailed or audited")
		}
		wantCode(t, s.Unfreeze(ctx, si.Session.ID, UnfreezeInput{Password: goodPassword, Code: code}, c), CodeNotFrozen)

		// Automatic unfreeze at the chosen date.
		_, err = s.FreezeSelf(ctx, uid, FreezeInput{Until: clock.Now().Add(time.Hour)}, c)
		must(t, err)
		wantCode(t, canSend(s, d, uid), CodeAccountFrozen)
		clock.Advance(time.Hour + time.Second)
		must(t, canSend(s, d, uid))

		// A freeze by an agent: the owner cannot lift it; a customer cannot act as agent;
		// an agent can, with a reason.
		bc := phone
		bob := registerVerified(t, s, rec, "bob@example.com", &bc)
		_, err = s.AgentFreeze(ctx, bob.User.ID, uid, "nope", time.Time{}, bc)
		wantCode(t, err, apperr.CodeForbidden)
		agent := makeStaff(t, s, "agent@okpay.test", RoleAgent)
		_, err = s.AgentFreeze(ctx, agent.ID, uid, "owner called: phone stolen", time.Time{}, bc)
		must(t, err)
		si, err = s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		must(t, err)
		wantCode(t, s.Unfreeze(ctx, si.Session.ID, UnfreezeInput{Password: goodPassword, Code: "1"}, c), CodeUnfreezeNeedsSupport)
		wantCode(t, s.AgentUnfreeze(ctx, bob.User.ID, uid, "x", bc), apperr.CodeForbidden)
		wantCode(t, s.AgentUnfreeze(ctx, agent.ID, uid, "", bc), apperr.CodeValidation)
		must(t, s.AgentUnfreeze(ctx, agent.ID, uid, "identity checked by video call", bc))
		must(t, canSend(s, d, uid))
	})
}

func TestUnfreezeWithTwoStep(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, clock := newTestService(t, d)
		c := laptop
		alice := registerVerified(t, s, rec, "alice@example.com", &c)
		en, err := s.BeginTOTP(ctx, alice.Session.ID)
		must(t, err)
		_, err = s.ConfirmTOTP(ctx, alice.Session.ID, totpNow(t, en.Secret, clock.Now()), c)
		must(t, err)
		_, err = s.FreezeSelf(ctx, alice.User.ID, FreezeInput{}, c)
		must(t, err)
		clock.Advance(30 * time.Second)
		si, err := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		must(t, err)
		done, err := s.SignInSecondStep(ctx, si.PendingToken, totpNow(t, en.Secret, clock.Now()), c)
		must(t, err)
		// Same code again: replay refused.
		wantCode(t, s.Unfreeze(ctx, done.Session.ID, UnfreezeInput{Password: goodPassword, Code: totpNow(t, en.Secret, clock.Now())}, c), CodeTOTPInvalid)
		clock.Advance(30 * time.Second)
		must(t, s.Unfreeze(ctx, done.Session.ID, UnfreezeInput{Password: goodPassword, Code: totpNow(t, en.Secret, clock.Now())}, c))
		must(t, canSend(s, d, alice.User.ID))
	})
}

func TestScopedRestrictionsAndStatus(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, clock := newTestService(t, d)
		c := laptop
		alice := registerVerified(t, s, rec, "alice@example.com", &c)
		uid := alice.User.ID
		risk := makeStaff(t, s, "risk@okpay.test", RoleRiskReviewer)
		agent := makeStaff(t, s, "agent@okpay.test", RoleAgent)

		_, err := s.Restrict(ctx, agent.ID, uid, RestrictInput{Scopes: []Scope{ScopeWithdraw}, Reason: "x"}, c)
		wantCode(t, err, apperr.CodeForbidden) // agents cannot add risk restrictions
		_, err = s.Restrict(ctx, risk.ID, uid, RestrictInput{Scopes: []Scope{"fly"}, Reason: "x"}, c)
		wantCode(t, err, apperr.CodeValidation)
		wr, err := s.Restrict(ctx, risk.ID, uid, RestrictInput{Scopes: []Scope{ScopeWithdraw}, Reason: "unusual withdrawals",
			Until: clock.Now().Add(48 * time.Hour)}, c)
		must(t, err)
		must(t, canSend(s, d, uid)) // only withdrawals are blocked
		err = d.Read(ctx, func(tx *db.Tx) error { return s.CanWithdraw(ctx, tx, uid) })
		wantCode(t, err, CodeWithdrawRestricted)

		_, err = s.Restrict(ctx, risk.ID, uid, RestrictInput{Scopes: []Scope{ScopeSend, ScopeReceive}, Reason: "chargeback review"}, c)
		must(t, err)
		wantCode(t, canSend(s, d, uid), CodeSendingRestricted)
		err = d.Read(ctx, func(tx *db.Tx) error { return s.CanReceive(ctx, tx, uid) })
		wantCode(t, err, CodeReceivingRestricted)

		st, err := s.AccountStatus(ctx, uid)
		must(t, err)
		if len(st.Items) != 2 || st.Items[0].Code != CodeWithdrawRestricted || st.Items[0].Actions[0] != ActionWaitUntil ||
			st.Items[1].Code != CodeSendingRestricted || st.Items[1].Actions[0] != ActionContactSupport {
			t.Fatalf("status %+v", st.Items)
		}
		if st.Level.Level != 0 || st.Level.Next == nil || st.Level.NextActions[1] != ActionSubmitIdentity || st.Level.UsedKnown {
			t.Fatalf("level %+v", st.Level)
		}
		// Staff may read anyone's status; customers only their own (there is no method to
		// read someone else's).
		bc := phone
		bob := registerVerified(t, s, rec, "bob@example.com", &bc)
		_, err = s.AgentAccountStatus(ctx, bob.User.ID, uid)
		wantCode(t, err, apperr.CodeForbidden)
		if _, err := s.AgentAccountStatus(ctx, agent.ID, uid); err != nil {
			t.Fatal(err)
		}

		// Sign-in restriction: sessions end, sign-in refused.
		_, err = s.Restrict(ctx, risk.ID, uid, RestrictInput{Scopes: []Scope{ScopeSignIn}, Reason: "account takeover suspected"}, c)
		must(t, err)
		_, _, err = s.Authenticate(ctx, alice.Token)
		wantCode(t, err, apperr.CodeUnauthenticated)
		_, err = s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		wantCode(t, err, CodeSigninRestricted)

		// Lifting: reason required, agents cannot lift risk restrictions, risk can.
		wantCode(t, s.LiftRestriction(ctx, risk.ID, wr.ID, "", c), apperr.CodeValidation)
		wantCode(t, s.LiftRestriction(ctx, agent.ID, wr.ID, "ok", c), apperr.CodeForbidden)
		must(t, s.LiftRestriction(ctx, risk.ID, wr.ID, "customer explained", c))
		wantCode(t, s.LiftRestriction(ctx, risk.ID, wr.ID, "again", c), apperr.CodeNotFound)
		must(t, d.Read(ctx, func(tx *db.Tx) error { return s.CanWithdraw(ctx, tx, uid) }))
		if !rec.hasAudit("account.restrict", uid) || !rec.hasAudit("account.restriction_lift", uid) {
			t.Fatal("restrictions not audited")
		}
	})
}

type fakeUsage struct{}

func (fakeUsage) LimitsUsed(ctx context.Context, userID, asset string) (int64, int64, error) {
	return 250_00, 1_250_00, nil
}

func TestIdentityLevels(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, _ := newTestService(t, d, func(c *Config) { c.Usage = fakeUsage{} })
		c := laptop
		unverified := register(t, s, "new@example.com", c)
		good := IdentityInput{RealName: " 王  小明 ", IDType: IDTypeCNResident, IDNumber: "11010519491231002x", BirthDate: "1949-12-31"}
		_, err := s.SubmitIdentity(ctx, unverified.User.ID, good, c)
		wantCode(t, err, CodeEmailNotVerified)

		alice := registerVerified(t, s, rec, "alice@example.com", &c)
		uid := alice.User.ID
		bad := good
		bad.BirthDate = "1950-01-01"
		_, err = s.SubmitIdentity(ctx, uid, bad, c)
		if e := wantCode(t, err, apperr.CodeValidation); e.Fields[0].Code != FieldBirthDateMismatch {
			t.Fatalf("fields %+v", e.Fields)
		}
		bad = good
		bad.IDNumber = "110105194912310021"
		_, err = s.SubmitIdentity(ctx, uid, bad, c)
		wantCode(t, err, apperr.CodeValidation)
		_, err = s.SubmitIdentity(ctx, uid, IdentityInput{RealName: "Kid", IDType: IDTypePassport, IDNumber: "E12345678", BirthDate: "2020-01-01"}, c)
		wantCode(t, err, apperr.CodeValidation) // under 18

		doc := DocumentInput{Kind: "id_front", StorageRef: "docs/abc", ContentType: "image/jpeg", SizeBytes: 200_000,
			SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}
		_, err = s.SubmitDocument(ctx, uid, doc, c)
		if e := wantCode(t, err, CodeLevelRequirement); e.Params["level"] != "1" {
			t.Fatal(e.Params)
		}

		p, err := s.SubmitIdentity(ctx, uid, good, c)
		if err != nil || p.RealName != "王 小明" || p.IDMasked != "110***********002X" {
			t.Fatalf("profile %+v %v", p, err)
		}
		var sealed string
		must(t, d.Read(ctx, func(tx *db.Tx) error {
			return tx.QueryRowContext(ctx, `SELECT id_number_sealed FROM identity_profiles WHERE user_id = $1`, uid).Scan(&sealed)
		}))
		if sealed == "" || strings.Contains(sealed, "11010519491231002X") {
			t.Fatal("ID number stored in clear")
		}
		st, err := s.AccountStatus(ctx, uid)
		must(t, err)
		if st.Level.Level != 1 || st.Level.Limits.DailyMinor != 20_000_00 || !st.Level.UsedKnown || st.Level.DailyUsed != 250_00 ||
			st.Level.NextActions[1] != ActionUploadDocument {
			t.Fatalf("level %+v", st.Level)
		}

		_, err = s.SubmitDocument(ctx, uid, DocumentInput{Kind: "selfie", StorageRef: "x", ContentType: "text/html", SizeBytes: 1, SHA256: doc.SHA256}, c)
		wantCode(t, err, apperr.CodeValidation)
		d1, err := s.SubmitDocument(ctx, uid, doc, c)
		must(t, err)
		d2, err := s.SubmitDocument(ctx, uid, doc, c)
		must(t, err)
		if st, _ := s.AccountStatus(ctx, uid); st.Level.NextActions[0] != ActionAwaitReview {
			t.Fatalf("next %+v", st.Level.NextActions)
		}

		agent := makeStaff(t, s, "agent@okpay.test", RoleAgent)
		_, err = s.PendingDocuments(ctx, uid, 10)
		wantCode(t, err, apperr.CodeForbidden)
		q, err := s.PendingDocuments(ctx, agent.ID, 10)
		if err != nil || len(q) != 2 {
			t.Fatalf("queue %d %v", len(q), err)
		}
		_, err = s.ReviewDocument(ctx, uid, d1.ID, true, "", c)
		wantCode(t, err, apperr.CodeForbidden) // nobody approves their own (or without the role)
		_, err = s.ReviewDocument(ctx, agent.ID, d1.ID, false, "", c)
		wantCode(t, err, apperr.CodeValidation)
		_, err = s.ReviewDocument(ctx, agent.ID, d1.ID, false, "photo is blurred", c)
		must(t, err)
		_, err = s.ReviewDocument(ctx, agent.ID, d1.ID, true, "", c)
		wantCode(t, err, CodeReviewConflict)
		if st, _ := s.AccountStatus(ctx, uid); st.Level.Level != 1 || st.Level.RejectedNote != "photo is blurred" {
			t.Fatalf("after reject %+v", st.Level)
		}
		_, err = s.ReviewDocument(ctx, agent.ID, d2.ID, true, "", c)
		must(t, err)
		u, _ := s.GetUser(ctx, uid)
		if u.Level != 2 || s.LimitsFor(u.Level).MonthlyMinor != 1_000_000_00 {
			t.Fatalf("level %d", u.Level)
		}
		_, err = s.SubmitIdentity(ctx, uid, good, c)
		wantCode(t, err, CodeLevelRequirement)
	})
}

func TestRolesAndAPIKeys(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, clock := newTestService(t, d)
		c := laptop
		alice := registerVerified(t, s, rec, "alice@example.com", &c)
		bc := phone
		bob := registerVerified(t, s, rec, "bob@example.com", &bc)

		_, err := s.CreateAPIKey(ctx, alice.Session.ID, CreateAPIKeyInput{Name: "shop", Scopes: []string{"read", "root"}})
		wantCode(t, err, apperr.CodeValidation)
		k, err := s.CreateAPIKey(ctx, alice.Session.ID, CreateAPIKeyInput{Name: "shop", Scopes: []string{"payments", "read", "read"}})
		must(t, err)
		if len(k.Secret) < 40 || k.Prefix != k.Secret[:10] || len(k.Scopes) != 2 {
			t.Fatalf("key %+v", k)
		}
		var stored string
		must(t, d.Read(ctx, func(tx *db.Tx) error {
			return tx.QueryRowContext(ctx, `SELECT key_hash FROM api_keys WHERE id = $1`, k.ID).Scan(&stored)
		}))
		if stored == k.Secret || strings.Contains(stored, k.Secret) {
			t.Fatal("key stored in clear")
		}
		ak, u, err := s.AuthenticateAPIKey(ctx, k.Secret)
		if err != nil || u.ID != alice.User.ID || !ak.Allows(KeyScopePayments) || ak.Allows(KeyScopePayouts) || ak.LastUsedAt.IsZero() {
			t.Fatalf("auth key %+v %v", ak, err)
		}
		_, _, err = s.AuthenticateAPIKey(ctx, k.Secret+"x")
		wantCode(t, err, apperr.CodeUnauthenticated)

		// Creating a key needs a fresh step-up.
		clock.Advance(6 * time.Minute)
		_, err = s.CreateAPIKey(ctx, alice.Session.ID, CreateAPIKeyInput{Name: "other", Scopes: []string{"read"}})
		wantCode(t, err, CodeStepUpRequired)

		// Bob cannot see or revoke Alice's key.
		if keys, _ := s.ListAPIKeys(ctx, bob.User.ID); len(keys) != 0 {
			t.Fatal("bob sees alice's keys")
		}
		wantCode(t, s.RevokeAPIKey(ctx, bob.User.ID, k.ID), apperr.CodeNotFound)
		if _, _, err := s.AuthenticateAPIKey(ctx, k.Secret); err != nil {
			t.Fatal("key revoked by another user")
		}
		must(t, s.RevokeAPIKey(ctx, alice.User.ID, k.ID))
		_, _, err = s.AuthenticateAPIKey(ctx, k.Secret)
		wantCode(t, err, apperr.CodeUnauthenticated)
		keys, _ := s.ListAPIKeys(ctx, alice.User.ID)
		if len(keys) != 1 || keys[0].RevokedAt.IsZero() {
			t.Fatalf("keys %+v", keys)
		}

		// Roles: only admins change roles, never their own; staff lookups need a staff role.
		admin := makeStaff(t, s, "admin@okpay.test", RoleAdmin)
		wantCode(t, s.SetRole(ctx, bob.User.ID, alice.User.ID, RoleAdmin, "me"), apperr.CodeForbidden)
		wantCode(t, s.SetRole(ctx, admin.ID, admin.ID, RoleCustomer, "oops"), apperr.CodeForbidden)
		must(t, s.SetRole(ctx, admin.ID, alice.User.ID, RoleMerchant, "signed merchant agreement"))
		if u, _ := s.GetUser(ctx, alice.User.ID); u.Role != RoleMerchant {
			t.Fatal("role not changed")
		}
		_, err = s.FindUserByEmail(ctx, bob.User.ID, "alice@example.com")
		wantCode(t, err, apperr.CodeForbidden)
		if u, err := s.FindUserByEmail(ctx, admin.ID, "ALICE@example.com"); err != nil || u.ID != alice.User.ID {
			t.Fatal(err)
		}
	})
}
