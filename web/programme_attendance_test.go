package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var codeRE = regexp.MustCompile(`<p class="lede"><strong>([A-Z0-9]{6})</strong></p>`)

func TestCheckInAndRegister(t *testing.T) {
	t.Parallel()
	pe := newProgrammeEnv(t)
	ctx := t.Context()
	require.Equal(t, http.StatusSeeOther, pe.edu.post(pe.edu.activity+"/programme/sessions", sessionForm(pe.edu.csrf)).code)
	// The session is on now: the server reads the real clock.
	_, err := pe.pool.Exec(ctx, `UPDATE programme_sessions SET starts_at = now() - interval '10 minutes', ends_at = now() + interval '50 minutes'`)
	require.NoError(t, err)
	var sessionID, activityID int64
	require.NoError(t, pe.pool.QueryRow(ctx, `SELECT id, activity_id FROM programme_sessions`).Scan(&sessionID, &activityID))
	sessionPath := pe.edu.activity + "/programme/sessions/" + itoaTest(sessionID)

	register := pe.edu.get(sessionPath + "/attendance")
	expectPage(t, register, http.StatusOK, "Start check-in", "Lena Learner", "0 of 1 learners present")
	require.NotContains(t, register.body, ">Eddie Educator</label>", "the register lists learners")

	expectPage(t, pe.edu.post(sessionPath+"/check-in-code", url.Values{"csrf": {pe.edu.csrf}, "grace": {"999"}}),
		http.StatusUnprocessableEntity, "0 to 240 minutes")
	require.Equal(t, http.StatusSeeOther, pe.edu.post(sessionPath+"/check-in-code", url.Values{"csrf": {pe.edu.csrf}, "grace": {"15"}}).code)
	m := codeRE.FindStringSubmatch(pe.edu.get(sessionPath + "/attendance").body)
	require.NotNil(t, m)
	code := m[1]

	checkIn := func(code string) response {
		return pe.learner.post(pe.learner.activity+"/programme/check-in", url.Values{"csrf": {pe.learner.csrf}, "code": {code}})
	}
	expectPage(t, checkIn("ZZZZZZ"), http.StatusUnprocessableEntity, "does not match a session of this programme")
	r := checkIn(strings.ToLower(code))
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, pe.learner.get(r.location), http.StatusOK, "You are checked in", "You attended")
	expectPage(t, pe.edu.get(sessionPath+"/attendance"), http.StatusOK, "1 of 1 learners present", "checked in with the code")
	n, err := pe.app.Programmes.Attended(ctx, activityID, pe.learner.id)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	csv := pe.edu.get(pe.edu.activity + "/programme/attendance.csv")
	require.Equal(t, http.StatusOK, csv.code)
	require.Contains(t, csv.body, "date,start,session,learner,attended,how\n")
	require.Contains(t, csv.body, ",Sepsis recognition,Lena Learner,yes,code\n")
	expectPage(t, pe.edu.get(pe.edu.activity+"/programme/attendance"), http.StatusOK, "Lena Learner", "1 of 1")
	require.Equal(t, http.StatusForbidden, pe.learner.get(pe.learner.activity+"/programme/attendance.csv").code)

	// The educator's register overrules: unticked, the learner did not attend.
	require.Equal(t, http.StatusSeeOther, pe.edu.post(sessionPath+"/attendance", url.Values{"csrf": {pe.edu.csrf}}).code)
	n, err = pe.app.Programmes.Attended(ctx, activityID, pe.learner.id)
	require.NoError(t, err)
	require.Zero(t, n)

	// Guessing: ten tries in ten minutes, then even the right code waits.
	for i := 0; i < 8; i++ { // two tries were spent above
		require.Equal(t, http.StatusUnprocessableEntity, checkIn("ZZZZZZ").code)
	}
	expectPage(t, checkIn(code), http.StatusTooManyRequests, "Too many check-in attempts")
	n, err = pe.app.Programmes.Attended(ctx, activityID, pe.learner.id)
	require.NoError(t, err)
	require.Zero(t, n)
}

func itoaTest(id int64) string { return strconv.FormatInt(id, 10) }
