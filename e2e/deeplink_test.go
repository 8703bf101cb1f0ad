package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/huddle-lti/huddle/discussion"
)

// An educator adds content from a Moodle whose frame keeps no Huddle cookie at all
// (issue 17, item 4). Moodle 4.5 offers no platform storage, so Huddle's frame sends
// the educator to a new window to choose; Moodle fills its "Add an activity" form only
// when the answer is posted inside its dialog (the platform refuses it in a window of
// its own, as Moodle's page fails there), so the frame, still open in the dialog,
// posts the answer itself. Its own stack: it adds an activity the shared journeys
// would see in the course.
func TestDeepLinkingFromAFrameWithoutCookies(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, NoFrameCookies)
	newCanary(t).requirePolicy(t, b.ctx, NoFrameCookies)

	const title = "Case board"
	picker := `form[action="/open"]:not([target]):has(input[name="user"][value="` + educatorID + `"]):has(input[name="deeplink"]) button`
	b.do("open the platform's launch page", chromedp.Navigate(s.Platform+"/"))
	b.do("add an activity (Deep Linking)", chromedp.Click(chromedp.CSS(picker), chromedp.NodeVisible))
	b.waitFrameText(s.Huddle, blockedHeader)
	b.clickInFrame(s.Huddle, `a[target="_blank"]`)

	b.waitPageText(s.Huddle, "Add Huddle to your course", title)
	b.waitFrameText(s.Huddle, "Choose what to add in the new window")
	b.clickInPage(s.Huddle, `input[value="`+discussion.KindCaseBoard+`"]`)
	b.clickInPage(s.Huddle, `form[action^="/deep-link/"] button[type="submit"]`)
	b.waitPageText(s.Huddle, "Sent to Moodle", "Go back to Moodle")

	// The dialog's frame posts the answer to the platform, which adds the activity and
	// probes its URL as Moodle's server does.
	b.waitPlatformText("Activities added", title, "HTTP 200")
	added := false
	for _, a := range s.dev.Activities() {
		added = added || a.Title == title
	}
	if !added {
		b.fail("the platform's course has no activity %q: %+v", title, s.dev.Activities())
	}
}
