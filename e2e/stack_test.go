package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
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
	"github.com/huddle-lti/huddle/seal"
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
	huddle  *app.App              // Huddle's services, for what an operator or a timer does
}

// newStack starts both on a fresh migrated database until the test ends. What they
// log is shown only if the test fails, with every secret in it masked; once both
// have stopped, the test fails if their log holds any secret the stack knows of
// (secrets_test.go).
func newStack(t *testing.T) *stack { return newStackWith(t, false) }

// newStackWith is newStack with the platform optionally offering lti_storage_target.
// Huddle is built by app.New and run by App.Run, exactly as `huddle serve` builds and
// runs it; the test changes only the kinds offered (one more) and counts live streams.
func newStackWith(t *testing.T, offerStorage bool) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	known := newSecretSet()
	registerStackSecrets(t, known)
	for _, nhs := range []string{pastedNHSNumber, strings.ReplaceAll(pastedNHSNumber, " ", ""),
		strings.ReplaceAll(pastedNHSNumber, " ", "-")} {
		known.addPatient("patient's NHS number", nhs)
	}
	logs := newTestLog(t, known)
	log := logs.logger()

	ln, err := net.Listen("tcp", "localhost:0")
	require.NoError(t, err)
	huddleLn := tapListener{Listener: ln, known: known}
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
	// After Huddle and the platform have stopped (cleanups run last registered first),
	// so that everything they logged is in the buffer.
	t.Cleanup(func() {
		if err := known.addSessionCSRFTokens(context.Background(), pool); err != nil {
			t.Errorf("log scan: %v", err)
		}
		t.Logf("log scan: looked for %s", known.summary())
		reportLeaks(t, scanLog(logs.String(), known.list()))
	})

	secretKey := make([]byte, 32)
	_, err = rand.Read(secretKey)
	require.NoError(t, err)
	cfg := app.Config{
		BaseURL:         base,
		SecretKey:       secretKey,
		Version:         "e2e",
		ShutdownTimeout: 2 * time.Second,
	}
	known.addKeyBytes("HUDDLE_SECRET_KEY", cfg.SecretKey)
	known.addKeyBytes("rate limiter key", seal.Derive(cfg.SecretKey, "ratelimit"))
	known.add("registration token", cfg.RegistrationToken)
	huddle, err := app.New(ctx, pool, cfg, app.Options{
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
	s.huddle = huddle
	toolKey, err := huddle.Keys.SigningKey(ctx)
	require.NoError(t, err)
	var toolRSA rsa.PrivateKey
	require.NoError(t, toolKey.Raw(&toolRSA))
	require.NoError(t, known.addPrivateKey("Huddle's tool private key", &toolRSA))
	platformKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	require.NoError(t, known.addPrivateKey("the development platform's private key", platformKey))
	s.dev, err = huddle.DevPlatform(ctx, s.Platform, func(c *devplatform.Config) {
		c.OfferStorageTarget = offerStorage
		c.Key = platformKey
		c.OnSecret = known.fromPlatform
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

// testLog collects what the servers log and prints it, with the secrets known masked,
// if the test fails.
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newTestLog(t *testing.T, known *secretSet) *testLog {
	l := &testLog{}
	t.Cleanup(func() {
		if out := l.String(); t.Failed() && out != "" {
			t.Logf("server log:\n%s", known.redact(out))
		}
	})
	return l
}

// logger logs everything, Debug included, as text into the buffer.
func (l *testLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}
