package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
)

// A certificate that requires a signed-off reflection follows the reflection log: the
// submission and the sign-off each queue the author's check with them, and the
// sign-off's check issues the certificate, with no sweep and no visit.
func TestCertificateFollowsAReflectionSignOff(t *testing.T) {
	t.Parallel()
	le := newLogEnv(t)
	edu := le.signIn(t, educator, certLink())
	le.signIn(t, learner, certLink())
	le.signIn(t, peer, certLink())
	logID := strings.TrimPrefix(le.edu.activity, "/activities/")
	r := edu.post(edu.activity+"/certificate-settings", url.Values{"csrf": {edu.csrf},
		"title": {"Reflective practice"}, "organisation": {"Example NHS Foundation Trust"},
		"req_kind": {string(certificates.ReflectionSignedOff)}, "req_activity": {logID}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	checks := func() int {
		return workJobs(t, le, "certificate_check", river.Worker[certificates.CheckArgs](certificates.NewCheckWorker(le.app.Certificates)))
	}
	issued := func() int {
		return le.count(t, `SELECT count(*) FROM certificates WHERE user_id = $1 AND revoked_at IS NULL`, le.learner.id)
	}
	checks() // whatever saving the settings queued
	require.Zero(t, issued())

	id := le.learner.submit(t, "", "After the sepsis teaching", "We ran a simulated deteriorating patient.", 1)
	require.Equal(t, 1, checks(), "the submission queued its author's check, and no one else's")
	require.Zero(t, issued(), "submitted, not yet signed off")

	le.learner.share(t, id, le.sup.id)
	r = le.sup.post("/reflections/"+id+"/signoff", url.Values{"csrf": {le.sup.csrf}, "version": {"1"}, "comment": {"A clear plan."}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, 1, checks(), "the sign-off queued the author's check")
	require.Equal(t, 1, issued(), "and that check issued the certificate")
	require.Zero(t, le.count(t, `SELECT count(*) FROM certificates WHERE user_id = $1`, le.peer.id))

	// Holding the certificate, the author's next version queues nothing.
	le.learner.submit(t, id, "After the sepsis teaching", "We ran a simulated deteriorating patient, twice.", 2)
	require.Zero(t, checks())
}

// A certificate that requires posts on a board follows its named posts: the post that
// completes the requirement queues its author's check with it. A post anonymous to
// peers queues nothing and counts only from the next day, for every learner alike, so
// no certificate appears as such a post does and tells the educator who wrote it.
func TestCertificateFollowsANamedPostAndNotAPeersOne(t *testing.T) {
	t.Parallel()
	le := &logEnv{ltiEnv: newLTIEnv(t)}
	boardLink := course2
	boardLink.ResourceLinkID, boardLink.Title = "board-for-cert", "Case board"
	boardLink.Custom = map[string]string{"huddle_kind": "discussion_board"}
	edu := le.signIn(t, educator, boardLink)
	lena := le.signIn(t, learner, boardLink)
	r := edu.post(edu.activity+"/board-settings", url.Values{"csrf": {edu.csrf}, "identity": {"peers"},
		"learner_choice": {"on"}, "edit_minutes": {"30"}, "posts_per_hour": {"30"}, "grade_threads": {"0"}, "grade_replies": {"0"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = edu.post(edu.activity+"/threads", url.Values{"csrf": {edu.csrf}, "title": {"Chest pain at night"},
		"body": {"What would you do next?"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	thread := postedRE.FindStringSubmatch(r.location)[1]

	certEdu := le.signIn(t, educator, certLink())
	le.signIn(t, learner, certLink())
	r = certEdu.post(certEdu.activity+"/certificate-settings", url.Values{"csrf": {certEdu.csrf},
		"title": {"Case discussion"}, "organisation": {"Example NHS Foundation Trust"},
		"req_kind": {string(certificates.BoardPosts)}, "req_activity": {strings.TrimPrefix(edu.activity, "/activities/")},
		"req_count": {"2"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	checks := func() int {
		return workJobs(t, le, "certificate_check", river.Worker[certificates.CheckArgs](certificates.NewCheckWorker(le.app.Certificates)))
	}
	issued := func() int {
		return le.count(t, `SELECT count(*) FROM certificates WHERE user_id = $1 AND revoked_at IS NULL`, lena.id)
	}
	reply := func(identity, text string) {
		r := lena.post(edu.activity+"/threads/"+thread+"/posts", url.Values{"csrf": {lena.csrf}, "body": {text}, "identity": {identity}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
	}
	checks()

	reply("peers", "I would repeat the ECG in twenty minutes.")
	require.Zero(t, checks(), "a post anonymous to peers queues nothing")
	reply("named", "And check a troponin.")
	require.Equal(t, 1, checks(), "a named post queues its author's check")
	require.Zero(t, issued(), "the post anonymous to peers does not count on the day it was posted")
	expectPage(t, certEdu.get(certEdu.activity), http.StatusOK,
		"1 of 2 posts or replies counted so far. Posts anonymous to peers count from the day after they are posted.")

	// The next day (its post moved back a day, as if the clock had passed midnight),
	// the sweep's check counts it.
	_, err := le.pool.Exec(t.Context(), `UPDATE posts SET created_at = created_at - interval '1 day' WHERE identity = 'peers'`)
	require.NoError(t, err)
	queued, err := le.app.Certificates.QueueChecks(t.Context(), le.app.Queue, mustAtoi(t, strings.TrimPrefix(certEdu.activity, "/activities/")), false)
	require.NoError(t, err)
	require.Equal(t, 1, queued)
	require.Equal(t, 1, checks())
	require.Equal(t, 1, issued())
	require.Zero(t, le.count(t, `SELECT count(*) FROM certificates WHERE user_id = $1`, edu.id))

	// On a premoderated board a named reply follows when an educator approves it.
	_, err = le.pool.Exec(t.Context(), `DELETE FROM certificates`)
	require.NoError(t, err)
	r = edu.post(edu.activity+"/board-settings", url.Values{"csrf": {edu.csrf}, "identity": {"peers"}, "premoderated": {"on"},
		"learner_choice": {"on"}, "edit_minutes": {"30"}, "posts_per_hour": {"30"}, "grade_threads": {"0"}, "grade_replies": {"0"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	reply("named", "Held until an educator approves it.")
	require.Zero(t, checks(), "a held post queues nothing")
	var held int64
	require.NoError(t, le.pool.QueryRow(t.Context(), `SELECT id FROM posts WHERE status = 'held'`).Scan(&held))
	r = edu.post(edu.activity+"/posts/"+strconv.FormatInt(held, 10)+"/moderate", url.Values{"csrf": {edu.csrf}, "action": {"approve"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, 1, checks(), "approving it queues its author's check")
	require.Equal(t, 1, issued())
}
