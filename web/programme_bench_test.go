package web_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/huddle-lti/huddle/loadgen"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
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
// and take their share of its CPU, so they are fasthttp's, the leanest at hand.
// cpu-us/op is this process's CPU per request (server and clients), pg-cpu-us/op
// that of the PostgreSQL backends serving the test's database; allocs/op include the
// clients'. To split cpu-us/op between server and clients, run with -cpuprofile and
// compare the cumulative samples of fasthttp's (*Server).serveConn plus programme's
// runChecks (the server) with parallelTimed (the clients): on 2026-12-03 the clients
// took about 27% of the process's CPU, the server about 57%, the Go runtime's
// scheduler and collector most of the rest.
func BenchmarkCalendarFeed(b *testing.B) {
	e, feed, etag := benchFeed(b)
	client := &fasthttp.HostClient{Addr: e.serve(b), MaxConns: feedConcurrency}
	var db string
	require.NoError(b, e.pool.QueryRow(b.Context(), `SELECT current_database()`).Scan(&db))
	for _, bc := range []struct {
		name, unit, etag string
		code             int
	}{
		{"304", "304/s", etag, http.StatusNotModified},
		{"full", "feeds/s", "", http.StatusOK},
	} {
		b.Run(bc.name, func(b *testing.B) {
			self0, pg0 := cpuNow(b, db)
			parallelTimed(b, feedConcurrency, bc.unit, func(int) (time.Duration, string) {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				req.SetRequestURI("http://" + client.Addr + feed)
				if bc.etag != "" {
					req.Header.Set("If-None-Match", bc.etag)
				}
				t0 := time.Now()
				if err := client.Do(req, resp); err != nil {
					return 0, err.Error()
				}
				d := time.Since(t0)
				switch {
				case resp.StatusCode() != bc.code:
					return 0, fmt.Sprintf("answered %d, want %d", resp.StatusCode(), bc.code)
				case bc.code == http.StatusOK && len(resp.Body()) < 100_000:
					return 0, fmt.Sprintf("a feed of %d bytes", len(resp.Body()))
				}
				return d, ""
			})
			self1, pg1 := cpuNow(b, db)
			b.ReportMetric(float64((self1-self0).Microseconds())/float64(b.N), "cpu-us/op")
			b.ReportMetric(float64((pg1-pg0).Microseconds())/float64(b.N), "pg-cpu-us/op")
		})
	}
}

// serve answers on a real loopback listener until the benchmark ends, and returns
// its address.
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
	return ln.Addr().String()
}

// cpuNow is the CPU this process, and PostgreSQL's backends for database db, have
// used so far.
func cpuNow(b *testing.B, db string) (self, pg time.Duration) {
	self, err := loadgen.ProcessCPU(os.Getpid())
	require.NoError(b, err)
	pg, _, err = loadgen.BackendCPU(db)
	require.NoError(b, err)
	return self, pg
}
