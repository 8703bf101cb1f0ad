package ratelimit

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"sync"
	"time"
)

// Counting in blocks (Rule.Block). A busy public endpoint (certificate verification:
// thousands of requests a second) cannot afford a PostgreSQL write per request, so an
// instance reserves a block of a key's allowance in one round trip, counting the whole
// block at once, and admits the block's events from memory. Every admitted event was
// counted in PostgreSQL before it was admitted, so across any number of instances a
// key is never admitted past the limit. The error is the other way, and bounded: an
// instance may hold up to Block-1 counted events it has not admitted, which lapse at
// the window's end, so with I instances a key may be refused up to I*(Block-1) events
// short of the limit. Where a block does not fit, the part that did not is taken back. A refusal is remembered until its Retry-After (other instances
// can only add to the count, so it stays right), and the events refused meanwhile are
// counted with the next round trip, so a client that keeps hammering stays refused.

// maxReservations bounds the keys an instance holds reservations for (about 150 bytes
// each: some 10 MB). When full, an arbitrary reservation is dropped: its unused events
// stay counted and lapse, so dropping one can only refuse sooner, never admit more.
const maxReservations = 65536

type reservationKey struct {
	bucket string
	mac    [sha256.Size]byte
}

// reservation is what this instance holds of one key's allowance in one window.
type reservation struct {
	window   time.Time // the start of the window it belongs to
	left     int       // counted events not yet admitted
	want     int       // how many to reserve next: Block, or less near the limit
	refused  time.Time // refuse without asking until then
	debt     int       // events refused from memory, not yet counted
	inFlight chan struct{}
}

type reservations struct {
	mu    sync.Mutex
	byKey map[reservationKey]*reservation
}

// allowBlock is Allow for a rule with Block > 1.
func (l *Limiter) allowBlock(ctx context.Context, r Rule, key string) (Decision, error) {
	k := reservationKey{bucket: r.Name, mac: [sha256.Size]byte(l.mac(r.Name, key))}
	for {
		now := l.now()
		start := now.Truncate(r.Window)
		l.res.mu.Lock()
		e := l.res.byKey[k]
		if e == nil {
			if len(l.res.byKey) >= maxReservations {
				l.res.evict()
			}
			e = &reservation{want: r.Block}
			l.res.byKey[k] = e
		}
		if e.inFlight != nil {
			// Another request is reserving for this key: wait for its answer.
			ch := e.inFlight
			l.res.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return Decision{}, fmt.Errorf("ratelimit: count %s: %w", r.Name, ctx.Err())
			}
		}
		if !e.window.Equal(start) {
			// A new window: what was reserved in the last one stays counted there.
			e.window, e.left, e.want, e.refused = start, 0, r.Block, time.Time{}
		}
		if e.left > 0 {
			e.left--
			l.res.mu.Unlock()
			return Decision{Allowed: true}, nil
		}
		if now.Before(e.refused) {
			e.debt++
			l.res.mu.Unlock()
			return Decision{RetryAfter: ceilSecond(e.refused.Sub(now))}, nil
		}
		want, debt := max(1, e.want), e.debt
		ch := make(chan struct{})
		e.inFlight, e.debt = ch, 0
		l.res.mu.Unlock()

		granted, headroom, d, err := l.reserve(ctx, r, k.mac[:], now, want, debt)

		l.res.mu.Lock()
		e.inFlight = nil
		close(ch)
		if err != nil {
			e.debt += debt
			l.res.mu.Unlock()
			return Decision{}, err
		}
		if e.window.Equal(start) {
			e.want = min(r.Block, max(1, headroom))
			if granted > 0 {
				e.left += granted - 1
			} else {
				e.refused = now.Add(d.RetryAfter)
			}
		}
		l.res.mu.Unlock()
		if granted > 0 {
			return Decision{Allowed: true}, nil
		}
		return d, nil
	}
}

// reserve counts want+debt events for the key in one statement (Allow's) and says how
// many of want fit the limit, how many more would fit after them, and, when none fit,
// when to retry.
func (l *Limiter) reserve(ctx context.Context, r Rule, mac []byte, now time.Time, want, debt int) (int, int, Decision, error) {
	hits, before, err := l.count(ctx, r, mac, now, want+debt)
	if err != nil {
		return 0, 0, Decision{}, err
	}
	start := now.Truncate(r.Window)
	elapsed := now.Sub(start)
	overlap := 1 - float64(elapsed)/float64(r.Window)
	// Counted before this block: the earlier hits, and the refused events in debt.
	prior := float64(hits-want) + float64(before)*overlap
	room := int(math.Floor(float64(r.Limit) - prior))
	granted := min(want, max(0, room))
	// Near the limit the block did not fit: take back what was counted beyond the
	// events admitted (or the one refused, which counts as in Allow), so that it does
	// not hold the key back for the rest of the window. A second round trip, but only
	// where the key meets its limit, and a refusal is then remembered.
	if excess := want - max(granted, 1); excess > 0 {
		if err := l.uncount(ctx, r, mac, start, excess); err != nil {
			return 0, 0, Decision{}, err
		}
		hits -= excess
	}
	if granted == 0 {
		return 0, 0, Decision{RetryAfter: retryAfter(r, hits, before, elapsed)}, nil
	}
	return granted, room - granted, Decision{Allowed: true}, nil
}

// uncount takes back n events this instance counted in the window starting at start.
func (l *Limiter) uncount(ctx context.Context, r Rule, mac []byte, start time.Time, n int) error {
	_, err := l.db.Exec(ctx, `
UPDATE rate_counts SET hits = hits - $4
WHERE bucket = $1 AND key_mac = $2 AND window_start = $3`, r.Name, mac, start, n)
	if err != nil {
		return fmt.Errorf("ratelimit: uncount %s: %w", r.Name, err)
	}
	return nil
}

// evict drops one reservation no request is waiting on. Called with mu held.
func (rs *reservations) evict() {
	for k, e := range rs.byKey {
		if e.inFlight == nil {
			delete(rs.byKey, k)
			return
		}
	}
}
