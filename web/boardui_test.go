package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The board's pages as a trainee on a phone and a tutor moderating meet them (issue 17,
// items 8 to 10). The layout itself is measured in a browser (e2e/phone_test.go);
// these check the markup it rests on.

// tagWithID returns the start tag of the element whose id is id, or "".
func tagWithID(body, id string) string {
	return regexp.MustCompile(`<[a-z]+ [^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(body)
}

// TestGuardFindingsAreAtTheirFields (item 9): each finding is in the error summary as
// a link to its field, in words (the field's name and the marked text) rather than
// character positions; the field is marked, says what was found, and names that
// message in its aria-describedby.
func TestGuardFindingsAreAtTheirFields(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "case_board")
	form := caseForm(be.learnerCSRF, "Seen today, NHS 943 476 5919, with a cough.")
	form.Set("section_learning_points", "Call 07700 900123 for the notes.")
	r := be.learner.post(be.activity+"/threads", form)
	expectPage(t, r, http.StatusUnprocessableEntity, "There is a problem")
	require.NotRegexp(t, `Characters \d+ to \d+`, r.body)

	for _, c := range []struct{ field, label, marked, says string }{
		{"section_presentation", "Presentation", "943 476 5919", "This looks like an NHS number."},
		{"section_learning_points", "Learning points", "07700 900123", "This looks like a phone number."},
	} {
		t.Run(c.field, func(t *testing.T) {
			summary := r.body[strings.Index(r.body, `class="error-summary"`):strings.Index(r.body, "</ul>")]
			require.Contains(t, summary, `<a href="#`+c.field+`">`+c.label+`, “`+c.marked+`”: `+c.says)
			field := tagWithID(r.body, c.field)
			require.NotEmpty(t, field, "no field %s", c.field)
			require.Contains(t, field, "input--error")
			require.Contains(t, field, `aria-invalid="true"`)
			require.Regexp(t, `aria-describedby="[^"]*\b`+c.field+`-guard\b`, field)
			msg := tagWithID(r.body, c.field+"-guard")
			require.NotEmpty(t, msg, "no message at the field")
			at := r.body[strings.Index(r.body, msg):]
			require.Contains(t, at[:strings.Index(at, "</ul>")], "“"+c.marked+"”: "+c.says)
		})
	}
	// The optional section that holds a finding is open, so its link leads somewhere
	// visible; the one left empty stays folded.
	require.Contains(t, r.body, `<details class="optional" open><summary>Learning points (optional)</summary>`)
	require.Contains(t, r.body, `<details class="optional"><summary>Investigations (optional)</summary>`)

	// A reply's one field is marked the same way.
	thread := be.postCase(t)
	r = be.learner.post(be.activity+"/threads/"+thread+"/posts", url.Values{"csrf": {be.learnerCSRF},
		"body": {"Her NHS number is 943 476 5919."}})
	expectPage(t, r, http.StatusUnprocessableEntity, `<a href="#body">Your post, “943 476 5919”: This looks like an NHS number.`)
	require.Regexp(t, `aria-describedby="body-hint body-guard"`, tagWithID(r.body, "body"))
	require.NotEmpty(t, tagWithID(r.body, "body-guard"))
}

// postCase shares a case as the learner and returns its thread id.
func (be *boardEnv) postCase(t *testing.T) string {
	t.Helper()
	return be.postThread(t, be.learner, be.learnerCSRF, be.activity)
}

// TestHideAndRevealAreSeparateActions (item 10): the thread and the moderation queue
// offer "Hide this post" and "Reveal the author" as links, with no reason box beside
// them; each leads to a page of its own that says what the action does (the author
// sees a hide's reason; a reveal is recorded with the moderator's name) and posts to
// its own action. Learners reach neither page.
func TestHideAndRevealAreSeparateActions(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "discussion_board")
	be.setBoard(t, url.Values{"identity": {"peers"}})
	thread := be.postDiscussion(t, be.learner, be.learnerCSRF, "Is a raised troponin always an MI?")
	var post string
	require.NoError(t, be.pool.QueryRow(t.Context(), `SELECT id::text FROM posts WHERE opening`).Scan(&post))
	postPath := be.activity + "/posts/" + post

	page := be.edu.get(be.activity + "/threads/" + thread)
	expectPage(t, page, http.StatusOK, `href="`+postPath+`/hide?back=thread">Hide this post</a>`,
		`href="`+postPath+`/reveal">Reveal the author</a>`)
	require.NotContains(t, page.body, `name="reason"`, "a reason box on the thread page")
	require.NotContains(t, page.body, "Reason for revealing")

	hide := be.edu.get(postPath + "/hide?back=thread")
	expectPage(t, hide, http.StatusOK, "<h1>Hide this post</h1>", "Reason for hiding (the author sees it)",
		"Its author still sees it, marked as hidden, with the reason you give here",
		`action="`+postPath+`/moderate"`, `name="action" value="hide"`, `name="back" value="thread"`)
	require.NotContains(t, hide.body, "error-summary", "a new page has no problem to report")
	require.NotContains(t, hide.body, "/reveal\"")

	reveal := be.edu.get(postPath + "/reveal")
	expectPage(t, reveal, http.StatusOK, "<h1>Reveal the author</h1>", "This is recorded.",
		"with your name and this reason in the board&#39;s audit log", "The author is not told now",
		`action="`+postPath+`/reveal"`, `class="button button--warning" type="submit">Reveal the author</button>`)
	require.NotContains(t, reveal.body, `name="action"`)
	require.NotContains(t, reveal.body, "the author sees it")

	for _, path := range []string{postPath + "/hide", postPath + "/reveal"} {
		require.Equal(t, http.StatusForbidden, be.learner.get(path).code, path)
	}

	// The moderation queue links to the same page rather than holding a reason box.
	reply := be.postReply(t, be.peer, be.peerCSRF, be.activity, thread, "It can be many things.")
	r := be.learner.post(be.activity+"/posts/"+reply+"/report", url.Values{"csrf": {be.learnerCSRF}, "reason": {"It is unkind"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	queue := be.edu.get(be.activity + "/moderation")
	expectPage(t, queue, http.StatusOK, `href="`+be.activity+`/posts/`+reply+`/hide">Hide this post</a>`)
	require.NotContains(t, queue.body, `name="reason"`)

	// The hide page's form hides the post and goes back to the thread.
	r = be.edu.post(postPath+"/moderate", url.Values{"csrf": {be.eduCSRF}, "action": {"hide"}, "back": {"thread"},
		"reason": {"Off topic for this board"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Contains(t, r.location, "/threads/"+thread+"#post-"+post)
}

// TestBoardFitsAPhoneWithoutJavaScript (item 8): the header's links fold behind one
// "Menu" toggle, the search and filters behind another, both details elements that
// work without JavaScript; the filters are open when in use. The progress is one line.
func TestBoardFitsAPhoneWithoutJavaScript(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "case_board")
	be.setBoard(t, url.Values{"grade_threads": {"2"}, "grade_replies": {"3"}})
	page := be.learner.get(be.activity)
	expectPage(t, page, http.StatusOK,
		`<details class="header__menu"><summary class="header__toggle">Menu</summary>`,
		`<details class="filters"><summary>Search this board and filter cases</summary>`,
		`<p class="progress" id="progress">For full marks: <strong>0 of 2</strong> cases, <strong>0 of 3</strong> replies.</p>`)
	menu := page.body[strings.Index(page.body, `<details class="header__menu">`):strings.Index(page.body, "</header>")]
	for _, link := range []string{`href="/notifications"`, `data-new-window`, `action="/sign-out"`} {
		require.Contains(t, menu, link)
	}
	require.NotContains(t, page.body, `class="card">For full marks`)

	for _, q := range []string{"?q=chest", "?specialty=Cardiology", "?order=helpful"} {
		expectPage(t, be.learner.get(be.activity+q), http.StatusOK, `<details class="filters" open>`)
	}

	// The case form folds its optional sections.
	form := be.learner.get(be.activity + "/threads/new")
	expectPage(t, form, http.StatusOK, `<details class="optional"><summary>Investigations (optional)</summary>`,
		`<details class="optional"><summary>Learning points (optional)</summary>`)
	require.NotContains(t, form.body, `<details class="optional"><summary>Presentation`)
}
