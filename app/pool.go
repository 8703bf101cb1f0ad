package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/huddle-lti/huddle/internal/pgwait"
	"github.com/huddle-lti/huddle/migrations"
)

// ErrDatabaseURL means the database URL could not be parsed. It never quotes the URL,
// which usually holds a password.
var ErrDatabaseURL = errors.New("is not a valid PostgreSQL connection URL")

// The connection budget of one instance. PostgreSQL allows 100 connections by default
// and keeps 3 of them for superusers; four instances of 8 + 5 take 52, which leaves
// 45 for psql, backups, monitoring and the instances a rolling deploy starts before
// the old ones stop (docs/operations.md).
const (
	// DefaultMaxConns is the web pool (HUDDLE_DB_MAX_CONNS): requests, and the job
	// workers' own queries. 8 connections keep 2 cores as busy as 15 did (the launch
	// mixes at concurrency 32 ran as fast on either), and every connection PostgreSQL
	// opens starts cold: a burst that opened 15 at once paid for 15 backends' first
	// plans and catalog reads in its first second (docs/operations.md, Capacity).
	DefaultMaxConns = 8
	// DefaultBackgroundConns is the direct budget (HUDDLE_DB_BACKGROUND_CONNS): the
	// live hub's one LISTEN connection, the rest River's pool (its own LISTEN, job
	// fetches and completions, leader election) and grade sync's line item locks.
	DefaultBackgroundConns = 5
	// DefaultAcquireWait is how long a request waits for a free web connection before
	// it is answered 503 with Retry-After (HUDDLE_DB_ACQUIRE_WAIT).
	DefaultAcquireWait = 3 * time.Second
	// MinBackgroundConns: the hub's connection, River's listener and one more.
	MinBackgroundConns = 3
)

// PoolConfig is the database part of an operator's settings.
type PoolConfig struct {
	// URL is HUDDLE_DATABASE_URL: the web pool's, possibly a PgBouncer in transaction
	// mode.
	URL string
	// DirectURL is HUDDLE_DATABASE_DIRECT_URL: PostgreSQL itself, for what needs a
	// session of its own (migrations under goose's advisory lock, LISTEN, River, grade
	// sync's line item locks). Empty means URL, which must then be direct too.
	DirectURL string
	// MaxConns is the web pool's size (DefaultMaxConns when zero); a pool_max_conns in
	// URL wins.
	MaxConns int32
	// BackgroundConns is the direct budget, the hub's connection included
	// (DefaultBackgroundConns when zero).
	BackgroundConns int32
	// AcquireWait bounds a request's wait for a web connection (DefaultAcquireWait
	// when zero).
	AcquireWait time.Duration
	// Pooled says URL leads to a transaction-mode pooler: the web pool then sends
	// every statement unprepared (pgx's exec mode), since a prepared statement lives
	// on a server connection the next transaction may not get. PreparedStatements
	// keeps pgx's statement cache for PgBouncer 1.21 or newer with
	// max_prepared_statements set, which tracks them itself.
	Pooled             bool
	PreparedStatements bool
}

// Pools are an instance's two budgets: Web (through a pooler or not) and Direct.
type Pools struct {
	Web    *pgxpool.Pool
	Direct *pgxpool.Pool
}

// Close closes both pools.
func (p *Pools) Close() {
	if p.Web != nil {
		p.Web.Close()
	}
	if p.Direct != nil && p.Direct != p.Web {
		p.Direct.Close()
	}
}

// OpenPools opens the web and direct pools of cfg and checks that both answer. The
// direct pool is sized BackgroundConns less the hub's connection, which the hub opens
// itself.
func OpenPools(ctx context.Context, cfg PoolConfig) (*Pools, error) {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.BackgroundConns <= 0 {
		cfg.BackgroundConns = DefaultBackgroundConns
	}
	if cfg.BackgroundConns < MinBackgroundConns {
		return nil, fmt.Errorf("app: a background budget of %d connections is too small; it needs at least %d", cfg.BackgroundConns, MinBackgroundConns)
	}
	if cfg.AcquireWait <= 0 {
		cfg.AcquireWait = DefaultAcquireWait
	}
	web, err := openPool(ctx, cfg.URL, cfg.MaxConns, func(pc *pgxpool.Config) {
		pc.ConnConfig.Tracer = &pgwait.Tracer{Wait: cfg.AcquireWait}
		if !cfg.Pooled {
			planOnce(pc)
		}
		if cfg.Pooled && !cfg.PreparedStatements {
			// Unnamed statements only: pgx describes a statement once per connection
			// and keeps the description, then sends each execution as one unnamed
			// Parse, Bind and Execute that PgBouncer passes to whichever server
			// connection it picks. Parameters keep their exact types (QueryExecModeExec
			// would guess them from Go's, sending []byte to a jsonb column as bytea).
			pc.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
			pc.ConnConfig.StatementCacheCapacity = 0
		}
	})
	if err != nil {
		return nil, err
	}
	directURL := cfg.DirectURL
	if directURL == "" {
		directURL = cfg.URL
	}
	direct, err := openPool(ctx, directURL, cfg.BackgroundConns-1, nil)
	if err != nil {
		web.Close()
		return nil, err
	}
	return &Pools{Web: web, Direct: direct}, nil
}

// planOnce has PostgreSQL plan each of a web connection's prepared statements once,
// for any parameters (plan_cache_mode force_generic_plan), unless the URL sets
// plan_cache_mode itself. By default PostgreSQL plans a statement's first five
// executions on each connection for their parameters before it settles on one plan,
// and a launch's statements take up to 1 ms each to plan: a rush on new connections
// spent its first second planning (pg_stat_statements: each launch statement planned
// 90 times over 15 connections). What a plan made without the parameters can lose
// is what depends on their values: a partial index whose condition only the value
// meets (the queries on reflection_shares repeat its condition) and optional filters
// (an empty parameter meaning any), which Huddle's queries apply within one board, one
// person's feed or one platform's rows. The benchmarks ran as fast or faster, the
// post's insert faster (docs/operations.md, Capacity).
//
// It is set once the connection is open, not as a startup parameter, which PgBouncer
// refuses. A transaction-mode PgBouncer is not sent it at all: its statements are
// unnamed, planned for their parameters each time.
func planOnce(pc *pgxpool.Config) {
	rp := pc.ConnConfig.RuntimeParams
	if _, set := rp["plan_cache_mode"]; set || strings.Contains(rp["options"], "plan_cache_mode") {
		return
	}
	pc.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if _, err := c.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
			return fmt.Errorf("app: set plan_cache_mode: %w", err)
		}
		return nil
	}
}

// OpenPool connects to PostgreSQL at url with the default web pool size and checks
// that it answers: for commands and tests that need one pool.
func OpenPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	return openPool(ctx, url, DefaultMaxConns+DefaultBackgroundConns, nil)
}

func openPool(ctx context.Context, url string, size int32, adjust func(*pgxpool.Config)) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included: say only what is wrong.
		return nil, ErrDatabaseURL
	}
	if !strings.Contains(url, "pool_max_conns") {
		pc.MaxConns = size
	}
	if adjust != nil {
		adjust(pc)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("app: open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("app: connect to database at %s:%d: %w", pc.ConnConfig.Host, pc.ConnConfig.Port, err)
	}
	return pool, nil
}

// Migrate applies every pending migration (under goose's lock, so several instances
// may start at once) and returns how many it applied. goose's lock is a session
// advisory lock: pool must reach PostgreSQL directly, never through a transaction
// pooler, which would hand the lock's session to someone else.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer func(db *sql.DB) { _ = db.Close() }(db)
	m, err := migrations.New(db)
	if err != nil {
		return 0, err
	}
	return m.Up(ctx)
}
