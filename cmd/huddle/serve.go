package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/app"
	"github.com/huddle-lti/huddle/live"
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
	defer pool.Close()
	n, err := app.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	newLogger(e.stderr, cfg.LogFormat).Info("migrations applied", "count", n)
	return nil
}

// openDB loads the database settings and opens the pool, for the commands that need
// only the database. They go to PostgreSQL directly when HUDDLE_DATABASE_DIRECT_URL
// is set: migrate takes goose's session lock, and none of them needs PgBouncer.
func openDB(ctx context.Context, e env) (Config, *pgxpool.Pool, error) {
	cfg, err := loadConfig(e.getenv, needDB)
	if err != nil {
		return cfg, nil, err
	}
	name, url := "HUDDLE_DATABASE_URL", cfg.DatabaseURL
	if cfg.DatabaseDirectURL != "" {
		name, url = "HUDDLE_DATABASE_DIRECT_URL", cfg.DatabaseDirectURL
	}
	pool, err := app.OpenPool(ctx, url)
	if errors.Is(err, app.ErrDatabaseURL) {
		return cfg, nil, &ConfigError{name, err.Error()}
	}
	return cfg, pool, err
}

// openPools opens the direct pool of cfg's connection budget, proves that a NOTIFY
// sent through the web URL reaches a LISTEN on the direct one's configuration, as
// every post's live update must, migrates, and opens the web pool, its connections
// warmed with the launch's statements.
func openPools(ctx context.Context, cfg Config, log *slog.Logger) (*app.Pools, error) {
	pc := cfg.poolConfig()
	pc.Migrate, pc.Warm, pc.Log = true, app.HotStatements(), log
	pc.Check = func(ctx context.Context, direct, web *pgxpool.Pool) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return live.ProveDelivery(ctx, direct.Config().ConnConfig, web)
	}
	pools, err := app.OpenPools(ctx, pc)
	if errors.Is(err, app.ErrDatabaseURL) {
		name := "HUDDLE_DATABASE_URL"
		if cfg.DatabaseDirectURL != "" {
			name = "HUDDLE_DATABASE_URL or HUDDLE_DATABASE_DIRECT_URL"
		}
		return nil, &ConfigError{name, err.Error()}
	}
	if err != nil {
		return nil, err
	}
	return pools, nil
}

// appConfig is the part of the settings the assembled application needs.
func appConfig(cfg Config) app.Config {
	return app.Config{
		BaseURL:                  cfg.BaseURL,
		SecretKey:                cfg.SecretKey,
		Version:                  version,
		SessionIdle:              cfg.SessionIdle,
		SessionFramedIdle:        cfg.SessionFramedIdle,
		SessionAbsolute:          cfg.SessionAbsolute,
		LaunchLeeway:             cfg.LaunchLeeway,
		RegistrationToken:        cfg.RegistrationToken,
		RequireRegistrationToken: cfg.Mode == ModeProduction,
		ShutdownTimeout:          cfg.ShutdownTimeout,
		Development:              cfg.Mode == ModeDevelopment,
		MaxTokenAge:              cfg.MaxTokenAge,
		LoginsPerMinute:          cfg.LoginsPerMinute,
		TrustedProxies:           cfg.TrustedProxies,
		MetricsToken:             cfg.MetricsToken,
		AuditRetention:           cfg.AuditRetention,
		OpportunityRetention:     cfg.OpportunityRetention,
		JobRetention:             cfg.JobRetention,
		Pooled:                   cfg.DB.PgBouncer,
	}
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

	pools, err := openPools(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer pools.Close()
	if pools.Migrated > 0 {
		log.Info("migrations applied", "count", pools.Migrated)
	}

	ac := appConfig(cfg)
	ac.Direct = pools.Direct
	huddle, err := app.New(ctx, pools.Web, ac, app.Options{Logger: log, Registry: app.NewRegistry()})
	if err != nil {
		return err
	}
	defer huddle.Close()
	if cfg.DevPlatformAddr != "" {
		if err := startDevPlatform(ctx, huddle, cfg.DevPlatformAddr); err != nil {
			return fmt.Errorf("development platform: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if cfg.MetricsAddr != "" {
		if err := serveMetrics(ctx, huddle, cfg.MetricsAddr, log); err != nil {
			_ = ln.Close()
			return err
		}
	}
	log.Info("huddle listening", "addr", ln.Addr().String(), "base_url", cfg.BaseURL.String(), "mode", cfg.Mode, "version", version)
	return huddle.Run(ctx, ln)
}

// serveMetrics serves /metrics on addr until ctx ends: a private address that only
// the monitoring system reaches, so the public port need not show them.
func serveMetrics(ctx context.Context, huddle *app.App, addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", huddle.Web.MetricsHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return nil
}

// openPool opens one pool on url, for a command that does not load the rest of the
// settings through openDB.
func openPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pool, err := app.OpenPool(ctx, url)
	if errors.Is(err, app.ErrDatabaseURL) {
		return nil, &ConfigError{"HUDDLE_DATABASE_URL", err.Error()}
	}
	return pool, err
}
