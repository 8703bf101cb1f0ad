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

// columns lists a table's columns in order, with their types.
func columns(t *testing.T, db *sql.DB, table string) []string {
	t.Helper()
	rows, err := db.Query(`SELECT column_name || ' ' || data_type FROM information_schema.columns
WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`, table)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		require.NoError(t, rows.Scan(&c))
		out = append(out, c)
	}
	require.NoError(t, rows.Err())
	return out
}

// activitySyncState is what grade sync kept in activities before 00014, by resource link.
func activitySyncState(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	rows, err := db.Query(`SELECT resource_link_id, concat_ws(' | ', grade_path, ags_lineitem_url, moodle_cmid, ags_score_maximum) FROM activities`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var link, state string
		require.NoError(t, rows.Scan(&link, &state))
		out[link] = state
	}
	require.NoError(t, rows.Err())
	return out
}

// 00014 moves grade sync's state out of activities (course's table) into
// grade_sync_activities, and its Down puts it back.
func TestGradeSyncStateMovesToItsOwnTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, dbtest.Empty(t))
	m, err := migrations.New(db)
	require.NoError(t, err)
	require.NoError(t, m.UpTo(ctx, 13))
	activitiesBefore := columns(t, db, "activities")

	_, err = db.Exec(`
INSERT INTO platforms (id, issuer, client_id, auth_url, token_url, jwks_url)
OVERRIDING SYSTEM VALUE VALUES (1, 'https://moodle.example', 'c', 'https://moodle.example/a', 'https://moodle.example/t', 'https://moodle.example/j');
INSERT INTO courses (id, platform_id, deployment_id, context_id) OVERRIDING SYSTEM VALUE VALUES (1, 1, '1', '2');
INSERT INTO activities (id, course_id, resource_link_id, ags_lineitem_url, grade_path, moodle_cmid, ags_score_maximum) OVERRIDING SYSTEM VALUE VALUES
    (1, 1, 'web services', '', 'moodle_ws', 42, NULL),
    (2, 1, 'line item found', 'https://moodle.example/lineitems/3/lineitem', 'ags', NULL, 100),
    (3, 1, 'untouched', 'https://moodle.example/lineitems/4/lineitem', 'ags', NULL, NULL),
    (4, 1, 'never valid', '', 'ags', 0, 0);`)
	require.NoError(t, err)
	stateBefore := activitySyncState(t, db)

	require.NoError(t, m.UpTo(ctx, 14))
	moved := map[int64]string{}
	rows, err := db.Query(`SELECT activity_id, concat_ws(' | ', grade_path, lineitem_url, moodle_cmid, score_maximum) FROM grade_sync_activities`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var id int64
		var state string
		require.NoError(t, rows.Scan(&id, &state))
		moved[id] = state
	}
	require.NoError(t, rows.Err())
	require.Equal(t, map[int64]string{1: "moodle_ws |  | 42", 2: "ags |  | 100"}, moved,
		"what grade sync learned moves; an untouched activity needs no row")
	// A rolling deploy: the previous release's instances still use the old columns
	// until every instance runs this one, so they stay (the next release drops them).
	require.Equal(t, activitiesBefore, columns(t, db, "activities"), "no column of activities goes in this release")
	var claims string
	require.NoError(t, db.QueryRow(`SELECT string_agg(ags_lineitem_url, ' ' ORDER BY id) FROM activities`).Scan(&claims))
	require.Equal(t, " https://moodle.example/lineitems/3/lineitem https://moodle.example/lineitems/4/lineitem ", claims)

	// The rules hold in the new table.
	_, err = db.Exec(`INSERT INTO grade_sync_activities (activity_id, grade_path) VALUES (3, 'carrier_pigeon')`)
	require.ErrorContains(t, err, "grade_sync_activities_grade_path_check")
	_, err = db.Exec(`DELETE FROM activities WHERE id = 2`)
	require.NoError(t, err)
	var left int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM grade_sync_activities`).Scan(&left))
	require.Equal(t, 1, left, "an activity's grade sync state goes with it")
	delete(stateBefore, "line item found")

	// Grade sync finds a line item of its own for an activity; Down keeps it where the
	// old code looked for it.
	_, err = db.Exec(`INSERT INTO grade_sync_activities (activity_id, lineitem_url) VALUES (4, 'https://moodle.example/lineitems/5/lineitem')`)
	require.NoError(t, err)
	require.NoError(t, m.DownTo(ctx, 13))
	require.Equal(t, activitiesBefore, columns(t, db, "activities"))
	stateBefore["never valid"] = "ags | https://moodle.example/lineitems/5/lineitem"
	require.Equal(t, stateBefore, activitySyncState(t, db))

	_, err = m.Up(ctx)
	require.NoError(t, err)
	current, err := m.Current(ctx)
	require.NoError(t, err)
	require.True(t, current)
}
