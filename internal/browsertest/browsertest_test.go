package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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

// Fill replaces what was typed before (where chromedp.Clear only reset the attribute and
// the typing was appended), fills an empty textarea (where chromedp.Clear fails for want
// of a text node) and fires the input events; Select chooses an option.
func TestFillTypedInputTextareaAndSelect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><body><main>
<input id="x"><textarea id="t"></textarea>
<select id="s"><option value="a">A</option><option value="b">B</option></select>
<p id="events">0</p>
<script>
var n = 0;
document.addEventListener("input", function () { document.getElementById("events").textContent = String(++n); });
</script></main></body></html>`)
	}))
	defer srv.Close()
	b := New(t, srv.URL)
	b.Go("/")
	b.Fill("#x", "first")
	b.Fill("#x", "second")
	b.Fill("#t", "多行\n文字")
	b.Select("#s", "b")
	got := b.Eval(`[document.querySelector('#x').value, document.querySelector('#t').value, document.querySelector('#s').value].join("|")`)
	if got != "second|多行\n文字|b" {
		t.Fatalf("values: %q", got)
	}
	if b.Text("#events") == "0" {
		t.Fatal("Fill fired no input events")
	}
}

// A press that lands on something else (here an overlay that goes away after a moment, as
// a page laid out again or not yet painted does to a click) is repeated until the element
// gets it, and the form is sent once.
func TestClickRepeatsALostPressOnce(t *testing.T) {
	srv, posts := sendForm(t, `<div id="cover" style="position:fixed;inset:0;background:rgba(0,0,0,.1)"></div>
<script>setTimeout(function () { document.getElementById("cover").remove(); }, 1500);</script>`)
	b := New(t, srv.URL)
	b.Go("/")
	b.Click("#send")
	b.WaitText("#done", "sent 1")
	if n := posts.Load(); n != 1 {
		t.Fatalf("%d posts", n)
	}
}

// ClickUntil clicks again when the page received the click but nothing came of it (here
// the page's script swallows the first one), and stops once the result is shown.
func TestClickUntilRepeatsUntilDone(t *testing.T) {
	srv, posts := sendForm(t, `<script>
var first = true;
document.getElementById("send").addEventListener("click", function (e) { if (first) { first = false; e.preventDefault(); } });
</script>`)
	b := New(t, srv.URL)
	b.Go("/")
	b.ClickUntil("#send", "#done")
	if got := b.Text("#done"); !strings.Contains(got, "sent 1") || posts.Load() != 1 {
		t.Fatalf("%q after %d posts", got, posts.Load())
	}
}

// sendForm serves a page with a "send" button posting a form, then extra (HTML after the
// form), and counts the posts; each post answers with #done "sent N".
func sendForm(t *testing.T, extra string) (*httptest.Server, *atomic.Int32) {
	posts := new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.Method == http.MethodPost {
			fmt.Fprintf(w, `<!doctype html><html><body><main><p id="done">sent %d</p></main></body></html>`, posts.Add(1))
			return
		}
		fmt.Fprint(w, `<!doctype html><html><body><main><form method="post" action="/send">
<button id="send" type="submit">send</button></form>
`+extra+`</main></body></html>`)
	}))
	t.Cleanup(srv.Close)
	return srv, posts
}
