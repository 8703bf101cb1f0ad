package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

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
	expectPage(t, frame.post("/lti/launch", url.Values{"id_token": {tok}, "state": {state}, "lti_storage_browser": {"guessed"}}),
		http.StatusBadRequest, "bad_state")

	r = frame.post("/lti/launch", url.Values{"id_token": {tok}, "state": {state}, "lti_storage_browser": {stored}})
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
