package web_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// The reply form carries a submission token; sending the same form again (the browser
// never saw the first answer) lands on the same post, and only one is stored.
func TestResentReplyFormLandsOnTheSamePost(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "discussion_board")
	thread := be.postDiscussion(t, be.learner, be.learnerCSRF, "Anyone seen this before?")
	page := be.peer.get(be.activity + "/threads/" + thread)
	require.Equal(t, http.StatusOK, page.code)
	m := regexp.MustCompile(`name="submission" value="([^"]+)"`).FindStringSubmatch(page.body)
	require.NotNil(t, m, "the reply form carries a submission token")

	form := map[string][]string{"csrf": {be.peerCSRF}, "body": {"Yes, last month."}, "submission": {m[1]}}
	first := be.peer.post(be.activity+"/threads/"+thread+"/posts", form)
	require.Equal(t, http.StatusSeeOther, first.code, first.body)
	again := be.peer.post(be.activity+"/threads/"+thread+"/posts", form)
	require.Equal(t, http.StatusSeeOther, again.code, again.body)
	require.Equal(t, first.location, again.location)

	var n int
	require.NoError(t, be.pool.QueryRow(t.Context(), `SELECT count(*) FROM posts WHERE body = 'Yes, last month.'`).Scan(&n))
	require.Equal(t, 1, n)
	require.NotEqual(t, m[1], regexp.MustCompile(`name="submission" value="([^"]+)"`).FindStringSubmatch(be.peer.get(be.activity + "/threads/" + thread).body)[1],
		"each form shown gets its own token")
}
