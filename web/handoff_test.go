package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOpenInNewWindow(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	frame := e.browser(t)
	r := e.launch(t, frame, learner, course2)
	page := frame.get(r.location)
	expectPage(t, page, http.StatusOK, "Open in new window", `data-new-window`)
	csrf := extractValueMeta(t, page.body)

	// A ticket needs the page's CSRF token, and a path on this site.
	expectPage(t, frame.post("/handoff", url.Values{"path": {r.location}}), http.StatusForbidden, "csrf")
	expectPage(t, frame.post("/handoff", url.Values{"path": {"//evil.example/x"}, "csrf": {csrf}}), http.StatusBadRequest, "bad_path")

	res := frame.post("/handoff", url.Values{"path": {r.location}, "csrf": {csrf}})
	require.Equal(t, http.StatusOK, res.code, res.body)
	var ticket struct{ URL string }
	require.NoError(t, json.Unmarshal([]byte(res.body), &ticket))
	require.Regexp(t, `^/handoff/`, ticket.URL)

	// The new top-level window has none of the frame's cookies; the ticket signs it in.
	window := e.browser(t)
	w := window.get(ticket.URL)
	require.Equal(t, http.StatusSeeOther, w.code, w.body)
	require.Equal(t, r.location, w.location)
	expectPage(t, window.get(w.location), http.StatusOK, "Lena Learner", "Foundation Teaching Programme")

	// Single use.
	expectPage(t, e.browser(t).get(ticket.URL), http.StatusBadRequest, "handoff_expired")
}

func extractValueMeta(t *testing.T, body string) string {
	t.Helper()
	return dataAttrLike(t, body, `name="csrf-token" content="`)
}

func dataAttrLike(t *testing.T, body, prefix string) string {
	t.Helper()
	i := indexOf(body, prefix)
	require.GreaterOrEqual(t, i, 0, "no %s", prefix)
	rest := body[i+len(prefix):]
	return htmlUnescape(rest[:indexOf(rest, `"`)])
}
