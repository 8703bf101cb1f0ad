package app

import (
	"bytes"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/moodle/moodletest"
	"github.com/huddle-lti/huddle/seal"
)

// A certificate that requires Moodle course completion of a course with no criteria
// says so as soon as its settings are saved, against a Moodle double replaying what a
// real Moodle 4.5 answered (ws/023 nocriteriaset, ws/039 a completed course).
func TestCourseWithNoCompletionCriteriaIsKnownAtSave(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	site := moodletest.NewServer(t, map[string][]byte{
		"core_webservice_get_site_info":                moodletest.Capture(t, "001"),
		"core_completion_get_course_completion_status": moodletest.Capture(t, "023"),
	})
	var platform, courseID, activity, learner int64
	require.NoError(t, pool.QueryRow(ctx, `
INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url) VALUES ('https://moodle.test', 'huddle', 'a', 't', 'j')
RETURNING id`).Scan(&platform))
	// As in the capture: Moodle course 2, learner 4.
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO courses (platform_id, deployment_id, context_id, title) VALUES ($1, '1', '2', 'Sepsis')
RETURNING id`, platform).Scan(&courseID))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO activities (course_id, resource_link_id, title, kind) VALUES ($1, '9', 'Certificate', 'certificate')
RETURNING id`, courseID).Scan(&activity))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (platform_id, subject, name) VALUES ($1, '4', 'Lena Learner') RETURNING id`,
		platform).Scan(&learner))
	_, err := pool.Exec(ctx, `INSERT INTO memberships (user_id, course_id, roles) VALUES ($1, $2, '{learner}')`, learner, courseID)
	require.NoError(t, err)

	sealer, err := seal.New(bytes.Repeat([]byte{3}, 32))
	require.NoError(t, err)
	cfg := moodle.BaseConfig(site.Client(), "Huddle/test")
	cfg.MaxAttempts = 1
	conns := moodle.NewConnections(pool, sealer, cfg, nil)
	_, err = conns.Save(ctx, platform, site.URL, moodletest.Token)
	require.NoError(t, err)
	site.TakeCalls()
	base, _ := url.Parse("https://huddle.test")
	svc := certificates.NewService(pool, nil, base, certificates.Options{Completion: moodleCompletion{conns}})
	require.NoError(t, svc.SaveDefinition(ctx, platform, 0, certificates.Definition{ActivityID: activity, Title: "Sepsis",
		Organisation: "Example NHS Foundation Trust", Requirements: []certificates.Requirement{{Kind: certificates.MoodleCompletion}}}))
	why := func() string {
		progress, err := svc.Learners(ctx, activity)
		require.NoError(t, err)
		require.Len(t, progress, 1)
		return progress[0].Checks[0].Why
	}
	require.Contains(t, why(), "asked each night", "nothing known before Moodle is asked")

	known, has, err := svc.CheckCourseCriteria(ctx, activity)
	require.NoError(t, err)
	require.True(t, known)
	require.False(t, has)
	calls := site.TakeCalls()
	require.Len(t, calls, 1)
	require.Equal(t, "2", calls[0].Form.Get("courseid"))
	require.Equal(t, "4", calls[0].Form.Get("userid"), "asked about a learner of the course, as Moodle requires")
	require.Contains(t, why(), "no completion criteria")
	require.Empty(t, site.TakeCalls(), "the page itself never asks Moodle")

	// Criteria set in Moodle: the next question hears an answer and the note goes.
	site.Answer("core_completion_get_course_completion_status", moodletest.Capture(t, "039"))
	known, has, err = svc.CheckCourseCriteria(ctx, activity)
	require.NoError(t, err)
	require.True(t, known)
	require.True(t, has)
	require.Contains(t, why(), "asked each night")

	// Moodle down: nothing known from this question, and the last answer stands.
	site.SetStatus(503)
	known, _, err = svc.CheckCourseCriteria(ctx, activity)
	require.Error(t, err)
	require.False(t, known)
	stored, has, err := svc.CourseCriteria(ctx, activity)
	require.NoError(t, err)
	require.True(t, stored)
	require.True(t, has)
}
