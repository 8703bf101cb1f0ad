package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/reflection"
)

// The learner-facing line of a reflection log complete on sign-off, and of one
// complete on submit: neither belongs on the educator's page.
const (
	learnerSignOffHint = "This activity is complete when a supervisor signs off one of your reflections: submit it and send it to them."
	learnerSubmitHint  = "complete when you submit"
)

// Issue 17, item 11: on a reflection log that is complete when a supervisor signs a
// reflection off, a trainee who tapped Submit thought she was done, because sharing
// with her supervisor was a separate step. Now the form's first, main button is one
// step, "Submit and send to <her supervisor> for sign-off", naming the supervisor
// assigned to her; the supervisor has a "Waiting for your sign-off" page and its count;
// and the educator's page says what completes the activity for learners, not the
// learner's own words. With third-party cookies blocked, at 360 and 1280 px: she
// writes and sends one reflection at each width, and her supervisor (the educator, in
// another browser) finds both waiting at each width and signs one off.
func TestSubmitAndSendForSignOff(t *testing.T) {
	s := newStack(t)
	edu := newBrowser(t, PartitionedOnly)
	newCanary(t).requirePolicy(t, edu.ctx, PartitionedOnly)
	const title = "Reflections signed off by a supervisor"
	log := edu.addSignOffLog(s, title)

	// The educator's page speaks of learners.
	for _, width := range []int{phoneWidth, deskWidth} {
		edu.openFromCourse(s, log.CMID)
		edu.waitFrameText(s.Huddle, educatorName, title, "Settings and template")
		edu.frameWidth(s.Huddle, width)
		text := edu.waitFrameText(s.Huddle, "For learners, this activity is complete when a supervisor signs off one of their reflections.")
		for _, learners := range []string{learnerSignOffHint, learnerSubmitHint, "Your reflections are private"} {
			if strings.Contains(text, learners) {
				edu.fail("at %d px the educator's page shows what learners read, %q:\n%s", width, learners, text)
			}
		}
		edu.shot(fmt.Sprintf("educator-signoff-log-%dpx", width))
		edu.requireFrameFitsPhoneAt(s.Huddle, width)
	}

	// The learner opens it once, then the educator makes themself her supervisor.
	lena := newBrowser(t, PartitionedOnly)
	newCanary(t).requirePolicy(t, lena.ctx, PartitionedOnly)
	lena.openCourseModule(s, learnerID, log.CMID)
	if text := lena.waitFrameText(s.Huddle, learnerName, title, learnerSignOffHint); strings.Contains(text, learnerSubmitHint) {
		lena.fail("the learner's page says the log is complete when she submits:\n%s", text)
	}
	lenaID := s.huddleUser(t, learnerID)
	edu.openFromCourse(s, log.CMID)
	edu.waitFrameText(s.Huddle, educatorName, title, "Supervisors")
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/supervisors"]`)
	edu.waitFrameText(s.Huddle, "Supervisors", learnerName)
	sup := fmt.Sprintf("#sup-%d", lenaID)
	edu.selectInFrame(s.Huddle, sup, educatorName)
	edu.clickInFrame(s.Huddle, `form:has(`+sup+`) button[type="submit"]`)
	edu.waitFrameText(s.Huddle, "Saved.", educatorName+" as supervisor of "+learnerName)

	// At each width she writes a reflection and sends it in one step.
	step := "Submit and send to " + educatorName + " for sign-off"
	var titles []string
	for _, width := range []int{phoneWidth, deskWidth} {
		rt := fmt.Sprintf("%s (%d px)", reflectionTitle, width)
		titles = append(titles, rt)
		lena.openCourseModule(s, learnerID, log.CMID)
		lena.waitFrameText(s.Huddle, learnerName, title, "Write a reflection")
		lena.frameWidth(s.Huddle, width)
		lena.clickInFrame(s.Huddle, `.actions a.button`)
		lena.waitFrameText(s.Huddle, "Write a reflection", "What happened?", step)
		lena.typeInFrame(s.Huddle, "#title", rt)
		lena.typeInFrame(s.Huddle, "#answer_what_happened", reflectionHappened)
		lena.typeInFrame(s.Huddle, "#answer_learned", reflectionLearned)
		lena.typeInFrame(s.Huddle, "#answer_next", reflectionNext)
		lena.requireOneSendStep(s.Huddle, width, step)
		lena.shot(fmt.Sprintf("learner-submit-and-send-%dpx", width))
		lena.requireFrameFitsPhoneAt(s.Huddle, width)
		lena.requireAccessible(s.Huddle, fmt.Sprintf("reflection form complete on sign-off at %d px", width))
		lena.clickInFrame(s.Huddle, `form[data-autosave] button[name="send_to"]`)
		lena.waitFrameText(s.Huddle, "Submitted as version 1 and sent to "+educatorName+" for sign-off.", rt, "Not yet signed off",
			educatorName+", since")
		lena.shot(fmt.Sprintf("learner-submitted-and-sent-%dpx", width))
	}

	// Her supervisor finds both waiting, with their count, at each width.
	for _, width := range []int{phoneWidth, deskWidth} {
		edu.openFromCourse(s, log.CMID)
		edu.waitFrameText(s.Huddle, title, "Waiting for your sign-off (2)")
		edu.frameWidth(s.Huddle, width)
		edu.clickInFrame(s.Huddle, `nav.tools a[href="/reflections/waiting"]`)
		edu.requireWaiting(s.Huddle, width, titles)
		edu.shot(fmt.Sprintf("supervisor-waiting-%dpx", width))
		edu.requireAccessible(s.Huddle, fmt.Sprintf("waiting for your sign-off at %d px", width))
	}

	// She signs the first off: one is left waiting, and the count says so.
	edu.openThreadItem(s.Huddle, titles[0])
	edu.waitFrameText(s.Huddle, titles[0], "By "+learnerName, "Sign off version 1")
	edu.fillInFrame(s.Huddle, "#signoff-comment", signOffComment)
	edu.submitInFrame(s.Huddle, `form[action$="/signoff"]`)
	edu.waitFrameText(s.Huddle, "Signed off.", "Signed off by "+educatorName)
	edu.openInFrame(s.Huddle, "/reflections/waiting")
	edu.requireWaiting(s.Huddle, deskWidth, titles[1:])
	edu.openFromCourse(s, log.CMID)
	edu.waitFrameText(s.Huddle, title, "Waiting for your sign-off (1)")

	// The learner sees it signed off.
	lena.openCourseModule(s, learnerID, log.CMID)
	lena.waitFrameText(s.Huddle, learnerName, title, titles[0], titles[1])
	lena.openThreadItem(s.Huddle, titles[0])
	lena.waitFrameText(s.Huddle, titles[0], "Signed off by "+educatorName, signOffComment)

	// Complete on submit instead: the educator's page still speaks of learners, not
	// "complete when you submit".
	edu.openFromCourse(s, log.CMID)
	edu.waitFrameText(s.Huddle, title, "Settings and template")
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/reflection-settings"]`)
	edu.waitFrameText(s.Huddle, "What completes the activity")
	edu.clickInFrame(s.Huddle, "#complete-submit")
	edu.submitInFrame(s.Huddle, `form[action$="/reflection-settings"]`)
	edu.waitFrameText(s.Huddle, "Saved. New reflections use these settings")
	edu.openFromCourse(s, log.CMID)
	text := edu.waitFrameText(s.Huddle, title, "For learners, this activity is complete when they submit a reflection.")
	if strings.Contains(text, learnerSubmitHint) || strings.Contains(text, "Your reflections are private") {
		edu.fail("the educator's page of a log complete on submit shows what learners read:\n%s", text)
	}
}

// addSignOffLog is the educator adding a reflection log, complete on sign-off, through
// the Deep Linking picker, and opening it from the course.
func (b *browser) addSignOffLog(s *stack, title string) devplatform.Activity {
	b.t.Helper()
	kind := reflection.KindReflectionLog
	b.openDeepLinkPicker(s, "Reflection log")
	b.clickInFrame(s.Huddle, `input[name="kind"][value="`+kind+`"]`)
	b.fillInFrame(s.Huddle, `input[name="title_`+kind+`"]`, title)
	b.clickInFrame(s.Huddle, `input[name="complete_on_`+kind+`"][value="signoff"]`)
	b.submitInFrame(s.Huddle, `form[action^="/deep-link/"]`)
	b.waitPlatformText("Activities added", title, "HTTP 200")
	var added devplatform.Activity
	for _, a := range s.dev.Activities() {
		if a.Title == title {
			added = a
		}
	}
	if added.CMID == 0 {
		b.fail("the platform's course has no activity %q: %+v", title, s.dev.Activities())
	}
	b.do("open the reflection log from the course", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/view?cmid=%d"]`, added.CMID)), chromedp.NodeVisible))
	b.waitFrameText(s.Huddle, educatorName, title, "Settings and template")
	return added
}

// requireOneSendStep checks the reflection form of a log complete on sign-off: its
// first and only main button is step, which sends to the supervisor it names; no other
// button submits and sends, and none merely submits as the main action.
func (b *browser) requireOneSendStep(origin string, width int, step string) {
	b.t.Helper()
	type button struct {
		Text    string `json:"text"`
		Name    string `json:"name"`
		Main    bool   `json:"main"`
		Visible bool   `json:"visible"`
	}
	buttons := evalInFrame[[]button](b, origin, `[...document.querySelectorAll('form[data-autosave] button[type="submit"]')].map(el => ({
	  text: el.textContent.trim(), name: el.name, main: !el.classList.contains("button--secondary"), visible: el.checkVisibility()}))`)
	b.t.Logf("the form's buttons at %d px: %+v", width, buttons)
	var sends, mains []string
	for _, bt := range buttons {
		if strings.HasPrefix(bt.Text, "Submit and send") {
			sends = append(sends, bt.Text)
		}
		if bt.Main {
			mains = append(mains, bt.Text)
		}
	}
	switch {
	case len(buttons) == 0 || buttons[0].Text != step || buttons[0].Name != "send_to" || !buttons[0].Main || !buttons[0].Visible:
		b.fail("at %d px the form's first button is not the one step %q: %+v", width, step, buttons)
	case len(sends) != 1:
		b.fail("at %d px the form offers %d ways to submit and send, want one (%q): %q", width, len(sends), step, sends)
	case len(mains) != 1:
		b.fail("at %d px the form has %d main buttons, want only %q: %q", width, len(mains), step, mains)
	}
	// Above the fold of a phone's frame is not asked for; on screen after typing is.
	if !evalInFrame[bool](b, origin, `(() => { const el = document.querySelector('form[data-autosave] button[name="send_to"]');
	  el.scrollIntoView({block: "center"}); const r = el.getBoundingClientRect();
	  return r.width > 0 && r.right <= document.documentElement.clientWidth; })()`) {
		b.fail("at %d px the button %q does not fit the frame", width, step)
	}
}

// requireWaiting checks the supervisor's "Waiting for your sign-off" page: exactly the
// reflections titled want, each by the learner and marked as waiting.
func (b *browser) requireWaiting(origin string, width int, want []string) {
	b.t.Helper()
	b.waitFrameText(origin, append([]string{"Waiting for your sign-off", learnerName}, want...)...)
	items := evalInFrame[[]string](b, origin, `[...document.querySelectorAll(".thread-item")].map(li => li.innerText)`)
	if len(items) != len(want) {
		b.fail("at %d px %d reflections wait for sign-off, want %d (%q): %q", width, len(items), len(want), want, items)
	}
	for _, item := range items {
		if !strings.Contains(item, "Waiting for sign-off") || !strings.Contains(item, learnerName) {
			b.fail("at %d px a waiting reflection does not say it waits, or by whom: %q", width, item)
		}
	}
	b.requireFrameFitsPhoneAt(origin, width)
}

// openThreadItem opens the item of the list in the frame whose title is title.
func (b *browser) openThreadItem(origin, title string) {
	b.t.Helper()
	href := evalInFrame[string](b, origin, `(() => { const a = [...document.querySelectorAll("a.thread-item__title")].find(a => a.textContent === `+
		jsString(title)+`); return a ? a.getAttribute("href") : ""; })()`)
	if href == "" {
		b.fail("the page lists nothing titled %q", title)
	}
	b.openInFrame(origin, href)
}
