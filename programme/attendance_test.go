package programme_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/programme"
)

func TestCheckInOnlyWhileOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	// 30 March 2026, 09:00 to 10:00 in London (BST): 08:00 to 09:00 UTC.
	id := w.create(t, w.prog, draft("Sepsis", "2026-03-30", "09:00", "10:00"))
	other := w.create(t, w.prog, draft("AKI", "2026-03-31", "09:00", "10:00"))

	_, err := w.svc.StartCheckIn(ctx, w.prog, id, 5*time.Hour)
	var ie *programme.InvalidError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "grace", ie.Field)
	code, err := w.svc.StartCheckIn(ctx, w.prog, id, 15*time.Minute)
	require.NoError(t, err)
	require.Len(t, code, 6)
	otherCode, err := w.svc.StartCheckIn(ctx, w.prog, other, 0)
	require.NoError(t, err)

	typed := strings.ToLower(code[:3]) + " " + code[3:]
	for _, tc := range []struct {
		name string
		at   time.Time
		code string
		err  error
	}{
		{"before it starts", time.Date(2026, 3, 30, 7, 59, 0, 0, time.UTC), code, programme.ErrCheckInClosed},
		{"a wrong code", time.Date(2026, 3, 30, 8, 30, 0, 0, time.UTC), "AAAAAA", programme.ErrWrongCode},
		{"too short", time.Date(2026, 3, 30, 8, 30, 0, 0, time.UTC), code[:5], programme.ErrWrongCode},
		{"another programme's session's code", time.Date(2026, 3, 30, 8, 30, 0, 0, time.UTC), "", programme.ErrWrongCode},
		{"during, as people type it", time.Date(2026, 3, 30, 8, 30, 0, 0, time.UTC), typed, nil},
		{"again", time.Date(2026, 3, 30, 8, 40, 0, 0, time.UTC), code, nil},
		{"in the grace period", time.Date(2026, 3, 30, 9, 15, 0, 0, time.UTC), code, nil},
		{"after the grace period", time.Date(2026, 3, 30, 9, 15, 1, 0, time.UTC), code, programme.ErrCheckInClosed},
		{"the other session's code, on the wrong day", time.Date(2026, 3, 30, 8, 30, 0, 0, time.UTC), otherCode, programme.ErrCheckInClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.clock.Set(tc.at)
			c := tc.code
			if tc.name == "another programme's session's code" {
				bID := w.create(t, w.progB, draft("CT", "2026-03-30", "09:00", "10:00"))
				c, err = w.svc.StartCheckIn(ctx, w.progB, bID, 0)
				require.NoError(t, err)
			}
			_, err := w.svc.CheckIn(ctx, w.prog, w.learner, c)
			if tc.err == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.err)
			}
		})
	}
	n, err := w.svc.Attended(ctx, w.prog.ID, w.learner)
	require.NoError(t, err)
	require.Equal(t, 1, n, "checking in twice counts once")

	// A new code replaces the old one.
	w.clock.Set(time.Date(2026, 3, 30, 8, 30, 0, 0, time.UTC))
	newCode, err := w.svc.StartCheckIn(ctx, w.prog, id, 0)
	require.NoError(t, err)
	if newCode != code {
		_, err = w.svc.CheckIn(ctx, w.prog, w.learner2, code)
		require.ErrorIs(t, err, programme.ErrWrongCode)
	}
	// A cancelled session takes no check-ins and no new code.
	require.NoError(t, w.svc.Cancel(ctx, w.prog, id))
	_, err = w.svc.CheckIn(ctx, w.prog, w.learner2, newCode)
	require.ErrorIs(t, err, programme.ErrCheckInClosed)
	_, err = w.svc.StartCheckIn(ctx, w.prog, id, 0)
	require.ErrorIs(t, err, programme.ErrCancelled)
	n, err = w.svc.Attended(ctx, w.prog.ID, w.learner)
	require.NoError(t, err)
	require.Zero(t, n, "a cancelled session does not count")
}

func TestRegisterMarkAndCount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	w.clock.Set(time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC))
	first := w.create(t, w.prog, draft("Sepsis", "2026-03-30", "09:00", "10:00"))
	second := w.create(t, w.prog, draft("AKI", "2026-03-31", "09:00", "10:00"))
	w.create(t, w.prog, draft("Not yet", "2026-04-30", "09:00", "10:00"))

	reg, err := w.svc.Register(ctx, w.prog, first)
	require.NoError(t, err)
	require.Equal(t, []programme.Attendee{{UserID: w.learner, Name: "Ada Learner"}, {UserID: w.learner2, Name: "Ben Learner"}}, reg,
		"the course's learners only, not its educator")

	// Marked from the roster; ids of other people are ignored.
	require.NoError(t, w.svc.MarkAttendance(ctx, w.prog, first, []int64{w.learner, w.learner2, w.educator, w.outsider}))
	require.NoError(t, w.svc.MarkAttendance(ctx, w.prog, second, []int64{w.learner}))
	reg, err = w.svc.Register(ctx, w.prog, first)
	require.NoError(t, err)
	require.True(t, reg[0].Present)
	require.Equal(t, "educator", reg[0].How)
	require.True(t, reg[1].Present)
	require.Zero(t, w.count(t, `SELECT count(*) FROM programme_attendance WHERE user_id IN ($1, $2)`, w.educator, w.outsider))

	for _, tc := range []struct {
		user int64
		want int
	}{{w.learner, 2}, {w.learner2, 1}, {w.educator, 0}} {
		n, err := w.svc.Attended(ctx, w.prog.ID, tc.user)
		require.NoError(t, err)
		require.Equal(t, tc.want, n)
	}
	n, err := w.svc.Attended(ctx, w.progB.ID, w.learner)
	require.NoError(t, err)
	require.Zero(t, n, "another programme")

	// Unticking everyone empties the register.
	require.NoError(t, w.svc.MarkAttendance(ctx, w.prog, first, nil))
	n, err = w.svc.Attended(ctx, w.prog.ID, w.learner2)
	require.NoError(t, err)
	require.Zero(t, n)

	rows, err := w.svc.Attendance(ctx, w.prog)
	require.NoError(t, err)
	require.Len(t, rows, 4, "two sessions held, two learners; not the session to come")
	require.Equal(t, "Sepsis", rows[0].Title)
	require.False(t, rows[0].Present)
	require.Equal(t, "AKI", rows[2].Title)
	require.True(t, rows[2].Present)

	_, err = w.svc.Register(ctx, w.prog, w.create(t, w.progB, draft("CT", "2026-03-30", "09:00", "10:00")))
	require.ErrorIs(t, err, programme.ErrNotFound)
}
