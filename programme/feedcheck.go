package programme

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/huddle-lti/huddle/internal/pgwait"
)

// A calendar app's poll costs one check of its secret and its feed's version in
// PostgreSQL (feedBySecretVersion). Under load most of that cost is the round trip
// itself, not the lookup, so polls that arrive while this instance already has as
// many checks in flight as it allows wait and go together, as one statement, in the
// next round trip. A poll never joins a statement that has already started: the
// statement that answers it begins after the poll arrived, so it sees every
// revocation and every change committed before then, on any instance, as a
// statement of its own would. Nothing is kept between polls. A lone poll goes at
// once, alone.

// feedChecksInFlight is how many batches of checks one instance runs at once. One:
// the batch then grows with the load (polls that arrive during one round trip go in
// the next), and PostgreSQL's cost per poll falls as it does. On the 2-core machine,
// at concurrency 32, one batch in flight cost 29 us of PostgreSQL's CPU per poll, two
// 43 us and four 120 us, for the same throughput (BenchmarkCalendarFeed).
const feedChecksInFlight = 1

// maxFeedBatch bounds one statement's checks.
const maxFeedBatch = 256

// feedCheckTimeout bounds a batch's statement: it answers several polls, so no one
// poll's context may cancel it.
const feedCheckTimeout = 10 * time.Second

// feedChecks is an instance's batching of secret checks. Its zero value works.
type feedChecks struct {
	mu      sync.Mutex
	running int
	pending []*feedCheck
}

// feedCheck is one poll's question and, once done is closed, its answer.
type feedCheck struct {
	hash      []byte
	programme int64
	done      chan struct{}
	found     bool
	user      int64
	grade     string
	state     string
	newest    *time.Time
	err       error
}

// feedBySecretVersions is feedBySecretVersion for many secrets ($1, with the programme
// each asks for in $2), answered by their position (1-based); a wrong or revoked
// secret has no row. The query is a function (migrations/00045) so that PostgreSQL
// keeps its plan rather than planning it again at every poll, which cost it more than
// the query itself.
const feedBySecretVersions = `SELECT i, user_id, grade, state, newest FROM programme_feed_checks($1, $2)`

// check answers one poll, in a batch with whatever polls are waiting.
func (s *Service) checkFeed(ctx context.Context, hash []byte, programmeID int64) (*feedCheck, error) {
	c := &feedCheck{hash: hash, programme: programmeID, done: make(chan struct{})}
	fc := &s.feeds.checks
	fc.mu.Lock()
	if fc.running >= feedChecksInFlight {
		fc.pending = append(fc.pending, c)
		fc.mu.Unlock()
		select {
		case <-c.done:
			return c, c.err
		case <-ctx.Done():
			// Its batch, if it has started, answers no one; one not started leaves
			// it out.
			fc.mu.Lock()
			for i, p := range fc.pending {
				if p == c {
					fc.pending = append(fc.pending[:i:i], fc.pending[i+1:]...)
					break
				}
			}
			fc.mu.Unlock()
			return nil, fmt.Errorf("programme: feed by secret: %w", ctx.Err())
		}
	}
	fc.running++
	fc.mu.Unlock()
	s.runChecks([]*feedCheck{c})
	return c, c.err
}

// runChecks answers a batch, then the batch that gathered meanwhile (on a goroutine of
// its own, so that this poll's answer does not wait for it), or gives up its turn.
func (s *Service) runChecks(batch []*feedCheck) {
	s.answer(batch)
	fc := &s.feeds.checks
	fc.mu.Lock()
	if len(fc.pending) == 0 {
		fc.running--
		fc.mu.Unlock()
		return
	}
	n := min(len(fc.pending), maxFeedBatch)
	next := fc.pending[:n:n]
	fc.pending = append([]*feedCheck(nil), fc.pending[n:]...)
	fc.mu.Unlock()
	go s.runChecks(next)
}

// answer runs one statement for batch and closes each check's done.
func (s *Service) answer(batch []*feedCheck) {
	defer func() {
		for _, c := range batch {
			close(c.done)
		}
	}()
	hashes := make([][]byte, len(batch))
	programmes := make([]int64, len(batch))
	for i, c := range batch {
		hashes[i], programmes[i] = c.hash, c.programme
	}
	// The batch answers requests, so it waits for a connection no longer than one
	// request may (pgwait); its polls then fail with pgwait.ErrTimeout, which the web
	// server answers 503 with Retry-After.
	ctx, cancel := context.WithTimeout(pgwait.Bound(context.Background()), feedCheckTimeout)
	defer cancel()
	fail := func(err error) {
		for _, c := range batch {
			c.err = fmt.Errorf("programme: feed by secret: %w", err)
		}
	}
	rows, err := s.db.Query(ctx, feedBySecretVersions, hashes, programmes)
	if err != nil && pgwait.TimedOut(ctx) {
		err = fmt.Errorf("%w: %w", pgwait.ErrTimeout, err)
	}
	if err != nil {
		fail(err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var i int64
		var c feedCheck
		if err := rows.Scan(&i, &c.user, &c.grade, &c.state, &c.newest); err != nil {
			fail(err)
			return
		}
		if i < 1 || int(i) > len(batch) {
			fail(fmt.Errorf("row for check %d of %d", i, len(batch)))
			return
		}
		b := batch[i-1]
		b.found, b.user, b.grade, b.state, b.newest = true, c.user, c.grade, c.state, c.newest
	}
	if err := rows.Err(); err != nil {
		fail(err)
	}
}
