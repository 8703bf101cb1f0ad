package programme_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/programme"
)

func TestAnnouncements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	notes := &recordingNotifier{}
	svc := programme.NewService(w.db, programme.Options{Now: w.clock.Now, Notifier: notes})

	for _, tc := range []struct {
		name, subject, body, grade string
		field                      string
		guard                      bool
	}{
		{"no subject", " ", "Room change.", "", "subject", false},
		{"no text", "Room change", "", "", "body", false},
		{"too long for a message", "Room change", string(make([]rune, 901)), "", "body", false},
		{"an unknown grade", "Room change", "Now in room 2.", "FY3", "grade", false},
		{"a patient's NHS number", "Room change", "Bring the notes for " + nhsNumber + ".", "", "body", true},
		{"a patient's name", "About Mrs Jones", "Room 2.", "", "subject", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Announce(ctx, w.prog, tc.subject, tc.body, tc.grade)
			if tc.guard {
				var ge *programme.GuardError
				require.ErrorAs(t, err, &ge)
				require.Contains(t, ge.Findings, tc.field)
			} else {
				var ie *programme.InvalidError
				require.ErrorAs(t, err, &ie)
				require.Equal(t, tc.field, ie.Field)
			}
		})
	}
	require.Empty(t, notes.take(), "nothing sent")
	require.Zero(t, w.count(t, `SELECT count(*) FROM programme_announcements`), "nothing stored")

	n, err := svc.Announce(ctx, w.prog, "Room change", "Thursday's teaching is in the lecture theatre.", "")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	sent := notes.take()
	require.Equal(t, map[int64]int{w.learner: 1, w.learner2: 1}, recipients(sent))
	require.Equal(t, w.prog.ID, sent[0].ActivityID)

	// Only F2, and those following no grade: learner follows F1.
	_, err = svc.CreateFeed(ctx, w.learner, "F1")
	require.NoError(t, err)
	n, err = svc.Announce(ctx, w.prog, "F2 teaching", "Simulation on Friday.", "f2")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, map[int64]int{w.learner2: 1}, recipients(notes.take()))

	unread, err := svc.Unread(ctx, w.prog.ID, w.learner2)
	require.NoError(t, err)
	require.Len(t, unread, 2)
	require.Equal(t, "F2 teaching", unread[0].Subject, "newest first")
	require.NoError(t, svc.MarkRead(ctx, w.prog.ID, unread[0].ID, w.learner2))
	require.NoError(t, svc.MarkRead(ctx, w.progB.ID, unread[1].ID, w.learner2), "another programme's id does nothing")
	unread, err = svc.Unread(ctx, w.prog.ID, w.learner2)
	require.NoError(t, err)
	require.Len(t, unread, 1)
	require.Equal(t, "Room change", unread[0].Subject)
}

// A change within a day of a session also goes out as a Moodle message: calendar apps
// may not pick it up in time.
func TestChangesWithinADayAreAnnounced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	notes := &recordingNotifier{}
	svc := programme.NewService(w.db, programme.Options{Now: w.clock.Now, Notifier: notes})
	w.clock.Set(time.Date(2026, 3, 30, 8, 0, 0, 0, time.UTC)) // 09:00 in London
	create := func(date, from, to string) int64 {
		ids, err := svc.Create(ctx, w.prog, draft("Sepsis", date, from, to))
		require.NoError(t, err)
		return ids[0]
	}
	tomorrow := create("2026-03-31", "08:30", "09:30")
	nextWeek := create("2026-04-06", "09:00", "10:00")
	require.Empty(t, notes.take(), "creating announces nothing")

	require.NoError(t, svc.Update(ctx, w.prog, tomorrow, draft("Sepsis", "2026-03-31", "08:45", "09:45")))
	sent := notes.take()
	require.Equal(t, map[int64]int{w.learner: 1, w.learner2: 1}, recipients(sent))
	require.Equal(t, "Changed: Sepsis, Tue 31 Mar 08:45", sent[0].Subject)

	require.NoError(t, svc.Update(ctx, w.prog, nextWeek, draft("Sepsis", "2026-04-07", "09:00", "10:00")))
	require.Empty(t, notes.take(), "a week away: calendars have time")

	// Moved from tomorrow to next week: those expecting it tomorrow are told.
	require.NoError(t, svc.Update(ctx, w.prog, tomorrow, draft("Sepsis", "2026-04-08", "10:00", "11:00")))
	require.Len(t, notes.take(), 2)

	today := create("2026-03-30", "13:00", "14:00")
	require.NoError(t, svc.Cancel(ctx, w.prog, today))
	sent = notes.take()
	require.Len(t, sent, 2)
	require.Equal(t, "Cancelled: Sepsis, Mon 30 Mar 13:00", sent[0].Subject)
}
