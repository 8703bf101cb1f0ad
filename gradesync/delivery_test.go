package gradesync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
)

// What the two-instance SIGKILL test (cmd/huddle/kill_test.go) found, each pinned here
// without processes or timing: a score recorded as its learner's job finished, and a
// newer score Moodle refused with 409.

// A score recorded after its learner's job has pushed and marked the previous one, but
// before River has recorded that job as completed, is delivered. River skips a unique
// job that duplicates a running one, and its completer records a finished job after
// Work returns; a worker middleware runs in exactly that gap. The score's first push,
// by the dispatcher, fails, so the score has a job of its own.
func TestScoreRecordedAsItsJobFinishesIsDelivered(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	ctx := t.Context()
	u := b.users[0]
	var failed atomic.Bool
	b.pusher.answer = func(Delivery) error {
		if failed.CompareAndSwap(false, true) {
			return errors.New("moodle: 503 service unavailable")
		}
		return nil
	}
	require.NoError(t, b.svc.Submit(ctx, b.score(u, 5, b.now)))

	type afterWork struct {
		err     error
		waiting int // grade sync jobs waiting to run, besides the one that just ran
	}
	after := make(chan afterWork, 1)
	var once sync.Once
	gap := river.WorkerMiddlewareFunc(func(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
		err := doInner(ctx)
		if job.Kind != (SyncArgs{}).Kind() {
			return err
		}
		once.Do(func() {
			var a afterWork
			// The learner posts again: the worker is done, River's completion is not written.
			a.err = b.svc.Submit(ctx, b.score(u, 8, b.now.Add(time.Second)))
			if a.err == nil {
				a.err = b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job
WHERE kind IN ('grade_sync', 'grade_sync_dispatch') AND id <> $1 AND state IN ('available', 'scheduled', 'pending', 'retryable')`,
					job.ID).Scan(&a.waiting)
			}
			after <- a
		})
		return err
	})
	workers := river.NewWorkers()
	river.AddWorker(workers, NewWorker(b.svc))
	river.AddWorker(workers, NewDispatchWorker(b.svc))
	client, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}},
		Workers:           workers,
		Middleware:        []rivertype.Middleware{gap},
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	events, cancel := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	defer cancel()
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { _ = client.Stop(context.Background()) })

	var a afterWork
	select {
	case a = <-after:
	case <-time.After(30 * time.Second):
		t.Fatal("the first score's job never ran")
	}
	require.NoError(t, a.err)
	require.Equal(t, 1, a.waiting, "the score recorded as the job finished has a dispatcher")

	// Every job runs to its end (each completion is an event), and the platform holds 8.
	for {
		if st, _, given := b.state(t, u); st == "synced" && given == 8 {
			break
		}
		select {
		case <-events:
		case <-time.After(30 * time.Second):
			t.Fatal("the newer score was never delivered")
		}
	}
	b.pusher.mu.Lock()
	defer b.pusher.mu.Unlock()
	require.Equal(t, []float64{5, 8}, b.pusher.got[[2]int64{b.activity, u}])
}

// Each time a score's push starts over it starts a new generation, and a job acts only
// on its own: after a job has settled its score, the next score is the dispatcher's,
// and if the job runs again (its instance died before River heard it finished, and
// River rescued it) it pushes nothing, so two owners never push one learner's score at
// once. A job queued by the previous release has no generation and acts as before, so
// a rolling deploy loses nothing.
func TestJobOfAnEarlierGenerationPushesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	ctx := t.Context()
	u := b.users[0]
	pushed := func() []float64 {
		b.pusher.mu.Lock()
		defer b.pusher.mu.Unlock()
		return slices.Clone(b.pusher.got[[2]int64{b.activity, u}])
	}

	require.NoError(t, b.svc.Submit(ctx, b.score(u, 5, b.now)))
	first := b.job(t, u)
	require.NoError(t, b.svc.handOff(ctx, first)) // as after a failed push
	// River marks the job running; Work pushes and settles, and River has not yet
	// recorded it completed when the learner posts again.
	_, err := b.pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() WHERE kind = 'grade_sync'`)
	require.NoError(t, err)
	require.NoError(t, b.svc.sync(ctx, first, b.now))
	require.NoError(t, b.svc.Submit(ctx, b.score(u, 8, b.now.Add(time.Second))))

	second := b.job(t, u)
	require.NotEqual(t, first.Generation, second.Generation, "the settled score's next version starts a new generation")
	rows, err := b.pool.Query(ctx, `SELECT args FROM river_job WHERE kind = 'grade_sync' ORDER BY id`)
	require.NoError(t, err)
	queued, err := pgx.CollectRows(rows, pgx.RowTo[SyncArgs])
	require.NoError(t, err)
	require.Equal(t, []SyncArgs{first}, queued, "the new version is the dispatcher's, not a second job's")
	require.True(t, b.dispatchQueued(t))

	require.NoError(t, b.svc.sync(ctx, first, b.now), "the first job, run again")
	require.Equal(t, []float64{5}, pushed(), "the first job pushed nothing of the second generation")
	require.NoError(t, b.svc.dispatch(ctx, b.activity))
	require.Equal(t, []float64{5, 8}, pushed())
	st, _, _ := b.state(t, u)
	require.Equal(t, "synced", st)
	require.False(t, b.dispatchQueued(t), "the dispatcher stood down")

	// A job of the previous release (no generation in its arguments) pushes whatever
	// is newest.
	require.NoError(t, b.svc.Submit(ctx, b.score(u, 9, b.now.Add(2*time.Second))))
	require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: u}, b.now))
	require.Equal(t, []float64{5, 8, 9}, pushed())
}

// clock is a fake clock that Huddle and the fake Moodle read from their own goroutines.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// setupAGSClock is setupAGS with one learner, the activity's line item and its
// maximum (100) known, and a fake clock for Huddle; Moodle's clock is Huddle's plus
// ahead.
func setupAGSClock(t *testing.T, ahead time.Duration) (*agsBundle, *clock) {
	t.Helper()
	b := setupAGS(t, 1)
	_, err := b.pool.Exec(t.Context(), `UPDATE activities SET ags_lineitem_url = $2 WHERE id = $1`, b.activity, b.lineItemURL(3))
	require.NoError(t, err)
	_, err = b.pool.Exec(t.Context(), `INSERT INTO grade_sync_activities (activity_id, score_maximum) VALUES ($1, 100)`, b.activity)
	require.NoError(t, err)
	c := &clock{}
	b.svc = NewService(b.pool, b.svc.pusher, b.svc.queue, c.Now)
	b.moodle.mu.Lock()
	b.moodle.lineItems = 1
	b.moodle.now = func() time.Time { return c.Now().Add(ahead) }
	b.moodle.mu.Unlock()
	return b, c
}

// stored is a learner's score row as the tests here read it.
type stored struct {
	Given          float64
	State          string
	ScoredAt       time.Time
	SyncedScoredAt *time.Time
	LastError      string
}

func (b *agsBundle) stored(t *testing.T, user int64) stored {
	t.Helper()
	var s stored
	require.NoError(t, b.pool.QueryRow(t.Context(), `
SELECT score_given, state, scored_at, synced_scored_at, last_error FROM scores WHERE activity_id = $1 AND user_id = $2`,
		b.activity, user).Scan(&s.Given, &s.State, &s.ScoredAt, &s.SyncedScoredAt, &s.LastError))
	return s
}

// requireHeld checks that Moodle holds the learner's newest score in Huddle, with the
// timestamp Huddle recorded as delivered, and that Huddle says so.
func (b *agsBundle) requireHeld(t *testing.T, user int64, subject string) {
	t.Helper()
	s := b.stored(t, user)
	require.Equal(t, "synced", s.State)
	require.NotNil(t, s.SyncedScoredAt)
	require.True(t, s.SyncedScoredAt.Equal(s.ScoredAt), "delivered %v, newest %v", s.SyncedScoredAt, s.ScoredAt)
	b.moodle.mu.Lock()
	defer b.moodle.mu.Unlock()
	require.Equal(t, agsScore{Given: s.Given * 10, Max: 100, At: s.ScoredAt.UTC().Truncate(time.Millisecond)}, b.moodle.scores[subject],
		"Moodle holds Huddle's newest score")
}

// Moodle refuses (409) a score whose timestamp falls in an earlier second than the
// moment it stored the learner's last grade. A score earned while the previous one was
// on its way, and pushed after that one landed a second or more later, is newer than
// anything Huddle delivered: it is sent again with a later timestamp, never taken for
// "Moodle holds a newer score".
func TestNewerScoreRefusedAsOlderIsSentAgain(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	t0 := time.Date(2026, 11, 26, 17, 48, 0, 200e6, time.UTC)

	t.Run("clocks agree", func(t *testing.T) {
		t.Parallel()
		b, c := setupAGSClock(t, 0)
		u := b.users[0]
		b.submit(t, u, 5, t0)
		c.Set(t0.Add(5 * time.Second)) // Moodle stores the first score at 17:48:05
		require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: u}, c.Now()))
		b.submit(t, u, 8, t0.Add(3*time.Second)) // earned at 17:48:03, before the first one landed
		c.Set(t0.Add(6 * time.Second))
		require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: u}, c.Now()))

		b.requireHeld(t, u, "100")
		require.Equal(t, t0.Add(6*time.Second), b.stored(t, u).ScoredAt.UTC(), "sent again with Huddle's clock as its timestamp")
		b.moodle.mu.Lock()
		defer b.moodle.mu.Unlock()
		require.Len(t, b.moodle.sent["100"], 3, "the first score, the newer one refused, the newer one again")
	})

	t.Run("Moodle's clock ahead", func(t *testing.T) {
		t.Parallel()
		b, c := setupAGSClock(t, 3*time.Second)
		u := b.users[0]
		b.submit(t, u, 5, t0)
		c.Set(t0.Add(time.Second)) // 17:48:04 on Moodle's clock
		require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: u}, c.Now()))
		b.submit(t, u, 8, t0.Add(2*time.Second))
		c.Set(t0.Add(2500 * time.Millisecond))
		err := b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: u}, c.Now())
		require.Error(t, err, "refused again with Huddle's clock: tried again later, not marked delivered")
		s := b.stored(t, u)
		require.Equal(t, "pending", s.State)
		require.Contains(t, s.LastError, "clock")

		c.Set(t0.Add(4500 * time.Millisecond)) // the retry, past Moodle's 17:48:04
		require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: u}, c.Now()))
		b.requireHeld(t, u, "100")
	})
}

// Every timestamp Huddle sends for a learner's score in an activity is later than the
// one before, at the millisecond precision it sends: scores earned within one
// millisecond, and a score earned before one that Huddle sent again with a later
// timestamp, still go out in order, and none of them is dropped as older.
func TestSentTimestampsStrictlyIncrease(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b, c := setupAGSClock(t, 0)
	u := b.users[0]
	t0 := time.Date(2026, 11, 26, 17, 48, 0, 400e3, time.UTC) // 17:48:00.0004

	steps := []struct {
		name   string
		given  float64
		earned time.Time
		pushAt time.Time
	}{
		{"first", 1, t0, t0.Add(time.Millisecond)},
		{"a third of a millisecond later", 2, t0.Add(300 * time.Microsecond), t0.Add(2 * time.Millisecond)},
		{"a microsecond after that", 3, t0.Add(301 * time.Microsecond), t0.Add(3 * time.Millisecond)},
		// Lands at 17:48:09; the next one, earned at 17:48:05, is refused and sent at 17:48:10.
		{"pushed late", 4, t0.Add(time.Second), t0.Add(9 * time.Second)},
		{"earned before the one pushed late landed", 5, t0.Add(5 * time.Second), t0.Add(10 * time.Second)},
	}
	for _, st := range steps {
		b.submit(t, u, st.given, st.earned)
		c.Set(st.pushAt)
		require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: u}, c.Now()), st.name)
		require.Equal(t, st.given, b.stored(t, u).Given, "%s: a newer score is never dropped as older", st.name)
		b.requireHeld(t, u, "100")
	}
	// Earned between the one sent again and its new timestamp: newer, so kept.
	b.submit(t, u, 6, t0.Add(7*time.Second))
	require.NoError(t, b.svc.sync(ctx, SyncArgs{ActivityID: b.activity, UserID: u}, c.Now()))
	require.Equal(t, 6.0, b.stored(t, u).Given, "a score earned after the one sent again is not dropped")
	b.requireHeld(t, u, "100")

	b.moodle.mu.Lock()
	defer b.moodle.mu.Unlock()
	sent := b.moodle.sent["100"]
	for i := 1; i < len(sent); i++ {
		require.True(t, sent[i].After(sent[i-1]), "timestamp %d (%v) is after %d (%v): %v", i, sent[i], i-1, sent[i-1], fmt.Sprint(sent))
	}
}
