package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// Bounds: a whole browser test, one step of it (a navigation, a wait for a page).
const (
	browserBudget = 40 * time.Second
	stepTimeout   = 15 * time.Second
)

// browser is one headless Chromium with a fresh profile and one tab.
type browser struct {
	t   *testing.T
	ctx context.Context // the tab
}

// newBrowser starts Chromium on a fresh profile that follows p, for this test only.
// The tests fail, never skip, when Chromium is missing.
func newBrowser(t *testing.T, p CookiePolicy) *browser {
	t.Helper()
	return newBrowserFor(t, p, browserBudget)
}

// newBrowserFor is newBrowser for a test whose browser lives longer than browserBudget:
// one that waits for timers in the page, such as a reflection's autosave.
func newBrowserFor(t *testing.T, p CookiePolicy, budget time.Duration) *browser {
	t.Helper()
	dir := t.TempDir()
	if err := WriteProfile(dir, p); err != nil {
		t.Fatal(err)
	}
	opts, err := AllocatorOptions(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The budget ends the browser too, so a hung page cannot hang the suite.
	bounded, cancelBudget := context.WithTimeout(context.Background(), budget)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(bounded, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	// Registered after t.TempDir, so it runs first: Chromium is gone before its
	// profile directory is removed.
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancelBudget()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx}
}

// step bounds one part of a test.
func (b *browser) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, stepTimeout)
}

// do runs actions in the tab, failing the test with a screenshot if they fail.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail("%s: %v", what, err)
	}
}

// fail takes a screenshot of every page the browser has open and ends the test.
func (b *browser) fail(format string, args ...any) {
	b.t.Helper()
	b.screenshots()
	b.t.Fatalf(format, args...)
}

// failLater is fail for a step after which the test can go on: it takes the same
// screenshots and marks the test failed, but lets it run to its end, so that one
// broken step does not hide what the later ones would find.
func (b *browser) failLater(format string, args ...any) {
	b.t.Helper()
	b.screenshots()
	b.t.Errorf(format, args...)
}

// screenshots saves a PNG of each open page into the test's artifact directory (a
// temporary directory, kept with go test -artifacts) and logs where.
func (b *browser) screenshots() {
	b.t.Helper()
	infos, err := chromedp.Targets(b.ctx)
	if err != nil {
		b.t.Logf("screenshot: list targets: %v", err)
		return
	}
	dir := b.t.ArtifactDir()
	for i, info := range infos {
		if info.Type != "page" {
			continue
		}
		ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
		shotCtx, cancelShot := context.WithTimeout(ctx, 5*time.Second)
		png, err := chromedp.Run(shotCtx, chromedp.CaptureScreenshot())
		cancelShot()
		cancel()
		if err != nil {
			b.t.Logf("screenshot of %s: %v", info.URL, err)
			continue
		}
		path := filepath.Join(dir, fmt.Sprintf("page-%d.png", i))
		if err := os.WriteFile(path, png, 0o600); err != nil {
			b.t.Logf("screenshot: %v", err)
			continue
		}
		b.t.Logf("screenshot of %s: %s", info.URL, path)
	}
}

// waitFrameText polls the cross-site iframe whose URL starts with origin until its
// text contains every want, and returns the text. Chromium keeps a cross-site iframe
// in its own process (site isolation), as a target of type "iframe" that the page's
// DOM does not reach, so the iframe is read by attaching to that target. The target
// changes as the frame navigates (Huddle, the platform's /auth, Huddle again), so it
// is looked up again on every poll.
func (b *browser) waitFrameText(origin string, want ...string) string {
	b.t.Helper()
	return b.waitText("iframe", origin, want)
}

// waitPageText is waitFrameText for a top-level page other than the test's first tab:
// a window Huddle opened.
func (b *browser) waitPageText(origin string, want ...string) string {
	b.t.Helper()
	return b.waitText("page", origin, want)
}

func (b *browser) waitText(kind, origin string, want []string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	last, lastURL := "", ""
	for {
		text, url, err := b.readTarget(ctx, kind, origin)
		if err == nil {
			last, lastURL = text, url
			if containsAll(text, want) {
				return text
			}
		}
		select {
		case <-ctx.Done():
			if lastURL == "" {
				b.fail("no %s on %s appeared within %s (waiting for %q)", kind, origin, stepTimeout, want)
			}
			b.fail("the %s at %s never showed %q within %s; it shows:\n%s", kind, lastURL, want, stepTimeout, last)
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// attachTarget finds the first target of kind ("iframe" or "page") on origin, other
// than the test's own tab, and returns a context on it. Cancelling it only detaches:
// it must not close the frame or the window.
func (b *browser) attachTarget(ctx context.Context, kind, origin string) (context.Context, context.CancelFunc, string, error) {
	infos, err := chromedp.Targets(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	main := chromedp.FromContext(b.ctx).Target.TargetID
	for _, info := range infos {
		if info.Type != kind || info.TargetID == main || !strings.HasPrefix(info.URL, origin+"/") {
			continue
		}
		tctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
		return tctx, cancel, info.URL, nil
	}
	return nil, nil, "", errors.New("no such target yet")
}

// onTarget is attachTarget for a step that needs the target now: it fails the test
// when there is none.
func (b *browser) onTarget(kind, origin, what string, timeout time.Duration) (context.Context, func(), string) {
	b.t.Helper()
	ctx, cancel := b.step()
	tctx, detach, url, err := b.attachTarget(ctx, kind, origin)
	if err != nil {
		cancel()
		b.fail("no %s on %s to %s: %v", kind, origin, what, err)
	}
	rctx, cancelRun := context.WithTimeout(tctx, timeout)
	return rctx, func() { cancelRun(); detach(); cancel() }, url
}

// readTarget returns the text and URL of the first target of kind on origin, other
// than the test's own tab.
func (b *browser) readTarget(ctx context.Context, kind, origin string) (string, string, error) {
	tctx, detach, url, err := b.attachTarget(ctx, kind, origin)
	if err != nil {
		return "", "", err
	}
	defer detach()
	rctx, cancelRead := context.WithTimeout(tctx, 3*time.Second)
	defer cancelRead()
	text, err := chromedp.Run(rctx, chromedp.Evaluate[string](`document.readyState === "complete" ? document.body.innerText : ""`))
	return text, url, err
}

// clickInFrame clicks the element sel inside the cross-site iframe on origin.
func (b *browser) clickInFrame(origin, sel string) {
	b.t.Helper()
	ctx, done, url := b.onTarget("iframe", origin, "click "+sel+" in", stepTimeout)
	defer done()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		b.fail("click %s in the frame at %s: %v", sel, url, err)
	}
}

// shot saves a PNG of the test's tab (the platform's page with Huddle's frame drawn
// in it) as one named step of a journey, into the same artifact directory as the
// screenshots of a failure. Names start with the time, so a directory lists the steps
// of all the test's browsers in the order they happened.
func (b *browser) shot(step string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Logf("screenshot of step %s: %v", step, err)
		return
	}
	path := filepath.Join(b.t.ArtifactDir(), time.Now().Format("150405.000")+"-"+step+".png")
	if err := os.WriteFile(path, png, 0o600); err != nil {
		b.t.Logf("screenshot of step %s: %v", step, err)
		return
	}
	b.t.Logf("screenshot of step %s: %s", step, path)
}

// readmeShot saves the test's tab as README.md shows Huddle (docs/screenshots/ holds
// copies): a 1024 x 768 viewport showing the platform's activity heading and, below
// it, Huddle's frame to the bottom of the window. It is saved as readme-<name>.png in
// the artifact directory; the tab gets its own viewport and frame height back. If
// frameTop is not empty, Huddle's page in the frame on origin is scrolled so that the
// element frameTop starts at the top of the frame (the platform's page stays put).
func (b *browser) readmeShot(origin, name, frameTop string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	defer func() {
		_ = chromedp.Do(ctx, chromedp.EmulateReset(),
			chromedp.Evaluate[chromedp.Void](`document.querySelector("iframe").style.height = ""; window.scrollTo(0, 0)`))
	}()
	// The platform's frame is 75% of the window high; here it runs to the bottom.
	const fill = `(() => {
	  const f = document.querySelector("iframe");
	  f.style.height = (innerHeight - 110) + "px";
	  window.scrollTo(0, f.getBoundingClientRect().top + scrollY - 110);
	})()`
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1024, 768),
		chromedp.Evaluate[chromedp.Void](fill),
		chromedp.Sleep(500*time.Millisecond)); err != nil { // Huddle lays out again
		b.fail("README screenshot %s: %v", name, err)
	}
	if frameTop != "" {
		b.inFrame(origin, "scroll to "+frameTop, chromedp.Evaluate[chromedp.Void](
			`window.scrollTo(0, document.querySelector(`+jsString(frameTop)+`).getBoundingClientRect().top + scrollY)`),
			chromedp.Sleep(100*time.Millisecond))
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fail("README screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.t.ArtifactDir(), "readme-"+name+".png")
	if err := os.WriteFile(path, png, 0o600); err != nil {
		b.fail("README screenshot %s: %v", name, err)
	}
	b.t.Logf("README screenshot %s: %s (%d bytes)", name, path, len(png))
}

// inFrame runs actions in the cross-site iframe on origin.
func (b *browser) inFrame(origin, what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, done, url := b.onTarget("iframe", origin, what+" in", stepTimeout)
	defer done()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail("%s in the frame at %s: %v", what, url, err)
	}
}

// openInFrame sends the frame on origin to path on Huddle, as following a link there
// would, for a page no link leads to (an unknown id, the admin page). It does not wait
// for the page: waitFrameText for what only that page shows.
func (b *browser) openInFrame(origin, path string) {
	b.t.Helper()
	b.inFrame(origin, "open "+path, chromedp.Evaluate[chromedp.Void](`setTimeout(() => location.assign(`+jsString(path)+`), 0)`))
}

// fillInFrame sets the value of the field sel, as typing it over what was there does.
func (b *browser) fillInFrame(origin, sel, value string) {
	b.t.Helper()
	b.inFrame(origin, "fill "+sel, chromedp.SetValue(chromedp.CSS(sel), value, chromedp.NodeVisible))
}

// pasteInFrame pastes text over whatever the field sel holds: the field is focused,
// its text selected, and the browser inserts text in its place as one input, as a
// paste does, rather than key by key.
func (b *browser) pasteInFrame(origin, sel, text string) {
	b.t.Helper()
	b.inFrame(origin, "paste into "+sel,
		chromedp.Focus(chromedp.CSS(sel), chromedp.NodeVisible),
		chromedp.Evaluate[chromedp.Void](`document.activeElement.select()`),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
			return err
		}))
}

// submitInFrame submits the form sel in the frame with its submit button, as a click does.
func (b *browser) submitInFrame(origin, form string) {
	b.t.Helper()
	b.clickInFrame(origin, form+` button[type="submit"]`)
}

// evalInFrame evaluates the JavaScript expression js in the frame on origin and
// decodes its value into T.
func evalInFrame[T any](b *browser, origin, js string) T {
	b.t.Helper()
	ctx, done, url := b.onTarget("iframe", origin, "evaluate", stepTimeout)
	defer done()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.fail("evaluate %s in the frame at %s: %v", js, url, err)
	}
	return v
}

// waitPlatformText polls the test's tab, a page of the platform, until its text, with
// that of a frame on the platform's own site in it, contains every want. Pages Huddle
// sends back to the platform (the Deep Linking return) load in that same-site frame,
// which Chromium keeps in the page's process: no target of its own.
func (b *browser) waitPlatformText(want ...string) string {
	b.t.Helper()
	const read = `(() => {
	  if (document.readyState !== "complete") { return ""; }
	  let text = document.body.innerText;
	  for (const f of document.querySelectorAll("iframe")) {
	    try { if (f.contentDocument && f.contentDocument.body) { text += "\n" + f.contentDocument.body.innerText; } } catch (e) {}
	  }
	  return text;
	})()`
	ctx, cancel := b.step()
	defer cancel()
	last := ""
	for {
		rctx, cancelRead := context.WithTimeout(ctx, 3*time.Second)
		text, err := chromedp.Run(rctx, chromedp.Evaluate[string](read))
		cancelRead()
		if err == nil {
			last = text
			if containsAll(text, want) {
				return text
			}
		}
		select {
		case <-ctx.Done():
			b.fail("the platform's page never showed %q within %s; it shows:\n%s", want, stepTimeout, last)
		case <-time.After(150 * time.Millisecond):
		}
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
