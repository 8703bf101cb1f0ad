package devplatform_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/lti"
)

// testNow is the fixtures' capture clock (internal/moodlecapture/testdata/moodle-4.5/README.md).
var testNow = time.Date(2026, 11, 26, 17, 39, 52, 0, time.UTC)

const testClientID = "huddle-dev-client"

// rsaKeys saves generating 2048-bit keys in every test.
var rsaKeys struct {
	sync.Mutex
	keys []*rsa.PrivateKey
}

// rsaKey returns the i-th shared test key.
func rsaKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	rsaKeys.Lock()
	defer rsaKeys.Unlock()
	for len(rsaKeys.keys) <= i {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		rsaKeys.keys = append(rsaKeys.keys, k)
	}
	return rsaKeys.keys[i]
}

// bundle is one platform on its own httptest server, a fake Huddle, and a browser.
type bundle struct {
	p       *devplatform.Platform
	srv     *httptest.Server
	tool    *fakeTool
	browser *browser
	now     time.Time // the platform's clock
}

// setup starts a platform whose clock reads testNow, or now when given.
func setup(t *testing.T, now ...time.Time) *bundle {
	t.Helper()
	return setupWith(t, nil, now...)
}

// setupWith is setup with adjust, when given, changing the platform's Config first.
func setupWith(t *testing.T, adjust func(*devplatform.Config), now ...time.Time) *bundle {
	t.Helper()
	clock := testNow
	if len(now) > 0 {
		clock = now[0]
	}
	tool := newFakeTool(t)
	// The platform's URL must be known before New: start the listener first.
	srv := httptest.NewUnstartedServer(nil)
	publicURL := "http://" + srv.Listener.Addr().String()
	cfg := devplatform.Config{
		PublicURL:         publicURL,
		ClientID:          testClientID,
		DeploymentID:      "1",
		ToolLoginURL:      tool.srv.URL + "/lti/login",
		ToolRedirectURI:   tool.srv.URL + "/lti/launch",
		ToolJWKSURL:       tool.srv.URL + "/.well-known/jwks.json",
		ToolTargetLinkURI: tool.srv.URL + "/lti/launch",
		Now:               func() time.Time { return clock },
		Key:               rsaKey(t, 0),
	}
	if adjust != nil {
		adjust(&cfg)
	}
	p, err := devplatform.New(cfg)
	require.NoError(t, err)
	srv.Config.Handler = p.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	tool.platform = p.Registration()
	return &bundle{p: p, srv: srv, tool: tool, browser: newBrowser(t), now: clock}
}

// fakeTool stands in for Huddle: OIDC login initiation, the form_post launch, the item
// URL probe, and its JWKS.
type fakeTool struct {
	t        *testing.T
	srv      *httptest.Server
	platform lti.Platform

	mu          sync.Mutex
	key         jwk.Key
	nonces      map[string]string // state -> nonce
	logins      []url.Values
	launches    []url.Values
	probes      []probeSeen
	jwksFetches int
}

type probeSeen struct {
	URL       string
	UserAgent string
	Cookies   int
}

func newFakeTool(t *testing.T) *fakeTool {
	t.Helper()
	ft := &fakeTool{t: t, nonces: map[string]string{}}
	ft.useKey(rsaKey(t, 1), "tool-key-1")
	mux := http.NewServeMux()
	mux.HandleFunc("POST /lti/login", ft.login)
	mux.HandleFunc("POST /lti/launch", ft.launch)
	mux.HandleFunc("GET /lti/launch", ft.probe)
	mux.HandleFunc("GET /.well-known/jwks.json", ft.jwks)
	ft.srv = httptest.NewServer(mux)
	t.Cleanup(ft.srv.Close)
	return ft
}

func (ft *fakeTool) useKey(k *rsa.PrivateKey, kid string) {
	key, err := jwk.FromRaw(k)
	require.NoError(ft.t, err)
	require.NoError(ft.t, key.Set(jwk.KeyIDKey, kid))
	require.NoError(ft.t, key.Set(jwk.AlgorithmKey, jwa.RS256))
	ft.mu.Lock()
	ft.key = key
	ft.mu.Unlock()
}

func (ft *fakeTool) signingKey() jwk.Key {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.key
}

// login answers the initiation like Huddle: a state and nonce, then a redirect to the
// platform's auth endpoint with redirect_uri = {base}/lti/launch.
func (ft *fakeTool) login(w http.ResponseWriter, r *http.Request) {
	require.NoError(ft.t, r.ParseForm())
	state, nonce := randomHex(ft.t), randomHex(ft.t)
	ft.mu.Lock()
	ft.logins = append(ft.logins, r.PostForm)
	ft.nonces[state] = nonce
	ft.mu.Unlock()
	q := url.Values{
		"scope":            {"openid"},
		"response_type":    {"id_token"},
		"response_mode":    {"form_post"},
		"prompt":           {"none"},
		"client_id":        {r.PostForm.Get("client_id")},
		"redirect_uri":     {ft.srv.URL + "/lti/launch"},
		"login_hint":       {r.PostForm.Get("login_hint")},
		"lti_message_hint": {r.PostForm.Get("lti_message_hint")},
		"state":            {state},
		"nonce":            {nonce},
	}
	http.Redirect(w, r, ft.platform.AuthURL+"?"+q.Encode(), http.StatusFound)
}

func (ft *fakeTool) launch(w http.ResponseWriter, r *http.Request) {
	require.NoError(ft.t, r.ParseForm())
	ft.mu.Lock()
	ft.launches = append(ft.launches, r.PostForm)
	ft.mu.Unlock()
	_, _ = io.WriteString(w, "launched")
}

func (ft *fakeTool) probe(w http.ResponseWriter, r *http.Request) {
	ft.mu.Lock()
	ft.probes = append(ft.probes, probeSeen{URL: ft.srv.URL + r.URL.RequestURI(), UserAgent: r.UserAgent(), Cookies: len(r.Cookies())})
	ft.mu.Unlock()
	_, _ = io.WriteString(w, "Huddle activity")
}

func (ft *fakeTool) jwks(w http.ResponseWriter, _ *http.Request) {
	ft.mu.Lock()
	ft.jwksFetches++
	pub, err := ft.key.PublicKey()
	ft.mu.Unlock()
	require.NoError(ft.t, err)
	set := jwk.NewSet()
	require.NoError(ft.t, set.AddKey(pub))
	w.Header().Set("Content-Type", "application/json")
	require.NoError(ft.t, json.NewEncoder(w).Encode(set))
}

func (ft *fakeTool) nonceFor(state string) string {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.nonces[state]
}

func (ft *fakeTool) lastLaunch() url.Values {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	require.NotEmpty(ft.t, ft.launches)
	return ft.launches[len(ft.launches)-1]
}

func (ft *fakeTool) seenProbes() []probeSeen {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return append([]probeSeen(nil), ft.probes...)
}

func (ft *fakeTool) fetches() int {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.jwksFetches
}

func randomHex(t testing.TB) string {
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// browser keeps cookies and follows redirects, as a browser would; the platform's
// pages' scripts only submit forms, which tests do with submit.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := newClient(t)
	c.Jar = jar
	return &browser{t: t, c: c}
}

// newClient has its own transport: httptest.Server.Close closes the idle connections
// of http.DefaultTransport, which would break parallel tests sharing it.
func newClient(t *testing.T) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type page struct {
	Status int
	URL    string // after redirects
	Body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return page{Status: resp.StatusCode, URL: resp.Request.URL.String(), Body: string(body)}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(b.t, err)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var (
	formRe   = regexp.MustCompile(`<form method="post" action="([^"]*)" data-autosubmit>`)
	inputRe  = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	iframeRe = regexp.MustCompile(`<iframe class="tool" src="([^"]*)"`)
)

// autoForm reads the auto-submitting form of a platform page.
func autoForm(t *testing.T, pg page) (action string, fields url.Values) {
	t.Helper()
	m := formRe.FindStringSubmatch(pg.Body)
	require.NotNil(t, m, "no auto-submitting form in %s:\n%s", pg.URL, pg.Body)
	fields = url.Values{}
	for _, in := range inputRe.FindAllStringSubmatch(pg.Body, -1) {
		fields.Add(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	return html.UnescapeString(m[1]), fields
}

// submit posts an auto-submitting form as the served script would.
func (b *browser) submit(pg page) page {
	b.t.Helper()
	action, fields := autoForm(b.t, pg)
	return b.post(action, fields)
}

// initiation signs userID in through the launch page and loads the activity's iframe
// (or the Deep Linking one when cmid is 0), returning the login initiation form.
func (bn *bundle) initiation(t *testing.T, b *browser, userID string, cmid int) (action string, fields url.Values) {
	t.Helper()
	form := url.Values{"user": {userID}}
	if cmid == 0 {
		form.Set("deeplink", "1")
	} else {
		form.Set("cmid", strconv.Itoa(cmid))
	}
	view := b.post(bn.srv.URL+"/open", form)
	require.Equal(t, http.StatusOK, view.Status, view.Body)
	m := iframeRe.FindStringSubmatch(view.Body)
	require.NotNil(t, m, "no iframe on %s", view.URL)
	frame := b.get(bn.srv.URL + html.UnescapeString(m[1]))
	require.Equal(t, http.StatusOK, frame.Status, frame.Body)
	return autoForm(t, frame)
}

// launched is what the fake tool received at the end of a launch.
type launched struct {
	Initiation url.Values
	IDToken    string
	State      string
	Nonce      string
}

// launch runs the whole flow as the browser would: initiation, the tool's redirect to
// /auth, and the id_token form_post back to the tool.
func (bn *bundle) launch(t *testing.T, b *browser, userID string, cmid int) launched {
	t.Helper()
	action, fields := bn.initiation(t, b, userID, cmid)
	require.Equal(t, bn.tool.srv.URL+"/lti/login", action)
	authPage := b.post(action, fields) // the tool redirects to /auth
	require.Equal(t, http.StatusOK, authPage.Status, authPage.Body)
	require.True(t, strings.HasPrefix(authPage.URL, bn.srv.URL+"/auth?"), authPage.URL)
	done := b.submit(authPage)
	require.Equal(t, "launched", done.Body)
	got := bn.tool.lastLaunch()
	require.Empty(t, got.Get("error"), got.Get("error_description"))
	return launched{Initiation: fields, IDToken: got.Get("id_token"), State: got.Get("state"),
		Nonce: bn.tool.nonceFor(got.Get("state"))}
}

// verifiedClaims checks the id_token's signature against the platform's /jwks with jwx
// and returns its payload.
func (bn *bundle) verifiedClaims(t *testing.T, idToken string) map[string]any {
	t.Helper()
	resp, err := newClient(t).Get(bn.srv.URL + "/jwks")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	set, err := jwk.Parse(body)
	require.NoError(t, err)
	_, err = jwt.ParseString(idToken, jwt.WithKeySet(set), jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return testNow })),
		jwt.WithIssuer(bn.srv.URL), jwt.WithAudience(testClientID))
	require.NoError(t, err)
	parts := strings.Split(idToken, ".")
	require.Len(t, parts, 3)
	payload, err := jwtPayload(parts[1])
	require.NoError(t, err)
	return payload
}

// jwtPayload decodes a JWT's payload segment.
func jwtPayload(segment string) (map[string]any, error) {
	b, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	return claims, json.Unmarshal(b, &claims)
}
