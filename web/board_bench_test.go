package web_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/lti/ltitest"
	"github.com/huddle-lti/huddle/web"
)

// benchBoard is a discussion board with n learners signed in, each with a browser.
type benchBoard struct {
	e        *ltiEnv
	activity string
	board    discussion.Board
	browsers []*browser
	csrf     []string
}

func newBenchBoard(b *testing.B, learners int, opts ...func(*web.Deps)) *benchBoard {
	e := newLTIEnv(b, opts...)
	link := course2
	link.Custom = map[string]string{"huddle_kind": discussion.KindDiscussionBoard}
	bb := &benchBoard{e: e}
	csrfRE := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)
	for i := range learners {
		n := strconv.Itoa(i + 1)
		m := ltitest.Member{Subject: "bench-" + n, Name: "Bench Learner " + n, Roles: []string{ltitest.RoleLearner}}
		br := e.browser(b)
		r := e.launch(b, br, m, link)
		require.Equal(b, http.StatusSeeOther, r.code, r.body)
		page := br.get(r.location)
		require.Equal(b, http.StatusOK, page.code, page.body)
		bb.activity = strings.SplitN(r.location, "?", 2)[0]
		bb.browsers = append(bb.browsers, br)
		bb.csrf = append(bb.csrf, csrfRE.FindStringSubmatch(page.body)[1])
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(bb.activity, "/activities/"), 10, 64)
	require.NoError(b, err)
	board, err := e.deps.Boards.Board(b.Context(), course.Activity{ID: id, Kind: discussion.KindDiscussionBoard})
	require.NoError(b, err)
	// Enough for the benchmark's learners to post as fast as they can.
	board.PostsPerHour = 1000
	bb.board = board
	require.NoError(b, e.deps.Boards.SaveSettings(b.Context(), bb.userID(b, 0), board))
	return bb
}

// BenchmarkBoardPage renders a thread of 500 posts (an opening post and 499 replies
// with Markdown, quotes, helpful counts and one level of replies) for a learner. The
// target is p99 at most 30 ms.
func BenchmarkBoardPage(b *testing.B) {
	bb := newBenchBoard(b, 2)
	ctx := b.Context()
	writer := discussion.Viewer{UserID: bb.userID(b, 0)}
	bb.board.PostsPerHour = 1000
	p, err := bb.e.deps.Boards.CreateThread(ctx, bb.board, writer, discussion.Draft{Title: "A long discussion",
		Body: "What is the **first** thing you check in a breathless patient?"})
	require.NoError(b, err)
	var top int64
	for i := range 499 {
		parent := int64(0)
		if i%5 != 0 {
			parent = top
		}
		body := fmt.Sprintf("> quoting an earlier answer\n\nReply %d: check the *airway*, then breathing: rate, saturations, "+
			"and listen to the chest. See [the guideline](https://www.nice.org.uk/) for more.\n\n- one\n- two", i)
		r, err := bb.e.deps.Boards.Reply(ctx, bb.board, discussion.Viewer{UserID: writer.UserID, Moderator: true}, p.ThreadID, parent,
			discussion.Draft{Body: body})
		require.NoError(b, err)
		if parent == 0 {
			top = r.PostID
		}
	}
	path := bb.activity + "/threads/" + strconv.FormatInt(p.ThreadID, 10)
	reader := bb.browsers[1]
	page := reader.get(path)
	require.Equal(b, http.StatusOK, page.code)
	require.Equal(b, 500, strings.Count(page.body, `<article class="post`))

	latencies := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if r := reader.get(path); r.code != http.StatusOK {
			b.Fatalf("thread page answered %d", r.code)
		}
		latencies = append(latencies, time.Since(t0))
	}
	b.StopTimer()
	reportLatencies(b, latencies)
	b.ReportMetric(float64(len(page.body))/1024, "page-KiB")
}

// thread starts a discussion thread and returns its id.
func (bb *benchBoard) thread(b *testing.B) string {
	p, err := bb.e.deps.Boards.CreateThread(b.Context(), bb.board, discussion.Viewer{UserID: bb.userID(b, 0)},
		discussion.Draft{Title: "Hyperkalaemia on nights", Body: "What would you have done?"})
	require.NoError(b, err)
	return strconv.FormatInt(p.ThreadID, 10)
}

func (bb *benchBoard) userID(b *testing.B, i int) int64 {
	var id int64
	require.NoError(b, bb.e.pool.QueryRow(b.Context(), `SELECT id FROM users WHERE subject = $1`,
		"bench-"+strconv.Itoa(i+1)).Scan(&id))
	return id
}

// BenchmarkCreatePost posts replies through HTTP from 32 learners at once: form
// parsing, the patient-identifier guard, Markdown, the transaction with the rate
// limit, the insert and the NOTIFY. The target is at least 1,000 posts/s.
func BenchmarkCreatePost(b *testing.B) {
	const writers = 32
	bb := newBenchBoard(b, writers)
	thread := bb.thread(b)
	target := bb.activity + "/threads/" + thread + "/posts"
	body := "I saw something similar on nights: a woman in her 60s, bed 12, with a potassium of 6.8 after 40 mg " +
		"furosemide was stopped on 3/4. We repeated the ECG at 02:00 and started insulin-dextrose per protocol."

	forms := make([]url.Values, writers)
	for i := range forms {
		forms[i] = url.Values{"csrf": {bb.csrf[i]}, "body": {body}}
	}
	parallelTimed(b, writers, "posts/s", func(i int) (time.Duration, string) {
		t0 := time.Now()
		r := bb.browsers[i].post(target, forms[i])
		if r.code != http.StatusSeeOther {
			return 0, fmt.Sprintf("reply answered %d: %.300s", r.code, r.body)
		}
		return time.Since(t0), ""
	})
}

// BenchmarkLiveSubscribers opens 5,000 Server-Sent Events streams on one instance,
// one for each of 5,000 learners with the board open (a session may hold 6 streams, a
// person 15), then posts: each iteration waits until every stream has the new post's
// event. The target is every subscriber within 1 s with RSS under 300 MiB. The
// streams' clients run in this process too, so rss-MiB (the whole process: test
// harness, server and clients) is an upper bound of Huddle's own; rss-streams-MiB is
// what opening the 5,000 streams added, on both ends.
func BenchmarkLiveSubscribers(b *testing.B) {
	const streams = 5000
	bb := newBenchBoard(b, 2, func(d *web.Deps) {
		d.StreamLifetime = time.Hour
		d.LoginsPerMinute = 1 << 30 // every learner here signs in from one address
	})
	thread := bb.thread(b)
	sessions := bb.learnerSessions(b, streams)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	go func() { _ = bb.e.srv.Serve(ctx, ln, time.Second) }()

	// The clients are as small as an HTTP/1.1 stream reader can be (a socket and a
	// 512-byte buffer each), so that most of the memory measured is the server's.
	request := func(session string) string {
		return "GET " + bb.activity + "/events HTTP/1.1\r\nHost: huddle.test\r\nAccept: text/event-stream\r\nCookie: huddle_session=" +
			session + "\r\n\r\n"
	}
	runtime.GC()
	before := rssMiB()
	type seen struct{ post string }
	events := make(chan seen, streams*2)
	var opened sync.WaitGroup
	var refused atomic.Int64
	var refusal atomic.Value // the status line of a refused stream
	// Opened a hundred at a time, as pages load, not all in the same instant.
	opening := make(chan struct{}, 100)
	opened.Add(streams)
	var conns []net.Conn
	var connsMu sync.Mutex
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range streams {
		opening <- struct{}{}
		go func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Error(err)
				<-opening
				opened.Done()
				return
			}
			connsMu.Lock()
			conns = append(conns, c)
			connsMu.Unlock()
			if _, err := c.Write([]byte(request(sessions[i]))); err != nil {
				b.Error(err)
				<-opening
				opened.Done()
				return
			}
			rd := bufio.NewReaderSize(c, 512)
			first := true
			defer func() {
				if first { // answered, but not with a stream
					refused.Add(1)
					<-opening
					opened.Done()
				}
			}()
			for {
				line, err := rd.ReadString('\n')
				if err != nil {
					return
				}
				if first && strings.HasPrefix(line, "HTTP/1.1 ") && !strings.HasPrefix(line, "HTTP/1.1 200") {
					refusal.Store(line) // and stop: a refusal leaves the connection open
					return
				}
				if first && strings.HasPrefix(line, "retry:") {
					first = false
					<-opening
					opened.Done()
				}
				if strings.HasPrefix(line, "data: {") {
					events <- seen{post: line}
				}
			}
		}()
	}
	opened.Wait()
	if n := refused.Load(); n > 0 {
		b.Fatalf("%d of %d streams were refused (%v)", n, streams, refusal.Load())
	}
	runtime.GC()
	rss := rssMiB()

	var worst, total time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		post := bb.e.postReply(b, bb.browsers[0], bb.csrf[0], bb.activity, thread, "Live reply "+strconv.Itoa(i))
		for got := 0; got < streams; {
			select {
			case ev := <-events:
				if strings.Contains(ev.post, post) {
					got++
				}
			case <-time.After(10 * time.Second):
				b.Fatalf("only %d of %d streams heard post %s", got, streams, post)
			}
		}
		d := time.Since(t0)
		total += d
		worst = max(worst, d)
	}
	b.StopTimer()
	b.ReportMetric(ms(worst), "all-received-max-ms")
	b.ReportMetric(ms(total)/float64(b.N), "all-received-mean-ms")
	b.ReportMetric(rss, "rss-MiB")
	b.ReportMetric(rss-before, "rss-streams-MiB")
	b.ReportMetric(float64(bb.e.deps.Live.(interface{ Subscribers() int }).Subscribers()), "subscribers")
}

// learnerSessions signs n more learners in to the board, launchConcurrency at a time,
// each through the whole launch in a browser of their own, and returns their sessions.
func (bb *benchBoard) learnerSessions(b *testing.B, n int) []string {
	link := course2
	link.Custom = map[string]string{"huddle_kind": discussion.KindDiscussionBoard}
	sessions := make([]string, n)
	failures := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range launchConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				k := strconv.Itoa(i + 1)
				m := ltitest.Member{Subject: "stream-" + k, Name: "Stream Learner " + k, Roles: []string{ltitest.RoleLearner}}
				br := bb.e.browser(b)
				if failures[i] = benchLaunch(bb.e, br, m, link, true); failures[i] == "" {
					sessions[i] = br.cookies["huddle_session"]
				}
			}
		}()
	}
	wg.Wait()
	for _, f := range failures {
		if f != "" {
			b.Fatal(f)
		}
	}
	return sessions
}

// rssMiB is this process's resident set size.
func rssMiB() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}
