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
