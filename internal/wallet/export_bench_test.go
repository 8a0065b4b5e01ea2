package wallet

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"okpay/internal/db"
)

// BenchmarkExport writes the CSV export of the seeded history (1M rows unless
// OKPAY_BENCH_HISTORY_ROWS says otherwise; at most MaxExportRows) the way the download
// streams it, ExportActivity into a CSVWriter (BOM, header, every row), to a writer that
// only counts bytes. It reports rows/s over wall time; cpu_us/row, this process's CPU
// time (user + system) per row, which on a shared machine says more than wall time (on
// PostgreSQL the server's CPU is not in it); and rss_growth_MB, the peak resident size
// during the export (VmHWM, reset just before it through /proc/self/clear_refs, or VmRSS
// sampled every 50,000 rows where that is refused) minus the resident size at its start,
// taken after a GC that returns the seeding's garbage to the OS.
//
//	go test -run '^$' -bench Export -benchtime 1x -v ./internal/wallet/
func BenchmarkExport(b *testing.B) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		b.Run(string(eng), func(b *testing.B) {
			be := seedBench(b, eng, benchRows())
			want := min(benchRows(), MaxExportRows)
			ctx := context.Background()
			var rows int
			var wall, cpu time.Duration
			var growth float64
			for b.Loop() {
				runtime.GC()
				debug.FreeOSMemory()
				load0 := loadAvg()
				rss0 := procStatusMB("VmRSS")
				exact := resetPeakRSS()
				peak := rss0
				out := &countingWriter{}
				w := NewCSVWriter(out)
				n := 0
				t0, cpu0 := time.Now(), cpuTime()
				err := w.WriteHeader()
				if err == nil {
					err = be.w.ExportActivity(ctx, be.userID, Filter{}, func(r Row) error {
						n++
						if !exact && n%50_000 == 0 {
							peak = max(peak, procStatusMB("VmRSS"))
						}
						return w.Write(&r)
					})
				}
				if err == nil {
					err = w.Flush()
				}
				el, c := time.Since(t0), cpuTime()-cpu0
				if err != nil {
					b.Fatal(err)
				}
				if n != want {
					b.Fatalf("exported %d rows, want %d", n, want)
				}
				if exact {
					peak = procStatusMB("VmHWM")
				} else {
					peak = max(peak, procStatusMB("VmRSS"))
				}
				rows, wall, cpu, growth = rows+n, wall+el, cpu+c, max(growth, peak-rss0)
				b.Logf("%s: %d rows, %.1f MB of CSV in %s: %.0f rows/s, CPU %.2f µs/row; RSS %.1f MB, peak %.1f MB (+%.1f); load average %s → %s",
					eng, n, float64(out.n)/(1<<20), el.Round(time.Millisecond), float64(n)/el.Seconds(), float64(c.Nanoseconds())/float64(n)/1000,
					rss0, peak, peak-rss0, load0, loadAvg())
			}
			b.ReportMetric(float64(rows)/wall.Seconds(), "rows/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(rows)/1000, "cpu_us/row")
			b.ReportMetric(growth, "rss_growth_MB")
		})
	}
}

// countingWriter discards what it is given and counts the bytes.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// procStatusMB reads one kB field of /proc/self/status (VmRSS, VmHWM) in MB; 0 if absent.
func procStatusMB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// resetPeakRSS sets VmHWM back to the current resident size (Linux 4.0+); false if it
// cannot.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil && procStatusMB("VmHWM") > 0
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg is the 1-minute load average, for the log.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}
