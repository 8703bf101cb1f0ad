package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/web"
)

var feedURLRE = regexp.MustCompile(`id="feed-url" readonly value="https://huddle\.test(/calendar/([A-Za-z0-9_-]{43})\.ics)"`)

// calendarApp fetches a feed as a calendar app does: no cookies, no session, only the
// URL and the validators it kept from last time.
func calendarApp(pe *programmeEnv, t *testing.T, path string, h http.Header) response {
	t.Helper()
	b := pe.browser(t)
	b.header = h
	return b.get(path)
}

func TestCalendarFeedSubscribePollRevoke(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	le := &logEnv{ltiEnv: newLTIEnv(t, func(d *web.Deps) {
		d.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})}
	pe := &programmeEnv{ltiEnv: le.ltiEnv}
	pe.edu = le.signIn(t, educator, programmeLink())
	pe.learner = le.signIn(t, learner, programmeLink())
	r := pe.edu.post(pe.edu.activity+"/programme/sessions", sessionForm(pe.edu.csrf))
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	sessionID := sessionLinkRE.FindStringSubmatch(pe.learner.get(pe.learner.activity).body)[1]

	expectPage(t, pe.learner.get(pe.learner.activity+"/programme/calendar"), http.StatusOK, "Make my calendar link")
	made := pe.learner.post(pe.learner.activity+"/programme/calendar", url.Values{"csrf": {pe.learner.csrf}})
	expectPage(t, made, http.StatusOK, "webcal://huddle.test/calendar/", "https://calendar.google.com/calendar/render?cid=webcal%3A%2F%2F",
		"https://outlook.office.com/calendar/0/addfromweb?url=https%3A%2F%2Fhuddle.test%2Fcalendar%2F", `<img src="data:image/svg&#43;xml;base64,`)
	require.Equal(t, "no-store", made.header.Get("Cache-Control"), "the page holds the secret")
	m := feedURLRE.FindStringSubmatch(made.body)
	require.NotNil(t, m, made.body)
	feed, secret := m[1], m[2]
	// Only now: the page does not show it again.
	again := pe.learner.get(pe.learner.activity + "/programme/calendar")
	expectPage(t, again, http.StatusOK, "Huddle cannot show it again")
	require.NotContains(t, again.body, secret)

	first := calendarApp(pe, t, feed, nil)
	expectPage(t, first, http.StatusOK, "BEGIN:VCALENDAR", "SUMMARY:Sepsis recognition", "DTSTART;TZID=Europe/London:20300603T090000",
		"SEQUENCE:0", "STATUS:CONFIRMED", "BEGIN:VTIMEZONE")
	require.Equal(t, "text/calendar; charset=utf-8", first.header.Get("Content-Type"))
	require.Equal(t, "private, no-cache", first.header.Get("Cache-Control"))
	etag, modified := first.header.Get("ETag"), first.header.Get("Last-Modified")
	require.NotEmpty(t, etag)
	require.NotEmpty(t, modified)

	for _, tc := range []struct {
		name   string
		header http.Header
		code   int
	}{
		{"the same ETag", http.Header{"If-None-Match": {etag}}, http.StatusNotModified},
		{"among others, weak", http.Header{"If-None-Match": {`"other", W/` + etag}}, http.StatusNotModified},
		{"the same date", http.Header{"If-Modified-Since": {modified}}, http.StatusNotModified},
		{"another ETag, the same date: the ETag decides", http.Header{"If-None-Match": {`"other"`}, "If-Modified-Since": {modified}}, http.StatusOK},
		{"an older date", http.Header{"If-Modified-Since": {"Mon, 01 Jan 2024 00:00:00 GMT"}}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := calendarApp(pe, t, feed, tc.header)
			require.Equal(t, tc.code, r.code, r.body)
			if tc.code == http.StatusNotModified {
				require.Empty(t, r.body)
				require.Equal(t, etag, r.header.Get("ETag"))
			}
		})
	}

	// The educator moves the session: the calendar's copy is stale and is replaced.
	edit := sessionForm(pe.edu.csrf)
	edit.Set("start", "10:00")
	edit.Set("end", "11:00")
	require.Equal(t, http.StatusSeeOther, pe.edu.post(pe.edu.activity+"/programme/sessions/"+sessionID, edit).code)
	moved := calendarApp(pe, t, feed, http.Header{"If-None-Match": {etag}})
	expectPage(t, moved, http.StatusOK, "DTSTART;TZID=Europe/London:20300603T100000", "SEQUENCE:1")
	require.NotEqual(t, etag, moved.header.Get("ETag"))

	// Cancelled: still in the feed, as cancelled.
	require.Equal(t, http.StatusSeeOther, pe.edu.post(pe.edu.activity+"/programme/sessions/"+sessionID+"/cancel",
		url.Values{"csrf": {pe.edu.csrf}}).code)
	expectPage(t, calendarApp(pe, t, feed, nil), http.StatusOK, "STATUS:CANCELLED", "SEQUENCE:2")

	// One programme's feed, and a session on its own.
	expectPage(t, calendarApp(pe, t, strings.TrimSuffix(feed, ".ics")+"/programmes/"+strings.TrimPrefix(pe.learner.activity, "/activities/")+".ics", nil),
		http.StatusOK, "SUMMARY:Cancelled: Sepsis recognition")
	one := pe.learner.get(pe.learner.activity + "/programme/sessions/" + sessionID + "/calendar.ics")
	expectPage(t, one, http.StatusOK, "BEGIN:VEVENT", "STATUS:CANCELLED")
	require.Contains(t, one.header.Get("Content-Disposition"), "attachment")

	// A new link replaces the old one on the next request, validators or not.
	renewed := pe.learner.post(pe.learner.activity+"/programme/calendar", url.Values{"csrf": {pe.learner.csrf}, "grade": {"F2"}})
	m2 := feedURLRE.FindStringSubmatch(renewed.body)
	require.NotNil(t, m2)
	require.NotEqual(t, secret, m2[2])
	expectPage(t, calendarApp(pe, t, feed, http.Header{"If-None-Match": {etag}}), http.StatusNotFound, "calendar_not_found")
	expectPage(t, calendarApp(pe, t, m2[1], nil), http.StatusOK, "BEGIN:VCALENDAR")
	require.NotContains(t, calendarApp(pe, t, m2[1], nil).body, "Sepsis", "the F1 session is not in an F2 feed")

	// Turned off: gone on the next request.
	r = pe.learner.post(pe.learner.activity+"/programme/calendar/revoke", url.Values{"csrf": {pe.learner.csrf}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, calendarApp(pe, t, m2[1], nil), http.StatusNotFound, "calendar_not_found")
	expectPage(t, calendarApp(pe, t, "/calendar/not-a-secret.ics", nil), http.StatusNotFound, "calendar_not_found")

	// The logs name the route, never the secret.
	require.Contains(t, logs.String(), "/calendar/:secret.ics")
	require.NotContains(t, logs.String(), secret)
	require.NotContains(t, logs.String(), m2[2])
}

// Two instances behind a load balancer: the calendar app polls the second, which
// keeps a rendering of the feed; the educator and the learner use the first. A
// change shows on the second's very next answer, and a revoked link is refused there
// on the very next request, whatever the second has cached.
func TestCalendarFeedAcrossInstances(t *testing.T) {
	t.Parallel()
	pe := newProgrammeEnv(t)
	r := pe.edu.post(pe.edu.activity+"/programme/sessions", sessionForm(pe.edu.csrf))
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	sessionID := sessionLinkRE.FindStringSubmatch(pe.learner.get(pe.learner.activity).body)[1]
	made := pe.learner.post(pe.learner.activity+"/programme/calendar", url.Values{"csrf": {pe.learner.csrf}})
	m := feedURLRE.FindStringSubmatch(made.body)
	require.NotNil(t, m, made.body)
	other := pe.secondInstance(t)
	poll := func(etag string) (int, string, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, other+m[1], nil)
		require.NoError(t, err)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header.Get("ETag"), string(body)
	}
	code, etag, body := poll("")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "DTSTART;TZID=Europe/London:20300603T090000")
	code, _, _ = poll(etag)
	require.Equal(t, http.StatusNotModified, code)

	edit := sessionForm(pe.edu.csrf)
	edit.Set("start", "14:00")
	edit.Set("end", "15:00")
	require.Equal(t, http.StatusSeeOther, pe.edu.post(pe.edu.activity+"/programme/sessions/"+sessionID, edit).code)
	code, moved, body := poll(etag)
	require.Equal(t, http.StatusOK, code, "the calendar's copy is stale")
	require.NotEqual(t, etag, moved)
	require.Contains(t, body, "DTSTART;TZID=Europe/London:20300603T140000")
	require.Contains(t, body, "SEQUENCE:1")
	code, _, _ = poll(moved)
	require.Equal(t, http.StatusNotModified, code)

	r = pe.learner.post(pe.learner.activity+"/programme/calendar/revoke", url.Values{"csrf": {pe.learner.csrf}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	for _, tag := range []string{moved, ""} {
		code, _, body = poll(tag)
		require.Equal(t, http.StatusNotFound, code, "validators %q: the second instance's rendering is not an answer", tag)
		require.Contains(t, body, "calendar_not_found")
		require.NotContains(t, body, "BEGIN:VCALENDAR")
	}
}
