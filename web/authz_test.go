package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/feedback"
	"github.com/huddle-lti/huddle/lti/ltitest"
	"github.com/huddle-lti/huddle/programme"
	"github.com/huddle-lti/huddle/reflection"
	"github.com/huddle-lti/huddle/web"
)

// actor is one kind of person the authorisation matrix tries every route as.
type actor struct {
	name    string
	browser *browser
	csrf    string
	// what the rules should let this actor do on course A's activity
	member, educator, admin, signedIn bool
}

func TestEveryRouteWithEveryActor(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)

	// Course A holds the activity every :activity route is tried on.
	signIn := func(name string, m ltitest.Member, l ltitest.Link, p *ltitest.Platform) (*browser, string, string) {
		b := e.browser(t)
		var r response
		if p == nil {
			r = e.launch(t, b, m, l)
		} else {
			r = e.launchOn(t, p, b, m, l)
		}
		require.Equal(t, http.StatusSeeOther, r.code, "%s: %s", name, r.body)
		b.header = http.Header{"Origin": {testBase}}
		page := b.get(r.location)
		csrf := ""
		if m := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(page.body); m != nil {
			csrf = m[1]
		}
		return b, r.location, csrf
	}
	courseB := course2
	courseB.ContextID, courseB.ContextTitle, courseB.ResourceLinkID = "9", "Another course", "90"
	admin := ltitest.Member{Subject: "2", Name: "Ada Admin", Roles: []string{ltitest.RoleAdministrator, ltitest.RoleInstructor}}

	// Course A's activity is a case board, so board routes run on real threads.
	boardLink := course2
	boardLink.Custom = map[string]string{"huddle_kind": discussion.KindCaseBoard}
	course2 := boardLink
	eduA, activityA, eduCSRF := signIn("educator A", educator, course2, nil)
	// And a reflection log beside it, for the reflection routes.
	logLink := course2
	logLink.ResourceLinkID, logLink.Title = "2", "Reflections"
	logLink.Custom = map[string]string{"huddle_kind": reflection.KindReflectionLog}
	_, logA, _ := signIn("educator A", educator, logLink, nil)
	// And a session feedback form, for the feedback routes.
	feedbackLink := course2
	feedbackLink.ResourceLinkID, feedbackLink.Title = "3", "Feedback"
	feedbackLink.Custom = map[string]string{"huddle_kind": feedback.KindSessionFeedback}
	_, feedbackA, _ := signIn("educator A", educator, feedbackLink, nil)
	// And a teaching programme with one session, for the programme routes.
	progLink := course2
	progLink.ResourceLinkID, progLink.Title = "5", "Teaching"
	progLink.Custom = map[string]string{"huddle_kind": programme.KindProgramme}
	progEdu, progA, progCSRF := signIn("educator A", educator, progLink, nil)
	r := progEdu.post(progA+"/programme/sessions", url.Values{"csrf": {progCSRF}, "title": {"Sepsis"}, "date": {"2030-06-03"},
		"start": {"09:00"}, "end": {"10:00"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	var sessionID string
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT id::text FROM programme_sessions`).Scan(&sessionID))
	_ = eduA
	// Every actor's browser sends Origin with its posts, as browsers do: the routes
	// that check where a post came from (the hand-off) then judge the actor, not a
	// missing header.
	anonymous := e.browser(t)
	anonymous.header = http.Header{"Origin": {testBase}}
	actors := []actor{{name: "anonymous", browser: anonymous}}
	add := func(name string, m ltitest.Member, l ltitest.Link, p *ltitest.Platform, a actor) {
		b, _, csrf := signIn(name, m, l, p)
		a.name, a.browser, a.csrf, a.signedIn = name, b, csrf, true
		actors = append(actors, a)
	}
	add("learner A", learner, course2, nil, actor{member: true})
	add("educator A", educator, course2, nil, actor{member: true, educator: true})
	add("learner B", ltitest.Member{Subject: "40", Name: "Bo Learner", Roles: []string{ltitest.RoleLearner}}, courseB, nil, actor{})
	add("educator B", ltitest.Member{Subject: "30", Name: "Beth Educator", Roles: []string{ltitest.RoleInstructor}}, courseB, nil, actor{})
	add("admin A", admin, courseB, nil, actor{admin: true})
	other := e.addPlatform(t)
	add("educator on another site", educator, course2, other, actor{})
	add("admin on another site", admin, course2, other, actor{admin: true})

	// Learner A writes a case and two replies; the matrix acts on them.
	learnerA := actors[1]
	threadID := e.postThread(t, learnerA.browser, learnerA.csrf, activityA)
	postID := e.postReply(t, learnerA.browser, learnerA.csrf, activityA, threadID, "A reply to act on.")
	spareID := e.postReply(t, learnerA.browser, learnerA.csrf, activityA, threadID, "A reply to delete.")
	_ = eduCSRF
	// And a reflection, submitted.
	r = learnerA.browser.post(logA+"/reflections", url.Values{"csrf": {learnerA.csrf}, "action": {"submit"}, "title": {"Night shift"},
		"answer_what_happened": {"A busy night."}, "answer_learned": {"Ask for help early."}, "answer_next": {"Escalate sooner."}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	reflectionID := regexp.MustCompile(`/reflections/(\d+)`).FindStringSubmatch(r.location)[1]
	ids := strings.NewReplacer(":id", "unknown-deep-link", ":user", "1",
		":token", "unknown-ticket", "*", "huddle.css", ":thread", threadID, ":reflection", reflectionID, ":session", sessionID)
	activityOf := func(path string) string {
		if strings.Contains(path, "/feedback/") {
			return strings.TrimPrefix(feedbackA, "/activities/")
		}
		if strings.Contains(path, "reflection") || strings.Contains(path, "supervisor") {
			return strings.TrimPrefix(logA, "/activities/")
		}
		if strings.Contains(path, "/programme/") {
			return strings.TrimPrefix(progA, "/activities/")
		}
		return strings.TrimPrefix(activityA, "/activities/")
	}
	for _, route := range e.srv.Routes() {
		if route.Method == http.MethodPost && route.Path == "/sign-out" {
			continue // it ends the actor's session: walked last, below
		}
		for _, a := range actors {
			t.Run(route.Method+" "+route.Path+" as "+a.name, func(t *testing.T) {
				path := strings.Replace(ids.Replace(route.Path), ":activity", activityOf(route.Path), 1)
				// Deleting would take the post away from the routes after it.
				if strings.HasSuffix(route.Path, "/delete") {
					path = strings.Replace(path, ":post", spareID, 1)
				}
				path = strings.Replace(path, ":post", postID, 1)
				var r response
				if route.Method == http.MethodGet {
					r = a.browser.get(path)
				} else {
					r = a.browser.post(path, url.Values{"csrf": {a.csrf}})
				}
				allowed := false
				switch route.Rule {
				case web.Public:
					allowed = true
				case web.SignedIn:
					allowed = a.signedIn
				case web.Member:
					allowed = a.member
				case web.Educator:
					allowed = a.educator
				case web.PlatformAdmin:
					allowed = a.admin
				}
				if allowed {
					// Only a post's author may change it: a route's rule lets the
					// member in, the post then answers for itself.
					if r.code == http.StatusForbidden && strings.Contains(r.body, "not_author") {
						require.NotEqual(t, "learner A", a.name)
						return
					}
					// Some actions are for one role within the route's rule: only
					// learners choose a supervisor; nobody signs off their own writing.
					if r.code == http.StatusForbidden && (strings.Contains(r.body, "learners_only") || strings.Contains(r.body, "own_reflection")) {
						return
					}
					// Certificate routes on an activity that is not a certificate, or with no
					// such certificate, answer that it does not exist.
					if r.code == http.StatusNotFound && (strings.Contains(r.body, "not_a_certificate") || strings.Contains(r.body, "certificate_not_found")) {
						return
					}
					// A reflection is private: to anyone but its author it does not exist.
					if r.code == http.StatusNotFound && strings.Contains(r.body, "reflection_not_found") {
						require.NotEqual(t, "learner A", a.name)
						return
					}
					require.NotContains(t, []int{401, 403}, r.code, r.body)
					if route.Rule == web.Member || route.Rule == web.Educator {
						require.NotEqual(t, 404, r.code, r.body)
					}
					return
				}
				switch {
				case !a.signedIn:
					require.Equal(t, http.StatusUnauthorized, r.code, r.body)
				case route.Rule == web.Member || route.Rule == web.Educator:
					if a.member {
						require.Equal(t, http.StatusForbidden, r.code, r.body)
					} else {
						// Outsiders cannot even learn that the activity exists.
						require.Equal(t, http.StatusNotFound, r.code, r.body)
					}
				default:
					require.Equal(t, http.StatusForbidden, r.code, r.body)
				}
			})
		}
	}

	// An admin sees and manages only their own site's platform.
	for _, a := range actors {
		if a.name == "admin on another site" {
			page := a.browser.get("/admin")
			require.Equal(t, http.StatusOK, page.code)
			require.Contains(t, page.body, other.Issuer)
			require.NotContains(t, page.body, e.platform.Issuer)
		}
	}

	// Signing out ends the actor's session, so it comes after everything that needs
	// one: anyone signed in may, anyone else is refused.
	require.Contains(t, e.srv.Routes(), web.Route{Method: http.MethodPost, Path: "/sign-out", Rule: web.SignedIn})
	for _, a := range actors {
		r := a.browser.post("/sign-out", url.Values{"csrf": {a.csrf}})
		if a.signedIn {
			require.Equal(t, http.StatusOK, r.code, "%s: %s", a.name, r.body)
		} else {
			require.Equal(t, http.StatusUnauthorized, r.code, "%s: %s", a.name, r.body)
		}
	}
}

// The CSRF token counts only in the form body or the X-CSRF-Token header: a token in
// the URL leaks through logs, history and Referer, and a link carrying it would turn
// a cross-site form post into a valid one.
func TestCSRFTokenOnlyFromBodyOrHeader(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	require.Equal(t, http.StatusSeeOther, e.launch(t, b, learner, course2).code)
	page := b.get("/notifications")
	require.Equal(t, http.StatusOK, page.code, page.body)
	csrf := extractValue(t, page.body, "csrf")
	var userID int64
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT id FROM users WHERE subject = '4'`).Scan(&userID))

	cases := []struct {
		name      string
		query     string
		form      url.Values
		multipart bool
		header    string
		want      int
	}{
		{"in the query only", "?csrf=" + url.QueryEscape(csrf), url.Values{"mode": {"none"}}, false, "", http.StatusForbidden},
		{"in the query, a wrong one in the body", "?csrf=" + url.QueryEscape(csrf), url.Values{"mode": {"none"}, "csrf": {"wrong"}}, false, "", http.StatusForbidden},
		{"in the query, multipart body without", "?csrf=" + url.QueryEscape(csrf), url.Values{"mode": {"none"}}, true, "", http.StatusForbidden},
		{"nowhere", "", url.Values{"mode": {"none"}}, false, "", http.StatusForbidden},
		{"a wrong one in the header", "", url.Values{"mode": {"none"}}, false, "wrong", http.StatusForbidden},
		{"in the body", "", url.Values{"mode": {"digest"}, "csrf": {csrf}}, false, "", http.StatusSeeOther},
		{"in a multipart body", "", url.Values{"mode": {"none"}, "csrf": {csrf}}, true, "", http.StatusSeeOther},
		{"in the header (the page script's fetch)", "", url.Values{"mode": {"immediate"}}, false, csrf, http.StatusSeeOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, err := e.deps.Notices.Preference(t.Context(), userID)
			require.NoError(t, err)
			if tc.header != "" {
				b.header = http.Header{"X-Csrf-Token": {tc.header}}
				defer func() { b.header = nil }()
			}
			var r response
			if tc.multipart {
				ct, body := multipartBody(t, tc.form)
				r = b.send(http.MethodPost, "/notifications"+tc.query, ct, body)
			} else {
				r = b.post("/notifications"+tc.query, tc.form)
			}
			require.Equal(t, tc.want, r.code, r.body)
			after, err := e.deps.Notices.Preference(t.Context(), userID)
			require.NoError(t, err)
			if tc.want == http.StatusForbidden {
				require.Contains(t, r.body, "csrf")
				require.Equal(t, before, after, "nothing saved")
			} else {
				require.Equal(t, tc.form.Get("mode"), string(after))
			}
		})
	}
}
