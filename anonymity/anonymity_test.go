package anonymity_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/anonymity"
	"github.com/huddle-lti/huddle/dbtest"
)

var noon = time.Date(2025, 3, 4, 12, 17, 23, 0, time.UTC)

// TestDue: the release rule both boards and feedback forms follow.
func TestDue(t *testing.T) {
	t.Parallel()
	opened := noon.Add(-30 * time.Minute)
	tests := []struct {
		name    string
		waiting int
		batch   int
		maxWait time.Duration
		want    bool
	}{
		{"nothing waits", 0, 3, 0, false},
		{"fewer than the batch, no longest wait", 2, 3, 0, false},
		{"a full batch", 3, 3, 0, true},
		{"a batch below the minimum counts as the minimum", 2, 1, 0, false},
		{"a larger batch", 4, 5, 0, false},
		{"a larger batch, full", 5, 5, 0, true},
		{"longest wait not up", 1, 3, time.Hour, false},
		{"longest wait up within the job's minute", 1, 3, 31 * time.Minute, true},
		{"longest wait up", 1, 3, 20 * time.Minute, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, anonymity.Due(tc.waiting, tc.batch, opened, tc.maxWait, noon))
		})
	}
}

// TestShuffleReachesEveryOrder: each of the 6 orders of three items comes up, and none
// much more often than the others; a shuffle that kept the sending order (or favoured
// it) would keep it in a dump.
func TestShuffleReachesEveryOrder(t *testing.T) {
	t.Parallel()
	seen := map[[3]int]int{}
	const runs = 6000
	for range runs {
		items := []int{1, 2, 3}
		anonymity.Shuffle(items)
		seen[[3]int(items)]++
	}
	require.Len(t, seen, 6)
	for order, n := range seen {
		require.InDelta(t, runs/6, n, 200, "order %v", order)
	}
}

// TestCountKeyHoldsNoPerson: the key changes with every part of what it keys, and with
// either secret; it contains neither the user id nor the scope.
func TestCountKeyHoldsNoPerson(t *testing.T) {
	t.Parallel()
	k := anonymity.New(nil, []byte("instance secret"))
	other := anonymity.New(nil, []byte("another instance secret"))
	day := []byte("day secret")
	hour := noon.Truncate(time.Hour)
	base := k.CountKey(day, "feedback:7", 4100001, hour)
	tests := []struct {
		name string
		key  []byte
	}{
		{"another person", k.CountKey(day, "feedback:7", 4100002, hour)},
		{"another scope", k.CountKey(day, "board:7", 4100001, hour)},
		{"another hour", k.CountKey(day, "feedback:7", 4100001, hour.Add(time.Hour))},
		{"another day's secret", k.CountKey([]byte("next day"), "feedback:7", 4100001, hour)},
		{"another instance secret", other.CountKey(day, "feedback:7", 4100001, hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NotEqual(t, base, tc.key)
		})
	}
	require.Equal(t, base, k.CountKey(day, "feedback:7", 4100001, hour), "the same count has one key")
	require.False(t, bytes.Contains(base, []byte("feedback")))
}

// TestCountsQueuesAndPrune runs the tables through a day: counts per person and hour,
// a queue opened once and closed at release, and nothing of the day left after it.
func TestCountsQueuesAndPrune(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	k := anonymity.New(pool, []byte("instance secret"))
	require.NoError(t, k.PrepareDays(ctx, noon))
	secret, err := k.DaySecret(ctx, noon)
	require.NoError(t, err)
	require.Len(t, secret, 32)

	for i, want := range []int{1, 2, 3} {
		n, err := k.Count(ctx, pool, secret, "feedback:1", 4100001, noon.Add(time.Duration(i)*time.Minute))
		require.NoError(t, err)
		require.Equal(t, want, n)
	}
	n, err := k.Counted(ctx, pool, "feedback:1", 4100001, noon)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	n, err = k.Counted(ctx, pool, "feedback:1", 4100002, noon)
	require.NoError(t, err)
	require.Zero(t, n, "another person")
	n, err = k.Counted(ctx, pool, "feedback:1", 4100001, noon.Add(time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "another hour")
	_, err = k.Count(ctx, pool, secret, "feedback:1", 4100003, noon)
	require.NoError(t, err)
	var before int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(DISTINCT xmin::text) FROM anonymous_counts`).Scan(&before))
	require.Equal(t, 2, before, "each count as its request wrote it")

	// The first submission opens the queue; later ones keep its opening.
	require.NoError(t, anonymity.OpenQueue(ctx, pool, "feedback:1", noon))
	require.NoError(t, anonymity.OpenQueue(ctx, pool, "feedback:1", noon.Add(5*time.Minute)))
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		opened, ok, err := anonymity.LockQueue(ctx, tx, "feedback:1")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, noon.Truncate(time.Minute), opened.UTC())
		// Another instance releasing at the same time skips it.
		err = pgx.BeginFunc(ctx, pool, func(tx2 pgx.Tx) error {
			_, ok, err := anonymity.LockQueue(ctx, tx2, "feedback:1")
			require.False(t, ok)
			return err
		})
		require.NoError(t, err)
		require.NoError(t, anonymity.Restamp(ctx, tx, noon))
		return anonymity.CloseQueue(ctx, tx, "feedback:1", false, noon)
	})
	require.NoError(t, err)
	var queues, stamped int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM anonymous_queues),
(SELECT count(DISTINCT xmin::text) FROM anonymous_counts)`).Scan(&queues, &stamped))
	require.Zero(t, queues)
	require.Equal(t, 1, stamped, "every count rewritten by the release")

	// The next day, the day before is gone.
	gone, err := k.Prune(ctx, noon.Add(24*time.Hour))
	require.NoError(t, err)
	require.Equal(t, int64(3), gone, "the counts and the day's secret")
	s, err := k.ReadDaySecret(ctx, pool, noon)
	require.NoError(t, err)
	require.Nil(t, s)
}
