package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/discussion"
)

// What the journeys write. The presentation is pasted from a referral letter with the
// NHS number still in it (943 476 5919 passes the NHS number checksum).
const (
	caseBoardTitle  = "Acute medicine cases"
	caseTitle       = "Chest pain with a normal first ECG"
	pastedNHSNumber = "943 476 5919"
	pastedText      = "Man in his 50s with two hours of central chest pain. From the referral letter: NHS number " +
		pastedNHSNumber + ", seen in the emergency department."
	editedText    = "Man in his 50s with two hours of central chest pain, seen in the emergency department."
	caseQuestion  = "Would you discharge him after one normal troponin?"
	replyText     = "I would repeat the troponin at three hours before deciding."
	peerName      = "Liam Student"
	peerID        = "5"
	boardOnlyText = "Search this board" // the board page's search, on no other page
)

// Journey 1, as far as the development platform goes: an educator adds a case board
// through Deep Linking, Moodle's course gets the activity with a grade item, and the
// educator makes the board anonymous to peers.
func journey1EducatorAddsCaseBoard(t *testing.T, s *stack) {
	edu := newBrowser(t, PartitionedOnly)
	board := edu.addCaseBoard(s)
	t.Logf("case board added as course module %d with grade item %+v", board.CMID, board.LineItems)
}

// Journey 2: a learner whose browser keeps no Huddle cookie in Moodle's frame opens
// the case board there, shares a case, is stopped by the patient-identifier guard
// over a pasted NHS number, edits it out and posts; a second learner, also framed
// without cookies, has the case open and sees a reply arrive without reloading.
func journey2LearnerSharesCaseAndPeersSeeRepliesLive(t *testing.T, s *stack) {
	board := newBrowser(t, PartitionedOnly).addCaseBoard(s)

	lena := newBrowser(t, NoFrameCookies)
	newCanary(t).requirePolicy(t, lena.ctx, NoFrameCookies)
	s.opensStream(lena, "the learner's board", func() {
		lena.openCourseModule(s, learnerID, board.CMID)
		text := lena.waitFrameText(s.Huddle, learnerName, caseBoardTitle, "Case board", "Posts are anonymous to peers", "Nothing here yet")
		if strings.Contains(text, blockedHeader) {
			lena.fail("Huddle asked for a new window although the platform offered storage:\n%s", text)
		}
	})
	lena.shot("learner-board-empty")
	lena.requireAccessible(s.Huddle, "case board (empty)")
	lena.requireFrameFitsPhone(s.Huddle, "learner-board-empty-phone")

	lena.clickInFrame(s.Huddle, `.actions a.button:not(.button--secondary)`)
	lena.waitFrameText(s.Huddle, "Share a case", "Presentation", "Question for peers")
	lena.requireAccessible(s.Huddle, "new-case form")
	lena.fillInFrame(s.Huddle, "#title", caseTitle)
	lena.fillInFrame(s.Huddle, "#specialty", "Acute medicine")
	lena.clickInFrame(s.Huddle, `input[name="grade"][value="F1"]`)
	lena.pasteInFrame(s.Huddle, "#section_presentation", pastedText)
	lena.fillInFrame(s.Huddle, "#section_question", caseQuestion)
	lena.shot("learner-new-case")
	lena.submitInFrame(s.Huddle, `form[action$="/threads"]`)

	// The guard keeps everything she wrote, marks the number and says what it is.
	lena.waitFrameText(s.Huddle, "Check for patient details", "Nothing has been saved",
		"This looks like an NHS number. Remove it: patients must not be identifiable.")
	marked := evalInFrame[[]string](lena, s.Huddle, `[...document.querySelectorAll("#guard mark")].map(m => m.textContent)`)
	if !slices.Equal(marked, []string{pastedNHSNumber}) {
		lena.fail("the guard marks %q, want exactly the NHS number %q", marked, pastedNHSNumber)
	}
	if kept := evalInFrame[string](lena, s.Huddle, `document.getElementById("section_presentation").value`); kept != pastedText {
		lena.fail("the form lost what the learner pasted: the presentation holds %q", kept)
	}
	lena.inFrame(s.Huddle, "scroll to the guard", chromedp.ScrollIntoView(chromedp.CSS(`#guard`)))
	lena.shot("learner-guard")
	lena.requireAccessible(s.Huddle, "new-case form with the guard's error")

	lena.fillInFrame(s.Huddle, "#section_presentation", editedText)
	s.opensStream(lena, "the learner's new case", func() {
		lena.submitInFrame(s.Huddle, `form[action$="/threads"]`)
		text := lena.waitFrameText(s.Huddle, "Posted.", caseTitle, editedText, caseQuestion, "No replies yet")
		if strings.Contains(text, pastedNHSNumber) {
			lena.fail("the posted case shows the NHS number:\n%s", text)
		}
	})
	lena.shot("learner-case-posted")
	lena.requireAccessible(s.Huddle, "thread page (case)")
	lena.requireFrameFitsPhone(s.Huddle, "learner-thread-phone")

	// A colleague, also without cookies in the frame, opens the board and the case.
	liam := newBrowser(t, NoFrameCookies)
	newCanary(t).requirePolicy(t, liam.ctx, NoFrameCookies)
	s.opensStream(liam, "the peer's board", func() {
		liam.openCourseModule(s, peerID, board.CMID)
		text := liam.waitFrameText(s.Huddle, peerName, boardOnlyText, caseTitle)
		if strings.Contains(text, learnerName) {
			liam.fail("the board is anonymous to peers, yet a peer sees the author's name:\n%s", text)
		}
	})
	liam.shot("peer-board-with-case")
	liam.readmeShot(s.Huddle, "case-board", ".actions")
	liam.requireAccessible(s.Huddle, "case board (with a case)")
	liam.requireFrameFitsPhone(s.Huddle, "peer-board-phone")
	s.opensStream(liam, "the peer's thread", func() {
		liam.clickInFrame(s.Huddle, `a.thread-item__title`)
		liam.waitFrameText(s.Huddle, caseTitle, caseQuestion, "No replies yet")
	})
	// A reload would lose this mark: it proves the reply came without one.
	evalInFrame[bool](liam, s.Huddle, `window.e2eSameDocument = true`)
	liam.shot("peer-thread-before-reply")

	lena.fillInFrame(s.Huddle, "#body", replyText)
	lena.submitInFrame(s.Huddle, `form[action$="/posts"]`)

	text := liam.waitFrameText(s.Huddle, replyText, "A new reply was added to the thread.")
	if strings.Contains(text, learnerName) {
		liam.fail("the live reply shows its author's name to a peer:\n%s", text)
	}
	if !evalInFrame[bool](liam, s.Huddle, `window.e2eSameDocument === true`) {
		liam.fail("the peer's page reloaded instead of adding the reply live")
	}
	liam.inFrame(s.Huddle, "scroll to the new reply", chromedp.ScrollIntoView(chromedp.CSS(`#posts article`)))
	liam.shot("peer-thread-reply-arrived-live")

	lena.waitFrameText(s.Huddle, "Posted.", caseTitle, replyText)
	lena.shot("learner-reply-posted")
}

// addCaseBoard is journey 1 as far as the development platform goes, run by the
// educator: "Add an activity" (Deep Linking) offers Huddle's kinds; the case board
// comes back to the course as an activity with a grade item (a line item out of
// 100); the educator opens it and sets it to "Anonymous to peers". It returns the
// activity as the platform's course holds it.
func (b *browser) addCaseBoard(s *stack) devplatform.Activity {
	b.t.Helper()
	board := b.addByDeepLinking(s, discussion.KindCaseBoard, "Case board", caseBoardTitle)
	b.shot("educator-course-with-case-board")

	s.opensStream(b, "the educator's board", func() {
		b.do("open the case board from the course", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/view?cmid=%d"]`, board.CMID)), chromedp.NodeVisible))
		b.waitFrameText(s.Huddle, educatorName, caseBoardTitle, "Case board", "Posts show their author's name.", "Board settings")
	})
	b.shot("educator-case-board")
	b.clickInFrame(s.Huddle, `nav.tools a[href*="/board-settings"]`)
	b.waitFrameText(s.Huddle, "Board settings", "How are authors shown?", "Anonymous to peers")
	b.clickInFrame(s.Huddle, "#identity-peers")
	b.submitInFrame(s.Huddle, `form[action$="/board-settings"]`)
	b.waitFrameText(s.Huddle, "Saved.", "Board settings")
	if !evalInFrame[bool](b, s.Huddle, `document.getElementById("identity-peers").checked`) {
		b.fail("the saved settings do not show the board as anonymous to peers")
	}
	b.shot("educator-board-settings-saved")
	s.opensStream(b, "the educator's board", func() {
		b.clickInFrame(s.Huddle, `main > p:first-child > a`) // Back to the board
		b.waitFrameText(s.Huddle, boardOnlyText, "Posts are anonymous to peers")
	})
	b.shot("educator-board-anonymous-to-peers")
	return board
}

// addByDeepLinking is how an educator adds any Huddle activity to the platform's
// course: "Add an activity" (Deep Linking) offers Huddle's kinds; the educator picks
// the one titled kindTitle (of kind) and names it title; it comes back to the course
// as an activity with a grade item (a line item out of 100), which the course page
// lists. It returns the activity as the platform's course holds it.
func (b *browser) addByDeepLinking(s *stack, kind, kindTitle, title string) devplatform.Activity {
	b.t.Helper()
	b.openDeepLinkPicker(s, kindTitle)
	b.shot("educator-deep-linking-picker")
	b.clickInFrame(s.Huddle, `input[value="`+kind+`"]`)
	// Each kind has its own title field (issue 17 item 12).
	b.fillInFrame(s.Huddle, `input[name="title_`+kind+`"]`, title)
	if discussion.IsBoard(kind) {
		// The picker now defaults boards to anonymous to peers; these journeys start
		// from a named board and change it in Huddle's own settings.
		b.clickInFrame(s.Huddle, `input[name="identity_`+kind+`"][value="named"]`)
	}
	b.submitInFrame(s.Huddle, `form[action^="/deep-link/"]`)

	// Huddle posts its answer to the platform in the frame; the platform adds the
	// activity, probes its URL as Moodle's server does, then takes the whole window
	// back to the course page, which lists the activity with its grade item.
	b.waitPlatformText("Activities added", title, "out of 100", "HTTP 200")
	b.shot("educator-activity-added")
	var added devplatform.Activity
	for _, a := range s.dev.Activities() {
		if a.Title == title {
			added = a
		}
	}
	if added.CMID == 0 {
		b.fail("the platform's course has no activity %q: %+v", title, s.dev.Activities())
	}
	require.Equal(b.t, kind, added.Custom[course.CustomKind], "the kind travels in a custom parameter")
	require.Len(b.t, added.LineItems, 1, "the %s has a grade item", kindTitle)
	require.Equal(b.t, 100.0, added.LineItems[0].ScoreMaximum)
	require.Equal(b.t, title, added.LineItems[0].Label)
	b.waitPlatformText(devplatform.CourseTitle, fmt.Sprintf("cm %d, resource link %s, grade out of 100", added.CMID, added.ResourceLinkID()))
	return added
}

// openDeepLinkPicker is the educator choosing "Add an activity (Deep Linking)" on the
// platform's launch page, as Moodle's "Select content" does; it waits until Huddle's
// picker in the frame offers the kind titled kindTitle.
func (b *browser) openDeepLinkPicker(s *stack, kindTitle string) {
	b.t.Helper()
	picker := `form[action="/open"]:not([target]):has(input[name="user"][value="` + educatorID + `"]):has(input[name="deeplink"]) button`
	b.do("open the platform's launch page", chromedp.Navigate(s.Platform+"/"))
	b.do("add an activity (Deep Linking)", chromedp.Click(chromedp.CSS(picker), chromedp.NodeVisible))
	b.waitFrameText(s.Huddle, "Add Huddle to your course", kindTitle)
}

// opensStream runs step, which opens a board or thread page in b, and waits until
// Huddle has subscribed that page's live stream, so that what is posted next reaches
// it. In a test that waits for streams, every page that opens one must be opened
// through opensStream, or the count it waits for could be another page's. In a frame
// without cookies the stream is authorised only by the hs parameter the page script
// adds, so an open stream there is also the URL session at work.
func (s *stack) opensStream(b *browser, page string, step func()) {
	b.t.Helper()
	before, _ := s.streams.count()
	step()
	timeout := time.After(stepTimeout)
	for {
		n, more := s.streams.count()
		if n > before {
			return
		}
		select {
		case <-more:
		case <-timeout:
			b.fail("%s opened no live stream within %s (Server-Sent Events at /activities/:activity/events)", page, stepTimeout)
		}
	}
}
