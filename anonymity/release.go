package anonymity

import (
	"context"

	"github.com/riverqueue/river"
)

// The release job's plumbing, the same for every user of this package: a job with no
// arguments (nothing in River's tables may name an item, a scope or a person), run
// each ReleaseEvery on one instance, never retried (the next minute's run does the
// same work), whose worker calls the user's release of every due queue. Each user
// declares its own argument type, so each has its own job kind.

// ReleaseInsertOpts are a release job's InsertOpts: one run a minute, however many
// instances schedule it, and no retry.
func ReleaseInsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByPeriod: ReleaseEvery}}
}

// ReleasePeriodicJob runs the release job args every ReleaseEvery, and once at start,
// for the River client's PeriodicJobs. The job's kind names it.
func ReleasePeriodicJob(args river.JobArgs) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(ReleaseEvery),
		func() (river.JobArgs, *river.InsertOpts) { return args, nil },
		&river.PeriodicJobOpts{ID: args.Kind(), RunOnStart: true})
}

// ReleaseWorker works release jobs of argument type A by releasing every due queue.
type ReleaseWorker[A river.JobArgs] struct {
	river.WorkerDefaults[A]
	release func(context.Context) (int, error)
}

// NewReleaseWorker returns the worker for release jobs of type A; release writes
// every due queue and says how many items it wrote.
func NewReleaseWorker[A river.JobArgs](release func(context.Context) (int, error)) *ReleaseWorker[A] {
	return &ReleaseWorker[A]{release: release}
}

// Work releases every due queue.
func (w *ReleaseWorker[A]) Work(ctx context.Context, _ *river.Job[A]) error {
	_, err := w.release(ctx)
	return err
}
