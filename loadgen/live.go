package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/lti/ltitest"
)

// The product target the live mode measures: 5,000 concurrent subscribers on one
// instance each receive a new post within 1 s, with Huddle's RSS under 300 MiB.
const (
	LiveTargetLatency = time.Second
	LiveTargetRSS     = 300 << 20
)

// MaxLivePosts is the most replies one run may post. The learner posts them all, and
// a board lets a learner post 30 times an hour by default (posts_per_hour); the
// thread the replies go to is the first of the 30.
const MaxLivePosts = 29

// fileReserve is the descriptors kept free besides the streams: the learner's HTTP
// connections, the key set server, the database pool, /proc reads, standard streams.
const fileReserve = 64

// LiveConfig says what a live-update run measures. Target, Platform and Streams are
// required.
type LiveConfig struct {
	// Target is Huddle's base URL; it must be a loopback address.
	Target *url.URL
	// Platform signs the learner's launch; it must be registered with the Huddle at Target.
	Platform *ltitest.Platform
	// Streams is the number of Server-Sent Events streams to open on the board, one
	// for each learner of as many as it takes (Huddle lets a session hold 6 streams
	// and a person 15), who are signed in first.
	Streams int
	// Posts is the number of replies to time, at most MaxLivePosts.
	Posts int
	// PostInterval is the time from one reply being sent to the next (500 ms when zero).
	// A reply still on its way to the streams delays the next one.
	PostInterval time.Duration
	// RequestTimeout bounds each HTTP request and the opening of each stream.
	RequestTimeout time.Duration
	// Wait is how long a reply may take to reach every stream before the run moves on
	// and counts the streams without it as misses (10 s when zero).
	Wait time.Duration
	// Opening is the number of streams being opened at once (100 when zero), so that
	// Huddle's listen backlog is not overrun and opening measures Huddle, not SYN retries.
	Opening int
	// RSS reads Huddle's resident set size in bytes; nil leaves memory out of the report.
	RSS func() (int64, error)
}

// RunLive measures live updates on one discussion board: it launches a learner into
// the board, then cfg.Streams more, opens an event stream with each of their sessions,
// posts cfg.Posts replies as the first learner one after another and times each until
// every stream has it.
// Any stream that cannot be opened fails the run: the figures would be for fewer.
func RunLive(ctx context.Context, cfg LiveConfig) (LiveResult, error) {
	if err := CheckLoopback(cfg.Target); err != nil {
		return LiveResult{}, err
	}
	switch {
	case cfg.Platform == nil:
		return LiveResult{}, errors.New("loadgen: no platform to sign the launch")
	case cfg.Streams < 1:
		return LiveResult{}, errors.New("loadgen: open at least one stream")
	case cfg.Posts < 1 || cfg.Posts > MaxLivePosts:
		return LiveResult{}, fmt.Errorf("loadgen: posts must be between 1 and %d", MaxLivePosts)
	}
	if cfg.PostInterval <= 0 {
		cfg.PostInterval = 500 * time.Millisecond
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 10 * time.Second
	}
	if cfg.Opening < 1 {
		cfg.Opening = 100
	}
	if err := raiseFileLimit(uint64(cfg.Streams) + fileReserve); err != nil {
		return LiveResult{}, err
	}

	learner := newBrowser(Config{Target: cfg.Target, Platform: cfg.Platform, Courses: 1, RequestTimeout: cfg.RequestTimeout}, 0)
	defer learner.client.CloseIdleConnections()
	learner.member = ltitest.Member{Subject: "load-live-learner", Name: "Live Load Learner",
		Email: "load-live@example.com", Roles: []string{ltitest.RoleLearner}}
	// The custom parameter sets the activity up as a board on its first launch, as a
	// Deep Linking placement does; no educator needs to choose its kind.
	learner.link = ltitest.Link{ContextID: "load-live", ContextTitle: "Live load course",
		ResourceLinkID: "load-live", Title: "Live load board", TargetLinkURI: cfg.Target.JoinPath("/lti/launch").String(),
		Custom: map[string]string{course.CustomKind: discussion.KindDiscussionBoard}}
	board, csrf, err := signIn(ctx, learner)
	if err != nil {
		return LiveResult{}, err
	}
	if learner.cookies["huddle_session"] == "" { // web's cookieSession
		return LiveResult{}, errors.New("loadgen: the launch set no huddle_session cookie")
	}
	sessions, err := signInListeners(ctx, cfg, learner.link)
	if err != nil {
		return LiveResult{}, err
	}

	res := LiveResult{Streams: cfg.Streams, Board: board, Wait: cfg.Wait, EndReasons: map[string]int{}}
	rss := newRSSWatch(cfg.RSS)
	res.RSSBefore = rss.read()
	stopSampling := rss.sample(100 * time.Millisecond)
	defer stopSampling()

	arr := newArrivals(cfg.Streams)
	var closing atomic.Bool
	start := time.Now()
	streams, wg, err := openStreams(ctx, cfg, board+"/events", sessions, arr, &closing)
	res.Open = time.Since(start)
	closeAll := func() {
		closing.Store(true)
		for _, s := range streams {
			if s != nil {
				s.conn.Close()
			}
		}
		wg.Wait()
	}
	if err != nil {
		closeAll()
		return res, err
	}
	res.RSSOpen = rss.read()
	res.SelfRSS, _ = ProcessRSS(os.Getpid())

	posted, err := postReplies(ctx, cfg, learner, board, csrf, arr, &res)
	res.RSSAfter = rss.read()
	stopSampling()
	res.RSSPeak, res.RSSErr = rss.peak()
	closeAll()
	if err != nil {
		return res, err
	}
	slices.Sort(res.Latencies)
	for _, s := range streams {
		if !s.hasAll(posted) {
			res.Missed++
		}
		res.Resyncs += s.resyncs
		if s.ended != nil {
			res.Ended++
			res.EndReasons[endReason(s.ended)]++
		}
	}
	return res, nil
}

// signIn launches the learner into the board and reads the CSRF token of its page.
// It returns the board's path ("/activities/12").
func signIn(ctx context.Context, b *browser) (board, csrf string, err error) {
	loc, err := b.launch(ctx)
	if err != nil {
		return "", "", fmt.Errorf("loadgen: launch the learner: %w", err)
	}
	u, err := url.Parse(loc)
	if err != nil || !boardPath.MatchString(u.Path) {
		return "", "", fmt.Errorf("loadgen: the launch went to %q, not an activity page", loc)
	}
	var page bytes.Buffer
	code, _, err := b.send(ctx, http.MethodGet, u.Path, nil, &page)
	if err != nil {
		return "", "", fmt.Errorf("loadgen: open the board: %w", err)
	}
	if code != http.StatusOK {
		return "", "", fmt.Errorf("loadgen: open the board %s: status %d", u.Path, code)
	}
	csrf = csrfToken(page.Bytes())
	if csrf == "" {
		return "", "", fmt.Errorf("loadgen: the board page %s has no csrf-token meta tag", u.Path)
	}
	return u.Path, csrf, nil
}

var (
	boardPath = regexp.MustCompile(`^/activities/[0-9]+$`)
	csrfMeta  = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)"`)
)

// csrfToken finds the token that web/templates/layout.html puts in every page.
func csrfToken(page []byte) string {
	m := csrfMeta.FindSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(string(m[1]))
}

// postReplies starts a thread, waits for its event to reach every stream (a warm-up,
// not timed), then sends the replies and times each. It returns the replies' post ids.
func postReplies(ctx context.Context, cfg LiveConfig, b *browser, board, csrf string, arr *arrivals, res *LiveResult) ([]int64, error) {
	thread, opening, err := post(ctx, b, board+"/threads", url.Values{"csrf": {csrf},
		"title": {"Live update check"}, "body": {"This thread carries the load generator's replies."}})
	if err != nil {
		return nil, fmt.Errorf("loadgen: start the thread: %w", err)
	}
	arr.await(ctx, opening, cfg.Wait)

	var posted []int64
	next := time.Now()
	for i := range cfg.Posts {
		if wait := time.Until(next); wait > 0 {
			select {
			case <-ctx.Done():
				return posted, ctx.Err()
			case <-time.After(wait):
			}
		}
		sent := time.Now()
		next = sent.Add(cfg.PostInterval)
		_, id, err := post(ctx, b, board+"/threads/"+strconv.FormatInt(thread, 10)+"/posts", url.Values{"csrf": {csrf},
			"body": {"Live update check, reply " + strconv.Itoa(i+1) + "."}})
		if err != nil {
			return posted, fmt.Errorf("loadgen: reply %d: %w", i+1, err)
		}
		posted = append(posted, id)
		res.Posts++
		last, all := arr.await(ctx, id, cfg.Wait-time.Since(sent))
		if ctx.Err() != nil {
			return posted, ctx.Err()
		}
		if !all {
			res.Incomplete++
			continue
		}
		res.Latencies = append(res.Latencies, last.Sub(sent))
	}
	return posted, nil
}

// post sends a board form and reads the thread and post ids from Huddle's redirect
// to /activities/N/threads/T?posted=1#post-P.
func post(ctx context.Context, b *browser, path string, form url.Values) (thread, postID int64, err error) {
	code, loc, err := b.do(ctx, http.MethodPost, path, form)
	if err != nil {
		return 0, 0, err
	}
	switch {
	case code == http.StatusTooManyRequests:
		return 0, 0, errors.New("Huddle refused the post: the learner reached the board's posts an hour")
	case code != http.StatusSeeOther:
		return 0, 0, fmt.Errorf("status %d", code)
	}
	return postedIDs(loc)
}

// postedIDs parses the redirect after a post. A held post (premoderation, or the
// patient-identifier guard) announces nothing, so it cannot be timed.
func postedIDs(loc string) (thread, postID int64, err error) {
	u, err := url.Parse(loc)
	if err != nil {
		return 0, 0, fmt.Errorf("redirect %q: %w", loc, err)
	}
	if u.Query().Has("held") {
		return 0, 0, errors.New("Huddle held the post for a moderator, so it was not announced")
	}
	_, t, ok := strings.Cut(u.Path, "/threads/")
	thread, err1 := strconv.ParseInt(t, 10, 64)
	p, found := strings.CutPrefix(u.Fragment, "post-")
	postID, err2 := strconv.ParseInt(p, 10, 64)
	if !ok || !found || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("redirect %q does not name a thread and a post", loc)
	}
	return thread, postID, nil
}

// arrivals tallies, for each post, how many streams have its event and when the
// last of them got it. Events may arrive before the poster has read the post's id
// from the redirect, so tallies start with whichever comes first.
type arrivals struct {
	streams int
	mu      sync.Mutex
	posts   map[int64]*arrival
}

type arrival struct {
	n    int
	last time.Time
	all  chan struct{} // closed when every stream has the post
}

func newArrivals(streams int) *arrivals {
	return &arrivals{streams: streams, posts: map[int64]*arrival{}}
}

func (a *arrivals) of(post int64) *arrival {
	r := a.posts[post]
	if r == nil {
		r = &arrival{all: make(chan struct{})}
		a.posts[post] = r
	}
	return r
}

// note records that one stream got post's event at time at.
func (a *arrivals) note(post int64, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.of(post)
	r.n++
	if at.After(r.last) {
		r.last = at
	}
	if r.n == a.streams {
		close(r.all)
	}
}

// await waits up to wait for every stream to have post, and returns when the last
// one got it and whether all did.
func (a *arrivals) await(ctx context.Context, post int64, wait time.Duration) (time.Time, bool) {
	a.mu.Lock()
	r := a.of(post)
	a.mu.Unlock()
	timer := time.NewTimer(max(wait, 0))
	defer timer.Stop()
	select {
	case <-r.all:
		return r.last, true // written before all was closed
	case <-timer.C:
	case <-ctx.Done():
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return r.last, r.n >= a.streams
}

// stream is one browser tab's event stream, on a connection of its own.
type stream struct {
	conn net.Conn
	// got holds the post ids of the events received, in order; resyncs counts resync
	// events; ended is why the stream ended before the run closed it. All three are
	// written by the stream's reader and read once it has returned.
	got     []int64
	resyncs int
	ended   error
}

func (s *stream) hasAll(posts []int64) bool {
	for _, p := range posts {
		if !slices.Contains(s.got, p) {
			return false
		}
	}
	return true
}

// listenerConcurrency is how many listeners sign in at once, as many as the launch
// load's default connections.
const listenerConcurrency = 32

// signInListeners launches cfg.Streams learners into the board at link, each in a
// browser of their own, and returns their sessions. Any failure fails the run.
func signInListeners(ctx context.Context, cfg LiveConfig, link ltitest.Link) ([]string, error) {
	person := Config{Target: cfg.Target, Platform: cfg.Platform, RequestTimeout: cfg.RequestTimeout}
	var (
		next     atomic.Int64
		mu       sync.Mutex
		sessions = make([]string, 0, cfg.Streams)
	)
	listener := func() *browser {
		i := int(next.Add(1))
		if i > cfg.Streams {
			return nil
		}
		b := newPerson(person, i, []int{0}, false)
		n := strconv.Itoa(i)
		b.member = ltitest.Member{Subject: "load-live-listener-" + n, Name: "Live Load Listener " + n,
			Roles: []string{ltitest.RoleLearner}}
		b.link = link
		return b
	}
	err := untimed(ctx, min(listenerConcurrency, cfg.Streams), listener, func(b *browser, err error) error {
		if err == nil && b.cookies["huddle_session"] == "" {
			err = errors.New("the launch set no huddle_session cookie")
		}
		if err != nil {
			return fmt.Errorf("loadgen: sign in listener %s: %w", b.member.Subject, err)
		}
		mu.Lock()
		sessions = append(sessions, b.cookies["huddle_session"])
		mu.Unlock()
		return nil
	})
	if err == nil {
		err = ctx.Err()
	}
	return sessions, err
}

// openStreams opens a stream for each of sessions, cfg.Opening at a time, each counted
// open once Huddle has sent its first line. Each open stream is then read by a
// goroutine of its own, which the returned WaitGroup waits for.
func openStreams(ctx context.Context, cfg LiveConfig, path string, sessions []string, arr *arrivals, closing *atomic.Bool) ([]*stream, *sync.WaitGroup, error) {
	streams := make([]*stream, cfg.Streams)
	var (
		wg      sync.WaitGroup
		openers sync.WaitGroup
		first   error
		mu      sync.Mutex
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range cfg.Streams {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	dialer := &net.Dialer{Timeout: cfg.RequestTimeout, Control: loopbackOnly}
	request := func(i int) string {
		return "GET " + path + " HTTP/1.1\r\nHost: " + cfg.Target.Host +
			"\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\nCookie: huddle_session=" + sessions[i] + "\r\n\r\n"
	}
	for range min(cfg.Opening, cfg.Streams) {
		openers.Add(1)
		go func() {
			defer openers.Done()
			for i := range next {
				s, lines, err := openStream(ctx, dialer, cfg.Target, request(i), cfg.RequestTimeout)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel() // one failure spoils the figures; stop opening more
					continue
				}
				streams[i] = s
				wg.Add(1)
				go func() {
					defer wg.Done()
					s.read(lines, arr)
					if closing.Load() {
						s.ended = nil // closed by the run, not by Huddle
					}
				}()
			}
		}()
	}
	openers.Wait()
	if first != nil {
		opened := 0
		for _, s := range streams {
			if s != nil {
				opened++
			}
		}
		return streams, &wg, fmt.Errorf("loadgen: opened %d of %d streams, then one failed: %w", opened, cfg.Streams, first)
	}
	if err := ctx.Err(); err != nil {
		return streams, &wg, err
	}
	return streams, &wg, nil
}

// openStream dials Huddle, asks for the event stream and reads the response head
// and the stream's first line. A raw connection and two small buffers keep a
// stream's memory in the load generator to a few KiB, so that thousands fit.
func openStream(ctx context.Context, dialer *net.Dialer, target *url.URL, request string, timeout time.Duration) (*stream, *sseReader, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := dialer.DialContext(ctx, "tcp", hostPort(target))
	if err != nil {
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	fail := func(err error) (*stream, *sseReader, error) {
		conn.Close()
		return nil, nil, err
	}
	// The deadline covers the request, the response head and the first line.
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return fail(err)
	}
	if _, err := io.WriteString(conn, request); err != nil {
		return fail(fmt.Errorf("send: %w", err))
	}
	// The body is the stream itself: it stays open after this returns and ends when
	// the stream's connection is closed, which is how every stream here ends.
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 1024), nil) //nolint:bodyclose // closed with conn
	if err != nil {
		return fail(fmt.Errorf("response: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("status %d", resp.StatusCode))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return fail(fmt.Errorf("content type %q, not text/event-stream", ct))
	}
	// resp.Body undoes the chunked encoding, reading through the buffer above.
	lines := newSSEReader(resp.Body, 512)
	if _, err := lines.line(); err != nil {
		return fail(fmt.Errorf("first line: %w", err))
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return fail(err)
	}
	return &stream{conn: conn}, lines, nil
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// read takes events until the connection ends, noting each post's arrival.
func (s *stream) read(lines *sseReader, arr *arrivals) {
	for {
		ev, err := lines.next()
		at := time.Now()
		if err != nil {
			s.ended = err
			return
		}
		switch ev.Name {
		case "post":
			var p struct {
				Post int64 `json:"post,string"`
			}
			if json.Unmarshal(ev.Data, &p) != nil || p.Post == 0 {
				continue
			}
			s.got = append(s.got, p.Post)
			arr.note(p.Post, at)
		case "resync":
			s.resyncs++
		}
	}
}

func endReason(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}

// sseReader reads the event stream format (HTML Living Standard, "Server-sent
// events", 9.2.6 interpreting an event stream) for the fields Huddle sends.
type sseReader struct {
	r    *bufio.Reader
	long []byte // a line longer than the buffer, put together
	name string
	data []byte
}

func newSSEReader(r io.Reader, size int) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, size)}
}

// sseEvent is a dispatched event, or a retry field (Retry set, nothing else).
type sseEvent struct {
	Name  string
	Data  []byte // valid until the next call of next
	Retry time.Duration
}

// line returns the next line without its end of line; the slice is valid until the
// next read.
func (s *sseReader) line() ([]byte, error) {
	l, err := s.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		s.long = append(s.long[:0], l...)
		for errors.Is(err, bufio.ErrBufferFull) {
			l, err = s.r.ReadSlice('\n')
			s.long = append(s.long, l...)
		}
		l = s.long
	}
	if err != nil {
		return nil, err
	}
	l = bytes.TrimSuffix(l[:len(l)-1], []byte("\r"))
	return l, nil
}

// next returns the next event, or the next retry field.
func (s *sseReader) next() (sseEvent, error) {
	for {
		l, err := s.line()
		if err != nil {
			return sseEvent{}, err
		}
		if len(l) == 0 {
			// A blank line dispatches the event; one without data is dropped.
			name, data := s.name, s.data
			s.name, s.data = "", s.data[:0]
			if len(data) == 0 {
				continue
			}
			if name == "" {
				name = "message"
			}
			return sseEvent{Name: name, Data: bytes.TrimSuffix(data, []byte("\n"))}, nil
		}
		if l[0] == ':' {
			continue // a comment: Huddle's keep-alive
		}
		field, value, _ := bytes.Cut(l, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			s.name = string(value)
		case "data":
			s.data = append(append(s.data, value...), '\n')
		case "retry":
			if ms, err := strconv.Atoi(string(value)); err == nil {
				return sseEvent{Retry: time.Duration(ms) * time.Millisecond}, nil
			}
		}
	}
}

// raiseFileLimit lifts the soft limit on open files to the hard limit when need is
// above it, and says so clearly when even the hard limit is too low.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("loadgen: read the open-file limit: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max > lim.Cur {
		raised := lim
		raised.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			lim = raised
		}
	}
	if lim.Cur < need {
		return fmt.Errorf("loadgen: %d streams need about %d open files, but this process may open only %d (hard limit %d); raise it with ulimit -n or open fewer streams",
			need-fileReserve, need, lim.Cur, lim.Max)
	}
	return nil
}
