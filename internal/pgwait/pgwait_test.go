package pgwait

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// Only a marked acquire gets a deadline; one that runs out marks the request and is
// counted, one that gets its connection in time or fails otherwise does not.
func TestTracerBoundsOnlyMarkedAcquires(t *testing.T) {
	t.Parallel()
	tr := &Tracer{Wait: 20 * time.Millisecond}

	plain := context.Background()
	got := tr.TraceAcquireStart(plain, nil, pgxpool.TraceAcquireStartData{})
	_, has := got.Deadline()
	require.False(t, has, "background work waits unbounded")
	tr.TraceAcquireEnd(got, nil, pgxpool.TraceAcquireEndData{Err: context.DeadlineExceeded})
	require.Zero(t, tr.Timeouts())

	// In time: no mark.
	req := Bound(context.Background())
	ctx := tr.TraceAcquireStart(req, nil, pgxpool.TraceAcquireStartData{})
	_, has = ctx.Deadline()
	require.True(t, has)
	tr.TraceAcquireEnd(ctx, nil, pgxpool.TraceAcquireEndData{})
	require.False(t, TimedOut(req))

	// Another failure (a refused connection) before the wait ran out: no mark.
	ctx = tr.TraceAcquireStart(req, nil, pgxpool.TraceAcquireStartData{})
	tr.TraceAcquireEnd(ctx, nil, pgxpool.TraceAcquireEndData{Err: errors.New("connection refused")})
	require.False(t, TimedOut(req))
	require.Zero(t, tr.Timeouts())

	// The wait ran out.
	ctx = tr.TraceAcquireStart(req, nil, pgxpool.TraceAcquireStartData{})
	<-ctx.Done()
	require.ErrorIs(t, context.Cause(ctx), ErrTimeout)
	tr.TraceAcquireEnd(ctx, nil, pgxpool.TraceAcquireEndData{Err: ctx.Err()})
	require.True(t, TimedOut(req))
	require.EqualValues(t, 1, tr.Timeouts())
	require.NoError(t, req.Err(), "the request itself goes on, to be answered 503")
}
