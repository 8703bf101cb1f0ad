package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// A learner who uses only the keyboard, in the platform's frame: he opens the case
// board from the platform's launch page, Tabs from the platform's page into Huddle's
// frame and to a case, uses the skip link, sends an empty reply and recovers from the
// error through the error summary, replies, and marks the case helpful.
//
// Keys go to the test's tab with Input.dispatchKeyEvent, as a keyboard's do: Chromium
// routes them to whichever page or frame has focus, so focus enters Huddle's frame
// only by Tab, as it would for a person. Text is typed key by key. Nothing is clicked
// and no value is set by script; scripts only read where focus is.
func keyboardLearnerRepliesAndMarksHelpful(t *testing.T, s *stack) {
	board := newBrowser(t, PartitionedOnly).addCaseBoard(s)

	// Another learner shares the case he will answer (the mouse is fine for her).
	lena := newBrowser(t, PartitionedOnly)
	lena.openCourseModule(s, learnerID, board.CMID)
	lena.waitFrameText(s.Huddle, learnerName, caseBoardTitle, "Nothing here yet")
	lena.clickInFrame(s.Huddle, `.actions a.button:not(.button--secondary)`)
	lena.waitFrameText(s.Huddle, "Share a case", "Presentation")
	lena.fillInFrame(s.Huddle, "#title", caseTitle)
	lena.fillInFrame(s.Huddle, "#section_presentation", editedText)
	lena.fillInFrame(s.Huddle, "#section_question", caseQuestion)
	lena.submitInFrame(s.Huddle, `form[action$="/threads"]`)
	lena.waitFrameText(s.Huddle, "Posted.", caseTitle)

	// The platform's launch page: Tab to his "Open" button for the board, Enter.
	liam := newBrowser(t, PartitionedOnly)
	liam.do("open the platform's launch page", chromedp.Navigate(s.Platform+"/"))
	liam.tabTo("", fmt.Sprintf(`form[action="/open"]:not([target]):has(input[name="user"][value=%q]):has(input[name="cmid"][value="%d"]) button`,
		peerID, board.CMID), false, 80)
	liam.press(kb.Enter)
	liam.waitFrameText(s.Huddle, peerName, boardOnlyText, caseTitle)

	// From the platform's page into the frame, to the case, Enter.
	liam.tabTo(s.Huddle, `a.thread-item__title`, false, 40)
	liam.press(kb.Enter)
	liam.waitFrameText(s.Huddle, caseTitle, caseQuestion, "No replies yet", "Post reply")

	// The skip link comes first on the new page and moves focus to main; the next Tab
	// goes on from there, not from the header.
	liam.press(kb.Tab)
	liam.requireFocus(s.Huddle, `a.skip-link`, "the first Tab on the thread page")
	liam.press(kb.Enter)
	liam.requireFocus(s.Huddle, `main#main`, "Enter on the skip link")
	liam.press(kb.Tab)
	liam.requireFocus(s.Huddle, `main p.back > a.back-link`, "Tab after the skip link (main's first link, Back to the board)")

	// "Post reply" with nothing written: the error summary takes focus, so that a
	// keyboard or screen reader user meets it first; its link leads to the field.
	reply := `form[action$="/posts"] button[type="submit"]`
	liam.tabTo(s.Huddle, reply, false, 40)
	liam.press(kb.Enter)
	liam.waitFrameText(s.Huddle, "There is a problem", "Write something first.")
	if f := liam.focus(s.Huddle, `.error-summary`); !f.Matches {
		liam.failLater("after the empty reply, focus is on %s, not on the error summary (huddle.js focuses [data-focus]), "+
			"so a keyboard or screen reader user does not meet the error. The page is %s: the reply form posts to a URL "+
			"ending in #reply, and scrolling to that fragment (h2#reply, which cannot take focus) leaves focus on the body",
			f.Desc, evalInFrame[string](liam, s.Huddle, `location.href`))
	}
	liam.tabTo(s.Huddle, `.error-summary a[href="#body"]`, false, 40)
	liam.press(kb.Enter)
	if f := liam.waitFocus(s.Huddle, `textarea#body`); !f.Matches {
		liam.failLater("Enter on the error summary's link \"Write something first.\" leaves focus on %s, not in the reply field #body", f.Desc)
		liam.tabTo(s.Huddle, `textarea#body`, false, 40)
	}

	// He types the reply and posts it with Enter on "Post reply".
	liam.press(replyText)
	if got := evalInFrame[string](liam, s.Huddle, `document.getElementById("body").value`); got != replyText {
		liam.fail("typing into the reply field left %q, want %q", got, replyText)
	}
	liam.tabTo(s.Huddle, reply, false, 20)
	liam.press(kb.Enter)
	liam.waitFrameText(s.Huddle, "Posted.", replyText)
	if n := evalInFrame[int](liam, s.Huddle, `[...document.querySelectorAll("#posts article .post__body")].filter(b => b.textContent.includes(`+jsString(replyText)+`)).length`); n != 1 {
		liam.fail("the thread lists %d replies with his text, want 1", n)
	}
	liam.shot("keyboard-reply-posted")

	// Back up the page with Shift+Tab from his reply (where the page put him) to the
	// case's Helpful button, and press it with Space.
	helpful := `article.post--opening button[aria-pressed]`
	if got := evalInFrame[string](liam, s.Huddle, `document.querySelector(`+jsString(helpful)+`).textContent.trim()`); got != "Helpful" {
		liam.fail("before he marks it, the case's Helpful button says %q, want \"Helpful\" (no count)", got)
	}
	liam.tabTo(s.Huddle, helpful, true, 40)
	liam.press(" ")
	liam.waitFrameText(s.Huddle, "Helpful (1)", replyText)
	type button struct {
		Text    string `json:"text"`
		Pressed string `json:"pressed"`
	}
	got := evalInFrame[button](liam, s.Huddle, `(b => ({text: b.textContent.trim(), pressed: b.getAttribute("aria-pressed")}))(document.querySelector(`+jsString(helpful)+`))`)
	if got != (button{Text: "Helpful (1)", Pressed: "true"}) {
		liam.fail("after Space on Helpful the case's button is %+v, want \"Helpful (1)\" pressed", got)
	}
	liam.shot("keyboard-marked-helpful")
}

// press sends keys to the test's tab as a keyboard does: to the page or frame that has
// focus, one key at a time (a string of text is typed).
func (b *browser) press(keys string, opts ...chromedp.KeyOption) {
	b.t.Helper()
	if keys != kb.Enter {
		b.do("press "+keyName(keys), keyboard(keys, opts...))
		return
	}
	// Chromium may acknowledge an Enter that starts a navigation in the frame only once
	// the new page has loaded. The next step waits for the page it expects, so that
	// decides, not the acknowledgement.
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, keyboard(keys, opts...)); err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			b.fail("press Enter: %v", err)
		}
		b.t.Logf("press Enter: no acknowledgement within %s; the next step checks the page", stepTimeout)
	}
}

// keyboard is chromedp.KeyEvent as a physical keyboard sends keys to Chromium: each
// key is a rawKeyDown, then a char if it types one, then a keyUp. chromedp's "keyDown"
// is a different event to Chromium: when it is handled (Enter following a link) the
// char after it is not suppressed as a real keyboard's is, and the Enter that moved
// focus into a text field would also type a new line there.
func keyboard(keys string, opts ...chromedp.KeyOption) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, r := range keys {
			for _, k := range kb.Encode(r) {
				for _, o := range opts {
					o(k)
				}
				if k.Type == input.DispatchKeyEventTypeKeyDown {
					k.Type = input.DispatchKeyEventTypeRawKeyDown
				}
				if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, *k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func keyName(keys string) string {
	switch keys {
	case kb.Tab:
		return "Tab"
	case kb.Enter:
		return "Enter"
	case " ":
		return "Space"
	}
	return fmt.Sprintf("%q", keys)
}

// focusState is where keyboard focus is.
type focusState struct {
	Focused bool   `json:"focused"` // the document has focus
	Matches bool   `json:"matches"` // and its focused element matches the selector asked about
	Desc    string `json:"desc"`
}

const focusJS = `; ((sel) => {
  const el = document.activeElement;
  const has = document.hasFocus();
  return {focused: has, matches: has && !!el && el.matches(sel), desc: !has ? "" : el && el !== document.body ? a11yDescribe(el) : "the body"};
})(%s)`

// focus reports where focus is in the frame on origin, or in the test's own page if
// origin is empty, and whether that element matches sel. Focus outside the frame is
// described as the platform's page sees it.
func (b *browser) focus(origin, sel string) focusState {
	b.t.Helper()
	js := a11yScript + fmt.Sprintf(focusJS, jsString(sel))
	if origin != "" {
		if f := evalInFrame[focusState](b, origin, js); f.Focused {
			return f
		}
	}
	ctx, cancel := b.step()
	defer cancel()
	f, err := chromedp.Run(ctx, chromedp.Evaluate[focusState](js))
	if err != nil {
		b.fail("read where focus is on the platform's page: %v", err)
	}
	if origin != "" {
		f.Matches = false
		f.Desc = "the platform's page: " + f.Desc
	}
	if !f.Focused {
		f.Desc = "nothing in the tab"
	}
	return f
}

// waitFocus waits, for at most stepTimeout, for focus to reach an element matching
// sel, as after a key that scrolls to a fragment, and returns where it is.
func (b *browser) waitFocus(origin, sel string) focusState {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	var f focusState
	waitUntil(ctx, func(context.Context) bool {
		f = b.focus(origin, sel)
		return f.Matches
	})
	return f
}

// requireFocus fails the test unless focus is, or within a moment comes to be, on an
// element matching sel; after says what put it there.
func (b *browser) requireFocus(origin, sel, after string) {
	b.t.Helper()
	if f := b.waitFocus(origin, sel); !f.Matches {
		b.fail("after %s focus is on %s, want %s", after, f.Desc, sel)
	}
}

// tabTo presses Tab (Shift+Tab if back) at most max times until focus is on an
// element matching sel, in the frame on origin or, if origin is empty, the test's own
// page. It fails with every stop on the way if focus never gets there.
func (b *browser) tabTo(origin, sel string, back bool, max int) {
	b.t.Helper()
	key, opts := "Tab", []chromedp.KeyOption(nil)
	if back {
		key, opts = "Shift+Tab", []chromedp.KeyOption{chromedp.KeyModifiers(chromedp.ModifierShift)}
	}
	var stops []string
	for i := range max {
		b.do("press "+key, keyboard(kb.Tab, opts...))
		f := b.focus(origin, sel)
		if f.Matches {
			b.t.Logf("%s reached %s (press %d)", key, f.Desc, i+1)
			return
		}
		stops = append(stops, f.Desc)
	}
	b.fail("%d presses of %s never reached %s; focus went to:\n  %s", max, key, sel, strings.Join(stops, "\n  "))
}
