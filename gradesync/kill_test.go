package gradesync

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
)

// A worker process that dies in the middle of a batch loses nothing: the dispatcher it
// ran is rescued by the next process, and each learner ends with the final score.
func TestWorkerKilledMidBatchLosesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, 20)
	ctx := t.Context()
	// The gradebook column is known, so no worker holds the line item lock.
	_, err := b.pool.Exec(ctx, `UPDATE activities SET ags_lineitem_url = 'https://moodle.example/lineitems/1/lineitem'`)
	require.NoError(t, err)
	for i, u := range b.users {
		require.NoError(t, b.svc.Submit(ctx, b.score(u, float64(i%10), b.now)))
	}

	// The first process takes the dispatcher and hangs inside the push, as a process killed
	// mid-request would leave them: running, never finished.
	hang := make(chan struct{})
	var once sync.Once
	started := make(chan struct{})
	b.pusher.mu.Lock()
	b.pusher.answer = func(Delivery) error {
		once.Do(func() { close(started) })
		<-hang
		return context.Canceled
	}
	b.pusher.mu.Unlock()
	newClient := func(rescueAfter time.Duration) *river.Client[pgx.Tx] {
		workers := river.NewWorkers()
		river.AddWorker(workers, retryFast{NewWorker(b.svc)})
		river.AddWorker(workers, NewDispatchWorker(b.svc))
		c, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{
			Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 5}},
			Workers:              workers,
			FetchCooldown:        20 * time.Millisecond,
			FetchPollInterval:    50 * time.Millisecond,
			RescueStuckJobsAfter: rescueAfter,
		})
		require.NoError(t, err)
		return c
	}
	first := newClient(time.Hour)
	require.NoError(t, first.Start(ctx))
	<-started
	// New scores arrive while the batch is stuck; the final value is what must land.
	for i, u := range b.users {
		require.NoError(t, b.svc.Submit(ctx, b.score(u, float64(i%10)+0.25, b.now.Add(time.Minute))))
	}
	// Kill: the process vanishes without finishing its jobs or telling River. The job
	// rows are read and aged directly: rivertest asserts insertions, not a crash's
	// leftovers, and no River call makes a job look abandoned.
	var running int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state = 'running'`).Scan(&running))
	require.Positive(t, running, "the dead process held jobs")
	stopCtx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = first.Stop(stopCtx) // returns at once; its hung workers are abandoned
	// Make its jobs look as old as a real crash leaves them after the rescue delay.
	_, err = b.pool.Exec(ctx, `UPDATE river_job SET attempted_at = now() - interval '10 minutes' WHERE state = 'running'`)
	require.NoError(t, err)

	b.pusher.mu.Lock()
	b.pusher.answer = nil
	b.pusher.mu.Unlock()
	second := newClient(time.Minute)
	require.NoError(t, second.Start(ctx))
	t.Cleanup(func() { close(hang); _ = second.Stop(context.Background()) })

	b.waitAllSynced(t)
	b.requireLastPushed(t, func(i int) float64 { return float64(i%10) + 0.25 }, "no stale value is left in Moodle")
}
