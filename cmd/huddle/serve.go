package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/app"
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
	pool, err := app.OpenPool(ctx, url)
	if errors.Is(err, app.ErrDatabaseURL) {
		return nil, &ConfigError{"HUDDLE_DATABASE_URL", err.Error()}
	}
	return pool, err
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
	if n, err := app.Migrate(ctx, pool); err != nil {
		return err
	} else if n > 0 {
		log.Info("migrations applied", "count", n)
	}

	huddle, err := app.New(ctx, pool, appConfig(cfg), app.Options{Logger: log, Registry: app.NewRegistry()})
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
