package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
)

// Once Moodle has said the course has no completion criteria, the educator's pages
// say so; saving the settings without a Moodle connection still saves them.
func TestCertificatePagesSayWhenTheCourseHasNoCompletionCriteria(t *testing.T) {
	t.Parallel()
	le := &logEnv{ltiEnv: newLTIEnv(t)}
	edu := le.signIn(t, educator, certLink())
	le.signIn(t, learner, certLink())
	r := edu.post(edu.activity+"/certificate-settings", url.Values{"csrf": {edu.csrf}, "title": {"Sepsis"},
		"organisation": {"Example NHS Foundation Trust"}, "req_kind": {string(certificates.MoodleCompletion)}, "req_activity": {"0"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	const note = "The Moodle course has no completion criteria"
	require.NotContains(t, edu.get(edu.activity).body, note, "not said before Moodle has said it")

	activityID := strings.TrimPrefix(edu.activity, "/activities/")
	_, err := le.pool.Exec(t.Context(), `INSERT INTO certificate_course_criteria (activity_id, has_criteria, checked_at)
VALUES ($1::bigint, false, now())`, activityID)
	require.NoError(t, err)
	expectPage(t, edu.get(edu.activity), http.StatusOK, note, "so it can never be complete")
	expectPage(t, edu.get(edu.activity+"/certificate-settings"), http.StatusOK, note)
}
