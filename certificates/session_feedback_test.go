package certificates_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
)

// sessionsFake answers SessionFeedback: attended and lacking per learner.
type sessionsFake struct{ attended, lacking map[int64]int }

func (f sessionsFake) SessionsLackingFeedback(_ context.Context, _, user int64) (int, int, error) {
	return f.attended[user], f.lacking[user], nil
}

// setupSessionRules is setupRules with a teaching programme in the course and the
// service answering "feedback for every session attended" from sf.
func setupSessionRules(t *testing.T, sf certificates.SessionFeedback) (*rules, int64) {
	t.Helper()
	r := setupRules(t)
	var prog int64
	require.NoError(t, r.pool.QueryRow(r.ctx, `
INSERT INTO activities (course_id, resource_link_id, title, kind) VALUES ($1, 'prog', 'FY1 teaching', 'teaching_programme')
RETURNING id`, r.course).Scan(&prog))
	r.svc = certificates.NewService(r.pool, r.keys, r.base, certificates.Options{Now: r.clock.Now,
		Reflections: r.f, Boards: r.f, Feedback: r.f, Completion: r.f, Grader: r.f, SessionFeedback: sf,
		Kinds: certificates.TargetKinds{ReflectionLogs: []string{"reflection_log"}, Boards: []string{"discussion_board"},
			Feedback: []string{"feedback"}, Programmes: []string{"teaching_programme"}}})
	return r, prog
}

// TestFeedbackForEverySessionAttended: the requirement points at a teaching programme
// (nothing else), is met once every session attended has released feedback, is not
// met by attending nothing, and says how many sessions still lack feedback, never
// which.
func TestFeedbackForEverySessionAttended(t *testing.T) {
	t.Parallel()
	sf := sessionsFake{attended: map[int64]int{}, lacking: map[int64]int{}}
	r, prog := setupSessionRules(t, sf)
	req := certificates.Requirement{Kind: certificates.FeedbackEverySession, Activity: prog}

	for name, bad := range map[string]certificates.Requirement{
		"a feedback form, not a programme": {Kind: certificates.FeedbackEverySession, Activity: r.form},
		"with a count":                     {Kind: certificates.FeedbackEverySession, Activity: prog, Count: 2},
		"the certificate itself":           {Kind: certificates.FeedbackEverySession, Activity: r.activity},
	} {
		t.Run(name, func(t *testing.T) {
			d := r.definition()
			d.Requirements = []certificates.Requirement{bad}
			var invalid *certificates.InvalidError
			require.ErrorAs(t, r.svc.SaveDefinition(r.ctx, r.platform, 0, d), &invalid)
		})
	}
	r.save(t, req)
	targets, err := r.svc.Targets(r.ctx, r.activity)
	require.NoError(t, err)
	var offered bool
	for _, tg := range targets {
		offered = offered || tg.ID == prog
	}
	require.True(t, offered, "the programme is offered as a target")

	for _, tc := range []struct {
		name              string
		attended, lacking int
		met               bool
		why               string
	}{
		{"nothing attended", 0, 0, false, "No sessions of the programme attended yet."},
		{"three attended, two lacking", 3, 2, false, "Feedback not yet counted for 2 of 3 sessions attended"},
		{"three attended, one lacking", 3, 1, false, "Feedback not yet counted for 1 of 3 sessions attended"},
		{"three attended, all given", 3, 0, true, ""},
	} {
		sf.attended[r.learner], sf.lacking[r.learner] = tc.attended, tc.lacking
		d, err := r.svc.DefinitionOf(r.ctx, r.activity)
		require.NoError(t, err)
		checks, err := r.svc.Evaluate(r.ctx, d, r.learner, false)
		require.NoError(t, err, tc.name)
		require.Len(t, checks, 1)
		require.Equal(t, tc.met, checks[0].Met, tc.name)
		require.Contains(t, checks[0].Why, tc.why, tc.name)
		require.Equal(t, "Give feedback on every session attended in the chosen teaching programme", checks[0].Label)
	}
	c, issued, err := r.svc.IssueIfEligible(r.ctx, r.activity, r.learner, false)
	require.NoError(t, err)
	require.True(t, issued)
	require.NotNil(t, c)

	// Without the programme wired in, the requirement is never met.
	r2, prog2 := setupSessionRules(t, nil)
	r2.save(t, certificates.Requirement{Kind: certificates.FeedbackEverySession, Activity: prog2})
	_, issued, err = r2.svc.IssueIfEligible(r2.ctx, r2.activity, r2.learner, false)
	require.NoError(t, err)
	require.False(t, issued)
}
