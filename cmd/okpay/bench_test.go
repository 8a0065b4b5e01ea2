package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"okpay/internal/db/dbtest"
)

// lastLineOf runs fn with os.Stdout captured and decodes the last line it printed, the
// benches' JSON result.
func lastLineOf(t *testing.T, fn func() error) map[string]any {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	var buf bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&buf, r); close(copied) }()
	runErr := fn()
	os.Stdout = saved
	w.Close()
	<-copied
	if runErr != nil {
		t.Fatalf("bench: %v\noutput:\n%s", runErr, buf.String())
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var out map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil {
		t.Fatalf("last line is not JSON: %q: %v", lines[len(lines)-1], err)
	}
	return out
}

// benchEngines runs fn with the flags that select each engine: a fresh SQLite folder,
// and a PostgreSQL server when the tests have one (the bench makes and drops its schema).
func benchEngines(t *testing.T, fn func(t *testing.T, engine string, flags []string)) {
	t.Setenv("OKPAY_DATABASE_URL", "") // the benches' default; must not leak in
	t.Run("sqlite", func(t *testing.T) { fn(t, "sqlite", []string{"--data", t.TempDir()}) })
	t.Run("postgres", func(t *testing.T) { fn(t, "postgres", []string{"--database", dbtest.PostgresURL(t)}) })
}

func TestBenchLedgerCommand(t *testing.T) {
	benchEngines(t, func(t *testing.T, engine string, flags []string) {
		for _, mode := range []string{"", "--hot", "--two-way-hot"} {
			if engine == "sqlite" {
				flags = []string{"--data", t.TempDir()} // a fresh folder per run
			}
			args := append([]string{"--accounts", "40", "--transfers", "1500", "--concurrency", "16", "--history-lookups", "20"}, flags...)
			if mode != "" {
				args = append(args, mode)
			}
			got := lastLineOf(t, func() error { return runBenchLedger(context.Background(), args) })
			want := map[string]any{"bench": "ledger", "engine": engine, "accounts": 40.0, "transfers": 1500.0, "concurrency": 16.0, "reconcile": "ok"}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s %s: %s = %v, want %v", engine, mode, k, got[k], v)
				}
			}
			wantMode := strings.TrimPrefix(mode, "--")
			if wantMode == "" {
				wantMode = "uniform"
			}
			if got["mode"] != wantMode {
				t.Errorf("%s: mode = %v, want %s", engine, got["mode"], wantMode)
			}
			for _, k := range []string{"seconds", "transfers_per_sec", "p50_ms", "p99_ms", "peak_rss_mb"} {
				if v, ok := got[k].(float64); !ok || v <= 0 {
					t.Errorf("%s %s: %s = %v, want a positive number", engine, mode, k, got[k])
				}
			}
		}
	})
}

func TestBenchAPICommand(t *testing.T) {
	benchEngines(t, func(t *testing.T, engine string, flags []string) {
		tracePath := filepath.Join(t.TempDir(), "api.trace")
		args := append([]string{"--users", "4", "--connections", "2", "--duration", "700ms", "--trace", tracePath}, flags...)
		got := lastLineOf(t, func() error { return runBenchAPI(context.Background(), args) })
		if fi, err := os.Stat(tracePath); err != nil || fi.Size() == 0 {
			t.Errorf("--trace wrote no trace: %v", err)
		}
		if got["bench"] != "api" || got["engine"] != engine || got["op"] != "transfer" || got["reconcile"] != "ok" {
			t.Errorf("result: %v", got)
		}
		if n, _ := got["transfers"].(float64); n < 1 {
			t.Errorf("transfers = %v, want some", got["transfers"])
		}
		if r, ok := got["refused"]; ok {
			t.Errorf("refused answers: %v", r)
		}
		for _, k := range []string{"transfers_per_sec", "p50_ms", "p99_ms", "peak_rss_mb", "cpu_ms_per_transfer"} {
			if v, ok := got[k].(float64); !ok || v <= 0 {
				t.Errorf("%s = %v, want a positive number", k, got[k])
			}
		}
		// Every transfer writes to the database files, so on Linux the figure is there.
		if runtime.GOOS == "linux" && engine == "sqlite" {
			if v, ok := got["disk_write_kb_per_transfer"].(float64); !ok || v <= 0 {
				t.Errorf("disk_write_kb_per_transfer = %v, want a positive number", got["disk_write_kb_per_transfer"])
			}
		}
	})
}
