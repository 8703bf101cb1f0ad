package web

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/egress"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/live"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/lti/ltitest"
	"github.com/huddle-lti/huddle/migrations"
	"github.com/huddle-lti/huddle/notify"
	"github.com/huddle-lti/huddle/reflection"
	"github.com/huddle-lti/huddle/seal"
	"github.com/huddle-lti/huddle/session"
)

const testBase = "https://huddle.test"

var testKinds = append([]course.Kind{
	{Name: "test_board", Title: "Test board", Description: "A kind registered by the tests.", Graded: true, MaxScore: 10, Tag: "test"},
	{Name: "test_log", Title: "Test log", Description: "An ungraded kind."},
}, append(discussion.Kinds(), reflection.Kinds()...)...)

// ltiEnv is a Huddle web server on a fresh database with one registered test platform.
type ltiEnv struct {
	srv      *Server
	deps     Deps
	pool     *pgxpool.Pool
	platform *ltitest.Platform
	stored   lti.Platform
	keyset   *lti.KeySet
}

func newLTIEnv(t testing.TB, opts ...func(*Deps)) *ltiEnv {
	t.Helper()
	pool := dbtest.New(t)
	ctx := t.Context()
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { db.Close() })
	m, err := migrations.New(db)
	require.NoError(t, err)

	sealer, err := seal.New(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	store := lti.NewStore(pool, nil)
	keys := lti.NewKeyring(pool, sealer, nil, 1024) // small keys keep tests fast
	require.NoError(t, keys.Ensure(ctx))
	keyset := lti.NewKeySet(lti.KeySetConfig{UserAgent: "Huddle/test"})

	tp := ltitest.New(t)
	stored, err := store.AddPlatform(ctx, tp.LTIPlatform())
	require.NoError(t, err)

	// Grade sync with an insert-only queue: web tests see what is recorded, not pushed.
	grades := gradesync.NewService(pool, nil, nil)
	queue, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	grades.UseQueue(queue)

	// Live updates through a real hub on the test's database.
	hub := live.NewHub(pool, nil)
	go func() { _ = hub.Run(ctx) }()
	boards := discussion.NewService(pool, discussion.Options{Grader: grades,
		Announce: func(ctx context.Context, tx pgx.Tx, topic string, data []byte) error {
			return live.Publish(ctx, tx, topic, data)
		}})

	base, _ := url.Parse(testBase)
	deps := Deps{
		Version: "test", Database: pool, Schema: m, Registry: prometheus.NewRegistry(),
		BaseURL: base, LTI: store, Keys: keys, Courses: course.NewService(pool, nil),
		Verifier:    lti.NewVerifier(lti.VerifierConfig{Keys: keyset}),
		DeepLinks:   lti.NewDeepLinkingSigner(lti.DeepLinkingConfig{}),
		Sessions:    session.NewStore(pool, nil, 0),
		Kinds:       testKinds,
		Outbound:    egress.NewClient(egress.Options{UserAgent: "Huddle/test"}),
		Grades:      grades,
		Notices:     notify.NewService(pool, nil, nil),
		Boards:      boards,
		Reflections: reflection.NewService(pool, nil, nil, grades),
		Live:        hub,
		// Short streams, so that a test reading one sees it end.
		StreamLifetime: 300 * time.Millisecond,
	}
	for _, o := range opts {
		o(&deps)
	}
	srv, err := New(deps)
	require.NoError(t, err)
	return &ltiEnv{srv: srv, deps: deps, pool: pool, platform: tp, stored: stored, keyset: keyset}
}

// browser is a cookie jar in front of the Fiber app, standing in for one person's browser.
type browser struct {
	t       testing.TB
	srv     *Server
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
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
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
	_, err := e.srv.deps.LTI.AddPlatform(t.Context(), p.LTIPlatform())
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
