package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

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
