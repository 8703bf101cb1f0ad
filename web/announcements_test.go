package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/lti/ltitest"
)

var markReadRE = regexp.MustCompile(`action="(/activities/\d+/announcements/(\d+)/read)"`)

// An announcement is shown at the top of every Huddle page of its course to the
// people it was sent to, until each marks it read; never in another course, never to
// anyone outside its audience.
func TestAnnouncementsOnEveryPageOfTheCourse(t *testing.T) {
	t.Parallel()
	pe := newProgrammeEnv(t)
	le := &logEnv{ltiEnv: pe.ltiEnv}
	boardLink := course2
	boardLink.ResourceLinkID, boardLink.Title = "17", "Cases"
	boardLink.Custom = map[string]string{"huddle_kind": discussion.KindCaseBoard}
	reflections := logLink(course2.ContextID, course2.ContextTitle, "Reflections")
	otherCourse := boardLink
	otherCourse.ContextID, otherCourse.ContextTitle, otherCourse.ResourceLinkID = "9", "Another course", "90"

	board := le.signIn(t, learner, boardLink)
	logPage := le.signIn(t, learner, reflections)
	elsewhere := le.signIn(t, learner, otherCourse)
	// Pat follows F1 on their calendar link, so an announcement for F2 is not theirs.
	peerBoard := le.signIn(t, peer, boardLink)
	_, err := pe.app.Programmes.CreateFeed(t.Context(), peerBoard.id, "F1")
	require.NoError(t, err)
	eduBoard := le.signIn(t, educator, boardLink)

	const text = "Thursday teaching moves to the lecture theatre."
	r := pe.edu.post(pe.edu.activity+"/programme/announcements",
		url.Values{"csrf": {pe.edu.csrf}, "subject": {"Room change"}, "body": {text}, "grade": {"F2"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)

	for _, tc := range []struct {
		name  string
		who   *signedIn
		path  string
		shown bool
	}{
		{"the programme", pe.learner, pe.learner.activity, true},
		{"a board of the course", board, board.activity, true},
		{"a reflection log of the course", logPage, logPage.activity, true},
		{"a session form page of the course", pe.learner, pe.learner.activity + "/programme/calendar", true},
		{"another course", elsewhere, elsewhere.activity, false},
		{"a learner following another grade", peerBoard, peerBoard.activity, false},
		{"the educator who sent it", eduBoard, eduBoard.activity, false},
		{"a page outside any course", board, "/notifications", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := tc.who.get(tc.path)
			require.Equal(t, http.StatusOK, page.code, page.body)
			if !tc.shown {
				require.NotContains(t, page.body, text)
				require.NotRegexp(t, markReadRE, page.body)
				return
			}
			require.Regexp(t, `(?s)<main[^>]*>\s*.*?<section class="announcements" aria-label="Announcements">.*?Room change.*?`+regexp.QuoteMeta(text), page.body,
				"at the top of the page")
			require.Contains(t, page.body, "FY1 teaching programme", "names the programme it came from")
		})
	}

	// Marking it read on the board goes back to the board, and it is gone from every
	// page of the course for that learner only.
	page := board.get(board.activity)
	m := markReadRE.FindStringSubmatch(page.body)
	require.NotNil(t, m)
	require.Contains(t, page.body, `name="back" value="`+board.activity+`"`)
	r = board.post(m[1], url.Values{"csrf": {board.csrf}, "back": {board.activity}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, board.activity, r.location)
	for _, b := range []*signedIn{board, logPage, pe.learner} {
		require.NotContains(t, b.get(b.activity).body, text)
	}
	var unread int
	require.NoError(t, pe.pool.QueryRow(t.Context(),
		`SELECT count(*) FROM programme_announcement_recipients WHERE read_at IS NULL`).Scan(&unread))
	require.Zero(t, unread, "the only recipient read it")
}

// Mark as read only marks what was sent to this person in this course, and goes back
// only to a page of the same activity.
func TestMarkAnnouncementReadRefusesOthers(t *testing.T) {
	t.Parallel()
	pe := newProgrammeEnv(t)
	le := &logEnv{ltiEnv: pe.ltiEnv}
	otherCourse := programmeLink()
	otherCourse.ContextID, otherCourse.ContextTitle, otherCourse.ResourceLinkID = "9", "Another course", "90"
	elsewhere := le.signIn(t, learner, otherCourse)
	other := le.signIn(t, ltitest.Member{Subject: "8", Name: "Olu Other", Roles: []string{ltitest.RoleLearner}}, programmeLink())

	r := pe.edu.post(pe.edu.activity+"/programme/announcements",
		url.Values{"csrf": {pe.edu.csrf}, "subject": {"Room change"}, "body": {"Room 2 on Thursday."}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	m := markReadRE.FindStringSubmatch(pe.learner.get(pe.learner.activity).body)
	require.NotNil(t, m)
	id := m[2]

	// The same learner, through an activity of another course: nothing is marked.
	r = elsewhere.post(elsewhere.activity+"/announcements/"+id+"/read", url.Values{"csrf": {elsewhere.csrf}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Contains(t, pe.learner.get(pe.learner.activity).body, "Room 2 on Thursday.")

	// Another learner of the course marks their own copy only.
	r = other.post(other.activity+"/announcements/"+id+"/read", url.Values{"csrf": {other.csrf}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.NotContains(t, other.get(other.activity).body, "Room 2 on Thursday.")
	require.Contains(t, pe.learner.get(pe.learner.activity).body, "Room 2 on Thursday.")

	for _, back := range []string{"https://evil.example/", "//evil.example/x", "/activities/1", "/notifications",
		pe.learner.activity + "0", pe.learner.activity + "//evil.example", "/\\evil.example"} {
		r = pe.learner.post(m[1], url.Values{"csrf": {pe.learner.csrf}, "back": {back}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		require.Equal(t, pe.learner.activity, r.location, "back %q", back)
	}
	r = pe.learner.post(m[1], url.Values{"csrf": {pe.learner.csrf}, "back": {pe.learner.activity + "/programme/calendar"}})
	require.Equal(t, pe.learner.activity+"/programme/calendar", r.location)
	require.NotContains(t, pe.learner.get(pe.learner.activity).body, "Room 2 on Thursday.")
	require.Equal(t, http.StatusForbidden, pe.learner.post(m[1], url.Values{"back": {pe.learner.activity}}).code, "CSRF still applies")
}
