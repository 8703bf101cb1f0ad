package web_test

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/audit"
)

// Every educator action on a teaching programme writes one audit entry naming who,
// where and which session; none holds a title, a place, a check-in code or an
// announcement's words; learners' own actions write none.
func TestProgrammeActionsAreAudited(t *testing.T) {
	t.Parallel()
	pe := newProgrammeEnv(t)
	programmeID := activityIDOf(t, pe.edu.activity)
	var courseID int64
	require.NoError(t, pe.pool.QueryRow(t.Context(), `SELECT course_id FROM activities WHERE id = $1`, programmeID).Scan(&courseID))
	var last int64
	latest := func(t *testing.T) []auditRow {
		t.Helper()
		rows := auditRowsAfter(t, pe.pool, last)
		for _, r := range rows {
			last = max(last, r.ID)
		}
		return rows
	}
	latest(t) // the set-up by Deep Linking and the launch
	var sessionIDs []int64
	newestSession := func(t *testing.T) int64 {
		t.Helper()
		var id int64
		require.NoError(t, pe.pool.QueryRow(t.Context(), `SELECT max(id) FROM programme_sessions`).Scan(&id))
		sessionIDs = append(sessionIDs, id)
		return id
	}
	ok := func(t *testing.T, r response) {
		t.Helper()
		require.Contains(t, []int{http.StatusSeeOther, http.StatusOK}, r.code, r.body)
	}
	session := func() string { return pe.edu.activity + "/programme/sessions/" + strconv.FormatInt(sessionIDs[0], 10) }
	codeRE := regexp.MustCompile(`<p class="lede"><strong>([A-Z0-9]+)</strong>`)
	var code string

	for _, tc := range []struct {
		name string
		act  func(t *testing.T) (audit.Action, string) // "" action: nothing recorded
	}{
		{"a session", func(t *testing.T) (audit.Action, string) {
			ok(t, pe.edu.post(pe.edu.activity+"/programme/sessions", sessionForm(pe.edu.csrf)))
			return audit.ProgrammeSessionCreate, "session=" + strconv.FormatInt(newestSession(t), 10)
		}},
		{"a weekly series", func(t *testing.T) (audit.Action, string) {
			f := sessionForm(pe.edu.csrf)
			f.Set("weeks", "4")
			f.Set("date", "2030-09-02")
			ok(t, pe.edu.post(pe.edu.activity+"/programme/sessions", f))
			last := newestSession(t)
			return audit.ProgrammeSeriesCreate, "series=" + strconv.FormatInt(last-3, 10) + ",sessions=4"
		}},
		{"an edit of the text", func(t *testing.T) (audit.Action, string) {
			f := sessionForm(pe.edu.csrf)
			f.Set("location", "Lecture theatre")
			ok(t, pe.edu.post(session(), f))
			return audit.ProgrammeSessionUpdate, "session=" + strconv.FormatInt(sessionIDs[0], 10)
		}},
		{"a reschedule", func(t *testing.T) (audit.Action, string) {
			f := sessionForm(pe.edu.csrf)
			f.Set("start", "13:00")
			f.Set("end", "14:00")
			ok(t, pe.edu.post(session(), f))
			return audit.ProgrammeSessionReschedule, "session=" + strconv.FormatInt(sessionIDs[0], 10)
		}},
		{"a check-in code", func(t *testing.T) (audit.Action, string) {
			ok(t, pe.edu.post(session()+"/check-in-code", url.Values{"csrf": {pe.edu.csrf}, "grace": {"20"}}))
			page := pe.edu.get(session() + "/attendance")
			if m := codeRE.FindStringSubmatch(page.body); m != nil {
				code = m[1]
			}
			return audit.ProgrammeCheckInStart, "session=" + strconv.FormatInt(sessionIDs[0], 10) + ",grace_minutes=20"
		}},
		{"a refused check-in code", func(t *testing.T) (audit.Action, string) {
			r := pe.edu.post(session()+"/check-in-code", url.Values{"csrf": {pe.edu.csrf}, "grace": {"9999"}})
			require.Equal(t, http.StatusUnprocessableEntity, r.code, r.body)
			return "", ""
		}},
		{"the register", func(t *testing.T) (audit.Action, string) {
			ok(t, pe.edu.post(session()+"/attendance", url.Values{"csrf": {pe.edu.csrf},
				"present": {strconv.FormatInt(pe.learner.id, 10)}}))
			return audit.ProgrammeAttendanceMark, "session=" + strconv.FormatInt(sessionIDs[0], 10) + ",present=1"
		}},
		{"a register a learner tries to mark", func(t *testing.T) (audit.Action, string) {
			r := pe.learner.post(pe.learner.activity+"/programme/sessions/"+strconv.FormatInt(sessionIDs[0], 10)+"/attendance",
				url.Values{"csrf": {pe.learner.csrf}, "present": {strconv.FormatInt(pe.learner.id, 10)}})
			require.Equal(t, http.StatusForbidden, r.code)
			return "", ""
		}},
		{"an import", func(t *testing.T) (audit.Action, string) {
			csv := "title,date,start,end\nFluids,07/10/2030,09:00,10:00\nAKI,08/10/2030,09:00,10:00\n"
			r := upload(t, pe.edu, pe.edu.activity+"/programme/import", "term.csv", []byte(csv))
			require.Equal(t, http.StatusSeeOther, r.code, r.body)
			return audit.ProgrammeImport, "sessions=2"
		}},
		{"a refused import", func(t *testing.T) (audit.Action, string) {
			r := upload(t, pe.edu, pe.edu.activity+"/programme/import", "term.csv", []byte("title,date,start,end\nFluids,07/10/2030,11:00,10:00\n"))
			require.Equal(t, http.StatusUnprocessableEntity, r.code, r.body)
			return "", ""
		}},
		{"an announcement", func(t *testing.T) (audit.Action, string) {
			ok(t, pe.edu.post(pe.edu.activity+"/programme/announcements", url.Values{"csrf": {pe.edu.csrf},
				"subject": {"Room change for fluids"}, "body": {"Fluids teaching moves to the skills lab."}, "grade": {"F1"}}))
			var id int64
			require.NoError(t, pe.pool.QueryRow(t.Context(), `SELECT max(id) FROM programme_announcements`).Scan(&id))
			return audit.ProgrammeAnnounce, "announcement=" + strconv.FormatInt(id, 10) + ",recipients=1,grade=f1"
		}},
		{"settings", func(t *testing.T) (audit.Action, string) {
			ok(t, pe.edu.post(pe.edu.activity+"/programme/settings", url.Values{"csrf": {pe.edu.csrf}, "reminder": {"60"}}))
			return audit.ProgrammeSettingsUpdate, "moodle_events=false,for_grades=false,reminder_minutes=60"
		}},
		{"a cancellation", func(t *testing.T) (audit.Action, string) {
			ok(t, pe.edu.post(session()+"/cancel", url.Values{"csrf": {pe.edu.csrf}}))
			return audit.ProgrammeSessionCancel, "session=" + strconv.FormatInt(sessionIDs[0], 10)
		}},
		{"a learner's own calendar link and reminders", func(t *testing.T) (audit.Action, string) {
			ok(t, pe.learner.post(pe.learner.activity+"/programme/calendar", url.Values{"csrf": {pe.learner.csrf}}))
			ok(t, pe.learner.post(pe.learner.activity+"/programme/calendar", url.Values{"csrf": {pe.learner.csrf}}))
			ok(t, pe.learner.post(pe.learner.activity+"/programme/reminders", url.Values{"csrf": {pe.learner.csrf}, "on": {"no"}}))
			return "", ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			action, detail := tc.act(t)
			rows := latest(t)
			if action == "" {
				require.Empty(t, rows)
				return
			}
			require.Len(t, rows, 1, "%+v", rows)
			r := rows[0]
			require.Equal(t, string(action), r.Action)
			require.Equal(t, pe.edu.id, r.Actor)
			require.Equal(t, courseID, r.Course)
			require.Equal(t, programmeID, r.Activity)
			require.Equal(t, audit.TargetActivity, r.TargetType)
			require.Equal(t, programmeID, r.Target)
			require.Equal(t, detail, r.Detail)
		})
	}

	dump := auditDump(t, pe.pool)
	for _, secret := range []string{"Sepsis", "Seminar room", "Lecture theatre", "Okafor", "Room change", "skills lab", "Fluids"} {
		require.NotContains(t, dump, secret)
	}
	require.NotEmpty(t, code, "the register page showed the code")
	require.False(t, bytes.Contains([]byte(dump), []byte(code)), "the check-in code is not recorded")
}
