package app_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/feedback"
)

// TestFeedbackForEverySessionAttendedEndToEnd wires the real programme and feedback
// services into the certificate rule: a learner attends two sessions linked to one
// feedback form (and one that links none, which does not count); feedback sent for a
// session counts only from the release that writes it into the results, never at
// submission; and once both sessions' feedback is released the requirement is met.
func TestFeedbackForEverySessionAttendedEndToEnd(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ctx := t.Context()
	db := a.Pool
	var platform, courseID int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url)
VALUES ('https://moodle.example', 'h', 'https://moodle.example/a', 'https://moodle.example/t', 'https://moodle.example/k')
RETURNING id`).Scan(&platform))
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO courses (platform_id, deployment_id, context_id, title)
VALUES ($1, '1', 'c', 'FY1') RETURNING id`, platform).Scan(&courseID))
	activity := func(link, kind string) course.Activity {
		act := course.Activity{CourseID: courseID, PlatformID: platform, Kind: kind, Title: link}
		require.NoError(t, db.QueryRow(ctx, `INSERT INTO activities (course_id, resource_link_id, title, kind)
VALUES ($1, $2, $2, $3) RETURNING id`, courseID, link, kind).Scan(&act.ID))
		return act
	}
	prog, form, cert := activity("prog", "teaching_programme"), activity("form", feedback.KindSessionFeedback),
		activity("cert", certificates.KindCertificate)
	var learners []int64
	for i := range 3 {
		var id int64
		require.NoError(t, db.QueryRow(ctx, `INSERT INTO users (platform_id, subject, name) VALUES ($1, $2, $3) RETURNING id`,
			platform, fmt.Sprint(100+i), fmt.Sprintf("Learner %d", i)).Scan(&id))
		_, err := db.Exec(ctx, `INSERT INTO memberships (user_id, course_id, roles) VALUES ($1, $2, '{learner}')`, id, courseID)
		require.NoError(t, err)
		learners = append(learners, id)
	}
	start := time.Now().Add(-48 * time.Hour).Truncate(time.Hour)
	var sessions []int64
	for i, link := range []any{form.ID, form.ID, nil} {
		var id int64
		at := start.Add(time.Duration(i) * 3 * time.Hour)
		require.NoError(t, db.QueryRow(ctx, `INSERT INTO programme_sessions (activity_id, uid, title, starts_at, ends_at,
    feedback_activity_id, created_at, updated_at) VALUES ($1, $2, 'Teaching', $3, $4, $5, $3, $3) RETURNING id`,
			prog.ID, fmt.Sprint("u", i), at, at.Add(time.Hour), link).Scan(&id))
		require.NoError(t, a.Programmes.MarkAttendance(ctx, prog, id, learners))
		sessions = append(sessions, id)
	}

	_, err := a.Feedback.Form(ctx, form)
	require.NoError(t, err)
	require.NoError(t, a.Feedback.Open(ctx, form.ID, nil)) // threshold 5 by default; three learners
	d := certificates.Definition{ActivityID: cert.ID, Title: "FY1 teaching", Organisation: "Trust",
		Requirements: []certificates.Requirement{{Kind: certificates.FeedbackEverySession, Activity: prog.ID}}}
	require.NoError(t, a.Certificates.SaveDefinition(ctx, platform, 0, d))
	why := func() (bool, string) {
		checks, err := a.Certificates.Evaluate(ctx, d, learners[0], false)
		require.NoError(t, err)
		require.Len(t, checks, 1)
		return checks[0].Met, checks[0].Why
	}
	met, reason := why()
	require.False(t, met)
	require.Contains(t, reason, "2 of 2 sessions attended", "the session with no form does not count")

	answers := feedback.Answers{"overall": {Rating: 4}, "relevance": {Rating: 4}, "teaching": {Rating: 4}}
	for _, u := range learners {
		require.NoError(t, a.Feedback.SendFor(ctx, form.ID, sessions[0], u, answers))
		require.NoError(t, a.Feedback.SendFor(ctx, form.ID, sessions[1], u, answers))
	}
	met, reason = why()
	require.False(t, met, "sent is not given: nothing counts at submission")
	require.Contains(t, reason, "2 of 2")
	_, err = a.Feedback.Release(ctx)
	require.NoError(t, err)
	met, _ = why()
	require.False(t, met, "three of five: no batch yet")

	// The close releases both sessions' three, untagged (fewer than the threshold),
	// and every sender's feedback on each session counts as given.
	require.NoError(t, a.Feedback.Close(ctx, form.ID))
	met, reason = why()
	require.True(t, met, reason)
}
