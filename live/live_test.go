package live

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
)

// The types Huddle publishes through.
var (
	_ Execer = (pgx.Tx)(nil)
	_ Execer = (*pgxpool.Pool)(nil)
	_ Execer = (*pgx.Conn)(nil)
)

// wait bounds every wait for an event; deliveries take milliseconds, so only a
// failure ever reaches it.
const wait = 10 * time.Second

// startHub runs a hub on pool until the test ends and waits for it to listen.
func startHub(t testing.TB, pool *pgxpool.Pool) *Hub {
	t.Helper()
	h := NewHub(pool, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})))
	h.minBackoff, h.maxBackoff = 10*time.Millisecond, 200*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	// Stop before dbtest drops the database (cleanups run last in, first out).
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case <-h.Ready():
	case <-time.After(wait):
		t.Fatal("hub did not start listening")
	}
	return h
}

func receive(t testing.TB, s *Subscription) Event {
	t.Helper()
	select {
	case ev, ok := <-s.C:
		require.True(t, ok, "subscription closed")
		return ev
	case <-time.After(wait):
		t.Fatalf("no event on %q within %s", s.topic, wait)
		return Event{}
	}
}

func publish(t testing.TB, db Execer, topic, data string) {
	t.Helper()
	require.NoError(t, Publish(t.Context(), db, topic, []byte(data)))
}

// barrier returns once h has dispatched everything committed before it: the hub
// dispatches on one goroutine, in commit order.
func barrier(t testing.TB, h *Hub, pool *pgxpool.Pool) {
	t.Helper()
	s := h.Subscribe("barrier")
	defer s.Close()
	publish(t, pool, "barrier", "")
	receive(t, s)
}

// newDB returns the URL of a fresh database. live owns no tables and NOTIFY needs
// none, so the database is left empty: these tests do not depend on other packages'
// migrations.
func newDB(t testing.TB) string {
	t.Helper()
	return dbtest.Empty(t)
}

func newPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return dbtest.Pool(t, newDB(t))
}

func event(topic, data string) Event { return Event{Topic: topic, Data: []byte(data)} }

// Two instances on one database each deliver a post published through the pool to
// their own subscribers.
func TestPublishReachesEveryInstance(t *testing.T) {
	t.Parallel()
	url := newDB(t)
	a, b := startHub(t, dbtest.Pool(t, url)), startHub(t, dbtest.Pool(t, url))
	subA, subB := a.Subscribe("board:1"), b.Subscribe("board:1")
	defer subA.Close()
	defer subB.Close()

	publish(t, dbtest.Pool(t, url), "board:1", `{"post":7}`)

	require.Equal(t, event("board:1", `{"post":7}`), receive(t, subA))
	require.Equal(t, event("board:1", `{"post":7}`), receive(t, subB))
}

// A post's announcement commits with the post: nothing reaches subscribers before
// commit, and nothing ever after a rollback. A second event published outside the
// transaction shows what was delivered in between without a timed wait.
func TestPublishInTransaction(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		commit bool
	}{
		{"commit", true},
		{"rollback", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			pool := newPool(t)
			h := startHub(t, pool)
			s := h.Subscribe("board:1")
			defer s.Close()

			tx, err := pool.Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback(ctx) }() // committed below; a failed test leaves nothing open
			publish(t, tx, "board:1", "in transaction")
			publish(t, pool, "board:1", "outside")
			require.Equal(t, event("board:1", "outside"), receive(t, s), "delivered before commit")

			if tc.commit {
				require.NoError(t, tx.Commit(ctx))
				require.Equal(t, event("board:1", "in transaction"), receive(t, s))
			} else {
				require.NoError(t, tx.Rollback(ctx))
				publish(t, pool, "board:1", "after")
				require.Equal(t, event("board:1", "after"), receive(t, s), "delivered after rollback")
			}
		})
	}
}

func TestTopicsAreIsolated(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	h := startHub(t, pool)
	one, two := h.Subscribe("board:1"), h.Subscribe("board:2")
	defer one.Close()
	defer two.Close()

	publish(t, pool, "board:1", "a")
	publish(t, pool, "board:2", "b")
	publish(t, pool, "board:1", "c")
	publish(t, pool, "board:10", "d") // a prefix is not a match

	require.Equal(t, event("board:1", "a"), receive(t, one))
	require.Equal(t, event("board:1", "c"), receive(t, one))
	require.Equal(t, event("board:2", "b"), receive(t, two))
	barrier(t, h, pool)
	require.Empty(t, one.C)
	require.Empty(t, two.C)
}

func TestCloseStopsDelivery(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	h := startHub(t, pool)
	gone, stays := h.Subscribe("board:1"), h.Subscribe("board:1")
	defer stays.Close()
	require.Equal(t, 2, h.Subscribers())

	gone.Close()
	gone.Close() // idempotent
	require.Equal(t, 1, h.Subscribers())
	publish(t, pool, "board:1", "a")

	require.Equal(t, event("board:1", "a"), receive(t, stays))
	_, open := <-gone.C
	require.False(t, open, "a closed subscription's channel is closed and empty")
}

// Subscriptions come and go while events are dispatched; the race detector and a
// send on a closed channel would both show a fault.
func TestCloseDuringDispatch(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	h := startHub(t, pool)
	watcher := h.Subscribe("board:1")
	defer watcher.Close()

	const events = 50
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 20 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := h.Subscribe("board:1")
				var closers sync.WaitGroup
				closers.Go(s.Close)
				closers.Go(s.Close)
				closers.Wait()
			}
		})
	}
	for i := range events {
		publish(t, pool, "board:1", fmt.Sprint(i))
		require.Equal(t, event("board:1", fmt.Sprint(i)), receive(t, watcher))
	}
	close(stop)
	wg.Wait()
	require.Equal(t, 1, h.Subscribers())
}

// A subscriber that stops reading loses events without holding up anyone else, and
// the last event it finds says Resync so its page reloads once it catches up.
func TestSlowSubscriber(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	h := startHub(t, pool)
	slow, fast := h.Subscribe("board:1"), h.Subscribe("board:1")
	defer slow.Close()
	defer fast.Close()

	const events = subscriptionBuffer + 5
	for i := range events {
		publish(t, pool, "board:1", fmt.Sprint(i))
		require.Equal(t, fmt.Sprint(i), string(receive(t, fast).Data))
	}
	barrier(t, h, pool)

	var got []Event
	for len(slow.C) > 0 {
		got = append(got, <-slow.C)
	}
	require.Len(t, got, subscriptionBuffer)
	require.True(t, got[len(got)-1].Resync, "the newest event asks for a reload")
	require.Equal(t, fmt.Sprint(events-1), string(got[len(got)-1].Data))
	for _, ev := range got[:subscriptionBuffer-5] {
		require.False(t, ev.Resync, "events queued before the buffer filled are ordinary")
	}

	// Once caught up it gets ordinary events again.
	publish(t, pool, "board:1", "next")
	require.Equal(t, event("board:1", "next"), receive(t, slow))
}

// When the listening connection dies, the hub reconnects, tells every subscriber to
// reload, and goes on delivering.
func TestReconnect(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := newPool(t)
	h := startHub(t, pool)
	one, two := h.Subscribe("board:1"), h.Subscribe("board:2")
	defer one.Close()
	defer two.Close()
	pid := h.pid.Load()
	require.NotZero(t, pid)

	var killed bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&killed))
	require.True(t, killed)

	require.Equal(t, Event{Topic: "board:1", Resync: true}, receive(t, one))
	require.Equal(t, Event{Topic: "board:2", Resync: true}, receive(t, two))
	require.NotEqual(t, pid, h.pid.Load())
	publish(t, pool, "board:1", "after")
	require.Equal(t, event("board:1", "after"), receive(t, one))
}

// Health checks on a quiet connection keep it: no reconnect, no Resync.
func TestQuietConnectionStaysUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := newPool(t)
	h := NewHub(pool, nil)
	h.pingEvery = 20 * time.Millisecond
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(runCtx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	<-h.Ready()
	s := h.Subscribe("board:1")
	defer s.Close()
	pid := h.pid.Load()

	require.Eventually(t, func() bool {
		var query string
		err := pool.QueryRow(ctx, `SELECT query FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&query)
		return err == nil && query == "-- ping"
	}, wait, 10*time.Millisecond, "the hub pings its idle connection")

	publish(t, pool, "board:1", "a")
	require.Equal(t, event("board:1", "a"), receive(t, s))
	require.Equal(t, pid, h.pid.Load())
}

// A subscriber that arrived before the first LISTEN may have missed events.
func TestSubscribedBeforeListening(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	h := NewHub(pool, nil)
	s := h.Subscribe("board:1")
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	require.Equal(t, Event{Topic: "board:1", Resync: true}, receive(t, s))
}

// When Run ends every stream ends with it, so browsers reconnect elsewhere.
func TestStop(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	h := NewHub(pool, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	<-h.Ready()
	s := h.Subscribe("board:1")

	cancel()
	require.NoError(t, <-done)
	_, open := <-s.C
	require.False(t, open)
	s.Close()
	require.Zero(t, h.Subscribers())

	late := h.Subscribe("board:1")
	_, open = <-late.C
	require.False(t, open, "a stopped hub hands out closed subscriptions")
	late.Close()
	require.Error(t, h.Run(context.Background()), "a hub runs once")
}

func TestPublishValidation(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	h := startHub(t, pool)
	long := strings.Repeat("x", MaxTopicLen)

	for _, tc := range []struct {
		name  string
		topic string
		data  string
		err   error
	}{
		{"largest payload", "board:1", strings.Repeat("d", MaxPayload-len("board:1")-1), nil},
		{"longest topic", long, "", nil},
		{"empty data", "board:1", "", nil},
		{"newlines in data", "board:1", "a\nb\n", nil},
		{"unicode", "tableau:é", `{"title":"Réflexion 🩺"}`, nil},
		{"one byte too many", "board:1", strings.Repeat("d", MaxPayload-len("board:1")), ErrTooLarge},
		{"empty topic", "", "x", ErrBadTopic},
		{"topic too long", long + "x", "x", ErrBadTopic},
		{"newline in topic", "board\n1", "x", ErrBadTopic},
		{"NUL in topic", "board\x001", "x", ErrBadTopic},
		{"topic not UTF-8", "board:\xff", "x", ErrBadTopic},
		{"data not UTF-8", "board:1", "\xff\xfe", ErrBadData},
		{"NUL in data", "board:1", "a\x00b", ErrBadData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := h.Subscribe(tc.topic)
			defer s.Close()
			err := Publish(t.Context(), pool, tc.topic, []byte(tc.data))
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, event(tc.topic, tc.data), receive(t, s))
		})
	}

	// MaxPayload is PostgreSQL's limit, not a guess.
	_, err := pool.Exec(t.Context(), publishSQL, strings.Repeat("d", MaxPayload+1))
	require.ErrorContains(t, err, "payload string too long")
}
