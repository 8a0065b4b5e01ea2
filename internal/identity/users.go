package identity

import (
	"context"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// Languages a user can choose.
const (
	LangZh = "zh-CN"
	LangEn = "en"
)

// User is what callers may know about an account. Credentials never leave the package.
type User struct {
	ID              string    `json:"id"`
	Email           string    `json:"email"`
	EmailVerified   bool      `json:"email_verified"`
	EmailVerifiedAt time.Time `json:"email_verified_at,omitzero"`
	Phone           string    `json:"phone,omitempty"`
	PhoneVerified   bool      `json:"phone_verified"`
	Lang            string    `json:"lang"`
	Role            Role      `json:"role"`
	Level           int       `json:"level"`
	TwoStep         bool      `json:"two_step_enabled"`
	LockedUntil     time.Time `json:"locked_until,omitzero"`
	CreatedAt       time.Time `json:"created_at"`
}

// userRow is a users row with its secrets, for use inside the package only.
type userRow struct {
	ID              string
	Email           string
	EmailVerifiedAt int64
	Phone           string
	PhoneVerifiedAt int64
	PasswordHash    string
	PasswordChanged int64
	Lang            string
	Role            Role
	Level           int
	TOTPSecret      string
	TOTPPending     string
	TOTPEnabledAt   int64
	TOTPLastStep    int64
	LockedUntil     int64
	CreatedAt       int64
}

const userCols = `id, email, email_verified_at, phone, phone_verified_at, password_hash, password_changed_at,
	lang, role, level, totp_secret, totp_pending, totp_enabled_at, totp_last_step, locked_until, created_at`

type scanner interface{ Scan(dest ...any) error }

func scanUser(sc scanner) (*userRow, error) {
	var u userRow
	if err := sc.Scan(u.dests()...); err != nil {
		return nil, err
	}
	return &u, nil
}

// dests are the scan targets of userCols.
func (u *userRow) dests() []any {
	return []any{&u.ID, &u.Email, &u.EmailVerifiedAt, &u.Phone, &u.PhoneVerifiedAt, &u.PasswordHash, &u.PasswordChanged,
		&u.Lang, &u.Role, &u.Level, &u.TOTPSecret, &u.TOTPPending, &u.TOTPEnabledAt, &u.TOTPLastStep, &u.LockedUntil, &u.CreatedAt}
}

func (u *userRow) public() User {
	return User{
		ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerifiedAt != 0, EmailVerifiedAt: timeOrZero(u.EmailVerifiedAt),
		Phone: u.Phone, PhoneVerified: u.PhoneVerifiedAt != 0, Lang: u.Lang, Role: u.Role, Level: u.Level,
		TwoStep: u.TOTPEnabledAt != 0, LockedUntil: timeOrZero(u.LockedUntil), CreatedAt: db.Micros(u.CreatedAt),
	}
}

func (u *userRow) twoStep() bool { return u.TOTPEnabledAt != 0 }

// loadUser reads a user by id; lock takes the row lock on PostgreSQL so concurrent calls
// on one account (two sign-ins racing the lockout counter) serialise.
func loadUser(ctx context.Context, tx *db.Tx, id string, lock bool) (*userRow, error) {
	q := `SELECT ` + userCols + ` FROM users WHERE id = $1`
	if lock {
		q += " " + tx.Dialect.ForUpdate()
	}
	u, err := scanUser(tx.QueryRowCached(ctx, q, id))
	if err != nil {
		if db.IsNoRows(err) {
			return nil, notFound()
		}
		return nil, fmt.Errorf("load user: %w", err)
	}
	return u, nil
}

// userByEmail returns nil, nil when no user has the (normalised) email.
func userByEmail(ctx context.Context, tx *db.Tx, email string, lock bool) (*userRow, error) {
	q := `SELECT ` + userCols + ` FROM users WHERE email = $1`
	if lock {
		q += " " + tx.Dialect.ForUpdate()
	}
	u, err := scanUser(tx.QueryRowCached(ctx, q, email))
	if err != nil {
		if db.IsNoRows(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("load user by email: %w", err)
	}
	return u, nil
}

// NormalizeEmail trims the address and lower-cases all of it. The local part is
// case-sensitive in theory, but no mainstream provider treats it so, and two accounts for
// Alice@ and alice@ would be a support nightmare. Dots and +tags are kept: stripping them is
// provider-specific and surprises people. It returns "" when the address is not valid.
func NormalizeEmail(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) > 254 || strings.ContainsAny(s, " \t\r\n<>\"(),;:") {
		return ""
	}
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return ""
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || len(local) > 64 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return ""
	}
	return s
}

// NormalizePhone returns the E.164 form (+ and 8–15 digits) of s, accepting spaces,
// dashes and dots; an 11-digit number starting with 1 is taken as mainland China (+86)
// because that is how people there write their numbers. "" when invalid.
func NormalizePhone(s string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return ""
		}
	}
	p := b.String()
	if !strings.HasPrefix(p, "+") {
		if len(p) == 11 && p[0] == '1' {
			p = "+86" + p
		} else {
			return ""
		}
	}
	digits := p[1:]
	if len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
		return ""
	}
	return p
}

// NormalizeLang maps a language tag to zh-CN or en; "" when it is neither.
func NormalizeLang(s string) string {
	t := strings.ToLower(strings.TrimSpace(s))
	switch {
	case t == "zh" || strings.HasPrefix(t, "zh-") || strings.HasPrefix(t, "zh_"):
		return LangZh
	case t == "en" || strings.HasPrefix(t, "en-") || strings.HasPrefix(t, "en_"):
		return LangEn
	}
	return ""
}

// RegisterInput is what a person types to open an account.
type RegisterInput struct {
	Email    string `json:"email"`
	Phone    string `json:"phone,omitempty"`
	Password string `json:"password"`
	Lang     string `json:"lang"`
}

// RegisterResult is the new account, already signed in (unverified accounts may sign in,
// they only cannot move money), and when the verification code may be sent again.
type RegisterResult struct {
	User User `json:"user"`
	SignIn
	VerificationResend time.Time `json:"verification_resend_at"`
}

// validateNew checks the fields of a new account; all field errors are reported at once.
func validateNew(email, phone, password, lang string) (nEmail, nPhone, nLang string, err error) {
	e := apperr.New(apperr.CodeValidation)
	nEmail = NormalizeEmail(email)
	if nEmail == "" {
		e.Field("email", FieldEmailInvalid)
	}
	if phone != "" {
		if nPhone = NormalizePhone(phone); nPhone == "" {
			e.Field("phone", FieldPhoneInvalid)
		}
	}
	if nLang = NormalizeLang(lang); nLang == "" {
		e.Field("lang", FieldLangInvalid)
	}
	if perr := CheckPassword(password, nEmail); perr != nil {
		pe, _ := apperr.As(perr)
		e.Fields = append(e.Fields, pe.Fields...)
	}
	if len(e.Fields) > 0 {
		return "", "", "", e
	}
	return nEmail, nPhone, nLang, nil
}

// Register opens a customer account, sends the verification email (code + link) and signs
// the person in on this device.
//
// Errors: rate_limited (per client address), validation_failed (fields email, phone, lang,
// password with email_invalid, phone_invalid, language_invalid, password_length,
// password_classes, password_common, password_contains_email), email_taken.
func (s *Service) Register(ctx context.Context, in RegisterInput, c Client) (*RegisterResult, error) {
	if err := s.limiter.allow(bucketRegister, c.IP); err != nil {
		return nil, err
	}
	email, phone, lang, err := validateNew(in.Email, in.Phone, in.Password, in.Lang)
	if err != nil {
		return nil, err
	}
	// Hash outside the transaction: argon2 takes tens of milliseconds and the SQLite writer
	// is shared by every request.
	hash, err := hashPassword(in.Password, s.cfg.Argon2)
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	var res *RegisterResult
	err = s.inTx(ctx, "register", func(tx *db.Tx) error {
		u, err := s.insertUser(ctx, tx, email, phone, hash, lang, RoleCustomer, 0)
		if err != nil {
			return err
		}
		next, err := s.sendVerifyEmail(ctx, tx, u)
		if err != nil {
			return err
		}
		if err := s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: u.ID, Action: "user.register", Subject: u.ID, ClientAddr: c.IP}); err != nil {
			return err
		}
		// The password was typed a moment ago: that is the proof a step-up asks for.
		si, err := s.startSession(ctx, tx, u, c, true)
		if err != nil {
			return err
		}
		res = &RegisterResult{User: u.public(), SignIn: *si, VerificationResend: next}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Service) insertUser(ctx context.Context, tx *db.Tx, email, phone, hash, lang string, role Role, verifiedAt int64) (*userRow, error) {
	now := tx.NowMicros()
	u := &userRow{ID: newID(), Email: email, EmailVerifiedAt: verifiedAt, Phone: phone, PasswordHash: hash,
		PasswordChanged: now, Lang: lang, Role: role, CreatedAt: now}
	_, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, email_verified_at, phone, password_hash, password_changed_at,
		lang, role, level, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9)`,
		u.ID, u.Email, u.EmailVerifiedAt, u.Phone, u.PasswordHash, now, u.Lang, string(u.Role), now)
	if err != nil {
		if db.IsUniqueViolation(err) {
			return nil, apperr.New(CodeEmailTaken).Wrap(err)
		}
		return nil, fmt.Errorf("insert user: %w", err)
	}
	return u, nil
}

// CreateUserInput is an operator's account creation (okpay admin create-user, --demo).
type CreateUserInput struct {
	Email    string
	Password string
	Lang     string
	Role     Role
	// Verified marks the email verified at once: operators create staff accounts whose
	// mailboxes they vouch for, and demo accounts must work without a mail round trip.
	Verified bool
}

// CreateUser creates an account with a role, as the system (CLI or demo seeding); it sends
// no mail and is audited as a system action.
//
// Errors: validation_failed (as Register, plus role_invalid), email_taken.
func (s *Service) CreateUser(ctx context.Context, in CreateUserInput) (*User, error) {
	if in.Lang == "" {
		in.Lang = LangEn
	}
	email, _, lang, err := validateNew(in.Email, "", in.Password, in.Lang)
	if err != nil {
		return nil, err
	}
	if !in.Role.Valid() {
		return nil, invalid("role", FieldRoleInvalid)
	}
	hash, err := hashPassword(in.Password, s.cfg.Argon2)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	var out User
	err = s.inTx(ctx, "create user", func(tx *db.Tx) error {
		var verified int64
		if in.Verified {
			verified = tx.NowMicros()
		}
		u, err := s.insertUser(ctx, tx, email, "", hash, lang, in.Role, verified)
		if err != nil {
			return err
		}
		out = u.public()
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorSystem, Action: "user.create", Subject: u.ID,
			Details: map[string]string{"role": string(in.Role)}})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetUser returns a user; callers pass the signed-in user's own id, agents use AgentGetUser.
//
// Errors: not_found.
func (s *Service) GetUser(ctx context.Context, userID string) (*User, error) {
	var out User
	err := s.read(ctx, "get user", func(tx *db.Tx) error {
		u, err := loadUser(ctx, tx, userID, false)
		if err != nil {
			return err
		}
		out = u.public()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// FindUserByEmail lets agents and the CLI look an account up.
//
// Errors: forbidden (actor is not staff), not_found.
func (s *Service) FindUserByEmail(ctx context.Context, actorID, email string) (*User, error) {
	var out User
	err := s.read(ctx, "find user", func(tx *db.Tx) error {
		if _, err := s.requireRole(ctx, tx, actorID, PermViewUsers); err != nil {
			return err
		}
		u, err := userByEmail(ctx, tx, NormalizeEmail(email), false)
		if err != nil {
			return err
		}
		if u == nil {
			return notFound()
		}
		out = u.public()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SetLanguage changes the language of the user's pages and emails.
//
// Errors: validation_failed (lang: language_invalid), not_found.
func (s *Service) SetLanguage(ctx context.Context, userID, lang string) error {
	l := NormalizeLang(lang)
	if l == "" {
		return invalid("lang", FieldLangInvalid)
	}
	return s.inTx(ctx, "set language", func(tx *db.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE users SET lang = $1, updated_at = $2 WHERE id = $3`, l, tx.NowMicros(), userID)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return notFound()
		}
		return nil
	})
}

func validName(s string) bool {
	n := utf8.RuneCountInString(strings.TrimSpace(s))
	return n >= 1 && n <= 64
}
