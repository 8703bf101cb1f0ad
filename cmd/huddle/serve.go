package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/huddle-lti/huddle/egress"
	"github.com/huddle-lti/huddle/migrations"
	"github.com/huddle-lti/huddle/roster"
	"github.com/huddle-lti/huddle/web"
)

func runMigrate(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "migrate", "Apply every pending database migration (safe to run from several instances at once).", needDB)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, pool, err := openDB(ctx, e)
	if err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg.LogFormat)
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	n, err := migrate(ctx, db)
	if err != nil {
		return err
	}
	log.Info("migrations applied", "count", n)
	return nil
}

func migrate(ctx context.Context, db *sql.DB) (int, error) {
	m, err := migrations.New(db)
	if err != nil {
		return 0, err
	}
	return m.Up(ctx)
}

// openDB loads the database settings and opens the pool, for the commands that need
// only the database.
func openDB(ctx context.Context, e env) (Config, *pgxpool.Pool, error) {
	cfg, err := loadConfig(e.getenv, needDB)
	if err != nil {
		return cfg, nil, err
	}
	pool, err := openPool(ctx, cfg.DatabaseURL)
	return cfg, pool, err
}

func openPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included: say only what is wrong.
		return nil, &ConfigError{"HUDDLE_DATABASE_URL", "is not a valid PostgreSQL connection URL"}
	}
	// pgx defaults to max(4, cores) connections; launches arrive in bursts (a whole
	// class opens an activity at once) and spend most of their time waiting on
	// PostgreSQL, so allow more unless the URL says otherwise (pool_max_conns).
	if !strings.Contains(url, "pool_max_conns") {
		pc.MaxConns = 40 // web requests plus 24 grade sync workers
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database at %s:%d: %w", pc.ConnConfig.Host, pc.ConnConfig.Port, err)
	}
	return pool, nil
}

func runServe(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "serve", "Run the HTTP server and the background workers. Migrations are applied first.", needServe)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(e.getenv, needServe)
	if err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg.LogFormat)
	// Huddle's live heap is small (tens of MB) and nearly every request allocates a
	// little; collecting at twice the default growth spends less CPU on GC for a few
	// more MB. GOGC in the environment still wins.
	if e.getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}

	pool, err := openPool(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()

	m, err := migrations.New(db)
	if err != nil {
		return err
	}
	if n, err := m.Up(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("migrations applied", "count", n)
	}

	svc, err := newServices(pool, cfg, outboundClient(), log)
	if err != nil {
		return err
	}
	if err := svc.keys.Ensure(ctx); err != nil {
		return err
	}
	// The workers run on a context of their own so that, on SIGTERM, the web server
	// drains first and the queue stops after it (River hands unfinished jobs back).
	if err := svc.queue.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	defer func() {
		stop, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := svc.queue.Stop(stop); err != nil {
			log.Warn("job queue did not stop cleanly", "err", err)
		}
	}()
	go prune(ctx, log, svc, time.Minute)
	go func() {
		if err := svc.hub.Run(ctx); err != nil {
			log.Error("live updates stopped", "err", err)
		}
	}()
	if cfg.DevPlatformAddr != "" {
		if err := startDevPlatform(ctx, log, cfg, svc.lti); err != nil {
			return fmt.Errorf("development platform: %w", err)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), newPoolCollector(pool))

	srv, err := web.New(web.Deps{
		Logger:   log,
		Version:  version,
		Database: pool,
		Schema:   m,
		Registry: reg,

		BaseURL:   cfg.BaseURL,
		LTI:       svc.lti,
		Verifier:  svc.verifier,
		Keys:      svc.keys,
		DeepLinks: svc.deepLinks,
		Courses:   svc.courses,
		Sessions:  svc.sessions,
		Grades:    svc.grades,
		Moodle:    svc.moodle,
		RequestRoster: func(ctx context.Context, courseID int64) error {
			return roster.Request(ctx, svc.queue, courseID)
		},
		Boards:      svc.boards,
		Notices:     svc.notices,
		Reflections: svc.reflect,
		Live:        svc.hub,
		Kinds:       kinds(),
		Outbound:    outboundClient(),

		RegistrationToken:        cfg.RegistrationToken,
		RequireRegistrationToken: cfg.Mode == ModeProduction,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	log.Info("huddle listening", "addr", ln.Addr().String(), "base_url", cfg.BaseURL.String(), "mode", cfg.Mode, "version", version)
	return srv.Serve(ctx, ln, cfg.ShutdownTimeout)
}

// outboundClient is the HTTP client for every call Huddle makes to a platform: it
// names Huddle in User-Agent and never dials link-local or metadata addresses.
func outboundClient() *http.Client {
	return egress.NewClient(egress.Options{UserAgent: userAgent(), Timeout: 15 * time.Second})
}
