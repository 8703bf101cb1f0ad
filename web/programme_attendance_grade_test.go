package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/programme"
)

// workJobs works the available jobs of kind with worker, as River would, each
// completing (in its own transaction when the worker does so itself).
func workJobs[T river.JobArgs](t *testing.T, le *logEnv, kind string, worker river.Worker[T]) int {
	t.Helper()
	ctx := t.Context()
	rows, err := le.pool.Query(ctx, `SELECT id FROM river_job WHERE kind = $1 AND state = 'available' ORDER BY id`, kind)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	w := rivertest.NewWorker(t, riverpgxv5.New(le.pool), &river.Config{}, worker)
	for _, id := range ids {
		job, err := le.app.Queue.JobGet(ctx, id)
		require.NoError(t, err)
		tx, err := le.pool.Begin(ctx)
		require.NoError(t, err)
		res, err := w.WorkJob(ctx, t, tx, job)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		require.NoError(t, tx.Commit(ctx))
	}
	return len(ids)
}

// An educator turns the attendance grade on from the attendance page; a register then
// sends the learner's attendance to the programme's own gradebook column through grade
// sync, and completes a certificate that asks for one session of that programme.
func TestAttendanceGradeAndCertificateRequirement(t *testing.T) {
	t.Parallel()
	le := &logEnv{ltiEnv: newLTIEnv(t)}
	edu := le.signIn(t, educator, programmeLink())
	lrn := le.signIn(t, learner, programmeLink())
	certEdu := le.signIn(t, educator, certLink())
	progID := strings.TrimPrefix(edu.activity, "/activities/")

	page := edu.get(edu.activity + "/programme/attendance")
	expectPage(t, page, http.StatusOK, "Send each learner's attendance to this programme's column")
	require.NotContains(t, page.body, `value="yes" checked`, "off by default")
	require.Equal(t, http.StatusForbidden, lrn.post(lrn.activity+"/programme/attendance/grade",
		url.Values{"csrf": {lrn.csrf}, "grade": {"yes"}}).code)
	r := edu.post(edu.activity+"/programme/attendance/grade", url.Values{"csrf": {edu.csrf}, "grade": {"yes"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, edu.get(r.location), http.StatusOK, "goes to Moodle's gradebook", `value="yes" checked`)

	// The certificate's form offers the attendance kinds and the course's programme.
	settings := certEdu.get(certEdu.activity + "/certificate-settings")
	expectPage(t, settings, http.StatusOK, "Sessions attended in a teaching programme (a number)",
		"Sessions attended in a teaching programme (a percentage)", `<option value="`+progID+`"`)
	r = certEdu.post(certEdu.activity+"/certificate-settings", url.Values{"csrf": {certEdu.csrf},
		"title": {"FY1 teaching attendance"}, "organisation": {"Example NHS Foundation Trust"},
		"req_kind": {string(certificates.AttendedSessions)}, "req_activity": {progID}, "req_count": {"1"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, certEdu.get(certEdu.activity), http.StatusOK, "Attend at least 1 session of the chosen teaching programme",
		"0 of 1 sessions attended so far.")

	require.Equal(t, http.StatusSeeOther, edu.post(edu.activity+"/programme/sessions", sessionForm(edu.csrf)).code)
	var sessionID int64
	// The session is on now (the summary lists the sessions that have started).
	require.NoError(t, le.pool.QueryRow(t.Context(), `UPDATE programme_sessions
SET starts_at = now() - interval '10 minutes', ends_at = now() + interval '50 minutes' RETURNING id`).Scan(&sessionID))
	r = edu.post(edu.activity+"/programme/sessions/"+itoaTest(sessionID)+"/attendance",
		url.Values{"csrf": {edu.csrf}, "present": {itoaTest(lrn.id)}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)

	require.Equal(t, 1, workJobs(t, le, "programme_attendance_grade", river.Worker[programme.AttendanceGradeArgs](
		&programme.AttendanceGradeWorker{Service: le.app.Programmes})))
	var given, maximum float64
	require.NoError(t, le.pool.QueryRow(t.Context(), `SELECT score_given, score_maximum FROM scores WHERE activity_id = $1::bigint AND user_id = $2`,
		progID, lrn.id).Scan(&given, &maximum), "the score is on the programme's own activity")
	require.Equal(t, 100.0, given)
	require.Equal(t, 100.0, maximum)
	require.Equal(t, 1, le.count(t, `SELECT count(*) FROM river_job WHERE kind = 'grade_sync_dispatch'
AND args->>'activity_id' = $1`, progID), "grade sync delivers it")
	expectPage(t, edu.get(edu.activity+"/programme/attendance"), http.StatusOK, "Grade sent to Moodle", "<td>100%</td>")

	require.Equal(t, 1, workJobs(t, le, "certificate_check", river.Worker[certificates.CheckArgs](
		certificates.NewCheckWorker(le.app.Certificates))), "the register queued the learner's check")
	require.Equal(t, 1, le.count(t, `SELECT count(*) FROM certificates WHERE user_id = $1 AND revoked_at IS NULL`, lrn.id))

	r = edu.post(edu.activity+"/programme/attendance/grade", url.Values{"csrf": {edu.csrf}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, edu.get(r.location), http.StatusOK, "Huddle sends no more attendance grades")
	on, err := le.app.Programmes.AttendanceGrade(t.Context(), mustAtoi(t, progID))
	require.NoError(t, err)
	require.False(t, on)
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err)
	return n
}
