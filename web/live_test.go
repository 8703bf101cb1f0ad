package web_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/app"
	"github.com/huddle-lti/huddle/web"
)

// secondInstance starts another Huddle on the same database, built by app.New with
// its own services and live hub and listening on a real port, as a second instance
// behind a load balancer would. Like the first, its job queue is not started.
func (e *ltiEnv) secondInstance(t *testing.T, opts ...func(*web.Deps)) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a, err := app.New(ctx, e.pool, testConfig(), app.Options{KeyBits: 1024, Web: func(d *web.Deps) {
		d.Kinds, d.StreamLifetime = testKinds, time.Minute
		for _, o := range opts {
			o(d)
		}
	}})
	require.NoError(t, err)
	t.Cleanup(a.Close)
	go func() { _ = a.Hub.Run(ctx) }()
	select {
	case <-a.Hub.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("second instance's hub never listened")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = a.Web.Serve(ctx, ln, time.Second) }()
	return "http://" + ln.Addr().String()
}

func TestLiveUpdateCrossesInstances(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "discussion_board")
	thread := be.postDiscussion(t, be.learner, be.learnerCSRF, "Who has seen a case like this?")
	other := be.secondInstance(t)

	// The peer's page is served by the second instance; the learner posts through the first.
	lines := be.openStream(t, other)
	post := be.postReply(t, be.learner, be.learnerCSRF, be.activity, thread, "I have, last week in clinic.")
	data := awaitPost(t, lines, post, 5*time.Second)
	require.JSONEq(t, `{"thread":"`+thread+`","post":"`+post+`"}`, data)
	// The page then fetches the post's HTML from its own instance.
	frag, err := http.NewRequestWithContext(t.Context(), http.MethodGet, other+be.activity+"/threads/"+thread+"/posts/"+post, nil)
	require.NoError(t, err)
	for k, v := range be.peer.cookies {
		frag.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	fr, err := http.DefaultClient.Do(frag)
	require.NoError(t, err)
	defer fr.Body.Close()
	require.Equal(t, http.StatusOK, fr.StatusCode)
}

// A stream is one long response: it must outlive the server's write timeout.
func TestLiveStreamOutlivesTheWriteTimeout(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "discussion_board")
	thread := be.postDiscussion(t, be.learner, be.learnerCSRF, "Still there?")
	other := be.secondInstance(t, func(d *web.Deps) { d.WriteTimeout = 300 * time.Millisecond })
	lines := be.openStream(t, other)
	time.Sleep(time.Second) // three write timeouts pass with the stream idle
	post := be.postReply(t, be.learner, be.learnerCSRF, be.activity, thread, "Yes.")
	awaitPost(t, lines, post, 5*time.Second)
}

// openStream opens the peer's live stream on the instance at base and returns its
// lines, once the stream has sent its first one.
func (be *boardEnv) openStream(t *testing.T, base string) <-chan string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+be.activity+"/events", nil)
	require.NoError(t, err)
	for k, v := range be.peer.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	return streamLines(t, resp.Body)
}

// streamLines reads a stream's body line by line, once the stream has sent its first
// line, the reconnection delay.
func streamLines(t *testing.T, body io.Reader) <-chan string {
	t.Helper()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	require.Equal(t, "retry: 2000", <-lines)
	return lines
}

// awaitPost reads a stream until the event of post arrives and returns its data.
func awaitPost(t *testing.T, lines <-chan string, post string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "stream ended before the event")
			if strings.HasPrefix(l, "data: ") && strings.Contains(l, post) {
				return strings.TrimPrefix(l, "data: ")
			}
		case <-deadline:
			t.Fatal("the stream never announced the post")
		}
	}
}

func TestHeldPostsAreNotAnnounced(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "discussion_board")
	thread := be.postDiscussion(t, be.learner, be.learnerCSRF, "Question for the group")
	sub := be.deps.Live.Subscribe("board:" + strings.TrimPrefix(be.activity, "/activities/"))
	defer sub.Close()
	r := be.edu.post(be.activity+"/board-settings", map[string][]string{"csrf": {be.eduCSRF}, "identity": {"named"},
		"premoderated": {"on"}, "edit_minutes": {"30"}, "posts_per_hour": {"30"}, "grade_threads": {"0"}, "grade_replies": {"0"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = be.peer.post(be.activity+"/threads/"+thread+"/posts", map[string][]string{"csrf": {be.peerCSRF}, "body": {"Held reply"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Contains(t, r.location, "held=1")
	var held string
	require.NoError(t, be.pool.QueryRow(t.Context(), "SELECT id::text FROM posts WHERE status = 'held'").Scan(&held))
	// The educator's reply is visible at once and is announced; the held one never was.
	edu := be.postReply(t, be.edu, be.eduCSRF, be.activity, thread, "Educator reply")
	for {
		select {
		case ev := <-sub.C:
			require.NotContains(t, string(ev.Data), held)
			if strings.Contains(string(ev.Data), edu) {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no event for the visible reply")
		}
	}
}

// A session holds at most six live streams, counted across instances: the seventh is
// refused with a code, and a stream that ends gives its slot back.
func TestLiveStreamsPerSessionAreCappedAcrossInstances(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "discussion_board")
	short := func(d *web.Deps) { d.StreamLifetime = 3 * time.Second }
	one, two := be.secondInstance(t, short), be.secondInstance(t, short)

	// open opens a stream and keeps it open until the test ends; a refused one is read
	// and closed at once.
	type opened struct {
		code   int
		header http.Header
		body   string
	}
	open := func(base string) (opened, error) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+be.activity+"/events", nil)
		if err != nil {
			return opened{}, err
		}
		req.Header.Set("Accept", "application/json")
		for k, v := range be.peer.cookies {
			req.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return opened{}, err
		}
		o := opened{code: resp.StatusCode, header: resp.Header}
		if o.code == http.StatusOK {
			t.Cleanup(func() { _ = resp.Body.Close() })
			return o, nil
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		o.body = string(body)
		return o, err
	}
	for i := range 6 {
		base := one
		if i%2 == 1 {
			base = two
		}
		o, err := open(base)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, o.code, "stream %d", i+1)
	}
	o, err := open(one)
	require.NoError(t, err)
	require.Equal(t, http.StatusTooManyRequests, o.code)
	require.Contains(t, o.body, `"too_many_streams"`)
	require.NotEmpty(t, o.header.Get("Retry-After"))

	// The streams end after their lifetime and release their slots.
	require.Eventually(t, func() bool {
		o, err := open(two)
		return err == nil && o.code == http.StatusOK
	}, 15*time.Second, 100*time.Millisecond, "an ended stream's slot is free again")
}

// The stream takes its connection over and writes its own response head: it must be
// the head fasthttp would have sent, every middleware's headers included, with no
// length (the body ends when the connection does) and nothing a client could take
// for the end of the body.
func TestLiveStreamResponseHead(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "discussion_board")
	thread := be.postDiscussion(t, be.learner, be.learnerCSRF, "Anyone on nights?")
	base := be.secondInstance(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	var cookies strings.Builder
	for k, v := range be.peer.cookies {
		cookies.WriteString(k + "=" + v + "; ")
	}
	_, err = io.WriteString(conn, "GET "+be.activity+"/events HTTP/1.1\r\nHost: huddle.test\r\nAccept: text/event-stream\r\nCookie: "+
		cookies.String()+"\r\n\r\n")
	require.NoError(t, err)
	rd := bufio.NewReader(conn)
	resp, err := http.ReadResponse(rd, nil) //nolint:bodyclose // closed with conn, deferred above
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), "the middleware's headers are sent")
	require.NotEmpty(t, resp.Header.Get("Content-Security-Policy"))
	require.Empty(t, resp.Header.Values("Content-Length"))
	require.Empty(t, resp.TransferEncoding)
	require.True(t, resp.Close, "the body runs until the connection closes")
	require.Equal(t, int64(-1), resp.ContentLength)

	lines := streamLines(t, resp.Body)
	post := be.postReply(t, be.learner, be.learnerCSRF, be.activity, thread, "I am.")
	awaitPost(t, lines, post, 5*time.Second)
}
