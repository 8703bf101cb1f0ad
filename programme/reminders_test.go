package programme_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/programme"
)

type sentNotice struct {
	UserID, ActivityID int64
	Subject, Text      string
}

// recordingNotifier stores notices as notify would (in the caller's transaction, so a
// rolled-back reminder leaves none) and remembers them.
type recordingNotifier struct {
	mu   sync.Mutex
	sent []sentNotice
}

func (r *recordingNotifier) Notify(_ context.Context, _ pgx.Tx, userID, activityID int64, subject, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, sentNotice{userID, activityID, subject, text})
	return nil
}

func (r *recordingNotifier) take() []sentNotice {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sent
	r.sent = nil
	return out
}

func recipients(list []sentNotice) map[int64]int {
	out := map[int64]int{}
	for _, n := range list {
		out[n.UserID]++
	}
	return out
}

func TestRemindersGoOnceToWhoWantsThem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	notes := &recordingNotifier{}
	// Now: Monday 30 March 2026, 08:00 UTC (09:00 in London).
	w.clock.Set(time.Date(2026, 3, 30, 8, 0, 0, 0, time.UTC))
	require.NoError(t, w.svc.SaveSettings(ctx, w.prog, programme.Settings{ReminderBefore: time.Hour}))
	due := w.create(t, w.prog, draft("Sepsis", "2026-03-30", "09:30", "10:30"))
	w.create(t, w.prog, draft("Later", "2026-03-30", "12:00", "13:00"))
	cancelled := w.create(t, w.prog, draft("Cancelled", "2026-03-30", "09:45", "10:00"))
	require.NoError(t, w.svc.Cancel(ctx, w.prog, cancelled))
	w.create(t, w.prog, draft("Started", "2026-03-30", "08:30", "10:00"))
	w.create(t, w.progB, draft("Course B has no reminders", "2026-03-30", "09:30", "10:30"))

	n, err := w.svc.SendReminders(ctx, notes)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	sent := notes.take()
	require.Equal(t, map[int64]int{w.learner: 1, w.learner2: 1}, recipients(sent), "the course's learners, not its educator")
	require.Equal(t, w.prog.ID, sent[0].ActivityID, "the message names and links the programme")
	require.Equal(t, "Teaching: Sepsis, Mon 30 Mar 09:30", sent[0].Subject)
	require.Contains(t, sent[0].Text, "Sepsis starts at 09:30 on Monday 30 March (UK time), until 10:30. Where: Seminar room 2")

	n, err = w.svc.SendReminders(ctx, notes)
	require.NoError(t, err)
	require.Zero(t, n, "once")

	// Moved later: reminded again, at the new time.
	require.NoError(t, w.svc.Update(ctx, w.prog, due, draft("Sepsis", "2026-03-30", "09:50", "10:30")))
	n, err = w.svc.SendReminders(ctx, notes)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Contains(t, notes.take()[0].Subject, "09:50")

	// Turned off by one learner; another's calendar link asks for F2 only.
	require.NoError(t, w.svc.SetReminders(ctx, w.prog, w.learner2, false))
	on, err := w.svc.RemindersOn(ctx, w.prog.ID, w.learner2)
	require.NoError(t, err)
	require.False(t, on)
	_, err = w.svc.CreateFeed(ctx, w.learner, "F2")
	require.NoError(t, err)
	f1 := draft("F1 only", "2026-03-30", "09:40", "10:00")
	f1.Grades = []string{"F1"}
	w.create(t, w.prog, f1)
	n, err = w.svc.SendReminders(ctx, notes)
	require.NoError(t, err)
	require.Zero(t, n, "one learner turned them off, the other follows F2")
	require.NoError(t, w.svc.SetReminders(ctx, w.prog, w.learner2, true))
	w.create(t, w.prog, draft("Everyone", "2026-03-30", "09:55", "10:30"))
	n, err = w.svc.SendReminders(ctx, notes)
	require.NoError(t, err)
	require.Equal(t, map[int64]int{w.learner: 1, w.learner2: 1}, recipients(notes.take()))
	require.Equal(t, 2, n)
}

// Two instances working the job at once still remind each learner once per session.
func TestRemindersOnceAcrossInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	notes := &recordingNotifier{}
	w.clock.Set(time.Date(2026, 3, 30, 8, 0, 0, 0, time.UTC))
	require.NoError(t, w.svc.SaveSettings(ctx, w.prog, programme.Settings{ReminderBefore: 2 * time.Hour}))
	for _, at := range []string{"09:10", "09:20", "09:30", "09:40", "09:50", "10:00"} {
		w.create(t, w.prog, draft("Session "+at, "2026-03-30", at, "10:30"))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			_, err := w.svc.SendReminders(ctx, notes)
			require.NoError(t, err)
		})
	}
	wg.Wait()
	sent := notes.take()
	require.Len(t, sent, 12, "six sessions, two learners, once each")
	_, err := w.svc.SendReminders(ctx, notes)
	require.NoError(t, err)
	require.Empty(t, notes.take())
	require.ErrorContains(t, w.svc.SaveSettings(ctx, w.prog, programme.Settings{ReminderBefore: 8 * 24 * time.Hour}), "up to a week")
}
