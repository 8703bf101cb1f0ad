package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/lti/ltitest"
)

func TestSSEReader(t *testing.T) {
	t.Parallel()
	type got struct {
		name, data string
		retry      time.Duration
	}
	long := strings.Repeat("x", 100)
	for _, tc := range []struct {
		name   string
		stream string
		want   []got
	}{
		{"huddle's stream", "retry: 2000\n\nevent: post\ndata: {\"thread\":\"7\",\"post\":\"9\"}\n\n: keep-alive\n\nevent: resync\ndata: {}\n\n",
			[]got{{retry: 2 * time.Second}, {"post", `{"thread":"7","post":"9"}`, 0}, {"resync", "{}", 0}}},
		{"crlf line ends", "event: post\r\ndata: a\r\n\r\n", []got{{"post", "a", 0}}},
		{"data lines join with newlines", "data: one\ndata: two\n\n", []got{{"message", "one\ntwo", 0}}},
		{"no space after the colon", "event:post\ndata:b\n\n", []got{{"post", "b", 0}}},
		{"an event without data is dropped", "event: post\n\ndata: c\n\n", []got{{"message", "c", 0}}},
		{"a line longer than the buffer", "data: " + long + "\n\n", []got{{"message", long, 0}}},
		{"a bad retry is ignored", "retry: soon\ndata: d\n\n", []got{{"message", "d", 0}}},
		{"an unfinished event is not dispatched", "event: post\ndata: e\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newSSEReader(strings.NewReader(tc.stream), 16)
			var events []got
			for {
				ev, err := r.next()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				events = append(events, got{ev.Name, string(ev.Data), ev.Retry})
			}
			require.Equal(t, tc.want, events)
		})
	}
}

func FuzzSSEReader(f *testing.F) {
	f.Add("retry: 2000\n\nevent: post\ndata: {\"post\":\"1\"}\n\n")
	f.Add("data:\r\n\r\n:\n\n")
	f.Fuzz(func(t *testing.T, stream string) {
		r := newSSEReader(strings.NewReader(stream), 16)
		for range len(stream) + 1 {
			if _, err := r.next(); err != nil {
				return
			}
		}
		t.Fatal("more events than bytes")
	})
}

func TestPostedIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		loc          string
		thread, post int64
		err          string
	}{
		{"/activities/3/threads/81?posted=1#post-82", 81, 82, ""},
		{"/activities/3/threads/81?posted=1&hs=abc#post-82", 81, 82, ""},
		{"/activities/3/threads/81?held=1", 0, 0, "held the post"},
		{"/activities/3/threads/81?posted=1", 0, 0, "does not name"},
		{"/activities/3", 0, 0, "does not name"},
	} {
		t.Run(tc.loc, func(t *testing.T) {
			t.Parallel()
			thread, post, err := postedIDs(tc.loc)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.thread, thread)
			require.Equal(t, tc.post, post)
		})
	}
}

func TestCSRFToken(t *testing.T) {
	t.Parallel()
	page := []byte(`<head><meta charset="utf-8"><meta name="csrf-token" content="ab&#43;c/d="></head>`)
	require.Equal(t, "ab+c/d=", csrfToken(page))
	require.Empty(t, csrfToken([]byte("<head></head>")))
}

func TestParseVmRSS(t *testing.T) {
	t.Parallel()
	status := []byte("Name:\thuddle\nVmPeak:\t  900000 kB\nVmRSS:\t   51200 kB\nRssAnon:\t   40000 kB\n")
	rss, err := parseVmRSS(status)
	require.NoError(t, err)
	require.EqualValues(t, 50<<20, rss)

	_, err = parseVmRSS([]byte("Name:\tkthreadd\n"))
	require.ErrorContains(t, err, "no VmRSS")
	_, err = parseVmRSS([]byte("VmRSS:\t12 MB\n"))
	require.ErrorContains(t, err, "malformed")
}

func TestProcessRSSReadsSelf(t *testing.T) {
	t.Parallel()
	if _, err := ProcessRSS(0); err == nil {
		t.Fatal("pid 0 has no status file")
	}
	rss, err := ProcessRSS(syscall.Getpid())
	if errors.Is(err, syscall.ENOENT) {
		t.Skip("no /proc")
	}
	require.NoError(t, err)
	require.Positive(t, rss)
}

func TestArrivals(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	a := newArrivals(3)
	// An event may come before the poster knows the post's id.
	a.note(10, t0.Add(20*time.Millisecond))
	a.note(10, t0.Add(50*time.Millisecond))
	a.note(11, t0.Add(time.Millisecond))
	a.note(10, t0.Add(30*time.Millisecond))

	last, all := a.await(t.Context(), 10, time.Second)
	require.True(t, all)
	require.Equal(t, t0.Add(50*time.Millisecond), last, "the last stream to get it, not the last to be noted")

	last, all = a.await(t.Context(), 11, 10*time.Millisecond)
	require.False(t, all, "two streams never got post 11")
	require.Equal(t, t0.Add(time.Millisecond), last)

	_, all = a.await(t.Context(), 12, 0)
	require.False(t, all)
}

func TestLiveReport(t *testing.T) {
	t.Parallel()
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	base := LiveResult{
		Streams: 5000, Board: "/activities/12", Open: 2345 * time.Millisecond, Posts: 3,
		Latencies: []time.Duration{ms(40), ms(55), ms(90)}, Wait: 10 * time.Second,
		RSSBefore: 40 << 20, RSSOpen: 140 << 20, RSSAfter: 141 << 20, RSSPeak: 142 << 20, SelfRSS: 90 << 20,
		EndReasons: map[string]int{},
	}
	for _, tc := range []struct {
		name   string
		change func(*LiveResult)
		want   []string
	}{
		{"targets met", func(*LiveResult) {}, []string{
			"streams         5000 open in 2.345s (board /activities/12)",
			"before 40.0 MiB, streams open 140.0 MiB (+100.0 MiB, 20.5 KiB a stream), after the posts 141.0 MiB, peak 142.0 MiB",
			"load gen rss    90.0 MiB",
			"posts           3 replies, 3 reached every stream within 10s",
			"all received    p50 55.0 ms  p99 90.0 ms  max 90.0 ms",
			"misses          0 streams missed a reply; 0 resync events; 0 streams ended by Huddle early",
			"target latency  met: every reply reached all 5000 streams within 1s (max 90.0 ms)",
			"target rss      met: peak 142.0 MiB < 300.0 MiB",
		}},
		{"slow and large", func(r *LiveResult) {
			r.Latencies = []time.Duration{ms(40), ms(1500)}
			r.RSSPeak = 310 << 20
		}, []string{
			"target latency  not met: max 1500.0 ms against 1s",
			"target rss      not met: peak 310.0 MiB, target under 300.0 MiB",
		}},
		{"missed replies", func(r *LiveResult) {
			r.Latencies, r.Incomplete, r.Missed, r.Ended = r.Latencies[:2], 1, 7, 7
			r.EndReasons = map[string]int{"EOF": 7}
		}, []string{
			"posts           3 replies, 2 reached every stream within 10s",
			"misses          7 streams missed a reply; 0 resync events; 7 streams ended by Huddle early",
			"ended early     EOF",
			"target latency  not met: 1 of the replies did not reach every stream within 10s",
		}},
		{"memory unknown", func(r *LiveResult) { r.RSSErr = errors.New("no --huddle-pid given") }, []string{
			"huddle rss      unknown: no --huddle-pid given",
			"target rss      unknown",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := base
			r.Latencies = append([]time.Duration(nil), base.Latencies...)
			tc.change(&r)
			var buf bytes.Buffer
			r.Report(&buf)
			for _, w := range tc.want {
				require.Contains(t, buf.String(), w)
			}
		})
	}
}

func TestRaiseFileLimit(t *testing.T) {
	t.Parallel()
	require.NoError(t, raiseFileLimit(fileReserve+1))
	err := raiseFileLimit(math.MaxInt64)
	require.ErrorContains(t, err, "ulimit -n")
}

// fakeBoard answers the board routes the live mode uses the way Huddle does: the
// activity page with its CSRF token, the event stream, and new threads and replies,
// announced to every open stream. skip, when set, says whether a stream's copy of a
// post's event is left out.
type fakeBoard struct {
	mu      sync.Mutex
	subs    map[int]chan string
	nextSub int
	// perSession counts the streams each session opened: Huddle lets one hold 6.
	perSession map[string]int
	nextID     atomic.Int64
	status     int // of the event stream when not 0
	skip       func(sub int, post int64) bool
}

func (f *fakeBoard) server(t *testing.T, p *ltitest.Platform) *httptest.Server {
	f.subs = map[int]chan string{}
	f.perSession = map[string]int{}
	f.nextID.Store(100)
	mux := fakeLaunches(p)
	signedIn := func(r *http.Request) bool {
		c, err := r.Cookie("huddle_session")
		return err == nil && c.Value != ""
	}
	mux.HandleFunc("GET /activities/1", func(w http.ResponseWriter, r *http.Request) {
		if !signedIn(r) {
			http.Error(w, "signed out", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `<!doctype html><head><meta name="csrf-token" content="tok"></head><body>board</body>`)
	})
	mux.HandleFunc("GET /activities/1/events", func(w http.ResponseWriter, r *http.Request) {
		if !signedIn(r) {
			http.Error(w, "signed out", http.StatusUnauthorized)
			return
		}
		if f.status != 0 {
			http.Error(w, "no", f.status)
			return
		}
		session, _ := r.Cookie("huddle_session")
		f.mu.Lock()
		if f.perSession[session.Value]++; f.perSession[session.Value] > 6 {
			f.mu.Unlock()
			http.Error(w, "too many streams", http.StatusTooManyRequests)
			return
		}
		sub := f.nextSub
		f.nextSub++
		c := make(chan string, 64)
		f.subs[sub] = c
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			delete(f.subs, sub)
			f.mu.Unlock()
		}()
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "retry: 2000\n\n: keep-alive\n\n")
		w.(http.Flusher).Flush()
		for {
			select {
			case ev := <-c:
				fmt.Fprint(w, ev)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	})
	post := func(thread int64, w http.ResponseWriter, r *http.Request) {
		if !signedIn(r) || r.FormValue("csrf") != "tok" || r.FormValue("body") == "" {
			http.Error(w, "csrf", http.StatusForbidden)
			return
		}
		id := f.nextID.Add(1)
		if thread == 0 {
			thread = id
		}
		f.mu.Lock()
		for sub, c := range f.subs {
			if f.skip == nil || !f.skip(sub, id) {
				c <- fmt.Sprintf("event: post\ndata: {\"thread\":\"%d\",\"post\":\"%d\"}\n\n", thread, id)
			}
		}
		f.mu.Unlock()
		http.Redirect(w, r, fmt.Sprintf("/activities/1/threads/%d?posted=1#post-%d", thread, id), http.StatusSeeOther)
	}
	mux.HandleFunc("POST /activities/1/threads", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("title") == "" {
			http.Error(w, "title", http.StatusUnprocessableEntity)
			return
		}
		post(0, w, r)
	})
	mux.HandleFunc("POST /activities/1/threads/{thread}/posts", func(w http.ResponseWriter, r *http.Request) {
		var thread int64
		_, _ = fmt.Sscan(r.PathValue("thread"), &thread)
		post(thread, w, r)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func liveSetup(t *testing.T, f *fakeBoard) LiveConfig {
	t.Helper()
	p := ltitest.Start()
	t.Cleanup(p.Server.Close)
	target, err := url.Parse(f.server(t, p).URL)
	require.NoError(t, err)
	var rss atomic.Int64
	rss.Store(10 << 20)
	return LiveConfig{
		Target: target, Platform: p, Streams: 40, Posts: 3, PostInterval: 5 * time.Millisecond,
		Wait: 2 * time.Second, Opening: 8,
		// Each reading 1 MiB more than the one before.
		RSS: func() (int64, error) { return rss.Add(1 << 20), nil },
	}
}

func TestRunLiveAgainstFakeHuddle(t *testing.T) {
	t.Parallel()
	cfg := liveSetup(t, &fakeBoard{})

	res, err := RunLive(t.Context(), cfg)
	require.NoError(t, err)
	require.Equal(t, "/activities/1", res.Board)
	require.Equal(t, 40, res.Streams)
	require.Equal(t, 3, res.Posts)
	require.Len(t, res.Latencies, 3)
	require.Zero(t, res.Incomplete)
	require.Zero(t, res.Missed)
	require.Zero(t, res.Ended, "streams the run closed itself are not counted as ended early")
	require.NoError(t, res.RSSErr)
	require.Greater(t, res.RSSOpen, res.RSSBefore)
	require.GreaterOrEqual(t, res.RSSPeak, res.RSSAfter)
	require.True(t, res.LatencyMet())

	var buf bytes.Buffer
	res.Report(&buf)
	require.Contains(t, buf.String(), "3 replies, 3 reached every stream")
	require.Contains(t, buf.String(), "target latency  met")
}

func TestRunLiveCountsMisses(t *testing.T) {
	t.Parallel()
	// Post 101 opens the thread; 103 is the second reply. Stream 5 never gets it.
	cfg := liveSetup(t, &fakeBoard{skip: func(sub int, post int64) bool { return sub == 5 && post == 103 }})
	cfg.Wait = 200 * time.Millisecond

	res, err := RunLive(t.Context(), cfg)
	require.NoError(t, err)
	require.Equal(t, 3, res.Posts)
	require.Len(t, res.Latencies, 2)
	require.Equal(t, 1, res.Incomplete)
	require.Equal(t, 1, res.Missed)
	require.False(t, res.LatencyMet())
}

func TestRunLiveFailsWhenAStreamDoesNotOpen(t *testing.T) {
	t.Parallel()
	cfg := liveSetup(t, &fakeBoard{status: http.StatusNotFound})

	_, err := RunLive(t.Context(), cfg)
	require.ErrorContains(t, err, "opened 0 of 40 streams")
	require.ErrorContains(t, err, "status 404")
}

func TestRunLiveRefusesTooManyPosts(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("http://127.0.0.1:1")
	_, err := RunLive(context.Background(), LiveConfig{Target: u, Platform: &ltitest.Platform{}, Streams: 1, Posts: MaxLivePosts + 1})
	require.ErrorContains(t, err, "posts must be between")
}

func TestOpenStreamReadsChunkedHead(t *testing.T) {
	t.Parallel()
	// What fasthttp sends for Huddle's stream: a chunked body, flushed per event.
	raw := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"d\r\nretry: 2000\n\n\r\n" + "2f\r\nevent: post\ndata: {\"thread\":\"4\",\"post\":\"5\"}\n\n\r\n"
	resp, err := http.ReadResponse(bufio.NewReaderSize(strings.NewReader(raw), 64), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	r := newSSEReader(resp.Body, 64)
	l, err := r.line()
	require.NoError(t, err)
	require.Equal(t, "retry: 2000", string(l))
	ev, err := r.next()
	require.NoError(t, err)
	require.Equal(t, "post", ev.Name)
	require.JSONEq(t, `{"thread":"4","post":"5"}`, string(ev.Data))
}
