package identity

import (
	"math"
	"strconv"
	"sync"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// Rate is a token bucket: Burst tries at once, then one more every Every.
type Rate struct {
	Burst int
	Every time.Duration
}

// RateLimits are the per-client-address limits on the endpoints people can hammer.
//
// They are kept in memory, per node: with N nodes an address gets N times the rate. That
// is acceptable because these limits only blunt floods and enumeration; the limits that
// matter for an account's safety (lockout after wrong passwords, tries per code, resend
// cooldown and daily cap) are in the database and hold across nodes.
type RateLimits struct {
	SignIn   Rate // password and second-step attempts
	Code     Rate // typing or requesting codes
	Register Rate
	Reset    Rate // password-reset requests
	// MaxKeys bounds memory: beyond it, full buckets are dropped first.
	MaxKeys int
}

// DefaultRateLimits allow a person who mistypes a few times plenty of room and a script
// very little.
var DefaultRateLimits = RateLimits{
	SignIn:   Rate{Burst: 10, Every: 6 * time.Second},
	Code:     Rate{Burst: 10, Every: 6 * time.Second},
	Register: Rate{Burst: 5, Every: time.Minute},
	Reset:    Rate{Burst: 5, Every: time.Minute},
	MaxKeys:  100_000,
}

type bucketName string

const (
	bucketSignIn   bucketName = "signin"
	bucketCode     bucketName = "code"
	bucketRegister bucketName = "register"
	bucketReset    bucketName = "reset"
)

type limiterKey struct {
	b  bucketName
	ip string
}

type bucket struct {
	tokens float64
	last   time.Time
}

type limiter struct {
	mu      sync.Mutex
	cfg     RateLimits
	clock   db.Clock
	buckets map[limiterKey]*bucket
}

func newLimiter(cfg RateLimits, clock db.Clock) *limiter {
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultRateLimits.MaxKeys
	}
	return &limiter{cfg: cfg, clock: clock, buckets: map[limiterKey]*bucket{}}
}

func (l *limiter) rate(b bucketName) Rate {
	switch b {
	case bucketSignIn:
		return l.cfg.SignIn
	case bucketCode:
		return l.cfg.Code
	case bucketRegister:
		return l.cfg.Register
	default:
		return l.cfg.Reset
	}
}

// allow takes one token for ip from bucket b, or returns rate_limited with retry_after in
// whole seconds (the HTTP layer copies it into Retry-After).
func (l *limiter) allow(b bucketName, ip string) error {
	r := l.rate(b)
	if r.Burst <= 0 || r.Every <= 0 {
		return nil
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := limiterKey{b, ip}
	bk := l.buckets[k]
	if bk == nil {
		if len(l.buckets) >= l.cfg.MaxKeys {
			l.evict(now)
		}
		bk = &bucket{tokens: float64(r.Burst), last: now}
		l.buckets[k] = bk
	}
	if el := now.Sub(bk.last); el > 0 {
		bk.tokens = math.Min(float64(r.Burst), bk.tokens+float64(el)/float64(r.Every))
		bk.last = now
	}
	if bk.tokens >= 1 {
		bk.tokens--
		return nil
	}
	wait := time.Duration((1 - bk.tokens) * float64(r.Every))
	secs := int64(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return apperr.New(apperr.CodeRateLimited).With("retry_after", strconv.FormatInt(secs, 10))
}

// evict drops buckets that have refilled (they hold no information); if every bucket is
// still draining — a flood from many addresses — it starts over rather than grow without
// bound.
func (l *limiter) evict(now time.Time) {
	for k, bk := range l.buckets {
		r := l.rate(k.b)
		if bk.tokens+float64(now.Sub(bk.last))/float64(r.Every) >= float64(r.Burst) {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= l.cfg.MaxKeys {
		clear(l.buckets)
	}
}
