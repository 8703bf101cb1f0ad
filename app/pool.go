package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
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
	// Warm are the statements each web connection prepares and plans as it opens
	// (HotStatements; keepWarm), when it reaches PostgreSQL directly.
	Warm []string
	// Log receives what the warm-up could not do; slog.Default() when nil.
	Log *slog.Logger
	// Migrate applies pending migrations on the direct pool before the web pool
	// opens, so that its connections warm against the schema they will serve.
	Migrate bool
	// Check, when set, runs before migrating, given the direct pool and a web pool
	// of one connection that warms nothing: what must hold before Huddle changes the
	// database (serve proves that a NOTIFY through the web URL reaches a LISTEN, which
	// also catches two URLs that lead to different databases).
	Check func(ctx context.Context, direct, web *pgxpool.Pool) error
}

// Pools are an instance's two budgets: Web (through a pooler or not) and Direct.
type Pools struct {
	Web    *pgxpool.Pool
	Direct *pgxpool.Pool
	// Migrated is how many migrations OpenPools applied (PoolConfig.Migrate).
	Migrated int
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

// OpenPools opens the direct and web pools of cfg and checks that both answer. In
// between it runs cfg.Check and then, with cfg.Migrate, migrates on the direct pool
// (goose's lock is a session advisory lock). The direct pool is sized BackgroundConns
// less the hub's connection, which the hub opens itself.
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
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	directURL := cfg.DirectURL
	if directURL == "" {
		directURL = cfg.URL
	}
	direct, err := openPool(ctx, directURL, cfg.BackgroundConns-1, nil)
	if err != nil {
		return nil, err
	}
	if cfg.Check != nil {
		probe, err := openPool(ctx, cfg.URL, 1, webConfig(cfg, false))
		if err != nil {
			direct.Close()
			return nil, err
		}
		err = cfg.Check(ctx, direct, probe)
		probe.Close()
		if err != nil {
			direct.Close()
			return nil, err
		}
	}
	migrated := 0
	if cfg.Migrate {
		if migrated, err = Migrate(ctx, direct); err != nil {
			direct.Close()
			return nil, err
		}
	}
	web, err := openPool(ctx, cfg.URL, cfg.MaxConns, webConfig(cfg, true))
	if err != nil {
		direct.Close()
		return nil, err
	}
	return &Pools{Web: web, Direct: direct, Migrated: migrated}, nil
}

// webConfig adjusts a web pool's configuration to cfg; warm says whether its
// connections open warm (keepWarm).
func webConfig(cfg PoolConfig, warm bool) func(*pgxpool.Config) {
	return func(pc *pgxpool.Config) {
		pc.ConnConfig.Tracer = webTracer{&pgwait.Tracer{Wait: cfg.AcquireWait}}
		if !cfg.Pooled && warm {
			// Through a transaction-mode PgBouncer nothing is set or prepared: a SET
			// would stay on whichever server connection took it, and every statement
			// is unnamed, planned for its parameters each time.
			keepWarm(pc, cfg.URL, cfg.Warm, cfg.Log)
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
	if err := fill(ctx, pool, max(pc.MinConns, 1)); err != nil {
		pool.Close()
		return nil, fmt.Errorf("app: connect to database at %s:%d: %w", pc.ConnConfig.Host, pc.ConnConfig.Port, err)
	}
	return pool, nil
}

// fill opens n of pool's connections, all at once, and checks that they answer: pgx
// opens MinConns in the background, and an instance that says it is ready must not
// still be warming them (keepWarm).
func fill(ctx context.Context, pool *pgxpool.Pool, n int32) error {
	conns := make([]*pgxpool.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			conns[i], errs[i] = pool.Acquire(ctx)
			if errs[i] == nil {
				errs[i] = conns[i].Ping(ctx)
			}
		})
	}
	wg.Wait()
	for _, c := range conns {
		if c != nil {
			c.Release()
		}
	}
	for _, err := range errs {
		if err != nil {
			return err // one is enough: they fail alike
		}
	}
	return nil
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
