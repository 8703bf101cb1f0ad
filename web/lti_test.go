package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/lti/ltitest"
	"github.com/huddle-lti/huddle/web"
)

func TestLaunchSignsLearnerIn(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)

	auth := e.startLogin(t, b, learner)
	q := auth.Query()
	require.Equal(t, e.platform.Issuer+"/auth", auth.Scheme+"://"+auth.Host+auth.Path)
	for k, v := range map[string]string{
		"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
		"client_id": e.platform.ClientID, "redirect_uri": testBase + "/lti/launch", "login_hint": "4",
		"lti_message_hint": `{"cmid":2,"launchid":"ltilaunch1_123"}`,
	} {
		require.Equal(t, v, q.Get(k), k)
	}
	require.GreaterOrEqual(t, len(q.Get("state")), 22, "state carries at least 128 bits")
	require.GreaterOrEqual(t, len(q.Get("nonce")), 22, "nonce carries at least 128 bits")

	tok := e.platform.Sign(t, e.platform.ResourceLinkClaims(learner, course2, q.Get("nonce")))
	r := b.post("/lti/launch", url.Values{"id_token": {tok}, "state": {q.Get("state")}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Regexp(t, `^/activities/\d+$`, r.location)
	require.Contains(t, r.header.Values("Set-Cookie")[0], "Partitioned")

	page := b.get(r.location)
	expectPage(t, page, http.StatusOK, "Lena Learner", "Foundation Teaching Programme", "Not set up yet")
	require.Contains(t, page.header.Get("Content-Security-Policy"), "frame-ancestors "+e.platform.Issuer)

	// A second launch from the same browser skips the cookie check.
	r = b.post("/lti/login", e.loginForm(learner))
	require.Equal(t, http.StatusFound, r.code)
}

func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	r := b.post("/lti/login", e.loginForm(learner))
	require.Equal(t, http.StatusSeeOther, r.code)
	for _, c := range r.header.Values("Set-Cookie") {
		for _, attr := range []string{"HttpOnly", "Secure", "SameSite=None", "Partitioned", "Path=/"} {
			require.Contains(t, c, attr)
		}
	}
}

func TestLoginRejectsUnknownPlatform(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	form := e.loginForm(learner)
	form.Set("iss", "https://moodle.other.example")
	expectPage(t, b.post("/lti/login", form), http.StatusBadRequest, "not registered with Huddle", "unknown_platform")
	form = e.loginForm(learner)
	form.Set("client_id", "someone-else")
	expectPage(t, b.post("/lti/login", form), http.StatusBadRequest, "unknown_platform")
	form = e.loginForm(learner)
	form.Del("login_hint")
	expectPage(t, b.post("/lti/login", form), http.StatusBadRequest, "login_incomplete")
	form = e.loginForm(learner)
	form.Set("target_link_uri", "https://evil.example/lti/launch")
	expectPage(t, b.post("/lti/login", form), http.StatusBadRequest, "bad_target")
}

func TestCookiesBlockedOffersNewWindow(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	frame := e.browser(t)
	r := frame.post("/lti/login", e.loginForm(learner))
	require.Equal(t, http.StatusSeeOther, r.code)
	// The frame's browser drops the cookie: third-party cookies blocked, CHIPS too.
	frame.cookies = map[string]string{}
	r = frame.get(r.location)
	expectPage(t, r, http.StatusOK, "Open Huddle in a new window")
	require.Contains(t, r.header.Get("Content-Security-Policy"), "frame-ancestors *")

	// The new top-level window keeps cookies: it resumes the same, unused initiation.
	win := e.browser(t)
	link := extractHref(t, r.body, "/lti/login/continue")
	r = win.get(link)
	require.Equal(t, http.StatusSeeOther, r.code)
	r = win.get(r.location)
	require.Equal(t, http.StatusFound, r.code, r.body)
	auth, err := url.Parse(r.location)
	require.NoError(t, err)
	require.Equal(t, `{"cmid":2,"launchid":"ltilaunch1_123"}`, auth.Query().Get("lti_message_hint"))

	tok := e.platform.Sign(t, e.platform.ResourceLinkClaims(learner, course2, auth.Query().Get("nonce")))
	r = win.post("/lti/launch", url.Values{"id_token": {tok}, "state": {auth.Query().Get("state")}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)

	// The initiation was used once; the link cannot start a second login.
	r = win.get(link + "&checked=1")
	expectPage(t, r, http.StatusBadRequest, "login_expired")
}

func extractHref(t *testing.T, body, prefix string) string {
	t.Helper()
	i := indexOf(body, `href="`+prefix)
	require.GreaterOrEqual(t, i, 0, "no link to %s", prefix)
	rest := body[i+len(`href="`):]
	end := indexOf(rest, `"`)
	return htmlUnescape(rest[:end])
}

func TestLaunchRejections(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)

	t.Run("token posted from a browser that did not start the login", func(t *testing.T) {
		b := e.browser(t)
		auth := e.startLogin(t, b, learner)
		tok := e.platform.Sign(t, e.platform.ResourceLinkClaims(learner, course2, auth.Query().Get("nonce")))
		other := e.browser(t)
		r := other.post("/lti/launch", url.Values{"id_token": {tok}, "state": {auth.Query().Get("state")}})
		expectPage(t, r, http.StatusBadRequest, "bad_state")
		require.NotContains(t, r.body, tok)
		// The wrong browser did not burn the state: the real one still signs in.
		r = b.post("/lti/launch", url.Values{"id_token": {tok}, "state": {auth.Query().Get("state")}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
	})
	t.Run("replayed state", func(t *testing.T) {
		b := e.browser(t)
		auth := e.startLogin(t, b, learner)
		form := url.Values{"id_token": {e.platform.Sign(t, e.platform.ResourceLinkClaims(learner, course2, auth.Query().Get("nonce")))}, "state": {auth.Query().Get("state")}}
		require.Equal(t, http.StatusSeeOther, b.post("/lti/launch", form).code)
		expectPage(t, b.post("/lti/launch", form), http.StatusBadRequest, "bad_state")
	})
	t.Run("forged state", func(t *testing.T) {
		b := e.browser(t)
		auth := e.startLogin(t, b, learner)
		tok := e.platform.Sign(t, e.platform.ResourceLinkClaims(learner, course2, auth.Query().Get("nonce")))
		expectPage(t, b.post("/lti/launch", url.Values{"id_token": {tok}, "state": {"forged-state-value-0000000000"}}), http.StatusBadRequest, "bad_state")
	})
	t.Run("nonce other than the one sent with that state", func(t *testing.T) {
		b := e.browser(t)
		first := e.startLogin(t, b, learner)
		second := e.startLogin(t, b, learner)
		tok := e.platform.Sign(t, e.platform.ResourceLinkClaims(learner, course2, first.Query().Get("nonce")))
		expectPage(t, b.post("/lti/launch", url.Values{"id_token": {tok}, "state": {second.Query().Get("state")}}), http.StatusBadRequest, "bad_nonce")
	})
	t.Run("replayed nonce with a fresh state", func(t *testing.T) {
		b := e.browser(t)
		first := e.startLogin(t, b, learner)
		tok := e.platform.Sign(t, e.platform.ResourceLinkClaims(learner, course2, first.Query().Get("nonce")))
		require.Equal(t, http.StatusSeeOther, b.post("/lti/launch", url.Values{"id_token": {tok}, "state": {first.Query().Get("state")}}).code)
		second := e.startLogin(t, b, learner)
		expectPage(t, b.post("/lti/launch", url.Values{"id_token": {tok}, "state": {second.Query().Get("state")}}), http.StatusBadRequest, "bad_nonce")
	})
	t.Run("token checks surface with their code", func(t *testing.T) {
		b := e.browser(t)
		auth := e.startLogin(t, b, learner)
		claims := e.platform.ResourceLinkClaims(learner, course2, auth.Query().Get("nonce"))
		claims["aud"] = "another-client"
		expectPage(t, b.post("/lti/launch", url.Values{"id_token": {e.platform.Sign(t, claims)}, "state": {auth.Query().Get("state")}}), http.StatusBadRequest, "bad_audience")
		// The rejected launch used up its state: a good token cannot follow on it.
		good := e.platform.Sign(t, e.platform.ResourceLinkClaims(learner, course2, auth.Query().Get("nonce")))
		expectPage(t, b.post("/lti/launch", url.Values{"id_token": {good}, "state": {auth.Query().Get("state")}}), http.StatusBadRequest, "bad_state")
	})
	t.Run("missing fields", func(t *testing.T) {
		expectPage(t, e.browser(t).post("/lti/launch", url.Values{"state": {"x"}}), http.StatusBadRequest, "launch_incomplete")
	})
}

// The same launch posted by several browsers at once: exactly one signs in, and
// every other gets the plain-words refusal, whether the person is new (their session
// is inserted after the launch) or returning (it rides with the state's taking).
func TestConcurrentLaunchExactlyOneWins(t *testing.T) {
	t.Parallel()
	for _, returning := range []bool{false, true} {
		t.Run(map[bool]string{false: "first launch", true: "returning"}[returning], func(t *testing.T) {
			t.Parallel()
			concurrentLaunch(t, returning)
		})
	}
}

func concurrentLaunch(t *testing.T, returning bool) {
	e := newLTIEnv(t)
	sessions := func() (n int) {
		require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT count(*) FROM sessions`).Scan(&n))
		return n
	}
	if returning {
		require.Equal(t, http.StatusSeeOther, e.launch(t, e.browser(t), learner, course2).code)
	}
	before := sessions()
	b := e.browser(t)
	auth := e.startLogin(t, b, learner)
	form := url.Values{"id_token": {e.platform.Sign(t, e.platform.ResourceLinkClaims(learner, course2, auth.Query().Get("nonce")))}, "state": {auth.Query().Get("state")}}
	// Half the posts come from the browser that started the login, half from other
	// browsers (a stolen or replayed form post).
	const n = 8
	browsers := make([]*browser, n)
	for i := range browsers {
		browsers[i] = b
		if i%2 == 1 {
			browsers[i] = e.browser(t)
		}
	}
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = browsers[i].post("/lti/launch", form).code
		}()
	}
	wg.Wait()
	wins := 0
	for _, c := range codes {
		if c == http.StatusSeeOther {
			wins++
		} else {
			require.Equal(t, http.StatusBadRequest, c, "codes: %v", codes)
		}
	}
	require.Equal(t, 1, wins, "codes: %v", codes)
	require.Equal(t, before+1, sessions(), "one session for the one launch that signed in")
}

func TestCopiedCourseGetsNewEmptyActivityWithSameSettings(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	link := course2
	link.Custom = map[string]string{"huddle_kind": "test_board", "huddle_settings": `{"identity":"anonymous_to_peers"}`}
	r := e.launch(t, e.browser(t), learner, link)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)

	copied := link
	copied.ContextID, copied.ResourceLinkID = "7", "41"
	r2 := e.launch(t, e.browser(t), learner, copied)
	require.Equal(t, http.StatusSeeOther, r2.code, r2.body)
	require.NotEqual(t, r.location, r2.location)

	var kind, settings string
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT kind, settings::text FROM activities WHERE resource_link_id = '41'`).Scan(&kind, &settings))
	require.Equal(t, "test_board", kind)
	require.JSONEq(t, `{"identity":"anonymous_to_peers"}`, settings)
}

func TestRolesRefreshedAtEveryLaunch(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	promoted := learner
	r := e.launch(t, b, learner, course2)
	require.Equal(t, http.StatusSeeOther, r.code)
	expectPage(t, b.get(r.location), http.StatusOK, "Not set up yet")

	promoted.Roles = []string{ltitest.RoleInstructor}
	r = e.launch(t, b, promoted, course2)
	expectPage(t, b.get(r.location), http.StatusOK, "Set up this activity")
}

func TestEducatorSetsUpActivity(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	r := e.launch(t, b, educator, course2)
	page := b.get(r.location)
	expectPage(t, page, http.StatusOK, "Set up this activity", "Test board")
	csrf := extractValue(t, page.body, "csrf")

	expectPage(t, b.post(r.location+"/setup", url.Values{"kind": {"test_board"}}), http.StatusForbidden, "csrf")
	expectPage(t, b.post(r.location+"/setup", url.Values{"kind": {"nonsense"}, "csrf": {csrf}}), http.StatusUnprocessableEntity, "Choose what kind")
	res := b.post(r.location+"/setup", url.Values{"kind": {"test_board"}, "csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, res.code, res.body)
	expectPage(t, b.get(r.location), http.StatusOK, "Test board")

	// A learner sees the set-up activity, and may not set it up.
	lb := e.browser(t)
	lr := e.launch(t, lb, learner, course2)
	expectPage(t, lb.get(lr.location), http.StatusOK, "Test board")
	expectPage(t, lb.post(lr.location+"/setup", url.Values{"kind": {"test_log"}, "csrf": {csrf}}), http.StatusForbidden, "csrf")
}

func TestItemURLAnswersMoodleBotWithoutSession(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	r := e.browser(t).get("/lti/launch?kind=test_board")
	expectPage(t, r, http.StatusOK, "Huddle activity")
}

func TestJWKSPublishesToolKey(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	r := e.browser(t).get("/.well-known/jwks.json")
	expectPage(t, r, http.StatusOK, `"kty":"RSA"`, `"kid"`, `"alg":"RS256"`)
	require.NotContains(t, r.body, `"d"`, "never the private exponent")
}

// JSON may carry NUL in a signed claim; PostgreSQL text cannot. The launch still works.
func TestLaunchWithNULInClaims(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	odd := learner
	odd.Name = "Lena\x00 Learner"
	r := e.launch(t, b, odd, course2)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, b.get(r.location), http.StatusOK, "Lena Learner")
}

// A whole class opening a new activity at once, and the same person in several
// tabs: every launch signs in, and each person, course and activity exists once.
func TestConcurrentFirstLaunches(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	const n = 8
	codes := make([]int, 2*n)
	var wg sync.WaitGroup
	for i := range 2 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var m ltitest.Member
			if i%2 == 0 { // half are one new person in several tabs
				m = ltitest.Member{Subject: "77", Name: "Tab Person", Roles: []string{ltitest.RoleLearner}}
			} else {
				m = ltitest.Member{Subject: strconv.Itoa(100 + i), Name: "Class member", Roles: []string{ltitest.RoleLearner}}
			}
			link := course2
			link.ContextID, link.ResourceLinkID = "55", "550"
			codes[i] = e.launch(t, e.browser(t), m, link).code
		}()
	}
	wg.Wait()
	for _, c := range codes {
		require.Equal(t, http.StatusSeeOther, c)
	}
	var users, courses, activities, members int
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT
	  (SELECT count(*) FROM users WHERE subject = '77'),
	  (SELECT count(*) FROM courses WHERE context_id = '55'),
	  (SELECT count(*) FROM activities WHERE resource_link_id = '550'),
	  (SELECT count(*) FROM memberships m JOIN courses c ON c.id = m.course_id WHERE c.context_id = '55')`).Scan(&users, &courses, &activities, &members))
	require.Equal(t, []int{1, 1, 1, n + 1}, []int{users, courses, activities, members})
}

func TestLaunchKeepsNameWhenPlatformStopsSendingIt(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	r := e.launch(t, b, learner, course2)
	renamed := learner
	renamed.Name = "Lena Learner-Smith"
	r = e.launch(t, b, renamed, course2)
	expectPage(t, b.get(r.location), http.StatusOK, "Lena Learner-Smith")
	anonymous := learner
	anonymous.Name, anonymous.Email = "", ""
	r = e.launch(t, b, anonymous, course2)
	expectPage(t, b.get(r.location), http.StatusOK, "Lena Learner-Smith")
}

func TestEducatorLaunchRequestsRoster(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var requested []int64
	e := newLTIEnv(t, func(d *web.Deps) {
		d.RequestRoster = func(_ context.Context, courseID int64) error {
			mu.Lock()
			defer mu.Unlock()
			requested = append(requested, courseID)
			return nil
		}
	})
	require.Equal(t, http.StatusSeeOther, e.launch(t, e.browser(t), learner, course2).code)
	mu.Lock()
	require.Empty(t, requested, "a learner's launch does not read the roster")
	mu.Unlock()
	require.Equal(t, http.StatusSeeOther, e.launch(t, e.browser(t), educator, course2).code)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, requested, 1)
}
