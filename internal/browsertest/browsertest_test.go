package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Fill must replace a pre-filled value (forms re-shown after an error keep what was typed),
// and Click then Fill across a navigation must not trip over the old page's nodes.
func TestFillReplacesAndSurvivesNavigation(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><body><main><form method="get" action="/next">
<input id="x" name="x" value="old"><button id="go" type="submit">go</button></form>
<p id="got">%s</p></main></body></html>`, r.URL.Query().Get("x"))
	}))
	defer srv.Close()
	b := New(t, srv.URL)
	b.Go("/")
	b.Fill("#x", "new value")
	if v := b.Eval(`document.querySelector('#x').value`); v != "new value" {
		t.Fatalf("value after Fill: %q", v)
	}
	b.Click("#go")
	b.WaitText("#got", "new value")
	b.Fill("#x", "second")
	b.Click("#go")
	b.WaitText("#got", "second")
}
