package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"okpay/internal/api"
	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/identity"
)

// identityTuning lets tests adjust the identity configuration (cheap argon2, roomier rate
// limits) before the service is built; nil in production.
var identityTuning func(*identity.Config)

// buildIdentity constructs the identity service from the configuration and the secret key.
func (a *App) buildIdentity() (*identity.Service, error) {
	cfg := identity.DefaultConfig()
	cfg.SecretKey = a.SecretKey
	cfg.BaseURL = publicURL(a.Cfg)
	cfg.Usage = &a.usage // filled once the wallet is built
	if identityTuning != nil {
		identityTuning(&cfg)
	}
	svc, err := identity.New(a.DB, cfg)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if a.Cfg.Demo {
		a.printDemoAccounts()
	}
	return svc, nil
}

// publicURL is where links in emails point. OKPay has no --public-url option yet, so it is
// the listen address, with a wildcard host shown as localhost (the address a newcomer
// running `okpay serve --demo` opens).
func publicURL(cfg Config) string {
	if cfg.PublicURL != "" {
		return strings.TrimRight(cfg.PublicURL, "/")
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return scheme + "://localhost:8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// Demo accounts. Their password is printed at start: they exist only in --demo databases.
const DemoPassword = "Demo#Pass2026"

// DemoAccounts are the accounts `serve --demo` creates, in the order printed.
var DemoAccounts = []struct {
	Email string
	Role  identity.Role
	Lang  string
}{
	{"alice@demo.okpay.test", identity.RoleCustomer, identity.LangZh},
	{"bob@demo.okpay.test", identity.RoleCustomer, identity.LangEn},
	{"shop@demo.okpay.test", identity.RoleMerchant, identity.LangEn},
	{"agent@demo.okpay.test", identity.RoleAgent, identity.LangEn},
}

func init() {
	RegisterDemo(DemoSeeder{Name: "identity-users", Seed: func(ctx context.Context, a *App) error {
		// In parallel: each user costs a deliberately slow password hash, and the demo
		// start waits for all of them before listening.
		return parallel(len(DemoAccounts), func(i int) error {
			d := DemoAccounts[i]
			_, err := a.Identity.CreateUser(ctx, identity.CreateUserInput{Email: d.Email, Password: DemoPassword, Lang: d.Lang,
				Role: d.Role, Verified: true})
			if err != nil && !apperr.HasCode(err, identity.CodeEmailTaken) {
				return fmt.Errorf("demo user %s: %w", d.Email, err)
			}
			return nil
		})
	}})
}

// printDemoAccounts tells the person who started a demo how to sign in, on every start
// (the accounts are created once, but people forget the password).
func (a *App) printDemoAccounts() {
	var b strings.Builder
	b.WriteString("Demo accounts (password " + DemoPassword + "):\n")
	for _, d := range DemoAccounts {
		fmt.Fprintf(&b, "  %-24s %s\n", d.Email, d.Role)
	}
	fmt.Fprint(os.Stderr, b.String())
	emails := make([]string, len(DemoAccounts))
	for i, d := range DemoAccounts {
		emails[i] = d.Email + " (" + string(d.Role) + ")"
	}
	a.Log.Info("demo accounts", "password", DemoPassword, "accounts", strings.Join(emails, ", "))
}

// MaxDocumentBytes bounds an identity document upload.
const MaxDocumentBytes = 5 << 20

// Codes of the document store.
const (
	CodeDocumentTooLarge = "document_too_large"
	CodeDocumentType     = "document_type"
)

func init() {
	apperr.Register(
		apperr.Def{Code: CodeDocumentTooLarge, Status: http.StatusRequestEntityTooLarge,
			Message: apperr.Text{En: "The file is larger than 5 MB.", Zh: "文件超过 5 MB。"},
			Fix:     apperr.Text{En: "Take a smaller photo or scan (up to 5 MB) and upload it again.", Zh: "请拍摄或扫描一个更小的文件（不超过 5 MB）后重新上传。"}},
		apperr.Def{Code: CodeDocumentType, Status: http.StatusUnprocessableEntity,
			Message: apperr.Text{En: "This file is not a JPEG, PNG or PDF.", Zh: "该文件不是 JPEG、PNG 或 PDF。"},
			Fix:     apperr.Text{En: "Upload a photo (JPEG or PNG) or a PDF scan of your document.", Zh: "请上传证件的照片（JPEG 或 PNG）或 PDF 扫描件。"}},
	)
}

// DocumentStore keeps identity documents in the data folder under documents/, outside
// anything the web server serves, readable only by the OKPay user. Files are named by a
// random id: nothing a person uploads chooses a path.
type DocumentStore struct {
	Dir string
}

// NewDocumentStore returns the store under dataDir/documents.
func NewDocumentStore(dataDir string) *DocumentStore {
	return &DocumentStore{Dir: filepath.Join(dataDir, "documents")}
}

var allowedDocTypes = map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}

var refRE = regexp.MustCompile(`^[0-9a-f-]{36}/[0-9a-f-]{36}\.(jpg|png|pdf)$`)

// Save stores at most MaxDocumentBytes from r for userID. The type is decided by the
// content (magic bytes), never by the file name or the browser's claim.
//
// Errors: document_too_large, document_type.
func (s *DocumentStore) Save(ctx context.Context, userID string, r io.Reader) (identity.DocumentInput, error) {
	var in identity.DocumentInput
	if _, err := uuid.Parse(userID); err != nil {
		return in, fmt.Errorf("save document: bad user id: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxDocumentBytes+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return in, apperr.New(CodeDocumentTooLarge).Wrap(err)
		}
		return in, fmt.Errorf("read document: %w", err)
	}
	if len(data) > MaxDocumentBytes {
		return in, apperr.New(CodeDocumentTooLarge)
	}
	ctype := http.DetectContentType(data)
	ext, ok := allowedDocTypes[ctype]
	if !ok || len(data) == 0 {
		return in, apperr.New(CodeDocumentType)
	}
	dir := filepath.Join(s.Dir, userID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return in, fmt.Errorf("save document: %w", err)
	}
	name := uuid.NewString() + ext
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return in, fmt.Errorf("save document: %w", err)
	}
	if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
		f.Close()
		return in, fmt.Errorf("save document: %w", err)
	}
	// fsync before the database row points at it: a crash must not leave a reference to
	// a file that never reached the disk.
	if err := f.Sync(); err != nil {
		f.Close()
		return in, fmt.Errorf("save document: %w", err)
	}
	if err := f.Close(); err != nil {
		return in, fmt.Errorf("save document: %w", err)
	}
	sum := sha256.Sum256(data)
	return identity.DocumentInput{StorageRef: userID + "/" + name, ContentType: ctype, SizeBytes: int64(len(data)),
		SHA256: hex.EncodeToString(sum[:])}, nil
}

// Open returns a stored document for an agent's review.
func (s *DocumentStore) Open(ref string) (io.ReadCloser, error) {
	if !refRE.MatchString(ref) {
		return nil, fmt.Errorf("open document: bad reference %q", ref)
	}
	f, err := os.Open(filepath.Join(s.Dir, filepath.FromSlash(ref)))
	if err != nil {
		return nil, fmt.Errorf("open document: %w", err)
	}
	return f, nil
}

// kickOutbox wakes the outbox worker after every request that may have queued mail (any
// method but GET and HEAD), so a verification code arrives in seconds rather than at the
// worker's next poll. Kick never blocks.
func (a *App) kickOutbox(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if r.Method != http.MethodGet && r.Method != http.MethodHead && a.Outbox != nil {
			a.Outbox.Kick()
		}
	})
}

// OpenIdentity opens and migrates the configured database and builds the identity service
// over it, for operator commands (okpay admin …) that run without a server. The caller
// closes the database.
func OpenIdentity(ctx context.Context, cfg Config) (*identity.Service, *db.DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	d, err := db.Open(ctx, db.Config{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxConns: 2})
	if err != nil {
		return nil, nil, err
	}
	if _, err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	key, err := loadSecretKey(cfg)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	icfg := identity.DefaultConfig()
	icfg.SecretKey, icfg.BaseURL = key, publicURL(cfg)
	if identityTuning != nil {
		identityTuning(&icfg)
	}
	svc, err := identity.New(d, icfg)
	if err != nil {
		d.Close()
		return nil, nil, fmt.Errorf("identity: %w", err)
	}
	return svc, d, nil
}

// accountsAPI is what the JSON API's account resources need. It owns the Idempotency-Key
// store and runs its hourly purge, so stored responses do not pile up.
func (a *App) accountsAPI(svc *identity.Service, docs *DocumentStore) *api.Accounts {
	idem := &api.Idempotency{DB: a.DB, Lock: 30 * time.Second, Keep: 24 * time.Hour}
	a.Go("idempotency-purge", func(ctx context.Context) {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// Every node may purge: deleting expired rows twice is harmless.
				if n, err := idem.Purge(ctx); err != nil && ctx.Err() == nil {
					a.Log.Warn("idempotency purge", "err", err)
				} else if n > 0 {
					a.Log.Debug("idempotency purge", "deleted", n)
				}
			}
		}
	})
	return &api.Accounts{Service: svc, Documents: docs, Idempotency: idem}
}
