package roster

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/internal/moodlecapture"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/reflection"
	"github.com/huddle-lti/huddle/seal"
)

// Moodle 4.5's captured membership containers of course 2: the whole roster (Eddie
// Educator, Lena Learner, Liam Student), and the one asked for learners only, which
// is the roster as it reads once Eddie has left the course.
const (
	capturedRoster         = "lti/02-launch-learner1-cm2/073-nrps-get-memberships-response-body.json"
	capturedRosterNoEddie  = "lti/10-ags-token-edge-cases/064-nrps-role-learner-response-body.json"
	capturedMembershipsURL = "/mod/lti/services.php/CourseSection/2/bindings/1/memberships"
)

// fakeMoodle serves Moodle's token endpoint and a membership container that the test
// can change between reads, as Moodle's roster changes.
type fakeMoodle struct {
	*httptest.Server
	mu   sync.Mutex
	body []byte
}

func newFakeMoodle(t *testing.T) *fakeMoodle {
	t.Helper()
	m := &fakeMoodle{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/mod/lti/token.php":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, `{"access_token":"t","token_type":"Bearer","expires_in":3600,"scope":"`+r.FormValue("scope")+`"}`)
		case capturedMembershipsURL:
			m.mu.Lock()
			body := m.body
			m.mu.Unlock()
			w.Header().Set("Content-Type", lti.MediaTypeMembershipContainer)
			w.Write(bytes.ReplaceAll(body, []byte(`http:\/\/127.0.0.1:8000`), []byte(strings.ReplaceAll(m.URL, "/", `\/`))))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *fakeMoodle) serve(body []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.body = body
}

// sharing is course 2 of the captures with a reflection log in which Lena wrote a
// reflection and shared it with Eddie, her educator; the roster worker reads from a
// fake Moodle.
type sharing struct {
	pool         *pgxpool.Pool
	moodle       *fakeMoodle
	platform     lti.Platform
	courses      *course.Service
	reflections  *reflection.Service
	worker       *Worker
	log          *lockedBuffer
	eddie, lena  int64
	courseID, id int64
}

// lockedBuffer collects log lines written from any goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newSharing(t *testing.T) *sharing {
	t.Helper()
	ctx := t.Context()
	s := &sharing{pool: dbtest.New(t), moodle: newFakeMoodle(t), log: &lockedBuffer{}}
	store := lti.NewStore(s.pool, nil)
	var err error
	s.platform, err = store.AddPlatform(ctx, lti.Platform{Issuer: s.moodle.URL, ClientID: "c", AuthURL: s.moodle.URL + "/a",
		TokenURL: s.moodle.URL + "/mod/lti/token.php", JWKSURL: s.moodle.URL + "/j", DeploymentIDs: []string{"1"}})
	require.NoError(t, err)
	s.courses = course.NewService(s.pool, nil)
	s.reflections = reflection.NewService(s.pool, reflection.Options{})
	sealer, err := seal.New(bytes.Repeat([]byte{5}, 32))
	require.NoError(t, err)
	keys := lti.NewKeyring(s.pool, sealer, nil, 1024)
	require.NoError(t, keys.Ensure(ctx))
	s.worker = &Worker{Courses: s.courses, Platforms: store, Log: slog.New(slog.NewJSONHandler(s.log, nil)),
		NRPS: lti.NewNRPSClient(lti.NewServiceTokens(lti.ServiceTokenConfig{Keys: keys, UserAgent: "Huddle/test"}))}

	s.eddie, s.courseID, _ = s.launch(t, "2", "3", "Eddie Educator", lti.RoleEducator)
	s.id = s.shareIn(t, "2", s.eddie)
	return s
}

// launch records a launch into the reflection log of the course with contextID. Only
// course 2's launches carry the roster URL, as in the captures.
func (s *sharing) launch(t *testing.T, contextID, subject, name string, role lti.Role) (userID, courseID, activityID int64) {
	t.Helper()
	nrps := ""
	if contextID == "2" {
		nrps = s.moodle.URL + capturedMembershipsURL
	}
	rec, err := s.courses.RecordLaunch(t.Context(), course.Launch{PlatformID: s.platform.ID, DeploymentID: "1", Subject: subject,
		Name: name, ContextID: contextID, ContextTitle: "Course " + contextID, ResourceLinkID: "rl-" + contextID,
		Custom: map[string]string{course.CustomKind: reflection.KindReflectionLog}, Roles: []lti.Role{role}, NRPSURL: nrps})
	require.NoError(t, err)
	return rec.UserID, rec.CourseID, rec.ActivityID
}

// shareIn has Lena write a reflection in the course's log and, unless with is -1,
// share it; it returns the reflection's id.
func (s *sharing) shareIn(t *testing.T, contextID string, with int64) int64 {
	t.Helper()
	ctx := t.Context()
	lena, _, activityID := s.launch(t, contextID, "4", "Lena Learner", lti.RoleLearner)
	s.lena = lena
	a, m, err := s.courses.ActivityFor(ctx, activityID, lena)
	require.NoError(t, err)
	id, _, err := s.reflections.Submit(ctx, a, reflection.Author{UserID: lena, Member: m}, 0, reflection.Content{
		Title: "After the sepsis teaching", Answers: map[string]string{
			"what_happened": "We ran a simulated deteriorating patient.", "learned": "Escalate early.", "next": "Use SBAR."}}, nil)
	require.NoError(t, err)
	if with >= 0 {
		require.NoError(t, s.reflections.Share(ctx, lena, id, with))
	}
	return id
}

func (s *sharing) read(t *testing.T, body []byte) {
	t.Helper()
	s.moodle.serve(body)
	require.NoError(t, s.worker.Work(t.Context(), &river.Job[Args]{Args: Args{CourseID: s.courseID}}))
}

// edited is the captured whole roster with Eddie's entry (the first) changed.
func edited(t *testing.T, old, new string) []byte {
	t.Helper()
	body := moodlecapture.Read(t, capturedRoster)
	require.Equal(t, 1, bytes.Count(body, []byte(old)), "the capture holds %s once", old)
	return bytes.Replace(body, []byte(old), []byte(new), 1)
}

// A roster read that no longer lists the supervisor, lists them as Inactive or Deleted,
// or lists them as a learner ends what was shared with them at once: they cannot read
// it or sign it off, and the author sees the share lapsed. Each roster is Moodle 4.5's
// captured one, as it reads after the change.
func TestRosterReadEndsSupervision(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		roster func(t *testing.T) []byte
		lapsed bool
	}{
		{"lists him as before", func(t *testing.T) []byte { return moodlecapture.Read(t, capturedRoster) }, false},
		{"no longer lists him", func(t *testing.T) []byte { return moodlecapture.Read(t, capturedRosterNoEddie) }, true},
		{"lists him as Inactive", func(t *testing.T) []byte {
			return edited(t, `{"status":"Active","roles":["Instructor"]`, `{"status":"Inactive","roles":["Instructor"]`)
		}, true},
		{"lists him as Deleted", func(t *testing.T) []byte {
			return edited(t, `{"status":"Active","roles":["Instructor"]`, `{"status":"Deleted","roles":["Instructor"]`)
		}, true},
		{"lists him as a learner", func(t *testing.T) []byte {
			return edited(t, `"roles":["Instructor"]`, `"roles":["Learner"]`)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := newSharing(t)
			s.read(t, moodlecapture.Read(t, capturedRoster))
			_, err := s.reflections.Get(ctx, s.eddie, s.id)
			require.NoError(t, err, "read while Moodle lists him as the course's instructor")

			s.read(t, tt.roster(t))
			_, err = s.reflections.Get(ctx, s.eddie, s.id)
			shared, lerr := s.reflections.SharedWithMe(ctx, s.eddie)
			require.NoError(t, lerr)
			mine, aerr := s.reflections.Get(ctx, s.lena, s.id)
			require.NoError(t, aerr)
			require.Len(t, mine.Shares, 1)
			require.Equal(t, tt.lapsed, mine.Shares[0].Lapsed, "the author sees whether the share lapsed")
			signOff := s.reflections.SignOff(ctx, s.eddie, s.id, 1, "Signed.")
			if tt.lapsed {
				require.Equal(t, reflection.ErrNotFound, err)
				require.Empty(t, shared)
				require.Equal(t, reflection.ErrNotFound, signOff)
				var n int
				require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM reflection_signoffs`).Scan(&n))
				require.Zero(t, n)
			} else {
				require.NoError(t, err)
				require.Len(t, shared, 1)
				require.NoError(t, signOff)
			}
		})
	}
}

// A course no launch gave a roster URL for is not read, and the log says why: its
// supervisors are then confirmed by their own launches only. The read is cancelled,
// not completed, so it holds no later read back (TestNoServiceURLHoldsNoReadBack).
func TestSkippedReadIsLoggedWithWhy(t *testing.T) {
	t.Parallel()
	s := newSharing(t)
	_, courseID, _ := s.launch(t, "9", "3", "Eddie Educator", lti.RoleEducator)
	err := s.worker.Work(t.Context(), &river.Job[Args]{Args: Args{CourseID: courseID}})
	var cancel *rivertype.JobCancelError
	require.ErrorAs(t, err, &cancel)
	var line struct {
		Msg    string `json:"msg"`
		Course int64  `json:"course"`
		Why    string `json:"why"`
	}
	require.NoError(t, json.Unmarshal([]byte(s.log.String()), &line), s.log.String())
	require.Equal(t, "roster not read", line.Msg)
	require.Equal(t, courseID, line.Course)
	require.Contains(t, line.Why, "NRPS memberships URL")
	require.Contains(t, line.Why, "Names and Role Provisioning")
}

// rosterJobs are the roster reads in the queue, by course, with their states.
func rosterJobs(t *testing.T, pool *pgxpool.Pool) map[int64][]string {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT (args ->> 'course_id')::bigint, state::text FROM river_job WHERE kind = 'roster_sync' ORDER BY id`)
	require.NoError(t, err)
	out := map[int64][]string{}
	for rows.Next() {
		var c int64
		var state string
		require.NoError(t, rows.Scan(&c, &state))
		out[c] = append(out[c], state)
	}
	require.NoError(t, rows.Err())
	return out
}

// finish marks the course's newest roster read as ended in state, as the worker or
// River would.
func finish(t *testing.T, pool *pgxpool.Pool, courseID int64, state string) {
	t.Helper()
	tag, err := pool.Exec(t.Context(), `
UPDATE river_job SET state = $2::river_job_state, finalized_at = now()
WHERE id = (SELECT max(id) FROM river_job WHERE kind = 'roster_sync' AND (args ->> 'course_id')::bigint = $1)`, courseID, state)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
}

// The daily job queues a roster read of each course with a shared reflection and of no
// other. The hourly uniqueness of roster reads lets it through unless the course's
// roster was read, or is being read, in the same hour: a read from an earlier hour,
// or one that failed for good, does not stop it.
func TestDailyJobReadsRostersOfCoursesWithShares(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newSharing(t) // course 2: shared with Eddie
	_, private, _ := s.launch(t, "3", "3", "Eddie Educator", lti.RoleEducator)
	s.shareIn(t, "3", -1) // course 3: a reflection nobody shares
	_, educators, _ := s.launch(t, "4", "3", "Eddie Educator", lti.RoleEducator)
	s.shareIn(t, "4", reflection.Everyone)                    // course 4: shared with its educators
	s.launch(t, "5", "3", "Eddie Educator", lti.RoleEducator) // course 5: no reflection at all

	queue, err := river.NewClient(riverpgxv5.New(s.pool), &river.Config{})
	require.NoError(t, err)
	logged := &lockedBuffer{}
	daily := &DailyWorker{Shares: s.reflections, Queue: queue, Log: slog.New(slog.NewJSONHandler(logged, nil))}

	// Course 2's roster was read two hours ago; course 4's a moment ago.
	_, err = queue.Insert(ctx, Args{CourseID: s.courseID}, &river.InsertOpts{ScheduledAt: time.Now().Add(-2 * time.Hour)})
	require.NoError(t, err)
	finish(t, s.pool, s.courseID, "completed")
	require.NoError(t, Request(ctx, queue, educators))
	finish(t, s.pool, educators, "completed")

	require.NoError(t, daily.Work(ctx, &river.Job[DailyArgs]{}))
	require.Equal(t, map[int64][]string{
		s.courseID: {"completed", "available"}, // an earlier hour's read does not count
		educators:  {"completed"},              // read this hour: that read serves
	}, rosterJobs(t, s.pool))
	require.NotContains(t, rosterJobs(t, s.pool), private)
	require.Contains(t, logged.String(), `"already_read_this_hour":1`)

	// This hour's read of course 4 failed for good: the next run asks again.
	finish(t, s.pool, educators, "discarded")
	require.NoError(t, daily.Work(ctx, &river.Job[DailyArgs]{}))
	require.Equal(t, map[int64][]string{
		s.courseID: {"completed", "available"}, // still waiting: not asked twice
		educators:  {"discarded", "available"},
	}, rosterJobs(t, s.pool))
}

// However often the hourly check fires, and on however many leaders, there is one
// daily run a day.
func TestDailyJobOncePerDay(t *testing.T) {
	t.Parallel()
	queue, err := river.NewClient(riverpgxv5.New(dbtest.New(t)), &river.Config{})
	require.NoError(t, err)
	first, err := queue.Insert(t.Context(), DailyArgs{}, nil)
	require.NoError(t, err)
	require.False(t, first.UniqueSkippedAsDuplicate)
	second, err := queue.Insert(t.Context(), DailyArgs{}, nil)
	require.NoError(t, err)
	require.True(t, second.UniqueSkippedAsDuplicate)
	require.NotNil(t, DailyPeriodicJob())
}

var _ SharedCourses = (*reflection.Service)(nil)
