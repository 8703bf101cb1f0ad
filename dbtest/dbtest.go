// Package dbtest gives each test its own migrated PostgreSQL database, cloned from a
// template that pgtestdb builds once per migration set. Tests use the real server
// that `make test` provisions; there are no database mocks.
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver pgtestdb uses
	"github.com/peterldowns/pgtestdb"

	"github.com/huddle-lti/huddle/migrations"
)

// EnvURL names the variable holding an admin connection URL. pgtestdb marks template
// databases in pg_database, which takes a superuser; each test then connects as an
// ordinary role (pgtdbuser) that owns its own database. `make test` provisions both.
const EnvURL = "HUDDLE_TEST_DATABASE_URL"

const defaultURL = "postgres://huddle_test:huddle_test@localhost:5432/postgres?sslmode=disable"

var (
	reachOnce sync.Once
	reachErr  error
)

// New returns a pool on a fresh database with every Huddle migration applied.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return pool(t, Migrated(t))
}

// Migrated returns the connection URL of a fresh, fully migrated database.
func Migrated(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, adminConfig(t), huddleMigrator{}).URL()
}

// Empty returns the connection URL of a fresh database with no tables at all, for
// tests of the migrations themselves.
func Empty(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, adminConfig(t), pgtestdb.NoopMigrator{}).URL()
}

// Pool opens a pool on url that closes when the test ends.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	return pool(t, url)
}

func pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("dbtest: open pool: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// Admin opens a pool as the administrative role on its own database, for a test that
// must change a test database from outside it (its connection limit, say).
func Admin(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return pool(t, adminURL())
}

func adminURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return defaultURL
}

func adminConfig(t testing.TB) pgtestdb.Config {
	t.Helper()
	raw := adminURL()
	reachOnce.Do(func() { reachErr = ping(raw) })
	if reachErr != nil {
		t.Fatalf("dbtest: PostgreSQL is not reachable (%v).\n"+
			"Run `make test`, which installs and starts a local PostgreSQL, or set %s "+
			"to the URL of a superuser role.", reachErr, EnvURL)
	}
	cc, err := pgx.ParseConfig(raw)
	if err != nil {
		t.Fatalf("dbtest: %s is not a valid connection URL: %v", EnvURL, err)
	}
	return pgtestdb.Config{
		DriverName: "pgx",
		Host:       cc.Host,
		Port:       strconv.Itoa(int(cc.Port)),
		User:       cc.User,
		Password:   cc.Password,
		Database:   cc.Database,
		Options:    "sslmode=disable",
		// Pools may still hold idle connections when a test ends; the database goes anyway.
		ForceTerminateConnections: true,
	}
}

func ping(raw string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, raw)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// huddleMigrator lets pgtestdb build its template with Huddle's own migration code,
// so tests run against exactly the schema `huddle migrate` produces.
type huddleMigrator struct{}

func (huddleMigrator) Hash() (string, error) { return migrations.Hash() }

func (huddleMigrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	m, err := migrations.New(db)
	if err != nil {
		return err
	}
	if _, err := m.Up(ctx); err != nil {
		return fmt.Errorf("dbtest: migrate template: %w", err)
	}
	return nil
}
