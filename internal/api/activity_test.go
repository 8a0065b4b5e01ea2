package api

import (
	"net/url"
	"testing"
	"time"
)

func TestParseActivityFilter(t *testing.T) {
	f, err := ParseActivityFilter(url.Values{"from": {"2026-03-01"}, "to": {"2026-03-31"}, "type": {"payment,refund"}, "status": {"completed"}, "q": {"房租"}})
	if err != nil {
		t.Fatal(err)
	}
	if !f.From.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, cst)) || !f.To.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, cst)) || len(f.Types) != 2 || f.Text != "房租" {
		t.Fatalf("filter %+v", f)
	}
	if _, err := ParseActivityFilter(url.Values{"from": {"March"}}); err == nil {
		t.Fatal("bad date accepted")
	}
	if _, err := ParseActivityFilter(url.Values{"type": {"a,b,c,d,e,f,g,h,i"}}); err == nil {
		t.Fatal("nine types accepted")
	}
}
