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
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/egress"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/live"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/migrations"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/notify"
	"github.com/huddle-lti/huddle/reflection"
	"github.com/huddle-lti/huddle/roster"
	"github.com/huddle-lti/huddle/seal"
	"github.com/huddle-lti/huddle/session"
	"github.com/huddle-lti/huddle/web"
)

// e2eKinds gives the educator's set-up page a kind that is not a board, whose
// activity page is the plain one; the stack offers it after production's kinds.
var e2eKinds = []course.Kind{
	{Name: "e2e_board", Title: "E2E board", Description: "A kind registered by the end-to-end tests."},
}

// stackKinds are the kinds the stack installs: production's (cmd/huddle's kinds())
// first, as educators see them, then the end-to-end tests' own.
func stackKinds() []course.Kind {
	return slices.Concat(discussion.Kinds(), reflection.Kinds(), e2eKinds)
}

// e2eUserAgent names Huddle on its outbound requests, as cmd/huddle's userAgent does.
const e2eUserAgent = "Huddle/e2e (LTI 1.3 tool)"

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

	// The services cmd/huddle's newServices builds, from the same constructors, on a
	// pool as large as openPool's: River's 24 workers share it with the web requests.
	pool := newPool(t)
	s.db = pool
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { db.Close() })
	schema, err := migrations.New(db)
	require.NoError(t, err)
	sealer, err := seal.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	// Production's outbound client (cmd/huddle's outboundClient): its zero options allow
	// loopback, where the development platform listens, as `huddle serve` in
	// development mode relies on for key sets, tokens and grade services alike.
	outbound := egress.NewClient(egress.Options{UserAgent: e2eUserAgent, Timeout: 10 * time.Second})
	store := lti.NewStore(pool, nil)
	keys := lti.NewKeyring(pool, sealer, nil, 0)
	require.NoError(t, keys.Ensure(ctx))

	// The development platform, registered exactly as cmd/huddle's startDevPlatform does.
	p, err := devplatform.New(devplatform.Config{
		PublicURL:         s.Platform,
		ClientID:          "huddle-dev",
		DeploymentID:      "1",
		ToolLoginURL:      s.Huddle + "/lti/login",
		ToolRedirectURI:   s.Huddle + "/lti/launch",
		ToolJWKSURL:       s.Huddle + "/.well-known/jwks.json",
		ToolTargetLinkURI: s.Huddle + "/lti/launch",
		HTTPClient:        &http.Client{Timeout: 10 * time.Second},
		Logger:            log.With("component", "devplatform"),

		OfferStorageTarget: offerStorage,
	})
	require.NoError(t, err)
	s.dev = p
	reg := p.Registration()
	if _, err := store.FindPlatform(ctx, reg.Issuer, reg.ClientID); errors.Is(err, lti.ErrNotFound) {
		_, err = store.AddPlatform(ctx, reg)
		require.NoError(t, err)
	} else {
		require.NoError(t, err)
	}

	// Grade sync, rosters and notices with their River workers, as cmd/huddle's
	// newServices wires them: scores go to the platform through Assignment and Grade
	// Services (its token endpoint and services.php), through Moodle web services where
	// an educator chooses them, retried with the worker's backoff while it is down.
	// Notices find no web services connection on the development platform and are
	// skipped, as on a Moodle site without one.
	tokens := lti.NewServiceTokens(lti.ServiceTokenConfig{Keys: keys, Client: outbound, UserAgent: e2eUserAgent})
	conns := moodle.NewConnections(pool, sealer, moodle.BaseConfig(outbound, e2eUserAgent), nil)
	grades := gradesync.NewService(pool, &gradesync.FallbackPusher{
		AGS: &gradesync.AGSPusher{Platforms: store, AGS: lti.NewAGSClient(tokens), DB: pool},
		WS:  &gradesync.WSPusher{DB: pool, Clients: conns},
	}, nil)
	workers := river.NewWorkers()
	river.AddWorker(workers, gradesync.NewWorker(grades))
	courses := course.NewService(pool, nil)
	river.AddWorker(workers, &roster.Worker{Courses: courses, Platforms: store, NRPS: lti.NewNRPSClient(tokens)})
	notices := notify.NewService(pool, conns, nil)
	river.AddWorker(workers, notify.NewSendWorker(notices))
	river.AddWorker(workers, notify.NewDigestWorker(notices))
	river.AddWorker(workers, notify.NewDigestSendWorker(notices))
	queue, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:               log.With("component", "queue"),
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 24}},
		FetchCooldown:        5 * time.Millisecond,
		Workers:              workers,
		RescueStuckJobsAfter: 5 * time.Minute,
		PeriodicJobs:         []*river.PeriodicJob{notify.DigestPeriodicJob(nil)},
	})
	require.NoError(t, err)
	grades.UseQueue(queue)
	notices.UseQueue(queue)

	// Boards and live updates as cmd/huddle's newServices wires them: a post announces
	// itself in its own transaction and this instance's hub, listening in PostgreSQL,
	// feeds the pages' streams.
	hub := live.NewHub(pool, log.With("component", "live"))
	s.streams = &streamCounter{Hub: hub}
	boards := discussion.NewService(pool, discussion.Options{Grader: grades, Notifier: replyNotices{notices},
		Announce: func(ctx context.Context, tx pgx.Tx, topic string, data []byte) error {
			return live.Publish(ctx, tx, topic, data)
		}})
	reflections := reflection.NewService(pool, log.With("component", "reflection"), nil, grades)
	reflections.UseThreads(threadRefs{boards})

	srv, err := web.New(web.Deps{
		Logger:   log.With("component", "huddle"),
		Version:  "e2e",
		Database: pool,
		Schema:   schema,
		Registry: prometheus.NewRegistry(),

		BaseURL:     base,
		LTI:         store,
		Verifier:    lti.NewVerifier(lti.VerifierConfig{Keys: lti.NewKeySet(lti.KeySetConfig{Client: outbound, UserAgent: e2eUserAgent})}),
		Keys:        keys,
		DeepLinks:   lti.NewDeepLinkingSigner(lti.DeepLinkingConfig{}),
		Courses:     courses,
		Sessions:    session.NewStore(pool, nil, 0),
		Kinds:       stackKinds(),
		Outbound:    outbound,
		Grades:      grades,
		Boards:      boards,
		Notices:     notices,
		Reflections: reflections,
		Live:        s.streams,
	})
	require.NoError(t, err)

	// The workers run on a context of their own, as in serve.go; the test's cleanup
	// stops them (River hands unfinished jobs back) before the platform goes.
	require.NoError(t, queue.Start(context.WithoutCancel(ctx)))

	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := hub.Run(ctx); err != nil {
			log.Error("live updates stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, huddleLn, 2*time.Second); err != nil {
			log.Error("huddle stopped", "err", err)
		}
	}()
	platform := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 5 * time.Second}
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
		if err := queue.Stop(shutdown); err != nil {
			log.Warn("job queue did not stop cleanly", "err", err)
		}
		_ = platform.Shutdown(shutdown)
		wg.Wait()
	})
	// A page opened now must not miss a post: wait until the hub listens.
	select {
	case <-hub.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("the live updates hub is not listening after 10s")
	}
	return s
}

// newPool opens a pool on a fresh migrated database with as many connections as
// cmd/huddle's openPool allows (40: web requests plus 24 grade sync workers), rather
// than pgx's default of max(4, cores), which River's listener and workers would exhaust.
func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dbtest.Migrated(t))
	require.NoError(t, err)
	cfg.MaxConns = 40
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// streamCounter is the hub as web sees it (a web.Feed) that also counts the live
// streams subscribed, so that a test can wait for a page's stream to be open before
// it posts what that page should receive. It changes nothing the hub does.
type streamCounter struct {
	*live.Hub
	opened atomic.Int64
}

func (c *streamCounter) Subscribe(topic string) *live.Subscription {
	sub := c.Hub.Subscribe(topic)
	c.opened.Add(1)
	return sub
}

// replyNotices hands discussion's reply notices to notify, as cmd/huddle's does.
type replyNotices struct{ notices *notify.Service }

func (r replyNotices) Notify(ctx context.Context, tx pgx.Tx, userID int64, subject, text string) error {
	return r.notices.Notify(ctx, tx, notify.Notice{UserID: userID, Subject: subject, Text: text})
}

// threadRefs lets reflections refer to discussion threads, as cmd/huddle's does.
type threadRefs struct{ boards *discussion.Service }

func (t threadRefs) ThreadsFor(ctx context.Context, userID int64, limit int) ([]reflection.Ref, error) {
	list, err := t.boards.ThreadsFor(ctx, userID, limit)
	out := make([]reflection.Ref, len(list))
	for i, r := range list {
		out[i] = reflection.Ref(r)
	}
	return out, err
}

func (t threadRefs) ThreadFor(ctx context.Context, userID, threadID int64) (reflection.Ref, error) {
	r, err := t.boards.ThreadFor(ctx, userID, threadID)
	return reflection.Ref(r), err
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
