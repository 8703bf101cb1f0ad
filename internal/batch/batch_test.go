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

// A lingering Batcher's batch that follows another waits for more questions before it
// starts, unless it is full; a lone question never waits, and a linger whose callers
// all left runs nothing and gives up the turn.
func TestALingeringBatchWaitsForMore(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		sizes   []int
		release chan struct{}
	)
	b := New(1, 4, time.Minute, func(_ context.Context, qs []int) ([]int, error) {
		mu.Lock()
		sizes = append(sizes, len(qs))
		hold := release
		release = nil
		mu.Unlock()
		if hold != nil {
			<-hold
		}
		out := make([]int, len(qs))
		for i, q := range qs {
			out[i] = q * 10
		}
		return out, nil
	}).Lingering(time.Hour)
	// A linger ends when the test says, or after five seconds, so that one which
	// should not have begun shows in noLinger instead of hanging the test.
	slept, wake := make(chan time.Duration, 8), make(chan struct{})
	b.sleep = func(d time.Duration) {
		slept <- d
		select {
		case <-wake:
		case <-time.After(5 * time.Second):
		}
	}
	lingered := func() time.Duration {
		t.Helper()
		select {
		case d := <-slept:
			return d
		case <-time.After(5 * time.Second):
			t.Fatal("the batch did not linger")
			return 0
		}
	}
	noLinger := func(msg string) {
		t.Helper()
		select {
		case d := <-slept:
			t.Fatalf("%s: lingered %v", msg, d)
		default:
		}
	}
	pending := func(n int) {
		t.Helper()
		require.Eventually(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.pending) == n }, 5e9, 1e6)
	}
	sizesAre := func(want []int, msg string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, want, sizes, msg)
		sizes = nil
	}
	// burst starts a batch of one that is held until the returned channel is closed.
	burst := func(wg *sync.WaitGroup, answers []int) chan struct{} {
		hold := make(chan struct{})
		mu.Lock()
		release = hold
		mu.Unlock()
		wg.Go(func() { answers[0], _ = b.Do(t.Context(), 0) })
		require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sizes) == 1 }, 5e9, 1e6)
		return hold
	}
	ask := func(wg *sync.WaitGroup, answers []int, i int) {
		wg.Go(func() {
			a, err := b.Do(t.Context(), i)
			require.NoError(t, err)
			answers[i] = a
		})
	}

	got, err := b.Do(t.Context(), 7)
	require.NoError(t, err)
	require.Equal(t, 70, got)
	noLinger("a lone question")
	sizesAre([]int{1}, "alone, at once")

	// Two wait behind a held batch; a third arrives during the linger and joins them.
	var wg sync.WaitGroup
	answers := make([]int, 4)
	hold := burst(&wg, answers)
	ask(&wg, answers, 1)
	ask(&wg, answers, 2)
	pending(2)
	close(hold)
	require.Equal(t, time.Hour, lingered())
	ask(&wg, answers, 3)
	pending(3)
	wake <- struct{}{}
	wg.Wait()
	require.Equal(t, []int{0, 10, 20, 30}, answers)
	sizesAre([]int{1, 3}, "the two that waited and the one that came during the linger, together")

	// A full batch does not linger.
	answers = make([]int, 5)
	hold = burst(&wg, answers)
	for i := 1; i <= 4; i++ {
		ask(&wg, answers, i)
	}
	pending(4)
	close(hold)
	wg.Wait()
	noLinger("a full batch")
	require.Equal(t, []int{0, 10, 20, 30, 40}, answers)
	sizesAre([]int{1, 4}, "the four that waited, at once")

	// The only caller waiting leaves during the linger: nothing runs for them, and
	// the turn is free again.
	answers = make([]int, 1)
	hold = burst(&wg, answers)
	gone, cancel := context.WithCancel(t.Context())
	leaving := make(chan error)
	go func() { _, err := b.Do(gone, 9); leaving <- err }()
	pending(1)
	close(hold)
	lingered()
	cancel()
	require.ErrorIs(t, <-leaving, context.Canceled)
	wake <- struct{}{}
	wg.Wait()
	require.Eventually(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.running == 0 }, 5e9, 1e6)
	got, err = b.Do(t.Context(), 5)
	require.NoError(t, err)
	require.Equal(t, 50, got)
	noLinger("a lone question after the linger")
	sizesAre([]int{1, 1}, "the held one, then the lone one; none for the caller who left")
}
