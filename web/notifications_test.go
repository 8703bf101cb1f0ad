package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/notify"
)

func TestNotificationsPage(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	require.Equal(t, http.StatusSeeOther, e.launch(t, b, learner, course2).code)
	var userID int64
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT id FROM users WHERE subject = '4'`).Scan(&userID))

	page := b.get("/notifications")
	expectPage(t, page, http.StatusOK, "How do you want to hear from Huddle?", "Straight away", "Once a day", "Never",
		`value="immediate" checked`, "Moodle app")
	require.NotContains(t, page.body, "Your choice is saved")
	csrf := extractValue(t, page.body, "csrf")

	r := b.post("/notifications", url.Values{"csrf": {csrf}, "mode": {"digest"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, "/notifications?saved=1", r.location)
	expectPage(t, b.get(r.location), http.StatusOK, `value="digest" checked`, "Your choice is saved")
	mode, err := e.deps.Notices.Preference(t.Context(), userID)
	require.NoError(t, err)
	require.Equal(t, notify.ModeDigest, mode)

	bad := b.post("/notifications", url.Values{"csrf": {csrf}, "mode": {"pigeon"}})
	expectPage(t, bad, http.StatusUnprocessableEntity, "There is a problem", `href="#mode-immediate"`, `id="mode-immediate"`,
		"Choose how you want to hear from Huddle.", "<title>Error: Notifications")
	require.NotContains(t, bad.body, "checked")
	mode, err = e.deps.Notices.Preference(t.Context(), userID)
	require.NoError(t, err)
	require.Equal(t, notify.ModeDigest, mode, "a refused choice changes nothing")

	// The form needs the page's CSRF token, and the page a session.
	expectPage(t, b.post("/notifications", url.Values{"mode": {"none"}}), http.StatusForbidden, "csrf")
	expectPage(t, e.browser(t).get("/notifications"), http.StatusUnauthorized, "signed_out")
}

// Without a Moodle web services connection nothing reaches Moodle: the page says so.
func TestNotificationsPageWithoutMoodleConnection(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t) // the platform has no connection saved
	b := e.browser(t)
	require.Equal(t, http.StatusSeeOther, e.launch(t, b, learner, course2).code)
	expectPage(t, b.get("/notifications"), http.StatusOK, "Huddle cannot send messages to your Moodle site yet")
}
