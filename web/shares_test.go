package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/roster"
)

// Shares follow the roster (issue 14): a supervisor whom Moodle's roster no longer
// lists as an educator of the course, or whose membership nothing has confirmed for
// seven days, gets exactly what a stranger gets for the reflection (404, no listing,
// no comment, no sign-off), and the author is told the share lapsed and can share
// with someone else.
func TestSharesFollowTheRoster(t *testing.T) {
	t.Parallel()
	// roster is course 2's roster as a read gives it, Sam's entry changed by sam
	// (nil: not listed).
	roster := func(sam *course.RosterMember) []course.RosterMember {
		members := []course.RosterMember{
			{Subject: educator.Subject, Name: educator.Name, Roles: []lti.Role{lti.RoleEducator}, Active: true},
			{Subject: learner.Subject, Name: learner.Name, Roles: []lti.Role{lti.RoleLearner}, Active: true},
			{Subject: peer.Subject, Name: peer.Name, Roles: []lti.Role{lti.RoleLearner}, Active: true},
		}
		if sam != nil {
			sam.Subject, sam.Name = supervisorSam.Subject, supervisorSam.Name
			members = append(members, *sam)
		}
		return members
	}
	tests := []struct {
		name   string
		change func(t *testing.T, le *logEnv, courseID int64)
		lapsed bool
	}{
		{"listed by the roster as an educator", func(t *testing.T, le *logEnv, courseID int64) {
			_, err := le.app.Courses.ApplyRoster(t.Context(), courseID,
				roster(&course.RosterMember{Roles: []lti.Role{lti.RoleEducator}, Active: true}))
			require.NoError(t, err)
		}, false},
		{"confirmed six days ago", func(t *testing.T, le *logEnv, _ int64) {
			le.unconfirmedFor(t, supervisorSam.Subject, "6 days")
		}, false},
		{"not confirmed for eight days", func(t *testing.T, le *logEnv, _ int64) {
			le.unconfirmedFor(t, supervisorSam.Subject, "8 days")
		}, true},
		{"no longer in the roster", func(t *testing.T, le *logEnv, courseID int64) {
			_, err := le.app.Courses.ApplyRoster(t.Context(), courseID, roster(nil))
			require.NoError(t, err)
		}, true},
		{"Inactive in the roster", func(t *testing.T, le *logEnv, courseID int64) {
			_, err := le.app.Courses.ApplyRoster(t.Context(), courseID,
				roster(&course.RosterMember{Roles: []lti.Role{lti.RoleEducator}, Active: false}))
			require.NoError(t, err)
		}, true},
		{"a learner in the roster", func(t *testing.T, le *logEnv, courseID int64) {
			_, err := le.app.Courses.ApplyRoster(t.Context(), courseID,
				roster(&course.RosterMember{Roles: []lti.Role{lti.RoleLearner}, Active: true}))
			require.NoError(t, err)
		}, true},
	}
	const lapsedNote = "Sam Supervisor can no longer see this reflection: they are no longer a supervisor in Foundation Teaching Programme."
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			le := newLogEnv(t)
			lena, sam, eddie := le.learner, le.sup, le.edu
			samID := strconv.FormatInt(sam.id, 10)
			id := lena.submit(t, "", "LAPSETITLE handover", "LAPSEANSWER about the handover.", 1)
			lena.share(t, id, sam.id)
			expectPage(t, sam.get("/reflections/"+id), http.StatusOK, "LAPSEANSWER")
			var courseID int64
			require.NoError(t, le.pool.QueryRow(t.Context(), `SELECT id FROM courses WHERE context_id = '2'`).Scan(&courseID))

			tt.change(t, le, courseID)

			page := lena.get("/reflections/" + id)
			expectPage(t, page, http.StatusOK, "LAPSEANSWER")
			list := lena.get("/reflections")
			activity := lena.get(lena.activity)
			if !tt.lapsed {
				require.NotContains(t, page.body, "can no longer see")
				require.NotContains(t, list.body, "Share lapsed")
				expectPage(t, sam.get("/reflections/"+id), http.StatusOK, "LAPSEANSWER", "Sign off version 1")
				require.Contains(t, sharedWithMe(t, sam), "LAPSETITLE")
				r := sam.post("/reflections/"+id+"/signoff", url.Values{"csrf": {sam.csrf}, "version": {"1"}})
				require.Equal(t, http.StatusSeeOther, r.code, r.body)
				return
			}

			// Sam: what anyone gets for a reflection that does not exist.
			got := sam.get("/reflections/" + id)
			expectNoReflection(t, got)
			require.Equal(t, withoutReference(sam.get("/reflections/999999").body), withoutReference(got.body),
				"no hint that it exists")
			require.NotContains(t, sharedWithMe(t, sam), "LAPSETITLE")
			expectNoReflection(t, sam.post("/reflections/"+id+"/comments", url.Values{"csrf": {sam.csrf}, "comment": {"Still here."}}))
			expectNoReflection(t, sam.post("/reflections/"+id+"/signoff", url.Values{"csrf": {sam.csrf}, "version": {"1"}}))
			expectNoReflection(t, sam.get("/reflections/export.pdf?id="+id))
			require.Zero(t, le.count(t, `SELECT count(*) FROM reflection_comments`))
			require.Zero(t, le.count(t, `SELECT count(*) FROM reflection_signoffs`))

			// Lena: told on the reflection, in her list and on the activity page; Sam is
			// no longer offered; she shares with Eddie instead, who signs it off.
			require.Contains(t, page.body, lapsedNote)
			require.NotContains(t, page.body, `<option value="`+samID+`">`)
			expectPage(t, list, http.StatusOK, "Share lapsed", lapsedNote)
			expectPage(t, activity, http.StatusOK, "Share lapsed", lapsedNote)
			require.NotContains(t, list.body, `<span class="tag tag--blue">Shared</span>`, "no one can read it")
			r := lena.post("/reflections/"+id+"/share", url.Values{"csrf": {lena.csrf}, "with": {samID}})
			require.Equal(t, http.StatusUnprocessableEntity, r.code, r.body)
			lena.share(t, id, eddie.id)
			expectPage(t, eddie.get("/reflections/"+id), http.StatusOK, "LAPSEANSWER", "Sign off version 1")
			r = eddie.post("/reflections/"+id+"/signoff", url.Values{"csrf": {eddie.csrf}, "version": {"1"}})
			require.Equal(t, http.StatusSeeOther, r.code, r.body)
			expectPage(t, lena.get("/reflections/"+id), http.StatusOK, "Signed off by Eddie Educator", lapsedNote)
		})
	}
}

// referenceRE is the request's reference on an error page, different on every page.
var referenceRE = regexp.MustCompile(`Reference: <code>[^<]*</code>`)

func withoutReference(body string) string {
	return referenceRE.ReplaceAllString(body, "Reference: <code></code>")
}

// unconfirmedFor dates the person's confirmation of course 2's membership back by the
// PostgreSQL interval given, as if neither a roster read nor a launch had come since.
func (le *logEnv) unconfirmedFor(t *testing.T, subject, interval string) {
	t.Helper()
	tag, err := le.pool.Exec(t.Context(), `
UPDATE memberships m SET confirmed_at = now() - $2::interval
FROM users u, courses c WHERE u.id = m.user_id AND c.id = m.course_id AND u.subject = $1 AND c.context_id = '2'`, subject, interval)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
}

// A supervisor's own launch confirms their membership again: the share that lapsed for
// want of confirmation counts again.
func TestLaunchConfirmsSupervisionAgain(t *testing.T) {
	t.Parallel()
	le := newLogEnv(t)
	lena, sam := le.learner, le.sup
	id := lena.submit(t, "", "Back from leave", "What happened on the ward.", 1)
	lena.share(t, id, sam.id)
	le.unconfirmedFor(t, supervisorSam.Subject, "8 days")
	expectNoReflection(t, sam.get("/reflections/"+id))

	sam = le.signIn(t, supervisorSam, logLink("2", "Foundation Teaching Programme", "Reflections"))
	expectPage(t, sam.get("/reflections/"+id), http.StatusOK, "What happened on the ward.")
}

// The daily roster job and its worker are in the queue New builds (River refuses a kind
// without a worker).
func TestDailyRosterJobIsRegistered(t *testing.T) {
	t.Parallel()
	le := newLTIEnv(t)
	_, err := le.app.Queue.Insert(t.Context(), roster.DailyArgs{}, nil)
	require.NoError(t, err)
}
