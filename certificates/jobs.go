package certificates

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Automatic issue runs through River, so nothing is lost when an instance stops: a
// check job per (certificate activity, learner), and a sweep that queues checks for
// every learner without a certificate. Attendance, and a reflection submitted or
// signed off, queue the checks they may complete in the transaction that records them
// (follow.go); other Huddle events that change a requirement are caught by the sweep
// (every SweepEvery) and by the learner opening the certificate; Moodle course
// completion, which Moodle never pushes, by the nightly sweep and at
// launch. Issuing is idempotent (one live certificate per learner and activity), so a
// check that runs twice issues once.

// SweepEvery is how often learners are checked against Huddle's own requirements.
const SweepEvery = 10 * time.Minute

// CheckArgs asks whether one learner has earned one certificate.
type CheckArgs struct {
	ActivityID int64 `json:"activity_id"`
	UserID     int64 `json:"user_id"`
	// Moodle asks Moodle about course completion too.
	Moodle bool `json:"moodle"`
}

// Kind names the job in River's tables.
func (CheckArgs) Kind() string { return "certificate_check" }

// InsertOpts keeps one waiting check per learner and activity. Finished jobs are not
// among the states, or a check could not be queued again for a week.
func (CheckArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStatePending,
			rivertype.JobStateRetryable, rivertype.JobStateRunning}}}
}

// CheckWorker works check jobs.
type CheckWorker struct {
	river.WorkerDefaults[CheckArgs]
	svc *Service
}

// NewCheckWorker returns the worker for check jobs.
func NewCheckWorker(s *Service) *CheckWorker { return &CheckWorker{svc: s} }

// Work issues the certificate when the learner meets every requirement.
func (w *CheckWorker) Work(ctx context.Context, j *river.Job[CheckArgs]) error {
	_, _, err := w.svc.IssueIfEligible(ctx, j.Args.ActivityID, j.Args.UserID, j.Args.Moodle)
	return err
}

// SweepArgs queues a check for every learner of every certificate with requirements
// who holds no live certificate.
type SweepArgs struct {
	Moodle bool `json:"moodle"`
}

// Kind names the job in River's tables.
func (SweepArgs) Kind() string { return "certificate_sweep" }

// SweepWorker works sweep jobs.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	svc   *Service
	queue Inserter
}

// Inserter queues jobs in a transaction (River's client).
type Inserter interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// NewSweepWorker returns the worker for sweep jobs.
func NewSweepWorker(s *Service, q Inserter) *SweepWorker { return &SweepWorker{svc: s, queue: q} }

// Work queues the checks; the nightly one also asks Moodle again about courses it
// said had no completion criteria.
func (w *SweepWorker) Work(ctx context.Context, j *river.Job[SweepArgs]) error {
	if _, err := w.svc.QueueChecks(ctx, w.queue, 0, j.Args.Moodle); err != nil {
		return err
	}
	if j.Args.Moodle {
		return w.svc.CheckAllCourseCriteria(ctx)
	}
	return nil
}

// QueueChecks queues a check for each learner without a live certificate, in one
// certificate activity or (activityID 0) in all of them, and returns how many.
func (s *Service) QueueChecks(ctx context.Context, q Inserter, activityID int64, moodle bool) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
SELECT d.activity_id, m.user_id
FROM certificate_definitions d
JOIN activities a ON a.id = d.activity_id
JOIN memberships m ON m.course_id = a.course_id AND 'learner' = ANY (m.roles)
WHERE jsonb_array_length(d.requirements) > 0 AND ($1::bigint = 0 OR d.activity_id = $1)
  AND NOT EXISTS (SELECT 1 FROM certificates c
                  WHERE c.activity_id = d.activity_id AND c.user_id = m.user_id AND c.revoked_at IS NULL)`, activityID)
		if err != nil {
			return err
		}
		pairs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ A, U int64 }])
		if err != nil {
			return err
		}
		if len(pairs) == 0 {
			return nil
		}
		params := make([]river.InsertManyParams, len(pairs))
		for i, p := range pairs {
			params[i] = river.InsertManyParams{Args: CheckArgs{ActivityID: p.A, UserID: p.U, Moodle: moodle}}
		}
		n = len(params)
		_, err = q.InsertManyTx(ctx, tx, params)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("certificates: queue checks: %w", err)
	}
	return n, nil
}

// PeriodicJobs are the sweeps: Huddle's requirements every SweepEvery, Moodle course
// completion once a day.
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(SweepEvery),
			func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil },
			&river.PeriodicJobOpts{ID: "certificate_sweep"}),
		river.NewPeriodicJob(river.PeriodicInterval(24*time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{Moodle: true}, nil },
			&river.PeriodicJobOpts{ID: "certificate_sweep_moodle"}),
	}
}
