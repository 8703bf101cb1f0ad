package loadgen

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// LiveResult is what a live-update run measured.
type LiveResult struct {
	Streams int
	// Board is the path of the discussion board the streams watched.
	Board string
	// Open is the time from the first stream's dial until every stream had sent its
	// first line.
	Open time.Duration
	// Posts is the number of replies sent; Latencies holds, for each reply that reached
	// every stream within Wait, the time from sending its POST until the last stream
	// had its event, sorted. Incomplete counts the replies that did not.
	Posts      int
	Latencies  []time.Duration
	Incomplete int
	Wait       time.Duration
	// Missed counts streams that lacked at least one reply's event at the end.
	Missed int
	// Resyncs counts resync events (Huddle dropped events for a stream that fell behind).
	Resyncs int
	// Ended counts streams that Huddle closed before the run was over; EndReasons
	// groups why ("EOF", "read: connection reset by peer").
	Ended      int
	EndReasons map[string]int
	// Huddle's RSS in bytes before the streams were opened, with them open, after the
	// replies, and the highest seen by sampling every 100 ms; RSSErr says why they are
	// missing. SelfRSS is the load generator's own, with the streams open.
	RSSBefore, RSSOpen, RSSAfter, RSSPeak int64
	RSSErr                                error
	SelfRSS                               int64
}

// LatencyMet reports whether every reply reached every stream within LiveTargetLatency.
// With fewer than 100 replies the p99 is the maximum, so the maximum is what counts.
func (r LiveResult) LatencyMet() bool {
	return r.Posts > 0 && r.Incomplete == 0 && r.Missed == 0 && len(r.Latencies) > 0 &&
		r.Latencies[len(r.Latencies)-1] <= LiveTargetLatency
}

// RSSMet reports whether Huddle's peak RSS stayed under LiveTargetRSS, and whether
// that is known at all.
func (r LiveResult) RSSMet() (met, known bool) {
	if r.RSSErr != nil {
		return false, false
	}
	return r.RSSPeak < LiveTargetRSS, true
}

// Report writes the figures in the form the live-update target is stated in.
func (r LiveResult) Report(w io.Writer) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	fmt.Fprintf(w, "streams         %d open in %s (board %s)\n", r.Streams, r.Open.Round(time.Millisecond), r.Board)
	if r.RSSErr != nil {
		fmt.Fprintf(w, "huddle rss      unknown: %v\n", r.RSSErr)
	} else {
		grew := r.RSSOpen - r.RSSBefore
		fmt.Fprintf(w, "huddle rss      before %s, streams open %s (%+.1f MiB, %.1f KiB a stream), after the posts %s, peak %s\n",
			mib(r.RSSBefore), mib(r.RSSOpen), float64(grew)/(1<<20), float64(grew)/1024/float64(max(r.Streams, 1)),
			mib(r.RSSAfter), mib(r.RSSPeak))
	}
	if r.SelfRSS > 0 {
		fmt.Fprintf(w, "load gen rss    %s with the streams open\n", mib(r.SelfRSS))
	}
	fmt.Fprintf(w, "posts           %d replies, %d reached every stream within %s\n", r.Posts, len(r.Latencies), r.Wait)
	if n := len(r.Latencies); n > 0 {
		fmt.Fprintf(w, "all received    p50 %s  p99 %s  max %s (from sending the POST until the last stream had the event)\n",
			ms(Percentile(r.Latencies, 50)), ms(Percentile(r.Latencies, 99)), ms(r.Latencies[n-1]))
	}
	fmt.Fprintf(w, "misses          %d streams missed a reply; %d resync events; %d streams ended by Huddle early\n",
		r.Missed, r.Resyncs, r.Ended)
	for _, k := range slices.Sorted(maps.Keys(r.EndReasons)) {
		fmt.Fprintf(w, "ended early     %-40s %d\n", k, r.EndReasons[k])
	}
	switch {
	case r.LatencyMet():
		fmt.Fprintf(w, "target latency  met: every reply reached all %d streams within %s (max %s)\n",
			r.Streams, LiveTargetLatency, ms(r.Latencies[len(r.Latencies)-1]))
	case len(r.Latencies) == 0:
		fmt.Fprintf(w, "target latency  not met: no reply reached every stream\n")
	case r.Incomplete > 0 || r.Missed > 0:
		fmt.Fprintf(w, "target latency  not met: %d of the replies did not reach every stream within %s\n", max(r.Incomplete, 1), r.Wait)
	default:
		fmt.Fprintf(w, "target latency  not met: max %s against %s\n", ms(r.Latencies[len(r.Latencies)-1]), LiveTargetLatency)
	}
	switch met, known := r.RSSMet(); {
	case !known:
		fmt.Fprintf(w, "target rss      unknown\n")
	case met:
		fmt.Fprintf(w, "target rss      met: peak %s < %s\n", mib(r.RSSPeak), mib(LiveTargetRSS))
	default:
		fmt.Fprintf(w, "target rss      not met: peak %s, target under %s\n", mib(r.RSSPeak), mib(LiveTargetRSS))
	}
}
