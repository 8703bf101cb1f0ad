package migrations_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/migrations"
)

func open(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func appliedRows(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	// goose records version 0 when it creates its table; count real migrations only.
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&n))
	return n
}

func TestUpTwiceIsNoop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, dbtest.Empty(t))
	m, err := migrations.New(db)
	require.NoError(t, err)

	current, err := m.Current(ctx)
	require.NoError(t, err)
	require.False(t, current, "an empty database has pending migrations")

	first, err := m.Up(ctx)
	require.NoError(t, err)
	require.Positive(t, first)

	second, err := m.Up(ctx)
	require.NoError(t, err)
	require.Zero(t, second, "a second run applies nothing")
	require.Equal(t, first, appliedRows(t, db))

	current, err = m.Current(ctx)
	require.NoError(t, err)
	require.True(t, current)

	// The job queue's tables come with the same migration set.
	var riverJob *string
	require.NoError(t, db.QueryRow(`SELECT to_regclass('river_job')::text`).Scan(&riverJob))
	require.NotNil(t, riverJob, "river_job table exists")
}

func TestConcurrentUpAppliesOneSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.Empty(t)

	const instances = 4
	applied := make([]int, instances)
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each instance has its own pool, as separate processes would.
			db, err := sql.Open("pgx", url)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			m, err := migrations.New(db)
			if err != nil {
				errs[i] = err
				return
			}
			applied[i], errs[i] = m.Up(ctx)
		}()
	}
	wg.Wait()

	total := 0
	for i := range instances {
		require.NoError(t, errs[i])
		total += applied[i]
	}
	db := open(t, url)
	require.Equal(t, appliedRows(t, db), total, "every migration applied exactly once across instances")
	var dupes int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM (SELECT version_id FROM goose_db_version GROUP BY version_id HAVING count(*) > 1) d`).Scan(&dupes))
	require.Zero(t, dupes)
}
