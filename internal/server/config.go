// Package server wires configuration → services → HTTP → background jobs, and shuts them
// down in order. It is the only package that knows every other one.
package server

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is everything `okpay serve` can be told. Precedence: flags > OKPAY_* environment >
// defaults. The README's configuration table lists the same names.
type Config struct {
	Listen          string
	PublicURL       string
	DataDir         string
	DatabaseURL     string
	Demo            bool
	Dev             bool
	LogLevel        string
	LogFormat       string
	TLSCert         string
	TLSKey          string
	SMTPURL         string
	SMTPInbound     string
	SupportEmail    string
	SupportHours    string
	SecretKey       string
	ShutdownTimeout time.Duration
	MaxConns        int
}

// Defaults returns the built-in configuration.
func Defaults() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		DataDir:         "okpay-data",
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: 20 * time.Second,
		MaxConns:        32,
		SupportEmail:    "support@okpay.example",
	}
}

type option struct {
	flag, env, help string
	str             *string
	b               *bool
	dur             *time.Duration
	n               *int
}

func (c *Config) options() []option {
	return []option{
		{flag: "listen", env: "OKPAY_LISTEN", help: "address to listen on (host:port)", str: &c.Listen},
		{flag: "public-url", env: "OKPAY_PUBLIC_URL", help: "address people reach this server at, for links in emails (e.g. https://pay.example.com); empty uses the listen address", str: &c.PublicURL},
		{flag: "data", env: "OKPAY_DATA", help: "data folder for the SQLite database, key file and uploads", str: &c.DataDir},
		{flag: "database", env: "OKPAY_DATABASE_URL", help: "postgres://… URL; empty uses SQLite in the data folder", str: &c.DatabaseURL},
		{flag: "demo", env: "OKPAY_DEMO", help: "seed demo data once and enable the dev mailbox", b: &c.Demo},
		{flag: "dev", env: "OKPAY_DEV", help: "development mode: dev mailbox page, SMS codes in the log", b: &c.Dev},
		{flag: "log-level", env: "OKPAY_LOG_LEVEL", help: "debug, info, warn or error", str: &c.LogLevel},
		{flag: "log-format", env: "OKPAY_LOG_FORMAT", help: "text or json", str: &c.LogFormat},
		{flag: "tls-cert", env: "OKPAY_TLS_CERT", help: "TLS certificate file (PEM); serve HTTPS when set with --tls-key", str: &c.TLSCert},
		{flag: "tls-key", env: "OKPAY_TLS_KEY", help: "TLS private key file (PEM)", str: &c.TLSKey},
		{flag: "smtp", env: "OKPAY_SMTP_URL", help: "smtp://user:pass@host:port?from=… for outgoing mail; empty keeps mail in the dev mailbox", str: &c.SMTPURL},
		{flag: "smtp-inbound", env: "OKPAY_SMTP_INBOUND", help: "host:port for the inbound SMTP listener that turns mail to --support-email into tickets; empty: off", str: &c.SMTPInbound},
		{flag: "support-email", env: "OKPAY_SUPPORT_EMAIL", help: "the support mailbox: the only recipient --smtp-inbound accepts, shown on the contact page", str: &c.SupportEmail},
		{flag: "support-hours", env: "OKPAY_SUPPORT_HOURS", help: "JSON file with service hours, holidays, contact numbers and response targets; empty: built-in OKPay hours", str: &c.SupportHours},
		{flag: "secret-key", env: "OKPAY_SECRET_KEY", help: "64 hex chars encrypting secrets at rest; empty uses a key file created 0600 in the data folder", str: &c.SecretKey},
		{flag: "shutdown-timeout", env: "OKPAY_SHUTDOWN_TIMEOUT", help: "how long shutdown waits for in-flight requests", dur: &c.ShutdownTimeout},
		{flag: "max-conns", env: "OKPAY_MAX_CONNS", help: "database connection pool size", n: &c.MaxConns},
	}
}

// Bind applies the environment over c's current values and registers the flags on fs, so
// parsing fs afterwards lets flags win.
func (c *Config) Bind(fs *flag.FlagSet, getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, o := range c.options() {
		if v := getenv(o.env); v != "" {
			if err := o.set(v); err != nil {
				return fmt.Errorf("%s: %w", o.env, err)
			}
		}
		usage := o.help + " (env " + o.env + ")"
		switch {
		case o.str != nil:
			fs.StringVar(o.str, o.flag, *o.str, usage)
		case o.b != nil:
			fs.BoolVar(o.b, o.flag, *o.b, usage)
		case o.dur != nil:
			fs.DurationVar(o.dur, o.flag, *o.dur, usage)
		case o.n != nil:
			fs.IntVar(o.n, o.flag, *o.n, usage)
		}
	}
	return nil
}

func (o option) set(v string) error {
	switch {
	case o.str != nil:
		*o.str = v
	case o.b != nil:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		*o.b = b
	case o.dur != nil:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want a duration such as 20s, got %q", v)
		}
		*o.dur = d
	case o.n != nil:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want a number, got %q", v)
		}
		*o.n = n
	}
	return nil
}

// Validate checks values that flag parsing cannot.
func (c *Config) Validate() error {
	var errs []string
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, "--database must be a postgres:// URL")
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			errs = append(errs, "--public-url must be an http(s) URL without a path, such as https://pay.example.com")
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, "--tls-cert and --tls-key go together")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, "--log-level must be debug, info, warn or error")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, "--log-format must be text or json")
	}
	if c.MaxConns < 1 || c.MaxConns > 1000 {
		errs = append(errs, "--max-conns must be between 1 and 1000")
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, "--shutdown-timeout must be positive")
	}
	errs = append(errs, validSupportConfig(c)...)
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration: %s", strings.Join(errs, "; "))
	}
	return nil
}

// EnvTable renders the options as a Markdown table for the README (kept in step by a test).
func EnvTable() string {
	c := Defaults()
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n|---|---|---|---|\n")
	for _, o := range c.options() {
		def := ""
		switch {
		case o.str != nil:
			def = *o.str
		case o.b != nil:
			def = strconv.FormatBool(*o.b)
		case o.dur != nil:
			def = o.dur.String()
		case o.n != nil:
			def = strconv.Itoa(*o.n)
		}
		if def != "" {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", o.flag, o.env, def, o.help)
	}
	return b.String()
}
