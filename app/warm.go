package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/internal/pgwait"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/programme"
	"github.com/huddle-lti/huddle/ratelimit"
	"github.com/huddle-lti/huddle/roster"
	"github.com/huddle-lti/huddle/session"
)

// HotStatements are the statements of a launch, from login to session (an educator's
// asking for the roster included), and of what every page it lands on runs (the
// session, the activity, unread announcements): what a start-of-term rush runs. Each
// web connection prepares and plans them as it opens (PoolConfig.Warm). What a page of
// one kind runs besides is planned when first run.
func HotStatements() []string {
	var all []string
	for _, part := range [][]string{ratelimit.HotStatements(), lti.HotStatements(), course.HotStatements(),
		roster.HotStatements(), session.HotStatements(), programme.HotStatements()} {
		all = append(all, part...)
	}
	return all
}

// warmLifetimeJitter spreads the hourly replacement of a pool opened all at once
// (pgx's MaxConnLifetime), so that its connections are not all replaced, and warmed,
// in the same minute.
const warmLifetimeJitter = 10 * time.Minute

// keepWarm has every connection of a direct web pool open warm, and stay open:
//
//   - As it opens, a connection plans each prepared statement once, for any
//     parameters (plan_cache_mode force_generic_plan), unless the URL sets
//     plan_cache_mode itself. By default PostgreSQL plans a statement's first five
//     executions on each connection for their parameters before it settles on one
//     plan, and a launch's statements take up to 1 ms each to plan (0.04 for the
//     session's insert, 1 for the launch's upsert): a rush on new connections spent
//     its first second planning (pg_stat_statements: each launch statement planned 90
//     times over 15 connections). What a plan made without the parameters can lose is
//     what depends on their values: a partial index whose condition only the value
//     meets (the queries on reflection_shares repeat its condition) and optional
//     filters (an empty parameter meaning any), which Huddle's queries apply within
//     one board, one person's feed or one platform's rows. The benchmarks ran as fast
//     or faster, the post's insert faster (docs/operations.md, Capacity). It is set
//     once the connection is open, not as a startup parameter, which PgBouncer refuses.
//   - It then prepares warm, and with generic plans plans each of them too (EXPLAIN
//     EXECUTE, with NULL parameters, which a generic plan does not look at): a new
//     backend's first plans, catalog reads and relation opens happen here, not in the
//     requests of a rush. pgx runs a statement prepared under its own SQL as its name
//     for that SQL from then on. A statement that fails to prepare is logged and left
//     to be prepared when it is first run: the warm-up must not cost the connection.
//   - The pool keeps all its connections (MinConns is MaxConns unless the URL sets
//     pool_min_conns): pgx would otherwise close those idle for 30 minutes, and the
//     next rush would meet cold ones. Connections replaced after their lifetime are
//     opened, and warmed, in the background.
//
// A prepared statement whose result columns change under it (a migration by a newer
// instance) fails with "cached plan must not change result type" until deallocated;
// pgx recovers from that for its own statement cache, not for statements prepared
// by name. The tracer marks such a connection and the pool drops it at its next
// acquire (retireStale).
func keepWarm(pc *pgxpool.Config, url string, warm []string, log *slog.Logger) {
	rp := pc.ConnConfig.RuntimeParams
	generic := true
	if _, set := rp["plan_cache_mode"]; set || strings.Contains(rp["options"], "plan_cache_mode") {
		generic = false
	}
	pc.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if generic {
			if _, err := c.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
				return fmt.Errorf("app: set plan_cache_mode: %w", err)
			}
		}
		warmConn(ctx, c, warm, generic, log)
		return nil
	}
	if !strings.Contains(url, "pool_min_conns") {
		pc.MinConns = pc.MaxConns
	}
	if !strings.Contains(url, "pool_max_conn_lifetime_jitter") {
		pc.MaxConnLifetimeJitter = warmLifetimeJitter
	}
	pc.PrepareConn = retireStale
}

// warmConn prepares each of statements on c and, when plan, has PostgreSQL make and
// keep its generic plan.
func warmConn(ctx context.Context, c *pgx.Conn, statements []string, plan bool, log *slog.Logger) {
	for _, q := range statements {
		sd, err := c.Prepare(ctx, q, q)
		if err == nil && plan {
			_, err = c.Exec(ctx, "EXPLAIN EXECUTE "+sd.Name+nullArgs(len(sd.ParamOIDs)))
		}
		if err != nil {
			// The statement, never its parameters: nothing personal is in it.
			log.Warn("database: a hot statement was not warmed; it is prepared when first run",
				"statement", strings.Join(strings.Fields(q), " "), "err", err)
		}
	}
}

// nullArgs is EXECUTE's parameter list of n NULLs.
func nullArgs(n int) string {
	if n == 0 {
		return ""
	}
	return "(" + strings.Repeat("NULL, ", n-1) + "NULL)"
}

// staleKey marks, in a connection's CustomData, that a statement prepared on it by
// name no longer matches its tables.
const staleKey = "huddle.stale_statement"

// retireStale is the web pool's PrepareConn: a connection marked stale is closed
// rather than handed out, and the pool opens a warm one in its place.
func retireStale(_ context.Context, c *pgx.Conn) (bool, error) {
	_, stale := c.PgConn().CustomData()[staleKey]
	return !stale, nil
}

// webTracer is the web pool's tracer: pgwait's bound on waiting for a connection,
// and the mark of a connection whose prepared statement went stale.
type webTracer struct {
	*pgwait.Tracer
}

var _ pgx.BatchTracer = webTracer{}

// TraceQueryEnd marks c when its statement failed for a changed result type.
func (webTracer) TraceQueryEnd(_ context.Context, c *pgx.Conn, d pgx.TraceQueryEndData) {
	markStale(c, d.Err)
}

// TraceBatchStart does nothing.
func (webTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

// TraceBatchQuery marks c as TraceQueryEnd does.
func (webTracer) TraceBatchQuery(_ context.Context, c *pgx.Conn, d pgx.TraceBatchQueryData) {
	markStale(c, d.Err)
}

// TraceBatchEnd does nothing.
func (webTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func markStale(c *pgx.Conn, err error) {
	if err == nil {
		return
	}
	var pe *pgconn.PgError
	// PostgreSQL's plancache.c: feature_not_supported, with this message only here.
	if errors.As(err, &pe) && pe.Code == "0A000" && pe.Message == "cached plan must not change result type" {
		c.PgConn().CustomData()[staleKey] = true
	}
}
