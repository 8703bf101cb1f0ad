package loadgen

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"time"
)

// Result is what a run measured.
type Result struct {
	// Latencies of the successful launches, sorted once the run is over.
	Latencies []time.Duration
	// FirstLaunches counts successful launches that took the cookie-check round trip
	// (the person's browser had no Huddle cookie yet).
	FirstLaunches int64
	// FirstIntoCourse counts successful launches that were the person's first into
	// that course; EducatorLaunches those of educators.
	FirstIntoCourse  int64
	EducatorLaunches int64
	// Drained is how long the job queue took to drain after the last launch.
	Drained time.Duration
	// Errors counts failed launches by kind ("launch: status 400", "login: transport", ...).
	Errors  map[string]int64
	Elapsed time.Duration
}

func (r *Result) finish() { slices.Sort(r.Latencies) }

// Launches is the number of successful launches.
func (r Result) Launches() int { return len(r.Latencies) }

// Failed is the number of failed launches.
func (r Result) Failed() int64 {
	var n int64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// Rate is successful launches per second of the run.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(len(r.Latencies)) / r.Elapsed.Seconds()
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of sorted
// latencies: the smallest value with at least p% of the values at or below it.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Report writes the figures in the form the performance issue asks for.
func (r Result) Report(w io.Writer) {
	fmt.Fprintf(w, "launches        %d ok (%d with the cookie-check round trip), %d failed, in %s\n",
		r.Launches(), r.FirstLaunches, r.Failed(), r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "mix             %d first into their course, %d returning, %d by educators\n",
		r.FirstIntoCourse, int64(r.Launches())-r.FirstIntoCourse, r.EducatorLaunches)
	fmt.Fprintf(w, "throughput      %.1f launches/s\n", r.Rate())
	if r.Drained > 0 {
		fmt.Fprintf(w, "job queue       drained %s after the last launch\n", r.Drained.Round(time.Millisecond))
	}
	if len(r.Latencies) > 0 {
		ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
		fmt.Fprintf(w, "latency         p50 %s  p90 %s  p99 %s  max %s\n",
			ms(Percentile(r.Latencies, 50)), ms(Percentile(r.Latencies, 90)),
			ms(Percentile(r.Latencies, 99)), ms(r.Latencies[len(r.Latencies)-1]))
	}
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		fmt.Fprintf(w, "error           %-40s %d\n", k, r.Errors[k])
	}
}
