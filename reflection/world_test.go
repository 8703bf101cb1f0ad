package reflection_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/reflection"
)

// The people of the world, by what they are to the author's reflection.
const (
	author            = "author"
	peerLearner       = "peer learner"
	educator          = "educator"
	supervisorShared  = "supervisor with a share"
	supervisorNoShare = "supervisor without a share"
	educatorOther     = "educator of another course"
	learnerOther      = "learner of another course"
	otherSite         = "user of another site"
	admin             = "admin in the course"
)

// actors is every person the privacy matrix acts as, author first.
var actors = []string{author, peerLearner, educator, supervisorShared, supervisorNoShare, educatorOther,
	learnerOther, otherSite, admin}

// fakeThreads lets everyone see thread 77 and nobody thread 88 (a case in a course
// they are not in); it records who asked.
type fakeThreads struct {
	mu      sync.Mutex
	askedBy []int64
}

var (
	visibleThread = reflection.Ref{ThreadID: 77, ActivityID: 9, Title: "Night handover case"}
	hiddenThread  = reflection.Ref{ThreadID: 88, ActivityID: 9, Title: "Another course's case"}
)

func (f *fakeThreads) ThreadsFor(_ context.Context, userID int64, _ int) ([]reflection.Ref, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.askedBy = append(f.askedBy, userID)
	return []reflection.Ref{visibleThread}, nil
}

func (f *fakeThreads) ThreadFor(_ context.Context, userID, threadID int64) (reflection.Ref, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.askedBy = append(f.askedBy, userID)
	if threadID == visibleThread.ThreadID {
		return visibleThread, nil
	}
	return reflection.Ref{}, errors.New("discussion: not found")
}

// world is one Moodle site with two courses (A and B), a reflection log in each, and
// a second site; with grade sync recording scores through an insert-only queue.
type world struct {
	db      *pgxpool.Pool
	svc     *reflection.Service
	threads *fakeThreads
	notes   *recordingNotifier
	clock   *fakeclock.Clock
	// log is course A's reflection log, logB course B's.
	log, logB        course.Activity
	site, site2      int64
	courseA, courseB int64
	courseOtherSite  int64
	people           map[string]int64
	names            map[string]string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	db := dbtest.New(t)
	w := &world{db: db, people: map[string]int64{}, names: map[string]string{}}

	w.site = w.platform(t, "https://moodle.example.nhs.uk")
	w.site2 = w.platform(t, "https://moodle.other-trust.nhs.uk")
	w.courseA = w.course(t, w.site, "fp-2025", "Foundation Programme")
	w.courseB = w.course(t, w.site, "ct-2025", "Core Training")
	// The other site has a course with the same context id and title.
	w.courseOtherSite = w.course(t, w.site2, "fp-2025", "Foundation Programme")

	for _, p := range []struct {
		key, subject, name string
		site, course       int64
		roles              string
	}{
		{author, "ada", "Ada Author", w.site, w.courseA, "{learner}"},
		{peerLearner, "ben", "Ben Peer", w.site, w.courseA, "{learner}"},
		{educator, "cara", "Cara Educator", w.site, w.courseA, "{educator}"},
		{supervisorShared, "dev", "Dev Supervisor", w.site, w.courseA, "{mentor}"},
		{supervisorNoShare, "eve", "Eve Mentor", w.site, w.courseA, "{mentor}"},
		{educatorOther, "finn", "Finn Educator", w.site, w.courseB, "{educator}"},
		{learnerOther, "gus", "Gus Learner", w.site, w.courseB, "{learner}"},
		// The same subject and name as the author, on another Moodle site, teaching there.
		{otherSite, "ada", "Ada Author", w.site2, w.courseOtherSite, "{educator}"},
		{admin, "hal", "Hal Admin", w.site, w.courseA, "{admin}"},
	} {
		id := w.user(t, p.site, p.subject, p.name)
		w.enrol(t, id, p.course, p.roles)
		w.people[p.key], w.names[p.key] = id, p.name
	}
	// The author studies in course B too, whose educator must still not read course A's.
	w.enrol(t, w.people[author], w.courseB, "{learner}")

	w.log = w.activity(t, w.courseA, "rl-1", "Night shift reflections", "{}")
	w.logB = w.activity(t, w.courseB, "rl-2", "Clinic reflections", "{}")

	queue, err := river.NewClient(riverpgxv5.New(db), &river.Config{})
	require.NoError(t, err)
	grades := gradesync.NewService(db, nil, queue, nil)
	// Every reading of the service's clock is a minute after the one before, so "newest
	// first" is decided by the order things happen in.
	clock := fakeclock.NewTicking(time.Date(2025, 9, 1, 8, 0, 0, 0, time.UTC), time.Minute)
	w.threads, w.notes, w.clock = &fakeThreads{}, &recordingNotifier{}, clock
	w.svc = reflection.NewService(db, reflection.Options{Now: clock.Now, Grader: grades, Threads: w.threads, Notifier: w.notes})

	// Supervisors assigned by the educator from the roster.
	require.NoError(t, w.svc.Assign(ctx, w.courseA, w.people[author], w.people[supervisorShared], false))
	require.NoError(t, w.svc.Assign(ctx, w.courseA, w.people[author], w.people[supervisorNoShare], false))
	return w
}

func (w *world) platform(t *testing.T, issuer string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, w.db.QueryRow(context.Background(), `
INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url) VALUES ($1, 'huddle', $1 || '/auth', $1 || '/token', $1 || '/certs')
RETURNING id`, issuer).Scan(&id))
	return id
}

func (w *world) course(t *testing.T, platform int64, contextID, title string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, w.db.QueryRow(context.Background(), `
INSERT INTO courses (platform_id, deployment_id, context_id, title) VALUES ($1, '1', $2, $3) RETURNING id`,
		platform, contextID, title).Scan(&id))
	return id
}

func (w *world) user(t *testing.T, platform int64, subject, name string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, w.db.QueryRow(context.Background(),
		`INSERT INTO users (platform_id, subject, name) VALUES ($1, $2, $3) RETURNING id`, platform, subject, name).Scan(&id))
	return id
}

func (w *world) enrol(t *testing.T, userID, courseID int64, roles string) {
	t.Helper()
	_, err := w.db.Exec(context.Background(), `INSERT INTO memberships (user_id, course_id, roles) VALUES ($1, $2, $3::text[])
ON CONFLICT (course_id, user_id) DO UPDATE SET roles = EXCLUDED.roles`, userID, courseID, roles)
	require.NoError(t, err)
}

func (w *world) activity(t *testing.T, courseID int64, rl, title, settings string) course.Activity {
	t.Helper()
	var a course.Activity
	var raw []byte
	require.NoError(t, w.db.QueryRow(context.Background(), `
INSERT INTO activities (course_id, resource_link_id, title, kind, settings) VALUES ($1, $2, $3, 'reflection_log', $4::jsonb)
RETURNING id, course_id, title, kind, settings`, courseID, rl, title, settings).Scan(&a.ID, &a.CourseID, &a.Title, &a.Kind, &raw))
	a.Settings = json.RawMessage(raw)
	return a
}

// as is a person writing in an activity, with their roles in its course.
func (w *world) as(t *testing.T, who string, a course.Activity) reflection.Author {
	t.Helper()
	id := w.people[who]
	var roles []string
	require.NoError(t, w.db.QueryRow(context.Background(),
		`SELECT roles FROM memberships WHERE user_id = $1 AND course_id = $2`, id, a.CourseID).Scan(&roles))
	m := course.Member{UserID: id, CourseID: a.CourseID}
	for _, r := range roles {
		m.Roles = append(m.Roles, lti.Role(r))
	}
	return reflection.Author{UserID: id, Member: m}
}

// count runs a count(*) query.
func (w *world) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, w.db.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}

// practice is complete content for the default "what happened" template.
func practice(title, happened string) reflection.Content {
	return reflection.Content{Title: title, Answers: map[string]string{
		"what_happened": happened, "learned": "Escalate early and say why.", "next": "Use SBAR at every handover."}}
}

func ids(list []reflection.Summary) []int64 {
	var out []int64
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}
