package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/app"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/web"
)

// newTestServer is Huddle's web server as app.New builds it, on pool (migrated).
func newTestServer(t *testing.T, pool *pgxpool.Pool) *web.Server {
	t.Helper()
	a, err := app.New(t.Context(), pool, testConfig(), app.Options{KeyBits: 1024})
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
	s := newTestServer(t, dbtest.New(t))

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
