// Package ratelimit is Huddle's one limiter: counts of events in a time window, and
// slots for things a key may hold at once (live streams). It is backed by
// PostgreSQL, so a limit holds across every instance behind the load balancer; an
// in-process limiter would multiply each limit by the number of instances.
//
// Keys (a client address, a user or session id) are stored only as an HMAC under a
// secret the caller gives, so a database dump names nobody and cannot be reversed by
// trying every IPv4 address.
package ratelimit

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/internal/batch"
)

// Rule is a limit: at most Limit events per Window for each key, in the bucket Name.
// Buckets keep unrelated limits apart (a login initiation never counts against a
// post).
type Rule struct {
	Name   string
	Limit  int
	Window time.Duration
	// Block, above 1, lets each instance reserve that many of a key's events in one
	// round trip and admit them from memory (block.go): for busy endpoints, where a
	// write per request would cost more than the request. The limit still holds across
	// instances; a key may be refused up to (instances x (Block-1)) events early. 0 or
	// 1 counts every event in PostgreSQL as it happens.
	Block int
}

// Decision is the limiter's answer for one event.
type Decision struct {
	Allowed bool
	// RetryAfter is how long until an event would be allowed again, when refused.
	RetryAfter time.Duration
}

// Limiter counts events and holds slots in PostgreSQL.
type Limiter struct {
	db     *pgxpool.Pool
	secret []byte
	now    func() time.Time
	res    reservations // for rules with a Block
	macs   sync.Pool    // of HMAC states under secret: keying one costs more than using it
	counts *batch.Batcher[countQuestion, countAnswer]
}

// New returns a limiter over db. secret keys the HMAC that stands in for each key;
// it must be the same on every instance (app derives it from HUDDLE_SECRET_KEY).
func New(db *pgxpool.Pool, secret []byte, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	l := &Limiter{db: db, secret: secret, now: now, res: reservations{byKey: map[reservationKey]*reservation{}}}
	l.counts = batch.New(countsInFlight, maxCountBatch, countTimeout, l.countMany)
	return l
}

func (l *Limiter) mac(bucket, key string) []byte {
	h, _ := l.macs.Get().(hash.Hash)
	if h == nil {
		h = hmac.New(sha256.New, l.secret)
	}
	h.Reset()
	h.Write([]byte(bucket))
	h.Write([]byte{0})
	h.Write([]byte(key))
	sum := h.Sum(nil)
	l.macs.Put(h)
	return sum
}

// Allow counts one event for key under r and says whether it is within the limit.
//
// It is a sliding-window estimate over two fixed windows (the current window's count
// plus the previous window's, weighted by how much of it still overlaps the last
// Window): a fixed window alone would let a client send twice the limit across a
// window boundary. Refused events are counted too, so a client that keeps hammering
// stays refused. One statement, one round trip, shared with the counts that arrive
// with it.
func (l *Limiter) Allow(ctx context.Context, r Rule, key string) (Decision, error) {
	if r.Limit <= 0 || r.Window <= 0 {
		return Decision{}, fmt.Errorf("ratelimit: rule %q needs a positive limit and window", r.Name)
	}
	if r.Block > 1 {
		return l.allowBlock(ctx, r, key)
	}
	now := l.now()
	hits, before, err := l.count(ctx, r, l.mac(r.Name, key), now, 1)
	if err != nil {
		return Decision{}, err
	}
	start := now.Truncate(r.Window)
	elapsed := now.Sub(start)
	overlap := 1 - float64(elapsed)/float64(r.Window)
	estimate := float64(hits) + float64(before)*overlap
	if estimate <= float64(r.Limit) {
		return Decision{Allowed: true}, nil
	}
	return Decision{RetryAfter: retryAfter(r, hits, before, elapsed)}, nil
}

// count adds n events to the key's count in now's window and returns that count and
// the previous window's. Counts that arrive together (a start-of-term rush of
// launches, every verifier's first block of a minute) go to PostgreSQL together, in
// one statement and one commit (counts.go); a lone count goes at once, alone.
func (l *Limiter) count(ctx context.Context, r Rule, mac []byte, now time.Time, n int) (hits, before int, err error) {
	start := now.Truncate(r.Window)
	a, err := l.counts.Do(ctx, countQuestion{
		// A row outlives its window by one more window: the next window weighs it.
		bucket: r.Name, mac: string(mac), start: start, prev: start.Add(-r.Window), expires: start.Add(2 * r.Window), n: n,
	})
	if err != nil {
		return 0, 0, fmt.Errorf("ratelimit: count %s: %w", r.Name, err)
	}
	return a.hits, a.before, nil
}

// retryAfter is when the estimate falls back to the limit if nothing more is counted:
// the previous window's weight shrinks as time passes, and at the next window the
// current count becomes the weighted one.
func retryAfter(r Rule, hits, before int, elapsed time.Duration) time.Duration {
	w := float64(r.Window)
	if before > 0 {
		// hits + before*(1 - t/w) <= limit  =>  t >= w*(1 - (limit-hits)/before)
		if t := w * (1 - float64(r.Limit-hits)/float64(before)); hits <= r.Limit && t < w {
			return ceilSecond(time.Duration(t) - elapsed)
		}
	}
	// In the next window this window weighs hits*(1 - t/w): wait until that fits.
	t := w * (1 - float64(r.Limit)/float64(hits))
	return ceilSecond(r.Window - elapsed + time.Duration(math.Max(t, 0)))
}

// ceilSecond rounds up to whole seconds, as Retry-After carries, and at least one.
func ceilSecond(d time.Duration) time.Duration {
	s := time.Duration(math.Ceil(d.Seconds())) * time.Second
	if s < time.Second {
		return time.Second
	}
	return s
}

// ErrNoSlot means key already holds as many slots as the rule allows.
var ErrNoSlot = errors.New("ratelimit: no slot free")

// Slot is one held slot. Its holder renews it while it lasts and releases it when
// done; a holder that dies (a killed instance) leaves it to expire after the lease.
type Slot struct {
	l      *Limiter
	bucket string
	mac    []byte
	n      int
	holder []byte
}

// Acquire takes one of at most r.Limit slots for key, held for r.Window unless
// renewed. It returns ErrNoSlot when all are held.
//
// Slots are numbered 1..Limit and each is a row under the primary key, so two
// instances racing for the same free slot cannot both win: the loser's conditional
// upsert changes nothing and it tries the next free one.
func (l *Limiter) Acquire(ctx context.Context, r Rule, key string) (*Slot, error) {
	if r.Limit <= 0 || r.Window <= 0 {
		return nil, fmt.Errorf("ratelimit: rule %q needs a positive limit and window", r.Name)
	}
	holder := make([]byte, 16)
	if _, err := rand.Read(holder); err != nil {
		return nil, fmt.Errorf("ratelimit: acquire %s: %w", r.Name, err)
	}
	mac := l.mac(r.Name, key)
	const q = `
INSERT INTO rate_slots (bucket, key_mac, slot, holder, expires_at)
SELECT $1, $2, s, $3, $5
FROM generate_series(1, $4::int) AS s
WHERE NOT EXISTS (
    SELECT 1 FROM rate_slots t WHERE t.bucket = $1 AND t.key_mac = $2 AND t.slot = s AND t.expires_at > $6)
ORDER BY s
LIMIT 1
ON CONFLICT (bucket, key_mac, slot) DO UPDATE
    SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
    WHERE rate_slots.expires_at <= $6
RETURNING slot`
	// A lost race (another holder took the slot this statement picked) returns no
	// row although another slot may be free. Each lost race means a slot was taken,
	// so after Limit+1 tries every slot is held or this caller has one.
	for range r.Limit + 1 {
		now := l.now()
		var n int
		err := l.db.QueryRow(ctx, q, r.Name, mac, holder, r.Limit, now.Add(r.Window), now).Scan(&n)
		if err == nil {
			return &Slot{l: l, bucket: r.Name, mac: mac, n: n, holder: holder}, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("ratelimit: acquire %s: %w", r.Name, err)
		}
		var held int
		if err := l.db.QueryRow(ctx, `SELECT count(*) FROM rate_slots WHERE bucket = $1 AND key_mac = $2 AND expires_at > $3`,
			r.Name, mac, now).Scan(&held); err != nil {
			return nil, fmt.Errorf("ratelimit: acquire %s: %w", r.Name, err)
		}
		if held >= r.Limit {
			return nil, ErrNoSlot
		}
	}
	return nil, ErrNoSlot
}

// Renew extends the slot's lease to lease from now. It returns ErrNoSlot when the
// slot has expired and was taken by another holder meanwhile.
func (s *Slot) Renew(ctx context.Context, lease time.Duration) error {
	tag, err := s.l.db.Exec(ctx, `UPDATE rate_slots SET expires_at = $5 WHERE bucket = $1 AND key_mac = $2 AND slot = $3 AND holder = $4`,
		s.bucket, s.mac, s.n, s.holder, s.l.now().Add(lease))
	if err != nil {
		return fmt.Errorf("ratelimit: renew %s: %w", s.bucket, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNoSlot
	}
	return nil
}

// Release frees the slot. Releasing twice, or after the slot was taken over, does
// nothing.
func (s *Slot) Release(ctx context.Context) error {
	_, err := s.l.db.Exec(ctx, `DELETE FROM rate_slots WHERE bucket = $1 AND key_mac = $2 AND slot = $3 AND holder = $4`,
		s.bucket, s.mac, s.n, s.holder)
	if err != nil {
		return fmt.Errorf("ratelimit: release %s: %w", s.bucket, err)
	}
	return nil
}

// Prune deletes counters and slots that no longer count. Every instance may run it.
func (l *Limiter) Prune(ctx context.Context) (int64, error) {
	now := l.now()
	var n int64
	for _, q := range []string{
		`DELETE FROM rate_counts WHERE expires_at <= $1`,
		`DELETE FROM rate_slots WHERE expires_at <= $1`,
	} {
		tag, err := l.db.Exec(ctx, q, now)
		if err != nil {
			return n, fmt.Errorf("ratelimit: prune: %w", err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}
