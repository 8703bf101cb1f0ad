// Package batch answers many small questions to PostgreSQL in one statement when they
// arrive together. Under load most of a lookup's cost is its round trip, not the
// lookup, so questions that arrive while an instance already has as many batches in
// flight as it allows wait and go together in the next one. A question never joins a
// batch that has already started: the statement that answers it begins after the
// question arrived, so it sees everything committed before then, on any instance, as
// a statement of its own would. Nothing is kept between batches, and a lone question
// goes at once, alone. A Batcher may also linger (Lingering): a batch that follows
// another then waits a moment for more questions, so that a steady stream of them
// shares fewer statements.
package batch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/huddle-lti/huddle/internal/pgwait"
)

// Batcher gathers questions Q and answers them with run, which gets up to max of them
// at a time and returns one answer A for each, in the same order, or an error for the
// whole batch. Its zero value is not usable; use New.
type Batcher[Q, A any] struct {
	run      func(ctx context.Context, qs []Q) ([]A, error)
	inFlight int
	max      int
	timeout  time.Duration
	linger   time.Duration
	sleep    func(time.Duration) // time.Sleep; tests end a linger when they choose

	mu      sync.Mutex
	running int
	pending []*call[Q, A]
}

// call is one question and, once done is closed, its answer.
type call[Q, A any] struct {
	q    Q
	done chan struct{}
	a    A
	err  error
}

// New returns a Batcher that runs at most inFlight batches at once, each of at most
// size questions and for at most timeout. run gets a context of the batch's own: one
// batch answers several callers, so no one caller's context may cancel it. That
// context waits for a pool connection no longer than one request may (pgwait), and a
// batch that timed out waiting fails with pgwait.ErrTimeout, which the web server
// answers 503 with Retry-After.
func New[Q, A any](inFlight, size int, timeout time.Duration, run func(ctx context.Context, qs []Q) ([]A, error)) *Batcher[Q, A] {
	return &Batcher[Q, A]{run: run, inFlight: max(1, inFlight), max: max(1, size), timeout: timeout, sleep: time.Sleep}
}

// Lingering makes a batch that follows another (its questions arrived while the
// other ran) wait d before it starts, for more questions to join it, unless it is
// already full; it returns b. A lone question still goes at once: only a stream of
// questions waits, each for the batch before its own and then at most d more. Use it
// where a batch's round trip and commit cost far more than its questions, and callers
// can spare d. Set it before b is used.
func (b *Batcher[Q, A]) Lingering(d time.Duration) *Batcher[Q, A] {
	b.linger = d
	return b
}

// Do answers q, in a batch with whatever questions are waiting. If ctx ends first,
// Do returns ctx's error; a batch that has started answers no one for it, and one not
// yet started leaves it out.
func (b *Batcher[Q, A]) Do(ctx context.Context, q Q) (A, error) {
	c := &call[Q, A]{q: q, done: make(chan struct{})}
	b.mu.Lock()
	if b.running >= b.inFlight {
		b.pending = append(b.pending, c)
		b.mu.Unlock()
		select {
		case <-c.done:
			return c.a, c.err
		case <-ctx.Done():
			b.mu.Lock()
			for i, p := range b.pending {
				if p == c {
					b.pending = append(b.pending[:i:i], b.pending[i+1:]...)
					break
				}
			}
			b.mu.Unlock()
			var zero A
			return zero, ctx.Err()
		}
	}
	b.running++
	b.mu.Unlock()
	b.runBatch([]*call[Q, A]{c})
	return c.a, c.err
}

// runBatch answers batch, then hands the batch that gathered meanwhile to a goroutine
// of its own (so that this caller's answer does not wait for it), after the linger if
// there is one and that batch is not full yet; or gives up its turn.
func (b *Batcher[Q, A]) runBatch(batch []*call[Q, A]) {
	b.answer(batch)
	b.mu.Lock()
	switch {
	case len(b.pending) == 0:
		b.running--
		b.mu.Unlock()
	case b.linger > 0 && len(b.pending) < b.max:
		b.mu.Unlock()
		go func() {
			b.sleep(b.linger)
			b.runPending()
		}()
	default:
		next := b.takePending()
		b.mu.Unlock()
		go b.runBatch(next)
	}
}

// runPending runs the questions waiting after a linger, or gives up the turn if their
// callers have all left meanwhile.
func (b *Batcher[Q, A]) runPending() {
	b.mu.Lock()
	if len(b.pending) == 0 {
		b.running--
		b.mu.Unlock()
		return
	}
	next := b.takePending()
	b.mu.Unlock()
	b.runBatch(next)
}

// takePending removes and returns the next batch's questions: the oldest, at most
// max. b.mu must be held.
func (b *Batcher[Q, A]) takePending() []*call[Q, A] {
	n := min(len(b.pending), b.max)
	next := b.pending[:n:n]
	b.pending = append([]*call[Q, A](nil), b.pending[n:]...)
	return next
}

// answer runs one batch and closes each call's done.
func (b *Batcher[Q, A]) answer(batch []*call[Q, A]) {
	defer func() {
		for _, c := range batch {
			close(c.done)
		}
	}()
	qs := make([]Q, len(batch))
	for i, c := range batch {
		qs[i] = c.q
	}
	ctx, cancel := context.WithTimeout(pgwait.Bound(context.Background()), b.timeout)
	defer cancel()
	as, err := b.run(ctx, qs)
	if err != nil && pgwait.TimedOut(ctx) {
		err = fmt.Errorf("%w: %w", pgwait.ErrTimeout, err)
	}
	if err == nil && len(as) != len(batch) {
		err = fmt.Errorf("batch: %d answers to %d questions", len(as), len(batch))
	}
	for i, c := range batch {
		if err != nil {
			c.err = err
			continue
		}
		c.a = as[i]
	}
}
