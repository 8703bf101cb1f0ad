package lti_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/internal/moodlecapture"
	"github.com/huddle-lti/huddle/lti"
)

// svcCapture reads one file of an LTI capture folder (lti/NN-*); the tests fail, never
// skip, without it.
func svcCapture(t testing.TB, folder, file string) []byte {
	t.Helper()
	return moodlecapture.Read(t, path.Join("lti", folder, file))
}

const (
	svcCapturedOrigin = "http://127.0.0.1:8000"
	svcClientID       = "NN2vPfddM8H41eY"
	svcUserAgent      = "Huddle-test/1.0"
	svcKID            = "huddle-test-key"
	svcTokenPath      = "/mod/lti/token.php"
	// The captured access tokens (lti/02 040, lti/10 004, lti/10 071).
	svcTokenA        = "9a01dd1d9995be33157bf3ab94c8d1f0"
	svcTokenB        = "6262438a638a6208683604865bc389b7"
	svcTokenReadOnly = "5b65f73ffbdd20b3758363ca693df06e"
)

// svcNow is the capture machine's clock at the first token request of lti/02.
var svcNow = time.Date(2026, 11, 26, 17, 39, 53, 0, time.UTC)

var svcAllScopes = []string{
	lti.ScopeLineItem, lti.ScopeLineItemReadOnly, lti.ScopeResultReadOnly, lti.ScopeScore,
	lti.ScopeContextMembershipReadOnly,
}

// svcReply is one captured response: status line, headers and body as received.
type svcReply struct {
	statusLine string
	header     [][2]string
	body       []byte
}

// svcCaptured loads NNN-name-response.http.txt from a fixture folder for the status line
// and headers, and the raw body from its -response-body.* file.
func svcCaptured(t testing.TB, folder, httpFile string) svcReply {
	t.Helper()
	raw := svcCapture(t, folder, httpFile)
	head, _, _ := bytes.Cut(raw, []byte("\n\n"))
	lines := strings.Split(string(head), "\n")
	r := svcReply{statusLine: lines[0]}
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		require.True(t, ok, "header line %q", l)
		r.header = append(r.header, [2]string{name, strings.TrimSpace(value)})
	}
	// The body file has the next number: 039-x-response.http.txt, 040-x-response-body.json.
	_, name, _ := strings.Cut(strings.TrimSuffix(httpFile, "-response.http.txt"), "-")
	r.body = moodlecapture.One(t, path.Join("lti", folder, "[0-9][0-9][0-9]-"+name+"-response-body.*"))
	return r
}

// svcRequestBody returns the body of a captured NNN-name-request.txt.
func svcRequestBody(t testing.TB, folder, file string) []byte {
	t.Helper()
	raw := svcCapture(t, folder, file)
	_, body, ok := bytes.Cut(raw, []byte("\n\n"))
	require.True(t, ok)
	return body
}

// svcRecorded is a request the fake Moodle received.
type svcRecorded struct {
	Method string
	URL    *url.URL
	Header http.Header
	Body   []byte
}

// svcMoodle replays captured Moodle responses, rewritten to its own URL, and records
// every request. Responses go out on a hijacked connection so that Moodle's own status
// lines ("400 Incorrect score received{...}") and its Link headers with typographic
// quotes reach the client unchanged.
type svcMoodle struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	routes   map[string]*svcRoute
	recorded []svcRecorded
	// gate, if set, holds token responses until it is closed.
	gate         chan struct{}
	tokenArrived chan struct{}
	tokenFetches atomic.Int32
}

func newSvcMoodle(t testing.TB) *svcMoodle {
	m := &svcMoodle{t: t, routes: map[string]*svcRoute{}, tokenArrived: make(chan struct{}, 100)}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	return m
}

// svcRoute is the queue of replies for one request; the last one repeats.
type svcRoute struct {
	replies []svcReply
	served  int
}

// on queues replies for method and request URI (path and query as sent).
func (m *svcMoodle) on(method, requestURI string, replies ...svcReply) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := method + " " + requestURI
	if m.routes[key] == nil {
		m.routes[key] = &svcRoute{}
	}
	m.routes[key].replies = append(m.routes[key].replies, replies...)
}

// url turns a captured Moodle URL into one on the fake.
func (m *svcMoodle) url(captured string) string {
	return strings.Replace(captured, svcCapturedOrigin, m.srv.URL, 1)
}

func (m *svcMoodle) platform() lti.Platform {
	return lti.Platform{ID: 7, Issuer: m.srv.URL, ClientID: svcClientID, TokenURL: m.srv.URL + svcTokenPath}
}

func (m *svcMoodle) requests() []svcRecorded {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]svcRecorded(nil), m.recorded...)
}

// serviceRequests are the recorded requests other than token requests.
func (m *svcMoodle) serviceRequests() []svcRecorded {
	var out []svcRecorded
	for _, r := range m.requests() {
		if r.URL.Path != svcTokenPath {
			out = append(out, r)
		}
	}
	return out
}

func (m *svcMoodle) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	m.mu.Lock()
	m.recorded = append(m.recorded, svcRecorded{Method: r.Method, URL: r.URL, Header: r.Header.Clone(), Body: body})
	key := r.Method + " " + r.URL.RequestURI()
	route := m.routes[key]
	var reply svcReply
	found := route != nil && len(route.replies) > 0
	if found {
		reply = route.replies[min(route.served, len(route.replies)-1)]
		route.served++
	}
	gate := m.gate
	m.mu.Unlock()

	if r.URL.Path == svcTokenPath {
		m.tokenFetches.Add(1)
		m.tokenArrived <- struct{}{}
		if gate != nil {
			<-gate
		}
	}
	if !found {
		m.t.Errorf("fake Moodle: no reply for %s", key)
		http.Error(w, "no reply for "+key, http.StatusTeapot)
		return
	}
	m.write(w, reply)
}

// write sends reply byte for byte, except that captured URLs point at the fake, and the
// connection framing (Content-Length, Connection: close) is the fake's own.
func (m *svcMoodle) write(w http.ResponseWriter, reply svcReply) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		m.t.Errorf("hijack: %v", err)
		return
	}
	defer conn.Close()
	body := m.rewrite(reply.body)
	fmt.Fprintf(buf, "%s\r\n", reply.statusLine)
	for _, h := range reply.header {
		switch strings.ToLower(h[0]) {
		case "connection", "content-length", "transfer-encoding":
			continue
		}
		fmt.Fprintf(buf, "%s: %s\r\n", h[0], m.rewrite([]byte(h[1])))
	}
	fmt.Fprintf(buf, "Content-Length: %d\r\nConnection: close\r\n\r\n", len(body))
	_, _ = buf.Write(body) // a bufio.Writer's error comes back from Flush
	if err := buf.Flush(); err != nil {
		m.t.Errorf("write reply: %v", err)
	}
}

func (m *svcMoodle) rewrite(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte(svcCapturedOrigin), []byte(m.srv.URL))
	escaped := strings.ReplaceAll(svcCapturedOrigin, "/", `\/`)
	return bytes.ReplaceAll(b, []byte(escaped), []byte(strings.ReplaceAll(m.srv.URL, "/", `\/`)))
}

// svcKeys is a KeySource with a key generated for the tests.
type svcKeys struct {
	key jwk.Key
	err error
}

func (k svcKeys) SigningKey(context.Context) (jwk.Key, error) { return k.key, k.err }

var svcRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func svcPrivateJWK(t testing.TB) jwk.Key {
	t.Helper()
	key, err := jwk.FromRaw(svcRSAKey())
	require.NoError(t, err)
	require.NoError(t, key.Set(jwk.KeyIDKey, svcKID))
	require.NoError(t, key.Set(jwk.AlgorithmKey, jwa.RS256))
	return key
}

// svcSetup is the bundle most tests need.
type svcSetup struct {
	moodle *svcMoodle
	clock  *fakeclock.Clock
	tokens *lti.ServiceTokens
	p      lti.Platform
}

func newSvcSetup(t testing.TB) *svcSetup {
	t.Helper()
	m := newSvcMoodle(t)
	clock := fakeclock.New(svcNow)
	tokens := lti.NewServiceTokens(lti.ServiceTokenConfig{
		Keys:      svcKeys{key: svcPrivateJWK(t)},
		Client:    m.srv.Client(),
		UserAgent: svcUserAgent,
		Now:       clock.Now,
	})
	return &svcSetup{moodle: m, clock: clock, tokens: tokens, p: m.platform()}
}

// svcTokenReply is the token response of lti/02 (access token svcTokenA, all scopes).
func svcTokenReply(t testing.TB) svcReply {
	return svcCaptured(t, "02-launch-learner1-cm2", "039-token-all-scopes-response.http.txt")
}

func TestServiceTokenRequest(t *testing.T) {
	t.Parallel()
	s := newSvcSetup(t)
	s.moodle.on(http.MethodPost, svcTokenPath, svcTokenReply(t))

	tok, err := s.tokens.Token(context.Background(), s.p, svcAllScopes...)
	require.NoError(t, err)
	require.Equal(t, svcTokenA, tok.AccessToken)
	require.ElementsMatch(t, svcAllScopes, tok.Scopes)
	require.Equal(t, svcNow.Add(time.Hour), tok.ExpiresAt)

	reqs := s.moodle.requests()
	require.Len(t, reqs, 1)
	req := reqs[0]
	require.Equal(t, http.MethodPost, req.Method)
	require.Equal(t, "application/x-www-form-urlencoded", req.Header.Get("Content-Type"))
	require.Equal(t, svcUserAgent, req.Header.Get("User-Agent"))
	require.Empty(t, req.Header.Get("Authorization"))
	form, err := url.ParseQuery(string(req.Body))
	require.NoError(t, err)

	// The same four fields as the capture tool's request that Moodle accepted.
	captured, err := url.ParseQuery(string(svcRequestBody(t, "02-launch-learner1-cm2", "038-token-all-scopes-request.txt")))
	require.NoError(t, err)
	require.ElementsMatch(t, keysOf(captured), keysOf(form))
	require.Equal(t, "client_credentials", form.Get("grant_type"))
	require.Equal(t, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", form.Get("client_assertion_type"))
	require.ElementsMatch(t, svcAllScopes, strings.Split(form.Get("scope"), " "), "scopes are space-separated")

	// The assertion verifies with the public half of the test key.
	assertion := form.Get("client_assertion")
	pub, err := jwk.FromRaw(svcRSAKey().Public())
	require.NoError(t, err)
	parsed, err := jwt.Parse([]byte(assertion), jwt.WithKey(jwa.RS256, pub),
		jwt.WithClock(jwt.ClockFunc(s.clock.Now)), jwt.WithValidate(true))
	require.NoError(t, err)
	require.Equal(t, svcClientID, parsed.Issuer())
	require.Equal(t, svcClientID, parsed.Subject())
	require.Equal(t, []string{s.p.TokenURL}, parsed.Audience())
	require.Equal(t, svcNow, parsed.IssuedAt().UTC())
	require.Equal(t, svcNow.Add(5*time.Minute), parsed.Expiration().UTC())
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{32}$`), parsed.JwtID())

	msg, err := jws.Parse([]byte(assertion))
	require.NoError(t, err)
	hdr := msg.Signatures()[0].ProtectedHeaders()
	require.Equal(t, svcKID, hdr.KeyID())
	require.Equal(t, jwa.RS256, hdr.Algorithm())
	require.Equal(t, "JWT", hdr.Type())

	// A second fetch (another scope set) signs a new assertion with a new jti.
	s.moodle.on(http.MethodPost, svcTokenPath, svcTokenReply(t))
	_, err = s.tokens.Token(context.Background(), s.p, lti.ScopeScore)
	require.NoError(t, err)
	reqs = s.moodle.requests()
	require.Len(t, reqs, 2)
	form2, err := url.ParseQuery(string(reqs[1].Body))
	require.NoError(t, err)
	require.Equal(t, lti.ScopeScore, form2.Get("scope"))
	parsed2, err := jwt.Parse([]byte(form2.Get("client_assertion")), jwt.WithKey(jwa.RS256, pub),
		jwt.WithClock(jwt.ClockFunc(s.clock.Now)), jwt.WithValidate(true))
	require.NoError(t, err)
	require.NotEqual(t, parsed.JwtID(), parsed2.JwtID())
}

func keysOf(v url.Values) []string {
	var keys []string
	for k := range v {
		keys = append(keys, k)
	}
	return keys
}

func TestServiceTokenErrors(t *testing.T) {
	t.Parallel()
	synthetic := func(status string, contentType, body string) svcReply {
		return svcReply{statusLine: "HTTP/1.1 " + status, header: [][2]string{{"Content-Type", contentType}}, body: []byte(body)}
	}
	tests := []struct {
		name    string
		reply   func(t *testing.T) svcReply
		status  int
		code    string
		message string
	}{
		{"bad signature", func(t *testing.T) svcReply {
			return svcCaptured(t, "02-launch-learner1-cm2", "031-token-error-bad-signature-response.http.txt")
		}, 400, "Signature verification failed", "could not verify Huddle's signature"},
		{"invalid scope", func(t *testing.T) svcReply {
			return svcCaptured(t, "02-launch-learner1-cm2", "035-token-error-invalid-scope-response.http.txt")
		}, 400, "invalid_scope", "the tool's services are not enabled for grade sync/roster in Moodle"},
		{"unknown client", func(t *testing.T) svcReply {
			return svcCaptured(t, "10-ags-token-edge-cases", "076-token-error-unknown-client-response.http.txt")
		}, 400, "invalid_client", "Moodle does not recognise Huddle's client id or could not verify its key: check the tool's public keyset URL"},
		{"invalid request", func(t *testing.T) svcReply {
			return svcCaptured(t, "10-ags-token-edge-cases", "079-token-error-json-body-response.http.txt")
		}, 400, "invalid_request", "fault in Huddle"},
		{"unsupported grant type", func(t *testing.T) svcReply {
			return svcCaptured(t, "10-ags-token-edge-cases", "082-token-error-grant-type-response.http.txt")
		}, 400, "unsupported_grant_type", "fault in Huddle"},
		{"expired assertion", func(t *testing.T) svcReply {
			return svcCaptured(t, "10-ags-token-edge-cases", "085-token-error-expired-assertion-response.http.txt")
		}, 400, "Expired token", "clocks"},
		{"assertion from the future", func(*testing.T) svcReply {
			return synthetic("400 Bad Request", "text/html", `{"error":"Cannot handle token prior to 2026-11-26T17:45:00+0000"}`)
		}, 400, "Cannot handle token prior to 2026-11-26T17:45:00+0000", "clocks"},
		{"unknown error code", func(*testing.T) svcReply {
			return synthetic("400 Bad Request", "application/json", `{"error":"server_busy"}`)
		}, 400, "server_busy", "refused to give Huddle an access token"},
		{"php error page", func(*testing.T) svcReply {
			return synthetic("500 Internal Server Error", "text/html", "<html>Fatal error</html>")
		}, 500, "", "token endpoint failed"},
		{"login page with 200", func(*testing.T) svcReply {
			return synthetic("200 OK", "text/html", "<html>Log in</html>")
		}, 200, "", "answer Huddle does not understand"},
		{"200 without access_token", func(*testing.T) svcReply {
			return synthetic("200 OK", "text/html", `{"token_type":"Bearer","expires_in":3600}`)
		}, 200, "", "answer Huddle does not understand"},
		{"not a bearer token", func(*testing.T) svcReply {
			return synthetic("200 OK", "text/html", `{"access_token":"x","token_type":"mac","expires_in":3600}`)
		}, 200, "", "answer Huddle does not understand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSvcSetup(t)
			s.moodle.on(http.MethodPost, svcTokenPath, tt.reply(t))

			_, err := s.tokens.Token(context.Background(), s.p, svcAllScopes...)
			var te *lti.TokenError
			require.ErrorAs(t, err, &te)
			require.Equal(t, tt.status, te.Status)
			require.Equal(t, tt.code, te.Code)
			require.Contains(t, te.Message, tt.message)
			require.Contains(t, err.Error(), te.Message)

			// Neither the message nor the error may carry the signed assertion.
			form, perr := url.ParseQuery(string(s.moodle.requests()[0].Body))
			require.NoError(t, perr)
			require.NotContains(t, err.Error(), form.Get("client_assertion"))

			// A failed fetch is not cached: the next call asks again.
			s.moodle.on(http.MethodPost, svcTokenPath, svcTokenReply(t))
			_, err = s.tokens.Token(context.Background(), s.p, svcAllScopes...)
			require.NoError(t, err)
			require.EqualValues(t, 2, s.moodle.tokenFetches.Load())
		})
	}
}

func TestServiceTokenUnreachableOrUnconfigured(t *testing.T) {
	t.Parallel()
	s := newSvcSetup(t)
	s.moodle.srv.Close()

	_, err := s.tokens.Token(context.Background(), s.p, lti.ScopeScore)
	var te *lti.TokenError
	require.ErrorAs(t, err, &te)
	require.Zero(t, te.Status)
	require.Contains(t, te.Message, "could not reach")

	p := s.p
	p.TokenURL = ""
	_, err = s.tokens.Token(context.Background(), p, lti.ScopeScore)
	require.ErrorAs(t, err, &te)
	require.Contains(t, te.Message, "finish registering")

	broken := lti.NewServiceTokens(lti.ServiceTokenConfig{Keys: svcKeys{err: lti.ErrNotFound}, Client: s.moodle.srv.Client()})
	_, err = broken.Token(context.Background(), s.p, lti.ScopeScore)
	require.ErrorIs(t, err, lti.ErrNotFound)

	_, err = s.tokens.Token(context.Background(), s.p)
	require.Error(t, err, "no scopes")
}

func TestServiceTokenCacheReuse(t *testing.T) {
	t.Parallel()
	s := newSvcSetup(t)
	s.moodle.on(http.MethodPost, svcTokenPath, svcTokenReply(t))
	ctx := context.Background()

	for range 10 {
		tok, err := s.tokens.Token(ctx, s.p, lti.ScopeLineItem, lti.ScopeScore)
		require.NoError(t, err)
		require.Equal(t, svcTokenA, tok.AccessToken)
	}
	// Scope order and duplicates do not matter.
	_, err := s.tokens.Token(ctx, s.p, lti.ScopeScore, lti.ScopeLineItem, lti.ScopeScore)
	require.NoError(t, err)
	require.EqualValues(t, 1, s.moodle.tokenFetches.Load())

	// Another scope set, or another platform, is another token.
	_, err = s.tokens.Token(ctx, s.p, lti.ScopeScore)
	require.NoError(t, err)
	require.EqualValues(t, 2, s.moodle.tokenFetches.Load())
	other := s.p
	other.ID = 8
	_, err = s.tokens.Token(ctx, other, lti.ScopeScore)
	require.NoError(t, err)
	require.EqualValues(t, 3, s.moodle.tokenFetches.Load())
}

func TestServiceTokenExpiryMargin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		margin    time.Duration
		expiresIn string
		// stillCached is the last moment (after the fetch) the token is reused.
		stillCached time.Duration
	}{
		{"default margin", 0, "3600", time.Hour - time.Minute - time.Second},
		{"custom margin", 10 * time.Minute, "3600", 50*time.Minute - time.Second},
		{"short-lived token keeps half its life", 0, "60", 30*time.Second - time.Second},
		{"expires_in as a string", 0, `"3600"`, time.Hour - time.Minute - time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newSvcMoodle(t)
			clock := fakeclock.New(svcNow)
			tokens := lti.NewServiceTokens(lti.ServiceTokenConfig{
				Keys: svcKeys{key: svcPrivateJWK(t)}, Client: m.srv.Client(), Now: clock.Now, Margin: tt.margin,
			})
			for _, tok := range []string{"first", "second"} {
				m.on(http.MethodPost, svcTokenPath, svcReply{
					statusLine: "HTTP/1.1 200 OK",
					header:     [][2]string{{"Content-Type", "text/html; charset=utf-8"}},
					body:       []byte(`{"access_token":"` + tok + `","token_type":"Bearer","expires_in":` + tt.expiresIn + `}`),
				})
			}
			ctx := context.Background()
			tok, err := tokens.Token(ctx, m.platform(), lti.ScopeScore)
			require.NoError(t, err)
			require.Equal(t, "first", tok.AccessToken)
			require.Equal(t, []string{lti.ScopeScore}, tok.Scopes, "no scope in the answer: the requested ones")

			clock.Advance(tt.stillCached)
			tok, err = tokens.Token(ctx, m.platform(), lti.ScopeScore)
			require.NoError(t, err)
			require.Equal(t, "first", tok.AccessToken)

			clock.Advance(time.Second)
			tok, err = tokens.Token(ctx, m.platform(), lti.ScopeScore)
			require.NoError(t, err)
			require.Equal(t, "second", tok.AccessToken)
			require.EqualValues(t, 2, m.tokenFetches.Load())
		})
	}
}

func TestServiceTokenWithoutExpiryIsNotCached(t *testing.T) {
	t.Parallel()
	s := newSvcSetup(t)
	s.moodle.on(http.MethodPost, svcTokenPath, svcReply{
		statusLine: "HTTP/1.1 200 OK", body: []byte(`{"access_token":"once","token_type":"bearer"}`),
	})
	for range 3 {
		tok, err := s.tokens.Token(context.Background(), s.p, lti.ScopeScore)
		require.NoError(t, err)
		require.Equal(t, "once", tok.AccessToken)
	}
	require.EqualValues(t, 3, s.moodle.tokenFetches.Load())
}

func TestServiceTokenConcurrentCallersCoalesce(t *testing.T) {
	t.Parallel()
	s := newSvcSetup(t)
	s.moodle.on(http.MethodPost, svcTokenPath, svcTokenReply(t))
	gate := make(chan struct{})
	s.moodle.mu.Lock()
	s.moodle.gate = gate
	s.moodle.mu.Unlock()
	release := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release) // a failed test must not leave Moodle holding requests

	const callers = 20
	waiting := make(chan struct{}, callers)
	var wg sync.WaitGroup
	results := make([]string, callers)
	errs := make([]error, callers)
	for i := range callers {
		ctx := lti.NewWaitingContext(t.Context(), waiting)
		wg.Go(func() {
			tok, err := s.tokens.Token(ctx, s.p, lti.ScopeScore, lti.ScopeLineItem)
			results[i], errs[i] = tok.AccessToken, err
		})
	}
	// Moodle holds every token response until all callers have missed the cache and are
	// waiting, however slowly they got there: none can be served from a token cached by
	// an earlier fetch, so one request for all of them is the coalescing alone.
	if n, ok := lti.AwaitWaiting(waiting, callers); !ok {
		t.Fatalf("%d of %d callers waiting for a token after 10s", n, callers)
	}
	release()
	wg.Wait()

	for i := range callers {
		require.NoError(t, errs[i])
		require.Equal(t, svcTokenA, results[i])
	}
	require.EqualValues(t, 1, s.moodle.tokenFetches.Load())
}

func TestServiceTokenWaiterHonoursItsContext(t *testing.T) {
	t.Parallel()
	s := newSvcSetup(t)
	s.moodle.on(http.MethodPost, svcTokenPath, svcTokenReply(t))
	gate := make(chan struct{})
	s.moodle.mu.Lock()
	s.moodle.gate = gate
	s.moodle.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.tokens.Token(ctx, s.p, lti.ScopeScore)
		done <- err
	}()
	<-s.moodle.tokenArrived
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	// The fetch the cancelled caller started still completes for everyone else.
	close(gate)
	tok, err := s.tokens.Token(context.Background(), s.p, lti.ScopeScore)
	require.NoError(t, err)
	require.Equal(t, svcTokenA, tok.AccessToken)
	require.EqualValues(t, 1, s.moodle.tokenFetches.Load())
}

func TestServiceTokenNeverPrinted(t *testing.T) {
	t.Parallel()
	tok := lti.ServiceToken{AccessToken: svcTokenA, Scopes: []string{lti.ScopeScore}, ExpiresAt: svcNow}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		require.NotContains(t, fmt.Sprintf(format, tok), svcTokenA, format)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("token", "token", tok)
	require.NotContains(t, buf.String(), svcTokenA)
	require.Contains(t, buf.String(), lti.ScopeScore)
}

// svcRequireCompactBodies fails if any JSON body Huddle sent has a line break: Moodle turns
// a 400 into 200 [] for those.
func svcRequireCompactBodies(t *testing.T, m *svcMoodle) {
	t.Helper()
	for _, r := range m.serviceRequests() {
		require.NotContains(t, string(r.Body), "\n", "%s %s", r.Method, r.URL)
		if len(r.Body) > 0 {
			require.True(t, json.Valid(r.Body), "%s %s: %s", r.Method, r.URL, r.Body)
		}
	}
}

// svcServiceError unwraps err to a *lti.ServiceError.
func svcServiceError(t *testing.T, err error) *lti.ServiceError {
	t.Helper()
	var se *lti.ServiceError
	require.True(t, errors.As(err, &se), "want *lti.ServiceError, got %T: %v", err, err)
	return se
}
