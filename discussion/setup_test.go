package discussion_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/internal/fakeclock"
)

// User ids are set explicitly and large, so that a user id found among a row's values
// is never a count or a small generated id by coincidence (see walkLinks).
const (
	learner1ID = 4100001
	learner2ID = 4100002
	educatorID = 4100003
)

// nhsNumber passes the NHS number checksum, so the guard must find it.
const nhsNumber = "943 476 5919"

// start is the tests' clock at the beginning: deliberately not on an hour or a day.
var start = time.Date(2025, 3, 4, 10, 17, 23, 123456000, time.UTC)

// notice is one call of the Notifier.
type notice struct {
	UserID, ActivityID int64
	Subject, Text      string
}

// notifier records what the service asked to be sent; fail makes every call fail.
type notifier struct {
	mu      sync.Mutex
	notices []notice
	fail    error
}

func (n *notifier) Notify(_ context.Context, _ pgx.Tx, userID, activityID int64, subject, text string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail != nil {
		return n.fail
	}
	n.notices = append(n.notices, notice{UserID: userID, ActivityID: activityID, Subject: subject, Text: text})
	return nil
}

func (n *notifier) take() []notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.notices
	n.notices = nil
	return out
}

// announcement is one call of the Announcer.
type announcement struct {
	Topic string
	Data  string
}

type announcer struct {
	mu   sync.Mutex
	sent []announcement
}

func (a *announcer) Announce(_ context.Context, _ pgx.Tx, topic string, data []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sent = append(a.sent, announcement{Topic: topic, Data: string(data)})
	return nil
}

func (a *announcer) take() []announcement {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.sent
	a.sent = nil
	return out
}

// logBuffer keeps what the service logged, safe for parallel subtests.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// env is one test's database, service and people.
type env struct {
	t         *testing.T
	ctx       context.Context
	pool      *pgxpool.Pool
	svc       *discussion.Service
	clock     *fakeclock.Clock // the injected time (Options.Now); tests move it on
	notes     *notifier
	announced *announcer
	logs      *logBuffer
	platform  int64
	course1   int64
	course2   int64
	links     atomic.Int64

	learner1, learner2, educator discussion.Viewer
}

func setup(t *testing.T) *env {
	t.Helper()
	pool := dbtest.New(t)
	ctx := t.Context()
	e := &env{t: t, ctx: ctx, pool: pool, clock: fakeclock.New(start), notes: &notifier{}, announced: &announcer{},
		logs:     &logBuffer{},
		learner1: discussion.Viewer{UserID: learner1ID},
		learner2: discussion.Viewer{UserID: learner2ID},
		educator: discussion.Viewer{UserID: educatorID, Moderator: true},
	}
	require.NoError(t, pool.QueryRow(ctx, `
INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url)
VALUES ('https://moodle.test', 'huddle', 'https://moodle.test/auth', 'https://moodle.test/token', 'https://moodle.test/jwks')
RETURNING id`).Scan(&e.platform))
	for _, u := range []struct {
		id            int64
		subject, name string
	}{{learner1ID, "11", "Lee Learner"}, {learner2ID, "12", "Pat Peer"}, {educatorID, "13", "Dr Eve Educator"}} {
		_, err := pool.Exec(ctx, `INSERT INTO users (id, platform_id, subject, name) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4)`,
			u.id, e.platform, u.subject, u.name)
		require.NoError(t, err)
	}
	for i, c := range []*int64{&e.course1, &e.course2} {
		require.NoError(t, pool.QueryRow(ctx, `
INSERT INTO courses (platform_id, deployment_id, context_id, title) VALUES ($1, '1', $2, $3) RETURNING id`,
			e.platform, fmt.Sprintf("ctx-%d", i+1), fmt.Sprintf("Course %d", i+1)).Scan(c))
		for _, m := range []struct {
			user int64
			role string
		}{{learner1ID, "learner"}, {learner2ID, "learner"}, {educatorID, "educator"}} {
			_, err := pool.Exec(ctx, `INSERT INTO memberships (user_id, course_id, roles) VALUES ($1, $2, $3)`,
				m.user, *c, []string{m.role})
			require.NoError(t, err)
		}
	}

	// Grade sync with an insert-only queue: tests see what is recorded, not pushed.
	queue, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	grades := gradesync.NewService(pool, nil, queue, nil)

	e.svc = discussion.NewService(pool, discussion.Options{Now: e.clock.Now, Grader: grades, Notifier: e.notes,
		Announce: e.announced.Announce, Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
	return e
}

// activity places a board activity in a course and returns it as the web layer would.
func (e *env) activity(courseID int64, kind string, settings string) course.Activity {
	e.t.Helper()
	if settings == "" {
		settings = "{}"
	}
	link := fmt.Sprintf("rl-%d", e.links.Add(1))
	a := course.Activity{CourseID: courseID, PlatformID: e.platform, ResourceLinkID: link, Kind: kind,
		Settings: json.RawMessage(settings)}
	require.NoError(e.t, e.pool.QueryRow(e.ctx, `
INSERT INTO activities (course_id, resource_link_id, title, kind, settings) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		courseID, link, "Board "+link, kind, settings).Scan(&a.ID))
	return a
}

// board makes a board in course 1 with the given identity and applies change through
// SaveSettings, as an educator would.
func (e *env) board(kind string, identity discussion.Identity, change func(*discussion.Board)) discussion.Board {
	e.t.Helper()
	return e.boardIn(e.course1, kind, identity, change)
}

func (e *env) boardIn(courseID int64, kind string, identity discussion.Identity, change func(*discussion.Board)) discussion.Board {
	e.t.Helper()
	a := e.activity(courseID, kind, fmt.Sprintf(`{"identity": %q}`, identity))
	b, err := e.svc.Board(e.ctx, a)
	require.NoError(e.t, err)
	require.Equal(e.t, identity, b.Identity)
	if change == nil {
		return b
	}
	change(&b)
	require.NoError(e.t, e.svc.SaveSettings(e.ctx, educatorID, b))
	b, err = e.svc.Board(e.ctx, a)
	require.NoError(e.t, err)
	return b
}

// discussionDraft is a thread for a discussion board.
func discussionDraft(title, body string) discussion.Draft {
	return discussion.Draft{Title: title, Body: body}
}

// caseDraft is a case with both required sections.
func caseDraft(title string) discussion.Draft {
	return discussion.Draft{Kind: discussion.ThreadCase, Title: title, Specialty: "Cardiology", Setting: "Emergency department",
		Grades: []string{"F1", "CT"}, Tags: []string{"ecg"},
		Sections: map[string]string{
			"presentation": "A man in his fifties with central chest pain at night.",
			"question":     "What would you do next?",
		}}
}

func (e *env) thread(b discussion.Board, v discussion.Viewer, d discussion.Draft) discussion.Posted {
	e.t.Helper()
	p, err := e.svc.CreateThread(e.ctx, b, v, d)
	require.NoError(e.t, err)
	return e.released(b, p)
}

func (e *env) reply(b discussion.Board, v discussion.Viewer, threadID, parentID int64, body string) discussion.Posted {
	e.t.Helper()
	p, err := e.svc.Reply(e.ctx, b, v, threadID, parentID, discussion.Draft{Body: body})
	require.NoError(e.t, err)
	return e.released(b, p)
}

// released writes a fully anonymous post that is waiting for release at once and
// returns where it went, for tests about what happens to it afterwards. Other posts
// pass through.
func (e *env) released(b discussion.Board, p discussion.Posted) discussion.Posted {
	e.t.Helper()
	if !p.Queued {
		return p
	}
	require.Zero(e.t, p.PostID, "a queued post has no id")
	posts, err := e.svc.ReleaseNow(e.ctx, b.ActivityID)
	require.NoError(e.t, err)
	require.Len(e.t, posts, 1)
	return posts[0]
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.pool.QueryRow(e.ctx, sql, args...).Scan(&n))
	return n
}

func (e *env) status(postID int64) (status, heldFor string) {
	e.t.Helper()
	require.NoError(e.t, e.pool.QueryRow(e.ctx, `SELECT status, held_for FROM posts WHERE id = $1`, postID).Scan(&status, &heldFor))
	return status, heldFor
}

// replies is the thread's number of replies as the board shows it.
func (e *env) replies(b discussion.Board, threadID int64) int {
	e.t.Helper()
	th, err := e.svc.Thread(e.ctx, b, e.educator, threadID)
	require.NoError(e.t, err)
	return th.Replies
}

// findPost looks for a post among a thread page's posts and their replies.
func findPost(t discussion.Thread, id int64) *discussion.Post {
	if t.Opening != nil && t.Opening.ID == id {
		return t.Opening
	}
	for _, p := range t.Posts {
		if p.ID == id {
			return p
		}
		for _, r := range p.Replies {
			if r.ID == id {
				return r
			}
		}
	}
	return nil
}

func threadIDs(list []discussion.Summary) []int64 {
	out := []int64{}
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}

// walkResult is what walkLinks found in every table of the public schema.
type walkResult struct {
	// Linked are rows that hold one of the ids and also the user's id.
	Linked []string
	// Timed are rows that hold one of the ids and a time that is not midnight UTC.
	Timed []string
	// Mentions counts rows holding one of the ids, by table.
	Mentions map[string]int
}

// walkLinks reads every row of every table in the public schema (River's included) as
// JSON and reports rows that hold one of ids together with userID, or with a time of
// day. Tables in ignoreTimes record other people's actions on the posts (a report, a
// moderator's dismissal), whose times say nothing about the author.
func walkLinks(t *testing.T, pool *pgxpool.Pool, ids []int64, userID int64, ignoreTimes ...string) walkResult {
	t.Helper()
	ctx := t.Context()
	rows, err := pool.Query(ctx, `
SELECT table_name FROM information_schema.tables
WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, tables, "posts")
	require.Contains(t, tables, "river_job")

	idSet := map[string]bool{}
	for _, id := range ids {
		idSet[strconv.FormatInt(id, 10)] = true
	}
	user := strconv.FormatInt(userID, 10)
	res := walkResult{Mentions: map[string]int{}}
	for _, table := range tables {
		rows, err := pool.Query(ctx, fmt.Sprintf(`SELECT row_to_json(t)::text FROM public.%s t`, pgx.Identifier{table}.Sanitize()))
		require.NoError(t, err)
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err, table)
		for _, text := range texts {
			var v any
			d := json.NewDecoder(bytes.NewReader([]byte(text)))
			d.UseNumber()
			require.NoError(t, d.Decode(&v))
			var scalars []string
			flatten(v, &scalars)
			mentions, hasUser := false, false
			var times []time.Time
			for _, s := range scalars {
				for _, n := range numbersIn(s) {
					if idSet[n] {
						mentions = true
					}
					if n == user {
						hasUser = true
					}
				}
				if ts, ok := parseTime(s); ok {
					times = append(times, ts)
				}
			}
			if !mentions {
				continue
			}
			res.Mentions[table]++
			if hasUser {
				res.Linked = append(res.Linked, table+": "+text)
			}
			ignore := false
			for _, it := range ignoreTimes {
				ignore = ignore || it == table
			}
			for _, ts := range times {
				if !ignore && !ts.Equal(ts.UTC().Truncate(24*time.Hour)) {
					res.Timed = append(res.Timed, table+": "+text)
					break
				}
			}
		}
	}
	return res
}

// flatten collects every scalar value of a decoded JSON document, at any depth.
func flatten(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for _, y := range x {
			flatten(y, out)
		}
	case []any:
		for _, y := range x {
			flatten(y, out)
		}
	case json.Number:
		*out = append(*out, x.String())
	case string:
		*out = append(*out, x)
		// A text column may itself hold JSON (or a NOTIFY payload): look inside.
		var inner any
		d := json.NewDecoder(strings.NewReader(x))
		d.UseNumber()
		if strings.HasPrefix(strings.TrimSpace(x), "{") && d.Decode(&inner) == nil {
			flatten(inner, out)
		}
	}
}

// numbersIn returns the runs of digits in s, so that an id inside a longer string
// (a payload, a comment) is found as well as a numeric value.
func numbersIn(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsDigit(r) })
}

func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if ts, err := time.Parse(layout, s); err == nil {
			return ts, true
		}
	}
	return time.Time{}, false
}
