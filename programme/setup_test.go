package programme_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/programme"
)

// world is one Moodle site with courses A and B and a second site; course A has a
// teaching programme, a reflection log and a board, course B a programme of its own.
type world struct {
	db                            *pgxpool.Pool
	svc                           *programme.Service
	clock                         *fakeclock.Clock
	site, site2                   int64
	courseA, courseB, courseOther int64
	prog, progB, progOther        course.Activity
	reflectionLog, board, boardB  course.Activity
	learner, learner2, educator   int64
	outsider                      int64
}

// start is the world's clock: a Monday morning in term.
var start = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{db: dbtest.New(t), clock: fakeclock.New(start)}
	w.svc = programme.NewService(w.db, programme.Options{Now: w.clock.Now})
	w.site = w.platform(t, "https://moodle.example.nhs.uk")
	w.site2 = w.platform(t, "https://moodle.other-trust.nhs.uk")
	w.courseA = w.course(t, w.site, "fp", "Foundation Programme")
	w.courseB = w.course(t, w.site, "ct", "Core Training")
	w.courseOther = w.course(t, w.site2, "fp", "Foundation Programme")
	w.prog = w.activity(t, w.courseA, "p1", "FY1 teaching", programme.KindProgramme)
	w.progB = w.activity(t, w.courseB, "p2", "CT teaching", programme.KindProgramme)
	w.progOther = w.activity(t, w.courseOther, "p3", "Other trust teaching", programme.KindProgramme)
	w.reflectionLog = w.activity(t, w.courseA, "r1", "Reflections", "reflection_log")
	w.board = w.activity(t, w.courseA, "b1", "Case board", "case_board")
	w.boardB = w.activity(t, w.courseB, "b2", "CT board", "case_board")
	w.learner = w.user(t, w.site, "ada", "Ada Learner")
	w.learner2 = w.user(t, w.site, "ben", "Ben Learner")
	w.educator = w.user(t, w.site, "cara", "Cara Educator")
	w.outsider = w.user(t, w.site2, "ada", "Ada Learner")
	w.enrol(t, w.learner, w.courseA, "{learner}")
	w.enrol(t, w.learner, w.courseB, "{learner}")
	w.enrol(t, w.learner2, w.courseA, "{learner}")
	w.enrol(t, w.educator, w.courseA, "{educator}")
	w.enrol(t, w.outsider, w.courseOther, "{learner}")
	// Courses and activities were last changed before the world's clock starts, as
	// they would be in production, where both read the same clock.
	_, err := w.db.Exec(context.Background(), `UPDATE courses SET updated_at = $1`, start.Add(-24*time.Hour))
	require.NoError(t, err)
	_, err = w.db.Exec(context.Background(), `UPDATE activities SET updated_at = $1`, start.Add(-24*time.Hour))
	require.NoError(t, err)
	return w
}

func (w *world) platform(t testing.TB, issuer string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, w.db.QueryRow(context.Background(), `
INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url) VALUES ($1, 'huddle', $1 || '/auth', $1 || '/token', $1 || '/certs')
RETURNING id`, issuer).Scan(&id))
	return id
}

func (w *world) course(t testing.TB, platform int64, contextID, title string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, w.db.QueryRow(context.Background(), `
INSERT INTO courses (platform_id, deployment_id, context_id, title) VALUES ($1, '1', $2, $3) RETURNING id`,
		platform, contextID, title).Scan(&id))
	return id
}

func (w *world) user(t testing.TB, platform int64, subject, name string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, w.db.QueryRow(context.Background(),
		`INSERT INTO users (platform_id, subject, name) VALUES ($1, $2, $3) RETURNING id`, platform, subject, name).Scan(&id))
	return id
}

func (w *world) enrol(t testing.TB, userID, courseID int64, roles string) {
	t.Helper()
	_, err := w.db.Exec(context.Background(), `INSERT INTO memberships (user_id, course_id, roles) VALUES ($1, $2, $3::text[])`,
		userID, courseID, roles)
	require.NoError(t, err)
}

func (w *world) activity(t testing.TB, courseID int64, rl, title, kind string) course.Activity {
	t.Helper()
	a := course.Activity{CourseID: courseID, Title: title, Kind: kind}
	require.NoError(t, w.db.QueryRow(context.Background(), `
INSERT INTO activities (course_id, resource_link_id, title, kind) VALUES ($1, $2, $3, $4) RETURNING id`,
		courseID, rl, title, kind).Scan(&a.ID))
	return a
}

func (w *world) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, w.db.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}

// draft is a valid one-hour session on date at clock, London time.
func draft(title, date, from, to string) programme.Draft {
	return programme.Draft{Title: title, Date: date, StartTime: from, EndTime: to, Location: "Seminar room 2, Education Centre",
		Teacher: "Dr Okafor", Outcomes: "Recognise sepsis early.\nStart the Sepsis Six within the hour."}
}

func (w *world) create(t testing.TB, a course.Activity, d programme.Draft) int64 {
	t.Helper()
	ids, err := w.svc.Create(context.Background(), a, d)
	require.NoError(t, err)
	require.Len(t, ids, 1)
	return ids[0]
}
