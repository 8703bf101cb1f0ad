package app_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/app"
	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/feedback"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/notify"
	"github.com/huddle-lti/huddle/programme"
	"github.com/huddle-lti/huddle/roster"
)

func newApp(t *testing.T) *app.App {
	t.Helper()
	pool, err := app.OpenPool(t.Context(), dbtest.Migrated(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	base, err := url.Parse("http://localhost")
	require.NoError(t, err)
	a, err := app.New(t.Context(), pool, app.Config{BaseURL: base, SecretKey: bytes.Repeat([]byte{3}, 32), Version: "test",
		ShutdownTimeout: 5 * time.Second}, app.Options{KeyBits: 1024})
	require.NoError(t, err)
	t.Cleanup(a.Close)
	return a
}

// everyJobKind is one job of each kind a service queues.
func everyJobKind() []river.JobArgs {
	return []river.JobArgs{
		gradesync.SyncArgs{ActivityID: 1, UserID: 1},
		gradesync.DispatchArgs{ActivityID: 1},
		roster.Args{CourseID: 1},
		notify.SendArgs{NoticeID: 1},
		notify.DigestArgs{},
		notify.DigestSendArgs{UserID: 1},
		discussion.ReleaseArgs{},
		roster.DailyArgs{},
		discussion.GradePushArgs{},
		feedback.ReleaseArgs{},
		certificates.CheckArgs{ActivityID: 1, UserID: 1},
		certificates.SweepArgs{},
		certificates.IssueArgs{ActivityID: 1, UserID: 1},
		programme.RemindArgs{},
		programme.SyncEventArgs{},
		programme.AttendanceGradeArgs{ActivityID: 1},
	}
}

// Every job a service queues goes to a queue the client works: a job inserted into a
// queue the client was not given waits there for ever. Each job here fails (nothing
// it names exists), which is enough: it was picked up.
func TestEveryJobIsInAQueueTheClientWorks(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	var ids []int64
	queues := map[string]bool{}
	for _, args := range everyJobKind() {
		res, err := a.Queue.Insert(t.Context(), args, nil)
		require.NoError(t, err)
		ids = append(ids, res.Job.ID)
		queues[res.Job.Queue] = true
	}
	require.True(t, queues[roster.QueueName], "roster reads wait in a queue of their own")
	require.NoError(t, a.Queue.Start(t.Context()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Queue.Stop(ctx)
	})
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		rows, err := a.Pool.Query(t.Context(), `SELECT queue || ' ' || kind FROM river_job WHERE id = ANY ($1) AND state = 'available' ORDER BY id`, ids)
		require.NoError(c, err)
		waiting, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(c, err)
		assert.Empty(c, waiting, "never picked up")
	}, 15*time.Second, 50*time.Millisecond)
}

// Every job a service queues has its worker in the client New builds: River refuses to
// insert a kind no worker is registered for, so a worker left out fails here rather
// than sitting in the queue in production.
func TestEveryJobKindHasAWorker(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	for _, args := range everyJobKind() {
		t.Run(args.Kind(), func(t *testing.T) {
			_, err := a.Queue.Insert(t.Context(), args, nil)
			require.NoError(t, err)
		})
	}
	var unknown *river.UnknownJobKindError
	_, err := a.Queue.Insert(t.Context(), strayArgs{}, nil)
	require.ErrorAs(t, err, &unknown, "the check above means something only if an unknown kind is refused")
}

type strayArgs struct{}

func (strayArgs) Kind() string { return "stray" }

// Run serves until its context ends, then drains and returns, as `huddle serve` does
// on SIGTERM; /readyz answers while it runs.
func TestRunServesUntilCancelled(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/readyz")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	resp, err = http.Get("http://" + ln.Addr().String() + "/readyz")
	if err == nil {
		require.NoError(t, resp.Body.Close())
	}
	require.Error(t, err, "nothing listens after Run returns")
}

// A database URL pgx cannot parse is refused without echoing it (it holds a password).
func TestOpenPoolNeverQuotesTheURL(t *testing.T) {
	t.Parallel()
	_, err := app.OpenPool(t.Context(), "postgres://huddle:s3cret@localhost:notaport/huddle")
	require.True(t, errors.Is(err, app.ErrDatabaseURL), "%v", err)
	require.NotContains(t, err.Error(), "s3cret")
}

// A web server that cannot serve (its listener already closed) ends Run with an error
// instead of leaving it waiting on the live hub and the pruning for ever.
func TestRunReturnsWhenServingFails(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	done := make(chan error, 1)
	go func() { done <- a.Run(t.Context(), ln) }()
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after the web server failed")
	}
}
