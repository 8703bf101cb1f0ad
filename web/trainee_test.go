package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/lti/ltitest"
)

var formKeyRE = regexp.MustCompile(`<input type="hidden" name="form_key" value="([^"]+)">`)

// newForm opens "Write a reflection" and returns the form's key.
func (s *signedIn) newForm(t *testing.T) (string, string) {
	t.Helper()
	page := s.get(s.activity + "/reflections/new")
	require.Equal(t, http.StatusOK, page.code, page.body)
	m := formKeyRE.FindStringSubmatch(page.body)
	require.NotNil(t, m, "the form carries no key")
	return m[1], page.body
}

// Issue 17, item 2: the page's autosave, sent as the submit unloads the page with the
// form's empty id, reaches Huddle after the submit. It is refused with a JSON answer
// the script understands, and the learner has one reflection, as submitted.
func TestLateAutosaveAfterSubmitIsRefused(t *testing.T) {
	t.Parallel()
	le := newLogEnv(t)
	lena := le.learner
	key, _ := lena.newForm(t)
	other, _ := lena.newForm(t)
	require.NotEqual(t, key, other, "each opened form has its own key")

	form := lena.reflectionForm("submit", "", "Night shift", "A busy night.")
	form.Set("form_key", key)
	r := lena.post(lena.activity+"/reflections", form)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Regexp(t, submittedRE, r.location)

	late := lena.reflectionForm("", "", "Night shift", "A busy night, and more typed.")
	late.Del("action")
	late.Set("form_key", key)
	lena.header = http.Header{"Accept": {"application/json"}}
	r = lena.post(lena.activity+"/reflections/autosave", late)
	lena.header = nil
	require.Equal(t, http.StatusConflict, r.code, r.body)
	var answer struct {
		Error struct{ Code, Message string }
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &answer), r.body)
	require.Equal(t, "already_submitted", answer.Error.Code)

	require.Equal(t, 1, le.count(t, `SELECT count(*) FROM reflections`))
	require.Equal(t, 0, le.count(t, `SELECT count(*) FROM reflections WHERE draft IS NOT NULL`))

	// "Save draft" from the same page (Back, then the button) is refused too, in words.
	late.Set("action", "draft")
	r = lena.post(lena.activity+"/reflections", late)
	require.Equal(t, http.StatusConflict, r.code, r.body)
	require.Contains(t, r.body, "already")
	require.Equal(t, 1, le.count(t, `SELECT count(*) FROM reflections`))
}

// Issue 17, item 11: when a sign-off completes the activity, the form offers "Submit
// and send to <supervisor> for sign-off" with the learner's supervisor first; the
// supervisor finds it under "Waiting for your sign-off", with a count; the educator's
// page does not speak to learners.
func TestSubmitAndSendForSignOffPages(t *testing.T) {
	t.Parallel()
	le := newLogEnv(t)
	lena, sam, eddie := le.learner, le.sup, le.edu
	r := eddie.post(eddie.activity+"/reflection-settings", url.Values{"csrf": {eddie.csrf},
		"template": {"reflective_practice"}, "complete_on": {"signoff"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = eddie.post(eddie.activity+"/supervisors", url.Values{"csrf": {eddie.csrf},
		"learner": {strconv.FormatInt(lena.id, 10)}, "supervisor": {strconv.FormatInt(sam.id, 10)}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)

	// The educator's page speaks about learners, not to them.
	page := eddie.get(eddie.activity)
	expectPage(t, page, http.StatusOK, "For learners, this activity is complete when a supervisor signs off")
	require.NotContains(t, page.body, "complete when you submit")
	require.NotContains(t, page.body, "one of your reflections")

	key, form := lena.newForm(t)
	require.Contains(t, form, `name="send_to" value="`+strconv.FormatInt(sam.id, 10)+`"`)
	require.Contains(t, form, "Submit and send to Sam Supervisor for sign-off")
	// Sam, her supervisor, comes before the course's other educators.
	require.Less(t, strings.Index(form, "Submit and send to Sam Supervisor"), strings.Index(form, "Eddie Educator"))

	sent := lena.reflectionForm("", "", "Night shift", "A busy night.")
	sent.Del("action")
	sent.Set("form_key", key)
	sent.Set("send_to", strconv.FormatInt(sam.id, 10))
	r = lena.post(lena.activity+"/reflections", sent)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Contains(t, r.location, "&sent=")
	expectPage(t, lena.get(r.location), http.StatusOK, "Submitted as version 1 and sent to Sam Supervisor for sign-off.")
	require.Equal(t, 1, le.count(t, `SELECT count(*) FROM reflection_shares WHERE shared_with = $1`, sam.id))

	// Sam's pages: the list, and its count.
	waiting := sam.get("/reflections/waiting")
	expectPage(t, waiting, http.StatusOK, "Waiting for your sign-off", "Night shift", "Lena Learner")
	expectPage(t, sam.get(sam.activity), http.StatusOK, "Waiting for your sign-off (1)")
	expectPage(t, sam.get("/reflections"), http.StatusOK, "Waiting for your sign-off (1)")
	// Lena waits on nobody, and her list names nothing of Sam's.
	expectPage(t, lena.get("/reflections/waiting"), http.StatusOK, "Nothing is waiting for your sign-off.")

	// Once signed off, it leaves the list.
	id := regexp.MustCompile(`/reflections/(\d+)`).FindStringSubmatch(r.location)[1]
	r = sam.post("/reflections/"+id+"/signoff", url.Values{"csrf": {sam.csrf}, "version": {"1"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	expectPage(t, sam.get("/reflections/waiting"), http.StatusOK, "Nothing is waiting for your sign-off.")

	// Sending to someone who is not a supervisor submits nothing.
	key, _ = lena.newForm(t)
	sent.Set("form_key", key)
	sent.Set("send_to", strconv.FormatInt(le.peer.id, 10))
	r = lena.post(lena.activity+"/reflections", sent)
	require.Equal(t, http.StatusUnprocessableEntity, r.code, r.body)
	require.Equal(t, 1, le.count(t, `SELECT count(*) FROM reflections`))
}

// Issue 17, items 3 and 12: the Supervisors page says when the class list was last
// read and lets the educator read it again, at most every few minutes.
func TestSupervisorsPageRefreshesTheClassList(t *testing.T) {
	t.Parallel()
	le := newLogEnv(t)
	eddie := le.edu
	// Setting up the log asked for a read already (the harness queues, never reads).
	require.Equal(t, 1, le.count(t, `SELECT count(*) FROM river_job WHERE kind = 'roster_sync' AND args ->> 'why' = 'setup'`))

	page := eddie.get(eddie.activity + "/supervisors")
	expectPage(t, page, http.StatusOK, "Refresh the class list")
	require.Regexp(t, `The class list has not been read from Moodle yet\.|Huddle cannot read the class list yet`, page.body)
	r := eddie.post(eddie.activity+"/supervisors/refresh", url.Values{"csrf": {eddie.csrf}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, eddie.activity+"/supervisors?refresh=asked", r.location)
	expectPage(t, eddie.get(r.location), http.StatusOK, "Huddle is reading the class list from Moodle.")
	r = eddie.post(eddie.activity+"/supervisors/refresh", url.Values{"csrf": {eddie.csrf}})
	require.Equal(t, eddie.activity+"/supervisors?refresh=recent", r.location)
	require.Equal(t, 1, le.count(t, `SELECT count(*) FROM river_job WHERE kind = 'roster_sync' AND args ->> 'why' = 'refresh'`))

	// After a read, the page says when.
	_, err := le.pool.Exec(t.Context(), `UPDATE courses SET roster_synced_at = now()`)
	require.NoError(t, err)
	expectPage(t, eddie.get(eddie.activity+"/supervisors"), http.StatusOK, "Class list last read from Moodle")

	// Learners cannot refresh it.
	r = le.learner.post(le.learner.activity+"/supervisors/refresh", url.Values{"csrf": {le.learner.csrf}})
	require.Equal(t, http.StatusForbidden, r.code, r.body)
}

// Issue 17, item 5: a Moodle site administrator who opens the activity (Moodle sends
// them Instructor too, enrolled or not) is no educator of the course: not offered to
// learners as a supervisor, not let into the educator's pages, and offered Huddle's
// administration.
func TestSiteAdministratorIsNotACourseEducator(t *testing.T) {
	t.Parallel()
	le := newLogEnv(t)
	admin := le.signIn(t, ltitest.Member{Subject: "2", Name: "Aaron Admin", Roles: []string{ltitest.RoleAdministrator,
		ltitest.RoleInstructor, "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"}},
		logLink("2", "Foundation Teaching Programme", "Reflections"))

	page := le.learner.get(le.learner.activity)
	expectPage(t, page, http.StatusOK, "Eddie Educator")
	require.NotContains(t, page.body, "Aaron Admin", "the site administrator is offered as a supervisor")
	_, form := le.learner.newForm(t)
	require.NotContains(t, form, "Aaron Admin")

	r := admin.get(admin.activity + "/supervisors")
	require.Equal(t, http.StatusForbidden, r.code, r.body)
	expectPage(t, admin.get(admin.activity), http.StatusOK, `href="/admin`, "Go to Huddle's administration")
	expectPage(t, admin.get("/admin"), http.StatusOK)
}
