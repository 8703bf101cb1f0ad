package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"

	"github.com/huddle-lti/huddle/devplatform"
)

// The seeded users and activity of the development platform.
const (
	learnerID     = "4" // Lena Learner
	learnerName   = "Lena Learner"
	educatorID    = "3" // Eddie Educator
	educatorName  = "Eddie Educator"
	seededCMID    = 2 // "Peer discussion", added by hand: not set up yet
	blockedHeader = "Open Huddle in a new window"

	// Cookie partitions are keyed by scheme and host: sites, not origins.
	huddleSite   = "http://localhost"
	platformSite = "http://127.0.0.1"
)

// The browser tests run one after another (no t.Parallel): each starts its own
// Chromium, and two at once on a 2-core machine only make both slower.

// TestCookieCanary proves that each cookie policy does what the other tests rely on,
// including the control: with nothing blocked the unpartitioned canary does come back
// in the frame, so the canary can tell a blocked cookie from a broken one.
func TestCookieCanary(t *testing.T) {
	c := newCanary(t)
	for _, p := range []CookiePolicy{ThirdPartyAllowed, PartitionedOnly, NoFrameCookies} {
		t.Run(p.Name, func(t *testing.T) {
			b := newBrowser(t, p)
			c.requirePolicy(t, b.ctx, p)
		})
	}
}

// A learner launches from the course page with third-party cookies blocked: Huddle's
// partitioned cookies survive in the frame, so the learner is signed in inside it.
func learnerLaunchInFramePartitionedCookies(t *testing.T, s *stack) {
	b := newBrowser(t, PartitionedOnly)
	newCanary(t).requirePolicy(t, b.ctx, PartitionedOnly)

	b.openActivity(s, learnerID)
	text := b.waitFrameText(s.Huddle, learnerName, devplatform.CourseTitle, "Not set up yet")
	if strings.Contains(text, blockedHeader) {
		b.fail("Huddle asked for a new window although partitioned cookies work:\n%s", text)
	}
	// The sign-in lives in the platform's partition, the only place it can.
	b.requireSessionCookie(platformSite)
}

// A learner launches in a browser that keeps no Huddle cookie inside the platform's
// frame: Huddle offers a new window, and the learner ends signed in there.
func learnerLaunchInNewWindowWhenFrameCookiesBlocked(t *testing.T, s *stack) {
	b := newBrowser(t, NoFrameCookies)
	newCanary(t).requirePolicy(t, b.ctx, NoFrameCookies)

	b.openActivity(s, learnerID)
	b.waitFrameText(s.Huddle, blockedHeader)
	b.clickInFrame(s.Huddle, `a[target="_blank"]`)
	text := b.waitPageText(s.Huddle, learnerName, devplatform.CourseTitle, "Not set up yet")
	if strings.Contains(text, blockedHeader) {
		b.fail("the new window asked for a new window again:\n%s", text)
	}
	// Top-level, Huddle's Partitioned cookie is keyed by Huddle's own site.
	b.requireSessionCookie(huddleSite)
}

// A learner launches where the frame keeps no Huddle cookie at all, on a platform that
// offers lti_storage_target (LTI Client Side postMessages): the sign-in's browser
// binding goes through the platform's storage frame, and the learner is signed in
// inside the frame, with no new window.
func learnerLaunchThroughPlatformStorage(t *testing.T, s *stack) {
	b := newBrowser(t, NoFrameCookies)
	newCanary(t).requirePolicy(t, b.ctx, NoFrameCookies)

	b.openActivity(s, learnerID)
	text := b.waitFrameText(s.Huddle, learnerName, devplatform.CourseTitle, "Not set up yet")
	if strings.Contains(text, blockedHeader) {
		b.fail("Huddle asked for a new window although the platform offered storage:\n%s", text)
	}
}

// "Open in new window" from inside the frame: the new top-level window, where the
// frame's partitioned cookie is not visible, is signed in as the same learner.
func openInNewWindowFromTheFrame(t *testing.T, s *stack) {
	b := newBrowser(t, PartitionedOnly)
	b.openActivity(s, learnerID)
	b.waitFrameText(s.Huddle, learnerName, "Open in new window")
	b.clickInFrame(s.Huddle, `a[data-new-window]`)
	// The new window names the account and asks before it signs anyone in: a ticket
	// sent to someone else must not sign them in as the learner.
	b.waitPageText(s.Huddle, "Continue as "+learnerName+" in "+devplatform.CourseTitle+"?", "If this is not you, close this window.")
	b.requireAccessiblePage(s.Huddle, "hand-off confirmation")
	b.clickInPage(s.Huddle, `#handoff-confirm`)
	// A top-level page (not the frame) shows the learner signed in: the new window
	// redeemed its ticket for a session of its own.
	b.waitPageText(s.Huddle, learnerName, devplatform.CourseTitle, "Not set up yet")
	b.requireFitsPhone(s.Huddle)
}

// requireFitsPhone checks that Huddle's top-level page, at a 360-pixel-wide phone
// viewport, needs no horizontal scrolling.
func (b *browser) requireFitsPhone(origin string) {
	b.t.Helper()
	ctx, done, _ := b.onTarget("page", origin, "measure it")
	defer done()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 740)); err != nil {
		b.fail("emulate a phone: %v", err)
	}
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil {
		b.fail("measure the page: %v", err)
	}
	if width > 360 {
		b.fail("at 360 px wide the page is %d px wide: it scrolls sideways", width)
	}
}

// requireFrameFitsPhone checks that Huddle's page in the platform's frame, 360 CSS
// pixels wide as on a phone, needs no horizontal scrolling. The frame itself is
// resized (emulating the whole tab would also narrow the platform's page around it,
// leaving Huddle less than a phone's width); it is widened by any classic scrollbar,
// which phones overlay, so that Huddle lays out in exactly 360 pixels. The frame
// keeps that width for a screenshot named step, then gets its own back.
func (b *browser) requireFrameFitsPhone(origin, step string) {
	b.t.Helper()
	const phone = 360
	resize := func(width string) error {
		ctx, cancel := b.step()
		defer cancel()
		return chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("iframe").style.width = "`+width+`"`))
	}
	if err := resize(fmt.Sprintf("%dpx", phone)); err != nil {
		b.fail("%s: resize the platform's frame: %v", step, err)
	}
	defer func() { _ = resize("") }() // best effort: the test may be failing already
	ctx, cancel := b.step()
	defer cancel()
	type layout struct {
		Client int `json:"client"`
		Inner  int `json:"inner"`
		Scroll int `json:"scroll"`
	}
	const measure = `({client: document.documentElement.clientWidth, inner: window.innerWidth, scroll: document.documentElement.scrollWidth})`
	for widened := false; ; {
		l := evalInFrame[layout](b, origin, measure)
		switch {
		case l.Client < phone && !widened && l.Inner == phone:
			if err := resize(fmt.Sprintf("%dpx", phone+l.Inner-l.Client)); err != nil {
				b.fail("%s: widen the platform's frame by its scrollbar: %v", step, err)
			}
			widened = true
			continue
		case l.Client == phone:
			b.shot(step)
			if l.Scroll > phone {
				b.fail("%s: at %d px wide Huddle's page is %d px wide: it scrolls sideways", step, phone, l.Scroll)
			}
			return
		}
		select {
		case <-ctx.Done():
			b.fail("%s: the frame never laid out %d px wide: %+v", step, phone, l)
		case <-time.After(pollInterval):
		}
	}
}

// An educator launches the activity nobody has set up yet and gets the set-up page
// inside the frame.
func educatorLaunchShowsSetUp(t *testing.T, s *stack) {
	b := newBrowser(t, PartitionedOnly)
	newCanary(t).requirePolicy(t, b.ctx, PartitionedOnly)

	b.openActivity(s, educatorID)
	b.waitFrameText(s.Huddle, "Set up this activity", educatorName, e2eKinds[0].Title)
}

// openActivity signs user in on the platform's launch page and opens the seeded
// activity in the course page's iframe, as a person clicking "Open" does.
func (b *browser) openActivity(s *stack, user string) {
	b.t.Helper()
	b.openCourseModule(s, user, seededCMID)
}

// openCourseModule is openActivity for the course module cmid, such as one added
// through Deep Linking.
func (b *browser) openCourseModule(s *stack, user string, cmid int) {
	b.t.Helper()
	open := fmt.Sprintf(`form[action="/open"]:not([target]):has(input[name="user"][value=%q]):has(input[name="cmid"][value="%d"]) button`,
		user, cmid)
	b.do("open the platform's launch page", chromedp.Navigate(s.Platform+"/"))
	b.do(fmt.Sprintf("open course module %d as user %s", cmid, user), chromedp.Click(chromedp.CSS(open), chromedp.NodeVisible))
}

// requireSessionCookie checks that the browser keeps Huddle's session cookie only in
// the partition of topLevelSite, and logs every Huddle cookie it keeps.
func (b *browser) requireSessionCookie(topLevelSite string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	res, err := chromedp.CallBrowser(ctx, storage.GetCookies, storage.GetCookiesParams{})
	if err != nil {
		b.fail("read the browser's cookies: %v", err)
	}
	var partitions []string
	for _, ck := range res.Cookies {
		if !strings.HasPrefix(ck.Name, "huddle_") {
			continue
		}
		partition := "unpartitioned"
		if ck.PartitionKey != nil {
			partition = "partitioned under " + ck.PartitionKey.TopLevelSite
		}
		b.t.Logf("cookie %s on %s: %s", ck.Name, ck.Domain, partition)
		if ck.Name == "huddle_session" {
			partitions = append(partitions, partition)
		}
	}
	if want := []string{"partitioned under " + topLevelSite}; !slices.Equal(partitions, want) {
		b.fail("huddle_session is kept %q, want only %q", partitions, want)
	}
}

// clickInPage clicks the element sel in the top-level window Huddle opened on origin.
func (b *browser) clickInPage(origin, sel string) {
	b.t.Helper()
	ctx, done, url := b.onTarget("page", origin, "click "+sel+" in it")
	defer done()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		b.fail("click %s in the page at %s: %v", sel, url, err)
	}
}
