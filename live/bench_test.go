package live

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkFanout5000 backs the product target "5,000 concurrent subscribers each
// receive a new post within 1 s": one hub, 5,000 subscribers on one board, each
// read by its own goroutine as an SSE handler would. Each iteration publishes one
// post through the pool and times until the last subscriber has it; p50-ms and
// max-ms summarise those times over the iterations.
func BenchmarkFanout5000(b *testing.B) {
	const subscribers = 5000
	pool := newPool(b)
	h := startHub(b, pool)
	data := []byte(`{"board":1,"post":123456,"author":"Eddie Educator","title":"Case 12: a reflection on handover"}`)

	var remaining atomic.Int64
	done := make(chan struct{}, 1)
	for range subscribers {
		s := h.Subscribe("board:1")
		b.Cleanup(s.Close)
		go func() {
			for ev := range s.C {
				if ev.Resync {
					b.Error("unexpected Resync: a subscriber fell behind")
				}
				if remaining.Add(-1) == 0 {
					done <- struct{}{}
				}
			}
		}()
	}

	var took []time.Duration
	for b.Loop() {
		remaining.Store(subscribers)
		start := time.Now()
		if err := Publish(b.Context(), pool, "board:1", data); err != nil {
			b.Fatal(err)
		}
		select {
		case <-done:
			took = append(took, time.Since(start))
		case <-time.After(wait):
			b.Fatalf("%d of %d subscribers still waiting after %s", remaining.Load(), subscribers, wait)
		}
	}
	slices.Sort(took)
	b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
	b.ReportMetric(ms(took[len(took)-1]), "max-ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
