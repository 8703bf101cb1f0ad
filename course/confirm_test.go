package course_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/lti"
)

// advance moves the clock on by d and returns the new time.
func (b *testBundle) advance(d time.Duration) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(d)
	return b.now
}

// confirmedAt is when the membership was last confirmed; nil when a roster read no
// longer listed the person.
func (b *testBundle) confirmedAt(t *testing.T, userID, courseID int64) *time.Time {
	t.Helper()
	var at *time.Time
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT confirmed_at FROM memberships WHERE user_id = $1 AND course_id = $2`,
		userID, courseID).Scan(&at))
	if at != nil {
		utc := at.UTC()
		at = &utc
	}
	return at
}

// A membership is confirmed by the platform's word about it: a person's own launch
// or a roster read that lists them, each at most once a day, so the common launch and
// the hourly read of an unchanged roster write nothing. A roster read that does not
// list them leaves the membership but ends its confirmation, which only a launch gives
// back. Supervision of reflections counts on this (reflection.SupervisionLapsesAfter).
func TestMembershipConfirmation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	first := b.clock()
	lena := b.launch()
	rec := b.record(t, lena)
	require.Equal(t, &first, b.confirmedAt(t, rec.UserID, rec.CourseID), "the first launch confirms")
	eddie := b.launch()
	eddie.Subject, eddie.Name, eddie.Roles = "3", "Eddie Educator", []lti.Role{lti.RoleEducator}
	eddieRec := b.record(t, eddie)

	roster := func(listed ...course.RosterMember) {
		t.Helper()
		_, err := b.svc.ApplyRoster(ctx, rec.CourseID, listed)
		require.NoError(t, err)
	}
	lenaListed := course.RosterMember{Subject: "4", Name: "Lena Learner", Roles: []lti.Role{lti.RoleLearner}, Active: true}
	eddieListed := course.RosterMember{Subject: "3", Name: "Eddie Educator", Roles: []lti.Role{lti.RoleEducator}, Active: true}

	steps := []struct {
		name string
		do   func() time.Time // returns the time the step ran at
		// want is Lena's confirmation after the step, as an offset from the step's
		// time; nil for none. wantWrite says whether her membership row was written.
		want      *time.Duration
		wantWrite bool
	}{
		{"an unchanged launch within the day writes nothing", func() time.Time {
			at := b.advance(23 * time.Hour)
			b.record(t, lena)
			return at
		}, ptr(-23 * time.Hour), false},
		{"a launch a day after the last confirmation confirms again", func() time.Time {
			at := b.advance(2 * time.Hour)
			b.record(t, lena)
			return at
		}, ptr(time.Duration(0)), true},
		{"a roster read within the day of her last confirmation writes nothing", func() time.Time {
			at := b.advance(time.Hour)
			roster(lenaListed, eddieListed)
			return at
		}, ptr(-time.Hour), false},
		{"a roster read that lists her a day after confirms", func() time.Time {
			at := b.advance(24 * time.Hour)
			roster(lenaListed, eddieListed)
			return at
		}, ptr(time.Duration(0)), true},
		{"a roster read that does not list her ends the confirmation", func() time.Time {
			at := b.advance(time.Hour)
			roster(eddieListed)
			return at
		}, nil, true},
		{"her next launch confirms again, however soon", func() time.Time {
			at := b.advance(time.Minute)
			b.record(t, lena)
			return at
		}, ptr(time.Duration(0)), true},
	}
	for _, s := range steps {
		before := b.membership(t, rec.UserID, rec.CourseID)
		at := s.do()
		after := b.membership(t, rec.UserID, rec.CourseID)
		got := b.confirmedAt(t, rec.UserID, rec.CourseID)
		if s.want == nil {
			require.Nil(t, got, s.name)
		} else {
			require.NotNil(t, got, s.name)
			require.Equal(t, at.Add(*s.want), *got, s.name)
		}
		require.Equal(t, s.wantWrite, before.XMin != after.XMin, "%s: row written", s.name)
		require.Equal(t, before.Roles, after.Roles, s.name)
		require.Equal(t, first, after.UpdatedAt, "%s: updated_at follows the roles only", s.name)
	}
	// Eddie, listed by every roster read, was confirmed by the last one.
	require.NotNil(t, b.confirmedAt(t, eddieRec.UserID, rec.CourseID))
}

// Roles that change confirm the membership with them, from a launch within the day
// (which would otherwise write nothing) or from a roster read.
func TestRoleChangeConfirms(t *testing.T) {
	t.Parallel()
	for _, via := range []string{"launch", "roster read"} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			l := b.launch()
			rec := b.record(t, l)
			at := b.advance(time.Hour)
			if via == "launch" {
				l.Roles = []lti.Role{lti.RoleEducator}
				b.record(t, l)
			} else {
				_, err := b.svc.ApplyRoster(t.Context(), rec.CourseID, []course.RosterMember{
					{Subject: "4", Roles: []lti.Role{lti.RoleEducator}, Active: true}})
				require.NoError(t, err)
			}
			m := b.membership(t, rec.UserID, rec.CourseID)
			require.Equal(t, []string{"educator"}, m.Roles)
			require.Equal(t, at, m.UpdatedAt)
			require.Equal(t, &at, b.confirmedAt(t, rec.UserID, rec.CourseID))
		})
	}
}
