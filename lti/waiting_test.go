package lti

import (
	"context"
	"sync"
	"time"
)

// WaitingContext tells a test, once, that its caller has begun to wait on it. The key
// set and the service tokens ask for Done only once they have missed their cache, to
// wait for a fetch (a service token fetch through its caller's context, a key set
// fetch's waiters behind it), so a test can hold a fetch open until every caller is
// waiting, however slowly they got there. Exported for this package's external tests.
type WaitingContext struct {
	context.Context
	once    sync.Once
	waiting chan<- struct{}
}

// NewWaitingContext is ctx reporting on waiting the first time Done is asked for.
func NewWaitingContext(ctx context.Context, waiting chan<- struct{}) *WaitingContext {
	return &WaitingContext{Context: ctx, waiting: waiting}
}

func (c *WaitingContext) Done() <-chan struct{} {
	c.once.Do(func() { c.waiting <- struct{}{} })
	return c.Context.Done()
}

// AwaitWaiting receives n reports from waiting, or reports how many came in 10 s.
func AwaitWaiting(waiting <-chan struct{}, n int) (got int, ok bool) {
	deadline := time.After(10 * time.Second)
	for got = range n {
		select {
		case <-waiting:
		case <-deadline:
			return got, false
		}
	}
	return n, true
}
