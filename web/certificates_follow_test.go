package web_test

import (
	"net/http"
	"net/url"
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
