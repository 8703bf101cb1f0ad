package roster

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/reflection"
)

// readsIn lists a course's roster reads in the queue as "why:state", oldest first.
func readsIn(t *testing.T, s *sharing, courseID int64) []string {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), `
SELECT coalesce(args ->> 'why', '') || ':' || state::text FROM river_job
WHERE kind = 'roster_sync' AND (args ->> 'course_id')::bigint = $1 ORDER BY id`, courseID)
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		var r string
		require.NoError(t, rows.Scan(&r))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func newReads(t *testing.T, s *sharing) (*Reads, *lockedBuffer) {
	t.Helper()
	queue, err := river.NewClient(riverpgxv5.New(s.pool), &river.Config{})
	require.NoError(t, err)
	logged := &lockedBuffer{}
	return &Reads{Queue: queue, Courses: s.courses, Jobs: s.pool, Log: slog.New(slog.NewJSONHandler(logged, nil))}, logged
}

// countingQueue counts the inserts that reach River.
type countingQueue struct {
	Queue
	inserts atomic.Int64
}

func (q *countingQueue) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	q.inserts.Add(1)
	return q.Queue.Insert(ctx, args, opts)
}

// A request River would skip as a duplicate is skipped by a read, before River's
// insert (which, even when it skips, updates the job it meets: a write and a WAL
// flush at every educator's launch). What is skipped is exactly what River would
// skip: the same reason's read in its period, waiting, running or done; a cancelled
// one, or one asked for another reason, does not count.
func TestRequestsRiverWouldSkipAreNotSent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newSharing(t)
	reads, logged := newReads(t, s)
	q := &countingQueue{Queue: reads.Queue}
	reads.Queue = q

	require.NoError(t, Request(ctx, q, s.courseID)) // this hour's read, waiting
	q.inserts.Store(0)
	var xmin string
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT xmin::text FROM river_job WHERE kind = 'roster_sync'`).Scan(&xmin))
	for _, state := range []string{"available", "running", "retryable", "completed"} {
		_, err := s.pool.Exec(ctx, `
UPDATE river_job SET state = $1::text::river_job_state, finalized_at = CASE WHEN $1::text = 'completed' THEN now() END WHERE kind = 'roster_sync'`, state)
		require.NoError(t, err)
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT xmin::text FROM river_job WHERE kind = 'roster_sync'`).Scan(&xmin))
		queued, err := reads.ask(ctx, Args{CourseID: s.courseID})
		require.NoError(t, err)
		require.False(t, queued, state)
		var after string
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT xmin::text FROM river_job WHERE kind = 'roster_sync'`).Scan(&after))
		require.Equal(t, xmin, after, "the %s job was written to", state)
	}
	require.Zero(t, q.inserts.Load(), "a duplicate reached River")
	require.Contains(t, logged.String(), "roster read not queued")

	// Another reason's read is not held back by the hourly one.
	queued, err := reads.Refresh(ctx, s.courseID)
	require.NoError(t, err)
	require.True(t, queued)
	require.EqualValues(t, 1, q.inserts.Load())

	// A cancelled read does not count: the next request goes to River, which queues it.
	_, err = s.pool.Exec(ctx, `UPDATE river_job SET state = 'cancelled', finalized_at = now() WHERE kind = 'roster_sync' AND NOT args ? 'why'`)
	require.NoError(t, err)
	queued, err = reads.ask(ctx, Args{CourseID: s.courseID})
	require.NoError(t, err)
	require.True(t, queued)
	require.EqualValues(t, 2, q.inserts.Load())
	require.Equal(t, []string{":cancelled", "refresh:available", ":available"}, readsIn(t, s, s.courseID))
}

// Issue 17, item 3: an educator whose first use is Deep Linking launches with no URL
// Huddle keeps, so the first roster read has nothing to read. That read must not hold
// back the read the next launch asks for once the URL is known: it is cancelled, not
// completed, and a launch into a course with a URL and no roster read yet asks for a
// read of its own, which an earlier no-op read in the same hour does not stop.
func TestRosterIsReadOnceTheServiceURLIsKnown(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newSharing(t)
	reads, logged := newReads(t, s)

	// The educator's first launch carries no roster URL (course 9 has none).
	_, courseID, _ := s.launch(t, "9", "3", "Eddie Educator", lti.RoleEducator)
	require.NoError(t, reads.AtLaunch(ctx, courseID))
	require.Equal(t, []string{":available"}, readsIn(t, s, courseID))

	// The worker reads nothing and ends the job as River records it.
	err := s.worker.Work(ctx, &river.Job[Args]{Args: Args{CourseID: courseID}})
	state := "completed"
	var cancel *rivertype.JobCancelError
	if err != nil {
		require.ErrorAs(t, err, &cancel)
		state = "cancelled"
	}
	finish(t, s.pool, courseID, state)
	require.Equal(t, []string{":cancelled"}, readsIn(t, s, courseID), "a read that read nothing must not count as this hour's read")

	// So the same hour's next request is queued.
	require.NoError(t, Request(ctx, reads.Queue, courseID))
	require.Equal(t, []string{":cancelled", ":available"}, readsIn(t, s, courseID))
	finish(t, s.pool, courseID, "completed") // say it completed as a no-op, as reads used to

	// The educator launches the activity they added: now the URL is known, and the
	// roster has never been read, so a read is queued at once.
	_, err = s.courses.RecordLaunch(ctx, course.Launch{PlatformID: s.platform.ID, DeploymentID: "1", Subject: "3",
		Name: "Eddie Educator", ContextID: "9", ContextTitle: "Course 9", ResourceLinkID: "rl-9",
		Roles: []lti.Role{lti.RoleEducator}, NRPSURL: s.moodle.URL + capturedMembershipsURL})
	require.NoError(t, err)
	require.NoError(t, reads.AtLaunch(ctx, courseID))
	require.Equal(t, []string{":cancelled", ":completed", "first:available"}, readsIn(t, s, courseID))

	// Another launch moments later asks for nothing more, and the log says why.
	require.NoError(t, reads.AtLaunch(ctx, courseID))
	require.Len(t, readsIn(t, s, courseID), 3)
	var line struct {
		Msg, Why     string
		AskedBecause string `json:"asked_because"`
		Course       int64
	}
	require.NoError(t, json.Unmarshal([]byte(logged.String()), &line), logged.String())
	require.Equal(t, "roster read not queued", line.Msg)
	require.Equal(t, courseID, line.Course)
	require.Equal(t, WhyFirst, line.AskedBecause)
	require.Contains(t, line.Why, "within the last 5m0s")
}

// An educator's "Refresh the class list" reads it now, even after this hour's read,
// and pressing it again within RefreshEvery queues nothing more.
func TestRefreshReadsNowAtMostEveryFewMinutes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newSharing(t)
	reads, _ := newReads(t, s)
	require.NoError(t, Request(ctx, reads.Queue, s.courseID))
	finish(t, s.pool, s.courseID, "completed")

	queued, err := reads.Refresh(ctx, s.courseID)
	require.NoError(t, err)
	require.True(t, queued)
	queued, err = reads.Refresh(ctx, s.courseID)
	require.NoError(t, err)
	require.False(t, queued)
	require.Equal(t, []string{":completed", "refresh:available"}, readsIn(t, s, s.courseID))
}

// Issue 17, item 12: setting up a reflection log reads the class list, so its
// educator can assign supervisors to learners who have not launched yet.
func TestSettingUpAReflectionLogReadsTheClassList(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newSharing(t)
	reads, _ := newReads(t, s)
	_, courseID, activityID := s.launch(t, "5", "3", "Eddie Educator", lti.RoleEducator)
	svc := reflection.NewService(s.pool, reflection.Options{Roster: reads})
	a, _, err := s.courses.ActivityFor(ctx, activityID, s.eddie)
	require.NoError(t, err)

	_, err = svc.Settings(ctx, a)
	require.NoError(t, err)
	require.Equal(t, []string{"setup:available"}, readsIn(t, s, courseID))
	_, err = svc.Settings(ctx, a) // already set up: nothing more
	require.NoError(t, err)
	require.Equal(t, []string{"setup:available"}, readsIn(t, s, courseID))
}

// At the start of term a course's first read (WhyFirst) is followed within minutes by
// the next educator's launch: a roster read within the hour answers it, so the same
// roster is not read twice. An hour later the launch asks again.
func TestALaunchAfterARecentReadAsksForNoOther(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newSharing(t)
	reads, logged := newReads(t, s)
	_, err := s.courses.ApplyRoster(ctx, s.courseID, nil) // read just now, by whichever job
	require.NoError(t, err)

	require.NoError(t, reads.AtLaunch(ctx, s.courseID))
	require.Empty(t, readsIn(t, s, s.courseID))
	require.Contains(t, logged.String(), "the roster was read within the last hour")

	_, err = s.pool.Exec(ctx, `UPDATE courses SET roster_synced_at = now() - interval '61 minutes' WHERE id = $1`, s.courseID)
	require.NoError(t, err)
	require.NoError(t, reads.AtLaunch(ctx, s.courseID))
	require.Equal(t, []string{":available"}, readsIn(t, s, s.courseID))
}
