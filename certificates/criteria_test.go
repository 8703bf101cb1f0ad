package certificates_test

import (
	"strings"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
)

// whyMoodle is the learner's reason for the course completion requirement on the
// educator's page, which never asks Moodle.
func (r *rules) whyMoodle(t *testing.T, user int64) string {
	t.Helper()
	progress, err := r.svc.Learners(r.ctx, r.activity)
	require.NoError(t, err)
	for _, p := range progress {
		if p.UserID != user {
			continue
		}
		for _, c := range p.Checks {
			if c.Requirement.Kind == certificates.MoodleCompletion {
				return c.Why
			}
		}
	}
	t.Fatalf("no course completion check for %d", user)
	return ""
}

func TestACourseWithNoCompletionCriteriaSaysSoOnceMoodleHasSaidIt(t *testing.T) {
	t.Parallel()
	r := setupRules(t)
	r.save(t, certificates.Requirement{Kind: certificates.BoardPosts, Activity: r.board, Count: 3},
		certificates.Requirement{Kind: certificates.MoodleCompletion})
	known, _, err := r.svc.CourseCriteria(r.ctx, r.activity)
	require.NoError(t, err)
	require.False(t, known, "not asked yet")
	require.Contains(t, r.whyMoodle(t, r.learner), "asked each night")

	// Asked when the educator saves the settings: no criteria, said at once for every
	// learner, though none meets the other requirements (so none was asked about).
	r.f.noCriteria = true
	known, has, err := r.svc.CheckCourseCriteria(r.ctx, r.activity)
	require.NoError(t, err)
	require.True(t, known)
	require.False(t, has)
	require.Equal(t, 1, r.f.moodleAsks, "one question about one learner")
	for _, u := range []int64{r.learner, r.learner2} {
		require.Contains(t, r.whyMoodle(t, u), "no completion criteria")
	}
	require.Equal(t, 1, r.f.moodleAsks, "the page does not ask Moodle")

	// The educator sets criteria in Moodle; the nightly sweep asks again and the note goes.
	r.f.noCriteria = false
	q := &insertRecorder{}
	require.NoError(t, certificates.NewSweepWorker(r.svc, q).Work(r.ctx, &river.Job[certificates.SweepArgs]{Args: certificates.SweepArgs{Moodle: true}}))
	require.Equal(t, 2, r.f.moodleAsks)
	require.Contains(t, r.whyMoodle(t, r.learner), "asked each night")
	// Once it has some, the nightly sweep leaves the course alone.
	require.NoError(t, certificates.NewSweepWorker(r.svc, q).Work(r.ctx, &river.Job[certificates.SweepArgs]{Args: certificates.SweepArgs{Moodle: true}}))
	require.Equal(t, 2, r.f.moodleAsks)

	// A learner's check learns it too: Moodle answers "none" when asked about a learner
	// who meets the rest.
	r.f.noCriteria = true
	r.f.posts[r.learner] = 3
	_, issued, err := r.svc.IssueIfEligible(r.ctx, r.activity, r.learner, true)
	require.NoError(t, err)
	require.False(t, issued)
	require.True(t, strings.Contains(r.whyMoodle(t, r.learner2), "no completion criteria"), "and the whole page says so")
}

func TestCourseCriteriaAreNotAskedWithoutALearner(t *testing.T) {
	t.Parallel()
	r := setupRules(t)
	r.save(t, certificates.Requirement{Kind: certificates.MoodleCompletion})
	_, err := r.pool.Exec(r.ctx, `DELETE FROM memberships`)
	require.NoError(t, err)
	known, _, err := r.svc.CheckCourseCriteria(r.ctx, r.activity)
	require.NoError(t, err)
	require.False(t, known, "Moodle answers about criteria only for a learner it tracks")
	require.Zero(t, r.f.moodleAsks)
}
