package reflection_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/reflection"
)

// Issue 17, item 2, under load: the page's last autosave reaches Huddle while the
// form's submit holds the reflection, and waits for it. Once the submit commits, the
// autosave must see that this form was submitted and write nothing. It used to read
// the form's versions in the same statement that waited for the lock, from a snapshot
// taken before the submit committed, so it saw none and wrote its draft over the
// version just submitted (the browser test at 360 px caught it on a busy machine).
// Here the order is forced: a transaction holds the reflection, the submit queues for
// it, then the autosave, and only then is the reflection let go.
func TestAutosaveQueuedBehindTheSubmitWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	au := w.as(t, author, w.log)
	key := reflection.NewFormKey()
	draft := reflection.Content{Title: "Handover", Answers: map[string]string{"what_happened": "A busy night."}}
	id, err := w.svc.SaveFormDraft(ctx, w.log, au, reflection.Form{Key: key}, draft, nil)
	require.NoError(t, err)

	// waiting is how many of the test database's sessions wait for a lock.
	waiting := func() int {
		return w.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)
	}
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for waiting() < n {
			require.True(t, time.Now().Before(deadline), "%d sessions waiting for the reflection, want %d", waiting(), n)
			time.Sleep(10 * time.Millisecond)
		}
	}
	hold, err := w.db.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = hold.Rollback(ctx) }()
	_, err = hold.Exec(ctx, `SELECT 1 FROM reflections WHERE id = $1 FOR UPDATE`, id)
	require.NoError(t, err)

	type submitted struct {
		version int
		err     error
	}
	submit := make(chan submitted, 1)
	go func() {
		_, v, err := w.svc.SubmitForm(ctx, w.log, au, reflection.Form{Key: key}, practice("Handover", "A busy night."), nil)
		submit <- submitted{v, err}
	}()
	waitFor(1)
	autosave := make(chan error, 1)
	go func() {
		_, err := w.svc.SaveFormDraft(ctx, w.log, au, reflection.Form{ID: id, Key: key}, draft, nil)
		autosave <- err
	}()
	waitFor(2)
	require.NoError(t, hold.Commit(ctx))

	s := <-submit
	require.NoError(t, s.err)
	require.Equal(t, 1, s.version)
	require.ErrorIs(t, <-autosave, reflection.ErrFormSubmitted)
	r, err := w.svc.Get(ctx, w.people[author], id)
	require.NoError(t, err)
	require.Nil(t, r.Draft, "the queued autosave wrote a draft over the submitted version")
	require.Equal(t, 1, r.Current.Number)
}
