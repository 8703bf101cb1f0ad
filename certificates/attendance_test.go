package certificates_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/programme"
)

// attendanceFake answers AttendedOf from fixed figures.
type attendanceFake struct{ attended, sessions int }

func (f *attendanceFake) AttendedOf(context.Context, int64, int64) (int, int, error) {
	return f.attended, f.sessions, nil
}

// attending is the rules bundle with a teaching programme in the course, and one in
// another course.
type attending struct {
	*rules
	prog, otherProg int64
	queue           *insertRecorder
}

func setupAttending(t *testing.T, att certificates.Attendance) *attending {
	t.Helper()
	a := &attending{rules: setupRules(t), queue: &insertRecorder{}}
	require.NoError(t, a.pool.QueryRow(a.ctx, `
INSERT INTO activities (course_id, resource_link_id, title, kind) VALUES ($1, 'prog', 'FY1 teaching', 'teaching_programme') RETURNING id`,
		a.course).Scan(&a.prog))
	require.NoError(t, a.pool.QueryRow(a.ctx, `
INSERT INTO activities (course_id, resource_link_id, title, kind)
SELECT id, 'prog2', 'Other teaching', 'teaching_programme' FROM courses WHERE context_id = 'c2' RETURNING id`).Scan(&a.otherProg))
	a.svc = certificates.NewService(a.pool, a.keys, a.base, certificates.Options{Now: a.clock.Now,
		Reflections: a.f, Boards: a.f, Feedback: a.f, Completion: a.f, Grader: a.f, Attendance: att, Queue: a.queue,
		Kinds: certificates.TargetKinds{ReflectionLogs: []string{"reflection_log"}, Boards: []string{"discussion_board"},
			Feedback: []string{"feedback"}, Programmes: []string{programme.KindProgramme}}})
	return a
}

func TestAttendanceRequirementIsMetOrSaysWhyNot(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		kind               certificates.RequirementKind
		count              int
		attended, sessions int
		met                bool
		why                string
	}{
		"sessions, short":         {certificates.AttendedSessions, 3, 2, 10, false, "2 of 3 sessions attended so far."},
		"sessions, met":           {certificates.AttendedSessions, 3, 3, 10, true, ""},
		"percent, met exactly":    {certificates.AttendedPercent, 75, 3, 4, true, ""},
		"percent, short":          {certificates.AttendedPercent, 75, 2, 4, false, "2 of the programme's 4 sessions attended (50%); 75% needed."},
		"percent, just short":     {certificates.AttendedPercent, 75, 47, 63, false, "47 of the programme's 63 sessions attended (74%); 75% needed."},
		"percent, no sessions":    {certificates.AttendedPercent, 50, 0, 0, false, "The teaching programme has no sessions yet."},
		"percent, one of a third": {certificates.AttendedPercent, 33, 1, 3, true, ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := setupAttending(t, &attendanceFake{attended: tc.attended, sessions: tc.sessions})
			a.save(t, certificates.Requirement{Kind: tc.kind, Activity: a.prog, Count: tc.count})
			d, err := a.svc.DefinitionOf(a.ctx, a.activity)
			require.NoError(t, err)
			checks, err := a.svc.Evaluate(a.ctx, d, a.learner, false)
			require.NoError(t, err)
			require.Len(t, checks, 1)
			require.Equal(t, tc.met, checks[0].Met)
			require.Equal(t, tc.why, checks[0].Why)
			_, issued, err := a.svc.IssueIfEligible(a.ctx, a.activity, a.learner, false)
			require.NoError(t, err)
			require.Equal(t, tc.met, issued)
		})
	}
}

func TestSaveDefinitionChecksAttendanceRequirements(t *testing.T) {
	t.Parallel()
	a := setupAttending(t, &attendanceFake{})
	for name, tc := range map[string]struct {
		req  certificates.Requirement
		want string
	}{
		"a board is not a programme":   {certificates.Requirement{Kind: certificates.AttendedSessions, Activity: a.board, Count: 2}, "not a teaching programme"},
		"another course's programme":   {certificates.Requirement{Kind: certificates.AttendedSessions, Activity: a.otherProg, Count: 2}, "of this course"},
		"no activity":                  {certificates.Requirement{Kind: certificates.AttendedPercent, Count: 50}, "of this course"},
		"itself":                       {certificates.Requirement{Kind: certificates.AttendedSessions, Activity: a.activity, Count: 1}, "its own completion"},
		"no sessions":                  {certificates.Requirement{Kind: certificates.AttendedSessions, Activity: a.prog}, "between 1 and 500"},
		"too many sessions":            {certificates.Requirement{Kind: certificates.AttendedSessions, Activity: a.prog, Count: 501}, "between 1 and 500"},
		"more than all of them":        {certificates.Requirement{Kind: certificates.AttendedPercent, Activity: a.prog, Count: 101}, "between 1 and 100"},
		"a programme for a board rule": {certificates.Requirement{Kind: certificates.BoardPosts, Activity: a.prog, Count: 1}, "not the kind"},
	} {
		t.Run(name, func(t *testing.T) {
			d := a.definition()
			d.Requirements = []certificates.Requirement{tc.req}
			err := a.svc.SaveDefinition(a.ctx, a.platform, 0, d)
			var inv *certificates.InvalidError
			require.ErrorAs(t, err, &inv)
			require.Contains(t, inv.Message, tc.want)
		})
	}
	a.save(t, certificates.Requirement{Kind: certificates.AttendedPercent, Activity: a.prog, Count: 80})
	d, err := a.svc.DefinitionOf(a.ctx, a.activity)
	require.NoError(t, err)
	require.Equal(t, "Attend at least 80% of the sessions of the chosen teaching programme", d.Requirements[0].Label())
	targets, err := a.svc.Targets(a.ctx, a.activity)
	require.NoError(t, err)
	found := false
	for _, tg := range targets {
		found = found || tg.ID == a.prog
		require.NotEqual(t, a.otherProg, tg.ID)
	}
	require.True(t, found, "the form offers the course's programme")
}

// The real programme service, with certificates following its attendance: the check
// queued by the attendance that completes the requirement issues the certificate.
func TestCertificateIsIssuedAfterTheAttendanceThatCompletesIt(t *testing.T) {
	t.Parallel()
	a := setupAttending(t, nil)
	// Each service needs the other, as in app: the follower reads a.svc when called.
	progs := programme.NewService(a.pool, programme.Options{Now: a.clock.Now,
		Follower: func(ctx context.Context, tx pgx.Tx, programmeID int64, users []int64) error {
			return a.svc.FollowAttendance(ctx, tx, programmeID, users)
		}})
	a.svc = certificates.NewService(a.pool, a.keys, a.base, certificates.Options{Now: a.clock.Now,
		Completion: a.f, Grader: a.f, Attendance: progs, Queue: a.queue,
		Kinds: certificates.TargetKinds{Programmes: []string{programme.KindProgramme}}})
	prog := course.Activity{ID: a.prog, CourseID: a.course, Kind: programme.KindProgramme}
	session := func(date string) int64 {
		ids, err := progs.Create(a.ctx, prog, programme.Draft{Title: "Teaching", Date: date, StartTime: "09:00", EndTime: "10:00"})
		require.NoError(t, err)
		return ids[0]
	}
	first, second, third := session("2026-03-09"), session("2026-03-16"), session("2026-03-23")
	a.save(t, certificates.Requirement{Kind: certificates.AttendedSessions, Activity: a.prog, Count: 2})
	check := certificates.NewCheckWorker(a.svc)
	work := func() []certificates.CheckArgs {
		var ran []certificates.CheckArgs
		for _, j := range a.queue.args {
			args := j.(certificates.CheckArgs)
			require.NoError(t, check.Work(a.ctx, &river.Job[certificates.CheckArgs]{Args: args}))
			ran = append(ran, args)
		}
		a.queue.args = nil
		return ran
	}
	issued := func(user int64) bool {
		mine, err := a.svc.Mine(a.ctx, user)
		require.NoError(t, err)
		return len(mine) == 1
	}

	require.NoError(t, progs.MarkAttendance(a.ctx, prog, first, []int64{a.learner}))
	require.Equal(t, []certificates.CheckArgs{{ActivityID: a.activity, UserID: a.learner, Moodle: true}}, work(),
		"only the learner whose attendance changed is checked")
	require.False(t, issued(a.learner), "one session of two")

	require.NoError(t, progs.MarkAttendance(a.ctx, prog, second, []int64{a.learner, a.learner2}))
	require.Len(t, work(), 2)
	require.True(t, issued(a.learner), "issued after the attendance that completes it")
	require.False(t, issued(a.learner2))
	require.NoError(t, progs.MarkAttendance(a.ctx, prog, third, []int64{a.learner, a.learner2}))
	require.Equal(t, []certificates.CheckArgs{{ActivityID: a.activity, UserID: a.learner2, Moodle: true}}, work(),
		"a learner who holds the certificate is not checked again")
	require.True(t, issued(a.learner2))

	// A percentage: a cancellation can complete it, and checks everyone.
	a.save(t, certificates.Requirement{Kind: certificates.AttendedPercent, Activity: a.prog, Count: 100})
	_, err := a.pool.Exec(a.ctx, `DELETE FROM certificates`)
	require.NoError(t, err)
	require.NoError(t, progs.MarkAttendance(a.ctx, prog, first, nil))
	require.Equal(t, []certificates.CheckArgs{{ActivityID: a.activity, UserID: a.learner, Moodle: true}}, work())
	d, err := a.svc.DefinitionOf(a.ctx, a.activity)
	require.NoError(t, err)
	checks, err := a.svc.Evaluate(a.ctx, d, a.learner, false)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(checks[0].Why, "2 of the programme's 3 sessions attended (66%)"), checks[0].Why)
	require.NoError(t, progs.Cancel(a.ctx, prog, first))
	require.Len(t, work(), 2)
	require.True(t, issued(a.learner))
	require.True(t, issued(a.learner2))
}
