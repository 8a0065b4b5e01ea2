// Package metrics exposes counters, gauges and histograms in the Prometheus text format.
// It is a few dozen lines because OKPay needs only these three kinds; a client library would
// be a large dependency for them.
package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds metric families by name.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
	gauges   map[string]func() float64
	help     map[string]string
}

type family struct {
	kind    string // counter | histogram
	help    string
	buckets []float64
	series  map[string]*series
}

type series struct {
	labels string
	count  atomic.Uint64
	sum    atomic.Uint64 // float64 bits
	bucket []atomic.Uint64
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{families: map[string]*family{}, gauges: map[string]func() float64{}, help: map[string]string{}}
}

// DefaultBuckets suit request latencies in seconds.
var DefaultBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// labelEscaper escapes label values as the text exposition format asks. One shared
// Replacer: building one per value (as this did) was most of the bytes a signed-in request
// allocated (labelString runs on every metric update).
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func labelString(kv []string) string {
	if len(kv) == 0 {
		return ""
	}
	var b strings.Builder
	n := 2
	for _, s := range kv {
		n += len(s) + 4
	}
	b.Grow(n)
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i])
		b.WriteString(`="`)
		labelEscaper.WriteString(&b, kv[i+1])
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

func (r *Registry) get(name, kind, help string, buckets []float64, kv []string) *series {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.families[name]
	if f == nil {
		f = &family{kind: kind, help: help, buckets: buckets, series: map[string]*series{}}
		r.families[name] = f
	}
	ls := labelString(kv)
	s := f.series[ls]
	if s == nil {
		s = &series{labels: ls, bucket: make([]atomic.Uint64, len(f.buckets))}
		f.series[ls] = s
	}
	return s
}

// Inc adds 1 to a counter with the given label pairs.
func (r *Registry) Inc(name, help string, kv ...string) { r.Add(name, help, 1, kv...) }

// Add adds n to a counter.
func (r *Registry) Add(name, help string, n uint64, kv ...string) {
	r.get(name, "counter", help, nil, kv).count.Add(n)
}

// Observe records v in a histogram with DefaultBuckets.
func (r *Registry) Observe(name, help string, v float64, kv ...string) {
	s := r.get(name, "histogram", help, DefaultBuckets, kv)
	s.count.Add(1)
	for {
		old := s.sum.Load()
		if s.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
	for i, b := range DefaultBuckets {
		if v <= b {
			s.bucket[i].Add(1)
		}
	}
}

// Gauge registers a value read at scrape time.
func (r *Registry) Gauge(name, help string, fn func() float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gauges[name] = fn
	r.help[name] = help
}

// Write writes the text exposition format.
func (r *Registry) Write(w io.Writer) {
	r.mu.Lock()
	names := make([]string, 0, len(r.families))
	for n := range r.families {
		names = append(names, n)
	}
	gnames := make([]string, 0, len(r.gauges))
	for n := range r.gauges {
		gnames = append(gnames, n)
	}
	r.mu.Unlock()
	sort.Strings(names)
	sort.Strings(gnames)
	for _, n := range names {
		r.mu.Lock()
		f := r.families[n]
		ss := make([]*series, 0, len(f.series))
		for _, s := range f.series {
			ss = append(ss, s)
		}
		r.mu.Unlock()
		sort.Slice(ss, func(i, j int) bool { return ss[i].labels < ss[j].labels })
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", n, f.help, n, f.kind)
		for _, s := range ss {
			if f.kind == "counter" {
				fmt.Fprintf(w, "%s%s %d\n", n, s.labels, s.count.Load())
				continue
			}
			inner := strings.TrimSuffix(strings.TrimPrefix(s.labels, "{"), "}")
			sep := ""
			if inner != "" {
				sep = ","
			}
			for i, b := range f.buckets {
				fmt.Fprintf(w, "%s_bucket{%s%sle=\"%g\"} %d\n", n, inner, sep, b, s.bucket[i].Load())
			}
			fmt.Fprintf(w, "%s_bucket{%s%sle=\"+Inf\"} %d\n", n, inner, sep, s.count.Load())
			fmt.Fprintf(w, "%s_sum%s %g\n%s_count%s %d\n", n, s.labels, math.Float64frombits(s.sum.Load()), n, s.labels, s.count.Load())
		}
	}
	for _, n := range gnames {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", n, r.help[n], n, n, r.gauges[n]())
	}
}

// Handler serves the registry, plus Go runtime gauges.
func (r *Registry) Handler() http.Handler {
	r.Gauge("go_goroutines", "Number of goroutines.", func() float64 { return float64(runtime.NumGoroutine()) })
	r.Gauge("go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects.", func() float64 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return float64(m.HeapAlloc)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		r.Write(w)
	})
}
