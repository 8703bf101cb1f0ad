package web_test

import (
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/loadgen"
	"github.com/huddle-lti/huddle/lti/ltitest"
	"github.com/huddle-lti/huddle/web"
)

// launchConcurrency is the number of browsers launching at once, as in the
// performance target (500 full launches/s at concurrency 32, p99 at most 60 ms).
const launchConcurrency = 32

// BenchmarkFullLaunch measures whole launches against the real PostgreSQL: login
// initiation, the test platform signing an id_token for the nonce, the form_post with
// its validation, the user/course/membership/activity upsert and the session. The
// platform's RS256 signing runs in this process too; platform-sign measures it alone
// so it can be subtracted from ns/op and allocs/op. One course, as when a class opens
// an activity together. Run with -benchmem for allocations per launch.
func BenchmarkFullLaunch(b *testing.B) {
	b.Run("returning-browser", func(b *testing.B) { benchmarkLaunches(b, false) })
	b.Run("first-visit", func(b *testing.B) { benchmarkLaunches(b, true) })
	b.Run("platform-sign", func(b *testing.B) {
		p := ltitest.New(b)
		claims := p.ResourceLinkClaims(learner, course2, "nonce-0123456789abcdef0123456789abcdef")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.SignClaims(claims); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchmarkLaunches runs b.N launches from launchConcurrency browsers. A returning
// browser already holds Huddle's browser cookie (the steady state: login answers 302
// straight to the platform); a first visit starts every launch with empty cookies and
// takes the cookie-check round trip through /lti/login/continue.
func benchmarkLaunches(b *testing.B, firstVisit bool) {
	// Every browser here is one client address: lift the per-address login limit, or
	// a run of more than 600 launches a minute measures 429s.
	e := newLTIEnv(b, func(d *web.Deps) { d.LoginsPerMinute = 1 << 30 })
	browsers := make([]*browser, launchConcurrency)
	members := make([]ltitest.Member, launchConcurrency)
	for i := range browsers {
		n := strconv.Itoa(i + 1)
		members[i] = ltitest.Member{Subject: "bench-" + n, Name: "Bench Learner " + n, Email: "bench" + n + "@example.com", Roles: []string{ltitest.RoleLearner}}
		browsers[i] = e.browser(b)
		// Warm up: the cookie check, the first upsert of each person, the key set fetch.
		r := e.launch(b, browsers[i], members[i], course2)
		require.Equal(b, http.StatusSeeOther, r.code, r.body)
	}

	parallelTimed(b, launchConcurrency, "launches/s", func(i int) (time.Duration, string) {
		br := browsers[i]
		if firstVisit {
			br = e.browser(b)
		}
		t0 := time.Now()
		failure := benchLaunch(e, br, members[i], course2, firstVisit)
		return time.Since(t0), failure
	})
	// The key set is cached: fetched at the first launch, never once per launch.
	require.EqualValues(b, 1, e.platform.JWKSFetches(), "platform key set fetches")
}

// parallelTimed runs b.N calls of one from workers goroutines at once (each with its
// worker's index) and reports their rate in unit and their latency percentiles. one
// returns how long the timed part took, or what went wrong: RunParallel's goroutines
// must not call FailNow.
func parallelTimed(b *testing.B, workers int, unit string, one func(worker int) (time.Duration, string)) {
	var next atomic.Int64
	var mu sync.Mutex
	var latencies []time.Duration
	b.SetParallelism(max(1, workers/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)-1) % workers
		var lat []time.Duration
		for pb.Next() {
			d, failure := one(i)
			if failure != "" {
				b.Error(failure)
				return
			}
			lat = append(lat, d)
		}
		mu.Lock()
		latencies = append(latencies, lat...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
	reportLatencies(b, latencies)
}

// reportLatencies reports the p50 and p99 of latencies.
func reportLatencies(b *testing.B, latencies []time.Duration) {
	slices.Sort(latencies)
	b.ReportMetric(ms(loadgen.Percentile(latencies, 50)), "p50-ms")
	b.ReportMetric(ms(loadgen.Percentile(latencies, 99)), "p99-ms")
}

// benchLaunch is one launch that reports a failure instead of stopping the goroutine:
// RunParallel's goroutines must not call FailNow.
func benchLaunch(e *ltiEnv, br *browser, m ltitest.Member, l ltitest.Link, firstVisit bool) string {
	r := br.post("/lti/login", e.loginForm(m))
	if firstVisit {
		if r.code != http.StatusSeeOther {
			return "first visit: login answered " + strconv.Itoa(r.code) + ", want the cookie check"
		}
		r = br.get(r.location)
	}
	if r.code != http.StatusFound {
		return "login answered " + strconv.Itoa(r.code) + ": " + r.body
	}
	auth, err := url.Parse(r.location)
	if err != nil {
		return err.Error()
	}
	q := auth.Query()
	tok, err := e.platform.SignClaims(e.platform.ResourceLinkClaims(m, l, q.Get("nonce")))
	if err != nil {
		return err.Error()
	}
	r = br.post("/lti/launch", url.Values{"id_token": {tok}, "state": {q.Get("state")}})
	if r.code != http.StatusSeeOther {
		return "launch answered " + strconv.Itoa(r.code) + ": " + r.body
	}
	return ""
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
