package fakeclock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/internal/fakeclock"
)

var start = time.Date(2025, 3, 4, 10, 17, 23, 123456000, time.UTC)

func TestClockReadsWhatItIsSetTo(t *testing.T) {
	t.Parallel()
	c := fakeclock.New(start)
	require.Equal(t, start, c.Now())
	require.Equal(t, start, c.Now(), "a plain clock does not move by being read")

	c.Advance(90 * time.Second)
	require.Equal(t, start.Add(90*time.Second), c.Now())
	c.Advance(-time.Hour)
	require.Equal(t, start.Add(90*time.Second-time.Hour), c.Now())

	later := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Set(later)
	require.Equal(t, later, c.Now())
}

func TestTickingClockMovesOnAtEveryReading(t *testing.T) {
	t.Parallel()
	c := fakeclock.NewTicking(start, time.Minute)
	require.Equal(t, start, c.Now())
	require.Equal(t, start.Add(time.Minute), c.Now())
	c.Advance(time.Hour)
	require.Equal(t, start.Add(time.Hour+2*time.Minute), c.Now())
}

// TestTickingClockGivesEveryReaderItsOwnTime reads from many goroutines: with the
// readings serialised, no two are equal and together they cover every step.
func TestTickingClockGivesEveryReaderItsOwnTime(t *testing.T) {
	t.Parallel()
	const readers, reads = 8, 50
	c := fakeclock.NewTicking(start, time.Second)
	var mu sync.Mutex
	seen := map[time.Time]bool{}
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			for range reads {
				now := c.Now()
				mu.Lock()
				seen[now] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, readers*reads)
	require.Equal(t, start.Add(readers*reads*time.Second), c.Now())
}
