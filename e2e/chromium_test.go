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
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// Every wait in these tests is for a condition the page or the stack exposes (a frame
// target attached with its document loaded, a text, a request answered), and none lasts
// longer than stepTimeout: generous, because a 2-core machine that is also doing other
// work can take seconds to start a renderer or lay out a page, yet short enough that a
// broken step fails within half a minute. No test sleeps for a fixed time.
const (
	stepTimeout = 30 * time.Second
	// pollInterval is how soon a condition that sends no event of its own (a page's
	// text, a row in the database) is checked again. The wait is for the condition.
	pollInterval = 100 * time.Millisecond
)

// browser is one headless Chromium with a fresh profile and one tab.
type browser struct {
	t   *testing.T
	ctx context.Context // the tab
}

// newBrowser starts Chromium on a fresh profile that follows p, for this test only.
// The tests fail, never skip, when Chromium is missing. Nothing bounds the browser's
// life but the test: each step is bounded by stepTimeout, so a hung page fails its
// step rather than hanging the suite.
//
// Each person in a test gets a Chromium of their own rather than a tab in a browser
// context of a shared one: on Chromium 156 a page with a cross-site frame, opened in
// any tab but a browser's first, never answered Runtime.evaluate (it timed out even
// with nothing else running), and the platform's pages always frame Huddle cross-site.
func newBrowser(t *testing.T, p CookiePolicy) *browser {
	t.Helper()
	dir := t.TempDir()
	if err := WriteProfile(dir, p); err != nil {
		t.Fatal(err)
	}
	opts, err := AllocatorOptions(dir)
	if err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	started := false
	// Registered after t.TempDir, so it runs first: Chromium is gone before its
	// profile directory is removed. Before it goes, what it holds for Huddle joins the
	// secrets the stack's log is searched for.
	t.Cleanup(func() {
		if started {
			harvestBrowserSecrets(t, ctx)
		}
		cancelTab()
		cancelAlloc()
	})
	// The first Run binds Chromium's life to its context, so it gets the tab's own
	// context; the start is bounded by a timer that cancels the browser instead.
	timer := time.AfterFunc(stepTimeout, cancelAlloc)
	err = chromedp.Do(ctx)
	if !timer.Stop() {
		err = fmt.Errorf("not started within %s: %w", stepTimeout, err)
	}
	if err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	started = true
	return &browser{t: t, ctx: ctx}
}

// step bounds one part of a test.
func (b *browser) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, stepTimeout)
}

// waitUntil checks cond until it holds, and reports whether it did before ctx ended.
func waitUntil(ctx context.Context, cond func(ctx context.Context) bool) bool {
	for {
		if cond(ctx) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(pollInterval):
		}
	}
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
	ctx, cancel := b.step()
	defer cancel()
	infos, err := chromedp.Targets(ctx)
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
		shotCtx, cancelShot := context.WithTimeout(ctx, stepTimeout)
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

// waitFrameText waits until the cross-site iframe whose URL starts with origin has
// loaded a document whose text contains every want, and returns the text. Chromium
// keeps a cross-site iframe in its own process (site isolation), as a target of type
// "iframe" that the page's DOM does not reach, so the iframe is read by attaching to
// that target. The target changes as the frame navigates (Huddle, the platform's
// /auth, Huddle again), and for a moment there is none: the wait follows it.
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
	text, url, ok := waitTargetValue(b, kind, origin, `document.body.innerText`,
		func(text string) bool { return containsAll(text, want) })
	switch {
	case ok:
	case url == "":
		b.fail("no %s on %s loaded within %s (waiting for %q)", kind, origin, stepTimeout, want)
	default:
		b.fail("the %s at %s never showed %q within %s; it shows:\n%s", kind, url, want, stepTimeout, text)
	}
	return text
}

// targetWatch follows the target of kind ("iframe" or "page") on origin, other than
// the test's own tab, while it navigates: it stays attached to one target while that
// target lives and attaches to its successor when the frame's document moves to
// another process. Attachments end with the step ctx.
type targetWatch struct {
	b            *browser
	ctx          context.Context // the step
	kind, origin string

	id     target.ID
	tctx   context.Context // attached to id
	detach context.CancelFunc
	url    string
}

// attachWait bounds one attachment to a target; a step tries again until stepTimeout.
const attachWait = stepTimeout / 6

func (b *browser) watchTarget(ctx context.Context, kind, origin string) *targetWatch {
	return &targetWatch{b: b, ctx: ctx, kind: kind, origin: origin}
}

// current attaches to the target now on origin, if there is one yet.
func (w *targetWatch) current() (context.Context, error) {
	infos, err := chromedp.Targets(w.ctx)
	if err != nil {
		return nil, err
	}
	main := chromedp.FromContext(w.b.ctx).Target.TargetID
	for _, info := range infos {
		if info.Type != w.kind || info.TargetID == main || !strings.HasPrefix(info.URL, w.origin+"/") {
			continue
		}
		w.url = info.URL
		if info.TargetID != w.id {
			w.close()
			// Cancelling it only detaches: it must not close the frame or the window.
			w.tctx, w.detach = chromedp.NewContext(w.ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
			w.id = info.TargetID
			// The first Run attaches, for as long as the step lasts. A frame that
			// navigates to another site while it is being attached to can end the
			// target before chromedp has registered the attachment; the attach then
			// never answers ("executor ... doesn't exist" in the log). Give it a
			// bounded time, then detach and find the frame's new target on the next try.
			attached := make(chan error, 1)
			go func(tctx context.Context) { attached <- chromedp.Do(tctx) }(w.tctx)
			select {
			case err := <-attached:
				if err != nil {
					w.close()
					return nil, err
				}
			case <-time.After(attachWait):
				w.close()
				return nil, errors.New("attaching to the target did not finish")
			}
		}
		return w.tctx, nil
	}
	w.close()
	return nil, errors.New("no such target yet")
}

func (w *targetWatch) close() {
	if w.detach != nil {
		w.detach()
	}
	w.id, w.tctx, w.detach = "", nil, nil
}

// targetValue evaluates js in the watched target once its document has loaded
// (readyState "complete"); ok is false while there is no target or it is loading.
func targetValue[T any](w *targetWatch, js string) (v T, ok bool) {
	tctx, err := w.current()
	if err != nil {
		return v, false
	}
	// One read of a target that vanishes mid-call must not use up the whole step.
	rctx, cancel := context.WithTimeout(tctx, stepTimeout/3)
	defer cancel()
	type read struct {
		Complete bool `json:"complete"`
		Value    T    `json:"value"`
	}
	r, err := chromedp.Run(rctx, chromedp.Evaluate[read](
		`document.readyState === "complete" ? {complete: true, value: (`+js+`)} : {complete: false}`))
	if err != nil || !r.Complete {
		if err != nil {
			w.close() // attach afresh on the next try
		}
		return v, false
	}
	return r.Value, true
}

// waitTargetValue evaluates js in the target of kind on origin, once attached and its
// document loaded, until done accepts the value, for at most stepTimeout. It returns
// the last value read, the target's last URL ("" if there never was one) and whether
// done accepted it.
func waitTargetValue[T any](b *browser, kind, origin, js string, done func(T) bool) (T, string, bool) {
	ctx, cancel := b.step()
	defer cancel()
	w := b.watchTarget(ctx, kind, origin)
	defer w.close()
	var last T
	ok := waitUntil(ctx, func(context.Context) bool {
		v, loaded := targetValue[T](w, js)
		if loaded {
			last = v
		}
		return loaded && done(v)
	})
	return last, w.url, ok
}

// onTarget waits until the target of kind on origin is attached and its document has
// loaded, and returns a context on it for the rest of the step: a click, an
// evaluation. A frame that is navigating has, for a moment, no target at all, so
// this never assumes the target exists the moment the click before it returned.
func (b *browser) onTarget(kind, origin, what string) (context.Context, func(), string) {
	b.t.Helper()
	ctx, cancel := b.step()
	w := b.watchTarget(ctx, kind, origin)
	if !waitUntil(ctx, func(context.Context) bool { _, ok := targetValue[bool](w, "true"); return ok }) {
		w.close()
		cancel()
		if w.url == "" {
			b.fail("no %s on %s loaded within %s to %s", kind, origin, stepTimeout, what)
		}
		b.fail("the %s at %s did not finish loading within %s to %s", kind, w.url, stepTimeout, what)
	}
	return w.tctx, func() { w.close(); cancel() }, w.url
}

// clickInFrame clicks the element sel inside the cross-site iframe on origin.
func (b *browser) clickInFrame(origin, sel string) {
	b.t.Helper()
	ctx, done, url := b.onTarget("iframe", origin, "click "+sel+" in it")
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
	ctx, cancel := b.step()
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
	ctx, cancel := b.step()
	defer cancel()
	defer func() {
		_ = chromedp.Do(ctx, chromedp.EmulateReset(),
			chromedp.Evaluate[chromedp.Void](`document.querySelector("iframe").style.height = ""; window.scrollTo(0, 0)`))
	}()
	// The platform's frame is 75% of the window high; here it runs to the bottom. It
	// returns the frame's new height in CSS pixels.
	const fill = `(() => {
	  const f = document.querySelector("iframe");
	  f.style.height = (innerHeight - 110) + "px";
	  window.scrollTo(0, f.getBoundingClientRect().top + scrollY - 110);
	  return Math.round(f.getBoundingClientRect().height);
	})()`
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1024, 768)); err != nil {
		b.fail("README screenshot %s: %v", name, err)
	}
	height, err := chromedp.Run(ctx, chromedp.Evaluate[int](fill))
	if err != nil {
		b.fail("README screenshot %s: %v", name, err)
	}
	// Huddle lays out again in the taller frame: wait until its window has that height
	// and a frame has been drawn since.
	if _, url, ok := waitTargetValue(b, "iframe", origin, `innerHeight`, func(h int) bool { return h >= height-2 }); !ok {
		b.fail("README screenshot %s: the frame at %s never laid out %d px high", name, url, height)
	}
	if frameTop != "" {
		b.inFrame(origin, "scroll to "+frameTop, chromedp.Evaluate[chromedp.Void](
			`window.scrollTo(0, document.querySelector(`+jsString(frameTop)+`).getBoundingClientRect().top + scrollY)`))
	}
	b.inFrame(origin, "wait for a frame to be drawn", chromedp.Evaluate[chromedp.Void](nextPaint, chromedp.EvalAwaitPromise))
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](nextPaint, chromedp.EvalAwaitPromise)); err != nil {
		b.fail("README screenshot %s: %v", name, err)
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

// nextPaint resolves once the page has drawn a frame after everything before it: the
// second animation frame callback runs after the first frame's paint.
const nextPaint = `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r())))`

// inFrame runs actions in the cross-site iframe on origin.
func (b *browser) inFrame(origin, what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, done, url := b.onTarget("iframe", origin, what+" in it")
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
	ctx, done, url := b.onTarget("iframe", origin, "evaluate in it")
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
	ok := waitUntil(ctx, func(ctx context.Context) bool {
		rctx, cancelRead := context.WithTimeout(ctx, stepTimeout/3)
		defer cancelRead()
		text, err := chromedp.Run(rctx, chromedp.Evaluate[string](read))
		if err != nil {
			return false
		}
		last = text
		return containsAll(text, want)
	})
	if !ok {
		b.fail("the platform's page never showed %q within %s; it shows:\n%s", want, stepTimeout, last)
	}
	return last
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
