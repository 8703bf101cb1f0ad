package app

import (
	"context"
	"log/slog"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// repeatedFailures is the attempt from which a job's failure is a warning. River logs
// every failed attempt at INFO; one failure is routine (Moodle restarting, a timeout),
// but a grade push or message failing three times in a row means Moodle has been
// unreachable for a while, and an operator who filters the log to warnings must see it.
const repeatedFailures = 3

// jobFailures raises River's failed attempts to warnings and errors (issue 17, item
// 14). It changes nothing about retrying: it returns nil, so River's own policy stands.
type jobFailures struct{ log *slog.Logger }

var _ river.ErrorHandler = jobFailures{}

func (h jobFailures) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	level := slog.LevelInfo
	switch {
	case job.Attempt >= job.MaxAttempts:
		level = slog.LevelError
	case job.Attempt >= repeatedFailures:
		level = slog.LevelWarn
	}
	// The job's arguments are not logged: they name people and activities.
	h.log.Log(ctx, level, "job failed", "job_id", job.ID, "job_kind", job.Kind,
		"attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", err)
	return nil
}

func (h jobFailures) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.log.ErrorContext(ctx, "job panicked", "job_id", job.ID, "job_kind", job.Kind,
		"attempt", job.Attempt, "panic", panicVal, "trace", trace)
	return nil
}
