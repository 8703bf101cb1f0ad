package web_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/web"
)

// serve runs s on a real listener until the test ends and returns its base URL. Only
// a real listener reuses fasthttp's request buffers the way production does (keep-alive
// connections, pooled contexts); App().Test builds a fresh request each time.
func serve(t *testing.T, s *web.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, 5*time.Second) }()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-served)
	})
	return "http://" + ln.Addr().String()
}

// fetch sends one request and returns its status and body.
func fetch(t *testing.T, client *http.Client, method, target string, header http.Header, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, target, body)
	require.NoError(t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

var (
	methodLabelRE = regexp.MustCompile(`method="([^"]*)"`)
	routeLabelRE  = regexp.MustCompile(`route="([^"]*)"`)
)

// Label values must not alias Fiber's request buffers: a label kept from a POST turned
// into "GETT" once the buffer served a GET, and the duplicate series made /metrics a
// permanent 500.
func TestMetricsSurviveMixedTraffic(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t, func(d *web.Deps) { d.PublicMetrics = true })
	base := serve(t, e.srv)

	form := func() io.Reader { return strings.NewReader(url.Values{"iss": {"https://unknown.example"}}.Encode()) }
	formHeader := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	type request struct {
		method, path string
		header       http.Header
		body         func() io.Reader
	}
	requests := []request{
		{http.MethodGet, "/healthz", nil, nil},
		{http.MethodHead, "/healthz", nil, nil},
		{http.MethodPost, "/healthz", nil, nil},
		{http.MethodGet, "/", nil, nil},
		{http.MethodHead, "/", nil, nil},
		{http.MethodPost, "/lti/login", formHeader, form},
		{http.MethodGet, "/lti/login?iss=https%3A%2F%2Funknown.example", nil, nil},
		{http.MethodPost, "/lti/launch", formHeader, form},
		{http.MethodGet, "/lti/launch", nil, nil},
		{http.MethodGet, "/no-such-page", nil, nil},
		{http.MethodPost, "/no-such-page", nil, nil},
		{http.MethodDelete, "/no-such-page", nil, nil},
		{http.MethodPut, "/activities/1", nil, nil},
		{http.MethodOptions, "/", nil, nil},
		{http.MethodPatch, "/healthz", nil, nil},
	}
	sent := map[string]bool{}
	for _, r := range requests {
		sent[r.method] = true
	}
	routes := map[string]bool{"unmatched": true}
	for _, r := range e.srv.Routes() {
		routes[r.Path] = true
	}

	// A few keep-alive connections carry every kind of request, so each connection's
	// buffers see every method in turn.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, MaxConnsPerHost: 4}}
	t.Cleanup(client.CloseIdleConnections)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 40 {
				r := requests[(w+i)%len(requests)]
				var body io.Reader
				if r.body != nil {
					body = r.body()
				}
				req, err := http.NewRequest(r.method, base+r.path, body)
				if err != nil {
					t.Error(err)
					return
				}
				for k, vs := range r.header {
					req.Header[k] = vs
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()

	code, body := fetch(t, client, http.MethodGet, base+"/metrics", nil, nil)
	require.Equal(t, http.StatusOK, code, body)
	_, err := e.deps.Registry.Gather()
	require.NoError(t, err, "the registry must gather without duplicate or inconsistent series")
	for _, m := range methodLabelRE.FindAllStringSubmatch(body, -1) {
		require.True(t, sent[m[1]], "method label %q was never sent", m[1])
	}
	for _, m := range routeLabelRE.FindAllStringSubmatch(body, -1) {
		require.True(t, routes[m[1]], "route label %q is not a route", m[1])
	}
	require.Contains(t, body, `huddle_http_requests_total{method="POST",route="/lti/login",status="4xx"}`)
	require.Contains(t, body, `huddle_http_requests_total{method="GET",route="/healthz",status="2xx"}`)
	require.Contains(t, body, `huddle_http_requests_total{method="HEAD",route="unmatched",status="4xx"}`)
}

// A string a handler keeps after it returns (a cache key, a struct the handler hands
// on) must keep its value when Fiber reuses the request's buffers for the next request.
// lti.Store caches platforms by the issuer and client_id of the login form, and no
// handler copies what it reads: Immutable (server.go) does.
func TestRequestStringsOutliveTheRequest(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	type kept struct{ method, param, query, form, header, cookie string }
	var (
		mu   sync.Mutex
		keep []kept
	)
	e.srv.App().Add(http.MethodPost, "/test-keep/:param", func(c *fiber.Ctx) error {
		mu.Lock()
		defer mu.Unlock()
		keep = append(keep, kept{c.Method(), c.Params("param"), c.Query("q"), c.FormValue("f"), c.Get("X-Kept"), c.Cookies("kept")})
		return c.SendStatus(http.StatusNoContent)
	})
	e.srv.App().Add(http.MethodPut, "/test-keep/:param", func(c *fiber.Ctx) error {
		mu.Lock()
		defer mu.Unlock()
		keep = append(keep, kept{c.Method(), c.Params("param"), c.Query("q"), c.FormValue("f"), c.Get("X-Kept"), c.Cookies("kept")})
		return c.SendStatus(http.StatusNoContent)
	})
	base := serve(t, e.srv)

	// One connection, so every request reuses the same buffers.
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	t.Cleanup(client.CloseIdleConnections)
	var want []kept
	for i := range 6 {
		method := []string{http.MethodPost, http.MethodPut}[i%2]
		k := kept{method, fmt.Sprintf("param%d", i), fmt.Sprintf("query%d", i), fmt.Sprintf("form%d", i), fmt.Sprintf("header%d", i), fmt.Sprintf("cookie%d", i)}
		want = append(want, k)
		code, body := fetch(t, client, method, base+"/test-keep/"+k.param+"?q="+k.query,
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Kept": {k.header}, "Cookie": {"kept=" + k.cookie}},
			strings.NewReader("f="+k.form))
		require.Equal(t, http.StatusNoContent, code, body)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, want, keep)
}

// /metrics on the public port answers only in development or to the metrics token;
// MetricsHandler serves the same registry on a private listener.
func TestMetricsEndpointAccess(t *testing.T) {
	t.Parallel()
	const token = "metrics-token-for-tests"
	cases := []struct {
		name          string
		public        bool
		token, header string
		want          int
	}{
		{"development", true, "", "", http.StatusOK},
		{"development with a token set", true, token, "", http.StatusOK},
		{"production without a token", false, "", "", http.StatusNotFound},
		{"production without a token, empty bearer", false, "", "Bearer ", http.StatusNotFound},
		{"production, no credentials", false, token, "", http.StatusNotFound},
		{"production, wrong token", false, token, "Bearer not-the-token", http.StatusNotFound},
		{"production, token of another length", false, token, "Bearer " + token + "x", http.StatusNotFound},
		{"production, token without Bearer", false, token, token, http.StatusNotFound},
		{"production, basic auth", false, token, "Basic " + token, http.StatusNotFound},
		{"production, the token", false, token, "Bearer " + token, http.StatusOK},
		{"production, the token, lower-case scheme", false, token, "bearer " + token, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newLTIEnv(t, func(d *web.Deps) { d.PublicMetrics, d.MetricsToken = tc.public, tc.token })
			b := e.browser(t)
			b.get("/healthz")
			if tc.header != "" {
				b.header = http.Header{"Authorization": {tc.header}}
			}
			r := b.get("/metrics")
			require.Equal(t, tc.want, r.code, r.body)
			if tc.want == http.StatusOK {
				require.Contains(t, r.body, `huddle_http_requests_total{method="GET",route="/healthz",status="2xx"} 1`)
			} else {
				require.NotContains(t, r.body, "huddle_http_requests_total")
				require.Contains(t, r.body, "not_found", "the same answer as any unknown address")
			}

			// The private listener's handler needs no token.
			rec := httptest.NewRecorder()
			e.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			require.Equal(t, http.StatusOK, rec.Code)
			require.Contains(t, rec.Body.String(), `huddle_http_requests_total{method="GET",route="/healthz",status="2xx"} 1`)
		})
	}
}
