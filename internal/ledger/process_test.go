package ledger_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/ledger"
)

// These tests run the test binary again as a child process (selected by
// OKPAY_LEDGER_CHILD), so a real process can be SIGKILLed mid-commit, or two real
// processes can share one PostgreSQL.

const childEnv = "OKPAY_LEDGER_CHILD"

// openShared opens (and migrates) a database a child process can open too; it returns the
// child's connection setting ("sqlite:<dir>" or the PostgreSQL URL).
func openShared(t *testing.T, engine db.Engine) (*db.DB, string) {
	t.Helper()
	cfg := db.Config{}
	where := ""
	if engine == db.Postgres {
		cfg.URL = dbtest.NewSchema(t)
		where = cfg.URL
	} else {
		cfg.DataDir = t.TempDir()
		where = "sqlite:" + cfg.DataDir
	}
	d, err := db.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d, where
}

func childOpen(where string) (*db.DB, error) {
	cfg := db.Config{}
	if dir, ok := strings.CutPrefix(where, "sqlite:"); ok {
		cfg.DataDir = dir
	} else {
		cfg.URL = where
	}
	return db.Open(context.Background(), cfg)
}

func startChild(t *testing.T, mode, where string, accounts []uuid.UUID, logPath string) *exec.Cmd {
	t.Helper()
	ids := make([]string, len(accounts))
	for i, a := range accounts {
		ids[i] = a.String()
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "OKPAY_CHILD_DB="+where,
		"OKPAY_CHILD_ACCOUNTS="+strings.Join(ids, ","), "OKPAY_CHILD_LOG="+logPath)
	out, err := os.Create(logPath + ".out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestChildProcess is the child's body; it does nothing in a normal test run.
func TestChildProcess(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("only runs as a child of TestCrashSafety / TestTwoProcessesHotAccounts")
	}
	d, err := childOpen(os.Getenv("OKPAY_CHILD_DB"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	l, err := ledger.New(d, ledger.Options{SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var accounts []uuid.UUID
	for _, s := range strings.Split(os.Getenv("OKPAY_CHILD_ACCOUNTS"), ",") {
		accounts = append(accounts, uuid.MustParse(s))
	}
	logf, err := os.OpenFile(os.Getenv("OKPAY_CHILD_LOG"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	// Each line is written with one write(2), so a kill leaves at most a torn last line,
	// and the page cache keeps what was written when the process dies.
	logLine := func(format string, args ...any) {
		logMu.Lock()
		fmt.Fprintf(logf, format+"\n", args...)
		logMu.Unlock()
	}
	const workers = 32
	perWorker := 1 << 30 // crash: until killed
	if mode == "hammer" {
		perWorker = 50
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(os.Getpid())))
			for i := 0; i < perWorker; i++ {
				n := 1 + rng.IntN(4)
				ts := make([]ledger.Transfer, n)
				for k := range ts {
					x := rng.IntN(len(accounts))
					y := (x + 1 + rng.IntN(len(accounts)-1)) % len(accounts)
					ts[k] = ledger.Transfer{ID: uuid.Must(uuid.NewV7()), DebitAccountID: accounts[x], CreditAccountID: accounts[y],
						Amount: 1 + rng.Int64N(9), Asset: "CNY", Code: 3, Ref: "child"}
					logLine("S %s %s %s %d", ts[k].ID, ts[k].DebitAccountID, ts[k].CreditAccountID, ts[k].Amount)
				}
				res, err := l.Submit(ctx, ts)
				if err != nil {
					failed.Add(1)
					logLine("E %v", err)
					continue
				}
				for k, r := range res {
					logLine("A %s %s", ts[k].ID, r.Code)
				}
			}
		}(w)
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if failed.Load() > 0 {
		t.Fatalf("%d submissions failed", failed.Load())
	}
}

type logged struct {
	intents map[uuid.UUID]ledger.Transfer
	acked   map[uuid.UUID]ledger.Code
	errors  []string
}

func readChildLog(t *testing.T, path string) logged {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lg := logged{intents: map[uuid.UUID]ledger.Transfer{}, acked: map[uuid.UUID]ledger.Code{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 5 && f[0] == "S":
			id, e1 := uuid.Parse(f[1])
			dr, e2 := uuid.Parse(f[2])
			cr, e3 := uuid.Parse(f[3])
			var amount int64
			_, e4 := fmt.Sscan(f[4], &amount)
			if e1 != nil || e2 != nil || e3 != nil || e4 != nil {
				continue // torn by the kill
			}
			lg.intents[id] = ledger.Transfer{ID: id, DebitAccountID: dr, CreditAccountID: cr, Amount: amount, Asset: "CNY", Code: 3, Ref: "child"}
		case len(f) == 3 && f[0] == "A":
			if id, err := uuid.Parse(f[1]); err == nil {
				lg.acked[id] = ledger.Code(f[2])
			}
		case len(f) > 0 && f[0] == "E":
			lg.errors = append(lg.errors, sc.Text())
		}
	}
	return lg
}

func fundedAccounts(t *testing.T, l *ledger.Ledger, n int, funds int64) []uuid.UUID {
	t.Helper()
	ctx := context.Background()
	sys := id()
	accs := []ledger.Account{{ID: sys, Asset: "CNY", Owner: "system"}}
	var ids []uuid.UUID
	for i := 0; i < n; i++ {
		a := id()
		ids = append(ids, a)
		accs = append(accs, ledger.Account{ID: a, Asset: "CNY", Flags: ledger.NoOverdraft})
	}
	if _, err := l.CreateAccounts(ctx, accs); err != nil {
		t.Fatal(err)
	}
	var ts []ledger.Transfer
	for _, a := range ids {
		ts = append(ts, ledger.Transfer{ID: id(), DebitAccountID: sys, CreditAccountID: a, Amount: funds, Asset: "CNY"})
	}
	res, err := l.Submit(ctx, ts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Code != ledger.OK {
			t.Fatalf("fund: %s", r.Code)
		}
	}
	return ids
}

func lineCount(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), "\nA ")
}

// TestCrashSafety kills a committing child three times, then resubmits every transfer it
// ever tried: each acknowledged one is there exactly once, and the ledger reconciles.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, engine := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			d, where := openShared(t, engine)
			setup, _ := ledger.New(d, ledger.Options{SweepEvery: -1})
			if err := setup.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			accounts := fundedAccounts(t, setup, 20, 1_000_000_000)
			setup.Close()

			logPath := filepath.Join(t.TempDir(), "child.log")
			for kill := 0; kill < 3; kill++ {
				before := lineCount(logPath)
				cmd := startChild(t, "crash", where, accounts, logPath)
				deadline := time.Now().Add(30 * time.Second)
				// Kill once this run has acknowledged a good number of transfers, so the
				// kill lands while batches are in flight.
				for lineCount(logPath)-before < 300 && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				time.Sleep(time.Duration(rand.IntN(50)) * time.Millisecond)
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				cmd.Wait()
				if lineCount(logPath)-before < 300 {
					out, _ := os.ReadFile(logPath + ".out")
					t.Fatalf("child %d made no progress:\n%s", kill, out)
				}
			}

			lg := readChildLog(t, logPath)
			if len(lg.errors) > 0 {
				t.Fatalf("child saw errors: %v", lg.errors[:min(5, len(lg.errors))])
			}
			h := start(t, d, ledger.Options{})
			l := h.l
			var all []ledger.Transfer
			for _, tr := range lg.intents {
				all = append(all, tr)
			}
			ctx := context.Background()
			for lo := 0; lo < len(all); lo += 1000 {
				chunk := all[lo:min(lo+1000, len(all))]
				res, err := l.Submit(ctx, chunk)
				if err != nil {
					t.Fatal(err)
				}
				for i, r := range res {
					id := chunk[i].ID
					if code, ok := lg.acked[id]; ok {
						if code != ledger.OK {
							t.Fatalf("child got %s for %s", code, id)
						}
						if r.Code != ledger.Exists {
							t.Fatalf("acknowledged transfer %s: resubmission got %s (lost?)", id, r.Code)
						}
					} else if r.Code != ledger.OK && r.Code != ledger.Exists {
						t.Fatalf("unacknowledged transfer %s: resubmission got %s", id, r.Code)
					}
				}
			}
			for id := range lg.acked {
				if _, err := l.Transfer(ctx, id); err != nil {
					t.Fatalf("acknowledged %s: %v", id, err)
				}
			}
			var stored int64
			if err := d.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM ledger_transfers WHERE code = 3`).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if stored != int64(len(lg.intents)) {
				t.Fatalf("%d transfers stored, %d distinct ids submitted", stored, len(lg.intents))
			}
			t.Logf("%d acknowledged before kills, %d submitted in all", len(lg.acked), len(lg.intents))
			h.reconcile()
		})
	}
}

// TestTwoProcessesHotAccounts runs two committers in two processes on one PostgreSQL,
// both moving money both ways between the same two accounts.
func TestTwoProcessesHotAccounts(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d, where := openShared(t, db.Postgres)
	setup, _ := ledger.New(d, ledger.Options{SweepEvery: -1})
	if err := setup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	accounts := fundedAccounts(t, setup, 2, 1_000_000)
	setup.Close()

	dir := t.TempDir()
	var cmds []*exec.Cmd
	var logs []string
	for i := 0; i < 2; i++ {
		p := filepath.Join(dir, fmt.Sprintf("child%d.log", i))
		logs = append(logs, p)
		cmds = append(cmds, startChild(t, "hammer", where, accounts, p))
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			out, _ := os.ReadFile(logs[i] + ".out")
			t.Fatalf("child %d: %v\n%s", i, err, out)
		}
	}
	// Expected sums from what the children were told, compared with the accounts.
	var in, out [2]int64
	oks := 0
	for _, p := range logs {
		lg := readChildLog(t, p)
		if len(lg.errors) > 0 {
			t.Fatalf("errors surfaced to callers: %v", lg.errors[:min(3, len(lg.errors))])
		}
		if len(lg.acked) != len(lg.intents) {
			t.Fatalf("%s: %d submitted, %d answered", p, len(lg.intents), len(lg.acked))
		}
		for id, code := range lg.acked {
			if code != ledger.OK {
				t.Fatalf("transfer %s: %s", id, code)
			}
			tr := lg.intents[id]
			oks++
			for k := 0; k < 2; k++ {
				if tr.DebitAccountID == accounts[k] {
					out[k] += tr.Amount
				}
				if tr.CreditAccountID == accounts[k] {
					in[k] += tr.Amount
				}
			}
		}
	}
	if oks == 0 {
		t.Fatal("no transfers")
	}
	ctx := context.Background()
	for k := 0; k < 2; k++ {
		a, err := ledger.New(d, ledger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		acc, err := a.Account(ctx, accounts[k])
		if err != nil {
			t.Fatal(err)
		}
		if acc.DebitsPosted != out[k] || acc.CreditsPosted != 1_000_000+in[k] {
			t.Fatalf("account %d: debits %d credits %d, acknowledged %d out, %d in (+1,000,000 funding)", k, acc.DebitsPosted, acc.CreditsPosted, out[k], in[k])
		}
	}
	t.Logf("%d transfers acknowledged across two processes", oks)
	rep, err := ledger.Reconcile(ctx, d)
	if err != nil || !rep.OK() {
		t.Fatalf("reconcile: %v\n%s", err, rep)
	}
}
