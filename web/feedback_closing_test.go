package web_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/internal/fakeclock"
)

// An educator may give a closing time, a UK date and time, when they open a feedback
// form or later while it is open. A time that is not one, has passed, or is more than a
// year away is refused in plain words and nothing changes; a good one is kept in UTC,
// shown in UK time, and recorded in the audit log.
func TestFeedbackClosingTime(t *testing.T) {
	t.Parallel()
	// 15:00 on 4 March 2025: GMT, so UK time is UTC until British Summer Time starts
	// on 30 March.
	clock := fakeclock.New(time.Date(2025, 3, 4, 15, 0, 0, 0, time.UTC))
	e := newClockedEnv(t, clock, &syncBuffer{})
	edu, act := signIn(t, e, educator, feedbackLink("feedback-closing"))
	activity := activityIDOf(t, act)
	page := edu.b.get(act)
	expectPage(t, page, http.StatusOK, "Not open yet", "Close automatically (optional)", `type="date" id="closes_date"`,
		`type="time" id="closes_time"`)
	require.NotContains(t, page.body, "no value")

	closesAt := func(t *testing.T) *time.Time {
		t.Helper()
		var at *time.Time
		require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT closes_at FROM feedback_forms WHERE activity_id = $1`,
			activity).Scan(&at))
		return at
	}
	opened := func(t *testing.T) bool {
		t.Helper()
		var open bool
		require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT opened FROM feedback_forms WHERE activity_id = $1`,
			activity).Scan(&open))
		return open
	}

	for _, tc := range []struct {
		name, date, clock, message string
	}{
		{"a date without a time", "2025-03-11", "", "Enter the time the form closes, for example 17:00, or leave the date empty too."},
		{"a time without a date", "", "17:00", "Enter the date the form closes, or leave the time empty too."},
		{"no such date", "31/02/2025", "17:00", "Enter the closing date as day, month and year, for example 14/03/2026."},
		{"not a time", "2025-03-11", "5pm", "Enter the closing time on the 24-hour clock, for example 17:00."},
		{"passed an hour ago", "2025-03-04", "14:00", "That closing time has already passed. Choose a time later than now."},
		{"more than a year away", "2026-03-06", "09:00", "Choose a closing time within a year from today."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(auditRowsAfter(t, e.pool, 0))
			r := edu.b.post(act+"/feedback/open", url.Values{"csrf": {edu.csrf}, "closes_date": {tc.date}, "closes_time": {tc.clock}})
			expectPage(t, r, http.StatusUnprocessableEntity, "There is a problem", tc.message,
				`value="`+tc.date+`"`, `value="`+tc.clock+`"`)
			require.False(t, opened(t), "not opened")
			require.Nil(t, closesAt(t))
			require.Len(t, auditRowsAfter(t, e.pool, 0), before, "nothing recorded")
		})
	}

	t.Run("opened with a closing time in British Summer Time", func(t *testing.T) {
		edu.submit(t, act+"/feedback/open", url.Values{"closes_date": {"02/04/2025"}, "closes_time": {"17:30"}})
		require.True(t, opened(t))
		require.Equal(t, time.Date(2025, 4, 2, 16, 30, 0, 0, time.UTC), closesAt(t).UTC(), "17:30 UK time is 16:30 UTC")
		expectPage(t, edu.b.get(act), http.StatusOK, "Closes by itself at <strong>17:30 on Wednesday 2 April 2025</strong>",
			"Close the form now")
		rows := auditRowsAfter(t, e.pool, 0)
		last := rows[len(rows)-1]
		require.Equal(t, string(audit.FeedbackOpen), last.Action)
		require.Equal(t, activity, last.Target)
		require.Equal(t, "closes_utc=2025-04-02_16:30", last.Detail)
	})

	t.Run("set while open", func(t *testing.T) {
		other, act2 := signIn(t, e, educator, feedbackLink("feedback-closing-later"))
		other.submit(t, act2+"/feedback/open", url.Values{})
		page := other.b.get(act2)
		expectPage(t, page, http.StatusOK, "Set a closing time", "Close the form now")
		r := other.b.post(act2+"/feedback/open", url.Values{"csrf": {other.csrf}})
		expectPage(t, r, http.StatusUnprocessableEntity, "Enter the date and time the form closes.")
		other.submit(t, act2+"/feedback/open", url.Values{"closes_date": {"2025-03-05"}, "closes_time": {"09:00"}})
		rows := auditRowsAfter(t, e.pool, 0)
		last := rows[len(rows)-1]
		require.Equal(t, string(audit.FeedbackCloseSchedule), last.Action)
		require.Equal(t, "closes_utc=2025-03-05_09:00", last.Detail)
		page = other.b.get(act2)
		expectPage(t, page, http.StatusOK, "Closes by itself at <strong>09:00 on Wednesday 5 March 2025</strong>")
		require.NotContains(t, page.body, "Set a closing time", "the service keeps the first closing time it is given")
	})
}
