package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// colleagueText names a doctor and nothing else the guard looks for.
const colleagueText = "Dr Okafor ran the simulation with us."

// setBoard saves the board's settings as its educator, with the given changes.
func (be *boardEnv) setBoard(t *testing.T, change url.Values) {
	t.Helper()
	form := url.Values{"csrf": {be.eduCSRF}, "identity": {"named"}, "edit_minutes": {"30"}, "posts_per_hour": {"30"},
		"grade_threads": {"0"}, "grade_replies": {"0"}}
	for k, v := range change {
		form[k] = v
	}
	r := be.edu.post(be.activity+"/board-settings", form)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
}

// TestColleagueButton: a post whose only finding is a clinician's name gets a block
// page worded for staff names with a one-tap "This is a colleague, not a patient";
// the tap resends the same text and the post is published at once, or held when the
// board says so. A post with a patient detail as well gets neither the wording nor the
// button, and sending the button's field anyway stores nothing.
func TestColleagueButton(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "case_board")

	form := caseForm(be.learnerCSRF, colleagueText)
	r := be.learner.post(be.activity+"/threads", form)
	expectPage(t, r, http.StatusUnprocessableEntity, "Check the names", "It looks like you named a colleague",
		"write “the patient” instead of the name", "<mark>Dr Okafor</mark>", "This looks like the name of a member of staff.",
		`name="guard_colleague" value="yes"`, "This is a colleague, not a patient", "is then published straight away",
		`id="guard"`, colleagueText+"</textarea>")
	require.NotContains(t, r.body, "Check for patient details")
	// Enter in a one-line field sends the form's first submit button: a hidden copy of
	// the form's own comes before the colleague button.
	hidden := strings.Index(r.body, `<button type="submit" hidden tabindex="-1">`)
	require.Positive(t, hidden)
	require.Less(t, hidden, strings.Index(r.body, `name="guard_colleague"`))
	require.Zero(t, be.count(t, "posts"))

	form.Set("guard_colleague", "yes")
	r = be.learner.post(be.activity+"/threads", form)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	m := postedRE.FindStringSubmatch(r.location)
	require.NotNil(t, m, "published at once, not held: %s", r.location)
	expectPage(t, be.peer.get(be.activity+"/threads/"+m[1]), http.StatusOK, "Dr Okafor ran the simulation")
	var reason, findings string
	require.NoError(t, be.pool.QueryRow(t.Context(), `SELECT guard_reason, guard_findings::text FROM posts`).Scan(&reason, &findings))
	require.Equal(t, "colleague", reason)
	require.NotContains(t, findings, "Okafor")
	// Moderators see what was said, in words, on the post.
	expectPage(t, be.edu.get(be.activity+"/threads/"+m[1]), http.StatusOK, "are colleagues', not patients'.")

	t.Run("a patient detail as well: no button, and the field alone does nothing", func(t *testing.T) {
		mixed := caseForm(be.learnerCSRF, "Dr Okafor saw him, NHS 943 476 5919.")
		r := be.learner.post(be.activity+"/threads", mixed)
		expectPage(t, r, http.StatusUnprocessableEntity, "Check for patient details", "This looks like an NHS number")
		require.NotContains(t, r.body, "guard_colleague")
		require.NotContains(t, r.body, "Check the names")

		mixed.Set("guard_colleague", "yes")
		r = be.learner.post(be.activity+"/threads", mixed)
		expectPage(t, r, http.StatusUnprocessableEntity, "Huddle can post a colleague&#39;s name only when nothing else")
		require.Equal(t, 1, be.count(t, "posts"))
		require.Equal(t, 1, be.count(t, "threads"))
	})

	t.Run("the board holds posts that name colleagues", func(t *testing.T) {
		be.setBoard(t, url.Values{"hold_colleague_names": {"on"}})
		expectPage(t, be.edu.get(be.activity+"/board-settings"), http.StatusOK,
			`id="hold_colleague_names" name="hold_colleague_names" checked`, "Approve posts that name colleagues")
		form := caseForm(be.learnerCSRF, colleagueText)
		form.Set("title", "Held until approved")
		r := be.learner.post(be.activity+"/threads", form)
		expectPage(t, r, http.StatusUnprocessableEntity, "This is a colleague, not a patient",
			"will then wait for a moderator, as this board asks for posts that name colleagues")
		form.Set("guard_colleague", "yes")
		r = be.learner.post(be.activity+"/threads", form)
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		require.Contains(t, r.location, "held=1")
		expectPage(t, be.edu.get(be.activity+"/moderation"), http.StatusOK, "Held: names a colleague",
			"The author said these are colleagues' names, not patients'.")
		require.NotContains(t, be.peer.get(be.activity).body, "Held until approved", "a held post is not on the board for others")

		be.setBoard(t, url.Values{})
		expectPage(t, be.edu.get(be.activity+"/board-settings"), http.StatusOK, `id="hold_colleague_names" name="hold_colleague_names">`)
	})
}

// TestReasonFormsKeepTextAndStoreNothing: a report, hide or reveal reason the guard
// stops is refused with a plain-words page that keeps what was typed in the form (and
// out of the browser's cache), or JSON with a code for a machine, and nothing is
// stored: no report, no hidden post, no line in the board's or the platform's audit
// log, no revealed name.
func TestReasonFormsKeepTextAndStoreNothing(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "discussion_board")
	be.setBoard(t, url.Values{"identity": {"peers"}})
	be.postDiscussion(t, be.learner, be.learnerCSRF, "Is a raised troponin always an MI?")
	var post string
	require.NoError(t, be.pool.QueryRow(t.Context(), `SELECT id::text FROM posts WHERE opening`).Scan(&post))
	postPath := be.activity + "/posts/" + post

	stored := func() int {
		var n int
		require.NoError(t, be.pool.QueryRow(t.Context(), `
SELECT (SELECT count(*) FROM post_reports) + (SELECT count(*) FROM moderation_log WHERE action <> 'settings')
     + (SELECT count(*) FROM audit_log WHERE action LIKE 'post.%') + (SELECT count(*) FROM posts WHERE status <> 'visible')`).Scan(&n))
		return n
	}
	kinds := []struct {
		name   string
		who    *browser
		csrf   string
		path   string
		extra  url.Values
		labels []string // what the page shown again must say
	}{
		{"report", be.peer, be.peerCSRF, postPath + "/report", nil, []string{"Report a post", "What is wrong with it?"}},
		{"hide", be.edu, be.eduCSRF, postPath + "/moderate", url.Values{"action": {"hide"}, "back": {"thread"}},
			[]string{"Hide this post", "Reason for hiding", `name="action" value="hide"`, `name="back" value="thread"`}},
		{"reveal", be.edu, be.eduCSRF, postPath + "/reveal", nil,
			[]string{"Reveal the author", "Reason for revealing the author", "The author was not revealed."}},
	}
	reasons := []struct {
		name, reason, advice string
	}{
		{"NHS number", "It shows NHS number 943 476 5919", "Your reason may identify a patient, so it was not saved."},
		{"patient name", "It is about Mrs Okoro in bay 4", "Your reason may identify a patient, so it was not saved."},
		{"staff name", "Dr Okafor asked me to look", "Your reason names a member of staff, so it was not saved."},
	}
	for _, k := range kinds {
		for _, rs := range reasons {
			t.Run(k.name+"/"+rs.name, func(t *testing.T) {
				before := stored()
				form := url.Values{"csrf": {k.csrf}, "reason": {rs.reason}}
				for f, v := range k.extra {
					form[f] = v
				}
				r := k.who.post(k.path, form)
				expectPage(t, r, http.StatusUnprocessableEntity, append([]string{rs.advice, `id="reason-findings"`,
					`href="#reason"`, ">" + rs.reason + "</textarea>"}, k.labels...)...)
				require.Equal(t, "no-store", r.header.Get("Cache-Control"))
				require.NotContains(t, r.body, "Lena Learner", "nothing revealed")
				require.Equal(t, before, stored(), "a refused reason was stored")

				k.who.header = http.Header{"Accept": {"application/json"}}
				defer func() { k.who.header = nil }()
				r = k.who.post(k.path, form)
				require.Equal(t, http.StatusUnprocessableEntity, r.code, r.body)
				var problem struct {
					Error struct{ Code, Message string }
				}
				require.NoError(t, json.Unmarshal([]byte(r.body), &problem), r.body)
				require.Equal(t, "patient_identifiers", problem.Error.Code)
				require.Contains(t, problem.Error.Message, rs.advice)
				require.NotContains(t, r.body, rs.reason)
				require.Equal(t, before, stored(), "a refused reason was stored")
			})
		}
	}

	// An empty reason is shown again in the same form, and a clean one goes through:
	// the refusals above are the guard's, not the form's.
	r := be.edu.post(postPath+"/reveal", url.Values{"csrf": {be.eduCSRF}, "reason": {" "}})
	expectPage(t, r, http.StatusUnprocessableEntity, "Give the reason for revealing the author", "Reveal the author")
	r = be.edu.post(postPath+"/reveal", url.Values{"csrf": {be.eduCSRF}, "reason": {"A safeguarding concern was raised"}})
	expectPage(t, r, http.StatusOK, "Lena Learner")
	r = be.peer.post(postPath+"/report", url.Values{"csrf": {be.peerCSRF}, "reason": {"It may identify a patient"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = be.edu.post(postPath+"/moderate", url.Values{"csrf": {be.eduCSRF}, "action": {"hide"}, "reason": {"Off topic"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)

	// What the reasons tables and the audit log hold is the clean reasons only.
	var held string
	require.NoError(t, be.pool.QueryRow(t.Context(), `
SELECT concat_ws('|', (SELECT string_agg(reason, '|') FROM post_reports), (SELECT string_agg(reason, '|') FROM moderation_log),
       (SELECT string_agg(hidden_reason || guard_reason, '|') FROM posts), (SELECT string_agg(detail, '|') FROM audit_log))`).Scan(&held))
	for _, rs := range reasons {
		require.NotContains(t, held, rs.reason)
	}
	for _, s := range []string{"5919", "Okoro", "Okafor"} {
		require.NotContains(t, held, s)
	}
	require.Contains(t, held, "A safeguarding concern was raised")
}

// TestGuardOverrideReasonIsGuarded: the reason given for overriding the guard is
// checked too. One that repeats a name is refused: the form comes back with the reason
// marked and kept, and nothing is stored; a reason in other words is accepted.
func TestGuardOverrideReasonIsGuarded(t *testing.T) {
	t.Parallel()
	be := newBoardEnv(t, "case_board")
	form := caseForm(be.learnerCSRF, "Reviewed with Mrs Patel, our ward sister.")
	form.Set("guard_confirm", "yes")
	form.Set("guard_reason", "Mrs Patel is  the ward sister")
	r := be.learner.post(be.activity+"/threads", form)
	expectPage(t, r, http.StatusUnprocessableEntity, "Your reason may itself identify someone", `href="#guard_reason"`,
		"<h3>Your reason</h3>", "<mark>Mrs Patel</mark> is the ward sister", ">Mrs Patel is the ward sister</textarea>",
		`<details class="guard__override" open>`, `id="guard_confirm" name="guard_confirm" value="yes" checked`)
	require.Zero(t, be.count(t, "posts"))
	require.Zero(t, be.count(t, "threads"))

	form.Set("guard_reason", "She is the ward sister who taught us")
	r = be.learner.post(be.activity+"/threads", form)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Contains(t, r.location, "held=1")
}
