package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/app"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/web"
)

// newTestServer is Huddle's web server as app.New builds it, on pool (migrated).
// opts change its dependencies, as app.Options.Web does.
func newTestServer(t *testing.T, pool *pgxpool.Pool, opts ...func(*web.Deps)) *web.Server {
	t.Helper()
	a, err := app.New(t.Context(), pool, testConfig(), app.Options{KeyBits: 1024, Web: func(d *web.Deps) {
		for _, o := range opts {
			o(d)
		}
	}})
	require.NoError(t, err)
	t.Cleanup(a.Close)
	return a.Web
}

func get(t *testing.T, s *web.Server, path string) (int, string) {
	t.Helper()
	resp, err := s.App().Test(httptest.NewRequest(http.MethodGet, path, nil), 5000)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestHealthAndMetrics(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, dbtest.New(t), func(d *web.Deps) { d.PublicMetrics = true })

	code, body := get(t, s, "/healthz")
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"status":"ok","version":"test"}`, body)

	code, _ = get(t, s, "/readyz")
	require.Equal(t, 200, code)

	code, body = get(t, s, "/metrics")
	require.Equal(t, 200, code)
	require.Contains(t, body, `huddle_http_requests_total{method="GET",route="/healthz",status="2xx"} 1`)
	require.Contains(t, body, `huddle_http_request_duration_seconds_bucket{method="GET",route="/readyz"`)
}

func TestErrorsArePagesForPeopleAndJSONForMachines(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, dbtest.New(t))

	code, body := get(t, s, "/no-such-page")
	require.Equal(t, 404, code)
	require.Contains(t, body, "<h1>Page not found</h1>")
	require.Contains(t, body, "not_found")

	req := httptest.NewRequest(http.MethodGet, "/no-such-page", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := s.App().Test(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var problem struct {
		Error struct{ Code, Message string }
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&problem))
	require.Equal(t, "not_found", problem.Error.Code)
	require.NotEmpty(t, problem.Error.Message)
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, dbtest.New(t))
	resp, err := s.App().Test(httptest.NewRequest(http.MethodGet, "/", nil))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.Empty(t, resp.Header.Get("X-Frame-Options"), "Huddle must be frameable by its platform")
	csp := resp.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self'")
	require.NotContains(t, csp, "unsafe-inline")
	require.Contains(t, csp, "frame-ancestors 'none'")
}

// cutProxy forwards TCP to PostgreSQL until cut, then closes every connection it
// holds and drops new ones at once, as a network partition or a dead server would.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go p.serve()
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		// Copying ends with an error whenever the proxy cuts a connection: that is its job.
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

func TestReadyzFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	pc, err := pgxpool.ParseConfig(dbtest.Migrated(t))
	require.NoError(t, err)
	proxy := newCutProxy(t, net.JoinHostPort(pc.ConnConfig.Host, strconv.Itoa(int(pc.ConnConfig.Port))))
	host, port, err := net.SplitHostPort(proxy.ln.Addr().String())
	require.NoError(t, err)
	pc.ConnConfig.Host = host
	p, _ := strconv.Atoi(port)
	pc.ConnConfig.Port = uint16(p)
	pc.ConnConfig.ConnectTimeout = time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s := newTestServer(t, pool)

	code, _ := get(t, s, "/readyz")
	require.Equal(t, 200, code)

	proxy.setCut(true)
	code, body := get(t, s, "/readyz")
	require.Equal(t, 503, code)
	require.Contains(t, body, "database_unreachable")

	proxy.setCut(false)
	require.Eventually(t, func() bool {
		code, _ := get(t, s, "/readyz")
		return code == 200
	}, 10*time.Second, 50*time.Millisecond)
}

func TestReadyzWhenMigrationsPending(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	s := newTestServer(t, pool)
	// An instance of a newer build started against this database: its newest
	// migration is not applied yet.
	_, err := pool.Exec(t.Context(), `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`)
	require.NoError(t, err)
	code, body := get(t, s, "/readyz")
	require.Equal(t, 503, code)
	require.Contains(t, body, "migrations_pending")
}

func TestGracefulShutdownFinishesInFlightRequest(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, dbtest.New(t))
	started, finish := make(chan struct{}), make(chan struct{})
	release := sync.OnceFunc(func() { close(finish) })
	t.Cleanup(release) // a failed test must not leave the handler waiting
	s.App().Get("/slow", func(c *fiber.Ctx) error {
		close(started)
		<-finish
		return c.SendString("finished")
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, 5*time.Second) }()

	url := "http://" + ln.Addr().String()
	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(url + "/slow")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, string(b), err}
	}()

	<-started
	stop() // as SIGTERM would
	// The request finishes only once shutdown has begun, which closes the listener.
	require.Eventually(t, func() bool {
		conn, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err == nil {
			conn.Close()
		}
		return err != nil
	}, 5*time.Second, 10*time.Millisecond)
	release()
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, 200, r.code)
	require.Equal(t, "finished", r.body)
	require.NoError(t, <-served)

	_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	require.Error(t, err, "no new connections after shutdown")
}

func TestPagesAskThePlatformToFitTheFrame(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, dbtest.New(t))
	_, body := get(t, s, "/")
	require.Contains(t, body, `<script src="/static/huddle.js" defer></script>`)
	code, js := get(t, s, "/static/huddle.js")
	require.Equal(t, 200, code)
	require.Contains(t, js, "lti.frameResize")
}

// A Deps with a service missing stops start-up and names what is missing, rather than
// failing on the first request that needs it.
func TestNewRefusesMissingDependencies(t *testing.T) {
	t.Parallel()
	_, err := web.New(web.Deps{})
	require.ErrorContains(t, err, "missing dependencies: Database, Schema, BaseURL, LTI, Launcher")

	e := newLTIEnv(t)
	d := e.deps
	d.Moodle = nil
	_, err = web.New(d)
	require.EqualError(t, err, "web: missing dependencies: Moodle")
}

// HSTS follows the configured base URL, not what a client claims: behind a proxy that
// ends TLS every request arrives as plain http, and any client can send
// X-Forwarded-Proto.
func TestHSTSFollowsTheBaseURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, base string
		header     http.Header
		want       string
	}{
		{"https base, plain http request", "https://huddle.test", nil, "max-age=31536000"},
		{"https base, forwarded as http", "https://huddle.test", http.Header{"X-Forwarded-Proto": {"http"}}, "max-age=31536000"},
		{"http base (development)", "http://localhost:8080", nil, ""},
		{"http base, a client claims https", "http://localhost:8080", http.Header{"X-Forwarded-Proto": {"https"}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base, err := url.Parse(tc.base)
			require.NoError(t, err)
			s := newTestServer(t, dbtest.New(t), func(d *web.Deps) { d.BaseURL = base })
			// Every response: a page, a probe, an error.
			for _, path := range []string{"/", "/healthz", "/no-such-page"} {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				for k, vs := range tc.header {
					req.Header[k] = vs
				}
				resp, err := s.App().Test(req)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, tc.want, resp.Header.Get("Strict-Transport-Security"), path)
			}
		})
	}
}

// X-Forwarded-For and X-Forwarded-Proto count only when the connection comes from a
// configured proxy; from anyone else they are a client's claim.
func TestForwardedHeadersOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name              string
		trusted           []string
		forwardedFor      string
		wantIP, wantProto string
	}{
		{"no proxies configured", nil, "203.0.113.9", "127.0.0.1", "http"},
		{"from a peer that is not a proxy", []string{"10.0.0.1", "192.168.0.0/16"}, "203.0.113.9", "127.0.0.1", "http"},
		{"from the proxy", []string{"127.0.0.1"}, "203.0.113.9", "203.0.113.9", "https"},
		{"from a proxy in a range", []string{"127.0.0.0/8"}, "203.0.113.9", "203.0.113.9", "https"},
		// The proxy appends the address it saw; what the client sent before it is a claim.
		{"a client's own X-Forwarded-For before the proxy's", []string{"127.0.0.1"}, "198.51.100.7, 203.0.113.9", "203.0.113.9", "https"},
		{"through a chain of proxies", []string{"127.0.0.1", "10.0.0.0/8"}, "198.51.100.7, 203.0.113.9, 10.1.2.3", "203.0.113.9", "https"},
		{"the proxy forwards garbage", []string{"127.0.0.1"}, "not-an-address", "127.0.0.1", "https"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t, dbtest.New(t), func(d *web.Deps) { d.TrustedProxies = tc.trusted })
			s.App().Get("/test-client", func(c *fiber.Ctx) error {
				return c.JSON(fiber.Map{"ip": s.ClientIP(c), "proto": c.Protocol()})
			})
			base := serve(t, s)
			client := &http.Client{}
			t.Cleanup(client.CloseIdleConnections)
			code, body := fetch(t, client, http.MethodGet, base+"/test-client",
				http.Header{"X-Forwarded-For": {tc.forwardedFor}, "X-Forwarded-Proto": {"https"}}, nil)
			require.Equal(t, http.StatusOK, code, body)
			var got struct{ IP, Proto string }
			require.NoError(t, json.Unmarshal([]byte(body), &got))
			require.Equal(t, tc.wantIP, got.IP)
			require.Equal(t, tc.wantProto, got.Proto)
		})
	}
}

func TestNewRefusesBadTrustedProxies(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	for _, bad := range []string{"proxy.internal", "10.0.0.0/33", "10.0.0.1 ", ""} {
		d := e.deps
		d.TrustedProxies = []string{"10.0.0.1", bad}
		_, err := web.New(d)
		require.ErrorContains(t, err, "trusted prox", "%q", bad)
	}
}

// syncBuffer is a log destination the server's goroutines may write to at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Paths carry secrets (the hand-off ticket) and queries carry registration tokens: the
// logs name the route, never the path or the query.
func TestLogsNameTheRouteNotThePath(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	e := newLTIEnv(t, func(d *web.Deps) {
		d.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	e.srv.App().Get("/test-fail/:secret", func(c *fiber.Ctx) error {
		return fmt.Errorf("web: test: %w", errors.New("boom"))
	})
	frame := e.browser(t)
	r := e.launch(t, frame, learner, course2)
	page := frame.get(r.location)
	csrf := extractValueMeta(t, page.body)
	res := frame.post("/handoff", url.Values{"path": {r.location}, "csrf": {csrf}})
	require.Equal(t, http.StatusOK, res.code, res.body)
	var ticket struct{ URL string }
	require.NoError(t, json.Unmarshal([]byte(res.body), &ticket))
	token := strings.TrimPrefix(ticket.URL, "/handoff/")
	require.NotEmpty(t, token)

	window := e.browser(t)
	require.Equal(t, http.StatusOK, window.get(ticket.URL).code, "the confirmation page")
	require.Equal(t, http.StatusSeeOther, window.postWith(fromHuddle, ticket.URL, url.Values{}).code)
	require.Equal(t, http.StatusBadRequest, window.get("/handoff/unknown-ticket-secret").code)
	require.Equal(t, http.StatusInternalServerError, window.get("/test-fail/path-secret-500").code)
	require.Equal(t, http.StatusNotFound, window.get("/no-such/unmatched-path-secret").code)
	window.get("/lti/register?openid_configuration=https%3A%2F%2Fmoodle.example%2Fconfig&registration_token=query-secret")

	out := logs.String()
	require.Contains(t, out, "route=/handoff/:token", "the request line is logged")
	require.Contains(t, out, "route=/test-fail/:secret")
	require.Contains(t, out, "route=unmatched")
	require.Contains(t, out, `msg="request failed"`, "a 500 is logged")
	for _, secret := range []string{token, "unknown-ticket-secret", "path-secret-500", "unmatched-path-secret", "query-secret"} {
		require.NotContains(t, out, secret)
	}
}

// An operator who filters the log to warnings must see an outage: a request answered
// with a 5xx is logged at ERROR, a 503 (load shed, database busy) at WARN, the rest at
// INFO (issue 17, item 14).
func TestRequestLinesOfServerErrorsAreWarningsOrWorse(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	e := newLTIEnv(t, func(d *web.Deps) {
		d.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	e.srv.App().Get("/test-status/fault", func(c *fiber.Ctx) error {
		return fmt.Errorf("web: test: %w", errors.New("boom"))
	})
	e.srv.App().Get("/test-status/busy", func(c *fiber.Ctx) error {
		return c.Status(fiber.StatusServiceUnavailable).SendString("busy")
	})
	e.srv.App().Get("/test-status/fine", func(c *fiber.Ctx) error { return c.SendString("ok") })
	window := e.browser(t)
	cases := []struct {
		route  string
		status int
		level  string
	}{
		{"/test-status/fault", http.StatusInternalServerError, "ERROR"},
		{"/test-status/busy", http.StatusServiceUnavailable, "WARN"},
		{"/test-status/fine", http.StatusOK, "INFO"},
		{"/no-such-page", http.StatusNotFound, "INFO"},
	}
	for _, tc := range cases {
		require.Equal(t, tc.status, window.get(tc.route).code, tc.route)
	}
	levels := map[float64]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		if rec["msg"] == "request" {
			levels[rec["status"].(float64)] = rec["level"].(string)
		}
	}
	for _, tc := range cases {
		assert.Equal(t, tc.level, levels[float64(tc.status)], "the request line of a %d", tc.status)
	}
}
