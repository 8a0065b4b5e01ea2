package metrics

import (
	"bytes"
	"strings"
	"testing"
)

func TestExposition(t *testing.T) {
	r := New()
	r.Inc("req_total", "Requests.", "route", `GET /a"b`, "code", "200")
	r.Inc("req_total", "Requests.", "route", `GET /a"b`, "code", "200")
	r.Observe("lat_seconds", "Latency.", 0.003, "route", "x")
	r.Observe("lat_seconds", "Latency.", 7, "route", "x")
	r.Gauge("up", "Up.", func() float64 { return 1 })
	var b bytes.Buffer
	r.Write(&b)
	out := b.String()
	for _, want := range []string{
		"# TYPE req_total counter",
		`req_total{route="GET /a\"b",code="200"} 2`,
		`lat_seconds_bucket{route="x",le="0.0025"} 0`,
		`lat_seconds_bucket{route="x",le="0.005"} 1`,
		`lat_seconds_bucket{route="x",le="10"} 2`,
		`lat_seconds_bucket{route="x",le="+Inf"} 2`,
		`lat_seconds_sum{route="x"} 7.003`,
		`lat_seconds_count{route="x"} 2`,
		"# TYPE up gauge\nup 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

// TestLabelEscaping: backslash, quote and newline in a label value are escaped as the text
// format asks; other bytes (Chinese included) pass through.
func TestLabelEscaping(t *testing.T) {
	got := labelString([]string{"a", "x\\y\"z\nw", "b", "支付"})
	want := `{a="x\\y\"z\nw",b="支付"}`
	if got != want {
		t.Fatalf("labelString = %s, want %s", got, want)
	}
	if labelString(nil) != "" {
		t.Fatal("no labels should give an empty string")
	}
}

func BenchmarkLabelString(b *testing.B) {
	kv := []string{"route", "POST /api/v1/transfers", "code", "200"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		labelString(kv)
	}
}
