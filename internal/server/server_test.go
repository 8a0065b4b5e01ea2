package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"okpay/internal/db/dbtest"
	"okpay/internal/server"
)

// start runs a real server on 127.0.0.1:0 and stops it when the test ends.
func start(t *testing.T, cfg server.Config) *server.App {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := server.New(ctx, cfg, log)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	if err := app.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return app
}

func sqliteConfig(t *testing.T) server.Config {
	cfg := server.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	return cfg
}

func get(t *testing.T, u string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestServeSQLiteHealthAndReady(t *testing.T) {
	cfg := sqliteConfig(t)
	app := start(t, cfg)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, body := get(t, app.URL()+p, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	if _, err := os.Stat(cfg.DataDir + "/okpay.db"); err != nil {
		t.Fatalf("SQLite database not in data folder: %v", err)
	}
	if st, err := os.Stat(cfg.DataDir + "/secret.key"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	resp, body := get(t, app.URL()+"/metrics", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `okpay_http_requests_total{route="GET /healthz",code="200"}`) {
		t.Fatalf("metrics: %d\n%s", resp.StatusCode, body)
	}
}

func TestLanguageNegotiation(t *testing.T) {
	app := start(t, sqliteConfig(t))
	_, zh := get(t, app.URL()+"/", map[string]string{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
	_, en := get(t, app.URL()+"/", map[string]string{"Accept-Language": "en-US"})
	if !strings.Contains(zh, `lang="zh-CN"`) || !strings.Contains(en, `lang="en"`) {
		t.Fatalf("language not negotiated")
	}
	// The cookie set by the switch wins over the header.
	_, sw := get(t, app.URL()+"/", map[string]string{"Accept-Language": "en", "Cookie": "okpay_lang=zh-CN"})
	if !strings.Contains(sw, `lang="zh-CN"`) {
		t.Fatal("cookie did not win over Accept-Language")
	}
}

func TestAPIErrorsAreJSON(t *testing.T) {
	app := start(t, sqliteConfig(t))
	resp, body := get(t, app.URL()+"/api/v1/no/such/thing", map[string]string{"Accept-Language": "zh-CN"})
	var b struct {
		Error struct {
			Code, Message, Fix string
			RequestID          string `json:"request_id"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	if resp.StatusCode != 404 || b.Error.Code != "not_found" || b.Error.Message != "未找到。" || b.Error.RequestID == "" ||
		resp.Header.Get("X-Request-Id") != b.Error.RequestID {
		t.Fatalf("got %d %+v", resp.StatusCode, b)
	}
	req, _ := http.NewRequest("DELETE", app.URL()+"/api/v1/status", nil)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 405 || r2.Header.Get("Allow") != "GET" {
		t.Fatalf("wrong method: %d allow=%q", r2.StatusCode, r2.Header.Get("Allow"))
	}
	// Security headers on every response.
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("security headers missing: %v", resp.Header)
	}
}

func TestOpenAPIDocumentValid(t *testing.T) {
	app := start(t, sqliteConfig(t))
	resp, body := get(t, app.URL()+"/api/v1/openapi.json", nil)
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	var head struct{ OpenAPI string }
	json.Unmarshal([]byte(body), &head)
	if head.OpenAPI != "3.1.0" {
		t.Fatalf("openapi version %q", head.OpenAPI)
	}
	doc, err := openapi3.NewLoader().LoadFromData([]byte(body))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
	// The validator must be able to fail: a broken copy of the document is refused.
	broken := strings.Replace(body, `"responses"`, `"responsez"`, 1)
	if bd, err := openapi3.NewLoader().LoadFromData([]byte(broken)); err == nil && bd.Validate(context.Background()) == nil {
		t.Fatal("validator accepted an operation without responses")
	}
	if doc.Paths.Find("/status") == nil {
		t.Fatal("status operation missing")
	}
	resp, body = get(t, app.URL()+"/api/v1/docs", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "/api/v1/status") {
		t.Fatalf("docs page: %d", resp.StatusCode)
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	app := start(t, sqliteConfig(t))
	req, _ := http.NewRequest("POST", app.URL()+"/lang", strings.NewReader(url.Values{"lang": {"zh-CN"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "cross_origin_refused") {
		t.Fatalf("cross-site POST: %d %s", resp.StatusCode, b)
	}
	if strings.Contains(resp.Header.Get("Set-Cookie"), "okpay_lang") {
		t.Fatal("refused request still changed state")
	}
}

func TestPanicRecovered(t *testing.T) {
	// A handler that panics must not take the server down; exercised through the base
	// middleware in the httpx tests. Here: the server stays healthy after a bad request.
	app := start(t, sqliteConfig(t))
	req, _ := http.NewRequest("GET", app.URL()+"/api/v1/status", nil)
	req.Header.Set("Accept-Language", strings.Repeat("x", 60<<10))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if resp, _ := get(t, app.URL()+"/healthz", nil); resp.StatusCode != 200 {
		t.Fatal("server unhealthy after oversized header")
	}
}

func TestTwoNodesStartTogetherOnPostgres(t *testing.T) {
	u := dbtest.NewSchema(t)
	var wg sync.WaitGroup
	apps := make([]*server.App, 2)
	errs := make([]error, 2)
	for i := range apps {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cfg := server.Defaults()
			cfg.Listen = "127.0.0.1:0"
			cfg.DataDir = t.TempDir()
			cfg.DatabaseURL = u
			cfg.SecretKey = strings.Repeat("ab", 32)
			apps[i], errs[i] = server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer apps[i].Close()
		if err := apps[i].Ready(context.Background()); err != nil {
			t.Fatalf("node %d not ready: %v", i, err)
		}
	}
}

func TestConfigPrecedence(t *testing.T) {
	cfg := server.Defaults()
	fs := newFlagSet()
	env := map[string]string{"OKPAY_LISTEN": "127.0.0.1:9000", "OKPAY_DATA": "/tmp/envdata"}
	if err := cfg.Bind(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--listen", "127.0.0.1:9100"}); err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9100" || cfg.DataDir != "/tmp/envdata" || cfg.LogLevel != "info" {
		t.Fatalf("precedence wrong: %+v", cfg)
	}
	bad := server.Defaults()
	if err := bad.Bind(newFlagSet(), func(k string) string {
		if k == "OKPAY_DEMO" {
			return "maybe"
		}
		return ""
	}); err == nil || !strings.Contains(err.Error(), "OKPAY_DEMO") {
		t.Fatalf("bad env value accepted: %v", err)
	}
	bad = server.Defaults()
	bad.DatabaseURL = "mysql://x"
	if err := bad.Validate(); err == nil {
		t.Fatal("non-postgres URL accepted")
	}
}

func TestShutdownDrainsInFlight(t *testing.T) {
	cfg := sqliteConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	app, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx) }()
	if resp, _ := get(t, app.URL()+"/healthz", nil); resp.StatusCode != 200 {
		t.Fatal("not serving")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown hung")
	}
	if _, err := http.Get(app.URL() + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}
