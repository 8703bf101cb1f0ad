package web_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/app"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/lti/ltitest"
)

// Each web connection prepares and plans app.HotStatements as it opens, so that a
// start-of-term rush meeting new connections does not wait on their planning. Here,
// every statement a learner's or an educator's launch runs with parameters on the web
// pool, first and returning (the educator's asking for the roster included), and
// those of the page it lands on (the session, the activity, unread announcements), must
// be one of them: a statement added to that path fails this test until its package's
// HotStatements names it.
func TestLaunchRunsOnlyHotStatements(t *testing.T) {
	t.Parallel()
	rec := &statementLog{}
	pc, err := pgxpool.ParseConfig(dbtest.Migrated(t))
	require.NoError(t, err)
	pc.ConnConfig.Tracer = rec
	pool, err := pgxpool.NewWithConfig(t.Context(), pc)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	e := newLTIEnvOn(t, pool)
	hot := app.HotStatements()

	for _, who := range []struct {
		name   string
		member ltitest.Member
	}{{"learner", learner}, {"educator", educator}} {
		b := e.browser(t)
		var page string
		for _, step := range []struct {
			name string
			run  func(t *testing.T)
		}{
			{"first launch", func(t *testing.T) {
				r := e.launch(t, b, who.member, course2)
				require.Equal(t, http.StatusSeeOther, r.code, r.body)
				page = r.location
			}},
			{"returning launch", func(t *testing.T) {
				r := e.launch(t, b, who.member, course2)
				require.Equal(t, http.StatusSeeOther, r.code, r.body)
			}},
			{"the page it lands on", func(t *testing.T) {
				expectPage(t, b.get(page), http.StatusOK)
			}},
		} {
			t.Run(who.name+" "+step.name, func(t *testing.T) {
				rec.reset()
				step.run(t)
				ran := rec.taken()
				require.NotEmpty(t, ran, "the step ran statements")
				var missing []string
				for _, q := range ran {
					// River's own (sqlc's header): queueing the educator's roster read,
					// which huddle serve's queue does on the direct pool.
					if strings.HasPrefix(q, "-- name: ") {
						continue
					}
					if !slices.Contains(hot, q) {
						missing = append(missing, strings.Join(strings.Fields(q), " "))
					}
				}
				require.Empty(t, missing, "statements of the launch's path not in app.HotStatements")
			})
		}
	}
}

// statementLog is a pgx tracer that keeps the SQL of each statement run with
// parameters; those without run over the simple protocol, which prepares nothing.
type statementLog struct {
	mu  sync.Mutex
	sql []string
}

func (l *statementLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sql = nil
}

func (l *statementLog) taken() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.sql)
}

func (l *statementLog) add(sql string, args int) {
	if args == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sql = append(l.sql, sql)
}

func (l *statementLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.add(d.SQL, len(d.Args))
	return ctx
}

func (*statementLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (*statementLog) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (l *statementLog) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	l.add(d.SQL, len(d.Args))
}

func (*statementLog) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
