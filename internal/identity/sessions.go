package identity

import (
	"context"
	"fmt"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// touchEvery is how stale last_seen may get before Authenticate writes it again. Writing on
// every request would put a write on the single SQLite writer for each page view; a minute
// of slack is invisible against a 30-minute idle timeout.
const touchEvery = time.Minute

// Session is one signed-in browser or app, as its owner sees it in the device list.
type Session struct {
	ID          string    `json:"id"`
	UserID      string    `json:"-"`
	DeviceID    string    `json:"device_id,omitempty"`
	DeviceName  string    `json:"device_name"`
	IP          string    `json:"ip"`
	Place       string    `json:"place"`
	CreatedAt   time.Time `json:"created_at"`
	LastSeenAt  time.Time `json:"last_seen_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	SteppedUpAt time.Time `json:"stepped_up_at,omitzero"`
	Current     bool      `json:"current"`
}

// SignIn is the outcome of a sign-in step. Either SecondStep is true and PendingToken must
// come back with the 2-step code (SignInSecondStep), or Token is the new session token to
// set as the session cookie. DeviceCookie is always set: the value for the long-lived
// device cookie (unchanged when the browser already had a valid one).
type SignIn struct {
	SecondStep       bool      `json:"second_step_required"`
	PendingToken     string    `json:"pending_token,omitempty"`
	PendingExpiresAt time.Time `json:"pending_expires_at,omitzero"`
	Token            string    `json:"token,omitempty"`
	Session          *Session  `json:"session,omitempty"`
	DeviceCookie     string    `json:"device_cookie"`
	// NewDevice and NewPlace say an alert email was sent.
	NewDevice bool `json:"new_device"`
	NewPlace  bool `json:"new_place"`
}

const sessionCols = `id, user_id, device_id, device_name, ip, place, created_at, last_seen_at, expires_at, stepped_up_at, revoked_at`

type sessionRow struct {
	Session
	createdAt, lastSeen, expires, steppedUp, revoked int64
}

func scanSession(sc scanner) (*sessionRow, error) {
	var r sessionRow
	if err := sc.Scan(r.dests()...); err != nil {
		return nil, err
	}
	r.fill()
	return &r, nil
}

// dests are the scan targets of sessionCols.
func (r *sessionRow) dests() []any {
	return []any{&r.ID, &r.UserID, &r.DeviceID, &r.DeviceName, &r.IP, &r.Place, &r.createdAt, &r.lastSeen, &r.expires, &r.steppedUp, &r.revoked}
}

func (r *sessionRow) fill() {
	r.CreatedAt, r.LastSeenAt, r.ExpiresAt = db.Micros(r.createdAt), db.Micros(r.lastSeen), db.Micros(r.expires)
	r.SteppedUpAt = timeOrZero(r.steppedUp)
}

// active reports whether the session still works at now: not revoked, within the absolute
// lifetime and not idle for longer than the idle timeout.
func (r *sessionRow) active(now int64, idle time.Duration) bool {
	return r.revoked == 0 && r.expires > now && r.lastSeen+idle.Microseconds() > now
}

// SignInInput is the first sign-in step.
type SignInInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// SignIn checks email and password. With 2-step on, it returns SecondStep and a pending
// token valid for a few minutes instead of a session. Wrong passwords count towards the
// lockout; the fifth within the window locks the account and mails the owner a reset link.
// Unknown emails cost the same time as known ones and give the same error.
//
// Errors: rate_limited (param retry_after), invalid_credentials, account_locked (param
// until), signin_restricted.
func (s *Service) SignIn(ctx context.Context, in SignInInput, c Client) (*SignIn, error) {
	if err := s.limiter.allow(bucketSignIn, c.IP); err != nil {
		return nil, err
	}
	email := NormalizeEmail(in.Email)
	var u *userRow
	var now time.Time
	err := s.read(ctx, "sign in", func(tx *db.Tx) error {
		now = tx.Now
		var err error
		if email != "" {
			u, err = userByEmail(ctx, tx, email, false)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if u == nil {
		_, _, _ = checkPassword(in.Password, s.dummyHash, s.cfg.Argon2)
		return nil, apperr.New(CodeInvalidCredentials)
	}
	// A locked account is refused before the password is checked, so the lock cannot be
	// used as an oracle for guessing.
	if u.LockedUntil > micros(now) {
		return nil, s.lockedErr(u.LockedUntil, u.Lang)
	}
	ok, stale, err := checkPassword(in.Password, u.PasswordHash, s.cfg.Argon2)
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	var rehash string
	if ok && stale {
		// Parameters were raised since this hash was made: upgrade it while we know the password.
		if rehash, err = hashPassword(in.Password, s.cfg.Argon2); err != nil {
			return nil, fmt.Errorf("sign in: %w", err)
		}
	}
	var out *SignIn
	err = s.inTxKeep(ctx, "sign in", func(tx *db.Tx) error {
		u, err := loadUser(ctx, tx, u.ID, true)
		if err != nil {
			return err
		}
		if u.LockedUntil > tx.NowMicros() {
			return s.lockedErr(u.LockedUntil, u.Lang)
		}
		if !ok {
			return s.recordFailure(ctx, tx, u, c)
		}
		if err := s.checkSignInAllowed(ctx, tx, u.ID); err != nil {
			return err
		}
		if rehash != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, rehash, u.ID); err != nil {
				return fmt.Errorf("rehash password: %w", err)
			}
		}
		if u.twoStep() {
			// Failures are cleared only when the second step succeeds too; otherwise a
			// right password before each guess would reset the count of wrong codes.
			out, err = s.startChallenge(ctx, tx, u, c)
			return err
		}
		if err := clearFailures(ctx, tx, u.ID); err != nil {
			return err
		}
		out, err = s.startSession(ctx, tx, u, c, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// startChallenge records that the password was right and the second step is owed.
func (s *Service) startChallenge(ctx context.Context, tx *db.Tx, u *userRow, c Client) (*SignIn, error) {
	tok := randomToken(32)
	exp := tx.Now.Add(s.cfg.ChallengeTTL)
	_, err := tx.ExecContext(ctx, `INSERT INTO signin_challenges (id, token_hash, user_id, device_cookie, user_agent, ip, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, newID(), tokenHash(tok), u.ID, c.DeviceCookie, trunc(c.UserAgent, 512), c.IP, tx.NowMicros(), micros(exp))
	if err != nil {
		return nil, fmt.Errorf("start sign-in challenge: %w", err)
	}
	return &SignIn{SecondStep: true, PendingToken: tok, PendingExpiresAt: exp, DeviceCookie: c.DeviceCookie}, nil
}

// SignInSecondStep finishes a sign-in with a TOTP code or a recovery code. Wrong codes
// count towards the same lockout as wrong passwords, so knowing the password does not
// give unlimited guesses at the 6 digits.
//
// Errors: rate_limited, signin_expired (unknown, used or expired pending token),
// totp_invalid, account_locked, signin_restricted.
func (s *Service) SignInSecondStep(ctx context.Context, pendingToken, code string, c Client) (*SignIn, error) {
	if err := s.limiter.allow(bucketCode, c.IP); err != nil {
		return nil, err
	}
	var out *SignIn
	err := s.inTxKeep(ctx, "sign in second step", func(tx *db.Tx) error {
		var id, userID, cookie string
		var attempts int
		var expires, used int64
		err := tx.QueryRowContext(ctx, `SELECT id, user_id, device_cookie, attempts, expires_at, used_at FROM signin_challenges
			WHERE token_hash = $1 `+tx.Dialect.ForUpdate(), tokenHash(pendingToken)).Scan(&id, &userID, &cookie, &attempts, &expires, &used)
		if err != nil {
			if db.IsNoRows(err) {
				return apperr.New(CodeSigninExpired)
			}
			return fmt.Errorf("find challenge: %w", err)
		}
		if used != 0 || expires <= tx.NowMicros() || attempts >= s.cfg.CodeAttempts {
			return apperr.New(CodeSigninExpired)
		}
		u, err := loadUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		if u.LockedUntil > tx.NowMicros() {
			return s.lockedErr(u.LockedUntil, u.Lang)
		}
		if err := s.verifySecondFactor(ctx, tx, u, code); err != nil {
			if !apperr.HasCode(err, CodeTOTPInvalid) {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE signin_challenges SET attempts = attempts + 1 WHERE id = $1`, id); err != nil {
				return fmt.Errorf("count challenge attempt: %w", err)
			}
			if lerr := s.recordFailure(ctx, tx, u, c); lockedOrInternal(lerr) {
				return lerr
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE signin_challenges SET used_at = $1 WHERE id = $2`, tx.NowMicros(), id); err != nil {
			return fmt.Errorf("use challenge: %w", err)
		}
		if err := clearFailures(ctx, tx, u.ID); err != nil {
			return err
		}
		if err := s.checkSignInAllowed(ctx, tx, u.ID); err != nil {
			return err
		}
		if c.DeviceCookie == "" {
			c.DeviceCookie = cookie
		}
		out, err = s.startSession(ctx, tx, u, c, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// validDeviceCookie accepts only values this package could have made, so a client cannot
// store arbitrary text through the cookie.
func validDeviceCookie(v string) bool {
	if len(v) != 32 {
		return false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// startSession creates a session after a complete sign-in (or registration), records the
// device and place, and mails a new-device/new-place alert when either is new and the
// account has signed in before (the first device of an account is not news).
func (s *Service) startSession(ctx context.Context, tx *db.Tx, u *userRow, c Client, proved bool) (*SignIn, error) {
	now := tx.NowMicros()
	out := &SignIn{DeviceCookie: c.DeviceCookie}
	if !validDeviceCookie(out.DeviceCookie) {
		out.DeviceCookie = randomToken(24)
	}
	name := DeviceName(c.UserAgent)
	place := s.cfg.Places.Place(c.IP)

	var knownDevices int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM devices WHERE user_id = $1`, u.ID).Scan(&knownDevices); err != nil {
		return nil, fmt.Errorf("count devices: %w", err)
	}
	var deviceID string
	ch := tokenHash(out.DeviceCookie)
	err := tx.QueryRowContext(ctx, `SELECT id FROM devices WHERE user_id = $1 AND cookie_hash = $2`, u.ID, ch).Scan(&deviceID)
	switch {
	case db.IsNoRows(err):
		deviceID = newID()
		out.NewDevice = knownDevices > 0
		if _, err := tx.ExecContext(ctx, `INSERT INTO devices (id, user_id, cookie_hash, name, first_seen_at, last_seen_at, last_ip, last_place)
			VALUES ($1, $2, $3, $4, $5, $5, $6, $7)`, deviceID, u.ID, ch, name, now, c.IP, place); err != nil {
			return nil, fmt.Errorf("insert device: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("find device: %w", err)
	default:
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET name = $1, last_seen_at = $2, last_ip = $3, last_place = $4 WHERE id = $5`,
			name, now, c.IP, place, deviceID); err != nil {
			return nil, fmt.Errorf("update device: %w", err)
		}
	}
	r, err := tx.ExecContext(ctx, `INSERT INTO known_places (user_id, place, first_seen_at) VALUES ($1, $2, $3) ON CONFLICT (user_id, place) DO NOTHING`,
		u.ID, place, now)
	if err != nil {
		return nil, fmt.Errorf("record place: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 1 && knownDevices > 0 {
		out.NewPlace = true
	}

	token := randomToken(32)
	sess := &Session{ID: newID(), UserID: u.ID, DeviceID: deviceID, DeviceName: name, IP: c.IP, Place: place,
		CreatedAt: tx.Now, LastSeenAt: tx.Now, ExpiresAt: tx.Now.Add(s.cfg.SessionAbsolute), Current: true}
	var stepped int64
	if proved {
		// The sign-in just proved the password (and the second factor when on), which is
		// what a step-up asks for.
		stepped, sess.SteppedUpAt = now, tx.Now
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO sessions (id, token_hash, user_id, device_id, device_name, user_agent, ip, place,
		created_at, last_seen_at, expires_at, stepped_up_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)`,
		sess.ID, tokenHash(token), u.ID, deviceID, name, trunc(c.UserAgent, 512), c.IP, place, now, micros(sess.ExpiresAt), stepped)
	if err != nil {
		return nil, fmt.Errorf("insert session: %w", err)
	}
	out.Token, out.Session = token, sess

	if out.NewDevice || out.NewPlace {
		link, err := s.freezeLink(ctx, tx, u)
		if err != nil {
			return nil, err
		}
		if err := s.sendMail(ctx, tx, u, mailNewSignin, map[string]any{"NewDevice": out.NewDevice, "Device": name, "Place": place,
			"IP": c.IP, "When": fmtTime(tx.Now, u.Lang), "FreezeLink": link}); err != nil {
			return nil, err
		}
	}
	return out, s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: u.ID, Action: "session.create", Subject: u.ID, ClientAddr: c.IP,
		Details: map[string]string{"session": sess.ID, "device": name, "place": place,
			"new_device": fmt.Sprint(out.NewDevice), "new_place": fmt.Sprint(out.NewPlace)}})
}

// sessionUserQuery reads a session by token hash with its user.
var sessionUserQuery = `SELECT ` + prefixCols("s.", sessionCols) + `, ` + prefixCols("u.", userCols) + `
	FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`

// prefixCols qualifies a comma-separated column list with a table alias.
func prefixCols(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// Authenticate resolves a session token (the session cookie) to its session and user. It
// writes only when last-seen is more than a minute old.
//
// Errors: unauthenticated (unknown, revoked, expired or idle session).
func (s *Service) Authenticate(ctx context.Context, token string) (*Session, *User, error) {
	if token == "" {
		return nil, nil, unauthenticated()
	}
	now := s.db.Clock.Now().UnixMicro()
	hash := tokenHash(token)
	e := s.auth.get(hash)
	if e == nil {
		// One statement, outside a transaction (it sees one snapshot): the session and its
		// user are read on every request that misses the cache (authcache.go).
		e = &authEntry{gen: authGen.Load(), at: time.Now()}
		var user userRow
		err := s.db.ReadRowCached(ctx, sessionUserQuery, hash).Scan(append(e.sess.dests(), user.dests()...)...)
		if db.IsNoRows(err) {
			return nil, nil, unauthenticated()
		}
		if err != nil {
			return nil, nil, fmt.Errorf("authenticate: %w", err)
		}
		e.sess.fill()
		e.pub = user.public()
		s.auth.put(hash, e)
	}
	sess := e.sess
	if !sess.active(now, s.cfg.SessionIdle) {
		return nil, nil, unauthenticated()
	}
	if now-sess.lastSeen >= touchEvery.Microseconds() {
		// Not through s.inTx: the touch changes nothing the cache holds but last-seen,
		// which the entry takes over below, so it must not drop every cached session.
		err := s.db.InTx(ctx, func(tx *db.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND revoked_at = 0`, tx.NowMicros(), sess.ID); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE devices SET last_seen_at = $1 WHERE id = $2`, tx.NowMicros(), sess.DeviceID)
			return err
		})
		if err != nil {
			return nil, nil, fmt.Errorf("touch session: %w", err)
		}
		sess.lastSeen = now
		sess.LastSeenAt = db.Micros(now)
		// Entries are never changed in place (readers hold them without a lock): the
		// touched copy replaces it, unless a change dropped the cache meanwhile.
		s.auth.put(hash, &authEntry{gen: e.gen, at: e.at, sess: sess, pub: e.pub})
	}
	sess.Current = true
	pub := e.pub
	return &sess.Session, &pub, nil
}

// SignOut ends the session of token. Signing out twice is not an error.
//
// Errors: none besides internal ones.
func (s *Service) SignOut(ctx context.Context, token string) error {
	return s.inTx(ctx, "sign out", func(tx *db.Tx) error {
		var id, userID string
		err := tx.QueryRowContext(ctx, `SELECT id, user_id FROM sessions WHERE token_hash = $1 AND revoked_at = 0`, tokenHash(token)).Scan(&id, &userID)
		if db.IsNoRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = $1, revoke_reason = 'sign_out' WHERE id = $2`, tx.NowMicros(), id); err != nil {
			return err
		}
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: userID, Action: "session.sign_out", Subject: userID,
			Details: map[string]string{"session": id}})
	})
}

// ListSessions returns the user's active sessions, newest activity first, marking
// currentID as the current one.
//
// Errors: none besides internal ones.
func (s *Service) ListSessions(ctx context.Context, userID, currentID string) ([]Session, error) {
	var out []Session
	err := s.read(ctx, "list sessions", func(tx *db.Tx) error {
		now := tx.NowMicros()
		rows, err := tx.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE user_id = $1 AND revoked_at = 0 AND expires_at > $2
			AND last_seen_at > $3 ORDER BY last_seen_at DESC LIMIT 200`, userID, now, now-s.cfg.SessionIdle.Microseconds())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanSession(rows)
			if err != nil {
				return err
			}
			r.Current = r.ID == currentID
			out = append(out, r.Session)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeSession ends one of the user's own sessions. Another user's session id gives
// not_found, exactly like an unknown id, so ids cannot be probed.
//
// Errors: not_found.
func (s *Service) RevokeSession(ctx context.Context, userID, sessionID string) error {
	return s.inTx(ctx, "revoke session", func(tx *db.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = $1, revoke_reason = 'revoked_by_owner'
			WHERE id = $2 AND user_id = $3 AND revoked_at = 0`, tx.NowMicros(), sessionID, userID)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return notFound()
		}
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: userID, Action: "session.revoke", Subject: userID,
			Details: map[string]string{"session": sessionID}})
	})
}

// RevokeOtherSessions ends every session of the user except currentID and returns how
// many ended.
//
// Errors: none besides internal ones.
func (s *Service) RevokeOtherSessions(ctx context.Context, userID, currentID string) (int, error) {
	var n int64
	err := s.inTx(ctx, "revoke other sessions", func(tx *db.Tx) error {
		// Only live sessions: the count tells the person how many devices were signed out.
		r, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = $1, revoke_reason = 'revoked_by_owner'
			WHERE user_id = $2 AND id <> $3 AND revoked_at = 0 AND expires_at > $1 AND last_seen_at > $4`,
			tx.NowMicros(), userID, currentID, tx.NowMicros()-s.cfg.SessionIdle.Microseconds())
		if err != nil {
			return err
		}
		n, _ = r.RowsAffected()
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: userID, Action: "session.revoke_others", Subject: userID,
			Details: map[string]string{"count": fmt.Sprint(n)}})
	})
	return int(n), err
}

// endSessions revokes every session of a user (reset, freeze, sign-in restriction).
func endSessions(ctx context.Context, tx *db.Tx, userID, reason string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE user_id = $3 AND revoked_at = 0`,
		tx.NowMicros(), reason, userID); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE signin_challenges SET used_at = $1 WHERE user_id = $2 AND used_at = 0`, tx.NowMicros(), userID); err != nil {
		return fmt.Errorf("end sign-in challenges: %w", err)
	}
	return nil
}

// Device is a browser or app that has signed in to the account.
type Device struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	FirstSeenAt time.Time `json:"first_seen_at"`
	LastSeenAt  time.Time `json:"last_seen_at"`
	LastIP      string    `json:"last_ip"`
	LastPlace   string    `json:"last_place"`
	Current     bool      `json:"current"`
	// ActiveSessions counts the device's sessions still signed in.
	ActiveSessions int `json:"active_sessions"`
}

// ListDevices returns the devices that signed in to the user's account, most recent
// first; currentDeviceID (Session.DeviceID of the caller) is marked current.
//
// Errors: none besides internal ones.
func (s *Service) ListDevices(ctx context.Context, userID, currentDeviceID string) ([]Device, error) {
	var out []Device
	err := s.read(ctx, "list devices", func(tx *db.Tx) error {
		now := tx.NowMicros()
		rows, err := tx.QueryContext(ctx, `SELECT d.id, d.name, d.first_seen_at, d.last_seen_at, d.last_ip, d.last_place,
			(SELECT COUNT(*) FROM sessions x WHERE x.device_id = d.id AND x.revoked_at = 0 AND x.expires_at > $2 AND x.last_seen_at > $3)
			FROM devices d WHERE d.user_id = $1 ORDER BY d.last_seen_at DESC LIMIT 200`, userID, now, now-s.cfg.SessionIdle.Microseconds())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d Device
			var first, last int64
			if err := rows.Scan(&d.ID, &d.Name, &first, &last, &d.LastIP, &d.LastPlace, &d.ActiveSessions); err != nil {
				return err
			}
			d.FirstSeenAt, d.LastSeenAt, d.Current = db.Micros(first), db.Micros(last), d.ID == currentDeviceID
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, err
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
