package web_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/lti/ltitest"
	"github.com/huddle-lti/huddle/reflection"
)

// multipartBody encodes form as multipart/form-data and returns it with its content type.
func multipartBody(t *testing.T, form url.Values) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			require.NoError(t, w.WriteField(k, v))
		}
	}
	require.NoError(t, w.Close())
	return w.FormDataContentType(), &buf
}

// Text PostgreSQL cannot hold (NUL, invalid UTF-8) is refused at the edge with a 400
// that says so, whatever the route, before any handler reads it: never a 500, and
// nothing saved.
func TestTextPostgreSQLCannotHoldIsRefused(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	signIn := func(l ltitest.Link) (*browser, string, string) {
		b := e.browser(t)
		r := e.launch(t, b, learner, l)
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		page := b.get(r.location)
		require.Equal(t, http.StatusOK, page.code, page.body)
		csrf := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(page.body)
		require.NotNil(t, csrf)
		return b, strings.SplitN(r.location, "?", 2)[0], csrf[1]
	}
	boardLink := course2
	boardLink.Custom = map[string]string{"huddle_kind": discussion.KindCaseBoard}
	b, board, csrf := signIn(boardLink)
	logLink := course2
	logLink.ResourceLinkID, logLink.Title = "2", "Reflections"
	logLink.Custom = map[string]string{"huddle_kind": reflection.KindReflectionLog}
	_, log, _ := signIn(logLink)
	thread := e.postThread(t, b, csrf, board)
	post := e.postReply(t, b, csrf, board, thread, "A reply to report.")

	tables := []string{"threads", "posts", "post_revisions", "post_reports", "reflections", "reflection_versions", "sessions", "lti_login_initiations"}
	counts := func() map[string]int {
		out := map[string]int{}
		for _, table := range tables {
			var n int
			require.NoError(t, e.pool.QueryRow(t.Context(), "SELECT count(*) FROM "+table).Scan(&n))
			out[table] = n
		}
		return out
	}

	type request struct {
		method, target string
		form           url.Values
		multipart      bool
		json           bool // the caller asks for JSON (the autosave script)
	}
	cases := []struct {
		name string
		req  func(bad string) request
	}{
		{"new thread", func(bad string) request {
			f := caseForm(csrf, "A man in his 50s.")
			f.Set("title", "Chest pain"+bad)
			return request{method: http.MethodPost, target: board + "/threads", form: f}
		}},
		{"reply", func(bad string) request {
			return request{method: http.MethodPost, target: board + "/threads/" + thread + "/posts",
				form: url.Values{"csrf": {csrf}, "body": {"I would" + bad + " repeat the ECG."}}}
		}},
		{"reply as multipart", func(bad string) request {
			return request{method: http.MethodPost, target: board + "/threads/" + thread + "/posts",
				form: url.Values{"csrf": {csrf}, "body": {"I would" + bad + " repeat the ECG."}}, multipart: true}
		}},
		{"report reason", func(bad string) request {
			return request{method: http.MethodPost, target: board + "/posts/" + post + "/report",
				form: url.Values{"csrf": {csrf}, "reason": {"Rude" + bad}}}
		}},
		{"reflection draft autosave", func(bad string) request {
			return request{method: http.MethodPost, target: log + "/reflections/autosave", json: true,
				form: url.Values{"csrf": {csrf}, "title": {"Night shift"}, "answer_learned": {"Ask" + bad}}}
		}},
		{"reflection draft autosave, bad field name", func(bad string) request {
			return request{method: http.MethodPost, target: log + "/reflections/autosave", json: true,
				form: url.Values{"csrf": {csrf}, "title": {"Night shift"}, "answer_" + bad: {"Ask"}}}
		}},
		{"search query", func(bad string) request {
			return request{method: http.MethodGet, target: board + "?q=" + url.QueryEscape("chest"+bad)}
		}},
		{"launch form", func(bad string) request {
			return request{method: http.MethodPost, target: "/lti/launch",
				form: url.Values{"id_token": {"eyJ" + bad}, "state": {"abc"}}}
		}},
		{"login form", func(bad string) request {
			f := e.loginForm(learner)
			f.Set("login_hint", "4"+bad)
			return request{method: http.MethodPost, target: "/lti/login", form: f}
		}},
	}
	for _, tc := range cases {
		for _, bad := range []string{"\x00", "\xff"} {
			t.Run(tc.name+" "+url.QueryEscape(bad), func(t *testing.T) {
				before := counts()
				req := tc.req(bad)
				if req.json {
					b.header = http.Header{"Accept": {"application/json"}}
					defer func() { b.header = nil }()
				}
				var r response
				switch {
				case req.multipart:
					ct, body := multipartBody(t, req.form)
					r = b.send(req.method, req.target, ct, body)
				case req.form != nil:
					r = b.do(req.method, req.target, req.form)
				default:
					r = b.get(req.target)
				}
				require.Equal(t, http.StatusBadRequest, r.code, r.body)
				if req.json {
					var problem struct {
						Error struct{ Code, Message string }
					}
					require.NoError(t, json.Unmarshal([]byte(r.body), &problem), r.body)
					require.Equal(t, "bad_text", problem.Error.Code)
					require.NotEmpty(t, problem.Error.Message)
				} else {
					require.Contains(t, r.header.Get("Content-Type"), "text/html")
					require.Contains(t, r.body, "bad_text")
					require.Contains(t, r.body, "characters Huddle cannot store")
				}
				require.Equal(t, before, counts(), "nothing saved")
			})
		}
	}

	// Ordinary text, accents and all, still goes through.
	r := b.post(board+"/threads/"+thread+"/posts", url.Values{"csrf": {csrf}, "body": {"Café au lait spots — see the ÉCG ✓"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = b.get(board + "?q=" + url.QueryEscape("café"))
	require.Equal(t, http.StatusOK, r.code, r.body)
}
