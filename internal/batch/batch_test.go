package batch

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Questions that arrive while a batch runs wait and go together in the next, at most
// size at a time, each with its own answer; a lone question goes at once, alone.
func TestQuestionsThatArriveTogetherGoTogether(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	b := New(1, 4, time.Minute, func(_ context.Context, qs []int) ([]int, error) {
		mu.Lock()
		sizes = append(sizes, len(qs))
		first := len(sizes) == 1
		mu.Unlock()
		if first {
			<-release // the first batch holds the turn while the others gather
		}
		out := make([]int, len(qs))
		for i, q := range qs {
			out[i] = q * 10
		}
		return out, nil
	})

	close(release) // alone: at once
	got, err := b.Do(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, 10, got)

	release = make(chan struct{})
	mu.Lock()
	sizes = nil
	mu.Unlock()
	var wg sync.WaitGroup
	answers := make([]int, 10)
	wg.Go(func() { answers[0], _ = b.Do(t.Context(), 0) })
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sizes) == 1 }, 5e9, 1e6)
	for i := 1; i < 10; i++ {
		wg.Go(func() {
			a, err := b.Do(t.Context(), i)
			require.NoError(t, err)
			answers[i] = a
		})
	}
	require.Eventually(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.pending) == 9 }, 5e9, 1e6)
	close(release)
	wg.Wait()
	require.Equal(t, []int{0, 10, 20, 30, 40, 50, 60, 70, 80, 90}, answers)
	require.Equal(t, []int{1, 4, 4, 1}, sizes, "one alone, then the nine that waited, four at a time")
}

// A batch's error is every one of its questions' answer; a question whose caller has
// gone before its batch starts is left out of it.
func TestErrorsAndCallersWhoLeave(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	var seen [][]int
	b := New(1, 8, time.Minute, func(_ context.Context, qs []int) ([]int, error) {
		mu.Lock()
		seen = append(seen, append([]int(nil), qs...))
		first := len(seen) == 1
		mu.Unlock()
		if first {
			<-release
			return nil, errors.New("database down")
		}
		return make([]int, len(qs)-1), nil // one answer short
	})
	var wg sync.WaitGroup
	var firstErr, lastErr error
	wg.Go(func() { _, firstErr = b.Do(t.Context(), 1) })
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 1 }, 5e9, 1e6)
	gone, cancel := context.WithCancel(t.Context())
	leaving := make(chan error)
	go func() { _, err := b.Do(gone, 2); leaving <- err }()
	wg.Go(func() { _, lastErr = b.Do(t.Context(), 3) })
	require.Eventually(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.pending) == 2 }, 5e9, 1e6)
	cancel()
	require.ErrorIs(t, <-leaving, context.Canceled)
	close(release)
	wg.Wait()
	require.EqualError(t, firstErr, "database down")
	require.EqualError(t, lastErr, "batch: 0 answers to 1 questions")
	require.Equal(t, [][]int{{1}, {3}}, seen, "the caller who left was not asked about")
}
