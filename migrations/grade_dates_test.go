package migrations_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/migrations"
)

// 00023: boards already anonymous to peers with a participation grade, which sent
// scores at once until now, get a push date each Monday for the next 13 weeks; other
// boards get none. The dates' rules hold.
func TestGradeDatesForBoardsAlreadyAnonymousToPeers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, dbtest.Empty(t))
	m, err := migrations.New(db)
	require.NoError(t, err)
	require.NoError(t, m.UpTo(ctx, 22))

	_, err = db.Exec(`
INSERT INTO platforms (id, issuer, client_id, auth_url, token_url, jwks_url)
OVERRIDING SYSTEM VALUE VALUES (1, 'https://moodle.example', 'c', 'https://moodle.example/a', 'https://moodle.example/t', 'https://moodle.example/j');
INSERT INTO courses (id, platform_id, deployment_id, context_id) OVERRIDING SYSTEM VALUE VALUES (1, 1, '1', '2');
INSERT INTO activities (id, course_id, resource_link_id) OVERRIDING SYSTEM VALUE VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 1, 'c'), (4, 1, 'd');
INSERT INTO boards (activity_id, kind, identity, grade_threads, grade_replies) VALUES
    (1, 'discussion', 'peers', 1, 0),
    (2, 'case', 'peers', 0, 0),
    (3, 'discussion', 'named', 2, 2),
    (4, 'discussion', 'peers', 0, 3);`)
	require.NoError(t, err)
	var today time.Time
	require.NoError(t, db.QueryRow(`SELECT (now() AT TIME ZONE 'Europe/London')::date`).Scan(&today))
	require.NoError(t, m.UpTo(ctx, 23))

	byBoard := map[int64][]time.Time{}
	rows, err := db.Query(`SELECT board_id, day FROM board_grade_dates WHERE pushed_at IS NULL ORDER BY board_id, day`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var id int64
		var d time.Time
		require.NoError(t, rows.Scan(&id, &d))
		byBoard[id] = append(byBoard[id], d)
	}
	require.NoError(t, rows.Err())
	require.Len(t, byBoard, 2, "only the graded boards anonymous to peers: %v", byBoard)
	for _, id := range []int64{1, 4} {
		dates := byBoard[id]
		require.Len(t, dates, 13, "board %d", id)
		require.True(t, dates[0].After(today), "the first date is after the upgrade's day")
		require.LessOrEqual(t, dates[0].Sub(today), 7*24*time.Hour, "the first date is within a week")
		for i, d := range dates {
			require.Equal(t, time.Monday, d.Weekday(), "board %d date %d", id, i)
			if i > 0 {
				require.Equal(t, 7*24*time.Hour, d.Sub(dates[i-1]))
			}
		}
	}

	_, err = db.Exec(`INSERT INTO board_grade_dates (board_id, day) VALUES (3, '1999-12-31')`)
	require.ErrorContains(t, err, "board_grade_dates_day_check")
	_, err = db.Exec(`INSERT INTO board_grade_dates (board_id, day) VALUES (3, $1)`, byBoard[1][0])
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO board_grade_dates (board_id, day) VALUES (3, $1)`, byBoard[1][0])
	require.ErrorContains(t, err, "board_grade_dates_pkey", "a date is pushed once")
	_, err = db.Exec(`DELETE FROM activities WHERE id = 1`)
	require.NoError(t, err)
	var left int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM board_grade_dates WHERE board_id = 1`).Scan(&left))
	require.Zero(t, left, "a board's dates go with it")

	require.NoError(t, m.DownTo(ctx, 22))
	var table *string
	require.NoError(t, db.QueryRow(`SELECT to_regclass('board_grade_dates')::text`).Scan(&table))
	require.Nil(t, table)
}
