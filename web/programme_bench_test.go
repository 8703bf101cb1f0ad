package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// benchFeed is a learner's calendar link onto a programme of 200 sessions.
func benchFeed(b *testing.B) (*ltiEnv, string, string) {
	e := newLTIEnv(b)
	csrfOf := func(br *browser, location string) string {
		page := br.get(location)
		require.Equal(b, http.StatusOK, page.code, page.body)
		return regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(page.body)[1]
	}
	edu := e.browser(b)
	r := e.launch(b, edu, educator, programmeLink())
	require.Equal(b, http.StatusSeeOther, r.code, r.body)
	activity := strings.SplitN(r.location, "?", 2)[0]
	eduCSRF := csrfOf(edu, r.location)
	var csv strings.Builder
	csv.WriteString("title,date,start,end,location,teacher,learning_outcomes,grades\n")
	for i := range 200 {
		fmt.Fprintf(&csv, "Session %d,%02d/%02d/2030,09:00,10:30,Seminar room %d,Dr Okafor,Outcome one; outcome two,F1\n",
			i+1, i%28+1, i/28+1, i%5)
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	require.NoError(b, w.WriteField("csrf", eduCSRF))
	f, err := w.CreateFormFile("file", "term.csv")
	require.NoError(b, err)
	_, _ = f.Write([]byte(csv.String()))
	require.NoError(b, w.Close())
	r = edu.send(http.MethodPost, activity+"/programme/import", w.FormDataContentType(), &body)
	require.Equal(b, http.StatusSeeOther, r.code, r.body)

	lb := e.browser(b)
	r = e.launch(b, lb, learner, programmeLink())
	require.Equal(b, http.StatusSeeOther, r.code, r.body)
	made := lb.post(activity+"/programme/calendar", url.Values{"csrf": {csrfOf(lb, r.location)}})
	m := feedURLRE.FindStringSubmatch(made.body)
	require.NotNil(b, m)
	full := e.browser(b).get(m[1])
	require.Equal(b, http.StatusOK, full.code)
	require.Equal(b, 200, strings.Count(full.body, "BEGIN:VEVENT"))
	return e, m[1], full.header.Get("ETag")
}

// feedConcurrency is how many calendar apps poll at once, as in the other web
// benchmarks' loads.
const feedConcurrency = 32

// BenchmarkCalendarFeed is a learner's feed of 200 sessions served over HTTP on a
// real loopback listener at concurrency 32, answered 304 to a calendar that holds
// the current version, and in full to one that sends no validator (issue 16: at
// least 20,000 conditional GETs/s and 2,000 full feeds/s on the 2-core machine).
// Every request checks the secret in PostgreSQL. The clients run in this process
// and take their share of its CPU. cpu-us/op is this process's CPU per request
// (server and clients), pg-cpu-us/op that of the database's backends serving the
// test's database; allocs/op include the clients'.
func BenchmarkCalendarFeed(b *testing.B) {
	e, feed, etag := benchFeed(b)
	base := e.serve(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: feedConcurrency}, Timeout: 10 * time.Second}
	b.Cleanup(client.CloseIdleConnections)
	for _, bc := range []struct {
		name, unit string
		h          http.Header
		code       int
	}{
		{"304", "304/s", http.Header{"If-None-Match": {etag}}, http.StatusNotModified},
		{"full", "feeds/s", nil, http.StatusOK},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cpu := startCPU(b, e)
			parallelTimed(b, feedConcurrency, bc.unit, func(int) (time.Duration, string) {
				t0 := time.Now()
				req, err := http.NewRequest(http.MethodGet, base+feed, nil)
				if err != nil {
					return 0, err.Error()
				}
				for k, v := range bc.h {
					req.Header[k] = v
				}
				resp, err := client.Do(req)
				if err != nil {
					return 0, err.Error()
				}
				n, err := io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				switch {
				case err != nil:
					return 0, err.Error()
				case resp.StatusCode != bc.code:
					return 0, fmt.Sprintf("answered %d, want %d", resp.StatusCode, bc.code)
				case bc.code == http.StatusOK && n < 100_000:
					return 0, fmt.Sprintf("a feed of %d bytes", n)
				}
				return time.Since(t0), ""
			})
			cpu.report(b)
		})
	}
}

// serve answers on a real loopback listener until the benchmark ends.
func (e *ltiEnv) serve(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.srv.Serve(ctx, ln, time.Second)
	}()
	b.Cleanup(func() { stop(); <-done })
	return "http://" + ln.Addr().String()
}

// cpuClock is the CPU this process and the database's backends for this test's
// database had used when a benchmark started.
type cpuClock struct {
	self, pg time.Duration
	pids     []int
}

func startCPU(b *testing.B, e *ltiEnv) *cpuClock {
	c := &cpuClock{self: processCPU()}
	rows, err := e.pool.Query(b.Context(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	require.NoError(b, err)
	c.pids, err = pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(b, err)
	c.pg = backendsCPU(c.pids)
	return c
}

// report adds the CPU per request. Backends the pool opened during the run are not
// counted: the pool is warm before it starts, so there should be none.
func (c *cpuClock) report(b *testing.B) {
	b.ReportMetric(float64((processCPU()-c.self).Microseconds())/float64(b.N), "cpu-us/op")
	if pg := backendsCPU(c.pids); pg > 0 {
		b.ReportMetric(float64((pg-c.pg).Microseconds())/float64(b.N), "pg-cpu-us/op")
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendsCPU reads the user and system time of PostgreSQL backends from /proc (0
// when the database runs elsewhere), in clock ticks of 1/100 s.
func backendsCPU(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command (which may hold spaces) start after its ")".
		f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return total
}
