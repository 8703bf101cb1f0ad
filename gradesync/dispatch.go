package gradesync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// The dispatcher. A job per score cost more than half of grade sync's database time
// (River writes each job three times: insert, fetch, completion), so a score's first
// push is made by its activity's dispatcher instead: one job that pushes every
// pending score the dispatcher owns (scores.dispatch) in batches, many at once, with
// the same push and settle as a job of its own. A score whose push fails is handed to
// a job of its own (SyncArgs), which retries it with backoff; so is one the educator
// retries or moves to another grade path.
//
// grade_sync_activities.dispatch_queued says a dispatcher is queued or running.
// Record sets it, and inserts the job, only when it was false; the dispatcher clears
// it when it finds nothing left to push. The two must never miss each other: a score
// recorded while the dispatcher decides it is finished would wait for a dispatcher
// that never comes. So Record holds dispatchLock shared from before it writes the
// score until its transaction ends and reads the flag after taking it, and the
// dispatcher clears the flag only while it holds the lock exclusively, after finding
// nothing pending in a snapshot taken once it held it. Every Record either committed
// before that snapshot (its score is seen, and the dispatcher goes on) or takes the
// lock after the flag is cleared (and queues a new dispatcher). The database decides
// this, so it holds across instances and crashes.

// dispatchLock is the advisory lock key of activity $1's dispatcher.
const dispatchLock = `hashtextextended('huddle grade dispatch ' || $1::bigint, 0)`

// Bounds of a dispatcher run.
const (
	// dispatchBatch is how many pending scores a dispatcher reads at once.
	dispatchBatch = 256
	// dispatchRewalk bounds how long a walk through an activity's scores goes on
	// before it starts again from the beginning (see dispatch).
	dispatchRewalk = 250 * time.Millisecond
	// dispatchRun: a run stops taking new batches after this and its job comes back
	// at once (JobSnooze(0), which River does not count as an attempt), so a shutdown
	// never waits long for it and River never takes a busy run for a dead instance's
	// (RescueStuckJobsAfter).
	dispatchRun = 10 * time.Second
	// pushTimeout bounds one push, as Worker.Timeout bounds a job of its own.
	pushTimeout = 30 * time.Second
	// pushConcurrency is how many pushes an instance's dispatchers make at once, all
	// activities together: as many as the queue has workers (app.queueWorkers), so a
	// busy dispatcher takes no more of the web pool than the per-score jobs did.
	pushConcurrency = 24
)

// DispatchArgs is the job that pushes an activity's pending scores.
type DispatchArgs struct {
	ActivityID int64 `json:"activity_id"`
}

// Kind names the job in River's tables.
func (DispatchArgs) Kind() string { return "grade_sync_dispatch" }

// InsertOpts: no uniqueness (dispatch_queued makes one dispatcher per activity; a run
// that stood down may still be finishing in River when the next is queued). Attempts
// are failures of the database, never of Moodle, so they are many.
func (DispatchArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 1000} }

// queueDispatch sets the activity's flag and returns a row only if it was not set.
const queueDispatch = `
INSERT INTO grade_sync_activities (activity_id, dispatch_queued) VALUES ($1, true)
ON CONFLICT (activity_id) DO UPDATE SET dispatch_queued = true
WHERE NOT grade_sync_activities.dispatch_queued
RETURNING activity_id`

// queueDispatcher queues the activity's dispatcher in tx unless it is queued already
// (a concurrent Record may have queued it since the caller read the flag).
func (s *Service) queueDispatcher(ctx context.Context, tx pgx.Tx, activityID int64) error {
	rows, err := tx.Query(ctx, queueDispatch, activityID)
	if err != nil {
		return fmt.Errorf("gradesync: queue dispatcher: %w", err)
	}
	flipped := rows.Next()
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("gradesync: queue dispatcher: %w", err)
	}
	if !flipped {
		return nil
	}
	if _, err := s.queue.InsertTx(ctx, tx, DispatchArgs{ActivityID: activityID}, nil); err != nil {
		return fmt.Errorf("gradesync: queue dispatcher: %w", err)
	}
	return nil
}

// pendingScore is a score the dispatcher owns, in the generation it read.
type pendingScore struct {
	UserID     int64
	Generation int64
}

// selectDispatched reads the next batch after learner $2, in primary key order (the
// activity's scores are read through the primary key; an index on their state would
// cost every write of a score its in-place update, see migrations/00049).
const selectDispatched = `
SELECT user_id, sync_generation FROM scores
WHERE activity_id = $1 AND user_id > $2 AND state = 'pending' AND dispatch
ORDER BY user_id
LIMIT $3`

// dispatch pushes activity's pending scores until none is left, then stands down.
func (s *Service) dispatch(ctx context.Context, activityID int64) error {
	start := time.Now()
	var after int64 // the last learner of the previous batch
	var walkStart time.Time
	wait := 5 * time.Millisecond
	first := true
	for time.Since(start) < dispatchRun {
		rows, err := s.db.Query(ctx, selectDispatched, activityID, after, dispatchBatch)
		if err != nil {
			return fmt.Errorf("gradesync: dispatch %d: %w", activityID, err)
		}
		batch, err := pgx.CollectRows(rows, pgx.RowToStructByPos[pendingScore])
		if err != nil {
			return fmt.Errorf("gradesync: dispatch %d: %w", activityID, err)
		}
		if len(batch) == 0 {
			if after != 0 {
				after = 0 // scores recorded behind this run's walk
				continue
			}
			done, err := s.endDispatch(ctx, activityID)
			if err != nil || done {
				return err
			}
			// A Record is in progress (it holds the lock shared until its transaction
			// ends), or a score arrived between the read and the lock.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait = min(2*wait, 200*time.Millisecond)
			continue
		}
		wait = 5 * time.Millisecond
		// A Record that commits after a read has passed its learner leaves its score
		// behind the walk. So the next read starts from the beginning again once a batch
		// is not full (the walk reached the end of the activity) or the walk has taken
		// dispatchRewalk: walking on left such scores waiting for as long as new ones
		// kept arriving ahead, seconds in BenchmarkQueueThroughput.
		if after == 0 {
			walkStart = time.Now()
		}
		after = batch[len(batch)-1].UserID
		if len(batch) < dispatchBatch || time.Since(walkStart) > dispatchRewalk {
			after = 0
		}
		if first {
			// The first push of a run goes alone: if the activity has no known line item
			// yet, it finds or creates it, and the rest reuse it instead of being handed to
			// jobs of their own while it is being set up (errLineItemBusy).
			if err := s.pushAll(ctx, activityID, batch[:1]); err != nil {
				return err
			}
			batch, first = batch[1:], false
		}
		if err := s.pushAll(ctx, activityID, batch); err != nil {
			return err
		}
	}
	return river.JobSnooze(0)
}

// endDispatch clears the activity's flag if nothing is pending for the dispatcher,
// and reports whether it did. It never waits for the lock: a Record holding it is
// about to commit a score, and the run goes on to push it.
func (s *Service) endDispatch(ctx context.Context, activityID int64) (done bool, _ error) {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(`+dispatchLock+`)`, activityID).Scan(&locked); err != nil {
			return err
		}
		if !locked {
			return nil
		}
		// A statement of its own: its snapshot, taken now that the lock is held, sees
		// every score whose Record has ended.
		return tx.QueryRow(ctx, `
WITH idle AS (
    SELECT NOT EXISTS (SELECT 1 FROM scores WHERE activity_id = $1 AND state = 'pending' AND dispatch) AS idle
), cleared AS (
    UPDATE grade_sync_activities SET dispatch_queued = false WHERE activity_id = $1 AND (SELECT idle FROM idle)
)
SELECT idle FROM idle`, activityID).Scan(&done)
	})
	if err != nil {
		return false, fmt.Errorf("gradesync: end dispatch %d: %w", activityID, err)
	}
	return done, nil
}

// pushAll pushes a batch, up to pushConcurrency of the instance's pushes at once, and
// hands each score whose push fails to a job of its own. An error is the database's
// (or the run's context ending); the run stops and River tries it again.
func (s *Service) pushAll(ctx context.Context, activityID int64, batch []pendingScore) error {
	var wg sync.WaitGroup
	errs := make([]error, len(batch))
	for i, p := range batch {
		select {
		case s.pushSlots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer func() { <-s.pushSlots; wg.Done() }()
			errs[i] = s.dispatchOne(ctx, activityID, p)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// dispatchOne pushes one score as a job of its own would on its first attempt.
func (s *Service) dispatchOne(ctx context.Context, activityID int64, p pendingScore) error {
	job := SyncArgs{ActivityID: activityID, UserID: p.UserID, Generation: p.Generation}
	pushCtx, cancel := context.WithTimeout(ctx, pushTimeout)

	err := s.sync(pushCtx, job, s.now())
	cancel()
	if err == nil || ctx.Err() != nil {
		return ctx.Err()
	}
	// The reason is on the score already (syncOnce); the job retries with backoff.
	return s.handOff(ctx, job)
}

// handOff gives a score whose push failed to a job of its own, in one transaction with
// taking it from the dispatcher, so exactly one of them owns it. A score settled or
// recorded anew meanwhile is left where it is.
func (s *Service) handOff(ctx context.Context, job SyncArgs) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE scores SET dispatch = false
WHERE activity_id = $1 AND user_id = $2 AND sync_generation = $3 AND state = 'pending' AND dispatch`,
			job.ActivityID, job.UserID, job.Generation)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		_, err = s.queue.InsertTx(ctx, tx, job, &river.InsertOpts{ScheduledAt: s.now().Add(backoff(1))})
		return err
	})
	if err != nil {
		return fmt.Errorf("gradesync: hand score of %d in %d to a job: %w", job.UserID, job.ActivityID, err)
	}
	return nil
}

// DispatchWorker runs dispatcher jobs.
type DispatchWorker struct {
	river.WorkerDefaults[DispatchArgs]
	svc *Service
}

// NewDispatchWorker returns the River worker of the service's dispatchers.
func NewDispatchWorker(s *Service) *DispatchWorker { return &DispatchWorker{svc: s} }

// Work pushes the activity's pending scores.
func (w *DispatchWorker) Work(ctx context.Context, job *river.Job[DispatchArgs]) error {
	return w.svc.dispatch(ctx, job.Args.ActivityID)
}

// NextRetry backs off as a score's own job does.
func (w *DispatchWorker) NextRetry(job *river.Job[DispatchArgs]) time.Time {
	return w.svc.now().Add(backoff(job.Attempt))
}

// Timeout covers a whole run: it takes no new batch after dispatchRun, and a batch's
// pushes end within pushTimeout.
func (w *DispatchWorker) Timeout(*river.Job[DispatchArgs]) time.Duration {
	return dispatchRun + pushTimeout + 10*time.Second
}

// RequeueArgs is the hourly job that gives a dispatcher back to an activity that lost
// its own (RequeueWorker).
type RequeueArgs struct{}

// Kind names the job in River's tables.
func (RequeueArgs) Kind() string { return "grade_sync_requeue" }

// RequeuePeriodicJob runs RequeueArgs hourly, and at start-up.
func RequeuePeriodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return RequeueArgs{}, nil },
		&river.PeriodicJobOpts{ID: "grade_sync_requeue", RunOnStart: true})
}

// RequeueWorker queues a dispatcher for each activity whose flag says one is queued
// while River holds no live job for it. The flag and the job are written in one
// transaction and the flag is cleared before the job ends, so this happens only when
// River's job was taken away from under the flag: cancelled or deleted by an
// operator, discarded after its last attempt. Without this, the activity's scores
// would wait for ever: Record queues no dispatcher while the flag is set.
type RequeueWorker struct {
	river.WorkerDefaults[RequeueArgs]
	svc *Service
}

// NewRequeueWorker returns the worker of RequeueArgs.
func NewRequeueWorker(s *Service) *RequeueWorker { return &RequeueWorker{svc: s} }

// Work requeues the lost dispatchers.
func (w *RequeueWorker) Work(ctx context.Context, _ *river.Job[RequeueArgs]) error {
	_, err := w.svc.requeueLostDispatchers(ctx)
	return err
}

// lostDispatchers reads, in one snapshot, the activities whose flag is set with no
// live dispatcher job in River's table. One with nothing pending gets a dispatcher
// too: it stands down at once and clears the flag, so that the next score recorded
// there queues its own instead of waiting for this job's next run.
const lostDispatchers = `
SELECT a.activity_id FROM grade_sync_activities a
WHERE a.dispatch_queued
  AND NOT EXISTS (SELECT 1 FROM river_job j
                  WHERE j.kind = 'grade_sync_dispatch' AND (j.args->>'activity_id')::bigint = a.activity_id
                    AND j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled'))`

// requeueLostDispatchers queues a dispatcher for every activity that lost its own and
// returns how many. The flags stay set, as for any queued dispatcher. Two runs at
// once could queue two for one activity, which costs only pushes of the same value
// (the dispatcher already tolerates a second one, see
// TestScoreRecordedAsTheDispatcherStandsDownQueuesANewOne).
func (s *Service) requeueLostDispatchers(ctx context.Context) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, lostDispatchers)
		if err != nil {
			return err
		}
		lost, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		for _, id := range lost {
			if _, err := s.queue.InsertTx(ctx, tx, DispatchArgs{ActivityID: id}, nil); err != nil {
				return err
			}
		}
		n = len(lost)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("gradesync: requeue lost dispatchers: %w", err)
	}
	return n, nil
}
