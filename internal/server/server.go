package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"okpay/internal/api"
	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/db"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/ledger"
	"okpay/internal/metrics"
	"okpay/internal/notify"
	"okpay/internal/rail"
	"okpay/internal/support/help"
	"okpay/internal/support/tickets"
	"okpay/internal/wallet"
	"okpay/internal/web"
)

// Version is set at build time with -ldflags "-X okpay/internal/server.Version=…".
var Version = "dev"

// App is a running OKPay node: database, services, HTTP server and background jobs.
type App struct {
	Cfg     Config
	Log     *slog.Logger
	DB      *db.DB
	Metrics *metrics.Registry
	API     *api.API
	UI      *web.UI
	// SecretKey encrypts secrets at rest (TOTP seeds, rail tokens).
	SecretKey []byte
	// NodeID names this node in job leases.
	NodeID string
	// Outbox sends queued email and SMS after their transactions commit.
	Outbox *notify.Worker
	// Identity is accounts, sign-in, sessions and restrictions.
	Identity *identity.Service
	// Support is live chat, announcements (and MoneyAllowed) and the inbox.
	Support *SupportLive
	// Tickets is the support desk: tickets, service hours, inbound mail.
	Tickets *tickets.Service
	// Ledger, Rail and Wallet are the money: the double-entry engine, the sandbox bank and
	// the wallet's flows over them (see wallet.go).
	Ledger *ledger.Ledger
	Rail   *rail.Sandbox
	Wallet *wallet.Service
	usage  usageSource

	handler  http.Handler
	srv      *http.Server
	ln       net.Listener
	jobs     sync.WaitGroup
	stopJobs context.CancelFunc
	jobCtx   context.Context
}

// DemoSeeder adds demo data; each runs once per database (see seedDemo).
type DemoSeeder struct {
	Name string
	Seed func(ctx context.Context, a *App) error
}

var demoSeeders []DemoSeeder

// RegisterDemo adds a seeder that `serve --demo` runs once. Later domains (users, balances)
// register theirs here so demo data grows with the product.
func RegisterDemo(s DemoSeeder) { demoSeeders = append(demoSeeders, s) }

// NewLogger builds the process logger from cfg.
func NewLogger(cfg Config, w *os.File) *slog.Logger {
	lvl := slog.LevelInfo
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// New opens the database, migrates it, seeds demo data when asked and builds the handlers.
// It does not listen yet; call Serve.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{Cfg: cfg, Log: log, Metrics: metrics.New()}
	host, _ := os.Hostname()
	a.NodeID = host + "-" + randomHex(4)
	d, err := db.Open(ctx, db.Config{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxConns: cfg.MaxConns})
	if err != nil {
		return nil, err
	}
	a.DB = d
	n, err := d.Migrate(ctx)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	log.Info("database ready", "engine", d.Engine, "where", a.where(), "migrations_applied", n)
	if a.SecretKey, err = loadSecretKey(cfg); err != nil {
		d.Close()
		return nil, err
	}
	a.jobCtx, a.stopJobs = context.WithCancel(context.WithoutCancel(ctx))
	if err := a.build(); err != nil {
		a.Close()
		return nil, err
	}
	if cfg.Demo {
		if err := a.seedDemo(ctx); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

func (a *App) where() string {
	if a.DB.Engine == db.Postgres {
		return db.Redact(a.Cfg.DatabaseURL)
	}
	return a.DB.Path
}

func (a *App) build() error {
	ready := a.Ready
	if err := a.buildOutbox(); err != nil {
		return err
	}
	idsvc, err := a.buildIdentity()
	if err != nil {
		return err
	}
	a.Identity = idsvc
	docs := NewDocumentStore(a.Cfg.DataDir)
	helpCenter := help.New(a.DB, help.Config{Log: a.Log})
	if a.Tickets, err = a.buildSupportDesk(); err != nil {
		return err
	}
	if a.Support, err = a.buildSupportLive(a.Tickets); err != nil {
		return err
	}
	if err := a.buildWallet(); err != nil {
		return err
	}
	sc, err := a.buildConsole()
	if err != nil {
		return err
	}
	accts := a.accountsAPI(idsvc, docs)
	a.API = api.New(api.Deps{Version: Version, Ready: ready, Clock: a.DB.Clock, Help: helpCenter, Support: a.Support.api(), Tickets: a.Tickets,
		Accounts: accts, Console: sc.api(), Wallet: a.walletAPI(accts)})
	ui, err := web.New(web.Config{Version: Version, Log: a.Log, Ready: ready, Dev: a.Cfg.Dev || a.Cfg.Demo, Reload: a.Cfg.Dev, Help: helpCenter, Support: a.Support.web(), Tickets: a.Tickets,
		Mailbox: func(ctx context.Context, to string, limit int) ([]notify.Mail, error) {
			return notify.ListMail(ctx, a.DB, to, limit)
		},
		Accounts: &web.Accounts{Service: idsvc, Documents: docs}, Console: sc.web(), Wallet: a.walletWeb()})
	if err != nil {
		return fmt.Errorf("web UI: %w", err)
	}
	a.UI = ui
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := a.Ready(r.Context()); err != nil {
			a.Log.Warn("not ready", "err", err)
			httpx.WriteError(w, r, apperr.New(apperr.CodeUnavailable).Wrap(err))
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", a.Metrics.Handler())
	a.API.Register(mux)
	a.UI.Register(mux)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := apperr.New(apperr.CodeCrossOrigin)
		if strings.HasPrefix(r.URL.Path, "/api/") {
			httpx.WriteError(w, r, err)
			return
		}
		a.UI.RenderError(w, r, err)
	}))
	a.handler = httpx.Base(cop.Handler(authn.Middleware(idsvc, a.kickOutbox(mux))), a.Log, a.observe)
	return nil
}

// buildOutbox chooses the mail transport — real SMTP when configured, otherwise the dev
// mailbox (mail stays readable in the outbox) — and starts the sending worker.
func (a *App) buildOutbox() error {
	var email notify.EmailSender = notify.DevMailbox{Logger: a.Log}
	if a.Cfg.SMTPURL != "" {
		sc, err := notify.ParseSMTPURL(a.Cfg.SMTPURL)
		if err != nil {
			return fmt.Errorf("--smtp: %w", err)
		}
		if email, err = notify.NewSMTPSender(sc); err != nil {
			return fmt.Errorf("--smtp: %w", err)
		}
	}
	w, err := notify.NewWorker(a.DB, notify.WorkerConfig{
		Email:  email,
		SMS:    notify.LogSMS{Logger: a.Log, Dev: a.Cfg.Dev || a.Cfg.Demo},
		Logger: a.Log,
		// Every payment mails its recipient: at thousands of payments a second, ten
		// messages per claim meant two write transactions per ten payments.
		BatchSize: notify.MaxBatchSize,
	})
	if err != nil {
		return fmt.Errorf("outbox worker: %w", err)
	}
	a.Outbox = w
	a.Go("outbox", func(ctx context.Context) {
		if err := w.Run(ctx); err != nil && ctx.Err() == nil {
			a.Log.Error("outbox worker stopped", "err", err)
		}
	})
	return nil
}

func (a *App) observe(r *http.Request, status int, d time.Duration) {
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	a.Metrics.Inc("okpay_http_requests_total", "HTTP requests by route and status.", "route", route, "code", fmt.Sprint(status))
	a.Metrics.Observe("okpay_http_request_duration_seconds", "HTTP request latency by route.", d.Seconds(), "route", route)
}

// Handler is the whole HTTP handler (for tests that use httptest).
func (a *App) Handler() http.Handler { return a.handler }

// Ready is nil when the database answers and every migration is applied.
func (a *App) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := a.DB.W.PingContext(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	n, err := a.DB.PendingMigrations(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%d migrations pending", n)
	}
	return nil
}

// Listen binds the listener; Addr is valid afterwards.
func (a *App) Listen() error {
	ln, err := net.Listen("tcp", a.Cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Cfg.Listen, err)
	}
	a.ln = ln
	return nil
}

// Addr is the bound address.
func (a *App) Addr() string { return a.ln.Addr().String() }

// URL is the base URL of the bound listener.
func (a *App) URL() string {
	scheme := "http"
	if a.Cfg.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + a.Addr()
}

// Go runs a background job until shutdown; jobs must return when ctx is done.
func (a *App) Go(name string, fn func(ctx context.Context)) {
	a.jobs.Add(1)
	go func() {
		defer a.jobs.Done()
		fn(a.jobCtx)
		a.Log.Debug("job stopped", "job", name)
	}()
}

// Serve answers requests until ctx is cancelled, then drains in-flight requests, stops the
// background jobs and closes the database, in that order, so nothing in flight loses its
// database underneath it.
func (a *App) Serve(ctx context.Context) error {
	if a.ln == nil {
		if err := a.Listen(); err != nil {
			return err
		}
	}
	a.srv = &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		if a.Cfg.TLSCert != "" {
			err = a.srv.ServeTLS(a.ln, a.Cfg.TLSCert, a.Cfg.TLSKey)
		} else {
			err = a.srv.Serve(a.ln)
		}
		errc <- err
	}()
	a.Log.Info("listening", "url", a.URL(), "version", Version)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	a.Log.Info("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), a.Cfg.ShutdownTimeout)
	defer cancel()
	err := a.srv.Shutdown(sctx)
	a.Close()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}

// Close stops background jobs and closes the database.
func (a *App) Close() {
	if a.stopJobs != nil {
		a.stopJobs()
	}
	a.jobs.Wait()
	a.closeLedger()
	if a.DB != nil {
		a.DB.Close()
	}
}

func (a *App) seedDemo(ctx context.Context) error {
	for _, s := range demoSeeders {
		key := "demo_seeded:" + s.Name
		if _, done, err := a.DB.GetMeta(ctx, key); err != nil {
			return err
		} else if done {
			continue
		}
		if err := s.Seed(ctx, a); err != nil {
			return fmt.Errorf("demo data %s: %w", s.Name, err)
		}
		if err := a.DB.InTx(ctx, func(tx *db.Tx) error { return db.SetMetaTx(ctx, tx, key, "1") }); err != nil {
			return err
		}
		a.Log.Info("demo data seeded", "seeder", s.Name)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// loadSecretKey returns the 32-byte key for secrets at rest: from config, or from a key file
// in the data folder created 0600 on first start. With PostgreSQL and several nodes the key
// must be given in config so every node has the same one.
func loadSecretKey(cfg Config) ([]byte, error) {
	if cfg.SecretKey != "" {
		k, err := hex.DecodeString(cfg.SecretKey)
		if err != nil || len(k) != 32 {
			return nil, errors.New("OKPAY_SECRET_KEY must be 64 hex characters (32 bytes)")
		}
		return k, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	path := filepath.Join(cfg.DataDir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("key file %s is damaged: expected 64 hex characters", path)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate secret key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write key file: %w", err)
	}
	return k, nil
}
