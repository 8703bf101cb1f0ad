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

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/audit"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/feedback"
	"github.com/huddle-lti/huddle/lti/ltitest"
	"github.com/huddle-lti/huddle/web"
)

var adminAda = ltitest.Member{Subject: "2", Name: "Ada Admin", Email: "admin@example.com",
	Roles: []string{ltitest.RoleAdministrator, ltitest.RoleInstructor}}

// auditRow is one audit_log row, ids 0 where NULL.
type auditRow struct {
	ID                                int64
	Platform, Actor, Course, Activity int64
	Action, TargetType                string
	Target                            int64
	Detail                            string
}

// auditRowsAfter returns the rows with an id above after, oldest first.
func auditRowsAfter(t *testing.T, pool *pgxpool.Pool, after int64) []auditRow {
	t.Helper()
	rows, err := pool.Query(t.Context(), `
SELECT id, platform_id, coalesce(actor_id, 0), coalesce(course_id, 0), coalesce(activity_id, 0), action, target_type,
       target_id, detail
FROM audit_log WHERE id > $1 ORDER BY id`, after)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[auditRow])
	require.NoError(t, err)
	return out
}

// auditDump is every audit_log row as JSON text, for looking for what must not be there.
func auditDump(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT row_to_json(a)::text FROM audit_log a ORDER BY id`)
	require.NoError(t, err)
	texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return strings.Join(texts, "\n")
}

func activityIDOf(t *testing.T, path string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(strings.TrimPrefix(path, "/activities/"), 10, 64)
	require.NoError(t, err, path)
	return id
}

var heldRE = regexp.MustCompile(`/threads/(\d+)\?held=1$`)

// TestEveryEducatorActionIsAudited does each state-changing educator, supervisor and
// administrator action once, through the web, and finds exactly one entry naming who
// did it, where, and to what. Learners' own writing in between leaves none.
func TestEveryEducatorActionIsAudited(t *testing.T) {
	t.Parallel()
	le := &logEnv{ltiEnv: newLTIEnv(t)}
	e := le.ltiEnv
	ctx := t.Context()
	boardLink := course2
	boardLink.Custom = map[string]string{"huddle_kind": discussion.KindCaseBoard}
	reflections := logLink("2", "Foundation Teaching Programme", "Reflections")

	eddie := le.signIn(t, educator, boardLink)
	lena := le.signIn(t, learner, boardLink)
	pat := le.signIn(t, peer, boardLink)
	eddieLog := le.signIn(t, educator, reflections)
	lenaLog := le.signIn(t, learner, reflections)
	sam := le.signIn(t, supervisorSam, reflections)
	eddieFb := le.signIn(t, educator, feedbackLink("feedback-audit"))
	board, logID, fbID := activityIDOf(t, eddie.activity), activityIDOf(t, eddieLog.activity), activityIDOf(t, eddieFb.activity)
	var courseID int64
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT course_id FROM activities WHERE id = $1`, board).Scan(&courseID))
	platform := e.stored.ID

	post := func(t *testing.T, s *signedIn, path string, form url.Values) response {
		t.Helper()
		form.Set("csrf", s.csrf)
		r := s.post(path, form)
		require.Contains(t, []int{http.StatusSeeOther, http.StatusOK}, r.code, "%s: %s", path, r.body)
		return r
	}
	// What the learners write, and what is done to it, fills these in as the cases run.
	var thread, reply, held, reflectionID, setUp int64
	ids := func(t *testing.T, s string) int64 {
		id, err := strconv.ParseInt(s, 10, 64)
		require.NoError(t, err, s)
		return id
	}

	type want struct {
		action   audit.Action
		actor    int64
		activity int64 // the course is the board's whenever this is set
		course   int64 // for an action with no activity
		target   int64
		detail   string
	}
	tests := []struct {
		name string
		act  func(t *testing.T) *want // nil: nothing is recorded
	}{
		{"board settings", func(t *testing.T) *want {
			post(t, eddie, eddie.activity+"/board-settings", url.Values{"identity": {"peers"}, "edit_minutes": {"30"},
				"posts_per_hour": {"30"}, "grade_threads": {"1"}, "grade_replies": {"0"},
				// A graded board anonymous to peers needs a date for its scores (gradedates.go).
				"grade_dates_form": {"1"}, "grade_dates": {time.Now().AddDate(0, 0, 7).Format(time.DateOnly)}})
			return &want{action: audit.BoardSettingsUpdate, actor: eddie.id, activity: board, target: board, detail: "identity=peers"}
		}},
		{"learners posting", func(t *testing.T) *want {
			thread = ids(t, e.postThread(t, lena.browser, lena.csrf, lena.activity))
			reply = ids(t, e.postReply(t, lena.browser, lena.csrf, lena.activity, strconv.FormatInt(thread, 10), "My answer."))
			r := lena.post(lena.activity+"/threads", url.Values{"csrf": {lena.csrf}, "kind": {"case"}, "title": {"Breathless on the ward"},
				"section_presentation": {"Reviewed with Mrs Patel, our ward sister."}, "section_question": {"What next?"},
				"guard_confirm": {"yes"}, "guard_reason": {"She is staff, not a patient"}})
			require.Equal(t, http.StatusSeeOther, r.code, r.body)
			m := heldRE.FindStringSubmatch(r.location)
			require.NotNil(t, m, r.location)
			require.NoError(t, e.pool.QueryRow(ctx, `SELECT id FROM posts WHERE thread_id = $1 AND opening`, ids(t, m[1])).Scan(&held))
			post(t, pat, pat.activity+"/posts/"+strconv.FormatInt(reply, 10)+"/report", url.Values{"reason": {"Not helpful"}})
			post(t, pat, pat.activity+"/posts/"+strconv.FormatInt(reply, 10)+"/helpful", url.Values{})
			return nil
		}},
		{"dismiss reports", func(t *testing.T) *want {
			post(t, eddie, eddie.activity+"/posts/"+strconv.FormatInt(reply, 10)+"/moderate", url.Values{"action": {"dismiss"}})
			return &want{action: audit.PostDismissReports, actor: eddie.id, activity: board, target: reply}
		}},
		{"approve", func(t *testing.T) *want {
			post(t, eddie, eddie.activity+"/posts/"+strconv.FormatInt(held, 10)+"/moderate", url.Values{"action": {"approve"}})
			return &want{action: audit.PostApprove, actor: eddie.id, activity: board, target: held}
		}},
		{"hide", func(t *testing.T) *want {
			post(t, eddie, eddie.activity+"/posts/"+strconv.FormatInt(reply, 10)+"/moderate", url.Values{"action": {"hide"}, "reason": {"Off topic"}})
			return &want{action: audit.PostHide, actor: eddie.id, activity: board, target: reply}
		}},
		{"restore", func(t *testing.T) *want {
			post(t, eddie, eddie.activity+"/posts/"+strconv.FormatInt(reply, 10)+"/moderate", url.Values{"action": {"restore"}})
			return &want{action: audit.PostRestore, actor: eddie.id, activity: board, target: reply}
		}},
		{"endorse", func(t *testing.T) *want {
			post(t, eddie, eddie.activity+"/posts/"+strconv.FormatInt(reply, 10)+"/endorse", url.Values{"on": {"1"}})
			return &want{action: audit.PostEndorse, actor: eddie.id, activity: board, target: reply}
		}},
		{"withdraw endorsement", func(t *testing.T) *want {
			post(t, eddie, eddie.activity+"/posts/"+strconv.FormatInt(reply, 10)+"/endorse", url.Values{"on": {"0"}})
			return &want{action: audit.PostUnendorse, actor: eddie.id, activity: board, target: reply}
		}},
		{"reveal the author", func(t *testing.T) *want {
			r := post(t, eddie, eddie.activity+"/posts/"+strconv.FormatInt(reply, 10)+"/reveal", url.Values{"reason": {"Safeguarding"}})
			require.Contains(t, r.body, "Lena Learner")
			return &want{action: audit.PostRevealAuthor, actor: eddie.id, activity: board, target: reply}
		}},
		{"pin", func(t *testing.T) *want {
			post(t, eddie, eddie.activity+"/threads/"+strconv.FormatInt(thread, 10)+"/flags", url.Values{"flag": {"pin"}, "on": {"1"}})
			return &want{action: audit.ThreadPin, actor: eddie.id, activity: board, target: thread}
		}},
		{"unpin", func(t *testing.T) *want {
			post(t, eddie, eddie.activity+"/threads/"+strconv.FormatInt(thread, 10)+"/flags", url.Values{"flag": {"pin"}, "on": {"0"}})
			return &want{action: audit.ThreadUnpin, actor: eddie.id, activity: board, target: thread}
		}},
		{"lock", func(t *testing.T) *want {
			post(t, eddie, eddie.activity+"/threads/"+strconv.FormatInt(thread, 10)+"/flags", url.Values{"flag": {"lock"}, "on": {"1"}})
			return &want{action: audit.ThreadLock, actor: eddie.id, activity: board, target: thread}
		}},
		{"unlock", func(t *testing.T) *want {
			post(t, eddie, eddie.activity+"/threads/"+strconv.FormatInt(thread, 10)+"/flags", url.Values{"flag": {"lock"}, "on": {"0"}})
			return &want{action: audit.ThreadUnlock, actor: eddie.id, activity: board, target: thread}
		}},
		{"grade resync", func(t *testing.T) *want {
			post(t, eddie, eddie.activity+"/grades/"+strconv.FormatInt(lena.id, 10)+"/retry", url.Values{})
			return &want{action: audit.GradesResync, actor: eddie.id, activity: board, target: lena.id}
		}},
		{"grade path", func(t *testing.T) *want {
			post(t, eddie, eddie.activity+"/grades-path", url.Values{"path": {"moodle_ws"}})
			return &want{action: audit.GradesPathUpdate, actor: eddie.id, activity: board, target: board, detail: "path=moodle_ws"}
		}},
		{"reflection settings", func(t *testing.T) *want {
			post(t, eddieLog, eddieLog.activity+"/reflection-settings", url.Values{"template": {"reflective_practice"}, "complete_on": {"signoff"}})
			return &want{action: audit.ReflectionSettingsUpdate, actor: eddie.id, activity: logID, target: logID,
				detail: "template=reflective_practice,complete_on=signoff"}
		}},
		{"assign a supervisor", func(t *testing.T) *want {
			post(t, eddieLog, eddieLog.activity+"/supervisors", url.Values{"learner": {strconv.FormatInt(lena.id, 10)},
				"supervisor": {strconv.FormatInt(sam.id, 10)}})
			return &want{action: audit.SupervisorAssign, actor: eddie.id, activity: logID, target: lena.id,
				detail: "supervisor=" + strconv.FormatInt(sam.id, 10)}
		}},
		{"remove a supervisor", func(t *testing.T) *want {
			post(t, eddieLog, eddieLog.activity+"/supervisors", url.Values{"learner": {strconv.FormatInt(lena.id, 10)},
				"supervisor": {strconv.FormatInt(sam.id, 10)}, "action": {"remove"}})
			return &want{action: audit.SupervisorUnassign, actor: eddie.id, activity: logID, target: lena.id,
				detail: "supervisor=" + strconv.FormatInt(sam.id, 10)}
		}},
		{"a learner's reflection and her own choice of supervisor", func(t *testing.T) *want {
			post(t, lenaLog, lenaLog.activity+"/supervisor", url.Values{"supervisor": {strconv.FormatInt(sam.id, 10)}})
			reflectionID = ids(t, lenaLog.submit(t, "", "After the sepsis teaching", "We ran a simulation.", 1))
			lenaLog.share(t, strconv.FormatInt(reflectionID, 10), sam.id)
			return nil
		}},
		{"sign-off", func(t *testing.T) *want {
			post(t, sam, "/reflections/"+strconv.FormatInt(reflectionID, 10)+"/signoff", url.Values{"version": {"1"}, "comment": {"A clear plan."}})
			return &want{action: audit.ReflectionSignOff, actor: sam.id, activity: logID, target: reflectionID, detail: "version=1"}
		}},
		{"feedback form", func(t *testing.T) *want {
			post(t, eddieFb, eddieFb.activity+"/feedback/form", builderForm(5, feedback.Template(), "save"))
			return &want{action: audit.FeedbackFormUpdate, actor: eddie.id, activity: fbID, target: fbID,
				detail: "questions=" + strconv.Itoa(len(feedback.Template())) + ",threshold=5"}
		}},
		{"open feedback", func(t *testing.T) *want {
			post(t, eddieFb, eddieFb.activity+"/feedback/open", url.Values{})
			return &want{action: audit.FeedbackOpen, actor: eddie.id, activity: fbID, target: fbID}
		}},
		{"feedback closing time", func(t *testing.T) *want {
			london, err := time.LoadLocation("Europe/London")
			require.NoError(t, err)
			at := time.Now().In(london).AddDate(0, 0, 7)
			closes := time.Date(at.Year(), at.Month(), at.Day(), 17, 0, 0, 0, london)
			post(t, eddieFb, eddieFb.activity+"/feedback/open", url.Values{"closes_date": {closes.Format(time.DateOnly)},
				"closes_time": {"17:00"}})
			return &want{action: audit.FeedbackCloseSchedule, actor: eddie.id, activity: fbID, target: fbID,
				detail: "closes_utc=" + closes.UTC().Format("2006-01-02_15:04")}
		}},
		{"learners' feedback", func(t *testing.T) *want {
			fb := le.signIn(t, learner, feedbackLink("feedback-audit"))
			r := fb.post(fb.activity+"/feedback/responses", feedbackAnswers(fb.csrf, 4, "More cases, please."))
			require.Equal(t, http.StatusSeeOther, r.code, r.body)
			return nil
		}},
		{"close feedback", func(t *testing.T) *want {
			post(t, eddieFb, eddieFb.activity+"/feedback/close", url.Values{})
			return &want{action: audit.FeedbackClose, actor: eddie.id, activity: fbID, target: fbID}
		}},
		{"closing a closed form again changes nothing", func(t *testing.T) *want {
			post(t, eddieFb, eddieFb.activity+"/feedback/close", url.Values{})
			return nil
		}},
		{"activity set-up", func(t *testing.T) *want {
			fresh := course2
			fresh.ResourceLinkID, fresh.Title = "8", "Not yet set up"
			s := le.signIn(t, educator, fresh)
			setUp = activityIDOf(t, s.activity)
			post(t, s, s.activity+"/setup", url.Values{"kind": {"test_board"}})
			return &want{action: audit.ActivitySetUp, actor: eddie.id, activity: setUp, target: setUp, detail: "kind=test_board"}
		}},
		{"deep linking", func(t *testing.T) *want {
			b := e.browser(t)
			auth := e.startLogin(t, b, educator)
			claims := e.platform.DeepLinkingClaims(educator, course2, auth.Query().Get("nonce"), e.platform.Issuer+"/mod/lti/contentitem_return.php")
			r := b.post("/lti/launch", url.Values{"id_token": {e.platform.Sign(t, claims)}, "state": {auth.Query().Get("state")}})
			require.Equal(t, http.StatusSeeOther, r.code, r.body)
			picker := b.get(r.location)
			require.Equal(t, http.StatusOK, picker.code, picker.body)
			resp := b.post(r.location, url.Values{"csrf": {extractValue(t, picker.body, "csrf")}, "kind": {"test_board"}})
			require.Equal(t, http.StatusOK, resp.code, resp.body)
			return &want{action: audit.DeepLinkAdd, actor: eddie.id, course: courseID, target: courseID, detail: "kind=test_board"}
		}},
	}
	last := int64(0)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.act(t)
			rows := auditRowsAfter(t, e.pool, last)
			if w == nil {
				require.Empty(t, rows, "learners' own actions, and what changes nothing, are not recorded")
				return
			}
			require.Len(t, rows, 1, "one entry per action")
			got := rows[0]
			last = got.ID
			course := w.course
			if w.activity != 0 {
				course = courseID
			}
			require.Equal(t, auditRow{ID: got.ID, Platform: platform, Actor: w.actor, Course: course, Activity: w.activity,
				Action: string(w.action), TargetType: w.action.Target(), Target: w.target, Detail: w.detail}, got)
		})
	}

	// Nothing anyone wrote or typed as a reason is in the log.
	dump := auditDump(t, e.pool)
	for _, text := range []string{"My answer", "Chest pain", "Mrs Patel", "Not helpful", "Off topic", "Safeguarding",
		"sepsis", "simulation", "A clear plan", "Lena Learner", "More cases"} {
		require.NotContains(t, dump, text)
	}

	// The administrator reads it; nobody else does.
	ada := le.signIn(t, adminAda, boardLink)
	page := ada.get("/admin")
	expectPage(t, page, http.StatusOK, `href="/admin/audit"`)
	page = ada.get("/admin/audit")
	expectPage(t, page, http.StatusOK, "<h1>Audit log</h1>", "Revealed the author of an anonymous-to-peers post",
		"Eddie Educator", "Sam Supervisor", "Foundation Teaching Programme", "Peer discussion", "<code>post.reveal_author</code>",
		`<option value="post.hide">Hid a post</option>`)
	require.Equal(t, len(tests)-4, strings.Count(page.body, "<code>"))
	for _, s := range []*signedIn{lena, eddie, sam} {
		for _, path := range []string{"/admin/audit", "/admin/audit.csv"} {
			r := s.get(path)
			require.Equal(t, http.StatusForbidden, r.code, "%s: %s", path, r.body)
		}
	}

	// Filters, and the spreadsheet of what they select.
	page = ada.get("/admin/audit?action=post.hide")
	expectPage(t, page, http.StatusOK, "Hid a post", `<option value="post.hide" selected>`)
	require.Equal(t, 1, strings.Count(page.body, "<code>"))
	page = ada.get("/admin/audit?course=" + strconv.FormatInt(courseID, 10) + "&action=deep_link.add")
	require.Equal(t, 1, strings.Count(page.body, "<code>"), page.body)
	expectPage(t, ada.get("/admin/audit?action=post.rewrite"), http.StatusBadRequest, "invalid_filter")
	expectPage(t, ada.get("/admin/audit?before=nonsense"), http.StatusBadRequest, "invalid_filter")

	r := ada.get("/admin/audit.csv?action=post.reveal_author")
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Equal(t, "text/csv; charset=utf-8", r.header.Get("Content-Type"))
	require.Contains(t, r.header.Get("Content-Disposition"), "attachment")
	records, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 2)
	require.Equal(t, []string{"id", "time_utc", "actor_id", "actor", "course_id", "course", "activity_id", "activity",
		"action", "description", "target_type", "target_id", "detail"}, records[0])
	require.Equal(t, []string{strconv.FormatInt(eddie.id, 10), "Eddie Educator", strconv.FormatInt(courseID, 10),
		"Foundation Teaching Programme", strconv.FormatInt(board, 10), "Peer discussion", "post.reveal_author"},
		records[1][2:9])
	require.Equal(t, []string{"post", strconv.FormatInt(reply, 10), ""}, records[1][10:])
	all, err := csv.NewReader(strings.NewReader(ada.get("/admin/audit.csv").body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, all, len(tests)-4+1)

	// An administrator of another Moodle site sees none of this site's entries, even
	// when asking for this site's course.
	other := e.addPlatform(t)
	otherAdmin := e.browser(t)
	lr := e.launchOn(t, other, otherAdmin, adminAda, boardLink)
	require.Equal(t, http.StatusSeeOther, lr.code, lr.body)
	for _, path := range []string{"/admin/audit", "/admin/audit?course=" + strconv.FormatInt(courseID, 10)} {
		page = otherAdmin.get(path)
		require.Equal(t, http.StatusOK, page.code, page.body)
		require.Zero(t, strings.Count(page.body, "<code>"), path)
		require.NotContains(t, page.body, "Eddie Educator")
	}
	all, err = csv.NewReader(strings.NewReader(otherAdmin.get("/admin/audit.csv").body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, all, 1, "the header only")
}

// On a fully anonymous board, moderating a post records the moderator and the post,
// and nothing about its author; no entry holds the post's text or the reasons given.
func TestAuditKeepsNoTextAndNoAnonymousAuthor(t *testing.T) {
	t.Parallel()
	le := &logEnv{ltiEnv: newLTIEnv(t)}
	e := le.ltiEnv
	link := course2
	link.Custom = map[string]string{"huddle_kind": discussion.KindDiscussionBoard}
	eddie := le.signIn(t, educator, link)
	lena := le.signIn(t, learner, link)

	r := eddie.post(eddie.activity+"/board-settings", url.Values{"csrf": {eddie.csrf}, "identity": {"anonymous"},
		"edit_minutes": {"30"}, "posts_per_hour": {"30"}, "grade_threads": {"0"}, "grade_replies": {"0"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	const secret = "Quokka handover on Ward Zebra"
	// Fully anonymous posts wait in the board's queue until three are there.
	for _, title := range []string{secret + " title", "Rota question", "Parking at night"} {
		r = lena.post(lena.activity+"/threads", url.Values{"csrf": {lena.csrf}, "title": {title}, "body": {secret + " body"}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		require.Contains(t, r.location, "queued=1")
	}
	released, err := e.app.Boards.ReleaseAnonymous(t.Context())
	require.NoError(t, err)
	require.Equal(t, 3, released)
	var thread, postID string
	var author *int64
	require.NoError(t, e.pool.QueryRow(t.Context(), `
SELECT p.thread_id::text, p.id::text, p.author_id FROM posts p JOIN threads t ON t.id = p.thread_id
WHERE p.opening AND t.title = $1`, secret+" title").Scan(&thread, &postID, &author))
	require.Nil(t, author, "a fully anonymous post")

	for _, form := range []url.Values{
		{"action": {"hide"}, "reason": {"Hidden because of " + secret}},
		{"action": {"restore"}},
	} {
		form.Set("csrf", eddie.csrf)
		r := eddie.post(eddie.activity+"/posts/"+postID+"/moderate", form)
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
	}
	r = eddie.post(eddie.activity+"/posts/"+postID+"/endorse", url.Values{"csrf": {eddie.csrf}, "on": {"1"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = eddie.post(eddie.activity+"/threads/"+thread+"/flags", url.Values{"csrf": {eddie.csrf}, "flag": {"lock"}, "on": {"1"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	// There is no author to reveal, and a refused reveal is not recorded.
	r = eddie.post(eddie.activity+"/posts/"+postID+"/reveal", url.Values{"csrf": {eddie.csrf}, "reason": {"Curious"}})
	require.NotEqual(t, http.StatusOK, r.code, r.body)

	rows := auditRowsAfter(t, e.pool, 0)
	var actions []string
	for _, row := range rows {
		actions = append(actions, row.Action)
		require.Equal(t, eddie.id, row.Actor)
		require.NotEqual(t, "user", row.TargetType)
		require.NotContains(t, row.Detail, strconv.FormatInt(lena.id, 10))
	}
	require.Equal(t, []string{"board.settings.update", "post.hide", "post.restore", "post.endorse", "thread.lock"}, actions)
	require.Zero(t, le.count(t, `SELECT count(*) FROM audit_log WHERE actor_id = $1`, lena.id))

	dump := auditDump(t, e.pool)
	require.NotContains(t, dump, "Quokka")
	require.NotContains(t, dump, "Curious")
	ada := le.signIn(t, adminAda, link)
	for _, path := range []string{"/admin/audit", "/admin/audit.csv"} {
		r := ada.get(path)
		require.Equal(t, http.StatusOK, r.code, r.body)
		require.NotContains(t, r.body, "Quokka", path)
		require.NotContains(t, r.body, "Lena Learner", path)
	}
}

// A platform registering itself through Dynamic Registration is recorded without an
// actor: no Huddle user did it.
func TestRegistrationIsAudited(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t, func(d *web.Deps) { d.Development = true })
	moodle, _ := fakeMoodleRegistration(t)
	q := url.Values{"openid_configuration": {moodle.URL + "/mod/lti/openid-configuration.php"}, "registration_token": {"test-registration-token"}}
	expectPage(t, e.browser(t).get("/lti/register?"+q.Encode()), http.StatusOK, "Huddle is registered")
	rows := auditRowsAfter(t, e.pool, 0)
	require.Len(t, rows, 1)
	var id int64
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT id FROM platforms WHERE issuer = $1`, moodle.URL).Scan(&id))
	require.Equal(t, auditRow{ID: rows[0].ID, Platform: id, Action: "platform.register", TargetType: "platform", Target: id}, rows[0])
}

// Fifty entries a page, newest first; the links carry the filters.
func TestAuditLogPages(t *testing.T) {
	t.Parallel()
	le := &logEnv{ltiEnv: newLTIEnv(t)}
	e := le.ltiEnv
	ada := le.signIn(t, adminAda, course2)
	for i := range 120 {
		require.NoError(t, e.app.Audit.Record(t.Context(), audit.Entry{PlatformID: e.stored.ID, ActorID: ada.id,
			Action: audit.GradesResync, TargetID: int64(1000 + i)}))
	}
	page := ada.get("/admin/audit?action=grades.resync")
	require.Equal(t, http.StatusOK, page.code, page.body)
	require.Equal(t, 50, strings.Count(page.body, "<code>"))
	require.Contains(t, page.body, "user 1119")
	require.NotContains(t, page.body, "Newer entries")
	older := regexp.MustCompile(`<a href="([^"]+)" rel="next">Older entries</a>`).FindStringSubmatch(page.body)
	require.NotNil(t, older)
	next := htmlUnescape(older[1])
	require.Contains(t, next, "action=grades.resync")
	page = ada.get(next)
	require.Equal(t, 50, strings.Count(page.body, "<code>"))
	require.Contains(t, page.body, "user 1069")
	require.Contains(t, page.body, "Newer entries")
	require.Contains(t, page.body, "Newest entries")
}
