package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"okpay/internal/identity"
	"okpay/internal/ledger"
	"okpay/internal/server"
)

func init() {
	registerBench(Command{Name: "api", Summary: "P2P transfers/s and latency through the HTTP API of a real server", Run: runBenchAPI})
}

type benchAPIResult struct {
	Bench  string `json:"bench"`
	Engine string `json:"engine"`
	// Op is what each request does: transfer (the figure of issue #5), or me / balances,
	// trivial authenticated reads that measure the HTTP, middleware and session path
	// alone (Transfers then counts those requests).
	Op              string  `json:"op"`
	Users           int     `json:"users"`
	Connections     int     `json:"connections"`
	Seconds         float64 `json:"seconds"`
	Transfers       int64   `json:"transfers"`
	TransfersPerSec float64 `json:"transfers_per_sec"`
	P50Ms           float64 `json:"p50_ms"`
	P99Ms           float64 `json:"p99_ms"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`
	// CPUMsPerTransfer is the process's CPU time (user + system, server and the bench's
	// own HTTP clients together) during the transfer phase per transfer: less sensitive
	// than the rate to what else runs on the machine.
	CPUMsPerTransfer float64 `json:"cpu_ms_per_transfer"`
	// DiskWriteKBPerTransfer is what the process sent to storage (/proc/self/io
	// write_bytes: log frames, checkpoints, the history file) during the transfer phase
	// per transfer: the write amplification of a transfer's rows and index entries.
	// Absent where /proc is not available.
	DiskWriteKBPerTransfer float64 `json:"disk_write_kb_per_transfer,omitempty"`
	Reconcile              string  `json:"reconcile"`
	// Refused counts answers other than 201 by error code (none expected).
	Refused     string  `json:"refused,omitempty"`
	SetupSecond float64 `json:"setup_seconds"`
}

// benchUser is a signed-in user of the bench: the session cookie drives the API.
type benchUser struct {
	id, email, cookie string
}

func runBenchAPI(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("okpay bench api", flag.ContinueOnError)
	dataDir := fs.String("data", "", "SQLite data folder (default: a fresh temporary folder, removed after)")
	dbURL := fs.String("database", os.Getenv("OKPAY_DATABASE_URL"), "postgres://… URL; the bench works in a fresh schema it drops after (env OKPAY_DATABASE_URL)")
	users := fs.Int("users", 1000, "users, each with a verified test card and 100.00 CNY topped up")
	conns := fs.Int("connections", 64, "concurrent keep-alive HTTP connections")
	duration := fs.Duration("duration", 10*time.Second, "how long to send transfers")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the transfer phase to this file")
	traceFile := fs.String("trace", "", "write an execution trace of the transfer phase to this file (go tool trace -pprof=sync|syscall|sched FILE shows where requests wait)")
	memProfile := fs.String("memprofile", "", "write allocation profiles at the start and the end of the transfer phase to FILE.start and FILE (compare with go tool pprof -sample_index=alloc_space -base FILE.start …)")
	keep := fs.Bool("keep", false, "keep the temporary SQLite folder / PostgreSQL schema")
	op := fs.String("op", "transfer", "what each request does: transfer (POST /transfers), me (GET /me) or balances (GET /wallet/balances); the reads measure the HTTP + session path without the write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *op != "transfer" && *op != "me" && *op != "balances" {
		fmt.Fprintln(os.Stderr, "okpay bench api: --op is transfer, me or balances")
		return errUsage
	}
	if *users < 2 || *users > 100_000 || *conns < 1 || *conns > 4096 || *duration <= 0 || *duration > time.Hour {
		fmt.Fprintln(os.Stderr, "okpay bench api: need 2 ≤ --users ≤ 100000, 1 ≤ --connections ≤ 4096, 0 < --duration ≤ 1h")
		return errUsage
	}
	cfg := server.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.LogLevel = "warn"
	var kb [32]byte
	rand.Read(kb[:])
	cfg.SecretKey = hex.EncodeToString(kb[:])
	engine := "sqlite"
	if *dbURL != "" {
		engine = "postgres"
		u, cleanup, err := benchSchema(ctx, *dbURL, *keep)
		if err != nil {
			return err
		}
		defer cleanup()
		cfg.DatabaseURL = u
		cfg.DataDir, _ = os.MkdirTemp("", "okpay-bench-api-")
		defer os.RemoveAll(cfg.DataDir)
	} else {
		cfg.DataDir = *dataDir
		if cfg.DataDir == "" {
			dir, err := os.MkdirTemp("", "okpay-bench-api-")
			if err != nil {
				return fmt.Errorf("temp folder: %w", err)
			}
			if !*keep {
				defer os.RemoveAll(dir)
			}
			cfg.DataDir = dir
		}
	}
	server.TuneForBench()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	app, err := server.New(sctx, cfg, log)
	if err != nil {
		return err
	}
	if err := app.Listen(); err != nil {
		app.Close()
		return err
	}
	served := make(chan error, 1)
	go func() { served <- app.Serve(sctx) }()
	base := app.URL() + "/api/v1"

	// Users: created, signed in and funded through the services, in parallel.
	t0 := time.Now()
	us := make([]benchUser, *users)
	var next atomic.Int64
	var setupErr error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(us) {
					return
				}
				if err := setupUser(sctx, app, i, &us[i]); err != nil {
					once.Do(func() { setupErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if setupErr != nil {
		return fmt.Errorf("bench setup: %w", setupErr)
	}
	// Setup queued mail (new-device alerts, card and top-up emails): send it all before
	// the clock starts, so the transfers compete only with their own side effects.
	for {
		n, err := app.Outbox.RunOnce(sctx)
		if err != nil {
			return fmt.Errorf("drain outbox: %w", err)
		}
		if n == 0 {
			break
		}
	}
	// The top-ups left updates on the sandbox rail's feed (each applied in transactions
	// of its own by a background job every 1.5 s): apply them now too, or the first
	// seconds of the run measure them as well.
	for {
		n, err := app.Wallet.ProcessRailUpdates(sctx)
		if err != nil {
			return fmt.Errorf("apply rail updates: %w", err)
		}
		if n == 0 {
			break
		}
	}
	setup := time.Since(t0)
	fmt.Fprintf(os.Stderr, "okpay bench api: %d users ready in %.1fs; sending transfers for %s over %d connections\n", *users, setup.Seconds(), *duration, *conns)

	tr := &http.Transport{MaxIdleConns: *conns, MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns, IdleConnTimeout: time.Minute}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	stopTrace, err := startTrace(*traceFile)
	if err != nil {
		return err
	}
	defer stopTrace()
	writeAllocs := func(path string) {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "memprofile:", err)
			return
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			fmt.Fprintln(os.Stderr, "memprofile:", err)
		}
	}
	if *memProfile != "" {
		writeAllocs(*memProfile + ".start")
	}
	var done atomic.Int64
	var refused sync.Map // code → *atomic.Int64
	lat := make([][]float32, *conns)
	deadline := time.Now().Add(*duration)
	cpu0 := processCPU()
	disk0, diskOK := processDiskWrites()
	start := time.Now()
	for c := 0; c < *conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(c), 7))
			var body bytes.Buffer
			for n := 0; time.Now().Before(deadline); n++ {
				from := us[rng.IntN(len(us))]
				to := us[rng.IntN(len(us))]
				if to.id == from.id {
					continue
				}
				var req *http.Request
				switch *op {
				case "me":
					req, _ = http.NewRequestWithContext(sctx, "GET", base+"/me", nil)
				case "balances":
					req, _ = http.NewRequestWithContext(sctx, "GET", base+"/wallet/balances", nil)
				default:
					body.Reset()
					fmt.Fprintf(&body, `{"to":%q,"amount":"0.01","asset":"CNY"}`, to.id)
					req, _ = http.NewRequestWithContext(sctx, "POST", base+"/transfers", bytes.NewReader(body.Bytes()))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Idempotency-Key", fmt.Sprintf("b%d-%d", c, n))
				}
				req.Header.Set("Cookie", from.cookie)
				t := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					countRefusal(&refused, "transport")
					continue
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat[c] = append(lat[c], float32(time.Since(t).Seconds()*1000))
				if resp.StatusCode == http.StatusCreated || (*op != "transfer" && resp.StatusCode == http.StatusOK) {
					done.Add(1)
					continue
				}
				var e struct{ Error struct{ Code string } }
				_ = json.Unmarshal(raw, &e)
				countRefusal(&refused, e.Error.Code)
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	disk1, diskOK1 := processDiskWrites()
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	stopTrace()
	if *memProfile != "" {
		writeAllocs(*memProfile)
	}
	peak := peakRSSMB()
	var all []float32
	for _, l := range lat {
		all = append(all, l...)
	}
	p50, p99 := percentiles(all)
	stop()
	if err := <-served; err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
	}
	// The server has closed its database: reconcile on a fresh connection.
	rep, err := reconcileAfter(ctx, cfg)
	if err != nil {
		return err
	}
	recon := "ok"
	if !rep.OK() {
		recon = "failed"
		fmt.Fprint(os.Stderr, rep.String())
	}
	var reasons []string
	refused.Range(func(k, v any) bool {
		reasons = append(reasons, fmt.Sprintf("%s:%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(reasons)
	out := benchAPIResult{Bench: "api", Engine: engine, Op: *op, Users: *users, Connections: *conns, Seconds: round3(elapsed.Seconds()),
		Transfers: done.Load(), TransfersPerSec: math.Round(float64(done.Load()) / elapsed.Seconds()), P50Ms: round3(p50), P99Ms: round3(p99),
		PeakRSSMB: peak, CPUMsPerTransfer: round3(cpu.Seconds() * 1000 / float64(max(done.Load(), 1))), Reconcile: recon, Refused: strings.Join(reasons, ","), SetupSecond: round3(setup.Seconds())}
	if diskOK && diskOK1 {
		out.DiskWriteKBPerTransfer = round3(float64(disk1-disk0) / 1024 / float64(max(done.Load(), 1)))
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	if recon != "ok" {
		return errors.New("reconcile failed after the bench")
	}
	return nil
}

func countRefusal(m *sync.Map, code string) {
	if code == "" {
		code = "unknown"
	}
	v, _ := m.LoadOrStore(code, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// setupUser creates user i, signs them in (the session is what the API calls use) and
// funds their wallet from a sandbox test card.
func setupUser(ctx context.Context, app *server.App, i int, out *benchUser) error {
	email := fmt.Sprintf("bench%06d@bench.okpay.test", i)
	const pw = "Bench-Kettle-2026!"
	u, err := app.Identity.CreateUser(ctx, identity.CreateUserInput{Email: email, Password: pw, Lang: "en", Role: identity.RoleCustomer, Verified: true})
	if err != nil {
		return fmt.Errorf("create %s: %w", email, err)
	}
	si, err := app.Identity.SignIn(ctx, identity.SignInInput{Email: email, Password: pw}, identity.Client{IP: "127.0.0.1", UserAgent: "okpay bench"})
	if err != nil || si.Session == nil {
		return fmt.Errorf("sign in %s: %v", email, err)
	}
	if err := app.FundWithCard(ctx, u.ID, si.Session.ID, "Bench User", "100.00"); err != nil {
		return fmt.Errorf("fund %s: %w", email, err)
	}
	*out = benchUser{id: u.ID, email: email, cookie: "okpay_session=" + si.Token}
	return nil
}

// reconcileAfter opens the bench database again and checks the ledger's invariants.
func reconcileAfter(ctx context.Context, cfg server.Config) (*ledger.Report, error) {
	_, d, err := server.OpenIdentity(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return ledger.Reconcile(ctx, d)
}

// processCPU is the CPU time (user + system) this process has used so far, from
// /proc/self/stat (0 where there is none). Linux counts it in ticks of 10 ms.
// processDiskWrites returns the bytes this process has caused to be written to storage
// (write_bytes of /proc/self/io), and whether it could read them.
func processDiskWrites() (int64, bool) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func processCPU() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after it are plain.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
