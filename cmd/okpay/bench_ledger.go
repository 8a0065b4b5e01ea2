package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"okpay/internal/db"
	"okpay/internal/ledger"
)

func init() {
	registerBench(Command{Name: "ledger", Summary: "transfers/s, latency and memory of the ledger committer", Run: runBenchLedger})
}

type benchLedgerResult struct {
	Bench           string  `json:"bench"`
	Engine          string  `json:"engine"`
	Accounts        int     `json:"accounts"`
	Transfers       int     `json:"transfers"`
	Concurrency     int     `json:"concurrency"`
	Mode            string  `json:"mode"`
	Seconds         float64 `json:"seconds"`
	TransfersPerSec float64 `json:"transfers_per_sec"`
	P50Ms           float64 `json:"p50_ms"`
	P99Ms           float64 `json:"p99_ms"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`
	Reconcile       string  `json:"reconcile"`
	// Beyond the common fields: transfers per Submit call, committer batches, and the
	// account-history lookup latency measured after the run.
	PerCall        int     `json:"per_call"`
	Batches        int64   `json:"batches"`
	HistoryP50Ms   float64 `json:"history_p50_ms"`
	HistoryP99Ms   float64 `json:"history_p99_ms"`
	Merges         int64   `json:"merges"`
	MergeSeconds   float64 `json:"merge_seconds"`
	FailedByReason string  `json:"failed,omitempty"`
}

func runBenchLedger(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("okpay bench ledger", flag.ContinueOnError)
	dataDir := fs.String("data", "", "SQLite data folder (default: a fresh temporary folder, removed after)")
	dbURL := fs.String("database", os.Getenv("OKPAY_DATABASE_URL"), "postgres://… URL; the bench works in a fresh schema it drops after (env OKPAY_DATABASE_URL)")
	accounts := fs.Int("accounts", 10_000, "user accounts")
	transfers := fs.Int("transfers", 1_000_000, "transfers to run")
	concurrency := fs.Int("concurrency", 256, "concurrent callers")
	perCall := fs.Int("per-call", 1, "transfers per Submit call")
	hot := fs.Bool("hot", false, "every transfer credits one merchant account")
	twoWay := fs.Bool("two-way-hot", false, "transfers go both ways between two accounts")
	lookups := fs.Int("history-lookups", 1000, "account-history lookups timed after the run")
	mergeEvery := fs.Int("merge-every", 0, "SQLite: transfers between history merges (0 = ledger default)")
	maxBatch := fs.Int("max-batch", 0, "transfers per committer batch (0 = ledger default)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run phase to this file")
	traceFile := fs.String("trace", "", "write an execution trace of the run phase to this file (go tool trace -pprof=sync|syscall|sched FILE shows where the committer and callers wait)")
	memProfile := fs.String("memprofile", "", "write a heap profile at the end of the run phase to this file")
	keep := fs.Bool("keep", false, "keep the temporary SQLite folder / PostgreSQL schema")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *accounts < 2 || *transfers < 1 || *concurrency < 1 || *perCall < 1 || *perCall > 8192 || (*hot && *twoWay) {
		fmt.Fprintln(os.Stderr, "okpay bench ledger: need --accounts ≥ 2, --transfers ≥ 1, --concurrency ≥ 1, 1 ≤ --per-call ≤ 8192, and at most one of --hot/--two-way-hot")
		return errUsage
	}
	mode := "uniform"
	if *hot {
		mode = "hot"
	} else if *twoWay {
		mode = "two-way-hot"
	}

	cfg := db.Config{MaxConns: 8}
	engine := "sqlite"
	if *dbURL != "" {
		engine = "postgres"
		u, cleanup, err := benchSchema(ctx, *dbURL, *keep)
		if err != nil {
			return err
		}
		defer cleanup()
		cfg.URL = u
	} else {
		cfg.DataDir = *dataDir
		if cfg.DataDir == "" {
			dir, err := os.MkdirTemp("", "okpay-bench-ledger-")
			if err != nil {
				return fmt.Errorf("temp folder: %w", err)
			}
			if !*keep {
				defer os.RemoveAll(dir)
			}
			cfg.DataDir = dir
		}
	}
	d, err := db.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		return err
	}
	l, err := ledger.New(d, ledger.Options{MergeEvery: *mergeEvery, MaxBatch: *maxBatch})
	if err != nil {
		return err
	}
	if err := l.Start(ctx); err != nil {
		return err
	}
	defer l.Close()

	// Accounts: one system account that funds everyone (no overdraft limit), then users
	// that may not overdraw.
	fmt.Fprintf(os.Stderr, "bench ledger: %s, %d accounts, %d transfers, concurrency %d, %s\n", engine, *accounts, *transfers, *concurrency, mode)
	// The bench's callers stand for clients in other processes: their id generation
	// should not take CPU from the committer. The pool draws random bytes in blocks
	// instead of one crypto/rand read under a global lock per id (3 % of a run's CPU).
	uuid.EnableRandPool()
	sys := uuid.Must(uuid.NewV7())
	ids := make([]uuid.UUID, *accounts)
	all := []ledger.Account{{ID: sys, Asset: "CNY", Code: 1, Owner: "system"}}
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
		all = append(all, ledger.Account{ID: ids[i], Asset: "CNY", Code: 2, Owner: "user-" + strconv.Itoa(i), Flags: ledger.NoOverdraft})
	}
	for len(all) > 0 {
		n := min(len(all), 1000)
		res, err := l.CreateAccounts(ctx, all[:n])
		if err != nil {
			return fmt.Errorf("create accounts: %w", err)
		}
		for _, r := range res {
			if r.Code != ledger.OK {
				return fmt.Errorf("create accounts: %s", r.Code)
			}
		}
		all = all[n:]
	}
	const funding = 1_000_000_000
	for lo := 0; lo < len(ids); lo += 1000 {
		var ts []ledger.Transfer
		for _, a := range ids[lo:min(lo+1000, len(ids))] {
			ts = append(ts, ledger.Transfer{ID: uuid.Must(uuid.NewV7()), DebitAccountID: sys, CreditAccountID: a, Amount: funding, Asset: "CNY", Code: 1, Ref: "fund"})
		}
		res, err := l.Submit(ctx, ts)
		if err != nil {
			return fmt.Errorf("fund accounts: %w", err)
		}
		for _, r := range res {
			if r.Code != ledger.OK {
				return fmt.Errorf("fund accounts: %s", r.Code)
			}
		}
	}
	before := l.StatsSnapshot()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
	}
	stopTrace, err := startTrace(*traceFile)
	if err != nil {
		return err
	}
	defer stopTrace()
	calls := (*transfers + *perCall - 1) / *perCall
	var next atomic.Int64
	var failed sync.Map // code → *atomic.Int64
	lat := make([][]float32, *concurrency)
	errc := make(chan error, *concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(w), 42))
			batch := make([]ledger.Transfer, 0, *perCall)
			for {
				c := int(next.Add(1)) - 1
				if c >= calls {
					return
				}
				n := min(*perCall, *transfers-c**perCall)
				batch = batch[:0]
				for i := 0; i < n; i++ {
					var dr, cr uuid.UUID
					switch mode {
					case "hot":
						dr, cr = ids[1+rng.IntN(len(ids)-1)], ids[0]
					case "two-way-hot":
						dr, cr = ids[0], ids[1]
						if rng.IntN(2) == 0 {
							dr, cr = cr, dr
						}
					default:
						x := rng.IntN(len(ids))
						y := rng.IntN(len(ids) - 1)
						if y >= x {
							y++
						}
						dr, cr = ids[x], ids[y]
					}
					batch = append(batch, ledger.Transfer{ID: uuid.Must(uuid.NewV7()), DebitAccountID: dr, CreditAccountID: cr,
						Amount: 1 + rng.Int64N(100), Asset: "CNY", Code: 2, Ref: "bench"})
				}
				t0 := time.Now()
				res, err := l.Submit(ctx, batch)
				lat[w] = append(lat[w], float32(time.Since(t0).Seconds()*1000))
				if err != nil {
					errc <- err
					return
				}
				for _, r := range res {
					if r.Code != ledger.OK {
						v, _ := failed.LoadOrStore(r.Code, new(atomic.Int64))
						v.(*atomic.Int64).Add(1)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	stopTrace()
	if *memProfile != "" {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(os.Stderr, "go heap in use %.1f MB, go runtime total %.1f MB, rss %.1f MB\n",
			float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20), peakRSSMB())
		f, err := os.Create(*memProfile)
		if err != nil {
			return fmt.Errorf("memprofile: %w", err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("memprofile: %w", err)
		}
		f.Close()
	}
	close(errc)
	if err := <-errc; err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	after := l.StatsSnapshot()

	var all32 []float32
	for _, l := range lat {
		all32 = append(all32, l...)
	}
	p50, p99 := percentiles(all32)

	// Account history, with the ledger live (on SQLite part of it is still unmerged).
	var hist []float32
	rng := mrand.New(mrand.NewPCG(7, 7))
	for i := 0; i < *lookups; i++ {
		a := ids[rng.IntN(len(ids))]
		t0 := time.Now()
		if _, _, err := l.TransfersByAccount(ctx, a, time.Time{}, time.Time{}, "", 50); err != nil {
			return fmt.Errorf("history lookup: %w", err)
		}
		hist = append(hist, float32(time.Since(t0).Seconds()*1000))
	}
	h50, h99 := percentiles(hist)
	// Peak RSS of the transfer phase (and the lookups), before Close's final merge and the
	// reconcile, whose whole-table aggregates are not part of serving transfers.
	peakRSS := peakRSSMB()

	if err := l.Close(); err != nil {
		return fmt.Errorf("close ledger: %w", err)
	}
	rep, err := ledger.Reconcile(ctx, d)
	if err != nil {
		return err
	}
	fmt.Fprint(os.Stderr, rep.String())
	recon := "ok"
	if !rep.OK() {
		recon = "failed"
	}
	var reasons []string
	failed.Range(func(k, v any) bool {
		reasons = append(reasons, fmt.Sprintf("%s:%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(reasons)
	out := benchLedgerResult{
		Bench: "ledger", Engine: engine, Accounts: *accounts, Transfers: *transfers, Concurrency: *concurrency, Mode: mode,
		Seconds: round3(elapsed.Seconds()), TransfersPerSec: math.Round(float64(*transfers) / elapsed.Seconds()),
		P50Ms: round3(p50), P99Ms: round3(p99), PeakRSSMB: peakRSS, Reconcile: recon,
		PerCall: *perCall, Batches: after.Batches - before.Batches, HistoryP50Ms: round3(h50), HistoryP99Ms: round3(h99),
		Merges: after.Merges - before.Merges, MergeSeconds: round3((after.MergeTime - before.MergeTime).Seconds()),
		FailedByReason: strings.Join(reasons, ","),
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	if recon != "ok" {
		return errors.New("reconcile failed after the bench")
	}
	return nil
}

// startTrace starts an execution trace into path (none for ""); stop ends it and closes
// the file, once however often it is called (callers also defer it for early returns).
func startTrace(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("trace: %w", err)
	}
	var once sync.Once
	return func() { once.Do(func() { trace.Stop(); f.Close() }) }, nil
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func percentiles(v []float32) (p50, p99 float64) {
	if len(v) == 0 {
		return 0, 0
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	at := func(q float64) float64 { return float64(v[min(len(v)-1, int(q*float64(len(v))))]) }
	return at(0.50), at(0.99)
}

// peakRSSMB reads the process's peak resident set (VmHWM) from /proc; 0 where there is none.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return math.Round(kb/1024*10) / 10
			}
		}
	}
	return 0
}

// benchSchema creates a fresh schema for the bench on PostgreSQL and returns a URL that
// uses it, so a bench never mixes with (or damages) real data.
func benchSchema(ctx context.Context, base string, keep bool) (string, func(), error) {
	var rb [4]byte
	rand.Read(rb[:])
	schema := "bench_ledger_" + hex.EncodeToString(rb[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("postgres: create bench schema: %w", err)
	}
	cleanup := func() {
		if !keep {
			admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		} else {
			fmt.Fprintf(os.Stderr, "bench ledger: kept schema %s\n", schema)
		}
		admin.Close()
	}
	u, err := url.Parse(base)
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("postgres URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), cleanup, nil
}
