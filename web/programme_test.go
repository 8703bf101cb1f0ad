package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/lti/ltitest"
	"github.com/huddle-lti/huddle/programme"
)

// programmeLink is a teaching programme in course2.
func programmeLink() ltitest.Link {
	l := course2
	l.ResourceLinkID, l.Title = "16", "FY1 teaching programme"
	l.Custom = map[string]string{"huddle_kind": programme.KindProgramme}
	return l
}

type programmeEnv struct {
	*ltiEnv
	edu, learner *signedIn
}

func newProgrammeEnv(t *testing.T) *programmeEnv {
	t.Helper()
	le := &logEnv{ltiEnv: newLTIEnv(t)}
	pe := &programmeEnv{ltiEnv: le.ltiEnv}
	pe.edu = le.signIn(t, educator, programmeLink())
	pe.learner = le.signIn(t, learner, programmeLink())
	return pe
}

// session is a valid form for a session far enough ahead to be "to come" whenever
// the test runs.
func sessionForm(csrf string) url.Values {
	return url.Values{"csrf": {csrf}, "title": {"Sepsis recognition"}, "date": {"2030-06-03"}, "start": {"09:00"},
		"end": {"10:00"}, "location": {"Seminar room 2"}, "teacher": {"Dr Okafor"}, "outcomes": {"Start the Sepsis Six."},
		"grades": {"F1"}, "weeks": {"1"}}
}

func (pe *programmeEnv) sessions(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, pe.pool.QueryRow(t.Context(), `SELECT count(*) FROM programme_sessions`).Scan(&n))
	return n
}

var sessionLinkRE = regexp.MustCompile(`/programme/sessions/(\d+)"`)

func TestProgrammeEducatorBuildsItLearnerReadsIt(t *testing.T) {
	t.Parallel()
	pe := newProgrammeEnv(t)

	empty := pe.learner.get(pe.learner.activity)
	expectPage(t, empty, http.StatusOK, "No sessions to come", "Your educators have not added any sessions yet")
	require.NotContains(t, empty.body, "/programme/sessions/new", "no educator tools for learners")

	form := sessionForm(pe.edu.csrf)
	form.Set("weeks", "3")
	r := pe.edu.post(pe.edu.activity+"/programme/sessions", form)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, 3, pe.sessions(t))

	page := pe.learner.get(pe.learner.activity)
	expectPage(t, page, http.StatusOK, "Next", "Sepsis recognition", "Monday 3 June, 09:00 to 10:00", "Monday 10 June", "Seminar room 2")
	ids := sessionLinkRE.FindAllStringSubmatch(page.body, -1)
	require.NotEmpty(t, ids)
	first := ids[0][1]
	one := pe.learner.get(pe.learner.activity + "/programme/sessions/" + first)
	expectPage(t, one, http.StatusOK, "Start the Sepsis Six.", "Dr Okafor", "F1", "(UK time)")
	require.NotContains(t, one.body, "Cancel this session")

	// Learners do not change the programme.
	require.Equal(t, http.StatusForbidden, pe.learner.post(pe.learner.activity+"/programme/sessions", sessionForm(pe.learner.csrf)).code)
	require.Equal(t, http.StatusForbidden, pe.learner.post(pe.learner.activity+"/programme/sessions/"+first+"/cancel",
		url.Values{"csrf": {pe.learner.csrf}}).code)

	// Rescheduled: the page shows the new time.
	edit := sessionForm(pe.edu.csrf)
	edit.Set("start", "14:00")
	edit.Set("end", "15:30")
	r = pe.edu.post(pe.edu.activity+"/programme/sessions/"+first, edit)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, pe.learner.get(pe.learner.activity+"/programme/sessions/"+first), http.StatusOK, "14:00 to 15:30")

	// Cancelled: kept, marked, and no longer changeable.
	r = pe.edu.post(pe.edu.activity+"/programme/sessions/"+first+"/cancel", url.Values{"csrf": {pe.edu.csrf}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, 3, pe.sessions(t))
	expectPage(t, pe.learner.get(pe.learner.activity+"/programme/sessions/"+first), http.StatusOK, "Cancelled", "will not take place")
	expectPage(t, pe.edu.get(pe.edu.activity+"/programme/sessions/"+first+"/edit"), http.StatusConflict, "session_cancelled")
	expectPage(t, pe.edu.post(pe.edu.activity+"/programme/sessions/"+first, edit), http.StatusConflict, "session_cancelled")

	// The next session is now the second week's.
	page = pe.learner.get(pe.learner.activity)
	require.Regexp(t, `(?s)id="next-heading">Next</h2>.*?Monday 10 June`, page.body)

	t.Run("grade filter", func(t *testing.T) {
		expectPage(t, pe.learner.get(pe.learner.activity+"?grade=F2"), http.StatusOK, "No sessions to come")
		expectPage(t, pe.learner.get(pe.learner.activity+"?grade=F1"), http.StatusOK, "Monday 10 June")
	})
	t.Run("a session of another activity is not found", func(t *testing.T) {
		expectPage(t, pe.learner.get(pe.learner.activity+"/programme/sessions/999999"), http.StatusNotFound, "session_not_found")
	})
}

// The form says what is wrong in plain words and stores nothing.
func TestProgrammeFormErrorsChangeNothing(t *testing.T) {
	t.Parallel()
	pe := newProgrammeEnv(t)
	for _, tc := range []struct {
		name     string
		set      map[string]string
		messages []string
	}{
		{"end before start", map[string]string{"start": "14:00", "end": "13:00"}, []string{"The session must end after it starts."}},
		{"a time the clocks skip", map[string]string{"date": "2030-03-31", "start": "01:30", "end": "02:30"},
			[]string{"01:30 on Sunday 31 March 2030 does not exist in the UK"}},
		{"a time the clocks repeat", map[string]string{"date": "2030-10-27", "start": "00:30", "end": "01:30"},
			[]string{"01:30 on Sunday 27 October 2030 happens twice in the UK"}},
		{"no title", map[string]string{"title": ""}, []string{"Give the session a title."}},
		{"an unknown grade", map[string]string{"grades": "FY3"}, []string{"is not a grade Huddle knows"}},
		{"an NHS number", map[string]string{"outcomes": "Review 943 476 5919"}, []string{"Check for patient details", "Nothing has been saved"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := sessionForm(pe.edu.csrf)
			for k, v := range tc.set {
				form.Set(k, v)
			}
			r := pe.edu.post(pe.edu.activity+"/programme/sessions", form)
			expectPage(t, r, http.StatusUnprocessableEntity, append(tc.messages, "There is a problem")...)
			require.Contains(t, r.body, `value="`+form.Get("title")+`"`, "what was typed is kept")
			require.Zero(t, pe.sessions(t))
		})
	}
}

func TestProgrammeMoodleCalendarSetting(t *testing.T) {
	t.Parallel()
	pe := newProgrammeEnv(t)
	require.Equal(t, http.StatusSeeOther, pe.edu.post(pe.edu.activity+"/programme/sessions", sessionForm(pe.edu.csrf)).code)
	expectPage(t, pe.edu.get(pe.edu.activity+"/programme/settings"), http.StatusOK, "no web services connection")
	r := pe.edu.post(pe.edu.activity+"/programme/settings", url.Values{"csrf": {pe.edu.csrf}, "moodle_events": {"yes"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	var activityID int64
	require.NoError(t, pe.pool.QueryRow(t.Context(), `SELECT activity_id FROM programme_sessions`).Scan(&activityID))
	st, err := pe.app.Programmes.Settings(t.Context(), activityID)
	require.NoError(t, err)
	require.True(t, st.MoodleEvents)
	require.False(t, st.MoodleEventsForGrades)
	var jobs int
	require.NoError(t, pe.pool.QueryRow(t.Context(), `SELECT count(*) FROM river_job WHERE kind = 'programme_moodle_event'`).Scan(&jobs))
	require.Equal(t, 2, jobs, "one for the new session, one for the setting")
	require.Equal(t, http.StatusForbidden, pe.learner.post(pe.learner.activity+"/programme/settings",
		url.Values{"csrf": {pe.learner.csrf}, "moodle_events": {"yes"}}).code)
}

func TestProgrammeRemindersSettingAndOptOut(t *testing.T) {
	t.Parallel()
	pe := newProgrammeEnv(t)
	require.NotContains(t, pe.learner.get(pe.learner.activity).body, "Turn reminders off", "no reminders, nothing to turn off")
	expectPage(t, pe.edu.post(pe.edu.activity+"/programme/settings", url.Values{"csrf": {pe.edu.csrf}, "reminder": {"99999"}}),
		http.StatusUnprocessableEntity, "up to a week before")
	require.Equal(t, http.StatusSeeOther, pe.edu.post(pe.edu.activity+"/programme/settings", url.Values{"csrf": {pe.edu.csrf}, "reminder": {"60"}}).code)
	expectPage(t, pe.edu.get(pe.edu.activity+"/programme/settings"), http.StatusOK, `<option value="60" selected>1 hour before</option>`)

	expectPage(t, pe.learner.get(pe.learner.activity), http.StatusOK, "You get a Moodle message before each session", "Turn reminders off")
	r := pe.learner.post(pe.learner.activity+"/programme/reminders", url.Values{"csrf": {pe.learner.csrf}, "on": {"no"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, pe.learner.get(r.location), http.StatusOK, "Reminders are off for this programme.", "Turn reminders on")
	var activityID int64
	require.NoError(t, pe.pool.QueryRow(t.Context(), `SELECT id FROM activities WHERE kind = 'teaching_programme'`).Scan(&activityID))
	on, err := pe.app.Programmes.RemindersOn(t.Context(), activityID, pe.learner.id)
	require.NoError(t, err)
	require.False(t, on)
}

func TestProgrammeAnnouncements(t *testing.T) {
	t.Parallel()
	pe := newProgrammeEnv(t)
	path := pe.edu.activity + "/programme/announcements"
	expectPage(t, pe.edu.post(path, url.Values{"csrf": {pe.edu.csrf}, "subject": {"Room change"}, "body": {"Bring the notes of 943 476 5919."}}),
		http.StatusUnprocessableEntity, "Check for patient details", "Nothing was sent")
	expectPage(t, pe.edu.post(path, url.Values{"csrf": {pe.edu.csrf}, "subject": {""}, "body": {"Room 2."}}),
		http.StatusUnprocessableEntity, "Give the announcement a subject.")
	var notices int
	require.NoError(t, pe.pool.QueryRow(t.Context(), `SELECT count(*) FROM programme_announcements`).Scan(&notices))
	require.Zero(t, notices)

	r := pe.edu.post(path, url.Values{"csrf": {pe.edu.csrf}, "subject": {"Room change"}, "body": {"Thursday is in the lecture theatre."}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, pe.edu.get(r.location), http.StatusOK, "Announcement sent to 1 learners")
	// The learner's Moodle message is queued through notify, naming the programme.
	var activityID *int64
	require.NoError(t, pe.pool.QueryRow(t.Context(), `SELECT activity_id FROM notices WHERE user_id = $1`, pe.learner.id).Scan(&activityID))
	require.NotNil(t, activityID)

	page := pe.learner.get(pe.learner.activity)
	expectPage(t, page, http.StatusOK, "Room change", "Thursday is in the lecture theatre.")
	m := markReadRE.FindStringSubmatch(page.body)
	require.NotNil(t, m)
	require.Equal(t, http.StatusSeeOther, pe.learner.post(m[1], url.Values{"csrf": {pe.learner.csrf}}).code)
	require.NotContains(t, pe.learner.get(pe.learner.activity).body, "Thursday is in the lecture theatre.")
	require.Equal(t, http.StatusForbidden, pe.learner.post(path, url.Values{"csrf": {pe.learner.csrf}, "subject": {"x"}, "body": {"y"}}).code)
}
