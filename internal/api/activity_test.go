package api

import (
	"net/url"
	"testing"
	"time"
)

func TestNeutralizeCell(t *testing.T) {
	for in, want := range map[string]string{
		"=SUM(A1)": "'=SUM(A1)", "+1": "+1" + "", "-12.30": "-12.30", "-x": "'-x", "@cmd": "'@cmd", "\t=1": "'\t=1",
		"三月房租": "三月房租", "": "", "12": "12", "+86 138": "'+86 138",
	} {
		if in == "+1" {
			want = "'+1" // a leading + is not a plain number here: numbers are written unsigned or with -
		}
		if got := NeutralizeCell(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

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
