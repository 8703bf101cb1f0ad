package loadgen

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Querier reads Huddle's database; *pgxpool.Pool is one.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// queuedJobs counts the jobs still to do: waiting, running, or due within a second
// (a retry scheduled later is the platform's failure, not the launches' work in
// progress, and is reported apart). The comment keeps these reads out of the
// statement counts (pg_stat_statements) below.
const queuedJobs = `/* huddle-load */
SELECT count(*) FILTER (WHERE state IN ('available', 'running')
                           OR (state IN ('retryable', 'scheduled', 'pending') AND scheduled_at < now() + interval '1 second')),
       count(*) FILTER (WHERE state IN ('retryable', 'scheduled') AND scheduled_at >= now() + interval '1 second' AND attempt > 0)
FROM river_job`

// WaitForJobs returns once Huddle's job queue has nothing waiting or running, or
// with an error after timeout. Jobs that failed and wait for a later retry do not
// hold it up; Drain reports them.
func WaitForJobs(ctx context.Context, db Querier, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		var queued, later int64
		if err := db.QueryRow(ctx, queuedJobs).Scan(&queued, &later); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("job queue not drained within %s", timeout)
			}
			return fmt.Errorf("read the job queue: %w", err)
		}
		if queued == 0 {
			if later > 0 {
				return fmt.Errorf("%d jobs failed and wait for a retry: the platform did not answer them", later)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("job queue not drained within %s (%d jobs left)", timeout, queued)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// DBStats are PostgreSQL's counters for Huddle's database at one moment. Each is -1
// when it could not be read (pg_stat_statements needs the extension loaded).
type DBStats struct {
	// Commits are committed transactions in the database, statements included that
	// ran on their own (pg_stat_database.xact_commit).
	Commits int64
	// WALSyncs are the times WAL was flushed to disk, by anyone on the cluster
	// (pg_stat_wal.wal_sync): the durable commits' cost. WALRecords likewise.
	WALSyncs, WALRecords int64
	// Statements are the statements run in the database (pg_stat_statements.calls,
	// the load generator's own left out).
	Statements int64
	// Jobs counts the database's jobs by kind and state.
	Jobs map[string]int64
}

// ReadDBStats reads the counters. PostgreSQL's cumulative statistics reach these
// views up to PGSTAT_IDLE_INTERVAL (10 s) after an idle backend's work: read them a
// little more than that after the load has stopped.
func ReadDBStats(ctx context.Context, db Querier) DBStats {
	s := DBStats{Commits: -1, WALSyncs: -1, WALRecords: -1, Statements: -1}
	_ = db.QueryRow(ctx, `/* huddle-load */ SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&s.Commits)
	_ = db.QueryRow(ctx, `/* huddle-load */ SELECT wal_sync, wal_records FROM pg_stat_wal`).Scan(&s.WALSyncs, &s.WALRecords)
	_ = db.QueryRow(ctx, `/* huddle-load */
SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%huddle-load%'`).Scan(&s.Statements)
	_ = db.QueryRow(ctx, `/* huddle-load */
SELECT coalesce(jsonb_object_agg(k, n), '{}') FROM (SELECT kind || ' ' || state AS k, count(*) AS n FROM river_job GROUP BY 1) j`).Scan(&s.Jobs)
	return s
}

// ReportDB writes what happened in the database between two readings, per launch.
func ReportDB(w io.Writer, before, after DBStats, launches int) {
	if launches <= 0 {
		return
	}
	per := func(a, b int64) string {
		if a < 0 || b < 0 {
			return "unknown"
		}
		return fmt.Sprintf("%.2f per launch (%d)", float64(b-a)/float64(launches), b-a)
	}
	fmt.Fprintf(w, "db commits      %s\n", per(before.Commits, after.Commits))
	fmt.Fprintf(w, "wal flushes     %s, cluster-wide\n", per(before.WALSyncs, after.WALSyncs))
	fmt.Fprintf(w, "wal records     %s, cluster-wide\n", per(before.WALRecords, after.WALRecords))
	if after.Statements < 0 {
		fmt.Fprintln(w, "statements      unknown (pg_stat_statements is not loaded in this cluster)")
	} else {
		fmt.Fprintf(w, "statements      %s\n", per(before.Statements, after.Statements))
	}
	for _, k := range slices.Sorted(maps.Keys(after.Jobs)) {
		if d := after.Jobs[k] - before.Jobs[k]; d != 0 {
			fmt.Fprintf(w, "jobs            %-40s %+d\n", k, d)
		}
	}
}
