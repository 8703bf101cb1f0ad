package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/gradesync"
)

func TestGradeSyncPage(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	link := course2
	link.Custom = map[string]string{"huddle_kind": "test_board"}
	eb := e.browser(t)
	er := e.launch(t, eb, educator, link)
	lb := e.browser(t)
	require.Equal(t, http.StatusSeeOther, e.launch(t, lb, learner, link).code)
	activity := strings.TrimPrefix(er.location, "/activities/")

	var activityID, learnerID int64
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT a.id, u.id FROM activities a, users u WHERE u.subject = '4'`).Scan(&activityID, &learnerID))
	require.NoError(t, e.deps.Grades.Submit(t.Context(), gradesync.Score{ActivityID: activityID, UserID: learnerID, Given: 100.0 / 3, Maximum: 100,
		ActivityProgress: gradesync.ActivityCompleted, GradingProgress: gradesync.GradingFully, At: time.Now()}))
	_, err := e.pool.Exec(t.Context(), `UPDATE scores SET state = 'failed', last_error = 'Moodle does not accept a grade for this person in this course.'`)
	require.NoError(t, err)

	main := eb.get(er.location)
	expectPage(t, main, http.StatusOK, "Grade sync", "0 waiting, 1 failed")
	page := eb.get(er.location + "/grades")
	expectPage(t, page, http.StatusOK, "Lena Learner", "33.33 / 100", "Failed: Moodle does not accept a grade", "Retry now")
	require.NotContains(t, page.body, "33.333", "scores are rounded for people")

	r := eb.post("/activities/"+activity+"/grades/"+strconv.FormatInt(learnerID, 10)+"/retry", url.Values{"csrf": {extractValue(t, page.body, "csrf")}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, eb.get(r.location), http.StatusOK, "Waiting", "try again")

	// The educator can send grades through Moodle's web services instead.
	page = eb.get(er.location + "/grades")
	expectPage(t, page, http.StatusOK, `value="ags" checked`)
	r = eb.post("/activities/"+activity+"/grades-path", url.Values{"csrf": {extractValue(t, page.body, "csrf")}, "path": {"moodle_ws"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, eb.get(r.location), http.StatusOK, `value="moodle_ws" checked`, "Saved.")
	expectPage(t, eb.post("/activities/"+activity+"/grades-path", url.Values{"csrf": {extractValue(t, page.body, "csrf")}, "path": {"pigeon"}}),
		http.StatusUnprocessableEntity, "bad_grade_path")

	// Learners never see the grade sync page.
	expectPage(t, lb.get(er.location+"/grades"), http.StatusForbidden, "forbidden")
}
