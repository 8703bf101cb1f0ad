package reflection_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/reflection"
)

type sentNotice struct {
	to, activity int64
	subject      string
	text         string
}

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

// A named share tells the supervisor, a sign-off tells the author; neither names the
// reflection, and a share with the course's educators sends nothing.
func TestSharesAndSignOffsSendNotices(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	notes := w.notes
	notes.take() // only what follows counts

	id, _, err := w.svc.Submit(ctx, w.log, w.as(t, author, w.log), 0, practice("Sepsis on nights", "A patient with sepsis."), nil)
	require.NoError(t, err)

	require.NoError(t, w.svc.Share(ctx, w.people[author], id, reflection.Everyone))
	require.Empty(t, notes.take())

	require.NoError(t, w.svc.Share(ctx, w.people[author], id, w.people[supervisorShared]))
	got := notes.take()
	require.Len(t, got, 1)
	require.Equal(t, w.people[supervisorShared], got[0].to)
	require.Equal(t, w.log.ID, got[0].activity, "the message names the reflection log")
	require.Contains(t, got[0].text, w.names[author])
	require.NotContains(t, got[0].text+got[0].subject, "Sepsis")

	// Sharing again changes nothing and sends nothing.
	require.NoError(t, w.svc.Share(ctx, w.people[author], id, w.people[supervisorShared]))
	require.Empty(t, notes.take())

	require.NoError(t, w.svc.SignOff(ctx, w.people[supervisorShared], id, 1, "Well reflected."))
	got = notes.take()
	require.Len(t, got, 1)
	require.Equal(t, w.people[author], got[0].to)
	require.Equal(t, w.log.ID, got[0].activity)
	require.Contains(t, got[0].text, w.names[supervisorShared])
	require.NotContains(t, got[0].text+got[0].subject, "Sepsis")
}
