package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/discussion"
)

const (
	thirdsBoardTitle = "Ward round questions"
	thirdsThread     = "Who writes the discharge letter?"
	thirdsBody       = "On my first ward round nobody said who writes the discharge letter. How do your teams decide?"
)

// Issue 17, item 13, in the browser, at 360 and 1280 px with third-party cookies
// blocked: "Open in new window" is offered inside Moodle's frame, and not in the
// window it opens (Huddle is already the top-level window there, and another would
// only copy it); both pages have a favicon that is served; and a score that is a
// third of full marks reads "33.33 / 100" on the grade sync page, not
// "33.333333333333336 / 100".
func TestOpenInNewWindowOnlyFromTheFrame(t *testing.T) {
	s := newStack(t)
	edu := newBrowser(t, PartitionedOnly)
	board := edu.addNamedBoardForThirds(s)

	lena := newBrowser(t, PartitionedOnly)
	newCanary(t).requirePolicy(t, lena.ctx, PartitionedOnly)
	lena.openCourseModule(s, learnerID, board.CMID)
	lena.waitFrameText(s.Huddle, learnerName, thirdsBoardTitle, "For full marks: 0 of 3 threads")
	for _, width := range []int{phoneWidth, deskWidth} {
		lena.frameWidth(s.Huddle, width)
		lena.requireNewWindowLink("iframe", s.Huddle, width, true)
	}
	lena.requireFavicon("iframe", s.Huddle)

	// One thread of the three for full marks: a score of 100 / 3.
	lena.clickInFrame(s.Huddle, `.actions a.button`)
	lena.waitFrameText(s.Huddle, "Start a thread")
	lena.fillInFrame(s.Huddle, "#title", thirdsThread)
	lena.fillInFrame(s.Huddle, "#body", thirdsBody)
	lena.submitInFrame(s.Huddle, `form[action$="/threads"]`)
	lena.waitFrameText(s.Huddle, "Posted.", thirdsThread)

	// The frame is 1280 px wide: the link is in the header's line.
	lena.clickInFrame(s.Huddle, `a[data-new-window]`)
	lena.waitPageText(s.Huddle, "Continue as "+learnerName+" in "+devplatform.CourseTitle+"?")
	lena.clickInPage(s.Huddle, `#handoff-confirm`)
	lena.waitPageText(s.Huddle, learnerName, thirdsThread, "Replies")
	for _, width := range []int{phoneWidth, deskWidth} {
		lena.requireNewWindowLink("page", s.Huddle, width, false)
	}
	lena.requireFavicon("page", s.Huddle)

	// The grade sync page rounds the third.
	edu.openFromCourse(s, board.CMID)
	edu.waitFrameText(s.Huddle, thirdsBoardTitle, "Grade sync")
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/grades"]`)
	row := edu.waitGradeRow(s.Huddle, learnerName, stepTimeout, "33.33 / 100")
	for _, width := range []int{phoneWidth, deskWidth} {
		edu.frameWidth(s.Huddle, width)
		text := edu.waitFrameText(s.Huddle, "Grade sync", learnerName)
		if strings.Contains(text, "33.333") {
			edu.fail("at %d px the grade sync page shows an unrounded score (row %q):\n%s", width, row, text)
		}
		edu.requireFrameFitsPhoneAt(s.Huddle, width)
	}
}

// addNamedBoardForThirds adds a named discussion board through the Deep Linking
// picker, with full marks for 3 threads: one thread earns a third of the score, and a
// named board sends it to Moodle at once.
func (b *browser) addNamedBoardForThirds(s *stack) devplatform.Activity {
	b.t.Helper()
	kind := discussion.KindDiscussionBoard
	b.openDeepLinkPicker(s, "Discussion board")
	b.clickInFrame(s.Huddle, `input[name="kind"][value="`+kind+`"]`)
	b.fillInFrame(s.Huddle, `input[name="title_`+kind+`"]`, thirdsBoardTitle)
	b.clickInFrame(s.Huddle, `input[name="identity_`+kind+`"][value="named"]`)
	b.fillInFrame(s.Huddle, `input[name="grade_threads_`+kind+`"]`, "3")
	b.fillInFrame(s.Huddle, `input[name="grade_replies_`+kind+`"]`, "0")
	b.submitInFrame(s.Huddle, `form[action^="/deep-link/"]`)
	b.waitPlatformText("Activities added", thirdsBoardTitle, "HTTP 200")
	for _, a := range s.dev.Activities() {
		if a.Title == thirdsBoardTitle {
			return a
		}
	}
	b.fail("the platform's course has no activity %q: %+v", thirdsBoardTitle, s.dev.Activities())
	return devplatform.Activity{}
}

// readNewWindowLink reads a newWindowLink in a Huddle page.
const readNewWindowLink = `(() => {
  const a = document.querySelector("a[data-new-window]");
  if (!a) { return {exists: false}; }
  const menu = document.querySelector("header details.header__menu");
  const folded = !!menu && menu.querySelector("summary").checkVisibility();
  const was = folded && menu.open;
  if (folded) { menu.open = true; }
  const shown = a.checkVisibility({visibilityProperty: true}) && a.getBoundingClientRect().width > 0;
  if (folded) { menu.open = was; }
  return {exists: true, hidden: a.hidden, shown: shown, menu: folded};
})()`

// newWindowLinkInPage lays the top-level Huddle window on origin out width CSS pixels
// wide and reads its link, in one attachment: the page's viewport override lasts only
// while the test is attached to it.
func (b *browser) newWindowLinkInPage(origin string, width int) (newWindowLink, string) {
	b.t.Helper()
	ctx, done, url := b.onTarget("page", origin, "read its header at "+fmt.Sprint(width)+" px")
	defer done()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), 800)); err != nil {
		b.fail("lay out the page at %s %d px wide: %v", url, width, err)
	}
	if !waitUntil(ctx, func(ctx context.Context) bool {
		w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.clientWidth`))
		return err == nil && w == width
	}) {
		b.fail("the page at %s never laid out %d px wide", url, width)
	}
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		path := filepath.Join(b.t.ArtifactDir(), fmt.Sprintf("new-window-page-%dpx.png", width))
		if err := os.WriteFile(path, png, 0o600); err == nil {
			b.t.Logf("screenshot of the new window at %d px: %s", width, path)
		}
	}
	l, err := chromedp.Run(ctx, chromedp.Evaluate[newWindowLink](readNewWindowLink))
	if err != nil {
		b.fail("read the header of the page at %s: %v", url, err)
	}
	return l, url
}

// newWindowLink is what requireNewWindowLink reads of the header's "Open in new
// window" link.
type newWindowLink struct {
	Exists bool `json:"exists"`
	Hidden bool `json:"hidden"` // its hidden attribute
	Shown  bool `json:"shown"`  // it can be seen, with the header's Menu opened if it has one
	Menu   bool `json:"menu"`   // the header folds its links behind Menu
}

// requireNewWindowLink checks the header of the Huddle page of kind ("iframe": in the
// platform's frame, "page": a window of its own) on origin, at width: the link is
// offered (shown, if need be once Menu is opened) exactly when want is true.
func (b *browser) requireNewWindowLink(kind, origin string, width int, want bool) {
	b.t.Helper()
	var l newWindowLink
	var url string
	if kind == "page" {
		l, url = b.newWindowLinkInPage(origin, width)
	} else {
		var ok bool
		l, url, ok = waitTargetValue(b, kind, origin, readNewWindowLink, func(newWindowLink) bool { return true })
		if !ok {
			b.fail("could not read the header of the %s at %s", kind, url)
		}
	}
	b.t.Logf("the %s at %d px (%s): %+v", kind, width, url, l)
	where := "in the platform's frame"
	if kind == "page" {
		where = "in a window of its own"
	}
	switch {
	case want && (!l.Exists || l.Hidden || !l.Shown):
		b.fail("at %d px %s, Huddle does not offer \"Open in new window\": %+v", width, where, l)
	case !want && l.Exists && (!l.Hidden || l.Shown):
		b.fail("at %d px %s, Huddle offers \"Open in new window\" although it is the top-level window: %+v", width, where, l)
	case (width < 600) != l.Menu:
		b.fail("at %d px %s, the header's links are folded behind Menu: %t", width, where, l.Menu)
	}
	if kind == "iframe" {
		b.shot(fmt.Sprintf("new-window-link-frame-%dpx", width))
	}
}

// requireFavicon checks that the Huddle page of kind on origin names an icon, and
// that Huddle serves it as an image.
func (b *browser) requireFavicon(kind, origin string) {
	b.t.Helper()
	type icon struct {
		Href   string `json:"href"`
		Status int    `json:"status"`
		Type   string `json:"type"`
		Size   int    `json:"size"`
	}
	ctx, done, url := b.onTarget(kind, origin, "fetch its icon")
	defer done()
	rctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	got, err := chromedp.Run(rctx, chromedp.Evaluate[icon](`(() => {
	  const l = document.querySelector('link[rel~="icon"]');
	  if (!l) { return {href: ""}; }
	  return fetch(l.href, {credentials: "omit"}).then(async r => ({href: l.href, status: r.status,
	    type: r.headers.get("content-type") || "", size: (await r.arrayBuffer()).byteLength}));
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail("fetch the icon of the %s at %s: %v", kind, url, err)
	}
	if got.Href == "" || !strings.HasPrefix(got.Href, origin+"/") || got.Status != 200 || !strings.HasPrefix(got.Type, "image/") || got.Size < 100 {
		b.fail("the %s at %s has no icon Huddle serves: %+v", kind, url, got)
	}
}
