package web_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/feedback"
	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/lti/ltitest"
)

var feedbackLinkRE = regexp.MustCompile(`href="(/activities/\d+\?programme=\d+&amp;session=\d+)">Give feedback on the session`)

// TestFeedbackPerSession: one feedback form linked to two sessions of a teaching
// programme. Learners open it from each session's page, and their responses count for
// that session; the educator sees the term's results and, for the session whose own
// batch reached the threshold, that session's; the session that did not shows only
// that it has too few, and its responses are in no view before the close.
func TestFeedbackPerSession(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2025, 3, 11, 15, 0, 0, 0, time.UTC))
	e := newClockedEnv(t, clock, &syncBuffer{})
	fbLink := feedbackLink("feedback-sessions")
	edu, fbAct := signIn(t, e, educator, fbLink)
	eduProg, progAct := signIn(t, e, educator, programmeLink())
	fbID := strings.TrimPrefix(fbAct, "/activities/")

	// Two past sessions, both linked to the form.
	for _, day := range []string{"2025-03-04", "2025-03-11"} {
		form := sessionForm(eduProg.csrf)
		form.Set("date", day)
		form.Set("feedback_activity", fbID)
		form.Del("grades")
		r := eduProg.b.post(progAct+"/programme/sessions", form)
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
	}
	var sessions []string
	rows, err := e.pool.Query(t.Context(), `SELECT id FROM programme_sessions ORDER BY starts_at`)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		sessions = append(sessions, strconv.FormatInt(id, 10))
	}
	require.NoError(t, rows.Err())
	require.Len(t, sessions, 2)
	edu.submit(t, fbAct+"/feedback/form", builderForm(3, feedback.Template(), "save"))
	edu.submit(t, fbAct+"/feedback/open", url.Values{})

	// The session page links to the form for that session.
	sessionPage := eduProg.b.get(progAct + "/programme/sessions/" + sessions[0])
	m := feedbackLinkRE.FindStringSubmatch(sessionPage.body)
	require.NotNil(t, m, sessionPage.body)
	first := strings.ReplaceAll(m[1], "&amp;", "&")
	require.Equal(t, fbAct+"?programme="+strings.TrimPrefix(progAct, "/activities/")+"&session="+sessions[0], first)
	second := strings.Replace(first, "session="+sessions[0], "session="+sessions[1], 1)

	var learners []person
	for i := range 4 {
		p, _ := signIn(t, e, ltitest.Member{Subject: "ps-" + strconv.Itoa(i), Name: "Learner " + strconv.Itoa(i),
			Email: "ps" + strconv.Itoa(i) + "@example.com", Roles: []string{ltitest.RoleLearner}}, fbLink)
		learners = append(learners, p)
	}
	// Opened from Moodle, the form offers the sessions that use it.
	expectPage(t, learners[0].b.get(fbAct), http.StatusOK, "Feedback on a session",
		`href="`+strings.ReplaceAll(first, "&", "&amp;")+`">Sepsis recognition, Tuesday 4 March 2025</a>`)
	form := learners[0].b.get(first)
	expectPage(t, form, http.StatusOK, "Feedback on <strong>Sepsis recognition</strong>, Tuesday 4 March 2025",
		`name="session" value="`+sessions[0]+`"`, "Back to the session")

	send := func(p person, target string, overall int) response {
		u, err := url.Parse(target)
		require.NoError(t, err)
		v := feedbackAnswers(p.csrf, overall, "")
		v.Set("programme", u.Query().Get("programme"))
		v.Set("session", u.Query().Get("session"))
		return p.b.post(fbAct+"/feedback/responses", v)
	}
	eduPages := func() []string {
		var out []string
		for _, path := range []string{fbAct, fbAct + "/feedback/results", fbAct + "/feedback/results?session=" + sessions[0],
			fbAct + "/feedback/results?session=" + sessions[1]} {
			page := edu.b.get(path)
			require.Equal(t, http.StatusOK, page.code, page.body)
			out = append(out, page.body)
		}
		return out
	}
	before := eduPages()
	for i, p := range learners[:3] {
		r := send(p, first, 5)
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		require.Contains(t, r.location, "session="+sessions[0])
		expectPage(t, p.b.get(r.location), http.StatusOK, "Thank you: your feedback is sent")
		require.Equal(t, before, eduPages(), "no educator page changes when learner %d answers", i)
	}
	// The same learner answers the second session too, once.
	r := send(learners[0], second, 1)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, send(learners[0], second, 1), http.StatusConflict, "already sent your feedback")
	expectPage(t, send(learners[0], first, 1), http.StatusConflict, "already sent your feedback")
	expectPage(t, learners[0].b.get(second), http.StatusOK, "You have sent your feedback for this session.")
	expectPage(t, learners[0].b.get(fbAct), http.StatusOK, "Sepsis recognition, Tuesday 11 March 2025: feedback sent")
	expectPage(t, learners[3].b.get(second), http.StatusOK, "Send feedback")
	require.Equal(t, before, eduPages())

	// A session that does not link this form, or does not exist, is refused.
	expectPage(t, learners[3].b.get(fbAct+"?programme="+strings.TrimPrefix(progAct, "/activities/")+"&session=999999"),
		http.StatusNotFound, "feedback_session")
	bad := send(learners[3], strings.Replace(first, "session="+sessions[0], "session=999999", 1), 4)
	expectPage(t, bad, http.StatusNotFound, "feedback_session")

	clock.Advance(time.Minute)
	runFeedbackReleaseJob(t, e)
	term := edu.b.get(fbAct + "/feedback/results")
	expectPage(t, term, http.StatusOK, "3 responses in the results", "By session",
		"results?session="+sessions[0], "Not shown: fewer than 3")
	require.NotContains(t, term.body, "results?session="+sessions[1])
	one := edu.b.get(fbAct + "/feedback/results?session=" + sessions[0])
	expectPage(t, one, http.StatusOK, "Feedback results: Sepsis recognition", "Tuesday 4 March 2025",
		"3 responses in the results", "Mean 5.00", "results.csv?session="+sessions[0])
	two := edu.b.get(fbAct + "/feedback/results?session=" + sessions[1])
	expectPage(t, two, http.StatusOK, "0 responses in the results", "A session's results show once 3")
	require.NotContains(t, two.body, "<svg")
	require.Equal(t, http.StatusConflict, edu.b.get(fbAct+"/feedback/results.csv?session="+sessions[1]).code)
	expectPage(t, edu.b.get(fbAct+"/feedback/results?session=999999"), http.StatusNotFound, "feedback_session")

	csvPage := edu.b.get(fbAct + "/feedback/results.csv?session=" + sessions[0])
	require.Equal(t, http.StatusOK, csvPage.code, csvPage.body)
	require.Contains(t, csvPage.header.Get("Content-Disposition"), "-session-"+sessions[0]+".csv")
	records, err := csv.NewReader(strings.NewReader(csvPage.body)).ReadAll()
	require.NoError(t, err)
	require.Contains(t, records, []string{"Overall, how would you rate this session?", "rating", "mean", "5.00", "", "3", "3"})

	// Learners do not read results, per session or not.
	require.Equal(t, http.StatusForbidden, learners[1].b.get(fbAct+"/feedback/results?session="+sessions[0]).code)
}
