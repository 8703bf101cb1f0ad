package ratelimit_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/ratelimit"
)

var secret = bytes.Repeat([]byte{9}, 32)

// A window start, so that tests know where they stand in it.
var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func newLimiter(t *testing.T) (*ratelimit.Limiter, *fakeclock.Clock, string) {
	t.Helper()
	url := dbtest.Migrated(t)
	clock := fakeclock.New(t0)
	return ratelimit.New(dbtest.Pool(t, url), secret, clock.Now), clock, url
}

func allow(t *testing.T, l *ratelimit.Limiter, r ratelimit.Rule, key string) ratelimit.Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), r, key)
	require.NoError(t, err)
	return d
}

func TestAllowRefusesOverTheLimitAndSaysWhenToRetry(t *testing.T) {
	l, clock, _ := newLimiter(t)
	r := ratelimit.Rule{Name: "login", Limit: 3, Window: time.Minute}
	for i := range 3 {
		assert.True(t, allow(t, l, r, "192.0.2.1").Allowed, "event %d", i+1)
	}
	d := allow(t, l, r, "192.0.2.1")
	require.False(t, d.Allowed)
	// Four in this window, none before: in the next window this one weighs 4*(1-u/60s)
	// and fits the limit of 3 once u >= 15 s, so 60 s + 15 s from the window's start.
	assert.Equal(t, 75*time.Second, d.RetryAfter)

	assert.True(t, allow(t, l, r, "192.0.2.2").Allowed, "another key has its own count")
	assert.True(t, allow(t, l, ratelimit.Rule{Name: "post", Limit: 3, Window: time.Minute}, "192.0.2.1").Allowed,
		"another bucket has its own count")

	clock.Advance(74 * time.Second)
	assert.False(t, allow(t, l, r, "192.0.2.1").Allowed, "still within the sliding window")
	clock.Advance(50 * time.Second) // two windows on: nothing weighs any more
	assert.True(t, allow(t, l, r, "192.0.2.1").Allowed)
}

// A fixed window would allow twice the limit across a boundary; the previous window
// still weighs at the start of the next.
func TestAllowSlidesAcrossTheWindowBoundary(t *testing.T) {
	l, clock, _ := newLimiter(t)
	r := ratelimit.Rule{Name: "login", Limit: 10, Window: time.Minute}
	clock.Set(t0.Add(59 * time.Second))
	for range 10 {
		require.True(t, allow(t, l, r, "k").Allowed)
	}
	clock.Set(t0.Add(61 * time.Second)) // next window, the last one almost wholly overlapping
	assert.False(t, allow(t, l, r, "k").Allowed, "10 just now plus 1 is over 10")
	clock.Set(t0.Add(90 * time.Second)) // half the last window weighs: 5 + 1 counted so far
	assert.True(t, allow(t, l, r, "k").Allowed)
}

// The limit holds across instances: two limiters on the same database, as two Huddle
// instances have, share one count, and concurrent requests cannot both slip through.
func TestAllowHoldsAcrossInstancesUnderConcurrency(t *testing.T) {
	l1, clock, url := newLimiter(t)
	l2 := ratelimit.New(dbtest.Pool(t, url), secret, clock.Now)
	r := ratelimit.Rule{Name: "login", Limit: 20, Window: time.Hour}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := l1
			if i%2 == 1 {
				l = l2
			}
			d, err := l.Allow(context.Background(), r, "198.51.100.7")
			assert.NoError(t, err)
			if d.Allowed {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(20), allowed.Load())
}

// What the limiter stores names nobody: keys are HMACs under the secret.
func TestKeysAreNotStoredInTheClear(t *testing.T) {
	l, _, url := newLimiter(t)
	ctx := context.Background()
	// Needles that hex cannot hold: the dump carries each MAC's hex too, and four
	// digits such as "4242" turned up in random hex about once in three hundred runs.
	const addr, user = "203.0.113.77", "user-Quokka"
	allow(t, l, ratelimit.Rule{Name: "login", Limit: 5, Window: time.Minute}, addr)
	s, err := l.Acquire(ctx, ratelimit.Rule{Name: "streams", Limit: 2, Window: time.Minute}, user)
	require.NoError(t, err)
	defer func() { _ = s.Release(ctx) }()

	db := dbtest.Pool(t, url)
	var dump string
	require.NoError(t, db.QueryRow(ctx, `
SELECT concat_ws(' ', (SELECT string_agg(c::text || encode(c.key_mac, 'escape'), ' ') FROM rate_counts c),
                      (SELECT string_agg(s::text || encode(s.key_mac, 'escape'), ' ') FROM rate_slots s))`).Scan(&dump))
	require.NotEmpty(t, dump)
	for _, key := range []string{addr, user, "Quokka", "203.0.113"} {
		assert.NotContains(t, dump, key)
	}
}

func acquire(t *testing.T, l *ratelimit.Limiter, r ratelimit.Rule, key string) (*ratelimit.Slot, error) {
	t.Helper()
	return l.Acquire(context.Background(), r, key)
}

func TestSlotsAreLimitedReleasedAndExpire(t *testing.T) {
	l, clock, _ := newLimiter(t)
	ctx := context.Background()
	r := ratelimit.Rule{Name: "streams", Limit: 2, Window: time.Minute}

	a, err := acquire(t, l, r, "user-1")
	require.NoError(t, err)
	b, err := acquire(t, l, r, "user-1")
	require.NoError(t, err)
	_, err = acquire(t, l, r, "user-1")
	require.ErrorIs(t, err, ratelimit.ErrNoSlot)
	_, err = acquire(t, l, r, "user-2")
	require.NoError(t, err, "another key has its own slots")

	require.NoError(t, a.Release(ctx))
	require.NoError(t, a.Release(ctx), "releasing twice does nothing")
	c, err := acquire(t, l, r, "user-1")
	require.NoError(t, err, "a released slot is free again")

	// b is renewed, c is not: when c's lease runs out its slot is free, b's is not.
	clock.Advance(50 * time.Second)
	require.NoError(t, b.Renew(ctx, time.Minute))
	clock.Advance(20 * time.Second)
	d, err := acquire(t, l, r, "user-1")
	require.NoError(t, err, "an expired slot (its holder died) is free again")
	_, err = acquire(t, l, r, "user-1")
	require.ErrorIs(t, err, ratelimit.ErrNoSlot)
	require.ErrorIs(t, c.Renew(ctx, time.Minute), ratelimit.ErrNoSlot, "an expired slot taken over cannot be renewed")
	require.NoError(t, c.Release(ctx))
	_, err = acquire(t, l, r, "user-1")
	require.ErrorIs(t, err, ratelimit.ErrNoSlot, "releasing a lost slot frees nobody else's")
	require.NoError(t, d.Release(ctx))
}

func TestSlotsHoldAcrossInstancesUnderConcurrency(t *testing.T) {
	l1, clock, url := newLimiter(t)
	l2 := ratelimit.New(dbtest.Pool(t, url), secret, clock.Now)
	r := ratelimit.Rule{Name: "streams", Limit: 5, Window: time.Minute}
	var got atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := l1
			if i%2 == 1 {
				l = l2
			}
			_, err := l.Acquire(context.Background(), r, "user-9")
			if err == nil {
				got.Add(1)
			} else {
				assert.ErrorIs(t, err, ratelimit.ErrNoSlot)
			}
		}()
	}
	wg.Wait()
	// Lost races are retried: every slot is granted, none twice.
	assert.Equal(t, int64(5), got.Load())
}

func TestPruneDeletesOnlyWhatNoLongerCounts(t *testing.T) {
	l, clock, _ := newLimiter(t)
	ctx := context.Background()
	count := ratelimit.Rule{Name: "login", Limit: 5, Window: time.Minute}
	allow(t, l, count, "a")
	_, err := acquire(t, l, ratelimit.Rule{Name: "streams", Limit: 1, Window: time.Minute}, "u")
	require.NoError(t, err)

	n, err := l.Prune(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)

	clock.Advance(2 * time.Minute)
	n, err = l.Prune(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
}

func TestRulesNeedALimitAndAWindow(t *testing.T) {
	l, _, _ := newLimiter(t)
	_, err := l.Allow(context.Background(), ratelimit.Rule{Name: "x"}, "k")
	require.Error(t, err)
	_, err = l.Acquire(context.Background(), ratelimit.Rule{Name: "x", Limit: 1}, "k")
	require.Error(t, err)
}

func hitsOf(t *testing.T, url string, bucket string) int {
	t.Helper()
	var n int
	require.NoError(t, dbtest.Pool(t, url).QueryRow(context.Background(),
		`SELECT coalesce(sum(hits), 0) FROM rate_counts WHERE bucket = $1`, bucket).Scan(&n))
	return n
}

// A rule with a Block is counted a block at a time: one round trip reserves Block
// events, and the instance admits them from memory. One instance alone admits exactly
// the limit, and its refusal is remembered, with the refused events counted later.
func TestBlocksCountAheadAndAdmitExactlyTheLimit(t *testing.T) {
	l, clock, url := newLimiter(t)
	r := ratelimit.Rule{Name: "verify", Limit: 100, Window: time.Minute, Block: 10}
	for i := range 25 {
		require.True(t, allow(t, l, r, "192.0.2.1").Allowed, "event %d", i+1)
	}
	assert.Equal(t, 30, hitsOf(t, url, "verify"), "three blocks reserved for 25 events")
	for i := 25; i < 100; i++ {
		require.True(t, allow(t, l, r, "192.0.2.1").Allowed, "event %d", i+1)
	}
	assert.Equal(t, 100, hitsOf(t, url, "verify"))
	d := allow(t, l, r, "192.0.2.1")
	require.False(t, d.Allowed, "the 101st")
	require.Positive(t, d.RetryAfter)
	for range 5 {
		assert.False(t, allow(t, l, r, "192.0.2.1").Allowed, "refused from memory")
	}
	assert.Equal(t, 101, hitsOf(t, url, "verify"), "refused from memory: not counted yet")
	assert.True(t, allow(t, l, r, "192.0.2.2").Allowed, "another key has its own count")

	clock.Advance(d.RetryAfter)
	allow(t, l, r, "192.0.2.1")
	assert.GreaterOrEqual(t, hitsOf(t, url, "verify"), 101+5+1+1, "the refused events were counted with the next round trip")
}

// Blocks hold the limit across instances: two limiters on one database, as two Huddle
// instances, under concurrency, never admit more than the limit between them, and
// refuse at most (instances x (Block-1)) events short of it.
func TestBlocksHoldTheLimitAcrossInstances(t *testing.T) {
	l1, clock, url := newLimiter(t)
	l2 := ratelimit.New(dbtest.Pool(t, url), secret, clock.Now)
	r := ratelimit.Rule{Name: "verify", Limit: 100, Window: time.Hour, Block: 10}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := l1
			if i%2 == 1 {
				l = l2
			}
			for range 10 {
				d, err := l.Allow(context.Background(), r, "198.51.100.7")
				assert.NoError(t, err)
				if d.Allowed {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, allowed.Load(), int64(100), "never past the limit")
	assert.GreaterOrEqual(t, allowed.Load(), int64(100-2*9), "short of it by at most two blocks less one each")
	assert.GreaterOrEqual(t, int64(hitsOf(t, url, "verify")), allowed.Load(), "every admitted event was counted")

	// Each instance alone now refuses: the other's reservations count against it.
	assert.False(t, allow(t, l1, r, "198.51.100.7").Allowed)
	assert.False(t, allow(t, l2, r, "198.51.100.7").Allowed)
}

// A block belongs to its window: at the next window the instance reserves afresh, and
// the last window still weighs as it does for a rule without blocks.
func TestBlocksSlideAcrossTheWindowBoundary(t *testing.T) {
	l, clock, _ := newLimiter(t)
	r := ratelimit.Rule{Name: "verify", Limit: 20, Window: time.Minute, Block: 5}
	clock.Set(t0.Add(59 * time.Second))
	for range 20 {
		require.True(t, allow(t, l, r, "k").Allowed)
	}
	clock.Set(t0.Add(61 * time.Second))
	assert.False(t, allow(t, l, r, "k").Allowed, "20 just now plus 1 is over 20")
	clock.Set(t0.Add(90 * time.Second)) // half the last window weighs 10; 1 counted since
	for i := range 9 {
		require.True(t, allow(t, l, r, "k").Allowed, "event %d", i+1)
	}
	assert.False(t, allow(t, l, r, "k").Allowed, "10 + 10 reached")
}
