package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/app"
	"github.com/huddle-lti/huddle/dbtest"
)

// The pools are sized from the budget: the web pool to MaxConns, the direct pool to
// the background budget less the live hub's own connection; the defaults are the
// documented 8 + 5 (four instances in PostgreSQL's default 100).
func TestOpenPoolsSizesFromConfig(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.Migrated(t)
	for _, tc := range []struct {
		name                string
		cfg                 app.PoolConfig
		wantWeb, wantDirect int32
	}{
		{"defaults", app.PoolConfig{}, 8, 4},
		{"configured", app.PoolConfig{MaxConns: 7, BackgroundConns: 4}, 7, 3},
		{"smallest background", app.PoolConfig{MaxConns: 2, BackgroundConns: 3}, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.URL = dbURL
			pools, err := app.OpenPools(t.Context(), tc.cfg)
			require.NoError(t, err)
			defer pools.Close()
			require.Equal(t, tc.wantWeb, pools.Web.Config().MaxConns)
			require.Equal(t, tc.wantWeb, pools.Web.Stat().TotalConns(), "the web pool opens all its connections before it is used")
			require.Equal(t, tc.wantDirect, pools.Direct.Config().MaxConns)
			require.NotSame(t, pools.Web, pools.Direct, "River and LISTEN never take the web budget's connections")
		})
	}
	// PostgreSQL's default max_connections, less superuser_reserved_connections, less at
	// least 10 for psql, backups and monitoring.
	require.LessOrEqual(t, 4*(app.DefaultMaxConns+app.DefaultBackgroundConns), 100-3-10,
		"four instances at the defaults leave room for administration")

	_, err := app.OpenPools(t.Context(), app.PoolConfig{URL: dbURL, BackgroundConns: 2})
	require.ErrorContains(t, err, "at least 3")
}

// A web connection plans each prepared statement once, for any parameters, so a burst
// on new connections does not spend its first second planning each statement five
// times a connection; the direct pool (River, LISTEN) keeps PostgreSQL's default. A
// plan_cache_mode in the URL wins, and through a transaction-mode PgBouncer nothing is
// set: a SET there would stay on whichever server connection took it, and every
// statement is unnamed, planned for its parameters anyway.
func TestWebConnectionsPlanEachStatementOnce(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.Migrated(t)
	// plans runs one prepared statement three times, with three parameters, on a
	// connection of pool, and returns how often PostgreSQL planned it generically
	// and for the parameters.
	plans := func(t *testing.T, pool *pgxpool.Pool) (mode string, generic, custom int) {
		t.Helper()
		c, err := pool.Acquire(t.Context())
		require.NoError(t, err)
		defer c.Release()
		require.NoError(t, c.QueryRow(t.Context(), "SHOW plan_cache_mode").Scan(&mode))
		const q = "SELECT count(*) FROM users WHERE platform_id = $1 AND subject = $2"
		for i := range 3 {
			var n int
			require.NoError(t, c.QueryRow(t.Context(), q, int64(i), "someone").Scan(&n))
		}
		err = c.QueryRow(t.Context(), `SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)
FROM pg_prepared_statements WHERE statement = $1`, q).Scan(&generic, &custom)
		require.NoError(t, err)
		return mode, generic, custom
	}
	for _, tc := range []struct {
		name            string
		cfg             app.PoolConfig
		wantWeb         string
		generic, custom int
	}{
		{"direct", app.PoolConfig{URL: dbURL}, "force_generic_plan", 3, 0},
		{"the URL's choice", app.PoolConfig{URL: withParam(t, dbURL, "plan_cache_mode", "auto")}, "auto", 0, 3},
		{"through pgbouncer", app.PoolConfig{URL: dbURL, DirectURL: dbURL, Pooled: true}, "auto", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pools, err := app.OpenPools(t.Context(), tc.cfg)
			require.NoError(t, err)
			defer pools.Close()
			mode, generic, custom := plans(t, pools.Web)
			require.Equal(t, tc.wantWeb, mode)
			require.Equal(t, tc.generic, generic, "generic plans")
			require.Equal(t, tc.custom, custom, "plans for the parameters")
			mode, _, custom = plans(t, pools.Direct)
			require.Equal(t, "auto", mode, "the direct pool keeps PostgreSQL's default")
			require.Equal(t, 3, custom)
		})
	}
}

// Each web connection opens warm: it has prepared app.HotStatements and made their
// generic plans before any request runs one, so a rush on a new instance does not
// wait on planning. A statement that cannot be prepared is logged, without failing
// the connection; the others are warmed all the same. A transaction-mode PgBouncer's
// connections prepare nothing.
func TestWebConnectionsOpenWarm(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.Migrated(t)
	const broken = "SELECT no_such_column FROM users WHERE id = $1"
	var log bytes.Buffer
	pools, err := app.OpenPools(t.Context(), app.PoolConfig{URL: dbURL, MaxConns: 3,
		Warm: append(app.HotStatements(), broken), Log: slog.New(slog.NewTextHandler(&log, nil))})
	require.NoError(t, err)
	defer pools.Close()
	require.Equal(t, int32(3), pools.Web.Stat().TotalConns())

	conns := pools.Web.AcquireAllIdle(t.Context())
	defer func() { // before the pool closes, which waits for them
		for _, c := range conns {
			c.Release()
		}
	}()
	require.Len(t, conns, 3, "every connection was opened, and is idle")
	for _, c := range conns {
		rows, err := c.Query(t.Context(), `SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements`)
		require.NoError(t, err)
		type prepared struct {
			Statement       string
			Generic, Custom int64
		}
		got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[prepared])
		require.NoError(t, err)
		plans := map[string]prepared{}
		for _, p := range got {
			plans[p.Statement] = p
		}
		for _, q := range app.HotStatements() {
			p, ok := plans[q]
			require.True(t, ok, "not prepared: %s", q)
			require.Equal(t, int64(1), p.Generic, "planned once, for any parameters: %s", q)
			require.Zero(t, p.Custom, q)
		}
		require.NotContains(t, plans, broken)
	}
	require.Contains(t, log.String(), "a hot statement was not warmed")
	require.Contains(t, log.String(), "no_such_column")
	require.Equal(t, 3, strings.Count(log.String(), "not warmed"), "one line a connection, for the broken statement only")

	pooled, err := app.OpenPools(t.Context(), app.PoolConfig{URL: dbURL, DirectURL: dbURL, Pooled: true, Warm: app.HotStatements()})
	require.NoError(t, err)
	defer pooled.Close()
	var n int
	require.NoError(t, pooled.Web.QueryRow(t.Context(), `SELECT count(*) FROM pg_prepared_statements`).Scan(&n))
	require.Zero(t, n, "nothing prepared for PgBouncer to strand")
}

// A statement prepared as a connection opened fails on it once a migration changes
// its result columns ("cached plan must not change result type"), and would go on
// failing there: pgx recovers only the statements of its own cache. The connection
// is then retired, and the pool's next one runs the statement.
func TestStaleWarmStatementRetiresItsConnection(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.Migrated(t)
	admin := dbtest.Pool(t, dbURL)
	_, err := admin.Exec(t.Context(), `CREATE TABLE warm_probe (id bigint PRIMARY KEY); INSERT INTO warm_probe VALUES (1)`)
	require.NoError(t, err)
	const q = "SELECT * FROM warm_probe WHERE id = $1"
	pools, err := app.OpenPools(t.Context(), app.PoolConfig{URL: dbURL, MaxConns: 1, Warm: []string{q}})
	require.NoError(t, err)
	defer pools.Close()
	cols := func() (int, error) {
		rows, err := pools.Web.Query(t.Context(), q, 1)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		rows.Next()
		return len(rows.FieldDescriptions()), rows.Err()
	}
	n, err := cols()
	require.NoError(t, err)
	require.Equal(t, 1, n)

	_, err = admin.Exec(t.Context(), `ALTER TABLE warm_probe ADD COLUMN note text`)
	require.NoError(t, err)
	_, err = cols()
	require.ErrorContains(t, err, "cached plan must not change result type")
	n, err = cols()
	require.NoError(t, err, "the stale connection was retired")
	require.Equal(t, 2, n)
}

// withParam is rawURL with the query parameter name set to value.
func withParam(t *testing.T, rawURL, name, value string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// A request that finds every web connection taken waits the bounded time and is then
// answered 503 with Retry-After: JSON with a code for a machine, a plain page for a
// person. With a connection free, the same request is served.
func TestRequestWithoutAConnectionIs503(t *testing.T) {
	t.Parallel()
	pools, err := app.OpenPools(t.Context(), app.PoolConfig{URL: dbtest.Migrated(t), MaxConns: 2, AcquireWait: 300 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(pools.Close)
	base, err := url.Parse("http://localhost")
	require.NoError(t, err)
	a, err := app.New(t.Context(), pools.Web, app.Config{BaseURL: base, SecretKey: bytes.Repeat([]byte{3}, 32), Version: "test",
		ShutdownTimeout: 5 * time.Second, Direct: pools.Direct}, app.Options{KeyBits: 1024})
	require.NoError(t, err)
	t.Cleanup(a.Close)

	get := func(accept string) (*http.Response, string, time.Duration) {
		req := httptest.NewRequest(http.MethodGet, "/calendar/"+strings.Repeat("x", 43)+".ics", nil)
		req.Header.Set("Accept", accept)
		start := time.Now()
		resp, err := a.Web.App().Test(req, 10_000)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp, string(body), time.Since(start)
	}

	resp, body, _ := get("application/json") //nolint:bodyclose // get closes it
	require.NotEqual(t, http.StatusServiceUnavailable, resp.StatusCode, "with a connection free the request is served: %s", body)

	// Take every web connection, as a burst of slow requests would.
	var held []*pgxpool.Conn
	for range 2 {
		c, err := pools.Web.Acquire(t.Context())
		require.NoError(t, err)
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()

	resp, body, took := get("application/json") //nolint:bodyclose // get closes it
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.GreaterOrEqual(t, took, 300*time.Millisecond, "it waited for a connection first")
	require.Less(t, took, 5*time.Second, "and only for the bounded time")
	var problem struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &problem), body)
	require.Equal(t, "overloaded", problem.Error.Code)

	resp, body, _ = get("text/html") //nolint:bodyclose // get closes it
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	require.Contains(t, body, "Huddle is busy")

	// huddle_db_pool_acquire_timeouts_total counts both.
	require.Equal(t, int64(2), pools.Web.Config().ConnConfig.Tracer.(interface{ Timeouts() int64 }).Timeouts())
}
