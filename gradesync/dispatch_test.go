package gradesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The dispatcher's race, from both sides: it must never stand down while a score is
// being recorded that it would not see, and a score recorded while it stands down
// must queue a new one.

// A score whose Record has not committed when the dispatcher runs out of work keeps
// the dispatcher going: it cannot take the lock the Record holds, waits, and pushes the
// score once it is committed.
func TestDispatcherWaitsForARecordInProgress(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	ctx := t.Context()
	require.NoError(t, b.svc.Submit(ctx, b.score(b.users[0], 5, b.now)))

	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(context.Background()) //nolint:errcheck // committed below
	require.NoError(t, b.svc.Record(ctx, tx, b.score(b.users[1], 7, b.now)))

	ended := make(chan error, 1)
	go func() { ended <- b.svc.dispatch(ctx, b.activity) }()
	require.Eventually(t, func() bool { return len(b.pushed(b.users[0])) == 1 }, 5*time.Second, 5*time.Millisecond)
	select {
	case err := <-ended:
		t.Fatalf("the dispatcher stood down while a score was being recorded: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, tx.Commit(ctx))
	select {
	case err := <-ended:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the dispatcher did not finish once the score was committed")
	}
	require.Equal(t, []float64{7}, b.pushed(b.users[1]))
	require.False(t, b.dispatchQueued(t))
	rivertest.RequireInserted(ctx, t, riverpgxv5.New(b.pool), DispatchArgs{}, nil) // still the one
}

// A score recorded while the dispatcher stands down waits for its lock, then finds the
// flag cleared and queues a new dispatcher. The dispatcher's side is played by hand:
// the exclusive lock and the cleared flag in a transaction that has not committed.
func TestScoreRecordedAsTheDispatcherStandsDownQueuesANewOne(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	ctx := t.Context()
	require.NoError(t, b.svc.Submit(ctx, b.score(b.users[0], 5, b.now)))
	require.NoError(t, b.svc.dispatch(ctx, b.activity))
	// The first dispatcher's job is finished in River too.
	_, err := b.pool.Exec(ctx, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE kind = 'grade_sync_dispatch'`)
	require.NoError(t, err)
	require.NoError(t, b.svc.Submit(ctx, b.score(b.users[0], 6, b.now.Add(time.Second))))
	require.True(t, b.dispatchQueued(t))

	standDown, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer standDown.Rollback(context.Background()) //nolint:errcheck // committed below
	_, err = standDown.Exec(ctx, `SELECT pg_advisory_xact_lock(`+dispatchLock+`)`, b.activity)
	require.NoError(t, err)
	_, err = standDown.Exec(ctx, `UPDATE grade_sync_activities SET dispatch_queued = false WHERE activity_id = $1`, b.activity)
	require.NoError(t, err)

	recorded := make(chan error, 1)
	go func() { recorded <- b.svc.Submit(ctx, b.score(b.users[1], 7, b.now)) }()
	select {
	case err := <-recorded:
		t.Fatalf("Record did not wait for the dispatcher to stand down: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, standDown.Commit(ctx))
	require.NoError(t, <-recorded)

	require.True(t, b.dispatchQueued(t), "the new score queued a dispatcher")
	var waiting int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'grade_sync_dispatch' AND state = 'available'`).Scan(&waiting))
	require.Equal(t, 2, waiting, "the one queued before the hand-played stand-down, and the new one")
}

// A score whose dispatched push fails goes to exactly one job of its own, with the
// reason on the score; the dispatcher then owns it no more, and "retry now" on a score
// the dispatcher still owns adds no job.
func TestFailedPushHandedToOneJob(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	ctx := t.Context()
	// The gradebook column is known, so the pushes are concurrent and none waits for
	// another to set it up (errLineItemBusy, which is handed off the same way).
	_, err := b.pool.Exec(ctx, `UPDATE activities SET ags_lineitem_url = 'https://moodle.example/lineitems/1/lineitem'`)
	require.NoError(t, err)
	b.pusher.answer = func(d Delivery) error {
		if d.Score.UserID == b.users[2] {
			return nil
		}
		return errors.New("moodle: 503 service unavailable")
	}
	for _, u := range b.users {
		require.NoError(t, b.svc.Submit(ctx, b.score(u, 4, b.now)))
	}
	require.NoError(t, b.svc.Retry(ctx, b.activity, b.users[0]))
	rivertest.RequireNotInserted(ctx, t, riverpgxv5.New(b.pool), SyncArgs{}, nil)

	require.NoError(t, b.svc.dispatch(ctx, b.activity))
	require.NoError(t, b.svc.dispatch(ctx, b.activity), "a second run finds nothing of its own")
	jobs := rivertest.RequireManyInserted(ctx, t, riverpgxv5.New(b.pool), []rivertest.ExpectedJob{
		{Args: SyncArgs{}}, {Args: SyncArgs{}},
	})
	var got []SyncArgs
	for _, j := range jobs {
		var a SyncArgs
		require.NoError(t, json.Unmarshal(j.EncodedArgs, &a))
		got = append(got, a)
		require.True(t, j.ScheduledAt.After(b.now), "with backoff")
	}
	require.ElementsMatch(t, []SyncArgs{b.job(t, b.users[0]), b.job(t, b.users[1])}, got)
	for _, u := range b.users[:2] {
		st, lastErr, _ := b.state(t, u)
		require.Equal(t, "pending", st)
		require.Equal(t, "moodle: 503 service unavailable", lastErr)
	}
	st, _, _ := b.state(t, b.users[2])
	require.Equal(t, "synced", st)
	require.False(t, b.dispatchQueued(t))
}

// Bursts of scores from concurrent requests, with pauses in which the dispatcher
// stands down, through real River workers: every learner ends with the final score in
// the platform, and no version is pushed twice.
func TestDispatchedBurstsDeliverEveryScoreOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, 30)
	ctx := t.Context()
	b.now = time.Now()
	workers := river.NewWorkers()
	river.AddWorker(workers, retryFast{NewWorker(b.svc)})
	river.AddWorker(workers, NewDispatchWorker(b.svc))
	client, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers:           workers,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { _ = client.Stop(context.Background()) })

	const rounds = 6
	for round := range rounds {
		var wg sync.WaitGroup
		for i, u := range b.users {
			wg.Go(func() {
				assert.NoError(t, b.svc.Submit(ctx, b.score(u, float64(100*round+i), b.now.Add(time.Duration(round)*time.Second))))
			})
		}
		wg.Wait()
		time.Sleep(time.Duration(round*15) * time.Millisecond) // from none to long enough to stand down
	}
	require.Eventually(t, func() bool {
		for i, u := range b.users {
			if got := b.pushed(u); len(got) == 0 || got[len(got)-1] != float64(100*(rounds-1)+i) {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond, "every learner's final score reaches the platform")
	b.waitAllSynced(t)
	for _, u := range b.users {
		got := b.pushed(u)
		require.Equal(t, slices.Compact(slices.Clone(got)), got, "learner %d: a version pushed twice", u)
		require.True(t, slices.IsSorted(got), fmt.Sprintf("learner %d: pushed out of order: %v", u, got))
	}
}

// pushed is what the platform received for a learner, in order.
func (b *bundle) pushed(user int64) []float64 {
	b.pusher.mu.Lock()
	defer b.pusher.mu.Unlock()
	return slices.Clone(b.pusher.got[[2]int64{b.activity, user}])
}

// A dispatcher job taken away from under its flag (cancelled by an operator, say)
// would leave the activity's scores waiting for ever, since Record queues no
// dispatcher while the flag is set: the hourly requeue gives the activity a new one,
// and only when no live job is there.
func TestLostDispatcherIsRequeued(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	ctx := t.Context()
	live := func() int {
		t.Helper()
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job
WHERE kind = 'grade_sync_dispatch' AND (args->>'activity_id')::bigint = $1 AND state = 'available'`, b.activity).Scan(&n))
		return n
	}
	require.NoError(t, b.svc.Submit(ctx, b.score(b.users[0], 5, b.now)))
	require.True(t, b.dispatchQueued(t))
	n, err := b.svc.requeueLostDispatchers(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "the dispatcher's job is still there")

	_, err = b.pool.Exec(ctx, `UPDATE river_job SET state = 'cancelled', finalized_at = now() WHERE kind = 'grade_sync_dispatch'`)
	require.NoError(t, err)
	require.NoError(t, b.svc.Submit(ctx, b.score(b.users[1], 6, b.now)))
	require.Zero(t, live(), "the flag is set, so the new score queued no dispatcher")
	n, err = b.svc.requeueLostDispatchers(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 1, live())
	n, err = b.svc.requeueLostDispatchers(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "requeued once")

	require.NoError(t, b.svc.dispatch(ctx, b.activity))
	require.Equal(t, []float64{5}, b.pushed(b.users[0]))
	require.Equal(t, []float64{6}, b.pushed(b.users[1]))
	require.False(t, b.dispatchQueued(t))

	// Lost with nothing pending: a dispatcher still comes, to clear the flag, so the
	// next score queues its own at once.
	_, err = b.pool.Exec(ctx, `UPDATE river_job SET state = 'cancelled', finalized_at = now() WHERE kind = 'grade_sync_dispatch'`)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `UPDATE grade_sync_activities SET dispatch_queued = true WHERE activity_id = $1`, b.activity)
	require.NoError(t, err)
	n, err = b.svc.requeueLostDispatchers(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NoError(t, b.svc.dispatch(ctx, b.activity))
	require.False(t, b.dispatchQueued(t))
}
