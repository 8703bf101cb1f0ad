package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/huddle-lti/huddle/migrations"
)

// ErrDatabaseURL means the database URL could not be parsed. It never quotes the URL,
// which usually holds a password.
var ErrDatabaseURL = errors.New("is not a valid PostgreSQL connection URL")

// poolSize is an instance's connections unless the URL says otherwise (pool_max_conns):
// the queue's workers each hold one while they run, and launches arrive in bursts (a
// whole class opens an activity at once) that spend most of their time waiting on
// PostgreSQL, so pgx's default of max(4, cores) is far too few.
const poolSize = 16 + queueWorkers

// OpenPool connects to PostgreSQL at url with an instance's pool size and checks that
// it answers.
func OpenPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included: say only what is wrong.
		return nil, ErrDatabaseURL
	}
	if !strings.Contains(url, "pool_max_conns") {
		pc.MaxConns = poolSize
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
// may start at once) and returns how many it applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer func(db *sql.DB) { _ = db.Close() }(db)
	m, err := migrations.New(db)
	if err != nil {
		return 0, err
	}
	return m.Up(ctx)
}
