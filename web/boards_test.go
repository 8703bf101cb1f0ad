package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/lti/ltitest"
)

var peer = ltitest.Member{Subject: "5", Name: "Pat Peer", Email: "learner2@example.com", Roles: []string{ltitest.RoleLearner}}

var postedRE = regexp.MustCompile(`/threads/(\d+)\?posted=1#post-(\d+)`)

// postThread shares a case on the board at activity (a path) and returns the thread id.
func (e *ltiEnv) postThread(t testing.TB, b *browser, csrf, activity string) string {
	t.Helper()
	r := b.post(activity+"/threads", url.Values{"csrf": {csrf}, "kind": {"case"}, "title": {"Chest pain at night"},
		"specialty": {"Cardiology"}, "grade": {"F1", "F2"}, "tags": {"ecg, chest pain"},
		"section_presentation": {"A man in his 50s with central chest pain."},
		"section_question":     {"What would you do next?"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	m := postedRE.FindStringSubmatch(r.location)
	require.NotNil(t, m, r.location)
	return m[1]
}

// postReply replies in a thread and returns the new post's id.
func (e *ltiEnv) postReply(t testing.TB, b *browser, csrf, activity, thread, text string) string {
	t.Helper()
	r := b.post(activity+"/threads/"+thread+"/posts", url.Values{"csrf": {csrf}, "body": {text}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	m := postedRE.FindStringSubmatch(r.location)
	require.NotNil(t, m, r.location)
	return m[2]
}

// boardEnv is a case board with an educator and a learner signed in.
type boardEnv struct {
	*ltiEnv
	activity                       string
	edu, learner, peer             *browser
	eduCSRF, learnerCSRF, peerCSRF string
}

func newBoardEnv(t *testing.T, kind string) *boardEnv {
	t.Helper()
	e := newLTIEnv(t)
	link := course2
	link.Custom = map[string]string{"huddle_kind": kind}
	be := &boardEnv{ltiEnv: e}
	signIn := func(m ltitest.Member) (*browser, string, string) {
		b := e.browser(t)
		r := e.launch(t, b, m, link)
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		page := b.get(r.location)
		require.Equal(t, http.StatusOK, page.code, page.body)
		csrf := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(page.body)
		require.NotNil(t, csrf)
		return b, strings.SplitN(r.location, "?", 2)[0], csrf[1]
	}
	be.edu, be.activity, be.eduCSRF = signIn(educator)
	be.learner, _, be.learnerCSRF = signIn(learner)
	be.peer, _, be.peerCSRF = signIn(peer)
	return be
}

func (be *boardEnv) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, be.pool.QueryRow(t.Context(), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

func caseForm(csrf, presentation string) url.Values {
	return url.Values{"csrf": {csrf}, "kind": {"case"}, "title": {"Breathless on the ward"}, "specialty": {"Respiratory"},
		"section_presentation": {presentation}, "section_question": {"What would you check first?"}, "identity": {"named"}}
}

func TestGuardStopsAPastedNHSNumberAndSaysWhere(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "case_board")
	// Fifteen characters in, a valid NHS number in the presentation.
	r := be.learner.post(be.activity+"/threads", caseForm(be.learnerCSRF, "Seen today, NHS 943 476 5919, with a cough."))
	expectPage(t, r, http.StatusUnprocessableEntity, "Check for patient details", "<mark>943 476 5919</mark>",
		`href="#section_presentation"`, "This looks like an NHS number", "Nothing has been saved", `href="#guard"`)
	require.NotContains(t, r.body, "Characters 17 to 28", "findings are told in words, not positions")
	// What they wrote comes back for editing, and none of it was stored.
	require.Contains(t, r.body, "Seen today, NHS 943 476 5919, with a cough.</textarea>")
	require.Zero(t, be.count(t, "threads"))
	require.Zero(t, be.count(t, "posts"))

	r = be.learner.post(be.activity+"/threads", caseForm(be.learnerCSRF, "Seen today, a man in his 70s with a cough."))
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	thread := postedRE.FindStringSubmatch(r.location)[1]
	expectPage(t, be.peer.get(be.activity), http.StatusOK, "Breathless on the ward", "Respiratory")
	expectPage(t, be.peer.get(be.activity+"/threads/"+thread), http.StatusOK, "a man in his 70s with a cough", "Lena Learner")
}

func TestGuardOverrideIsHeldForAModeratorWithoutTheText(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "case_board")
	form := caseForm(be.learnerCSRF, "Reviewed with Mrs Patel, our ward sister.")
	form.Set("guard_confirm", "yes")
	form.Set("guard_reason", "She is the ward sister who taught us, not a patient")
	r := be.learner.post(be.activity+"/threads", form)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Contains(t, r.location, "held=1")

	expectPage(t, be.learner.get(be.activity), http.StatusOK, "Waiting for a moderator")
	peerView := be.peer.get(be.activity)
	require.NotContains(t, peerView.body, "Breathless on the ward")
	expectPage(t, be.edu.get(be.activity+"/moderation"), http.StatusOK, "the author overrode the patient-detail check",
		"Found: a person&#39;s name", "not a patient")

	var findings string
	require.NoError(t, be.pool.QueryRow(t.Context(), "SELECT guard_findings::text FROM posts").Scan(&findings))
	require.Contains(t, findings, `"kind": "titled_name"`)
	require.NotContains(t, findings, "Patel")
}

func TestMarkdownCannotInjectScript(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "discussion_board")
	thread := be.postDiscussion(t, be.learner, be.learnerCSRF, "Safe **bold**")
	attacks := []string{
		`<script>alert(1)</script>`,
		`[click](javascript:alert(1))`,
		`<img src=x onerror=alert(1)>`,
		`[x](JaVaScRiPt&#58;alert(1))`,
		`<a href="https://example.org" onclick="alert(1)">link</a>`,
		`![tracker](https://tracker.example/pixel.gif)`,
	}
	for _, a := range attacks {
		be.postReply(t, be.peer, be.peerCSRF, be.activity, thread, "Look: "+a)
	}
	page := be.learner.get(be.activity + "/threads/" + thread)
	require.Equal(t, http.StatusOK, page.code)
	lower := strings.ToLower(page.body)
	for _, bad := range []string{"<script>alert", "javascript:", "onerror", "onclick", "tracker.example", "<img"} {
		require.NotContains(t, lower, bad)
	}
	require.Contains(t, page.body, "<strong>bold</strong>")
}

// postDiscussion starts a discussion thread and returns its id.
func (be *boardEnv) postDiscussion(t *testing.T, b *browser, csrf, body string) string {
	t.Helper()
	r := b.post(be.activity+"/threads", url.Values{"csrf": {csrf}, "title": {"A question"}, "body": {body}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	return postedRE.FindStringSubmatch(r.location)[1]
}

func TestQuoteStartsTheReplyWithoutJavaScript(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "discussion_board")
	thread := be.postDiscussion(t, be.learner, be.learnerCSRF, "Is a raised troponin always an MI?\nI was not sure.")
	page := be.peer.get(be.activity + "/threads/" + thread)
	require.Equal(t, http.StatusOK, page.code)
	m := regexp.MustCompile(`threads/\d+\?quote=(\d+)#reply`).FindStringSubmatch(page.body)
	require.NotNil(t, m, page.body)
	page = be.peer.get(be.activity + "/threads/" + thread + "?quote=" + m[1])
	expectPage(t, page, http.StatusOK, "&gt; Is a raised troponin always an MI?\n&gt; I was not sure.\n\n</textarea>")
}

// On a named board a participation score goes to grade sync with each post.
func TestGradedBoardShowsProgressAndRecordsScores(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "discussion_board")
	r := be.edu.post(be.activity+"/board-settings", url.Values{"csrf": {be.eduCSRF}, "identity": {"named"},
		"edit_minutes": {"30"}, "posts_per_hour": {"30"}, "grade_threads": {"1"}, "grade_replies": {"1"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	page := be.learner.get(be.activity)
	expectPage(t, page, http.StatusOK, "For full marks: <strong>0 of 1</strong> thread, <strong>0 of 1</strong> reply")
	require.NotContains(t, page.body, "Participation scores go to Moodle on", "a named board sends scores at once")
	thread := be.postDiscussion(t, be.learner, be.learnerCSRF, "A question")
	expectPage(t, be.learner.get(be.activity), http.StatusOK, "<strong>1 of 1</strong> thread, <strong>0 of 1</strong> reply")
	be.postReply(t, be.learner, be.learnerCSRF, be.activity, thread, "Adding some detail")
	var given, maximum float64
	var progress string
	require.NoError(t, be.pool.QueryRow(t.Context(), `SELECT score_given, score_maximum, activity_progress FROM scores`).
		Scan(&given, &maximum, &progress))
	require.Equal(t, maximum, given)
	require.Equal(t, "Completed", progress)
}

// On a board anonymous to peers with a grade, the educator must set dates for scores
// to go to Moodle; everyone sees the next one on the board, and posting writes no score
// and no grade job (discussion/gradedates_test.go tests the push itself).
func TestPeersGradedBoardWaitsForItsDates(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "discussion_board")
	london, err := time.LoadLocation("Europe/London")
	require.NoError(t, err)
	next := time.Now().In(london).AddDate(0, 0, 7)
	later := next.AddDate(0, 0, 7)
	settings := func(extra url.Values) url.Values {
		v := url.Values{"csrf": {be.eduCSRF}, "identity": {"peers"}, "edit_minutes": {"30"}, "posts_per_hour": {"30"},
			"grade_threads": {"1"}, "grade_replies": {"1"}, "grade_dates_form": {"1"}, "grade_dates": {""}}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}
	save := func(extra url.Values) response { return be.edu.post(be.activity+"/board-settings", settings(extra)) }

	tests := []struct {
		name  string
		form  url.Values
		code  int
		shows []string
	}{
		{"no date", nil, http.StatusUnprocessableEntity,
			[]string{"Add at least one date for participation scores to go to Moodle", `href="#grade_dates"`}},
		{"a date that has passed", url.Values{"grade_dates": {time.Now().In(london).AddDate(0, 0, -1).Format(time.DateOnly)}},
			http.StatusUnprocessableEntity, []string{"has passed"}},
		{"a date that is not one", url.Values{"grade_dates": {"next Tuesday"}}, http.StatusUnprocessableEntity,
			[]string{"Enter each date in full", `value="next Tuesday"`}},
		{"a date written the UK way", url.Values{"grade_dates": {next.Format("2/1/2006")}}, http.StatusSeeOther, nil},
	}
	for _, tc := range tests {
		r := save(tc.form)
		expectPage(t, r, tc.code, tc.shows...)
		if tc.code != http.StatusSeeOther {
			require.Zero(t, be.count(t, "board_grade_dates"), tc.name)
		}
	}
	page := be.edu.get(be.activity + "/board-settings")
	expectPage(t, page, http.StatusOK, `value="`+next.Format(time.DateOnly)+`"`, `<label for="grade_date-remove-0">Remove date 1</label>`,
		`<label for="grade_date-new">Add a date</label>`, "go to Moodle on these dates, from 07:00 UK time")

	// Everyone sees the next date on the board.
	shown := "Participation scores go to Moodle on " + next.Format("2 Jan 2006")
	for _, b := range []*browser{be.learner, be.peer, be.edu} {
		expectPage(t, b.get(be.activity), http.StatusOK, shown)
	}

	// Posting writes no score and queues no grade job; the learner still sees their
	// own progress, and the grade sync page has nobody to show.
	thread := be.postDiscussion(t, be.learner, be.learnerCSRF, "A question")
	be.postReply(t, be.peer, be.peerCSRF, be.activity, thread, "An answer")
	require.Zero(t, be.count(t, "scores"))
	require.Zero(t, be.count(t, "river_job WHERE kind IN ('grade_sync', 'grade_sync_dispatch')"))
	expectPage(t, be.learner.get(be.activity), http.StatusOK, "<strong>1 of 1</strong> thread, <strong>0 of 1</strong> reply")
	expectPage(t, be.edu.get(be.activity+"/grades"), http.StatusOK, "No scores yet")
	peerView := be.peer.get(be.activity + "/threads/" + thread)
	expectPage(t, peerView, http.StatusOK, "Anonymous colleague")
	require.NotContains(t, peerView.body, "Lena Learner</strong>")

	// The only date cannot go; replaced by a later one, it can.
	first := next.Format(time.DateOnly)
	r := save(url.Values{"grade_dates": {first, ""}, "grade_dates_remove": {"0"}})
	expectPage(t, r, http.StatusUnprocessableEntity, "Add at least one date")
	r = save(url.Values{"grade_dates": {first, later.Format(time.DateOnly)}, "grade_dates_remove": {"0"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, be.learner.get(be.activity), http.StatusOK, "Participation scores go to Moodle on "+later.Format("2 Jan 2006"))
	require.Equal(t, 1, be.count(t, "board_grade_dates"))

	// A form without the dates (an older page) keeps them.
	r = be.edu.post(be.activity+"/board-settings", url.Values{"csrf": {be.eduCSRF}, "identity": {"peers"}, "edit_minutes": {"30"},
		"posts_per_hour": {"30"}, "grade_threads": {"1"}, "grade_replies": {"2"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, 1, be.count(t, "board_grade_dates"))
}

// The list item the page script adds for a new thread answers as the list does.
func TestThreadItemForTheLiveList(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "discussion_board")
	thread := be.postDiscussion(t, be.learner, be.learnerCSRF, "A new question")
	item := be.peer.get(be.activity + "/threads/" + thread + "/item")
	expectPage(t, item, http.StatusOK, `id="thread-`+thread+`"`, "A question", "Lena Learner")
	require.NotContains(t, item.body, "<html", "a fragment, not a page")

	// A thread waiting for a moderator is not in anyone else's list.
	r := be.edu.post(be.activity+"/board-settings", url.Values{"csrf": {be.eduCSRF}, "identity": {"named"}, "premoderated": {"on"},
		"edit_minutes": {"30"}, "posts_per_hour": {"30"}, "grade_threads": {"0"}, "grade_replies": {"0"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = be.learner.post(be.activity+"/threads", url.Values{"csrf": {be.learnerCSRF}, "title": {"Held"}, "body": {"Waiting."}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	held := regexp.MustCompile(`/threads/(\d+)`).FindStringSubmatch(r.location)[1]
	expectPage(t, be.peer.get(be.activity+"/threads/"+held+"/item"), http.StatusNotFound, "post_not_found")
	expectPage(t, be.learner.get(be.activity+"/threads/"+held+"/item"), http.StatusOK, "Waiting for a moderator")
}

// An error page offers the way back to the Huddle page the person came from, and
// never to another site.
func TestErrorPageLinksBack(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "discussion_board")
	be.learner.header = http.Header{"Referer": {"http://example.com" + be.activity}}
	r := be.learner.get(be.activity + "/threads/123")
	expectPage(t, r, http.StatusNotFound, "post_not_found", `href="`+be.activity+`"`, "Go back to the page you came from")
	be.learner.header = http.Header{"Referer": {"https://elsewhere.example/x"}}
	r = be.learner.get(be.activity + "/threads/123")
	require.NotContains(t, r.body, "Go back to the page you came from")
}

// TestTooDeeplyNestedIsRefusedInPlainWords: a post nested past markup.MaxDepth is
// refused on the form, in plain words, with what was written kept for editing, and
// nothing stored.
func TestTooDeeplyNestedIsRefusedInPlainWords(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "discussion_board")
	thread := be.postDiscussion(t, be.learner, be.learnerCSRF, "A question.")
	nested := "Quoting the whole chain:\n\n" + strings.Repeat("> ", 5000) + "the first post"
	message := "Quotes, lists, links or emphasis are nested more than 16 levels deep"

	r := be.learner.post(be.activity+"/threads", url.Values{"csrf": {be.learnerCSRF}, "title": {"Deep"}, "body": {nested}})
	expectPage(t, r, http.StatusUnprocessableEntity, message, `href="#body"`,
		"Quoting the whole chain:\n\n"+strings.Repeat("&gt; ", 5000)+"the first post</textarea>")

	r = be.peer.post(be.activity+"/threads/"+thread+"/posts", url.Values{"csrf": {be.peerCSRF}, "body": {nested}})
	expectPage(t, r, http.StatusUnprocessableEntity, message, "A question.",
		strings.Repeat("&gt; ", 5000)+"the first post</textarea>")

	r = be.learner.post(be.activity+"/threads", url.Values{"csrf": {be.learnerCSRF}, "title": {"Links"},
		"body": {strings.Repeat("[a](", 1000)}})
	expectPage(t, r, http.StatusUnprocessableEntity, "Use at most 100 links.")

	require.Equal(t, 1, be.count(t, "threads"))
	require.Equal(t, 1, be.count(t, "posts"))
}
