package main

// What the kill and backup tests share: Huddle run as it is deployed (`huddle serve`
// processes, or run's serve in this process) on one database, the development Moodle
// with a recorder in front of its score service, and HTTP clients that stand in for
// people's browsers behind a load balancer.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/lti/ltitest"
	"github.com/huddle-lti/huddle/token"
)

// frontURL is HUDDLE_BASE_URL of every instance in these tests, as it is for instances
// behind one load balancer. Nothing listens there: a browser picks an instance itself
// (fleet.pick) and the platform reaches the tool through the fleet (fleet.RoundTrip),
// so a dead instance is passed over as a load balancer passes over it.
const frontURL = "http://localhost"

// fleet is the instances that take traffic, in round-robin order.
type fleet struct {
	mu    sync.Mutex
	bases []string
	next  int
}

func (f *fleet) add(base string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bases = append(f.bases, base)
}

func (f *fleet) remove(base string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, b := range f.bases {
		if b == base {
			f.bases = append(f.bases[:i:i], f.bases[i+1:]...)
			return
		}
	}
}

// pick returns the next instance in turn, or "" when none takes traffic.
func (f *fleet) pick() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bases) == 0 {
		return ""
	}
	b := f.bases[f.next%len(f.bases)]
	f.next++
	return b
}

func (f *fleet) size() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bases)
}

// RoundTrip sends a request for frontURL to an instance, and to the next one when an
// instance cannot be reached; other requests go out unchanged. Only the platform's
// fetches of the tool's key set come this way, and they are safe to repeat.
func (f *fleet) RoundTrip(r *http.Request) (*http.Response, error) {
	front, _ := url.Parse(frontURL)
	if r.URL.Host != front.Host {
		return http.DefaultTransport.RoundTrip(r)
	}
	lastErr := errors.New("no instance takes traffic")
	for range max(f.size(), 1) {
		base := f.pick()
		if base == "" {
			break
		}
		u, err := url.Parse(base)
		if err != nil {
			return nil, err
		}
		out := r.Clone(r.Context())
		out.URL.Scheme, out.URL.Host, out.Host = u.Scheme, u.Host, u.Host
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("fleet: %s: %w", r.URL, lastErr)
}

// devMoodle is the development platform (a Moodle 4.5 stand-in) on a port of its own,
// registered with Huddle, with a recorder in front of its score service: every score
// Huddle posts is kept with the answer it got, and scores can be held at the door so
// that grade sync jobs stay running.
type devMoodle struct {
	*devplatform.Platform
	url     string
	handler http.Handler
	// signer signs launches with the platform's own key. The platform seeds two
	// learners and launches only those; a flood needs more, and Huddle cannot tell a
	// launch signed here from one its auth endpoint would sign.
	signer *ltitest.Platform

	mu     sync.Mutex
	scores []scorePost
	hold   chan struct{} // closed to let held scores through; nil when none are held
	held   int           // scores waiting at the hold now
}

// scorePost is one score Huddle posted to the platform.
type scorePost struct {
	UserID    string
	Timestamp time.Time
	Given     float64
	Status    int // the platform's answer
	// Held is the timestamp of the score the platform held for the learner when this
	// one arrived (zero if none).
	Held time.Time
	// Abandoned means the instance that sent the score died while it was held. The
	// platform applies it all the same, as Moodle does with a request it has read:
	// the tool never hears that it landed.
	Abandoned bool
}

func newMoodle(t *testing.T, f *fleet) *devMoodle {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	m := &devMoodle{}
	srv := httptest.NewUnstartedServer(m)
	m.url = "http://" + srv.Listener.Addr().String()
	m.Platform, err = devplatform.New(devplatform.Config{
		PublicURL: m.url, ClientID: "huddle-dev", DeploymentID: "1",
		ToolLoginURL: frontURL + "/lti/login", ToolRedirectURI: frontURL + "/lti/launch",
		ToolJWKSURL: frontURL + "/.well-known/jwks.json", ToolTargetLinkURI: frontURL + "/lti/launch",
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: f},
		Key:        key,
	})
	require.NoError(t, err)
	m.handler = m.Handler()
	srv.Start()
	t.Cleanup(func() {
		m.releaseScores() // Close waits for the requests in flight
		srv.Close()
	})

	// The platform names its key with a kid of its own; a launch must carry it.
	resp, err := http.Get(m.url + "/jwks")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	set, err := jwk.Parse(raw)
	require.NoError(t, err)
	pub, ok := set.Key(0)
	require.True(t, ok, "the platform publishes its key")
	m.signer = &ltitest.Platform{Issuer: m.url, ClientID: "huddle-dev", DeploymentID: "1", KID: pub.KeyID(), Key: key, Now: time.Now}
	return m
}

// register adds the platform to Huddle's database as an administrator does, with
// `huddle platform add`.
func (m *devMoodle) register(t *testing.T, vars map[string]string) {
	t.Helper()
	reg := m.Registration()
	// The platform listens on plain http on loopback, which only development accepts.
	vars = maps.Clone(vars)
	vars["HUDDLE_ENV"] = "development"
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), env{getenv: envOf(vars), stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr},
		[]string{"platform", "add", "--issuer", reg.Issuer, "--client-id", reg.ClientID, "--auth-url", reg.AuthURL,
			"--token-url", reg.TokenURL, "--jwks-url", reg.JWKSURL, "--deployment-id", reg.DeploymentIDs[0]})
	require.Equal(t, 0, code, stderr.String())
}

func (m *devMoodle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/scores") {
		m.handler.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	var s struct {
		UserID     string    `json:"userId"`
		Timestamp  time.Time `json:"timestamp"`
		ScoreGiven float64   `json:"scoreGiven"`
	}
	_ = json.Unmarshal(body, &s) // the platform itself judges the body
	rec := scorePost{UserID: s.UserID, Timestamp: s.Timestamp, Given: s.ScoreGiven}

	m.mu.Lock()
	hold := m.hold
	if hold != nil {
		m.held++
	}
	m.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done(): // the sender's connection closed: it died
			rec.Abandoned = true
		}
		m.mu.Lock()
		m.held--
		m.mu.Unlock()
	}

	for _, g := range m.Gradebook().Grades {
		if g.UserID == rec.UserID {
			rec.Held = g.Timestamp
		}
	}
	in := r.Clone(context.WithoutCancel(r.Context()))
	in.Body = io.NopCloser(bytes.NewReader(body))
	out := w
	if rec.Abandoned {
		out = httptest.NewRecorder() // nobody is left to read the answer
	}
	sw := &statusWriter{ResponseWriter: out, status: http.StatusOK}
	m.handler.ServeHTTP(sw, in)
	rec.Status = sw.status
	m.mu.Lock()
	m.scores = append(m.scores, rec)
	m.mu.Unlock()
}

// holdScores keeps every score posted from now on waiting until releaseScores, or
// until its sender goes away.
func (m *devMoodle) holdScores() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hold == nil {
		m.hold = make(chan struct{})
	}
}

func (m *devMoodle) releaseScores() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hold != nil {
		close(m.hold)
		m.hold = nil
	}
}

func (m *devMoodle) heldScores() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.held
}

func (m *devMoodle) scorePosts() []scorePost {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]scorePost(nil), m.scores...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// link is an activity in the platform's course. Resource link "1" is the activity the
// platform seeds: the only one it lets the tool create a gradebook column for.
func link(resourceLinkID, kind string) ltitest.Link {
	return ltitest.Link{ContextID: devplatform.CourseID, ContextTitle: devplatform.CourseTitle,
		ResourceLinkID: resourceLinkID, Title: "Activity " + resourceLinkID, TargetLinkURI: frontURL + "/lti/launch",
		Custom: map[string]string{"huddle_kind": kind}}
}

// learners are the course's learners: the platform, like Moodle, takes grades only for
// people enrolled as students, and it enrols two (Lena, 4, and Liam, 5).
func (m *devMoodle) learners() []ltitest.Member {
	var out []ltitest.Member
	for _, u := range m.Users() {
		if slices.Contains(u.Roles, devplatform.RoleLearner) {
			out = append(out, ltitest.Member{Subject: u.ID, Name: u.Name(), Email: u.Email, Roles: u.Roles})
		}
	}
	return out
}

var educatorMember = ltitest.Member{Subject: "3", Name: "Eddie Educator", Email: "educator1@example.com",
	Roles: []string{ltitest.RoleInstructor}}

// clientTransport is shared by every browser, as one machine's connection pool.
var clientTransport = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}

// browser is one person's browser behind the load balancer: each request goes to the
// instance the fleet picks, and a request that got no answer at all (its instance
// died) is sent again to the next one, as a load balancer or a person pressing the
// button again would. Only the absence of an answer is retried, never an answer.
type browser struct {
	fleet  *fleet
	client *http.Client

	mu      sync.Mutex
	cookies map[string]string // by name: every instance serves the one site
	csrf    string            // of the latest session
}

// page is an answer, with lost counting the attempts before it that got none.
type page struct {
	code     int
	body     string
	location string
	lost     int
}

func newBrowser(f *fleet) *browser {
	return &browser{fleet: f, cookies: map[string]string{}, client: &http.Client{
		Transport:     clientTransport,
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

const maxAttempts = 10

func (b *browser) do(ctx context.Context, method, target string, form url.Values) (page, error) {
	// Huddle redirects with paths; the platform's auth redirect is not followed here.
	target = strings.TrimPrefix(target, frontURL)
	var lost int
	var lastErr error
	for lost < maxAttempts {
		base := b.fleet.pick()
		if base == "" {
			return page{lost: lost}, errors.New("no instance takes traffic")
		}
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, base+target, body)
		if err != nil {
			return page{}, err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		b.mu.Lock()
		for k, v := range b.cookies {
			req.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		b.mu.Unlock()
		resp, err := b.client.Do(req)
		if err == nil {
			var raw []byte
			raw, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				b.keepCookies(resp)
				return page{code: resp.StatusCode, body: string(raw), location: resp.Header.Get("Location"), lost: lost}, nil
			}
		}
		if ctx.Err() != nil {
			return page{lost: lost}, ctx.Err()
		}
		lost++ // no answer, or half of one: the instance died under the request
		lastErr = err
	}
	return page{lost: lost}, fmt.Errorf("%s %s: no answer in %d attempts: %w", method, target, lost, lastErr)
}

func (b *browser) keepCookies(resp *http.Response) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
}

var csrfMetaRE = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)

// launch signs who in to the activity at l, through Huddle's OIDC login and a launch
// the platform's key signs, opens the activity and returns its path. A sign-in step
// whose answer was lost cannot be repeated (the login state is single use), so then
// the whole sign-in starts again, as a person reopening the activity would.
func (b *browser) launch(ctx context.Context, m *devMoodle, who ltitest.Member, l ltitest.Link) (string, error) {
	var err error
	for range 3 {
		var activity string
		var lost bool
		activity, lost, err = b.tryLaunch(ctx, m, who, l)
		if err == nil || !lost {
			return activity, err
		}
	}
	return "", err
}

func (b *browser) tryLaunch(ctx context.Context, m *devMoodle, who ltitest.Member, l ltitest.Link) (activity string, lost bool, _ error) {
	fail := func(step string, p page) (string, bool, error) {
		return "", lost, fmt.Errorf("launch of %s: %s answered %d: %.300s", who.Subject, step, p.code, p.body)
	}
	p, err := b.do(ctx, http.MethodPost, "/lti/login", url.Values{
		"iss": {m.url}, "target_link_uri": {frontURL + "/lti/launch"}, "login_hint": {who.Subject},
		"lti_message_hint": {`{"cmid":2,"launchid":"ltilaunch1_` + who.Subject + `"}`},
		"client_id":        {m.signer.ClientID}, "lti_deployment_id": {m.signer.DeploymentID},
	})
	lost = p.lost > 0
	if err != nil {
		return "", lost, err
	}
	if p.code == http.StatusSeeOther { // the first visit's cookie check
		if p, err = b.do(ctx, http.MethodGet, p.location, nil); err != nil {
			return "", true, err
		}
		lost = lost || p.lost > 0
	}
	if p.code != http.StatusFound {
		return fail("login", p)
	}
	auth, err := url.Parse(p.location)
	if err != nil {
		return "", lost, err
	}
	tok, err := m.signer.SignClaims(m.signer.ResourceLinkClaims(who, l, auth.Query().Get("nonce")))
	if err != nil {
		return "", lost, err
	}
	p, err = b.do(ctx, http.MethodPost, "/lti/launch", url.Values{"id_token": {tok}, "state": {auth.Query().Get("state")}})
	lost = lost || p.lost > 0
	if err != nil {
		return "", lost, err
	}
	if p.code != http.StatusSeeOther {
		return fail("launch", p)
	}
	activity = strings.SplitN(p.location, "?", 2)[0]
	if p, err = b.do(ctx, http.MethodGet, p.location, nil); err != nil {
		return "", true, err
	}
	if p.code != http.StatusOK {
		return fail("activity page", p)
	}
	csrf := csrfMetaRE.FindStringSubmatch(p.body)
	if csrf == nil {
		return fail("activity page without a CSRF token", p)
	}
	b.mu.Lock()
	b.csrf = csrf[1]
	b.mu.Unlock()
	return activity, lost, nil
}

// form is fields plus the session's CSRF token.
func (b *browser) form(fields url.Values) url.Values {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := maps.Clone(fields)
	out.Set("csrf", b.csrf)
	return out
}

// submission is the random token a new-thread or reply form carries.
func submission() string {
	t, err := token.New()
	if err != nil {
		panic(err)
	}
	return t
}

var postedRE = regexp.MustCompile(`/threads/(\d+)\?posted=1#post-(\d+)`)

// startThread opens a discussion on the board at activity; lost counts the attempts
// that got no answer, any of which may have stored the thread. Each attempt sends the
// same submission token, as a browser resending the same form does, so Huddle stores
// it once.
func (b *browser) startThread(ctx context.Context, activity, title, text string) (thread, post string, lost int, _ error) {
	p, err := b.do(ctx, http.MethodPost, activity+"/threads", b.form(url.Values{"title": {title}, "body": {text}, "submission": {submission()}}))
	if err != nil {
		return "", "", p.lost, err
	}
	m := postedRE.FindStringSubmatch(p.location)
	if p.code != http.StatusSeeOther || m == nil {
		return "", "", p.lost, fmt.Errorf("new thread answered %d %q: %.300s", p.code, p.location, p.body)
	}
	return m[1], m[2], p.lost, nil
}

// reply posts in a thread, as startThread does.
func (b *browser) reply(ctx context.Context, activity, thread, text string) (post string, lost int, _ error) {
	p, err := b.do(ctx, http.MethodPost, activity+"/threads/"+thread+"/posts", b.form(url.Values{"body": {text}, "submission": {submission()}}))
	if err != nil {
		return "", p.lost, err
	}
	m := postedRE.FindStringSubmatch(p.location)
	if p.code != http.StatusSeeOther || m == nil {
		return "", p.lost, fmt.Errorf("reply answered %d %q: %.300s", p.code, p.location, p.body)
	}
	return m[2], p.lost, nil
}

// logBuffer collects a server's log; processes and goroutines write to it at once.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// freeAddr is a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// ready reports whether the instance at base answers /readyz with 200.
func ready(base string) bool {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// served is `huddle serve` run in this process, as the binary's main runs it.
type served struct {
	base string
	log  *logBuffer
	stop func() int // stops it as SIGTERM does and returns the exit status
}

func serveInProcess(t *testing.T, vars map[string]string) *served {
	t.Helper()
	addr := freeAddr(t)
	vars = maps.Clone(vars)
	vars["HUDDLE_ADDR"] = addr
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{base: "http://" + addr, log: &logBuffer{}}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, env{getenv: envOf(vars), stdin: strings.NewReader(""), stdout: s.log, stderr: s.log}, []string{"serve"})
	}()
	var once sync.Once
	code := 0
	s.stop = func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	t.Cleanup(func() { s.stop() })
	require.Eventually(t, func() bool {
		select {
		case c := <-done:
			done <- c
			return true
		default:
		}
		return ready(s.base)
	}, 60*time.Second, 20*time.Millisecond, "huddle serve never became ready")
	select {
	case c := <-done:
		done <- c // for stop, which the cleanup calls
		t.Fatalf("huddle serve exited with %d:\n%s", c, s.log)
	default:
	}
	return s
}

// process is a `huddle serve` process.
type process struct {
	name string
	base string
	cmd  *exec.Cmd
	log  *logBuffer
	done chan struct{} // closed once it has exited
	err  error         // how it exited, once done is closed
}

// buildHuddle builds this command into a temporary directory, with the race detector
// when the test has it: the servers under the chaos are checked for races too.
func buildHuddle(t *testing.T) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err, "go env GOMOD")
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := filepath.Join(t.TempDir(), "huddle")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/huddle")...) //nolint:gosec // G204: go build of this module into the test's own directory
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/huddle:\n%s", out)
	return bin
}

// startProcess starts `huddle serve` from bin with vars and waits until it is ready.
func startProcess(t *testing.T, bin, name string, vars map[string]string) *process {
	t.Helper()
	addr := freeAddr(t)
	p := &process{name: name, base: "http://" + addr, log: &logBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = os.Environ()
	for k, v := range vars {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Env = append(p.cmd.Env, "HUDDLE_ADDR="+addr)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	require.Eventually(t, func() bool { return p.exited() || ready(p.base) }, 60*time.Second, 20*time.Millisecond,
		"instance %s never became ready", name)
	require.False(t, p.exited(), "instance %s exited (%v):\n%s", name, p.err, p.log)
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// riverClientID is the name the instance's job queue goes by in river_job.attempted_by,
// read from the line River logs when it starts.
func (p *process) riverClientID(t *testing.T) string {
	t.Helper()
	var id string
	require.Eventually(t, func() bool {
		for line := range strings.Lines(p.log.String()) {
			var entry struct {
				Msg      string `json:"msg"`
				ClientID string `json:"client_id"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "River client started" {
				id = entry.ClientID
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "instance %s never logged its River client id", p.name)
	return id
}

// kill ends the process at once, as a crash or the OOM killer would: SIGKILL.
func (p *process) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
}

// stop ends the process as an orchestrator does, with SIGTERM, and checks it left
// cleanly and that the race detector saw nothing.
func (p *process) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("instance %s did not stop within a minute of SIGTERM", p.name)
	}
	require.NoError(t, p.err, "instance %s exit:\n%s", p.name, p.log)
	requireNoRace(t, p.name, p.log.String())
}

func requireNoRace(t *testing.T, name, log string) {
	t.Helper()
	require.NotContains(t, log, "WARNING: DATA RACE", "instance %s", name)
}
