// Package pgwait bounds how long a web request waits for one of the pool's
// connections. pgxpool waits for a free connection for as long as the caller's context
// lives (30 s for a request): when every connection is busy, requests pile up behind
// each other and all of them end slow. A request marked with Bound waits at most the
// Tracer's Wait instead, and learns afterwards (TimedOut) that this was why it failed,
// so the web server can answer 503 with Retry-After rather than an error of its own.
// Background work is not marked: a job may wait its turn.
package pgwait

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrTimeout is the cause of an acquire's context when the wait ran out.
var ErrTimeout = errors.New("pgwait: no database connection became free in time")

type noteKey struct{}

type cancelKey struct{}

type note struct{ timedOut atomic.Bool }

// Bound marks ctx as a request's: an acquire on a pool with a Tracer waits at most
// the Tracer's Wait under it.
func Bound(ctx context.Context) context.Context {
	return context.WithValue(ctx, noteKey{}, &note{})
}

// TimedOut reports whether an acquire under ctx (marked with Bound) gave up waiting.
func TimedOut(ctx context.Context) bool {
	n, ok := ctx.Value(noteKey{}).(*note)
	return ok && n.timedOut.Load()
}

// Tracer is a pgxpool acquire tracer that bounds the wait of marked acquires. Set it
// as the pool's ConnConfig.Tracer. It traces no queries.
type Tracer struct {
	// Wait is the longest a marked acquire waits; zero leaves acquires unbounded.
	Wait time.Duration

	timeouts atomic.Int64
}

// Timeouts is how many marked acquires gave up waiting since start.
func (t *Tracer) Timeouts() int64 { return t.timeouts.Load() }

var _ pgxpool.AcquireTracer = (*Tracer)(nil)

// TraceAcquireStart gives a marked acquire a deadline Wait from now.
func (t *Tracer) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	if t.Wait <= 0 || ctx.Value(noteKey{}) == nil {
		return ctx
	}
	ctx, cancel := context.WithTimeoutCause(ctx, t.Wait, ErrTimeout)
	return context.WithValue(ctx, cancelKey{}, cancel)
}

// TraceAcquireEnd notes a timed-out acquire on the request's mark and releases the
// deadline's timer.
func (t *Tracer) TraceAcquireEnd(ctx context.Context, _ *pgxpool.Pool, data pgxpool.TraceAcquireEndData) {
	cancel, ok := ctx.Value(cancelKey{}).(context.CancelFunc)
	if !ok {
		return
	}
	// Read the cause before cancelling, which would make it Canceled.
	timedOut := data.Err != nil && errors.Is(context.Cause(ctx), ErrTimeout)
	cancel()
	if !timedOut {
		return
	}
	if n, ok := ctx.Value(noteKey{}).(*note); ok {
		n.timedOut.Store(true)
	}
	t.timeouts.Add(1)
}

// TraceQueryStart does nothing: pgx takes a pool's tracer as a query tracer.
func (*Tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

// TraceQueryEnd does nothing.
func (*Tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
