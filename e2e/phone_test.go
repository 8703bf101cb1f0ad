package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A case board as a trainee meets it on a phone and a tutor at a desk (issue 17, items
// 8 to 10), with third-party cookies blocked as in Moodle's frame on most browsers,
// at 360 and 1280 CSS pixels wide. Its own stack: it adds a graded board of its own.
//
//   - item 8: on the phone the header is one line, and the first case on the board is
//     on the first screen (phoneScreen pixels from the top of Huddle's page), below a
//     one-line progress, with the search and filters folded behind one toggle; the
//     case form folds its optional sections, and nothing scrolls sideways;
//   - item 9: the guard's findings are in the error summary as links to their fields,
//     in words, and each field is marked and described by its finding;
//   - item 10: hiding a post and revealing its author are separate actions, each on a
//     page of its own with its own warning.
//
// Every page on the way passes axe-core at both widths.
func TestPhone(t *testing.T) {
	s := newStack(t)
	edu := newBrowser(t, PartitionedOnly)
	newCanary(t).requirePolicy(t, edu.ctx, PartitionedOnly)
	board := edu.addCaseBoard(s)
	// A participation grade, as on the board the trainee walked: its progress line
	// and the line on when scores go to Moodle are above the cases.
	edu.clickInFrame(s.Huddle, `nav.tools a[href*="/board-settings"]`)
	edu.waitFrameText(s.Huddle, "Board settings", "Participation grade")
	edu.fillInFrame(s.Huddle, "#grade_threads", "2")
	edu.fillInFrame(s.Huddle, "#grade_replies", "3")
	// A board anonymous to peers sends scores on the educator's dates: one to come.
	edu.fillInFrame(s.Huddle, "#grade_date-new", time.Now().AddDate(0, 1, 0).Format(time.DateOnly))
	edu.submitInFrame(s.Huddle, `form[action$="/board-settings"]`)
	edu.waitFrameText(s.Huddle, "Saved.", "Participation grade")

	lena := newBrowser(t, PartitionedOnly)
	newCanary(t).requirePolicy(t, lena.ctx, PartitionedOnly)
	for i, width := range []int{phoneWidth, deskWidth} {
		title := fmt.Sprintf("%s (%d px)", caseTitle, width)
		lena.openCourseModule(s, learnerID, board.CMID)
		lena.waitFrameText(s.Huddle, learnerName, caseBoardTitle, "For full marks")
		lena.frameWidth(s.Huddle, width)

		// The case form, and the guard's findings at their fields.
		lena.clickInFrame(s.Huddle, `.actions a.button:not(.button--secondary)`)
		lena.waitFrameText(s.Huddle, "Share a case", "Presentation", "Question for peers")
		lena.requireCaseFormFolded(s.Huddle, width)
		lena.requireAccessible(s.Huddle, fmt.Sprintf("new-case form at %d px", width))
		lena.fillInFrame(s.Huddle, "#title", title)
		lena.pasteInFrame(s.Huddle, "#section_presentation", pastedText)
		lena.fillInFrame(s.Huddle, "#section_question", caseQuestion)
		lena.submitInFrame(s.Huddle, `form[action$="/threads"]`)
		lena.waitFrameText(s.Huddle, "There is a problem", "Check for patient details")
		lena.requireFindingAtField(s.Huddle, width, "section_presentation", "Presentation, “"+pastedNHSNumber+"”",
			"This looks like an NHS number.")
		lena.requireAccessible(s.Huddle, fmt.Sprintf("new-case form with the guard's findings at %d px", width))
		lena.fillInFrame(s.Huddle, "#section_presentation", editedText)
		lena.submitInFrame(s.Huddle, `form[action$="/threads"]`)
		lena.waitFrameText(s.Huddle, "Posted.", title)

		// The board, with the cases on it.
		lena.clickInFrame(s.Huddle, `p.back > a.back-link`)
		lena.waitFrameText(s.Huddle, boardOnlyText, title, fmt.Sprintf("For full marks: %d of 2 cases, 0 of 3 replies", i+1))
		lena.requireBoardFits(s.Huddle, width)
		lena.requireAccessible(s.Huddle, fmt.Sprintf("case board at %d px", width))
		// The folded search works without anything else on the page changing first.
		lena.clickInFrame(s.Huddle, `details.filters > summary`)
		lena.fillInFrame(s.Huddle, "#q", "chest")
		lena.submitInFrame(s.Huddle, `details.filters form`)
		lena.waitFrameText(s.Huddle, "Clear filters", title)
		if !evalInFrame[bool](lena, s.Huddle, `document.querySelector("details.filters").open`) {
			lena.fail("at %d px the filters in use are folded away", width)
		}
	}

	// The moderator: hide and reveal, each on a page of its own.
	for _, width := range []int{phoneWidth, deskWidth} {
		title := fmt.Sprintf("%s (%d px)", caseTitle, width)
		edu.openFromCourse(s, board.CMID)
		edu.waitFrameText(s.Huddle, boardOnlyText, title, "Board settings")
		edu.frameWidth(s.Huddle, width)
		edu.openThreadTitled(s.Huddle, title)
		edu.clickInFrame(s.Huddle, `article.post--opening details.post__moderate > summary`)
		if n := evalInFrame[int](edu, s.Huddle, `document.querySelectorAll("article.post--opening [name=reason]").length`); n != 0 {
			edu.fail("at %d px the moderation panel holds %d reason boxes, want none: each action has its own page", width, n)
		}
		edu.requireAccessible(s.Huddle, fmt.Sprintf("thread with the moderation panel open at %d px", width))

		edu.clickInFrame(s.Huddle, `article.post--opening details.post__moderate a[href*="/hide"]`)
		hide := edu.waitFrameText(s.Huddle, "Hide this post", "Reason for hiding (the author sees it)",
			"Its author still sees it, marked as hidden, with the reason you give here")
		if strings.Contains(hide, "audit log") || strings.Contains(hide, "Reveal") {
			edu.fail("at %d px the hide page speaks of revealing:\n%s", width, hide)
		}
		edu.requireFrameFitsPhoneAt(s.Huddle, width)
		edu.requireAccessible(s.Huddle, fmt.Sprintf("hide page at %d px", width))
		edu.clickInFrame(s.Huddle, `p.back > a.back-link`)
		edu.waitFrameText(s.Huddle, title, "Moderate")

		edu.clickInFrame(s.Huddle, `article.post--opening details.post__moderate > summary`)
		edu.clickInFrame(s.Huddle, `article.post--opening details.post__moderate a[href*="/reveal"]`)
		reveal := edu.waitFrameText(s.Huddle, "Reveal the author", "This is recorded.", "in the board's audit log",
			"The author is not told now", "Reason for revealing the author")
		if strings.Contains(reveal, "the author sees it") {
			edu.fail("at %d px the reveal page says the author sees its reason:\n%s", width, reveal)
		}
		edu.requireFrameFitsPhoneAt(s.Huddle, width)
		edu.requireAccessible(s.Huddle, fmt.Sprintf("reveal page at %d px", width))
		edu.fillInFrame(s.Huddle, "#reason", "A safeguarding concern was raised")
		edu.submitInFrame(s.Huddle, `form[action$="/reveal"]`)
		edu.waitFrameText(s.Huddle, "Author revealed", "This post was written by "+learnerName)
	}

	// The hide page's form hides the post, with its reason shown to the author.
	edu.clickInFrame(s.Huddle, `p.back > a.back-link`)
	edu.waitFrameText(s.Huddle, "Moderate")
	edu.clickInFrame(s.Huddle, `article.post--opening details.post__moderate > summary`)
	edu.clickInFrame(s.Huddle, `article.post--opening details.post__moderate a[href*="/hide"]`)
	edu.waitFrameText(s.Huddle, "Hide this post")
	edu.fillInFrame(s.Huddle, "#reason", "Repeated on another board")
	edu.submitInFrame(s.Huddle, `form[action$="/moderate"]`)
	edu.waitFrameText(s.Huddle, "Hidden by a moderator: Repeated on another board")
}

const (
	phoneWidth = 360
	deskWidth  = 1280
	// phoneScreen is how much of Huddle's page a phone shows at once, 360 px wide: a
	// 360 x 740 screen less the browser's bars and Moodle's own header.
	phoneScreen = 600
	// phoneCaseForm is the most the empty case form may take at 360 px, under three
	// phone screens; with every part open it took about four.
	phoneCaseForm = 1650
)

// frameWidth lays Huddle's frame out width CSS pixels wide, as requireFrameFitsPhone
// does (widened by any classic scrollbar, which phones overlay); for a desk-sized
// frame the platform's tab is first made wide enough to hold it. It lasts until the
// platform's page is left.
func (b *browser) frameWidth(origin string, width int) {
	b.t.Helper()
	if width > 1000 {
		b.do("widen the tab", chromedp.EmulateViewport(int64(width+120), 900))
	}
	resize := func(w int) {
		b.do("resize the platform's frame", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector("iframe").style.width = "%dpx"`, w)))
	}
	resize(width)
	type layout struct {
		Client int `json:"client"`
		Inner  int `json:"inner"`
	}
	deadline := time.Now().Add(stepTimeout)
	for widened := false; ; {
		l := evalInFrame[layout](b, origin, `({client: document.documentElement.clientWidth, inner: window.innerWidth})`)
		switch {
		case l.Client == width:
			return
		case l.Client < width && !widened && l.Inner == width:
			resize(width + l.Inner - l.Client)
			widened = true
			continue
		}
		if time.Now().After(deadline) {
			b.fail("the frame never laid out %d px wide: %+v", width, l)
		}
		time.Sleep(pollInterval)
	}
}

// requireFrameFitsPhoneAt checks that the page in the frame, as laid out now, does not
// scroll sideways.
func (b *browser) requireFrameFitsPhoneAt(origin string, width int) {
	b.t.Helper()
	if w := evalInFrame[int](b, origin, `document.documentElement.scrollWidth`); w > width {
		b.fail("at %d px wide Huddle's page is %d px wide: it scrolls sideways", width, w)
	}
}

// boardLayout is what requireBoardFits measures, in CSS pixels from the top of the page.
type boardLayout struct {
	Header        int  `json:"header"`        // the header's height
	Toggle        bool `json:"toggle"`        // the header's "Menu" toggle is shown
	LinksShown    bool `json:"linksShown"`    // its links are shown without opening it
	FirstItem     int  `json:"firstItem"`     // the bottom of the first line of the first case's title
	FiltersOpen   bool `json:"filtersOpen"`   // the search and filters are open
	SearchShown   bool `json:"searchShown"`   // the search field is shown
	Progress      int  `json:"progress"`      // the progress line's height
	ProgressLines int  `json:"progressLines"` // ... in lines of its text
}

const measureBoard = `(() => {
  const shown = el => !!el && el.checkVisibility({visibilityProperty: true});
  const header = document.querySelector("header");
  const first = document.querySelector(".thread-list .thread-item__title");
  // The first line of its title: the case is on the screen once that can be read and tapped.
  const line = el => { const r = document.createRange(); r.selectNodeContents(el); return Math.ceil(r.getClientRects()[0].bottom + window.scrollY); };
  const progress = document.getElementById("progress");
  const lh = progress ? parseFloat(getComputedStyle(progress).lineHeight) : 1;
  return {
    header: Math.ceil(header.getBoundingClientRect().height),
    toggle: shown(header.querySelector("summary")),
    linksShown: shown(header.querySelector('a[href^="/notifications"]')),
    firstItem: first ? line(first) : -1,
    filtersOpen: (document.querySelector("details.filters") || {open: true}).open, // no toggle: always open
    searchShown: shown(document.getElementById("q")),
    progress: progress ? Math.ceil(progress.getBoundingClientRect().height) : -1,
    progressLines: progress ? Math.round(progress.getBoundingClientRect().height / lh) : -1,
  };
})()`

// requireBoardFits checks the learner's board at width: a one-line header (its links
// behind "Menu" on a phone, in the line on a desk), the first case on the first phone
// screen, the filters folded and the progress one line; nothing scrolls sideways.
func (b *browser) requireBoardFits(origin string, width int) {
	b.t.Helper()
	b.shot(fmt.Sprintf("learner-board-%dpx", width))
	l := evalInFrame[boardLayout](b, origin, measureBoard)
	b.t.Logf("board at %d px: %+v", width, l)
	b.t.Logf("board's parts at %d px: %s", width, evalInFrame[string](b, origin, `[...document.querySelectorAll("header, [data-live-board] > *")].map(e => e.tagName + "." + e.className + ":" + Math.round(e.getBoundingClientRect().top + scrollY) + "+" + Math.round(e.getBoundingClientRect().height)).join(" ")`))
	phone := width < 600
	switch {
	case l.Header > 56:
		b.fail("at %d px the header is %d px tall: more than one line", width, l.Header)
	case phone && (!l.Toggle || l.LinksShown):
		b.fail("at %d px the header's links are not folded behind Menu: %+v", width, l)
	case !phone && (l.Toggle || !l.LinksShown):
		b.fail("at %d px the header's links are not in the line: %+v", width, l)
	case l.FirstItem < 0:
		b.fail("at %d px the board shows no case", width)
	case l.FirstItem > phoneScreen:
		b.fail("at %d px the first case ends %d px down the page, below the first %d px: it needs scrolling", width, l.FirstItem, phoneScreen)
	case l.FiltersOpen || l.SearchShown:
		b.fail("at %d px the search and filters are open before anyone asked: %+v", width, l)
	case l.ProgressLines != 1:
		b.fail("at %d px the progress takes %d lines (%d px), want one", width, l.ProgressLines, l.Progress)
	}
	if !phone && !evalInFrame[bool](b, origin, `(() => { const a = document.querySelector('header a[href^="/notifications"]'); a.focus();
	  const ok = document.activeElement === a; a.blur(); return ok; })()`) {
		b.fail("at %d px the header's links are shown but cannot take the keyboard's focus", width)
	}
	if phone {
		// The menu opens, without JavaScript, on a tap.
		b.clickInFrame(origin, `header summary`)
		if !evalInFrame[bool](b, origin, `document.querySelector('header a[href^="/notifications"]').checkVisibility()`) {
			b.fail("at %d px opening the header's Menu does not show its links", width)
		}
		b.shot(fmt.Sprintf("learner-board-menu-%dpx", width))
		b.requireAccessible(origin, fmt.Sprintf("case board with the menu open at %d px", width))
		b.clickInFrame(origin, `header summary`)
	}
	b.requireFrameFitsPhoneAt(origin, width)
}

// requireCaseFormFolded checks that the empty case form folds its optional parts and,
// on a phone, fits in under three screens.
func (b *browser) requireCaseFormFolded(origin string, width int) {
	b.t.Helper()
	b.shot(fmt.Sprintf("learner-case-form-%dpx", width))
	type form struct {
		Height int  `json:"height"`
		Folded int  `json:"folded"`
		Shown  bool `json:"shown"` // an optional section's text box is shown
	}
	f := evalInFrame[form](b, origin, `({height: document.documentElement.scrollHeight,
	  folded: document.querySelectorAll("details.optional:not([open])").length,
	  shown: document.getElementById("section_investigations").checkVisibility()})`)
	b.t.Logf("case form at %d px: %+v", width, f)
	switch {
	case f.Folded != 3 || f.Shown:
		b.fail("at %d px the case form's optional parts (two sections, setting and tags) are not folded: %+v", width, f)
	case width < 600 && f.Height > phoneCaseForm:
		b.fail("at %d px the case form is %d px long, more than %d", width, f.Height, phoneCaseForm)
	}
	b.requireFrameFitsPhoneAt(origin, width)
}

// requireFindingAtField checks a guard finding in field: the error summary links to the
// field in words (summary), with no character positions; following the link shows the
// field, which is marked in the error colour and described by a message at it that
// says what was found (says).
func (b *browser) requireFindingAtField(origin string, width int, field, summary, says string) {
	b.t.Helper()
	b.shot(fmt.Sprintf("learner-guard-%dpx", width))
	type finding struct {
		Link        string `json:"link"`
		Positions   bool   `json:"positions"`
		Description string `json:"description"`
		Invalid     string `json:"invalid"`
		Border      string `json:"border"`
		Error       string `json:"error"`
	}
	f := evalInFrame[finding](b, origin, `(() => {
	  const link = document.querySelector('.error-summary a[href="#`+field+`"]');
	  const el = document.getElementById(`+jsString(field)+`);
	  const ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
	  return {
	    link: link ? link.textContent : "",
	    positions: /Characters \d+ to \d+/.test(document.body.innerText),
	    description: ids.map(id => (document.getElementById(id) || {textContent: "(missing " + id + ")"}).textContent).join(" | "),
	    invalid: el.getAttribute("aria-invalid") || "",
	    border: getComputedStyle(el).borderTopColor,
	    error: getComputedStyle(document.querySelector(".error-summary")).borderTopColor,
	  };
	})()`)
	b.t.Logf("finding at %d px: %+v", width, f)
	switch {
	case !strings.HasPrefix(f.Link, summary) || !strings.Contains(f.Link, says):
		b.fail("at %d px the error summary's link to #%s says %q, want %q and %q", width, field, f.Link, summary, says)
	case f.Positions:
		b.fail("at %d px the page still speaks of character positions", width)
	case !strings.Contains(f.Description, says):
		b.fail("at %d px #%s is described by %q, which does not say %q", width, field, f.Description, says)
	case f.Invalid != "true" || f.Border != f.Error:
		b.fail("at %d px #%s is not marked: aria-invalid %q, border %s (errors are %s)", width, field, f.Invalid, f.Border, f.Error)
	}
	b.clickInFrame(origin, `.error-summary a[href="#`+field+`"]`)
	if !evalInFrame[bool](b, origin, `(() => { const r = document.getElementById(`+jsString(field)+`).getBoundingClientRect();
	  return r.height > 0 && r.top < window.innerHeight && r.bottom > 0; })()`) {
		b.fail("at %d px following the summary's link does not show #%s", width, field)
	}
	b.requireFrameFitsPhoneAt(origin, width)
}

// openThreadTitled opens the thread titled title from the board in the frame.
func (b *browser) openThreadTitled(origin, title string) {
	b.t.Helper()
	href := evalInFrame[string](b, origin, `(() => { const a = [...document.querySelectorAll("a.thread-item__title")].find(a => a.textContent === `+
		jsString(title)+`); return a ? a.getAttribute("href") : ""; })()`)
	if href == "" {
		b.fail("the board lists no thread titled %q", title)
	}
	b.openInFrame(origin, href)
	b.waitFrameText(origin, title, "Moderate", "Replies")
}
