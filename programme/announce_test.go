package programme_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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

	sentA, err := svc.Announce(ctx, w.prog, "Room change", "Thursday's teaching is in the lecture theatre.", "")
	require.NoError(t, err)
	require.Equal(t, 2, sentA.Recipients)
	sent := notes.take()
	require.Equal(t, map[int64]int{w.learner: 1, w.learner2: 1}, recipients(sent))
	require.Equal(t, w.prog.ID, sent[0].ActivityID)

	// Only F2, and those following no grade: learner follows F1.
	_, err = svc.CreateFeed(ctx, w.learner, "F1")
	require.NoError(t, err)
	sentF2, err := svc.Announce(ctx, w.prog, "F2 teaching", "Simulation on Friday.", "f2")
	require.NoError(t, err)
	require.Equal(t, 1, sentF2.Recipients)
	require.Equal(t, map[int64]int{w.learner2: 1}, recipients(notes.take()))

	unread := func(courseID, userID int64) []string {
		t.Helper()
		list, err := svc.UnreadInCourse(ctx, courseID, userID)
		require.NoError(t, err)
		var subjects []string
		for _, an := range list {
			subjects = append(subjects, an.Subject)
		}
		return subjects
	}
	require.Equal(t, []string{"F2 teaching", "Room change"}, unread(w.courseA, w.learner2), "newest first")
	require.Equal(t, []string{"Room change"}, unread(w.courseA, w.learner), "not the F2 one: outside its audience")
	require.Empty(t, unread(w.courseA, w.educator), "educators are not its audience")
	require.Empty(t, unread(w.courseB, w.learner), "another course of the same learner shows nothing")
	require.Empty(t, unread(w.courseOther, w.outsider))

	// Someone who joins the course later was not sent it, and is not shown it.
	late := w.user(t, w.site, "dev", "Dev Learner")
	w.enrol(t, late, w.courseA, "{learner}")
	require.Empty(t, unread(w.courseA, late))

	require.NoError(t, svc.MarkRead(ctx, w.courseA, sentF2.ID, w.learner2))
	require.NoError(t, svc.MarkRead(ctx, w.courseB, sentA.ID, w.learner2), "another course's id does nothing")
	require.NoError(t, svc.MarkRead(ctx, w.courseA, sentF2.ID, w.learner), "an announcement not sent to them does nothing")
	require.Equal(t, []string{"Room change"}, unread(w.courseA, w.learner2))
	require.Equal(t, []string{"Room change"}, unread(w.courseA, w.learner), "one person's read is theirs alone")
	require.NoError(t, svc.MarkRead(ctx, w.courseA, sentF2.ID, w.learner2), "twice is harmless")

	// A page shows a handful at a time; reading one brings the next.
	for i := range programme.MaxUnreadShown + 2 {
		_, err := svc.Announce(ctx, w.prog, "Notice "+string(rune('a'+i)), "Text.", "")
		require.NoError(t, err)
	}
	require.Len(t, unread(w.courseA, w.learner), programme.MaxUnreadShown)
}

// The query every page of a course runs is one range of the partial index, not a
// scan of every announcement anyone was sent.
func TestUnreadUsesTheIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	tx, err := w.db.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	// A few rows would be read by a sequential scan whatever the indexes: forbid it,
	// as the planner would with the table a real site grows.
	_, err = tx.Exec(ctx, `SET LOCAL enable_seqscan = off`)
	require.NoError(t, err)
	rows, err := tx.Query(ctx, `EXPLAIN (COSTS OFF) `+programme.UnreadInCourseSQL, w.learner, w.courseA, 5)
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, strings.Join(lines, "\n"), "programme_announcement_recipients_unread", strings.Join(lines, "\n"))
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
