// Package browsertest drives Debian's headless Chromium for UI tests (through chromedp)
// with a small vocabulary — Go, Fill, Click, Text — that fails the test with the page
// address and the step on any error. Without Chromium a test is skipped locally and fails
// under CI, where .ci/run installs it.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// do runs actions, retrying while the page is being replaced under them: after a click
// that navigates, an element found on the old page can vanish before the next action
// reaches it ("Could not find node"). Such an action never reached the page, so running it
// again is safe; any other error fails at once.
func (b *Browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Step)
	defer cancel()
	for {
		err := chromedp.Do(ctx, actions...)
		if err == nil {
			return
		}
		if !staleNode(err) || ctx.Err() != nil {
			b.fail(what, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func staleNode(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Could not find node") || strings.Contains(s, "No node with given id") ||
		strings.Contains(s, "Cannot find context with specified id")
}

func (b *Browser) fail(what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if len(body) > 2000 {
		body = body[:2000] + "…"
	}
	b.Screenshot("failure")
	b.t.Fatalf("browser: %s: %v\n  at %s\n  page text:\n%s", what, err, loc, body)
}

// Go opens path (relative to Base, or an absolute URL) and waits for the page's <main>.
func (b *Browser) Go(path string) {
	b.t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = b.Base + path
	}
	b.do("open "+u, chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS("body")))
}

// Fill replaces the value of the input matching the CSS selector.
func (b *Browser) Fill(sel, value string) {
	b.t.Helper()
	// Clear then type: typing fires the input events a person's keystrokes would.
	b.do("fill "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), value))
}

// Click clicks the element matching the CSS selector.
func (b *Browser) Click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
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

// read runs a query, retrying like do while the page is being replaced under it: the
// element can be found on the page that is going away and be gone when its text is
// asked for ("No node with given id found", seen under CI load).
func read[T any](b *Browser, what string, q chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Step)
	defer cancel()
	for {
		v, err := chromedp.Run(ctx, q)
		if err == nil {
			return v
		}
		if !staleNode(err) || ctx.Err() != nil {
			b.fail(what, err)
			return v
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
