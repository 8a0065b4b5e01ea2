package identity

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// API key scopes. A key can do only what its scopes allow; the API layer checks
// APIKey.Allows before calling a service.
const (
	KeyScopeRead     = "read"     // balances, history, payments
	KeyScopePayments = "payments" // create payment requests, refunds
	KeyScopePayouts  = "payouts"  // send money out
	KeyScopeWebhooks = "webhooks" // manage webhook endpoints
)

// KeyScopes lists every API key scope.
var KeyScopes = []string{KeyScopeRead, KeyScopePayments, KeyScopePayouts, KeyScopeWebhooks}

// keyPrefix marks OKPay keys so secret scanners (and people) recognise a leaked one.
const keyPrefix = "okp_"

// maxKeysPerUser bounds the key list.
const maxKeysPerUser = 50

// APIKey is a key's public record; the secret is only in NewAPIKey.Secret, once.
type APIKey struct {
	ID         string    `json:"id"`
	UserID     string    `json:"-"`
	Name       string    `json:"name"`
	Prefix     string    `json:"prefix"` // first characters, to tell keys apart
	Scopes     []string  `json:"scopes"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// Allows reports whether the key has scope.
func (k *APIKey) Allows(scope string) bool {
	for _, s := range k.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// NewAPIKey is returned once at creation; Secret cannot be shown again.
type NewAPIKey struct {
	APIKey
	Secret string `json:"secret"`
}

// CreateAPIKeyInput names a key and chooses its scopes.
type CreateAPIKeyInput struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

const apiKeyCols = `id, user_id, name, prefix, scopes, created_at, last_used_at, revoked_at`

func scanAPIKey(sc scanner) (*APIKey, error) {
	var k APIKey
	var scopes string
	var created, used, revoked int64
	if err := sc.Scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, &scopes, &created, &used, &revoked); err != nil {
		return nil, err
	}
	k.Scopes = strings.Split(scopes, ",")
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = db.Micros(created), timeOrZero(used), timeOrZero(revoked)
	return &k, nil
}

// CreateAPIKey makes a key for the session's account. Keys act with the owner's powers,
// so creating one needs a recent step-up.
//
// Errors: unauthenticated, step_up_required, validation_failed (name: name_invalid;
// scopes: scope_invalid), rate_limited (more than 50 active keys).
func (s *Service) CreateAPIKey(ctx context.Context, sessionID string, in CreateAPIKeyInput) (*NewAPIKey, error) {
	name := strings.TrimSpace(in.Name)
	if !validName(name) {
		return nil, invalid("name", FieldNameInvalid)
	}
	seen := map[string]bool{}
	var scopes []string
	for _, sc := range in.Scopes {
		ok := false
		for _, k := range KeyScopes {
			ok = ok || k == sc
		}
		if !ok {
			return nil, invalid("scopes", FieldScopeInvalid)
		}
		if !seen[sc] {
			seen[sc] = true
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) == 0 {
		return nil, invalid("scopes", FieldScopeInvalid)
	}
	sort.Strings(scopes)
	var out *NewAPIKey
	err := s.inTx(ctx, "create api key", func(tx *db.Tx) error {
		sess, err := s.RequireStepUp(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND revoked_at = 0`, sess.UserID).Scan(&n); err != nil {
			return err
		}
		if n >= maxKeysPerUser {
			return apperr.New(apperr.CodeRateLimited).With("retry_after", "0")
		}
		secret := keyPrefix + randomToken(32)
		k := APIKey{ID: newID(), UserID: sess.UserID, Name: name, Prefix: secret[:len(keyPrefix)+6], Scopes: scopes, CreatedAt: tx.Now}
		_, err = tx.ExecContext(ctx, `INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			k.ID, k.UserID, k.Name, k.Prefix, tokenHash(secret), strings.Join(scopes, ","), tx.NowMicros())
		if err != nil {
			return fmt.Errorf("insert api key: %w", err)
		}
		out = &NewAPIKey{APIKey: k, Secret: secret}
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: sess.UserID, Action: "apikey.create", Subject: sess.UserID,
			Details: map[string]string{"key": k.ID, "prefix": k.Prefix, "scopes": strings.Join(scopes, ",")}})
	})
	return out, err
}

// ListAPIKeys returns the user's keys, revoked ones included, newest first.
//
// Errors: none besides internal ones.
func (s *Service) ListAPIKeys(ctx context.Context, userID string) ([]APIKey, error) {
	var out []APIKey
	err := s.read(ctx, "list api keys", func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC LIMIT 200`, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k, err := scanAPIKey(rows)
			if err != nil {
				return err
			}
			out = append(out, *k)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeAPIKey stops one of the user's own keys at once. Someone else's key id gives
// not_found, like an unknown one.
//
// Errors: not_found.
func (s *Service) RevokeAPIKey(ctx context.Context, userID, keyID string) error {
	return s.inTx(ctx, "revoke api key", func(tx *db.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at = 0`, tx.NowMicros(), keyID, userID)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return notFound()
		}
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: userID, Action: "apikey.revoke", Subject: userID,
			Details: map[string]string{"key": keyID}})
	})
}

// AuthenticateAPIKey resolves a bearer key to its record and owner, noting when it was
// last used (at most once a minute, to keep writes off the hot path). A key of an account
// restricted from signing in stops working too.
//
// Errors: unauthenticated (unknown or revoked key), signin_restricted.
func (s *Service) AuthenticateAPIKey(ctx context.Context, secret string) (*APIKey, *User, error) {
	if !strings.HasPrefix(secret, keyPrefix) {
		return nil, nil, unauthenticated()
	}
	var k *APIKey
	var u *userRow
	var now int64
	err := s.read(ctx, "authenticate api key", func(tx *db.Tx) error {
		now = tx.NowMicros()
		var err error
		k, err = scanAPIKey(tx.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE key_hash = $1`, tokenHash(secret)))
		if err != nil {
			if db.IsNoRows(err) {
				return unauthenticated()
			}
			return err
		}
		if !k.RevokedAt.IsZero() {
			return unauthenticated()
		}
		if u, err = loadUser(ctx, tx, k.UserID, false); err != nil {
			return err
		}
		return s.checkSignInAllowed(ctx, tx, u.ID)
	})
	if err != nil {
		return nil, nil, err
	}
	if k.LastUsedAt.IsZero() || now-k.LastUsedAt.UnixMicro() >= touchEvery.Microseconds() {
		if err := s.inTx(ctx, "touch api key", func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2`, tx.NowMicros(), k.ID)
			return err
		}); err != nil {
			return nil, nil, err
		}
		k.LastUsedAt = db.Micros(now)
	}
	pub := u.public()
	return k, &pub, nil
}
