// Package gradesync gets every score into Moodle's gradebook, even when Moodle is down.
// A score is stored in the transaction that earned it, together with what will push
// it: its activity's dispatcher job (dispatch.go), which pushes the activity's pending
// scores in batches. A score whose push fails gets a River job of its own, which
// pushes the newest stored score, retrying with backoff for up to a day.
package gradesync

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/huddle-lti/huddle/lti"
)

// Progress values of AGS 2.0 scores.
const (
	ActivityInProgress = "InProgress"
	ActivityCompleted  = "Completed"
	ActivitySubmitted  = "Submitted"
	GradingFully       = "FullyGraded"
	GradingPending     = "Pending"
)

// MaxRetryAge is how long a score keeps being retried before it is parked as failed.
const MaxRetryAge = 24 * time.Hour

// Score is one learner's score in one activity.
type Score struct {
	ActivityID       int64
	UserID           int64
	Given            float64
	Maximum          float64
	ActivityProgress string
	GradingProgress  string
	Comment          string
	At               time.Time
}

func (s Score) validate() error {
	switch {
	case math.IsNaN(s.Given) || math.IsInf(s.Given, 0) || s.Given < 0:
		return fmt.Errorf("score %v is not a number of points", s.Given)
	case !(s.Maximum > 0) || math.IsInf(s.Maximum, 0):
		return fmt.Errorf("maximum %v must be positive", s.Maximum)
	case s.ActivityProgress == "" || s.GradingProgress == "":
		return errors.New("activity and grading progress are required")
	case s.At.IsZero():
		return errors.New("the score needs its time")
	}
	return nil
}

// Delivery is everything a Pusher needs to put one score into the platform.
type Delivery struct {
	// Platform is the registration the score goes to, read with the score: what a
	// service token needs (its deployments are left out).
	Platform       lti.Platform
	ActivityID     int64
	ResourceLinkID string
	Label          string
	LineItemsURL   string
	// LineItemURL is the line item grade sync found or created for the activity,
	// else the one the launch named; empty when there is neither yet.
	LineItemURL string
	Scopes      []string
	UserSubject string // the learner's LTI user id (sub)
	// GradePath is the educator's choice: PathAGS (default) or PathMoodleWS.
	GradePath string
	// LineItemMaximum is the line item's scoreMaximum once known (0 until then).
	LineItemMaximum float64
	Score           Score
}

// Grade paths an educator can choose for an activity.
const (
	PathAGS      = "ags"
	PathMoodleWS = "moodle_ws"
)

// Pusher delivers a score to the platform (AGS, or Moodle web services where AGS is
// not granted). It returns the line item URL it used, which may have been found or
// created on the way.
type Pusher interface {
	Push(ctx context.Context, d Delivery) (lineItemURL string, err error)
}

// ErrUnknownGradePath means a grade path other than PathAGS or PathMoodleWS was chosen.
var ErrUnknownGradePath = errors.New("gradesync: unknown grade path")

// ErrSuperseded means the platform refused the score as older than the grade it holds
// (Moodle answers 409). Moodle compares the score's timestamp, to the second, with the
// moment it stored that grade, so a score newer than anything Huddle delivered can be
// refused too; the Service tells the two apart (see settle).
var ErrSuperseded = errors.New("gradesync: the platform refused the score as older than the grade it holds")

// ErrNotLearner means the person is not a learner in the activity's course; only
// learners' scores go to Moodle.
var ErrNotLearner = errors.New("gradesync: only learners' scores are synced")

// RejectedError is a refusal that retrying cannot fix, such as a score for someone
// who is not gradable in the course. The score is parked at once with Reason.
type RejectedError struct {
	Reason string
	Err    error
}

func (e *RejectedError) Error() string { return "gradesync: rejected: " + e.Reason }
func (e *RejectedError) Unwrap() error { return e.Err }

// Queue inserts jobs in the caller's transaction and makes a waiting one due now;
// *river.Client[pgx.Tx] is one.
type Queue interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobRetryTx(ctx context.Context, tx pgx.Tx, id int64) (*rivertype.JobRow, error)
}

// Service records scores and syncs them.
type Service struct {
	db *pgxpool.Pool
	// locks holds the line item locks (sessions of their own); db unless LockWith.
	locks  *pgxpool.Pool
	pusher Pusher
	queue  Queue
	now    func() time.Time
	// pushSlots bounds the instance's dispatchers' pushes in flight (pushConcurrency).
	pushSlots chan struct{}
}

// NewService returns a Service that records scores with their jobs on queue and pushes
// them with pusher; now may be nil (time.Now). The queue's client works the jobs with
// NewWorker and NewDispatchWorker. A River client can be made before its workers are
// added, so the queue exists when the service that the workers need is built (app/
// does it in that order).
func NewService(db *pgxpool.Pool, pusher Pusher, queue Queue, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, locks: db, pusher: pusher, queue: queue, now: now, pushSlots: make(chan struct{}, pushConcurrency)}
}

// LockWith takes the line item locks, which are session advisory locks, on pool: a
// pool on PostgreSQL itself when db goes through a transaction pooler such as
// PgBouncer, which would hand a session's lock to whoever uses the server connection
// next.
func (s *Service) LockWith(pool *pgxpool.Pool) { s.locks = pool }

// SyncArgs is the job: sync the newest score of one learner in one activity. It holds
// ids only, never the score, so a retried job cannot push a stale value.
type SyncArgs struct {
	ActivityID int64 `json:"activity_id"`
	UserID     int64 `json:"user_id"`
	// Generation is the score's sync generation the job was queued for
	// (scores.sync_generation, migrations/00046). A job does nothing once its score
	// has moved on to a newer generation, which has a job of its own. Zero is a job
	// queued by the previous release, which acts whatever the score's generation.
	Generation int64 `json:"generation,omitempty"`
}

// Kind names the job in River's tables.
func (SyncArgs) Kind() string { return "grade_sync" }

// InsertOpts makes one job per (activity, learner, generation), waiting or running: a
// newer score joins the job already there instead of adding another.
func (SyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		MaxAttempts: 1000, // the real limit is MaxRetryAge, checked by the worker
		UniqueOpts: river.UniqueOpts{
			ByArgs: true,
			// River requires running among these (UniqueOpts.ByState), so a score recorded
			// while its learner's job runs inserts nothing and relies on that job. That
			// holds because the generation changes exactly when the job stops being
			// responsible: the transaction that settles the score (settle, holding the
			// row's lock) marks it synced or failed, and the next score recorded after it
			// (upsertScore, waiting for that lock) starts a new generation, whose job is no
			// duplicate of the one still finishing. A score recorded before that lock is
			// seen by settle and pushed in the job's next round. The job itself is then
			// completed by River after Work returns, in River's batches, not in settle's
			// transaction: completing each job in a statement of its own cost a third of
			// grade sync's throughput. The database decides all of this, so it holds
			// across instances and crashes.
			ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStatePending,
				rivertype.JobStateRetryable, rivertype.JobStateRunning},
		},
	}
}

// isLearner is whether user $2 is a learner in the course of activity $1.
const isLearner = `EXISTS (SELECT 1 FROM memberships m JOIN activities a ON a.course_id = m.course_id
              WHERE a.id = $1 AND m.user_id = $2 AND 'learner' = ANY (m.roles))`

// upsertScore keeps the newest score by when it was earned (earned_at; a row of the
// previous release has only scored_at). Its timestamp for the platform, scored_at, is
// at least a millisecond (the precision sent) after the previous version's, which may
// have been moved on when Moodle refused it (settle): the timestamps Huddle sends for a
// learner's score in an activity only ever increase. Only learners have scores:
// Moodle's web services would store a grade for a teacher too. A score that was not
// pending (synced or parked, so whatever pushed it is done) starts a new sync
// generation, owned by the activity's dispatcher; a pending one keeps its generation
// and its owner, the dispatcher or a job of its own, which pushes the new value. The
// SET expressions read the row as it was. It returns whether the dispatcher owns the
// score and whether the activity's dispatcher is queued, read after the row is
// written; no row for an older score or a person who is not a learner.
const upsertScore = `
INSERT INTO scores (activity_id, user_id, score_given, score_maximum, activity_progress, grading_progress, comment,
                    earned_at, scored_at, state, dispatch)
SELECT $1::bigint, $2::bigint, $3::double precision, $4::double precision, $5::text, $6::text, $7::text,
       $8::timestamptz, $8::timestamptz, 'pending', true
WHERE ` + isLearner + `
ON CONFLICT (activity_id, user_id) DO UPDATE SET
    score_given = EXCLUDED.score_given, score_maximum = EXCLUDED.score_maximum,
    activity_progress = EXCLUDED.activity_progress, grading_progress = EXCLUDED.grading_progress,
    comment = EXCLUDED.comment, earned_at = EXCLUDED.earned_at,
    scored_at = greatest(EXCLUDED.scored_at, scores.scored_at + interval '1 millisecond'),
    sync_generation = CASE WHEN scores.state = 'pending' THEN scores.sync_generation
                           ELSE nextval('score_sync_generations') END,
    dispatch = CASE WHEN scores.state = 'pending' THEN scores.dispatch ELSE true END,
    state = 'pending', attempts = 0, last_error = ''
WHERE coalesce(scores.earned_at, scores.scored_at) < EXCLUDED.earned_at
RETURNING dispatch, coalesce((SELECT dispatch_queued FROM grade_sync_activities WHERE activity_id = $1), false)`

// Record stores a score and makes sure something will push it, in tx, the caller's
// transaction (the one that wrote whatever earned the score). A score earned before
// the stored one is ignored: the newest score wins.
//
// Record holds the activity's dispatch lock shared until tx ends, and reads whether
// the dispatcher is queued in a statement after taking it: a dispatcher can only
// stand down (endDispatch) while no Record is in progress, and sees every score
// committed before, so a score is never left with no dispatcher to push it.
func (s *Service) Record(ctx context.Context, tx pgx.Tx, sc Score) error {
	if err := sc.validate(); err != nil {
		return fmt.Errorf("gradesync: record: %w", err)
	}
	var stored, dispatch, queued bool
	// One round trip: the lock and the upsert are two statements, so the upsert's
	// snapshot is taken after the lock is granted. (Rows, not Row: a batch that ends
	// in an error, ErrNoRows included, makes pgx forget its prepared statements.)
	batch := &pgx.Batch{}
	batch.Queue(`SELECT pg_advisory_xact_lock_shared(`+dispatchLock+`)`, sc.ActivityID)
	batch.Queue(upsertScore, sc.ActivityID, sc.UserID, sc.Given, sc.Maximum,
		sc.ActivityProgress, sc.GradingProgress, sc.Comment, sc.At.UTC()).Query(func(rows pgx.Rows) error {
		if stored = rows.Next(); stored {
			if err := rows.Scan(&dispatch, &queued); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("gradesync: record: %w", err)
	}
	if !stored {
		// Older than the score stored, or not a learner's: only the second is an error.
		var learner bool
		err := tx.QueryRow(ctx, `SELECT `+isLearner, sc.ActivityID, sc.UserID).Scan(&learner)
		switch {
		case err != nil:
			return fmt.Errorf("gradesync: record: %w", err)
		case !learner:
			return ErrNotLearner
		}
		return nil
	}
	if !dispatch || queued {
		// A job of its own (after a failed push) or the queued dispatcher pushes it.
		return nil
	}
	return s.queueDispatcher(ctx, tx, sc.ActivityID)
}

// Submit records a score in a transaction of its own.
func (s *Service) Submit(ctx context.Context, sc Score) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error { return s.Record(ctx, tx, sc) })
}

const upsertGradePath = `
INSERT INTO grade_sync_activities (activity_id, grade_path)
VALUES ($1, $2)
ON CONFLICT (activity_id) DO UPDATE SET grade_path = EXCLUDED.grade_path`

// SetGradePath records the educator's choice of how this activity's grades reach
// Moodle, and queues every score not yet synced to go the new way. A path other than
// PathAGS or PathMoodleWS is ErrUnknownGradePath.
func (s *Service) SetGradePath(ctx context.Context, activityID int64, path string) error {
	if path != PathAGS && path != PathMoodleWS {
		return fmt.Errorf("gradesync: set grade path %q: %w", path, ErrUnknownGradePath)
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, upsertGradePath, activityID, path); err != nil {
			return fmt.Errorf("gradesync: set grade path: %w", err)
		}
		rows, err := tx.Query(ctx, requeue+` WHERE activity_id = $1 AND state <> 'synced'`+notDispatched+` RETURNING activity_id, user_id, sync_generation`, activityID)
		if err != nil {
			return fmt.Errorf("gradesync: set grade path: %w", err)
		}
		jobs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[SyncArgs])
		if err != nil {
			return err
		}
		for _, job := range jobs {
			if _, err := s.queue.InsertTx(ctx, tx, job, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// GradePath returns the activity's grade path: PathAGS until an educator chooses.
func (s *Service) GradePath(ctx context.Context, activityID int64) (string, error) {
	var p string
	err := s.db.QueryRow(ctx, `SELECT grade_path FROM grade_sync_activities WHERE activity_id = $1`, activityID).Scan(&p)
	if errors.Is(err, pgx.ErrNoRows) {
		return PathAGS, nil
	}
	if err != nil {
		return "", fmt.Errorf("gradesync: grade path of %d: %w", activityID, err)
	}
	return p, nil
}

// requeue gives scores back to jobs of their own: it makes them pending again,
// starting a new sync generation for those whose job is over (parked as failed); a
// pending one keeps its generation and its job. A score the dispatcher owns is left
// to it (notDispatched): it is pushed with the activity's settings when its turn
// comes.
const requeue = `
UPDATE scores SET sync_generation = CASE WHEN state = 'pending' THEN sync_generation ELSE nextval('score_sync_generations') END,
    state = 'pending', dispatch = false, attempts = 0, last_error = ''`

const notDispatched = ` AND NOT (state = 'pending' AND dispatch)`

// Retry enqueues a fresh sync for one learner's score (the educator's "retry now"). A
// score its activity's dispatcher has yet to push is left to it.
func (s *Service) Retry(ctx context.Context, activityID, userID int64) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		job := SyncArgs{ActivityID: activityID, UserID: userID}
		err := tx.QueryRow(ctx, requeue+` WHERE activity_id = $1 AND user_id = $2 AND state <> 'synced'`+notDispatched+` RETURNING sync_generation`,
			activityID, userID).Scan(&job.Generation)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("gradesync: retry: %w", err)
		}
		res, err := s.queue.InsertTx(ctx, tx, job, nil)
		if err != nil {
			return fmt.Errorf("gradesync: retry: %w", err)
		}
		// The job already waiting for its next attempt (one per score) is made due now;
		// otherwise "retry now" would wait for its backoff, up to half an hour.
		if res.UniqueSkippedAsDuplicate && (res.Job.State == rivertype.JobStateRetryable || res.Job.State == rivertype.JobStateScheduled) {
			if _, err := s.queue.JobRetryTx(ctx, tx, res.Job.ID); err != nil {
				return fmt.Errorf("gradesync: retry job %d now: %w", res.Job.ID, err)
			}
		}
		return nil
	})
}

// row is a score with what its delivery needs.
type row struct {
	d              Delivery
	state          string
	syncedScoredAt *time.Time
	generation     int64
}

// selectDelivery reads course's activities (the launch's AGS claim) and grade sync's
// own grade_sync_activities in one round trip. The line item a launch's claim names
// wins, as it did when both lived in one column: Moodle names the column it holds now,
// so an educator who deletes and recreates it is followed on the next launch. The one
// grade sync found or created serves links whose launches name none (Moodle omits the
// claim when a link has several line items). An activity without a row of its own is
// on the AGS path with nothing looked up yet.
const selectDelivery = `
SELECT p.id, p.issuer, p.client_id, p.auth_url, p.token_url, p.jwks_url, p.created_at, a.resource_link_id, a.title, a.ags_lineitems_url,
       coalesce(nullif(a.ags_lineitem_url, ''), g.lineitem_url, ''), a.ags_scopes, u.subject,
       coalesce(g.grade_path, 'ags'), coalesce(g.score_maximum, 0),
       s.score_given, s.score_maximum, s.activity_progress, s.grading_progress, s.comment, s.scored_at,
       s.state, s.synced_scored_at, s.sync_generation
FROM scores s
JOIN activities a ON a.id = s.activity_id
JOIN courses c ON c.id = a.course_id
JOIN platforms p ON p.id = c.platform_id
JOIN users u ON u.id = s.user_id
LEFT JOIN grade_sync_activities g ON g.activity_id = s.activity_id
WHERE s.activity_id = $1 AND s.user_id = $2`

// selectLineItem is selectDelivery's line item alone, re-read under the line item lock.
const selectLineItem = `
SELECT coalesce(nullif(a.ags_lineitem_url, ''), g.lineitem_url, '')
FROM activities a
LEFT JOIN grade_sync_activities g ON g.activity_id = a.id
WHERE a.id = $1`

// rememberLineItem keeps the line item grade sync found or created, so later scores
// skip the lookup. The first one kept stays: it is the activity's gradebook column.
const rememberLineItem = `
INSERT INTO grade_sync_activities (activity_id, lineitem_url)
VALUES ($1, $2)
ON CONFLICT (activity_id) DO UPDATE SET lineitem_url = EXCLUDED.lineitem_url
WHERE grade_sync_activities.lineitem_url = ''`

func (s *Service) load(ctx context.Context, activityID, userID int64) (row, error) {
	r := row{d: Delivery{ActivityID: activityID, Score: Score{ActivityID: activityID, UserID: userID}}}
	sc := &r.d.Score
	err := s.db.QueryRow(ctx, selectDelivery, activityID, userID).Scan(&r.d.Platform.ID, &r.d.Platform.Issuer, &r.d.Platform.ClientID,
		&r.d.Platform.AuthURL, &r.d.Platform.TokenURL, &r.d.Platform.JWKSURL, &r.d.Platform.CreatedAt, &r.d.ResourceLinkID, &r.d.Label,
		&r.d.LineItemsURL, &r.d.LineItemURL, &r.d.Scopes, &r.d.UserSubject, &r.d.GradePath, &r.d.LineItemMaximum,
		&sc.Given, &sc.Maximum, &sc.ActivityProgress, &sc.GradingProgress, &sc.Comment, &sc.At, &r.state, &r.syncedScoredAt, &r.generation)
	return r, err
}

// sync pushes the newest score of one learner until the platform holds it; the
// worker calls it for each job, and the dispatcher for each score it pushes. A score
// recorded while a push is in flight is pushed by the same call in its next round.
func (s *Service) sync(ctx context.Context, job SyncArgs, firstTried time.Time) error {
	resent := false // whether this attempt has sent a refused score again with a later timestamp
	for range 5 {
		done, err := s.syncOnce(ctx, job, firstTried, &resent)
		if err != nil || done {
			return err
		}
	}
	return errors.New("gradesync: the score kept changing while it was pushed; retrying")
}

// syncOnce pushes the stored score once; done reports whether the job is over: the
// platform holds the newest version, or it was parked as failed.
func (s *Service) syncOnce(ctx context.Context, job SyncArgs, firstTried time.Time, resent *bool) (done bool, _ error) {
	activityID, userID := job.ActivityID, job.UserID
	r, err := s.load(ctx, activityID, userID)
	if errors.Is(err, pgx.ErrNoRows) {
		// Activity or learner deleted: nothing left to sync. A score recorded again
		// since is a new row of a new generation, with a job of its own.
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("gradesync: load score: %w", err)
	}
	if job.Generation != 0 && r.generation != job.Generation {
		// Settled by this job before (the instance died before River heard), and a
		// newer score has a job of its own: two jobs must never push one score at once.
		return true, nil
	}
	if r.syncedScoredAt != nil && !r.syncedScoredAt.Before(r.d.Score.At) {
		return s.settle(ctx, r, outcome{kind: delivered}, resent) // this version is already in the platform
	}
	if s.now().Sub(firstTried) > MaxRetryAge {
		return s.settle(ctx, r, outcome{kind: parked, reason: "Moodle could not be reached for 24 hours."}, resent)
	}
	lineItem, err := s.push(ctx, &r)
	var rejected *RejectedError
	switch {
	case err == nil:
		return s.settle(ctx, r, outcome{kind: delivered, lineItem: lineItem}, resent)
	case errors.Is(err, ErrSuperseded):
		return s.settle(ctx, r, outcome{kind: refused, lineItem: lineItem}, resent)
	case errors.As(err, &rejected):
		return s.settle(ctx, r, outcome{kind: parked, reason: rejected.Reason}, resent)
	default:
		if _, uerr := s.db.Exec(ctx, `UPDATE scores SET attempts = attempts + 1, last_error = $3 WHERE activity_id = $1 AND user_id = $2`,
			activityID, userID, plainReason(err)); uerr != nil {
			return false, uerr
		}
		return false, err
	}
}

// push delivers r's score. Without a known line item it holds a per-activity lock
// while the pusher finds or creates one, so concurrent first scores of one activity
// cannot create two gradebook columns (a second one hides Moodle's lineitem claim).
// The lock is a session advisory lock on a connection of the direct pool, never a
// transaction's: no transaction stays open while Moodle answers (an open one holds
// back vacuum on every table and, behind PgBouncer, a server connection). If this
// process dies mid-call, its connection closes and PostgreSQL releases the lock; a
// line item created by a call whose answer was lost is found by the next attempt's
// lookup by resource link, so retries never make a second one.
// r.d.LineItemURL is left as the line item now stored, so settle stores it only if
// push did not.
func (s *Service) push(ctx context.Context, r *row) (string, error) {
	// Only AGS discovers line items; the web services path (no AGS score scope) and a
	// known line item need no lock.
	if r.d.LineItemURL != "" || !slices.Contains(r.d.Scopes, lti.ScopeScore) || r.d.GradePath == PathMoodleWS {
		return s.pusher.Push(ctx, r.d)
	}
	// Never wait long for the lock's connection: a worker waiting here would hold up
	// River, which shares the direct pool; the job comes back soon instead.
	acquireCtx, cancel := context.WithTimeout(ctx, lockAcquireWait)
	conn, err := s.locks.Acquire(acquireCtx)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			return "", errLineItemBusy
		}
		return "", err
	}
	defer conn.Release()
	key := r.d.ActivityID
	var locked bool
	// Try, never wait: a worker waiting here would hold a connection while the lock
	// holder may need one.
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended('huddle line item ' || $1::bigint, 0))`, key).Scan(&locked); err != nil {
		return "", err
	}
	if !locked {
		return "", errLineItemBusy
	}
	defer func() {
		// Unlock even if ctx ended; a connection that cannot unlock is closed, which
		// releases the lock, rather than going back to the pool holding it.
		unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(unlockCtx, `SELECT pg_advisory_unlock(hashtextextended('huddle line item ' || $1::bigint, 0))`, key); err != nil {
			_ = conn.Conn().Close(unlockCtx)
		}
	}()
	d := r.d
	// Another worker may have stored one since r was loaded.
	if err := conn.QueryRow(ctx, selectLineItem, d.ActivityID).Scan(&d.LineItemURL); err != nil {
		return "", err
	}
	lineItem, err := s.pusher.Push(ctx, d)
	if lineItem != "" && d.LineItemURL == "" {
		if _, uerr := s.db.Exec(ctx, rememberLineItem, d.ActivityID, lineItem); uerr != nil {
			return lineItem, uerr
		}
		d.LineItemURL = lineItem
	}
	r.d.LineItemURL = d.LineItemURL // stored; settle stores it only if it is still empty
	return lineItem, err
}

// lockAcquireWait bounds the wait for the line item lock's connection.
const lockAcquireWait = 2 * time.Second

// errLineItemBusy sends a job back to the queue while another worker finds or
// creates the activity's line item.
var errLineItemBusy = errors.New("gradesync: another worker is setting up this activity's gradebook column")

// errRefusedAgain: the score was refused as older again after it was sent with
// Huddle's clock as its timestamp. Moodle's clock must be ahead of Huddle's; by the
// next attempt Huddle's will have passed the time Moodle stored its grade.
var errRefusedAgain = errors.New("Moodle refused the score as older than the grade it holds, though Huddle has sent none newer; " +
	"Moodle's clock may be ahead of Huddle's. Huddle will try again.")

// outcome is what became of one version of a score.
type outcome struct {
	kind     outcomeKind
	lineItem string // the line item the push found or created, if any
	reason   string // why a parked version cannot be delivered
}

type outcomeKind int

const (
	delivered outcomeKind = iota // the platform holds it (or Huddle had delivered it before)
	refused                      // the platform refused it as older than the grade it holds (409)
	parked                       // it cannot be delivered: it is marked failed with the reason
)

// markDelivered records that the platform holds version $4 and locks the row; it
// returns whether that leaves nothing newer to push.
const markDelivered = `
UPDATE scores SET
    synced_at = CASE WHEN synced_scored_at IS NULL OR synced_scored_at < $4 THEN $3 ELSE synced_at END,
    synced_scored_at = greatest(synced_scored_at, $4),
    state = CASE WHEN scored_at <= greatest(synced_scored_at, $4) THEN 'synced' ELSE state END,
    last_error = CASE WHEN scored_at <= greatest(synced_scored_at, $4) THEN '' ELSE last_error END
WHERE activity_id = $1 AND user_id = $2
RETURNING scored_at <= synced_scored_at`

// settle records what became of version r under the score row's lock, and reports
// whether the job is done: whether the row holds nothing newer to push. Record's
// upsert takes the same lock before it inserts a job, so a score recorded at any
// moment is either seen here, and pushed in the job's next round, or recorded once
// this transaction has marked the score synced or failed, and starts a new
// generation with a job of its own (see SyncArgs.InsertOpts).
func (s *Service) settle(ctx context.Context, r row, o outcome, resent *bool) (done bool, _ error) {
	if o.kind == delivered && (o.lineItem == "" || r.d.LineItemURL != "") {
		// The common case is markDelivered alone, one statement, which needs no
		// transaction of its own: two round trips fewer for each score.
		err := s.db.QueryRow(ctx, markDelivered, r.d.ActivityID, r.d.Score.UserID, s.now(), r.d.Score.At).Scan(&done)
		if errors.Is(err, pgx.ErrNoRows) {
			return true, nil // deleted since it was loaded
		}
		if err != nil {
			return false, fmt.Errorf("gradesync: settle score of %d in %d: %w", r.d.Score.UserID, r.d.ActivityID, err)
		}
		return done, nil
	}
	refusedAgain := false
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		done, refusedAgain = false, false
		a, u, version := r.d.ActivityID, r.d.Score.UserID, r.d.Score.At
		var err error
		if o.kind == delivered {
			err = tx.QueryRow(ctx, markDelivered, a, u, s.now(), version).Scan(&done)
		} else {
			done, refusedAgain, err = s.settleUndelivered(ctx, tx, r, o, resent)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			done = true // deleted since it was loaded
			return nil
		}
		if err != nil {
			return err
		}
		if o.lineItem != "" && r.d.LineItemURL == "" {
			// Remember the line item found or created, so later scores skip the lookup
			// (push has stored it unless the platform refused the score).
			if _, err := tx.Exec(ctx, rememberLineItem, a, o.lineItem); err != nil {
				return fmt.Errorf("remember line item: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("gradesync: settle score of %d in %d: %w", r.d.Score.UserID, r.d.ActivityID, err)
	}
	if refusedAgain {
		return false, errRefusedAgain
	}
	return done, nil
}

// settleUndelivered handles a version the platform refused as older, or that is
// parked, with the row locked in tx.
func (s *Service) settleUndelivered(ctx context.Context, tx pgx.Tx, r row, o outcome, resent *bool) (done, refusedAgain bool, _ error) {
	a, u, version := r.d.ActivityID, r.d.Score.UserID, r.d.Score.At
	var scoredAt time.Time
	var synced *time.Time
	err := tx.QueryRow(ctx, `SELECT scored_at, synced_scored_at FROM scores WHERE activity_id = $1 AND user_id = $2 FOR UPDATE`,
		a, u).Scan(&scoredAt, &synced)
	if err != nil {
		return false, false, err
	}
	delivered := synced != nil && !synced.Before(scoredAt)
	switch {
	case delivered:
		// Huddle itself has put this version or a newer one into the platform: the grade
		// the platform holds is Huddle's newest. Genuinely superseded, or no longer due.
		return true, false, nil
	case !scoredAt.Equal(version):
		return false, false, nil // a newer score arrived: the next round pushes it
	case o.kind == parked:
		_, err := tx.Exec(ctx, `UPDATE scores SET state = 'failed', last_error = $3 WHERE activity_id = $1 AND user_id = $2`, a, u, o.reason)
		return err == nil, false, err
	case *resent:
		_, err := tx.Exec(ctx, `UPDATE scores SET attempts = attempts + 1, last_error = $3 WHERE activity_id = $1 AND user_id = $2`,
			a, u, errRefusedAgain.Error())
		return false, err == nil, err
	}
	// The platform refused the newest version, which is newer than anything Huddle
	// delivered (by Huddle's own timestamps). Moodle refuses a score whose timestamp is
	// in an earlier second than the moment it stored the learner's grade (lti/10 012;
	// its results show that moment, 020 and 033), and that grade is an older score of
	// Huddle's that landed late: pushed a second or more after this one was earned, or
	// sent by an instance that died before it heard the answer. So the version is sent
	// again with Huddle's clock as its timestamp, which is past that moment unless
	// Moodle's clock is ahead (errRefusedAgain), and always after the version's own.
	// (A grade an educator overrides in Moodle's gradebook stays overridden whatever a
	// tool sends.)
	restamped := s.now()
	if next := version.Add(time.Millisecond); restamped.Before(next) {
		restamped = next // the timestamps sent only ever increase, at the millisecond they are sent to
	}
	if _, err := tx.Exec(ctx, `UPDATE scores SET scored_at = $3 WHERE activity_id = $1 AND user_id = $2`, a, u, restamped); err != nil {
		return false, false, err
	}
	*resent = true
	return false, false, nil
}

// plainReason keeps the first line of an error for the educator's page; pushers put
// the plain-words part first and never include tokens.
func plainReason(err error) string {
	var te *lti.TokenError
	var se *lti.ServiceError
	switch {
	case errors.As(err, &te) && (te.Status == 0 || te.Status >= 500):
		return unavailable(te.Status, "")
	case errors.As(err, &se) && errors.Is(se, lti.ErrServiceUnavailable):
		return unavailable(se.Status, se.Reason)
	}
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}

// unavailable says, for the educator, that Moodle was down rather than that the
// score was wrong: the push will be tried again.
func unavailable(status int, reason string) string {
	msg := "Moodle did not answer"
	if status != 0 {
		msg = fmt.Sprintf("Moodle is unavailable (HTTP %d", status)
		if reason != "" {
			msg += " " + strconv.Quote(reason)
		}
		msg += ")"
	}
	return msg + "; Huddle will try again."
}

// Worker runs sync jobs.
type Worker struct {
	river.WorkerDefaults[SyncArgs]
	svc *Service
}

// NewWorker returns the River worker for the service.
func NewWorker(s *Service) *Worker { return &Worker{svc: s} }

// Work syncs one score.
func (w *Worker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	return w.svc.sync(ctx, job.Args, job.CreatedAt)
}

// NextRetry backs off exponentially with jitter, from 2 s to at most 30 minutes, so a
// Moodle that is down for an hour is retried a handful of times, not hammered.
func (w *Worker) NextRetry(job *river.Job[SyncArgs]) time.Time {
	return w.svc.now().Add(backoff(job.Attempt))
}

// backoff is the wait after a job's attempt-th failed attempt, jitter included.
func backoff(attempt int) time.Duration {
	b := time.Duration(math.Min(float64(30*time.Minute), float64(2*time.Second)*math.Pow(2, float64(attempt-1))))
	return b + time.Duration(rand.Int64N(int64(b/4)+1))
}

// Timeout bounds one push.
func (w *Worker) Timeout(*river.Job[SyncArgs]) time.Duration { return pushTimeout }
