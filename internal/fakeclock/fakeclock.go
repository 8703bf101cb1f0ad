// Package fakeclock is a settable, concurrency-safe clock for tests. A service takes
// (*Clock).Now where it would take time.Now, and the test sets the time or moves it on
// while the service's goroutines read it.
package fakeclock

import (
	"sync"
	"time"
)

// Clock reads the time it was given until a test changes it. A ticking clock (from
// NewTicking) also moves itself on at every reading.
type Clock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

// New returns a clock that reads t until Set or Advance changes it.
func New(t time.Time) *Clock {
	return &Clock{t: t}
}

// NewTicking returns a clock whose first reading is start and whose every later
// reading is step after the one before, for tests where "newest first" must follow the
// order things happen in, however fast they happen.
func NewTicking(start time.Time, step time.Duration) *Clock {
	return &Clock{t: start, step: step}
}

// Now is the clock's time. It has the signature of time.Now, so a method value
// (clock.Now) can be injected where a service takes a func() time.Time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.t
	c.t = c.t.Add(c.step)
	return now
}

// Set makes the clock read t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock on by d (back, if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
