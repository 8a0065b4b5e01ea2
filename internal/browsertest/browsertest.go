// Package browsertest drives Debian's headless Chromium for UI tests (through chromedp)
// with a small vocabulary — Go, Fill, Click, Text — that fails the test with the page
// address and the step on any error. Without Chromium a test is skipped locally and fails
// under CI, where .ci/run installs it.
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// execPath finds the browser: OKPAY_CHROMIUM, then Debian's chromium.
func execPath() string {
	if p := os.Getenv("OKPAY_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// Browser is one person's browser: its own profile, so its own cookies.
type Browser struct {
	t   testing.TB
	ctx context.Context
	// Step bounds each action, so a missing element fails fast with a clear message
	// instead of hanging the test.
	Step time.Duration
	Base string

	clicks int // numbers each click, so that its mark on the page is told from an older one
}

// New starts a fresh browser for the page server at base (e.g. "http://127.0.0.1:1234").
func New(t testing.TB, base string) *Browser {
	t.Helper()
	path := execPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("Chromium not found under CI: browser tests must run (apt-get install chromium)")
		}
		t.Skip("Chromium not installed; browser test skipped (apt-get install chromium)")
	}
	// These flags keep Chromium from reaching out to the network at start, which this
	// machine's closed network refuses noisily, and let it run as root in a container.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1200, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// The first Do starts the browser; per chromedp's rules it gets no timeout of its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &Browser{t: t, ctx: ctx, Step: StepTimeout(), Base: strings.TrimRight(base, "/")}
}

// StepTimeout bounds one browser action: 15 s, or 45 s when CI is set. On the shared
// 2-core machines the suite runs on, with the race detector and other packages' tests
// beside it, a page load was seen to take over 15 s; a wrong page still fails, later.
func StepTimeout() time.Duration {
	if os.Getenv("CI") != "" {
		return 45 * time.Second
	}
	return 15 * time.Second
}

// do runs actions, retrying like read while the page is being replaced under them.
func (b *Browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	read(b, what, chromedp.Steps(actions...))
}

// errNotYet marks a step that reached the page but did not take: a click that something
// else under the pointer received, typing that a page script or a replaced page lost.
// Running the step again is the fix, so retry treats it like a stale node.
var errNotYet = errors.New("the page did not take the step yet")

// staleNode reports an element found on a page that was replaced before the action reached
// it ("Could not find node"). Such an action never reached the page, so running it again is
// safe; any other error fails at once.
func staleNode(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Could not find node") || strings.Contains(s, "No node with given id") ||
		strings.Contains(s, "Cannot find context with specified id") || strings.Contains(s, "Could not find object with given id") ||
		strings.Contains(s, "Inspected target navigated or closed")
}

func (b *Browser) fail(what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](loadStateJS))
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if len(body) > 2000 {
		body = body[:2000] + "…"
	}
	b.Screenshot("failure")
	b.t.Fatalf("browser: %s: %v\n  at %s (%s)\n  page text:\n%s", what, err, loc, state, body)
}

// loadStateJS tells how far the page got: its readyState and the scripts, stylesheets and
// images it has not finished loading, which keep a page's load event (and so Go) waiting.
const loadStateJS = `(function () {
	var done = {};
	performance.getEntriesByType("resource").forEach(function (e) { done[e.name] = true; });
	var pending = [].map.call(document.querySelectorAll("script[src], link[rel=stylesheet][href], img[src]"), function (e) {
		return e.src || e.href;
	}).filter(function (u) { return !done[u]; });
	return "document " + document.readyState + (pending.length ? ", still loading " + pending.join(" ") : "");
})()`

// Go opens path (relative to Base, or an absolute URL) and waits for the page's <main>.
func (b *Browser) Go(path string) {
	b.t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = b.Base + path
	}
	b.do("open "+u, chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS("body")))
}

// Fill replaces the value of the input or textarea matching the CSS selector, and checks
// that the element holds exactly value afterwards. It clears the element in the page (its
// value set to "" and an input event, which works on a typed-in input and on an empty
// textarea, where chromedp.Clear fails) and then types value, so the page sees the input
// events a person's keystrokes fire. A page replaced while typing, or typing that went
// elsewhere, fills again until the step's deadline.
func (b *Browser) Fill(sel, value string) {
	b.t.Helper()
	b.do("fill "+sel, chromedp.QueryAfter(chromedp.CSS(sel), func(ctx context.Context, t *chromedp.Target, nodes []*chromedp.Node) (chromedp.Void, error) {
		n := nodes[0]
		if _, err := callOn[string](ctx, t, n, clearJS); err != nil {
			return chromedp.Void{}, fmt.Errorf("clear: %w", err)
		}
		if _, err := chromedp.KeyEventNode(n, value)(ctx, t); err != nil {
			return chromedp.Void{}, fmt.Errorf("type: %w", err)
		}
		got, err := callOn[string](ctx, t, n, valueJS)
		if err != nil {
			return chromedp.Void{}, fmt.Errorf("read back: %w", err)
		}
		if got != value {
			return chromedp.Void{}, fmt.Errorf("value is %q after typing %q: %w", got, value, errNotYet)
		}
		return chromedp.Void{}, nil
	}, chromedp.NodeVisible))
}

const (
	clearJS = `function () {
	this.focus();
	this.value = "";
	this.dispatchEvent(new Event("input", {bubbles: true}));
	return this.value;
}`
	valueJS  = `function () { return this.value; }`
	selectJS = `function (v) {
	if (!Array.from(this.options || []).some(function (o) { return o.value === v; })) return false;
	this.value = v;
	this.dispatchEvent(new Event("input", {bubbles: true}));
	this.dispatchEvent(new Event("change", {bubbles: true}));
	return this.value === v;
}`
)

// Select chooses the option with the given value in the <select> matching the CSS
// selector, firing the input and change events a person's choice fires. An option not
// there yet (a list the page fills in) is waited for until the step's deadline.
func (b *Browser) Select(sel, value string) {
	b.t.Helper()
	b.do("select "+value+" in "+sel, chromedp.QueryAfter(chromedp.CSS(sel), func(ctx context.Context, t *chromedp.Target, nodes []*chromedp.Node) (chromedp.Void, error) {
		ok, err := callOn[bool](ctx, t, nodes[0], selectJS, value)
		if err == nil && !ok {
			err = fmt.Errorf("no option %q: %w", value, errNotYet)
		}
		return chromedp.Void{}, err
	}, chromedp.NodeVisible))
}

// callOn calls the JavaScript function fn with the element n as this.
func callOn[T any](ctx context.Context, t *chromedp.Target, n *chromedp.Node, fn string, args ...any) (T, error) {
	r, err := cdp.Call(ctx, t, dom.ResolveNode, dom.ResolveNodeParams{NodeID: n.NodeID})
	if err != nil {
		var zero T
		return zero, err
	}
	// Releasing fails when the page has gone, which frees the object anyway.
	defer func() {
		_, _ = cdp.Call(ctx, t, runtime.ReleaseObject, runtime.ReleaseObjectParams{ObjectID: r.Object.ObjectID})
	}()
	return chromedp.CallFunctionOn[T](fn, func(p *runtime.CallFunctionOnParams) { p.ObjectID = r.Object.ObjectID }, args...)(ctx, t)
}

// Click clicks the element matching the CSS selector, and makes sure the page received
// the click. Under load a press can land on something else: the element moved between
// finding it and pressing (a stylesheet or script laying the page out again), or a page
// that has only just replaced the last one ignores input until it has painted. Click
// watches for the click on the element and, while the page shows that it never arrived,
// clicks again until the step's deadline. A click the page received is never repeated.
func (b *Browser) Click(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Step)
	defer cancel()
	b.click(ctx, sel)
}

func (b *Browser) click(ctx context.Context, sel string) {
	b.t.Helper()
	b.clicks++
	id := b.clicks
	// The check answers after two animation frames (or a second, on a page that does not
	// paint yet): the browser can answer a dispatched press before the page has handled it,
	// and input waiting for the page is handled before the next frame.
	check := fmt.Sprintf(`new Promise(function (resolve) {
	var answered = false;
	function answer() {
		if (answered) return;
		answered = true;
		var c = window.__browsertestClick;
		resolve(!c || c.id !== %d ? "moved" : c.seen ? "seen" : "lost");
	}
	requestAnimationFrame(function () { requestAnimationFrame(answer); });
	setTimeout(answer, 1000);
})`, id)
	retry(b, ctx, "click "+sel, chromedp.QueryAfter(chromedp.CSS(sel), func(ctx context.Context, t *chromedp.Target, nodes []*chromedp.Node) (chromedp.Void, error) {
		n := nodes[0]
		if _, err := callOn[bool](ctx, t, n, watchClickJS, id); err != nil {
			return chromedp.Void{}, err
		}
		if _, err := chromedp.MouseClickNode(n)(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		// Two seconds allow for a page slow to handle it under load.
		for deadline := time.Now().Add(2 * time.Second); ; {
			cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
			state, err := chromedp.Evaluate[string](check, chromedp.EvalAwaitPromise)(cctx, t)
			ccancel()
			// An error is the page going away: the click started a navigation.
			if err != nil || state != "lost" {
				return chromedp.Void{}, nil
			}
			if time.Now().After(deadline) {
				return chromedp.Void{}, fmt.Errorf("the click did not reach the element (something else was under the pointer): %w", errNotYet)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}, chromedp.NodeVisible))
}

// watchClickJS marks the element's page so that a trusted click on the element (or inside
// it) can be told from a press that landed elsewhere. The mark is gone once the page is
// replaced, which the check reads as the click having navigated.
const watchClickJS = `function (id) {
	var w = this.ownerDocument.defaultView;
	w.__browsertestClick = {id: id, el: this, seen: false};
	if (!w.__browsertestWatching) {
		w.__browsertestWatching = true;
		w.addEventListener("click", function (e) {
			var c = w.__browsertestClick;
			if (c && e.isTrusted && e.target instanceof Node && c.el.contains(e.target)) c.seen = true;
		}, true);
	}
	return true;
}`

// ClickUntil clicks the element matching sel and waits until an element matching done is
// on the page. Only for a click whose effect is safe to repeat — a form that carries an
// Idempotency-Key, a link, a form that only shows a confirmation — because besides the
// lost clicks Click repeats, it clicks again when sel is still shown without done after
// a pause (5 s, then doubling, so that a slow answer is not cut off again and again):
// the browser may have dropped a submission the page did receive.
func (b *Browser) ClickUntil(sel, done string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Step)
	defer cancel()
	probe := fmt.Sprintf(`document.querySelector(%s) ? "done" : document.querySelector(%s) ? "shown" : "away"`, jsString(done), jsString(sel))
	pause := 5 * time.Second
	b.click(ctx, sel)
	again := time.Now().Add(pause)
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		state, err := chromedp.Run(pctx, chromedp.Evaluate[string](probe))
		pcancel()
		if err == nil && state == "done" {
			return
		}
		if ctx.Err() != nil {
			b.fail(fmt.Sprintf("click %s until %s is shown (page state %q)", sel, done, state), fmt.Errorf("timeout: %v", err))
			return
		}
		if err == nil && state == "shown" && time.Now().After(again) {
			b.t.Logf("browser: %s still shown without %s after %v: clicking again", sel, done, pause)
			b.click(ctx, sel)
			pause *= 2
			again = time.Now().Add(pause)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	j, _ := json.Marshal(s)
	return string(j)
}

// Wait waits until an element matching the CSS selector is visible.
func (b *Browser) Wait(sel string) {
	b.t.Helper()
	b.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// Text returns the visible text of the first element matching the CSS selector.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	return read(b, "read text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// read runs a query, retrying while the page is being replaced under it: after a click
// that navigates, an element found on the old page can vanish before the query reaches it
// ("No node with given id found", seen under CI load). The whole query runs again, with
// the step's deadline for all the tries.
func read[T any](b *Browser, what string, q chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Step)
	defer cancel()
	return retry(b, ctx, what, q)
}

// retry runs q until it succeeds, again after a stale node or errNotYet, and fails the
// test on any other error or when ctx ends.
func retry[T any](b *Browser, ctx context.Context, what string, q chromedp.Action[T]) T {
	b.t.Helper()
	for {
		v, err := chromedp.Run(ctx, q)
		if err == nil {
			return v
		}
		if !(staleNode(err) || errors.Is(err, errNotYet)) || ctx.Err() != nil {
			b.fail(what, err)
			return v
		}
		if errors.Is(err, errNotYet) {
			b.t.Logf("browser: %s: %v; again", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Attr returns an attribute of the first element matching the CSS selector ("" if absent).
func (b *Browser) Attr(sel, name string) string {
	b.t.Helper()
	return read(b, "read "+name+" of "+sel, chromedp.AttributeValue(chromedp.CSS(sel), name)).Value
}

// WaitText waits until the element's text contains want, and returns the text.
func (b *Browser) WaitText(sel, want string) string {
	b.t.Helper()
	// One deadline for the whole wait: each read must be bounded too, because a read of an
	// element that is not on the page waits for it to appear.
	ctx, cancel := context.WithTimeout(b.ctx, b.Step)
	defer cancel()
	var s string
	var err error
	for {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		s, err = chromedp.Run(rctx, chromedp.Text(chromedp.CSS(sel)))
		rcancel()
		if err == nil && strings.Contains(s, want) {
			return s
		}
		if ctx.Err() != nil {
			b.fail(fmt.Sprintf("wait for %q in %s (have %q)", want, sel, s), fmt.Errorf("timeout: %v", err))
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Eval runs JavaScript and returns its value as a string.
func (b *Browser) Eval(js string) string {
	b.t.Helper()
	return fmt.Sprint(read(b, "eval "+js, chromedp.Evaluate[any](js)))
}

// Location is the current URL.
func (b *Browser) Location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.fail("location", err)
	}
	return loc
}

// Screenshot saves a PNG of the page when OKPAY_SCREENSHOTS names a folder, so a reviewer
// can look at the pages a test walked through.
func (b *Browser) Screenshot(name string) {
	dir := os.Getenv("OKPAY_SCREENSHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, strings.ReplaceAll(b.t.Name(), "/", "_")+"-"+name+".png"), buf, 0o644)
}

// Context exposes the chromedp context for anything the vocabulary lacks.
func (b *Browser) Context() context.Context { return b.ctx }
