package certificates

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Bulk issue (issue 15): an educator issues to a whole roster at once. Each learner's
// certificate is one River job, so the request that asks returns at once, the work is
// spread over the job workers of every instance (never more than they allow, so the
// web server keeps answering), and nothing is lost if an instance stops. The jobs of
// one bulk issue carry the same tag; progress is read from River's job table, so any
// instance can show it and none keeps it in memory.

// IssueArgs issues one learner's certificate by an educator's decision.
type IssueArgs struct {
	ActivityID int64 `json:"activity_id"`
	UserID     int64 `json:"user_id"`
	ActorID    int64 `json:"actor_id"`
}

// Kind names the job in River's tables.
func (IssueArgs) Kind() string { return "certificate_issue" }

// InsertOpts retries a failed issue a few times; IssueTo is idempotent, so a retry
// after a commit whose answer was lost issues nothing twice.
func (IssueArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 5} }

// IssueWorker works issue jobs.
type IssueWorker struct {
	river.WorkerDefaults[IssueArgs]
	svc *Service
}

// NewIssueWorker returns the worker for issue jobs.
func NewIssueWorker(s *Service) *IssueWorker { return &IssueWorker{svc: s} }

// Work issues the certificate (nothing if the learner holds a live one).
func (w *IssueWorker) Work(ctx context.Context, j *river.Job[IssueArgs]) error {
	_, _, err := w.svc.IssueTo(ctx, j.Args.ActorID, j.Args.ActivityID, j.Args.UserID)
	if errors.Is(err, ErrNotFound) {
		// The activity or its definition is gone: nothing to issue, ever.
		return river.JobCancel(err)
	}
	return err
}

// bulkTagPrefix starts the River tag of one bulk issue's jobs; the rest is its id.
const bulkTagPrefix = "certificate-bulk-"

var bulkIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ValidBulkID reports whether id is the shape QueueBulk returns.
func ValidBulkID(id string) bool { return bulkIDPattern.MatchString(id) }

// ErrNoQueue: the service was built without a job queue, so it cannot bulk issue.
var ErrNoQueue = errors.New("certificates: no job queue for bulk issue")

// QueueBulk queues one issue job per learner, all tagged with a new bulk id, in one
// transaction, and returns the id.
func (s *Service) QueueBulk(ctx context.Context, actorID, activityID int64, users []int64) (string, error) {
	q := s.queue
	if q == nil {
		return "", ErrNoQueue
	}
	id := uuid.New()
	bulk := fmt.Sprintf("%x", id[:])
	params := make([]river.InsertManyParams, len(users))
	for i, u := range users {
		params[i] = river.InsertManyParams{Args: IssueArgs{ActivityID: activityID, UserID: u, ActorID: actorID},
			InsertOpts: &river.InsertOpts{MaxAttempts: 5, Tags: []string{bulkTagPrefix + bulk}}}
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		_, err := q.InsertManyTx(ctx, tx, params)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("certificates: queue bulk issue of %d: %w", len(users), err)
	}
	return bulk, nil
}

// BulkProgress is how far a bulk issue has got.
type BulkProgress struct {
	Total  int `json:"total"`  // learners queued
	Done   int `json:"done"`   // jobs finished: issued, or the learner already held one
	Failed int `json:"failed"` // jobs given up on
}

// Finished reports whether no job of the bulk issue is left to run.
func (p BulkProgress) Finished() bool { return p.Done+p.Failed >= p.Total }

// BulkProgress reads a bulk issue's progress for the activity from River's job table.
// It returns ErrNotFound for an id with no jobs for that activity (an unknown id, or
// one whose finished jobs River has since cleaned away).
func (s *Service) BulkProgress(ctx context.Context, activityID int64, bulk string) (BulkProgress, error) {
	var p BulkProgress
	if !ValidBulkID(bulk) {
		return p, ErrNotFound
	}
	err := s.db.QueryRow(ctx, `
SELECT count(*),
       count(*) FILTER (WHERE state = 'completed'),
       count(*) FILTER (WHERE state IN ('discarded', 'cancelled'))
FROM river_job
WHERE kind = $1 AND tags @> ARRAY[$2]::varchar[] AND (args->>'activity_id')::bigint = $3`,
		IssueArgs{}.Kind(), bulkTagPrefix+bulk, activityID).Scan(&p.Total, &p.Done, &p.Failed)
	if err != nil {
		return p, fmt.Errorf("certificates: bulk progress: %w", err)
	}
	if p.Total == 0 {
		return p, ErrNotFound
	}
	return p, nil
}

// LearnersWithout lists the course's learners who hold no live certificate for the
// activity: whom "issue to every learner without one" queues. One query, however
// large the roster (requirements are not evaluated: the educator decides).
func (s *Service) LearnersWithout(ctx context.Context, activityID int64) ([]int64, error) {
	rows, err := s.db.Query(ctx, `
SELECT m.user_id
FROM activities a
JOIN memberships m ON m.course_id = a.course_id AND 'learner' = ANY (m.roles)
WHERE a.id = $1
  AND NOT EXISTS (SELECT 1 FROM certificates c
                  WHERE c.activity_id = a.id AND c.user_id = m.user_id AND c.revoked_at IS NULL)
ORDER BY m.user_id`, activityID)
	if err != nil {
		return nil, fmt.Errorf("certificates: learners without a certificate: %w", err)
	}
	users, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("certificates: learners without a certificate: %w", err)
	}
	return users, nil
}
