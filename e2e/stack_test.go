package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/app"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/live"
	"github.com/huddle-lti/huddle/web"
)

// e2eKinds gives the educator's set-up page a kind that is not a board, whose
// activity page is the plain one; the stack offers it after production's kinds.
var e2eKinds = []course.Kind{
	{Name: "e2e_board", Title: "E2E board", Description: "A kind registered by the end-to-end tests."},
}

// stack is Huddle and the development platform, served as `huddle serve` serves them
// in development: Huddle on http://localhost, the platform on http://127.0.0.1, two
// sites, so the platform frames Huddle cross-site as Moodle does.
type stack struct {
	Huddle   string // http://localhost:PORT
	Platform string // http://127.0.0.1:PORT

	dev     *devplatform.Platform // what the platform's course holds
	streams *streamCounter        // the live streams Huddle opened
	db      *pgxpool.Pool         // Huddle's database, for what no page may show
}

// newStack starts both on a fresh migrated database until the test ends. What they
// log is shown only if the test fails.
func newStack(t *testing.T) *stack { return newStackWith(t, false) }

// newStackWith is newStack with the platform optionally offering lti_storage_target.
// Huddle is built by app.New and run by App.Run, exactly as `huddle serve` builds and
// runs it; the test changes only the kinds offered (one more) and counts live streams.
func newStackWith(t *testing.T, offerStorage bool) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := newTestLog(t)

	huddleLn, err := net.Listen("tcp", "localhost:0")
	require.NoError(t, err)
	platformLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &stack{
		Huddle:   fmt.Sprintf("http://localhost:%d", huddleLn.Addr().(*net.TCPAddr).Port),
		Platform: fmt.Sprintf("http://127.0.0.1:%d", platformLn.Addr().(*net.TCPAddr).Port),
	}
	base, err := url.Parse(s.Huddle)
	require.NoError(t, err)

	pool, err := app.OpenPool(ctx, dbtest.Migrated(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s.db = pool
	huddle, err := app.New(ctx, pool, app.Config{
		BaseURL:         base,
		SecretKey:       bytes.Repeat([]byte{7}, 32),
		Version:         "e2e",
		ShutdownTimeout: 2 * time.Second,
	}, app.Options{
		Logger: log,
		// The default outbound client is production's egress client, which allows
		// loopback, where the development platform listens, as `huddle serve` in
		// development mode relies on for key sets, tokens and grade services alike.
		Web: func(d *web.Deps) {
			d.Kinds = append(d.Kinds, e2eKinds...)
			s.streams = &streamCounter{Feed: d.Live}
			d.Live = s.streams
		},
	})
	require.NoError(t, err)
	t.Cleanup(huddle.Close)
	s.dev, err = huddle.DevPlatform(ctx, s.Platform, func(c *devplatform.Config) {
		c.OfferStorageTarget = offerStorage
	})
	require.NoError(t, err)

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := huddle.Run(ctx, huddleLn); err != nil {
			log.Error("huddle stopped", "err", err)
		}
	}()
	platform := &http.Server{Handler: s.dev.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer wg.Done()
		if err := platform.Serve(platformLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("development platform stopped", "err", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		_ = platform.Shutdown(shutdown)
		wg.Wait()
	})
	// A page opened now must not miss a post: wait until the hub listens.
	select {
	case <-huddle.Hub.Ready():
	case <-time.After(stepTimeout):
		t.Fatalf("the live updates hub is not listening after %s", stepTimeout)
	}
	return s
}

// streamCounter is the live feed as web sees it that also counts the live streams
// subscribed, so that a test can wait for a page's stream to be open before it posts
// what that page should receive. It changes nothing the feed does.
type streamCounter struct {
	web.Feed

	mu     sync.Mutex
	opened int64
	more   chan struct{} // closed and replaced whenever a stream opens
}

func (c *streamCounter) Subscribe(topic string) *live.Subscription {
	sub := c.Feed.Subscribe(topic)
	c.mu.Lock()
	c.opened++
	if c.more != nil {
		close(c.more)
	}
	c.more = make(chan struct{})
	c.mu.Unlock()
	return sub
}

// count is how many streams have opened, and a channel closed when the next opens.
func (c *streamCounter) count() (int64, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.more == nil {
		c.more = make(chan struct{})
	}
	return c.opened, c.more
}

// testLog collects what the servers log and prints it if the test fails.
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newTestLog(t *testing.T) *slog.Logger {
	l := &testLog{}
	t.Cleanup(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if t.Failed() && l.buf.Len() > 0 {
			t.Logf("server log:\n%s", l.buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}
