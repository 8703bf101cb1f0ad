package e2e

import (
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/huddle-lti/huddle/discussion"
)

// The checks a scripted audit adds to axe-core, on each main page type as people reach
// it in the platform's frame. axe-core finds what markup alone shows; these drive the
// page with the keyboard and measure it as laid out:
//
//   - keyboard: from the top of the page, Tab reaches every focusable element once, in
//     DOM order (one radio button per group, as browsers do), the skip link first,
//     and each shows a focus indicator (its computed outline or box-shadow changes);
//   - labels: every input, select and textarea has a label (label[for] or a wrapping
//     label), aria-label or aria-labelledby naming an element that exists;
//   - headings: the first is h1, and none skips a level on the way down;
//   - error summaries: the summary has focus when the page loads (huddle.js focuses
//     [data-focus]), so that a keyboard or screen reader user meets the problem
//     first, and every link points at an element id on the page;
//   - touch targets (the NHS service manual's 44 px): every visible a, button,
//     checkbox, radio button, select and summary is at least 44 x 44 CSS pixels, or,
//     for a text link inside a paragraph, sits in a line box at least 44 px tall.
//
// A page's findings are listed with a selector and a size, and the test goes on to the
// next page, so that one run lists every offender.
func a11yMainPageTypes(t *testing.T, s *stack) {

	// The educator adds a case board (journey 1, which also saves its settings) and
	// a reflection log.
	edu := newBrowser(t, PartitionedOnly)
	board := edu.addCaseBoard(s)
	reflections := edu.addReflectionLog(s)

	// A learner shares a case: the new-case form, the guard's errors, the thread, the
	// board with the case.
	lena := newBrowser(t, PartitionedOnly)
	s.opensStream(lena, "the learner's board", func() {
		lena.openCourseModule(s, learnerID, board.CMID)
		lena.waitFrameText(s.Huddle, learnerName, caseBoardTitle, "Nothing here yet")
	})
	lena.clickInFrame(s.Huddle, `.actions a.button:not(.button--secondary)`)
	lena.waitFrameText(s.Huddle, "Share a case", "Presentation")
	lena.requireA11y(s.Huddle, "new-case form")
	lena.fillInFrame(s.Huddle, "#title", caseTitle)
	lena.fillInFrame(s.Huddle, "#specialty", "Acute medicine")
	lena.clickInFrame(s.Huddle, `input[name="grade"][value="F1"]`)
	lena.pasteInFrame(s.Huddle, "#section_presentation", pastedText)
	lena.fillInFrame(s.Huddle, "#section_question", caseQuestion)
	lena.submitInFrame(s.Huddle, `form[action$="/threads"]`)
	lena.waitFrameText(s.Huddle, "There is a problem", "Check for patient details")
	lena.requireA11y(s.Huddle, "new-case form with the guard's errors")
	lena.fillInFrame(s.Huddle, "#section_presentation", editedText)
	s.opensStream(lena, "the learner's new case", func() {
		lena.submitInFrame(s.Huddle, `form[action$="/threads"]`)
		lena.waitFrameText(s.Huddle, "Posted.", caseTitle, "No replies yet")
	})
	lena.fillInFrame(s.Huddle, "#body", replyText)
	lena.submitInFrame(s.Huddle, `form[action$="/posts"]`)
	lena.waitFrameText(s.Huddle, "Posted.", replyText)
	lena.requireA11y(s.Huddle, "thread page (learner)")
	s.opensStream(lena, "the learner's board", func() {
		lena.clickInFrame(s.Huddle, `main p:first-child > a`) // Back to the board
		lena.waitFrameText(s.Huddle, boardOnlyText, caseTitle)
	})
	lena.requireA11y(s.Huddle, "case board with a case (learner)")

	// The learner writes and submits a reflection.
	lena.openCourseModule(s, learnerID, reflections.CMID)
	lena.waitFrameText(s.Huddle, reflectionLogTitle, "Write a reflection")
	lena.requireA11y(s.Huddle, "reflection log (learner)")
	lena.clickInFrame(s.Huddle, `.actions a.button`)
	lena.waitFrameText(s.Huddle, "Write a reflection", "What happened?")
	lena.requireA11y(s.Huddle, "reflection form")
	lena.fillInFrame(s.Huddle, "#title", reflectionTitle)
	lena.fillInFrame(s.Huddle, "#answer_what_happened", reflectionHappened)
	lena.submitInFrame(s.Huddle, `form[data-autosave]`)
	lena.waitFrameText(s.Huddle, "There is a problem", "What did you learn?")
	lena.requireA11y(s.Huddle, "reflection form with errors")
	lena.fillInFrame(s.Huddle, "#answer_learned", reflectionLearned)
	lena.fillInFrame(s.Huddle, "#answer_next", reflectionNext)
	lena.submitInFrame(s.Huddle, `form[data-autosave]`)
	lena.waitFrameText(s.Huddle, "Submitted as version 1.", reflectionTitle)
	lena.requireA11y(s.Huddle, "reflection page (author)")
	lena.clickInFrame(s.Huddle, `main > p:first-child > a[href^="/reflections"]`) // All my reflections
	lena.waitFrameText(s.Huddle, "My reflections", reflectionTitle, "Shared with me")
	lena.requireA11y(s.Huddle, "my reflections")
	lena.clickInFrame(s.Huddle, `header a[href^="/notifications"]`)
	lena.waitFrameText(s.Huddle, "Notifications", "How do you want to hear from Huddle?")
	lena.requireA11y(s.Huddle, "notifications")

	// The educator's pages: the board with its tools, the thread with moderation,
	// board settings, the moderation queue and audit log, grade sync.
	s.opensStream(edu, "the educator's board", func() {
		edu.openFromCourse(s, board.CMID)
		edu.waitFrameText(s.Huddle, boardOnlyText, caseTitle, "Board settings")
	})
	edu.requireA11y(s.Huddle, "case board with a case (educator)")
	s.opensStream(edu, "the educator's thread", func() {
		edu.clickInFrame(s.Huddle, `a.thread-item__title`)
		edu.waitFrameText(s.Huddle, caseTitle, replyText, "Pin thread")
	})
	edu.submitInFrame(s.Huddle, `form:has(input[name="flag"][value="pin"])`)
	edu.waitFrameText(s.Huddle, caseTitle, "Unpin thread")
	edu.requireA11y(s.Huddle, "thread page (moderator)")
	edu.clickInFrame(s.Huddle, `main p:first-child > a`) // Back to the board
	edu.waitFrameText(s.Huddle, boardOnlyText, "Board settings")
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/board-settings"]`)
	edu.waitFrameText(s.Huddle, "Board settings", "How are authors shown?")
	edu.requireA11y(s.Huddle, "board settings")
	edu.fillInFrame(s.Huddle, "#edit_minutes", "5000")
	edu.submitInFrame(s.Huddle, `form[action$="/board-settings"]`)
	edu.waitFrameText(s.Huddle, "There is a problem", "The edit window must be between 0 and 1440 minutes.")
	edu.requireA11y(s.Huddle, "board settings with an error")
	edu.clickInFrame(s.Huddle, `main p:first-child > a`)
	edu.waitFrameText(s.Huddle, boardOnlyText, "Moderation queue")
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/moderation"]`)
	edu.waitFrameText(s.Huddle, "Moderation", "Audit log")
	edu.requireA11y(s.Huddle, "moderation")
	edu.clickInFrame(s.Huddle, `main p:first-child > a`)
	edu.waitFrameText(s.Huddle, boardOnlyText, "Grade sync")
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/grades"]`)
	edu.waitFrameText(s.Huddle, "Grade sync", "How grades reach Moodle")
	edu.requireA11y(s.Huddle, "grade sync")

	// The reflection log's supervisors page.
	edu.openFromCourse(s, reflections.CMID)
	edu.waitFrameText(s.Huddle, reflectionLogTitle, "Supervisors")
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/supervisors"]`)
	edu.waitFrameText(s.Huddle, "Supervisors", learnerName)
	edu.requireA11y(s.Huddle, "supervisors")
}

// What a11yOtherPageTypes writes, and the platform's site administrator.
const (
	reEditedText = "Man in his 50s with two hours of central chest pain, seen in the emergency department overnight."
	reportReason = "It reads as if the patient could be recognised from the timing."
	revealReason = "A colleague raised a concern about this case; the educator needs to talk to its author."
	adminID      = "2" // the development platform's "admin", a site administrator who also teaches
	adminName    = "Admin User"
)

// The page types a11yMainPageTypes does not reach, through the same checks, each
// as people reach it in the platform's frame: the Deep Linking picker and its errors,
// a post's edit form (its author, within the board's edit window), the report form
// and its error (a peer), a post's edit history and the "author revealed" page (a
// moderator), reflection log settings and their error (the educator), "my
// reflections" with a shared reflection (its author, and the educator it is shared
// with), the notifications page once saved, the admin page (the platform's site
// administrator; no Huddle page links to it, so the frame is sent to /admin) and the
// error page (an unknown thread).
func a11yOtherPageTypes(t *testing.T, s *stack) {

	// The Deep Linking picker; submitted with nothing chosen, then with a maximum
	// score that is not a number. Its request stays usable after an error, and the
	// educator then adds the case board and the reflection log afresh.
	edu := newBrowser(t, PartitionedOnly)
	edu.openDeepLinkPicker(s, "Case board")
	edu.requireA11y(s.Huddle, "Deep Linking picker")
	edu.submitInFrame(s.Huddle, `form[action^="/deep-link/"]`)
	edu.waitFrameText(s.Huddle, "There is a problem", "Choose one kind of activity to add.")
	edu.requireA11y(s.Huddle, "Deep Linking picker with an error")
	edu.clickInFrame(s.Huddle, `input[name="kind"][value="`+discussion.KindCaseBoard+`"]`)
	edu.fillInFrame(s.Huddle, "#max_score", "lots")
	edu.submitInFrame(s.Huddle, `form[action^="/deep-link/"]`)
	edu.waitFrameText(s.Huddle, "There is a problem", "Maximum score must be a number between 1 and 1000.")
	if href := evalInFrame[string](edu, s.Huddle, `document.querySelector(".error-summary a").getAttribute("href")`); href != "#max_score" {
		edu.failLater("Deep Linking picker with a maximum score error: 1 accessibility finding:\n  error summary: "+
			"\"Maximum score must be a number between 1 and 1000.\" links to %s, not to the field in error (#max_score)", href)
	}
	board := edu.addCaseBoard(s)
	reflections := edu.addReflectionLog(s)

	// The learner shares a case and edits it within the board's edit window (30
	// minutes by default).
	lena := newBrowser(t, PartitionedOnly)
	lena.openCourseModule(s, learnerID, board.CMID)
	lena.waitFrameText(s.Huddle, learnerName, caseBoardTitle, "Nothing here yet")
	lena.clickInFrame(s.Huddle, `.actions a.button:not(.button--secondary)`)
	lena.waitFrameText(s.Huddle, "Share a case", "Presentation")
	lena.fillInFrame(s.Huddle, "#title", caseTitle)
	lena.fillInFrame(s.Huddle, "#specialty", "Acute medicine")
	lena.fillInFrame(s.Huddle, "#section_presentation", editedText)
	lena.fillInFrame(s.Huddle, "#section_question", caseQuestion)
	lena.submitInFrame(s.Huddle, `form[action$="/threads"]`)
	lena.waitFrameText(s.Huddle, "Posted.", caseTitle, "No replies yet")
	threadPath := evalInFrame[string](lena, s.Huddle, `location.pathname`)
	lena.clickInFrame(s.Huddle, `article.post--opening a.post__link[href$="/edit"]`)
	lena.waitFrameText(s.Huddle, "Edit your post", "Presentation", "Save changes")
	lena.requireA11y(s.Huddle, "edit-post form")
	lena.fillInFrame(s.Huddle, "#section_presentation", reEditedText)
	lena.submitInFrame(s.Huddle, `form[action$="/edit"]`)
	lena.waitFrameText(s.Huddle, caseTitle, reEditedText, " · edited")

	// A peer reports the case: the form, then its error when no reason is given.
	liam := newBrowser(t, PartitionedOnly)
	liam.openCourseModule(s, peerID, board.CMID)
	liam.waitFrameText(s.Huddle, peerName, boardOnlyText, caseTitle)
	liam.clickInFrame(s.Huddle, `a.thread-item__title`)
	liam.waitFrameText(s.Huddle, caseTitle, reEditedText, "Report")
	liam.clickInFrame(s.Huddle, `article.post--opening a.post__link[href$="/report"]`)
	liam.waitFrameText(s.Huddle, "Report a post", "What is wrong with it?")
	liam.requireA11y(s.Huddle, "report-a-post form")
	liam.submitInFrame(s.Huddle, `form[action$="/report"]`)
	liam.waitFrameText(s.Huddle, "There is a problem", "Say what is wrong with the post")
	liam.requireA11y(s.Huddle, "report-a-post form with an error")
	liam.fillInFrame(s.Huddle, "#reason", reportReason)
	liam.submitInFrame(s.Huddle, `form[action$="/report"]`)
	liam.waitFrameText(s.Huddle, "The board's moderators will look at the post.", caseTitle)

	// The error page: a thread that does not exist, on the same board.
	liam.openInFrame(s.Huddle, path.Dir(threadPath)+"/999999999")
	liam.waitFrameText(s.Huddle, "Not found", "That thread or post does not exist")
	liam.requireA11y(s.Huddle, "error page (unknown thread)")

	// The moderator reads the post's edit history, then reveals its author, who is
	// anonymous to peers, giving a reason.
	edu.openFromCourse(s, board.CMID)
	edu.waitFrameText(s.Huddle, boardOnlyText, caseTitle, "Board settings")
	edu.clickInFrame(s.Huddle, `a.thread-item__title`)
	edu.waitFrameText(s.Huddle, caseTitle, reEditedText, "Moderate")
	edu.clickInFrame(s.Huddle, `article.post--opening details.post__moderate > summary`)
	edu.clickInFrame(s.Huddle, `article.post--opening details.post__moderate a[href$="/history"]`)
	edu.waitFrameText(s.Huddle, "Edit history", "Earlier versions of the post", "Back to the post")
	edu.requireA11y(s.Huddle, "edit history (moderator)")
	edu.clickInFrame(s.Huddle, `p.back > a.back-link`)
	edu.waitFrameText(s.Huddle, caseTitle, reEditedText, "Moderate")
	edu.clickInFrame(s.Huddle, `article.post--opening details.post__moderate > summary`)
	edu.clickInFrame(s.Huddle, `article.post--opening details.post__moderate a[href*="/reveal"]`)
	edu.waitFrameText(s.Huddle, "Reveal the author", "This is recorded.")
	edu.requireA11y(s.Huddle, "reveal the author (moderator)")
	edu.fillInFrame(s.Huddle, "#reason", revealReason)
	edu.submitInFrame(s.Huddle, `form[action$="/reveal"]`)
	edu.waitFrameText(s.Huddle, "Author revealed", "This post was written by "+learnerName)
	edu.requireA11y(s.Huddle, "author revealed (moderator)")

	// Reflection log settings, and their error: a custom template with no prompts.
	edu.openFromCourse(s, reflections.CMID)
	edu.waitFrameText(s.Huddle, reflectionLogTitle, "Settings and template")
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/reflection-settings"]`)
	edu.waitFrameText(s.Huddle, "Reflection log settings", "Your own prompts")
	edu.requireA11y(s.Huddle, "reflection log settings")
	edu.clickInFrame(s.Huddle, "#template-custom")
	edu.submitInFrame(s.Huddle, `form[action$="/reflection-settings"]`)
	edu.waitFrameText(s.Huddle, "There is a problem", "A custom template needs at least one prompt.")
	edu.requireA11y(s.Huddle, "reflection log settings with an error")

	// The learner submits a reflection and shares it with the course's educators (the
	// first choice); her reflections list it as shared, and the educator's list it
	// under "Shared with me".
	lena.openCourseModule(s, learnerID, reflections.CMID)
	lena.waitFrameText(s.Huddle, reflectionLogTitle, "Write a reflection")
	lena.clickInFrame(s.Huddle, `.actions a.button`)
	lena.waitFrameText(s.Huddle, "Write a reflection", "What happened?")
	lena.fillInFrame(s.Huddle, "#title", reflectionTitle)
	lena.fillInFrame(s.Huddle, "#answer_what_happened", reflectionHappened)
	lena.fillInFrame(s.Huddle, "#answer_learned", reflectionLearned)
	lena.fillInFrame(s.Huddle, "#answer_next", reflectionNext)
	lena.submitInFrame(s.Huddle, `form[data-autosave]`)
	lena.waitFrameText(s.Huddle, "Submitted as version 1.", reflectionTitle, "Not shared with anyone.")
	lena.submitInFrame(s.Huddle, `form[action$="/share"]`)
	lena.waitFrameText(s.Huddle, "Shared.", "The course's educators, since")
	lena.clickInFrame(s.Huddle, `main > p:first-child > a[href^="/reflections"]`) // All my reflections
	lena.waitFrameText(s.Huddle, "My reflections", reflectionTitle, "Shared", "Nothing has been shared with you.")
	lena.requireA11y(s.Huddle, "my reflections (with a shared reflection)")
	edu.clickInFrame(s.Huddle, `p.back > a.back-link`) // Back to the reflection log
	edu.waitFrameText(s.Huddle, reflectionLogTitle, "Shared with me")
	edu.clickInFrame(s.Huddle, `nav.tools a[href^="/reflections"]`)
	edu.waitFrameText(s.Huddle, "Shared with me", reflectionTitle, "Waiting for sign-off", learnerName)
	edu.requireA11y(s.Huddle, "my reflections (shared with me)")

	// The learner chooses a daily digest.
	lena.clickInFrame(s.Huddle, `header a[href^="/notifications"]`)
	lena.waitFrameText(s.Huddle, "Notifications", "How do you want to hear from Huddle?")
	lena.clickInFrame(s.Huddle, `input[name="mode"][value="digest"]`)
	lena.submitInFrame(s.Huddle, `form[action^="/notifications"]`)
	lena.waitFrameText(s.Huddle, "Your choice is saved.")
	if !evalInFrame[bool](lena, s.Huddle, `document.querySelector('input[name="mode"][value="digest"]').checked`) {
		lena.fail("the saved notifications page does not show \"Once a day\" chosen")
	}
	lena.requireA11y(s.Huddle, "notifications (saved)")

	// The admin page, for the platform's site administrator, who opens the board from
	// the course first.
	admin := newBrowser(t, PartitionedOnly)
	admin.openCourseModule(s, adminID, board.CMID)
	admin.waitFrameText(s.Huddle, adminName, caseBoardTitle)
	admin.openInFrame(s.Huddle, "/admin")
	admin.waitFrameText(s.Huddle, "Huddle administration", "This Moodle site", "Moodle web services")
	admin.requireA11y(s.Huddle, "admin page")
}

// a11yReport is what the page script measures, in the frame.
type a11yReport struct {
	Labels   []string `json:"labels"`
	Headings []string `json:"headings"`
	Summary  []string `json:"summary"`
	Targets  []string `json:"targets"`
}

// tabStop is the element with focus after one press of Tab.
type tabStop struct {
	Index   int    `json:"index"` // its place in the expected order; -1 if not on the list
	Desc    string `json:"desc"`
	InFrame bool   `json:"inFrame"`
	Changed bool   `json:"changed"` // its outline or box-shadow differs from unfocused
	Focused string `json:"focused"`
	Before  string `json:"before"`
	// Segmented is a date or time field: Chromium moves Tab through its parts (day,
	// month, year) before leaving it, so those presses stay on one element.
	Segmented bool `json:"segmented"`
}

// requireA11y runs axe-core and the scripted checks on Huddle's page in the frame on
// origin. It marks the test failed with every finding and lets it go on.
func (b *browser) requireA11y(origin, page string) {
	b.t.Helper()
	var problems []string
	// Before anything else moves focus: where the page put it when it loaded.
	if msg := evalInFrame[string](b, origin, a11yScript+`; a11yErrorSummaryFocus()`); msg != "" {
		problems = append(problems, "error summary: "+msg)
	}
	for _, v := range b.axeViolations(origin, page) {
		problems = append(problems, "axe-core: "+v)
	}
	problems = append(problems, b.keyboardProblems(origin)...)
	r := evalInFrame[a11yReport](b, origin, a11yScript+`; a11yAudit()`)
	for _, l := range r.Labels {
		problems = append(problems, "no label: "+l)
	}
	for _, h := range r.Headings {
		problems = append(problems, "headings: "+h)
	}
	for _, l := range r.Summary {
		problems = append(problems, "error summary: "+l)
	}
	for _, tt := range r.Targets {
		problems = append(problems, "touch target under 44 px: "+tt)
	}
	if len(problems) > 0 {
		b.failLater("%s: %d accessibility findings:\n  %s", page, len(problems), strings.Join(problems, "\n  "))
	} else {
		b.t.Logf("%s: no accessibility findings", page)
	}
}

// keyboardProblems tabs through the page from its start and compares where focus goes
// with the focusable elements in DOM order.
func (b *browser) keyboardProblems(origin string) []string {
	b.t.Helper()
	expected := evalInFrame[[]string](b, origin, a11yScript+`; a11yTabOrder()`)
	var problems []string
	var stops []tabStop
	// One stop more than there are elements: the last must leave the page. A press
	// that stays on the date or time field it was on moves between its parts, not to
	// a new stop; the bound keeps a field that never lets go from looping for ever.
	for presses := 0; len(stops) <= len(expected) && presses < 4*(len(expected)+1); presses++ {
		b.inFrame(origin, "press Tab", chromedp.KeyEvent(kb.Tab))
		st := evalInFrame[tabStop](b, origin, a11yScript+`; a11yFocused()`)
		if n := len(stops); n > 0 && st.Segmented && st.InFrame && st.Index >= 0 && st.Index == stops[n-1].Index {
			continue
		}
		stops = append(stops, st)
	}
	for len(stops) <= len(expected) {
		stops = append(stops, tabStop{Index: -1, Desc: "nothing: focus never left a date or time field"})
	}
	evalInFrame[bool](b, origin, a11yScript+`; a11yCleanUp()`)
	if len(expected) == 0 {
		return []string{"keyboard: the page has nothing to Tab to"}
	}
	if !strings.Contains(expected[0], "skip-link") {
		problems = append(problems, "keyboard: the first focusable element is "+expected[0]+", not the skip link")
	}
	for i, want := range expected {
		got := stops[i]
		switch {
		case !got.InFrame:
			problems = append(problems, fmt.Sprintf("keyboard: Tab press %d left the page; %s (and what follows) never got focus", i+1, want))
			return problems
		case got.Index != i:
			problems = append(problems, fmt.Sprintf("keyboard: Tab press %d focused %s, want %s (DOM order)", i+1, got.Desc, want))
			return problems
		case !got.Changed:
			problems = append(problems, fmt.Sprintf("keyboard: %s shows no focus indicator (outline and box-shadow unchanged: %s)", want, got.Focused))
		}
	}
	if last := stops[len(expected)]; last.InFrame && last.Index >= 0 {
		problems = append(problems, fmt.Sprintf("keyboard: after the last element Tab focused %s again", last.Desc))
	}
	if len(problems) == 0 {
		b.t.Logf("keyboard: Tab reached all %d focusable elements in DOM order, each with a focus indicator", len(expected))
	}
	return problems
}

// a11yScript defines the functions the checks evaluate in the frame. Evaluated
// through DevTools, it is not bound by Huddle's Content-Security-Policy.
const a11yScript = `
function a11yDescribe(el) {
  const path = [];
  for (let e = el; e && e.nodeType === 1 && e !== document.body; e = e.parentElement) {
    let part = e.tagName.toLowerCase();
    if (e.id) { path.unshift(part + "#" + e.id); break; }
    const cls = [...e.classList].filter(c => !c.startsWith("e2e")).slice(0, 2);
    if (cls.length) { part += "." + cls.join("."); }
    const same = e.parentElement ? [...e.parentElement.children].filter(c => c.tagName === e.tagName) : [];
    if (same.length > 1) { part += ":nth-of-type(" + (same.indexOf(e) + 1) + ")"; }
    path.unshift(part);
    if (path.length >= 4) { break; }
  }
  let text = (el.getAttribute("aria-label") || el.textContent || el.value || el.name || "").replace(/\s+/g, " ").trim();
  if (text.length > 40) { text = text.slice(0, 37) + "..."; }
  const type = el.type && el.tagName === "INPUT" ? "[type=" + el.type + "]" : "";
  return path.join(" > ") + type + (text ? " \"" + text + "\"" : "");
}
function a11yShown(el) {
  if (!el.getClientRects().length) { return false; }
  // Chromium lays out a closed details element's content (content-visibility: hidden)
  // without showing it: only its summary is shown.
  const closed = el.closest("details:not([open])");
  if (closed && !(el.tagName === "SUMMARY" && el.parentElement === closed)) { return false; }
  if (el.checkVisibility && !el.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true})) { return false; }
  const cs = getComputedStyle(el);
  if (cs.visibility === "hidden") { return false; }
  const r = el.getBoundingClientRect();
  return !(r.width <= 1 && r.height <= 1);
}
function a11yFocusStyle(el) {
  const cs = getComputedStyle(el);
  return "outline: " + cs.outlineStyle + " " + cs.outlineWidth + " " + cs.outlineColor + "; box-shadow: " + cs.boxShadow;
}
function a11yTabOrder() {
  const sel = "a[href], button, input, select, textarea, summary, [tabindex]";
  const seen = new Set();
  const list = [];
  for (const el of document.querySelectorAll(sel)) {
    if (el.disabled || el.tabIndex < 0 || (el.tagName === "INPUT" && el.type === "hidden")) { continue; }
    if (el.tagName === "SUMMARY" && el.parentElement.tagName !== "DETAILS") { continue; }
    // Skip links are off screen until focused: they count although not shown.
    if (!el.classList.contains("skip-link") && !a11yShown(el)) { continue; }
    if (el.tagName === "INPUT" && el.type === "radio" && el.name) {
      const group = [...(el.form || document).querySelectorAll('input[type="radio"]')].filter(r => r.name === el.name && a11yShown(r));
      const stop = group.find(r => r.checked) || group[0];
      if (seen.has(el.name + "@" + (el.form ? [...document.forms].indexOf(el.form) : -1))) { continue; }
      seen.add(el.name + "@" + (el.form ? [...document.forms].indexOf(el.form) : -1));
      if (stop !== el) { stop.setAttribute("data-e2e-tab", list.length); list.push(stop); continue; }
    }
    el.setAttribute("data-e2e-tab", list.length);
    list.push(el);
  }
  window.e2eBefore = list.map(a11yFocusStyle);
  // Start from the top of the page: focus a temporary element before everything.
  const start = document.createElement("span");
  start.tabIndex = -1;
  start.id = "e2e-start";
  document.body.prepend(start);
  start.focus();
  return list.map(a11yDescribe);
}
function a11yFocused() {
  const el = document.activeElement;
  if (!document.hasFocus() || !el || el === document.body) { return {index: -1, desc: "nothing", inFrame: false}; }
  const i = el.hasAttribute("data-e2e-tab") ? Number(el.getAttribute("data-e2e-tab")) : -1;
  const focused = a11yFocusStyle(el);
  const before = i >= 0 ? window.e2eBefore[i] : "";
  const segmented = el.tagName === "INPUT" && ["date", "time", "datetime-local", "month", "week"].includes(el.type);
  return {index: i, desc: a11yDescribe(el), inFrame: true, changed: focused !== before, focused: focused, before: before, segmented: segmented};
}
function a11yCleanUp() {
  const start = document.getElementById("e2e-start");
  if (start) { start.remove(); }
  document.querySelectorAll("[data-e2e-tab]").forEach(el => el.removeAttribute("data-e2e-tab"));
  if (document.activeElement) { document.activeElement.blur(); }
  return true;
}
function a11yErrorSummaryFocus() {
  const s = document.querySelector(".error-summary");
  if (!s) { return ""; }
  const el = document.activeElement;
  if (el && s.contains(el)) { return ""; }
  return a11yDescribe(s) + " does not have focus when the page loads (focus is on " +
    (el && el !== document.body ? a11yDescribe(el) : "the body") + ")";
}
function a11yAudit() {
  const out = {labels: [], headings: [], summary: [], targets: []};
  const px = n => Math.round(n * 10) / 10;
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.tagName === "INPUT" && ["hidden", "submit", "button", "reset", "image"].includes(el.type)) { continue; }
    const byLabel = el.labels && el.labels.length > 0 && [...el.labels].some(l => l.textContent.trim() !== "");
    const byAria = (el.getAttribute("aria-label") || "").trim() !== "";
    const ids = (el.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean);
    const byRef = ids.length > 0 && ids.every(id => document.getElementById(id));
    if (!byLabel && !byAria && !byRef) { out.labels.push(a11yDescribe(el)); }
  }
  const hs = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")];
  const levels = hs.map(h => Number(h.tagName[1]));
  const outline = hs.map(h => h.tagName.toLowerCase() + " \"" + h.textContent.replace(/\s+/g, " ").trim().slice(0, 40) + "\"").join(", ");
  if (levels.length === 0) {
    out.headings.push("the page has no heading");
  } else {
    if (levels[0] !== 1) { out.headings.push("the first heading is " + outline.split(", ")[0] + ", not an h1 (" + outline + ")"); }
    for (let i = 1; i < levels.length; i++) {
      if (levels[i] > levels[i - 1] + 1) {
        out.headings.push(hs[i - 1].tagName.toLowerCase() + " is followed by " + hs[i].tagName.toLowerCase() + " \"" + hs[i].textContent.trim().slice(0, 40) + "\" (" + outline + ")");
      }
    }
    if (levels.filter(l => l === 1).length > 1) { out.headings.push("more than one h1 (" + outline + ")"); }
  }
  for (const a of document.querySelectorAll(".error-summary a")) {
    const href = a.getAttribute("href") || "";
    if (!href.startsWith("#")) { out.summary.push(a11yDescribe(a) + " links to " + href + ", not to a field on the page"); continue; }
    if (!document.getElementById(decodeURIComponent(href.slice(1)))) { out.summary.push(a11yDescribe(a) + " links to " + href + ", which is no element's id"); }
  }
  const targets = 'a[href], button, input[type="checkbox"], input[type="radio"], select, summary';
  for (const el of document.querySelectorAll(targets)) {
    if (el.classList.contains("skip-link") || !a11yShown(el)) { continue; }
    const r = el.getBoundingClientRect();
    if (r.width >= 44 && r.height >= 44) { continue; }
    const cs = getComputedStyle(el);
    const para = el.closest("p");
    if (el.tagName === "A" && cs.display === "inline" && para) {
      const pcs = getComputedStyle(para);
      const line = pcs.lineHeight === "normal" ? parseFloat(pcs.fontSize) * 1.2 : parseFloat(pcs.lineHeight);
      if (line >= 44) { continue; }
      out.targets.push(a11yDescribe(el) + ": inline link in a paragraph whose line box is " + px(line) + " px tall");
      continue;
    }
    out.targets.push(a11yDescribe(el) + ": " + px(r.width) + " x " + px(r.height) + " px");
  }
  return out;
}
`
