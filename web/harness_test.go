package web_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/app"
	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/lti/ltitest"
	"github.com/huddle-lti/huddle/web"
)

const testBase = "https://huddle.test"

// testKinds are production's kinds after two of the tests' own.
var testKinds = append([]course.Kind{
	{Name: "test_board", Title: "Test board", Description: "A kind registered by the tests.", Graded: true, MaxScore: 10, Tag: "test"},
	{Name: "test_log", Title: "Test log", Description: "An ungraded kind."},
}, app.Kinds()...)

// testConfig is the operator's settings of the Huddle the tests build.
func testConfig() app.Config {
	base, _ := url.Parse(testBase)
	return app.Config{BaseURL: base, SecretKey: bytes.Repeat([]byte{1}, 32), Version: "test"}
}

// ltiEnv is Huddle, built by app.New as `huddle serve` builds it, on a fresh database
// with one registered test platform. Its job queue is not started: web tests see what
// is queued (scores, notices, roster reads), not what the workers then do.
type ltiEnv struct {
	app      *app.App
	srv      *web.Server
	deps     web.Deps // what the web server was built with
	pool     *pgxpool.Pool
	platform *ltitest.Platform
	stored   lti.Platform
}

// newLTIEnv builds the environment; opts change the web server's dependencies, as
// app.Options.Web does, after the harness's own (test kinds, short live streams).
func newLTIEnv(t testing.TB, opts ...func(*web.Deps)) *ltiEnv {
	t.Helper()
	return newLTIEnvOn(t, dbtest.New(t), opts...)
}

// newLTIEnvOn is newLTIEnv on pool, a fresh migrated database's.
func newLTIEnvOn(t testing.TB, pool *pgxpool.Pool, opts ...func(*web.Deps)) *ltiEnv {
	t.Helper()
	ctx := t.Context()
	e := &ltiEnv{pool: pool}
	a, err := app.New(ctx, e.pool, testConfig(), app.Options{
		KeyBits: 1024, // small keys keep tests fast
		Web: func(d *web.Deps) {
			d.Kinds = testKinds
			// Short streams, so that a test reading one sees it end.
			d.StreamLifetime = 300 * time.Millisecond
			for _, o := range opts {
				o(d)
			}
			e.deps = *d
		},
	})
	require.NoError(t, err)
	t.Cleanup(a.Close)
	e.app, e.srv = a, a.Web
	// Live updates through the real hub on the test's database.
	go func() { _ = a.Hub.Run(ctx) }()

	e.platform = ltitest.New(t)
	e.stored, err = a.LTI.AddPlatform(ctx, e.platform.LTIPlatform())
	require.NoError(t, err)
	return e
}

// browser is a cookie jar in front of the Fiber app, standing in for one person's browser.
type browser struct {
	t       testing.TB
	srv     *web.Server
	mu      sync.Mutex
	cookies map[string]string
	// noCookies drops every cookie, as a frame whose browser blocks them all does.
	noCookies bool
	// header is sent with every request (e.g. Sec-Fetch-Dest).
	header http.Header
}

func (e *ltiEnv) browser(t testing.TB) *browser {
	return &browser{t: t, srv: e.srv, cookies: map[string]string{}}
}

type response struct {
	code     int
	body     string
	location string
	header   http.Header
}

func (b *browser) do(method, target string, form url.Values) response {
	b.t.Helper()
	if form == nil {
		return b.send(method, target, "", nil)
	}
	return b.send(method, target, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
}

// send is do with a body of any content type (a multipart form, a raw body).
func (b *browser) send(method, target, contentType string, body io.Reader) response {
	b.t.Helper()
	req := httptest.NewRequest(method, target, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, vs := range b.header {
		req.Header[k] = vs
	}
	b.mu.Lock()
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	b.mu.Unlock()
	resp, err := b.srv.App().Test(req, 10000)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	b.mu.Lock()
	for _, c := range resp.Cookies() {
		if b.noCookies {
			break
		}
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	b.mu.Unlock()
	return response{resp.StatusCode, string(raw), resp.Header.Get("Location"), resp.Header}
}

func (b *browser) get(target string) response { return b.do(http.MethodGet, target, nil) }
func (b *browser) post(target string, form url.Values) response {
	return b.do(http.MethodPost, target, form)
}

var (
	learner  = ltitest.Member{Subject: "4", Name: "Lena Learner", Email: "learner1@example.com", Roles: []string{ltitest.RoleLearner}}
	educator = ltitest.Member{Subject: "3", Name: "Eddie Educator", Email: "educator1@example.com", Roles: []string{ltitest.RoleInstructor}}
	course2  = ltitest.Link{ContextID: "2", ContextTitle: "Foundation Teaching Programme", ResourceLinkID: "1", Title: "Peer discussion", TargetLinkURI: testBase + "/lti/launch"}
)

// loginForm is Moodle's auto-posted login initiation.
func (e *ltiEnv) loginForm(m ltitest.Member) url.Values {
	return url.Values{
		"iss":               {e.platform.Issuer},
		"target_link_uri":   {testBase + "/lti/launch"},
		"login_hint":        {m.Subject},
		"lti_message_hint":  {`{"cmid":2,"launchid":"ltilaunch1_123"}`},
		"client_id":         {e.platform.ClientID},
		"lti_deployment_id": {e.platform.DeploymentID},
	}
}

// startLogin runs login initiation in b and returns the authentication request URL.
func (e *ltiEnv) startLogin(t testing.TB, b *browser, m ltitest.Member) *url.URL {
	t.Helper()
	r := b.post("/lti/login", e.loginForm(m))
	if r.code == http.StatusSeeOther { // first visit: the cookie check round trip
		require.Contains(t, r.location, "/lti/login/continue")
		r = b.get(r.location)
	}
	require.Equal(t, http.StatusFound, r.code, r.body)
	u, err := url.Parse(r.location)
	require.NoError(t, err)
	return u
}

// launch signs the person in through the whole flow and returns the launch response.
func (e *ltiEnv) launch(t testing.TB, b *browser, m ltitest.Member, l ltitest.Link) response {
	t.Helper()
	auth := e.startLogin(t, b, m)
	q := auth.Query()
	tok := e.platform.Sign(t, e.platform.ResourceLinkClaims(m, l, q.Get("nonce")))
	return b.post("/lti/launch", url.Values{"id_token": {tok}, "state": {q.Get("state")}})
}

func expectPage(t testing.TB, r response, code int, contains ...string) {
	t.Helper()
	require.Equal(t, code, r.code, r.body)
	for _, c := range contains {
		require.Contains(t, r.body, c)
	}
}

// addPlatform registers a second test platform (another Moodle site).
func (e *ltiEnv) addPlatform(t *testing.T) *ltitest.Platform {
	t.Helper()
	p := ltitest.New(t)
	p.ClientID = "other-client"
	_, err := e.app.LTI.AddPlatform(t.Context(), p.LTIPlatform())
	require.NoError(t, err)
	return p
}

// launchOn is launch for a platform other than the environment's first one.
func (e *ltiEnv) launchOn(t *testing.T, p *ltitest.Platform, b *browser, m ltitest.Member, l ltitest.Link) response {
	t.Helper()
	form := e.loginForm(m)
	form.Set("iss", p.Issuer)
	form.Set("client_id", p.ClientID)
	r := b.post("/lti/login", form)
	if r.code == http.StatusSeeOther {
		r = b.get(r.location)
	}
	require.Equal(t, http.StatusFound, r.code, r.body)
	auth, err := url.Parse(r.location)
	require.NoError(t, err)
	tok := p.Sign(t, p.ResourceLinkClaims(m, l, auth.Query().Get("nonce")))
	return b.post("/lti/launch", url.Values{"id_token": {tok}, "state": {auth.Query().Get("state")}})
}
