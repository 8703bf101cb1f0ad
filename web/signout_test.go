// How sessions end: signing out, a launch for someone else, the idle timeouts and what
// counts as use. (The absolute lifetime is session's own test.)

package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/lti/ltitest"
	"github.com/huddle-lti/huddle/session"
	"github.com/huddle-lti/huddle/web"
)

const signOutForm = `<form class="header__sign-out" method="post" action="/sign-out">`

// sessionClock gives the web server's session store a clock the test moves; the rest
// of Huddle keeps the real one.
func sessionClock(clock *fakeclock.Clock) func(*web.Deps) {
	return func(d *web.Deps) {
		d.Sessions = session.NewStore(d.Database.(*pgxpool.Pool), session.Options{Now: clock.Now})
	}
}

// csrfOf is the CSRF token of a signed-in page.
func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(body)
	require.NotNil(t, m, "no CSRF token on the page")
	return htmlUnescape(m[1])
}

// requireSignedOutEverywhere asks every route that needs a session with what b sends
// (and query added to the path) and expects each to answer that nobody is signed in.
func requireSignedOutEverywhere(t *testing.T, e *ltiEnv, b *browser, query, csrf string) {
	t.Helper()
	ids := strings.NewReplacer(":activity", "1", ":thread", "1", ":post", "1", ":reflection", "1",
		":user", "1", ":id", "1", ":token", "1", "*", "x")
	for _, route := range e.srv.Routes() {
		if route.Rule == web.Public {
			continue
		}
		path := ids.Replace(route.Path) + query
		var r response
		if route.Method == http.MethodGet {
			r = b.get(path)
		} else {
			r = b.post(path, url.Values{"csrf": {csrf}})
		}
		require.Equal(t, http.StatusUnauthorized, r.code, "%s %s: %s", route.Method, route.Path, r.body)
		require.Contains(t, r.body, "signed_out", "%s %s", route.Method, route.Path)
	}
}

func TestSignOut(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	r := e.launch(t, b, learner, course2)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	sid := b.cookies["huddle_session"]
	require.NotEmpty(t, sid)
	page := b.get(r.location)
	expectPage(t, page, http.StatusOK, "Lena Learner", signOutForm, ">Sign out</button>")
	csrf := csrfOf(t, page.body)

	// Signing out is a POST with the page's CSRF token: another site cannot sign
	// people out, and a link cannot.
	expectPage(t, b.post("/sign-out", url.Values{}), http.StatusForbidden, "csrf")
	expectPage(t, b.get("/sign-out"), http.StatusMethodNotAllowed)

	out := b.post("/sign-out", url.Values{"csrf": {csrf}})
	expectPage(t, out, http.StatusOK, "You have signed out of Huddle", "Close this window, or go back to Moodle")
	require.NotContains(t, out.body, signOutForm)
	require.NotContains(t, out.body, "Lena Learner")
	require.Equal(t, `"storage"`, out.header.Get("Clear-Site-Data"), "drafts kept on the device go too")
	require.Contains(t, out.header.Get("Content-Security-Policy"), "frame-ancestors "+e.platform.Issuer,
		"the page shows in Moodle's frame")

	// The cookie is dropped with the attributes it was set with: a partitioned cookie
	// is replaced only by a partitioned one.
	var cleared *http.Cookie
	for _, line := range out.header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		require.NoError(t, err)
		if c.Name == "huddle_session" {
			cleared = c
		}
	}
	require.NotNil(t, cleared, "the session cookie is cleared")
	require.Empty(t, cleared.Value)
	require.Equal(t, -1, cleared.MaxAge, "Max-Age=0")
	require.Equal(t, "/", cleared.Path)
	require.True(t, cleared.Secure && cleared.HttpOnly && cleared.Partitioned)
	require.Equal(t, http.SameSiteNoneMode, cleared.SameSite)
	require.NotContains(t, b.cookies, "huddle_session")

	// The old session id is refused everywhere, even by a browser that kept the cookie.
	expectPage(t, b.get(r.location), http.StatusUnauthorized, "signed_out")
	kept := e.browser(t)
	kept.cookies["huddle_session"] = sid
	requireSignedOutEverywhere(t, e, kept, "", csrf)

	// Signing in again from Moodle works as before.
	r = e.launch(t, b, learner, course2)
	expectPage(t, b.get(r.location), http.StatusOK, "Lena Learner")
}

// launchCookieless signs m in through a frame that keeps no cookies, with the
// platform's storage (see TestLaunchThroughPlatformStorage), and returns the frame
// and the activity's address, which carries the session as hs.
func launchCookieless(t *testing.T, e *ltiEnv, m ltitest.Member, l ltitest.Link) (*browser, string) {
	t.Helper()
	frame := e.browser(t)
	frame.noCookies = true
	frame.header = http.Header{"Sec-Fetch-Dest": {"iframe"}}
	form := e.loginForm(m)
	form.Set("lti_storage_target", "_parent")
	r := frame.post("/lti/login", form)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = frame.get(r.location)
	require.Equal(t, http.StatusOK, r.code, r.body)
	next, err := url.Parse(dataAttr(t, r.body, "next"))
	require.NoError(t, err)
	stored := dataAttr(t, r.body, "value")
	tok := e.platform.Sign(t, e.platform.ResourceLinkClaims(m, l, next.Query().Get("nonce")))
	// Huddle's own storage page posts it, same-origin.
	r = frame.postWith(fromHuddle, "/lti/launch", url.Values{"id_token": {tok}, "state": {next.Query().Get("state")}, "lti_storage_browser": {stored}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Regexp(t, `^/activities/\d+\?hs=`, r.location)
	return frame, r.location
}

func TestSignOutOfACookielessFrame(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	frame, location := launchCookieless(t, e, learner, course2)
	u, err := url.Parse(location)
	require.NoError(t, err)
	hs := u.Query().Get("hs")
	page := frame.get(location)
	expectPage(t, page, http.StatusOK, "Lena Learner", signOutForm)
	csrf := csrfOf(t, page.body)

	// The page's script adds hs to the form, as to every form of the page.
	out := frame.post("/sign-out", url.Values{"csrf": {csrf}, "hs": {hs}})
	expectPage(t, out, http.StatusOK, "You have signed out of Huddle")
	require.NotContains(t, out.body, hs, "the signed-out page does not carry the session on")

	requireSignedOutEverywhere(t, e, frame, "?hs="+url.QueryEscape(hs), csrf)
}

// Ward computers are shared: a launch for another person ends the session the browser
// held, while the same person's tabs keep theirs.
func TestLaunchForAnotherPersonEndsTheBrowsersSession(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	withSession := func(sid string) *browser {
		b := e.browser(t)
		b.cookies["huddle_session"] = sid
		return b
	}

	b := e.browser(t)
	first := e.launch(t, b, learner, course2)
	require.Equal(t, http.StatusSeeOther, first.code, first.body)
	lena1 := b.cookies["huddle_session"]
	again := e.launch(t, b, learner, course2)
	require.Equal(t, http.StatusSeeOther, again.code, again.body)
	lena2 := b.cookies["huddle_session"]
	require.NotEqual(t, lena1, lena2)
	for _, sid := range []string{lena1, lena2} {
		expectPage(t, withSession(sid).get(first.location), http.StatusOK, "Lena Learner")
	}

	next := e.launch(t, b, educator, course2)
	require.Equal(t, http.StatusSeeOther, next.code, next.body)
	expectPage(t, b.get(next.location), http.StatusOK, "Eddie Educator")
	expectPage(t, withSession(lena2).get(first.location), http.StatusUnauthorized, "signed_out")
	requireSignedOutEverywhere(t, e, withSession(lena2), "", "")
}

// A session inside Moodle's frame ends after 30 idle minutes; one the platform opened
// in a window of its own keeps the longer idle timeout.
func TestFramedSessionsHaveTheShorterIdleTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target any // the launch_presentation claim's document_target; nil leaves it out
		framed bool
	}{
		{name: "iframe", target: "iframe", framed: true},
		{name: "frame", target: "frame", framed: true},
		{name: "no document target", target: nil, framed: true},
		{name: "window", target: "window", framed: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := fakeclock.New(time.Now())
			e := newLTIEnv(t, sessionClock(clock))
			b := e.browser(t)
			auth := e.startLogin(t, b, learner)
			claims := e.platform.ResourceLinkClaims(learner, course2, auth.Query().Get("nonce"))
			lp := claims["https://purl.imsglobal.org/spec/lti/claim/launch_presentation"].(map[string]any)
			delete(lp, "document_target")
			if tc.target != nil {
				lp["document_target"] = tc.target
			}
			r := b.post("/lti/launch", url.Values{"id_token": {e.platform.Sign(t, claims)}, "state": {auth.Query().Get("state")}})
			require.Equal(t, http.StatusSeeOther, r.code, r.body)

			clock.Advance(29 * time.Minute)
			expectPage(t, b.get(r.location), http.StatusOK, "Lena Learner")
			clock.Advance(31 * time.Minute)
			page := b.get(r.location)
			if tc.framed {
				expectPage(t, page, http.StatusUnauthorized, "signed_out")
				return
			}
			expectPage(t, page, http.StatusOK, "Lena Learner")
			// A window of its own still ends after the longer idle timeout.
			clock.Advance(session.DefaultIdle)
			expectPage(t, b.get(r.location), http.StatusUnauthorized, "signed_out")
		})
	}
}

// What a page's script fetches by itself (the live-update stream, the posts it
// announces) does not keep a framed session from going idle; what the person does
// does.
func TestOnlyThePersonKeepsASessionFromGoingIdle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header http.Header
		keeps  bool
	}{
		{name: "navigation", header: http.Header{"Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Dest": {"iframe"}}, keeps: true},
		{name: "browser without Sec-Fetch", header: http.Header{}, keeps: true},
		{name: "live-update stream", header: http.Header{"Accept": {"text/event-stream"}, "Sec-Fetch-Mode": {"cors"}, "Sec-Fetch-Dest": {"empty"}}},
		{name: "old browser's stream", header: http.Header{"Accept": {"text/event-stream"}}},
		{name: "script fetching a post", header: http.Header{"Sec-Fetch-Mode": {"cors"}, "Sec-Fetch-Dest": {"empty"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := fakeclock.New(time.Now())
			e := newLTIEnv(t, sessionClock(clock))
			b := e.browser(t)
			r := e.launch(t, b, learner, course2) // framed: Moodle's iframe
			require.Equal(t, http.StatusSeeOther, r.code, r.body)
			page := e.browser(t)
			page.cookies["huddle_session"] = b.cookies["huddle_session"]
			page.header = tc.header

			for range 5 { // every ten minutes for fifty minutes
				clock.Advance(10 * time.Minute)
				got := page.get(r.location)
				if !tc.keeps && got.code == http.StatusUnauthorized {
					break
				}
				require.Equal(t, http.StatusOK, got.code, got.body)
			}
			if tc.keeps {
				expectPage(t, b.get(r.location), http.StatusOK, "Lena Learner")
			} else {
				expectPage(t, b.get(r.location), http.StatusUnauthorized, "signed_out")
			}
		})
	}
}

// A launch that fails once its token has verified leaves the browser's session alone:
// the state is taken in the same pipeline as the new session's insert (which ends the
// previous person's), and a state that is not taken rolls the insert back with it.
func TestRejectedLaunchKeepsTheBrowsersSession(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	// Eddie has launched before, elsewhere, so his session's insert would find him.
	require.Equal(t, http.StatusSeeOther, e.launch(t, e.browser(t), educator, course2).code)
	sessions := func() (n int) {
		require.NoError(t, e.pool.QueryRow(t.Context(),
			`SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.subject = $1`, educator.Subject).Scan(&n))
		return n
	}
	require.Equal(t, 1, sessions())

	b := e.browser(t)
	lena := e.launch(t, b, learner, course2)
	require.Equal(t, http.StatusSeeOther, lena.code, lena.body)
	first := e.startLogin(t, b, educator)
	second := e.startLogin(t, b, educator)
	// A genuine token for Eddie, posted with the state of another of this browser's
	// logins: it verifies, and the nonce does not match.
	tok := e.platform.Sign(t, e.platform.ResourceLinkClaims(educator, course2, first.Query().Get("nonce")))
	expectPage(t, b.post("/lti/launch", url.Values{"id_token": {tok}, "state": {second.Query().Get("state")}}), http.StatusBadRequest, "bad_nonce")

	expectPage(t, b.get(lena.location), http.StatusOK, "Lena Learner")
	require.Equal(t, 1, sessions(), "the rejected launch started no session")
	// The failed launch used its state up, and the first login still works.
	expectPage(t, b.post("/lti/launch", url.Values{"id_token": {tok}, "state": {second.Query().Get("state")}}), http.StatusBadRequest, "bad_state")
	require.Equal(t, http.StatusSeeOther, b.post("/lti/launch", url.Values{"id_token": {tok}, "state": {first.Query().Get("state")}}).code)
	require.Equal(t, 2, sessions())
}
