package ratelimit

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
)

// Counts that arrive together share one statement: each key's row is written once,
// with the sum of its counts, and each question is answered as if the batch's counts
// had been made one after another, in order.
func TestCountsThatArriveTogetherAreCountedInOneStatement(t *testing.T) {
	pool := dbtest.New(t)
	l := New(pool, bytes.Repeat([]byte{9}, 32), nil)
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	q := func(bucket, key string, at time.Time, n int) countQuestion {
		return countQuestion{bucket: bucket, mac: key, start: at, prev: at.Add(-time.Minute), expires: at.Add(2 * time.Minute), n: n}
	}
	// The previous window of key a already holds 7.
	_, err := l.countMany(t.Context(), []countQuestion{q("login", "a", start.Add(-time.Minute), 7)})
	require.NoError(t, err)

	got, err := l.countMany(t.Context(), []countQuestion{
		q("login", "a", start, 1),
		q("verify", "a", start, 46), // another bucket: another row
		q("login", "b", start, 1),
		q("login", "a", start, 1),
		q("login", "a", start, 3),
		// The same instant from another clock reading is the same window.
		q("login", "b", start.In(time.FixedZone("BST", 3600)), 2),
	})
	require.NoError(t, err)
	assert.Equal(t, []countAnswer{
		{hits: 1, before: 7},
		{hits: 46},
		{hits: 1},
		{hits: 2, before: 7},
		{hits: 5, before: 7},
		{hits: 3},
	}, got)

	// One statement: every row this batch wrote carries the same transaction id.
	var rows, xids int
	require.NoError(t, pool.QueryRow(t.Context(),
		`SELECT count(*), count(DISTINCT xmin::text) FROM rate_counts WHERE window_start = $1`, start).Scan(&rows, &xids))
	assert.Equal(t, 3, rows)
	assert.Equal(t, 1, xids)

	again, err := l.countMany(t.Context(), []countQuestion{q("login", "a", start, 1)})
	require.NoError(t, err)
	assert.Equal(t, []countAnswer{{hits: 6, before: 7}}, again, "the counts were stored")
}
