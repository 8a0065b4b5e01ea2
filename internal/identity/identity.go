// Package identity owns who a person is to OKPay and how they prove it: users and their
// credentials (argon2id passwords, TOTP 2-step, recovery codes, API keys), sessions and
// devices, one-time codes (email verification, password reset), lockout and per-address
// rate limits, step-up, scoped restrictions (freeze, risk restrictions), identity levels
// with their limits, and roles.
//
// Every exported method is one service call: it runs in one database transaction, reads
// "now" once from the injected clock, writes its emails/SMS to the outbox and its audit
// entries in that same transaction, and returns either a result or an *apperr.Error with a
// stable code. It knows nothing of HTTP, cookies or templates for pages: the api and web
// packages decode a request, call one method and encode the result. It must not know about
// balances or payments either; the wallet asks it CanSend/CanReceive/CanWithdraw inside the
// wallet's own transaction and gives it usage figures through UsageSource.
package identity

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"okpay/internal/db"
)

// Config holds every tunable of the identity service. Zero fields take the defaults of
// DefaultConfig, so callers set only what they change.
type Config struct {
	// SecretKey is 32 bytes: it seals TOTP seeds and ID numbers (AES-256-GCM) and keys the
	// hashes of short codes (HMAC-SHA-256), so a database dump alone cannot brute-force a
	// 6-digit code offline. The server passes OKPAY_SECRET_KEY or the 0600 key file.
	SecretKey []byte
	// Argon2 sets the password hashing cost.
	Argon2 Argon2Params
	// BaseURL is the public address links in emails point at, e.g. https://pay.example.com.
	BaseURL string
	// Links are the page paths (relative to BaseURL) the web package serves for emailed links;
	// each gets ?token=….
	Links Links
	// Issuer is the name authenticator apps show next to the account.
	Issuer string

	SessionIdle     time.Duration // 30 min
	SessionAbsolute time.Duration // 12 h
	// ChallengeTTL bounds the time between the password and the 2-step code at sign-in.
	ChallengeTTL time.Duration // 5 min
	StepUpWindow time.Duration // 5 min

	VerifyTTL      time.Duration // 24 h: email verification code and link
	ResetTTL       time.Duration // 15 min: password reset code and link
	CodeAttempts   int           // 5 wrong tries per code
	ResendCooldown time.Duration // 60 s between codes of one purpose
	DailyCodeCap   int           // codes of one purpose per user per 24 h
	FreezeLinkTTL  time.Duration // how long the "this wasn't me" link in an alert works

	LockoutThreshold int           // 5 wrong passwords …
	LockoutWindow    time.Duration // … within 15 min …
	LockoutDuration  time.Duration // … lock for 15 min

	// RateLimits are the per-client-address token buckets.
	RateLimits RateLimits
	// Levels are the identity levels' daily and monthly limits the wallet enforces.
	Levels LimitTable
	// Places turns a client address into a coarse place; built in: LocalPlaces.
	Places PlaceLookup
	// Usage reports limits used for the status page; nil shows limits without usage.
	Usage UsageSource
}

// Links are web paths used in emails.
type Links struct {
	VerifyEmail   string // /verify-email
	ResetPassword string // /reset-password
	Freeze        string // /freeze
}

// DefaultConfig returns production defaults. SecretKey has no default and must be set.
func DefaultConfig() Config {
	return Config{
		Argon2:           DefaultArgon2,
		BaseURL:          "http://localhost:8080",
		Links:            Links{VerifyEmail: "/verify-email", ResetPassword: "/reset-password", Freeze: "/freeze"},
		Issuer:           "OKPay",
		SessionIdle:      30 * time.Minute,
		SessionAbsolute:  12 * time.Hour,
		ChallengeTTL:     5 * time.Minute,
		StepUpWindow:     5 * time.Minute,
		VerifyTTL:        24 * time.Hour,
		ResetTTL:         15 * time.Minute,
		CodeAttempts:     5,
		ResendCooldown:   60 * time.Second,
		DailyCodeCap:     10,
		FreezeLinkTTL:    7 * 24 * time.Hour,
		LockoutThreshold: 5,
		LockoutWindow:    15 * time.Minute,
		LockoutDuration:  15 * time.Minute,
		RateLimits:       DefaultRateLimits,
		Levels:           DefaultLimits(),
		Places:           LocalPlaces{},
	}
}

// fill copies defaults into zero fields.
func (c *Config) fill() {
	d := DefaultConfig()
	if c.Argon2 == (Argon2Params{}) {
		c.Argon2 = d.Argon2
	}
	if c.BaseURL == "" {
		c.BaseURL = d.BaseURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Links.VerifyEmail == "" {
		c.Links.VerifyEmail = d.Links.VerifyEmail
	}
	if c.Links.ResetPassword == "" {
		c.Links.ResetPassword = d.Links.ResetPassword
	}
	if c.Links.Freeze == "" {
		c.Links.Freeze = d.Links.Freeze
	}
	if c.Issuer == "" {
		c.Issuer = d.Issuer
	}
	durs := []struct {
		p *time.Duration
		d time.Duration
	}{
		{&c.SessionIdle, d.SessionIdle}, {&c.SessionAbsolute, d.SessionAbsolute},
		{&c.ChallengeTTL, d.ChallengeTTL}, {&c.StepUpWindow, d.StepUpWindow},
		{&c.VerifyTTL, d.VerifyTTL}, {&c.ResetTTL, d.ResetTTL},
		{&c.ResendCooldown, d.ResendCooldown}, {&c.FreezeLinkTTL, d.FreezeLinkTTL},
		{&c.LockoutWindow, d.LockoutWindow}, {&c.LockoutDuration, d.LockoutDuration},
	}
	for _, x := range durs {
		if *x.p <= 0 {
			*x.p = x.d
		}
	}
	if c.CodeAttempts <= 0 {
		c.CodeAttempts = d.CodeAttempts
	}
	if c.DailyCodeCap <= 0 {
		c.DailyCodeCap = d.DailyCodeCap
	}
	if c.LockoutThreshold <= 0 {
		c.LockoutThreshold = d.LockoutThreshold
	}
	if c.RateLimits == (RateLimits{}) {
		c.RateLimits = d.RateLimits
	}
	if c.Levels == nil {
		c.Levels = d.Levels
	}
	if c.Places == nil {
		c.Places = d.Places
	}
}

// Service is the identity service. It is safe for concurrent use.
type Service struct {
	db      *db.DB
	cfg     Config
	aead    cipher.AEAD
	codeKey []byte // HMAC key for short codes, derived from SecretKey
	limiter *limiter
	fx      effects
	// dummyHash is verified against when an email is unknown, so a failed sign-in costs the
	// same time whether or not the address is registered.
	dummyHash string
	// auth caches Authenticate's reads (authcache.go).
	auth authCache
}

// New returns the service over an open, migrated database.
func New(d *db.DB, cfg Config) (*Service, error) {
	cfg.fill()
	if len(cfg.SecretKey) != 32 {
		return nil, fmt.Errorf("identity: secret key must be 32 bytes, got %d", len(cfg.SecretKey))
	}
	if _, err := url.Parse(cfg.BaseURL); err != nil {
		return nil, fmt.Errorf("identity: base URL: %w", err)
	}
	if err := cfg.Levels.validate(); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	block, err := aes.NewCipher(derive(cfg.SecretKey, "okpay identity seal v1"))
	if err != nil {
		return nil, fmt.Errorf("identity: cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("identity: gcm: %w", err)
	}
	s := &Service{
		db:      d,
		cfg:     cfg,
		aead:    aead,
		codeKey: derive(cfg.SecretKey, "okpay identity codes v1"),
		limiter: newLimiter(cfg.RateLimits, d.Clock),
		fx:      notifyEffects{},
	}
	s.dummyHash, err = hashPassword("not a real password", cfg.Argon2)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return s, nil
}

// Config returns the effective configuration (defaults filled in).
func (s *Service) Config() Config { return s.cfg }

// Client describes where a request comes from. The HTTP layers fill it from the request;
// DeviceCookie is the long-lived device cookie's value ("" when the browser has none).
type Client struct {
	IP           string
	UserAgent    string
	DeviceCookie string
}

// derive makes an independent sub-key per use from the one configured secret.
func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func newID() string {
	u, err := uuid.NewV7()
	if err != nil {
		// crypto/rand does not fail on supported platforms; an id collision would be worse.
		panic(fmt.Sprintf("identity: uuid: %v", err))
	}
	return u.String()
}

// randomToken returns n random bytes, URL-safe base64 without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		panic(fmt.Sprintf("identity: random: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenHash is how high-entropy tokens (sessions, links, API keys) are stored: a plain
// SHA-256 suffices because the token itself cannot be guessed.
func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// codeHash keys low-entropy codes (6 digits, recovery codes) with the server secret.
func (s *Service) codeHash(parts ...string) string {
	m := hmac.New(sha256.New, s.codeKey)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

// seal encrypts plaintext for storage; aad binds it to its row so sealed values cannot be
// swapped between users.
func (s *Service) seal(plaintext []byte, aad string) string {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		panic(fmt.Sprintf("identity: random: %v", err))
	}
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plaintext, []byte(aad)))
}

func (s *Service) open(sealed, aad string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return nil, fmt.Errorf("open sealed value: %w", err)
	}
	ns := s.aead.NonceSize()
	if len(raw) < ns {
		return nil, errors.New("open sealed value: too short")
	}
	pt, err := s.aead.Open(nil, raw[:ns], raw[ns:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("open sealed value (wrong OKPAY_SECRET_KEY?): %w", err)
	}
	return pt, nil
}

func (s *Service) link(path, token string) string {
	return s.cfg.BaseURL + path + "?token=" + url.QueryEscape(token)
}

// inTx is db.InTx with a name for error context.
func (s *Service) inTx(ctx context.Context, what string, fn func(*db.Tx) error) error {
	// Whatever fn changed, cached sessions and users may no longer be what the database
	// holds (authcache.go).
	defer authChanged()
	err := s.db.InTx(ctx, fn)
	if err != nil {
		if isCoded(err) {
			return err
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (s *Service) read(ctx context.Context, what string, fn func(*db.Tx) error) error {
	err := s.db.Read(ctx, fn)
	if err != nil {
		if isCoded(err) {
			return err
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// timeOrZero turns a stored 0 into the zero time, so JSON shows it as absent.
func timeOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return db.Micros(us)
}
