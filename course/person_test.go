package course_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/lti"
)

// TestFindPerson: a person is found by platform and subject; the same subject on
// another Moodle site is someone else.
func TestFindPerson(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lena := b.record(t, b.launch())
	other := b.launch()
	other.PlatformID, other.Name = b.moodleB, "Someone Else"
	b.record(t, other)

	tests := []struct {
		name     string
		platform int64
		subject  string
		want     int64
		found    bool
	}{
		{"the person", b.moodleA, "4", lena.UserID, true},
		{"an unknown subject", b.moodleA, "5", 0, false},
		{"an unknown platform", 9999, "4", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, ok, err := b.svc.FindPerson(t.Context(), tc.platform, tc.subject)
			require.NoError(t, err)
			require.Equal(t, tc.found, ok)
			require.Equal(t, tc.want, id)
		})
	}
	id, ok, err := b.svc.FindPerson(t.Context(), b.moodleB, "4")
	require.NoError(t, err)
	require.True(t, ok)
	require.NotEqual(t, lena.UserID, id, "the same subject on another site is another person")

	err = pgx.BeginFunc(t.Context(), b.pool, func(tx pgx.Tx) error {
		id, ok, err := b.svc.LockPerson(t.Context(), tx, b.moodleA, "4")
		require.True(t, ok)
		require.Equal(t, lena.UserID, id)
		return err
	})
	require.NoError(t, err)
}

func TestPersonalData(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lena := b.record(t, b.launch())
	second := b.launch()
	second.ContextID, second.ContextTitle, second.ContextLabel, second.ResourceLinkID = "3", "Core Training", "CT", "13"
	second.Roles = []lti.Role{lti.RoleLearner, lti.RoleMentor}
	b.record(t, second)
	someoneElse := b.launch()
	someoneElse.Subject, someoneElse.Name, someoneElse.Email = "9", "Ola Other", "ola@example.com"
	b.record(t, someoneElse)

	d, err := b.svc.PersonalData(t.Context(), lena.UserID)
	require.NoError(t, err)
	require.Equal(t, lena.UserID, d.HuddleUserID)
	require.Equal(t, "https://moodle.trust-a.example", d.Platform)
	require.Equal(t, "4", d.MoodleUserID)
	require.Equal(t, "Lena Learner", d.Name)
	require.Equal(t, "learner1@example.com", d.Email)
	require.Equal(t, []course.PersonalMembership{
		{Course: "Core Training", Label: "CT", Roles: []string{"learner", "mentor"}, UpdatedAt: b.clock()},
		{Course: "Foundation Teaching Programme", Label: "FTP1", Roles: []string{"learner"}, UpdatedAt: b.clock()},
	}, normalise(d.Courses))

	_, err = b.svc.PersonalData(t.Context(), 424242)
	require.ErrorIs(t, err, course.ErrNotFound)
}

func normalise(ms []course.PersonalMembership) []course.PersonalMembership {
	for i := range ms {
		ms[i].UpdatedAt = ms[i].UpdatedAt.UTC()
	}
	return ms
}

// TestErasePerson: the memberships and the users row go; nobody else's; a relaunch
// by the same Moodle user afterwards is a new person; a rolled-back erasure changes
// nothing.
func TestErasePerson(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lena := b.record(t, b.launch())
	someoneElse := b.launch()
	someoneElse.Subject, someoneElse.Name = "9", "Ola Other"
	ola := b.record(t, someoneElse)

	// A rolled-back erasure leaves everything as it was.
	rollback := errors.New("changed my mind")
	err := pgx.BeginFunc(t.Context(), b.pool, func(tx pgx.Tx) error {
		e, err := b.svc.ErasePerson(t.Context(), tx, lena.UserID)
		require.NoError(t, err)
		require.Equal(t, course.Erased{Memberships: 1, Users: 1}, e)
		return rollback
	})
	require.ErrorIs(t, err, rollback)
	require.Equal(t, 2, b.count(t, "users"))

	err = pgx.BeginFunc(t.Context(), b.pool, func(tx pgx.Tx) error {
		_, err := b.svc.ErasePerson(t.Context(), tx, lena.UserID)
		return err
	})
	require.NoError(t, err)
	_, ok, err := b.svc.FindPerson(t.Context(), b.moodleA, "4")
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, 1, b.count(t, "users"))
	require.Equal(t, 1, b.count(t, "memberships"))
	require.Equal(t, "Ola Other", b.user(t, ola.UserID).Name)

	// Erasing again finds nobody.
	err = pgx.BeginFunc(t.Context(), b.pool, func(tx pgx.Tx) error {
		_, err := b.svc.ErasePerson(t.Context(), tx, lena.UserID)
		return err
	})
	require.ErrorIs(t, err, course.ErrNotFound)

	again := b.record(t, b.launch())
	require.NotEqual(t, lena.UserID, again.UserID, "a launch after an erasure makes a new user")
	require.Equal(t, lena.CourseID, again.CourseID, "the course was never the person's")
	require.Equal(t, lena.ActivityID, again.ActivityID)
}
