package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// relayState is what a waiting frame's script reads.
type relayState struct {
	State     string `json:"state"`
	ReturnURL string `json:"return_url"`
	Field     string `json:"field"`
	JWT       string `json:"jwt"`
}

func pollRelay(t *testing.T, b *browser, path string) (int, relayState) {
	t.Helper()
	if b.header == nil {
		b.header = http.Header{}
	}
	b.header.Set("Accept", "application/json")
	defer b.header.Del("Accept")
	r := b.get(path)
	var s relayState
	if r.code == http.StatusOK {
		require.NoError(t, json.Unmarshal([]byte(r.body), &s), r.body)
	}
	return r.code, s
}

// Deep Linking from a frame that keeps no cookies (issue 17, item 4): Moodle 4.5 offers
// no platform storage, so the educator chooses in a new window; posted there, Moodle's
// contentitem_return page fails and its form stays empty. The frame waits on a relay
// and gets the signed response to post inside Moodle's dialog itself.
func TestDeepLinkingFromACookielessFrameReturnsThroughTheFrame(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	returnURL := e.platform.Issuer + "/mod/lti/contentitem_return.php?course=2&id=1&sesskey=abc"
	frame := e.browser(t)
	frame.noCookies = true
	r := frame.post("/lti/login", e.loginForm(educator))
	require.Equal(t, http.StatusSeeOther, r.code)
	page := frame.get(r.location)
	expectPage(t, page, http.StatusOK, "Open Huddle in a new window", "/static/relay.js")
	require.Contains(t, page.header.Get("Content-Security-Policy"), "form-action 'self' "+e.platform.Issuer,
		"the frame may post the answer to its Moodle, and only there")
	relay := dataAttr(t, page.body, "relay")
	require.Regexp(t, `^/lti/relay/[A-Za-z0-9_-]{20,}$`, relay)
	code, st := pollRelay(t, frame, relay)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "waiting", st.State)

	// The new window signs in and launches Deep Linking.
	win := e.browser(t)
	link := extractHref(t, page.body, "/lti/login/continue")
	r = win.get(link)
	r = win.get(r.location)
	require.Equal(t, http.StatusFound, r.code, r.body)
	auth, err := url.Parse(r.location)
	require.NoError(t, err)
	claims := e.platform.DeepLinkingClaims(educator, course2, auth.Query().Get("nonce"), returnURL)
	r = win.post("/lti/launch", url.Values{"id_token": {e.platform.Sign(t, claims)}, "state": {auth.Query().Get("state")}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	_, st = pollRelay(t, frame, relay)
	require.Equal(t, "picking", st.State, "the frame learns the educator is choosing")

	picker := win.get(r.location)
	resp := win.post(r.location, url.Values{"csrf": {extractValue(t, picker.body, "csrf")}, "kind": {"test_board"}})
	expectPage(t, resp, http.StatusOK, "Sent to Moodle", "Go back to Moodle")
	require.NotContains(t, resp.body, `name="JWT"`, "the window does not post to Moodle itself")

	code, st = pollRelay(t, frame, relay)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ready", st.State)
	require.Equal(t, returnURL, st.ReturnURL)
	require.Equal(t, "JWT", st.Field)
	require.NotEmpty(t, st.JWT)
	code, _ = pollRelay(t, frame, relay)
	require.Equal(t, http.StatusNotFound, code, "the response is handed over once")
}

// A relay that is not Deep Linking closes, so the frame stops asking; and a secret
// nobody issued finds nothing.
func TestRelayOfAnActivityLaunchCloses(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	frame := e.browser(t)
	frame.noCookies = true
	r := frame.post("/lti/login", e.loginForm(learner))
	page := frame.get(r.location)
	relay := dataAttr(t, page.body, "relay")

	win := e.browser(t)
	r = win.get(extractHref(t, page.body, "/lti/login/continue"))
	r = win.get(r.location)
	auth, err := url.Parse(r.location)
	require.NoError(t, err)
	tok := e.platform.Sign(t, e.platform.ResourceLinkClaims(learner, course2, auth.Query().Get("nonce")))
	r = win.post("/lti/launch", url.Values{"id_token": {tok}, "state": {auth.Query().Get("state")}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	code, st := pollRelay(t, frame, relay)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "closed", st.State)

	code, _ = pollRelay(t, frame, "/lti/relay/not-a-relay-anybody-was-given")
	require.Equal(t, http.StatusNotFound, code)
}
