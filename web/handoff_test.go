package web_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/session"
	"github.com/huddle-lti/huddle/web"
)

// requireNothingInjected checks that a response sets no cookie but Huddle's own and
// sends the browser nowhere but a page of Huddle's.
func requireNothingInjected(t testing.TB, r response) {
	t.Helper()
	for _, line := range r.header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		require.NoError(t, err, line)
		require.True(t, strings.HasPrefix(c.Name, "huddle_"), "a cookie that is not Huddle's: %q", line)
	}
	for k := range r.header {
		require.NotContains(t, k, ":", "a header name with a colon: %q", k)
	}
	if loc := r.location; loc != "" {
		require.Regexp(t, `^/[^/\\]`, loc)
		require.NotRegexp(t, `[\x00-\x20\x7f]`, loc)
		u, err := url.Parse(loc)
		require.NoError(t, err)
		require.Empty(t, u.Scheme)
		require.Empty(t, u.Host)
	}
}

// newTicket asks for a ticket for path from the framed page and returns its URL.
func newTicket(t testing.TB, frame *browser, csrf, path string) string {
	t.Helper()
	res := frame.post("/handoff", url.Values{"path": {path}, "csrf": {csrf}})
	require.Equal(t, http.StatusOK, res.code, res.body)
	var ticket struct{ URL string }
	require.NoError(t, json.Unmarshal([]byte(res.body), &ticket))
	require.Regexp(t, `^/handoff/[A-Za-z0-9_-]+$`, ticket.URL)
	return ticket.URL
}

// signedInFrame launches the learner into course2 in a frame and returns the frame,
// the activity's path and the page's CSRF token.
func signedInFrame(t testing.TB, e *ltiEnv) (*browser, string, string) {
	t.Helper()
	frame := e.browser(t)
	r := e.launch(t, frame, learner, course2)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	page := frame.get(r.location)
	expectPage(t, page, http.StatusOK, "Open in new window", `data-new-window`)
	return frame, r.location, extractValueMeta(t, page.body)
}

func TestOpenInNewWindow(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	frame, activity, csrf := signedInFrame(t, e)

	// A ticket needs the page's CSRF token, and a path on this site.
	expectPage(t, frame.post("/handoff", url.Values{"path": {activity}}), http.StatusForbidden, "csrf")
	expectPage(t, frame.post("/handoff", url.Values{"path": {"//evil.example/x"}, "csrf": {csrf}}), http.StatusBadRequest, "bad_path")
	ticket := newTicket(t, frame, csrf, activity)

	// The new top-level window has none of the frame's cookies. Opening the ticket
	// signs nobody in: it asks, naming the account and the course.
	window := e.browser(t)
	for range 2 { // looking does not use the ticket up (link previews, scanners)
		w := window.get(ticket)
		expectPage(t, w, http.StatusOK, "Continue as Lena Learner in Foundation Teaching Programme?",
			"If this is not you, close this window.", `id="handoff-confirm"`)
		require.Equal(t, 1, strings.Count(w.body, "<h1"), "one heading")
		require.Equal(t, 1, strings.Count(w.body, "<button"), "one button")
		require.Contains(t, w.body, `<form method="post" action="`+ticket+`"`)
		require.Empty(t, w.header.Values("Set-Cookie"))
		require.Empty(t, w.location)
		require.Contains(t, w.header.Get("Cache-Control"), "no-store")
		require.Contains(t, w.header.Get("Content-Security-Policy"), "frame-ancestors 'none'", "no clickjacking of the button")
		expectPage(t, window.get(activity), http.StatusUnauthorized, "signed_out")
	}

	// Another site cannot press the button for the person: the form is accepted only
	// from Huddle's own page.
	for _, h := range []http.Header{
		{"Origin": {"https://evil.example"}},
		{"Origin": {"null"}},
		{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}},
		{"Origin": {testBase}, "Sec-Fetch-Site": {"cross-site"}},
		{"Sec-Fetch-Site": {"same-site"}},
	} {
		r := window.postWith(h, ticket, url.Values{})
		expectPage(t, r, http.StatusForbidden, "handoff_cross_origin")
		require.Empty(t, r.header.Values("Set-Cookie"))
		expectPage(t, window.get(activity), http.StatusUnauthorized, "signed_out")
	}

	// Pressing it on Huddle's page signs the window in and opens the page.
	w := window.postWith(fromHuddle, ticket, url.Values{})
	require.Equal(t, http.StatusSeeOther, w.code, w.body)
	require.Equal(t, activity, w.location)
	requireNothingInjected(t, w)
	expectPage(t, window.get(w.location), http.StatusOK, "Lena Learner", "Foundation Teaching Programme")

	// Single use: a second press, or a look, finds it expired.
	expectPage(t, e.browser(t).postWith(fromHuddle, ticket, url.Values{}), http.StatusBadRequest, "handoff_expired", "This link has expired")
	expectPage(t, e.browser(t).get(ticket), http.StatusBadRequest, "handoff_expired", "This link has expired")
}

// The place a ticket leads to is a Huddle page, written the one way Huddle writes it:
// a crafted path cannot inject headers, leave the site or land on something that is
// not a page.
func TestHandoffPathMustBeAHuddlePage(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	frame, activity, csrf := signedInFrame(t, e)

	bad := []struct{ name, path string }{
		{"CR LF injecting a cookie", activity + "\r\nSet-Cookie: a=b"},
		{"LF alone", activity + "\nSet-Cookie: a=b"},
		{"tab to another host", "/\t/evil.example"},
		{"space", "/activities/1 x"},
		{"no-break space", "/activities/1\u00a0"},
		{"DEL", "/activities/1\x7f"},
		{"NUL", "/activities/1\x00"},
		{"protocol-relative", "//evil.example"},
		{"protocol-relative with path", "//evil.example/activities/1"},
		{"backslash", "/\\evil.example"},
		{"backslash later", "/activities\\1"},
		{"encoded backslash", "/%5cevil.example"},
		{"absolute URL", "https://evil.example/"},
		{"absolute URL to Huddle", testBase + activity},
		{"javascript", "javascript:alert(1)"},
		{"relative", "activities/1"},
		{"empty", ""},
		{"encoded CR LF", "/%0d%0aSet-Cookie:x"},
		{"encoded CR LF after a page", activity + "%0d%0aSet-Cookie:x"},
		{"encoded slashes", "/%2f%2fevil.example"},
		{"unknown route", "/nope"},
		{"a public route", "/healthz"},
		{"the home page", "/"},
		{"a route that only takes posts", activity + "/setup"},
		{"another ticket", "/handoff/abc"},
		{"dot segments", "/activities/../moderation"},
		{"encoded dot segments", "/activities/%2e%2e/moderation"},
		{"trailing slash", "/notifications/"},
		{"control character in the query", activity + "?a=\x01"},
		{"encoded control character in the query", activity + "?a=%01"},
		{"encoded CR LF in the query", activity + "?a=%0d%0aSet-Cookie:x"},
		{"tab in the query", activity + "?a=\tb"},
		{"space in the query", activity + "?a= b"},
		{"fragment", activity + "#x"},
		{"invalid UTF-8", activity + "?a=\xff"},
		{"too long", activity + "?a=" + strings.Repeat("x", 2000)},
	}
	for _, tt := range bad {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			r := frame.post("/handoff", url.Values{"path": {tt.path}, "csrf": {csrf}})
			// NUL and invalid UTF-8 are refused before any handler by the one check
			// for text PostgreSQL cannot hold (bad_text); the rest by the path check.
			require.Equal(t, http.StatusBadRequest, r.code, r.body)
			require.True(t, strings.Contains(r.body, "bad_path") || strings.Contains(r.body, "bad_text"), r.body)
			requireNothingInjected(t, r)
			require.Empty(t, r.location)
		})
	}

	// Pages a person can land on are fine, and the window gets them back as Huddle
	// writes them: never with the frame's session id.
	good := []struct{ name, path, want string }{
		{"the activity", activity, activity},
		{"a query", activity + "?sort=new&q=a%20b", activity + "?q=a+b&sort=new"},
		{"the frame's session id dropped", activity + "?hs=frame-session&sort=new", activity + "?sort=new"},
		{"notifications", "/notifications", "/notifications"},
		{"own reflections", "/reflections", "/reflections"},
		{"a reflection", "/reflections/12", "/reflections/12"},
		{"a thread", activity + "/threads/3", activity + "/threads/3"},
		{"the activity picker", "/deep-link/abc", "/deep-link/abc"},
		{"longest allowed", activity + "?a=" + strings.Repeat("x", 1990-len(activity)), activity + "?a=" + strings.Repeat("x", 1990-len(activity))},
	}
	for _, tt := range good {
		t.Run("accepted: "+tt.name, func(t *testing.T) {
			ticket := newTicket(t, frame, csrf, tt.path)
			window := e.browser(t)
			expectPage(t, window.get(ticket), http.StatusOK, "Continue as Lena Learner")
			w := window.postWith(fromHuddle, ticket, url.Values{})
			require.Equal(t, http.StatusSeeOther, w.code, w.body)
			require.Equal(t, tt.want, w.location)
			requireNothingInjected(t, w)
		})
	}
}

// FuzzHandoffPath asks for tickets to arbitrary paths. Whatever the path, Huddle
// refuses it with a 400 or the window ends up on a Huddle page, with no header or
// cookie of the path's making.
func FuzzHandoffPath(f *testing.F) {
	e := newLTIEnv(f)
	frame, activity, csrf := signedInFrame(f, e)
	for _, seed := range []string{
		activity, activity + "?q=a%20b&hs=x", "/reflections/1", "/notifications",
		activity + "\r\nSet-Cookie: a=b", "/\t/evil.example", "//evil.example", "/\\evil.example",
		"/%0d%0aSet-Cookie:x", "/activities/%2e%2e/moderation", activity + "?a=%01", "https://evil.example/",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, path string) {
		b := e.browser(t)
		b.cookies = maps.Clone(frame.cookies)
		r := b.post("/handoff", url.Values{"path": {path}, "csrf": {csrf}})
		if r.code != http.StatusOK {
			// Text PostgreSQL cannot hold is refused before the handler (bad_text).
			require.Equal(t, http.StatusBadRequest, r.code, r.body)
			require.True(t, strings.Contains(r.body, "bad_path") || strings.Contains(r.body, "bad_text"), r.body)
			return
		}
		var ticket struct{ URL string }
		require.NoError(t, json.Unmarshal([]byte(r.body), &ticket))
		window := e.browser(t)
		expectPage(t, window.get(ticket.URL), http.StatusOK, "Continue as Lena Learner")
		w := window.postWith(fromHuddle, ticket.URL, url.Values{})
		require.Equal(t, http.StatusSeeOther, w.code, w.body)
		requireNothingInjected(t, w)
		require.NotContains(t, w.location, "hs=")
	})
}

// A ticket whose path got into the database unchecked (an older Huddle issued it, or
// a bug) still leads nowhere but a Huddle page: the path is checked again when the
// ticket is used.
func TestHandoffChecksThePathAgainWhenUsed(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	_, activity, _ := signedInFrame(t, e)
	var sess session.Session
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT id, platform_id FROM users WHERE subject = $1`, learner.Subject).
		Scan(&sess.UserID, &sess.PlatformID))

	for _, path := range []string{
		activity + "\r\nSet-Cookie: a=b",
		"/\t/evil.example",
		"//evil.example",
		"/\\evil.example",
		"https://evil.example/",
		"/nope",
	} {
		t.Run(path, func(t *testing.T) {
			tok, err := e.deps.Sessions.NewHandoff(t.Context(), sess, path)
			require.NoError(t, err)
			window := e.browser(t)
			for _, r := range []response{window.get("/handoff/" + tok), window.postWith(fromHuddle, "/handoff/"+tok, url.Values{})} {
				expectPage(t, r, http.StatusBadRequest, "bad_path")
				requireNothingInjected(t, r)
				require.Empty(t, r.location)
				require.Empty(t, r.header.Values("Set-Cookie"))
			}
		})
	}
}

func TestHandoffTicketLastsAMinute(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Now())
	e := newLTIEnv(t, func(d *web.Deps) {
		d.Sessions = session.NewStore(d.Database.(*pgxpool.Pool), session.Options{Now: clock.Now})
	})
	frame, activity, csrf := signedInFrame(t, e)

	fresh := newTicket(t, frame, csrf, activity)
	stale := newTicket(t, frame, csrf, activity)
	clock.Advance(59 * time.Second)
	expectPage(t, e.browser(t).get(stale), http.StatusOK, "Continue as Lena Learner")
	w := e.browser(t).postWith(fromHuddle, fresh, url.Values{})
	require.Equal(t, http.StatusSeeOther, w.code, w.body)

	clock.Advance(2 * time.Second)
	window := e.browser(t)
	expectPage(t, window.get(stale), http.StatusBadRequest, "handoff_expired", "This link has expired")
	r := window.postWith(fromHuddle, stale, url.Values{})
	expectPage(t, r, http.StatusBadRequest, "handoff_expired")
	require.Empty(t, r.header.Values("Set-Cookie"))
}

// The ticket is a credential for a minute: the page that asks carries it only in its
// own form, and the request log names the route, not the ticket (see observe).
func TestHandoffRoutesNameTheTicketAsAParameter(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	found := map[string]web.Rule{}
	for _, r := range e.srv.Routes() {
		if strings.HasPrefix(r.Path, "/handoff") {
			found[r.Method+" "+r.Path] = r.Rule
		}
	}
	require.Equal(t, map[string]web.Rule{
		"POST /handoff":        web.SignedIn,
		"GET /handoff/:token":  web.Public,
		"POST /handoff/:token": web.Public,
	}, found)
}

func extractValueMeta(t testing.TB, body string) string {
	t.Helper()
	return dataAttrLike(t, body, `name="csrf-token" content="`)
}

func dataAttrLike(t testing.TB, body, prefix string) string {
	t.Helper()
	i := indexOf(body, prefix)
	require.GreaterOrEqual(t, i, 0, "no %s", prefix)
	rest := body[i+len(prefix):]
	return htmlUnescape(rest[:indexOf(rest, `"`)])
}
