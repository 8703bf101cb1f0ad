// Package migrations holds Huddle's schema as numbered SQL files embedded in the
// binary, and applies them with goose under a PostgreSQL advisory lock so that
// several instances starting at once end with one applied set.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// Migrator applies and inspects Huddle's migrations on one database.
type Migrator struct {
	provider *goose.Provider
}

// New prepares a Migrator for db. It reads the embedded files but touches no table.
func New(db *sql.DB) (*Migrator, error) {
	// The session locker takes pg_advisory_lock on a dedicated connection for the
	// whole run, so a second instance waits and then finds nothing left to apply.
	// Waiters poll every second (goose's default is five) for up to five minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("migrations: locker: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithSessionLocker(locker),
		goose.WithGoMigrations(riverMigration()))
	if err != nil {
		return nil, fmt.Errorf("migrations: load: %w", err)
	}
	return &Migrator{provider: p}, nil
}

// Up applies every pending migration and returns how many it applied.
func (m *Migrator) Up(ctx context.Context) (int, error) {
	results, err := m.provider.Up(ctx)
	if err != nil {
		return len(results), fmt.Errorf("migrations: up: %w", err)
	}
	return len(results), nil
}

// Current reports whether the database has every embedded migration applied. It
// takes no lock, so readiness probes never queue behind a running migration.
func (m *Migrator) Current(ctx context.Context) (bool, error) {
	pending, err := m.provider.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("migrations: check pending: %w", err)
	}
	return !pending, nil
}

// Version returns the newest applied migration version.
func (m *Migrator) Version(ctx context.Context) (int64, error) {
	v, err := m.provider.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrations: version: %w", err)
	}
	return v, nil
}

// Hash identifies the migration set (the SQL files and River's schema version);
// test templates are keyed by it.
func Hash() (string, error) {
	h, err := hashFS(files)
	return fmt.Sprintf("%s-river%d", h, riverVersion), err
}
