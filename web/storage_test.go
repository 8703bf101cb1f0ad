package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/lti/ltitest"
)

// fromHuddle are the headers a browser sends with a form posted by one of Huddle's
// own pages.
var fromHuddle = http.Header{"Origin": {testBase}, "Sec-Fetch-Site": {"same-origin"}}

// postWith posts as b does, with h added to b's headers for this one request.
func (b *browser) postWith(h http.Header, target string, form url.Values) response {
	b.t.Helper()
	saved := b.header
	b.header = saved.Clone()
	if b.header == nil {
		b.header = http.Header{}
	}
	for k, vs := range h {
		b.header[k] = vs
	}
	defer func() { b.header = saved }()
	return b.post(target, form)
}

func dataAttr(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`data-` + name + `="([^"]*)"`).FindStringSubmatch(body)
	require.NotNil(t, m, "no data-%s", name)
	return htmlUnescape(m[1])
}

// A frame that keeps no cookies at all, on a platform that offers lti_storage_target:
// the browser binding goes through the platform's storage frame, and the session
// travels on Huddle's links, accepted only inside a frame.
func TestLaunchThroughPlatformStorage(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	frame := e.browser(t)
	frame.noCookies = true
	frame.header = http.Header{"Sec-Fetch-Dest": {"iframe"}}

	form := e.loginForm(learner)
	form.Set("lti_storage_target", "_parent")
	r := frame.post("/lti/login", form)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = frame.get(r.location)
	expectPage(t, r, http.StatusOK, "Signing you in", `data-mode="put"`, "/static/ltistorage.js")
	require.Contains(t, r.header.Get("Content-Security-Policy"), "frame-ancestors "+e.platform.Issuer)
	require.Equal(t, "_parent", dataAttr(t, r.body, "target"))
	require.Equal(t, e.platform.Issuer, dataAttr(t, r.body, "origin"))
	next, err := url.Parse(dataAttr(t, r.body, "next"))
	require.NoError(t, err)
	state, nonce := next.Query().Get("state"), next.Query().Get("nonce")
	require.Equal(t, "huddle_state_"+state, dataAttr(t, r.body, "key"))
	stored := dataAttr(t, r.body, "value") // what the platform's storage frame now holds

	// The platform posts the id_token; Huddle asks the storage frame for the binding.
	tok := e.platform.Sign(t, e.platform.ResourceLinkClaims(learner, course2, nonce))
	r = frame.post("/lti/launch", url.Values{"id_token": {tok}, "state": {state}})
	expectPage(t, r, http.StatusOK, `data-mode="get"`, `name="lti_storage_browser"`)
	require.Equal(t, "huddle_state_"+state, dataAttr(t, r.body, "key"))

	// A value other than the one this browser's platform frame holds is refused
	// without using up the state.
	expectPage(t, frame.postWith(fromHuddle, "/lti/launch", url.Values{"id_token": {tok}, "state": {state}, "lti_storage_browser": {"guessed"}}),
		http.StatusBadRequest, "bad_state")

	// The storage launch page posts the binding from Huddle's own origin.
	r = frame.postWith(fromHuddle, "/lti/launch", url.Values{"id_token": {tok}, "state": {state}, "lti_storage_browser": {stored}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Regexp(t, `^/activities/\d+\?hs=`, r.location)

	page := frame.get(r.location)
	expectPage(t, page, http.StatusOK, "Lena Learner", `name="huddle-session"`, "/static/urlsession.js")
	require.NotRegexp(t, `href="[^"]*hs=[^"]*" target="_blank"`, page.body, "the new-window link never carries the session id")

	// The same link opened as a top-level page is not signed in (no session fixation).
	top := e.browser(t)
	top.header = http.Header{"Sec-Fetch-Dest": {"document"}}
	expectPage(t, top.get(r.location), http.StatusUnauthorized, "signed_out")

	// The page's own script (live updates, fetching a new post) is signed in by hs
	// only when the browser says the request came from a Huddle page.
	script := e.browser(t)
	script.header = http.Header{"Sec-Fetch-Dest": {"empty"}, "Sec-Fetch-Site": {"same-origin"}}
	expectPage(t, script.get(r.location), http.StatusOK, "Lena Learner")
	script.header.Set("Sec-Fetch-Site", "cross-site")
	expectPage(t, script.get(r.location), http.StatusUnauthorized, "signed_out")
}

func TestStorageTargetMustBeAFrameName(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	frame := e.browser(t)
	frame.noCookies = true
	form := e.loginForm(learner)
	form.Set("lti_storage_target", `x"><script>`)
	r := frame.post("/lti/login", form)
	require.Equal(t, http.StatusSeeOther, r.code)
	expectPage(t, frame.get(r.location), http.StatusOK, "Open Huddle in a new window")
}

// storageLogin runs the login through the platform's storage frame in b, a browser
// that keeps no cookies, and returns the state, its nonce and the browser binding the
// platform's storage frame now holds.
func storageLogin(t *testing.T, e *ltiEnv, b *browser, m ltitest.Member) (state, nonce, stored string) {
	t.Helper()
	form := e.loginForm(m)
	form.Set("lti_storage_target", "_parent")
	r := b.post("/lti/login", form)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = b.get(r.location)
	expectPage(t, r, http.StatusOK, `data-mode="put"`)
	next, err := url.Parse(dataAttr(t, r.body, "next"))
	require.NoError(t, err)
	return next.Query().Get("state"), next.Query().Get("nonce"), dataAttr(t, r.body, "value")
}

// Login CSRF through the storage binding: an attacker who ran a login of his own knows
// its state, its browser binding and his id_token, and could make a victim's browser
// post all three. The binding in the form is taken only for a state issued through
// the platform-storage login, and only from Huddle's own storage launch page.
func TestStorageBindingOnlyFromHuddlesOwnPage(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	mallory := ltitest.Member{Subject: "66", Name: "Mallory Attacker", Roles: []string{ltitest.RoleLearner}}

	t.Run("a state bound to a cookie", func(t *testing.T) {
		t.Parallel()
		attacker := e.browser(t)
		auth := e.startLogin(t, attacker, mallory)
		state, nonce := auth.Query().Get("state"), auth.Query().Get("nonce")
		secret := attacker.cookies["huddle_browser"]
		require.NotEmpty(t, secret)
		tok := e.platform.Sign(t, e.platform.ResourceLinkClaims(mallory, course2, nonce))

		// Even with the headers of a Huddle page, the form's binding is no
		// substitute for a cookie-bound state's cookie.
		victim := e.browser(t)
		r := victim.postWith(fromHuddle, "/lti/launch", url.Values{"id_token": {tok}, "state": {state}, "lti_storage_browser": {secret}})
		expectPage(t, r, http.StatusBadRequest, "bad_state", "Huddle could not sign you in")
		require.Empty(t, r.header.Values("Set-Cookie"))
		require.Empty(t, victim.cookies)

		// The refusal did not use up the state: the browser that holds the cookie goes on.
		r = attacker.post("/lti/launch", url.Values{"id_token": {tok}, "state": {state}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
	})

	t.Run("a post from another site", func(t *testing.T) {
		t.Parallel()
		attacker := e.browser(t)
		attacker.noCookies = true
		state, nonce, stored := storageLogin(t, e, attacker, mallory)
		tok := e.platform.Sign(t, e.platform.ResourceLinkClaims(mallory, course2, nonce))
		form := url.Values{"id_token": {tok}, "state": {state}, "lti_storage_browser": {stored}}

		for _, h := range []http.Header{
			{"Origin": {"https://evil.example"}},
			{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}},
			{"Origin": {"null"}},
			{"Origin": {testBase}, "Sec-Fetch-Site": {"cross-site"}},
			{"Origin": {testBase}, "Sec-Fetch-Site": {"same-site"}},
			{"Sec-Fetch-Site": {"same-origin"}}, // no Origin: a Huddle page's post always has one
			{},
		} {
			victim := e.browser(t)
			r := victim.postWith(h, "/lti/launch", form)
			expectPage(t, r, http.StatusBadRequest, "bad_state", "Huddle could not sign you in")
			require.Empty(t, r.header.Values("Set-Cookie"), "%v", h)
			require.Empty(t, r.location)
		}

		// Huddle's own storage launch page still signs its browser in.
		r := attacker.postWith(fromHuddle, "/lti/launch", form)
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		require.Regexp(t, `^/activities/\d+\?hs=`, r.location)
	})
}
