package programme_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/programme"
)

// gradeRecorder stands in for grade sync and keeps the scores it was given.
type gradeRecorder struct {
	mu     sync.Mutex
	scores []gradesync.Score
}

func (g *gradeRecorder) Record(_ context.Context, _ pgx.Tx, sc gradesync.Score) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.scores = append(g.scores, sc)
	return nil
}

// take returns the scores recorded since the last take, by learner.
func (g *gradeRecorder) take() map[int64]gradesync.Score {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[int64]gradesync.Score{}
	for _, sc := range g.scores {
		out[sc.UserID] = sc
	}
	g.scores = nil
	return out
}

// jobRecorder stands in for River's client and keeps the jobs it was asked to insert.
type jobRecorder struct {
	mu   sync.Mutex
	args []river.JobArgs
}

func (q *jobRecorder) InsertManyTx(_ context.Context, _ pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range params {
		q.args = append(q.args, p.Args)
	}
	return nil, nil
}

// rescores returns the programmes whose rescore was queued since the last call.
func (q *jobRecorder) rescores() []int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []int64
	rest := q.args[:0]
	for _, a := range q.args {
		if r, ok := a.(programme.AttendanceGradeArgs); ok {
			out = append(out, r.ActivityID)
			continue
		}
		rest = append(rest, a)
	}
	q.args = rest
	return out
}

// change is one call of the attendance follower.
type change struct {
	programme int64
	users     []int64
}

type graded struct {
	*world
	grades  *gradeRecorder
	jobs    *jobRecorder
	mu      sync.Mutex
	changes []change
}

func newGraded(t *testing.T) *graded {
	t.Helper()
	g := &graded{world: newWorld(t), grades: &gradeRecorder{}, jobs: &jobRecorder{}}
	g.svc = programme.NewService(g.db, programme.Options{Now: g.clock.Now, Queue: g.jobs, Grader: g.grades,
		Follower: func(_ context.Context, _ pgx.Tx, prog int64, users []int64) error {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.changes = append(g.changes, change{prog, users})
			return nil
		}})
	return g
}

// rescore works the queued rescore jobs, as the worker would, and returns the scores
// sent.
func (g *graded) rescore(t *testing.T) map[int64]gradesync.Score {
	t.Helper()
	for _, id := range g.jobs.rescores() {
		finished := 0
		require.NoError(t, g.svc.RescoreAttendance(context.Background(), id, func(context.Context, pgx.Tx) error {
			finished++
			return nil
		}))
		require.Equal(t, 1, finished, "the job ends once, in the transaction that finds nothing left")
	}
	return g.grades.take()
}

func (g *graded) takeChanges() []change {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.changes
	g.changes = nil
	return c
}

func TestAttendanceGradeIsOffByDefaultAndSendsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGraded(t)
	on, err := g.svc.AttendanceGrade(ctx, g.prog.ID)
	require.NoError(t, err)
	require.False(t, on)
	id := g.create(t, g.prog, draft("Sepsis", "2026-03-30", "09:00", "10:00"))
	require.NoError(t, g.svc.MarkAttendance(ctx, g.prog, id, []int64{g.learner}))
	code, err := g.svc.StartCheckIn(ctx, g.prog, id, 15*time.Minute)
	require.NoError(t, err)
	g.clock.Set(time.Date(2026, 3, 30, 8, 30, 0, 0, time.UTC))
	_, err = g.svc.CheckIn(ctx, g.prog, g.learner2, code)
	require.NoError(t, err)
	require.NoError(t, g.svc.Cancel(ctx, g.prog, id))

	require.Empty(t, g.jobs.rescores(), "no rescore queued")
	require.NoError(t, g.svc.RescoreAttendance(ctx, g.prog.ID, nil))
	require.Empty(t, g.grades.take(), "no score sent")
	require.Zero(t, g.count(t, `SELECT count(*) FROM programme_attendance_scores`))
	// Certificates follow attendance whether or not it is graded.
	require.Len(t, g.takeChanges(), 3)
}

func TestAttendanceGradeFollowsMarkingCheckInAndCancellation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGraded(t)
	// Two sessions on 30 and 31 March 2026, 09:00 London (08:00 UTC).
	first := g.create(t, g.prog, draft("Sepsis", "2026-03-30", "09:00", "10:00"))
	second := g.create(t, g.prog, draft("AKI", "2026-03-31", "09:00", "10:00"))
	require.NoError(t, g.svc.SetAttendanceGrade(ctx, g.prog, true))
	require.Empty(t, g.rescore(t), "no session held yet: no grade")

	score := func(given float64, comment string) gradesync.Score {
		return gradesync.Score{Given: given, Maximum: 100, ActivityProgress: gradesync.ActivityInProgress,
			GradingProgress: gradesync.GradingFully, Comment: comment}
	}
	strip := func(m map[int64]gradesync.Score) map[int64]gradesync.Score {
		for u, sc := range m {
			require.Equal(t, g.prog.ID, sc.ActivityID)
			require.False(t, sc.At.IsZero())
			sc.ActivityID, sc.UserID, sc.At = 0, 0, time.Time{}
			m[u] = sc
		}
		return m
	}

	t.Log("after marking")
	require.NoError(t, g.svc.MarkAttendance(ctx, g.prog, first, []int64{g.learner}))
	require.Equal(t, map[int64]gradesync.Score{
		g.learner:  score(100, "Attended 1 of 1 sessions held so far (100%)."),
		g.learner2: score(0, "Attended 0 of 1 sessions held so far (0%)."),
	}, strip(g.rescore(t)), "every learner of the course, and no one else, gets a score")
	require.Equal(t, []change{{g.prog.ID, []int64{g.learner}}}, g.takeChanges())
	require.NoError(t, g.svc.MarkAttendance(ctx, g.prog, first, []int64{g.learner}))
	require.Empty(t, g.jobs.rescores(), "saving the same register again changes nothing")
	require.Empty(t, g.takeChanges())

	t.Log("after check-in")
	code, err := g.svc.StartCheckIn(ctx, g.prog, second, 15*time.Minute)
	require.NoError(t, err)
	g.clock.Set(time.Date(2026, 3, 31, 8, 10, 0, 0, time.UTC))
	_, err = g.svc.CheckIn(ctx, g.prog, g.learner2, code)
	require.NoError(t, err)
	require.Equal(t, map[int64]gradesync.Score{
		g.learner:  score(50, "Attended 1 of 2 sessions held so far (50%)."),
		g.learner2: score(50, "Attended 1 of 2 sessions held so far (50%)."),
	}, strip(g.rescore(t)), "the first check-in makes the session held for everyone")
	_, err = g.svc.CheckIn(ctx, g.prog, g.learner2, code)
	require.NoError(t, err)
	require.Empty(t, g.jobs.rescores(), "checking in twice is once")

	t.Log("a session added, with no attendance recorded, counts for no one")
	third := g.create(t, g.prog, draft("Falls", "2026-04-01", "09:00", "10:00"))
	require.Empty(t, g.rescore(t))

	t.Log("a third session: two of three, rounded for people")
	require.NoError(t, g.svc.MarkAttendance(ctx, g.prog, third, []int64{g.learner}))
	got := strip(g.rescore(t))
	require.InDelta(t, 200.0/3, got[g.learner].Given, 1e-9)
	require.Equal(t, "Attended 2 of 3 sessions held so far (67%).", got[g.learner].Comment)
	require.Equal(t, "Attended 1 of 3 sessions held so far (33%).", got[g.learner2].Comment)

	t.Log("after cancellation")
	require.NoError(t, g.svc.Cancel(ctx, g.prog, second))
	require.Equal(t, []change{{g.prog.ID, []int64{g.learner2}}, {g.prog.ID, []int64{g.learner}}, {g.prog.ID, nil}}, g.takeChanges(),
		"the check-in, the third register and the cancellation (which may change anyone's)")
	require.Equal(t, map[int64]gradesync.Score{
		g.learner:  score(100, "Attended 2 of 2 sessions held so far (100%)."),
		g.learner2: score(0, "Attended 0 of 2 sessions held so far (0%)."),
	}, strip(g.rescore(t)))

	t.Log("every register emptied: the grade is withdrawn")
	require.NoError(t, g.svc.MarkAttendance(ctx, g.prog, first, nil))
	require.NoError(t, g.svc.MarkAttendance(ctx, g.prog, third, nil))
	withdrawn := strip(g.rescore(t))
	require.Len(t, withdrawn, 2)
	for _, sc := range withdrawn {
		require.Equal(t, gradesync.GradingPending, sc.GradingProgress)
		require.Zero(t, sc.Given)
	}

	t.Log("turned off: nothing more is sent")
	require.NoError(t, g.svc.SetAttendanceGrade(ctx, g.prog, false))
	require.NoError(t, g.svc.MarkAttendance(ctx, g.prog, first, []int64{g.learner2}))
	require.Empty(t, g.jobs.rescores())
	require.NoError(t, g.svc.RescoreAttendance(ctx, g.prog.ID, nil))
	require.Empty(t, g.grades.take())

	t.Log("turned on again: everyone's score is sent afresh")
	require.NoError(t, g.svc.SetAttendanceGrade(ctx, g.prog, true))
	require.Equal(t, map[int64]gradesync.Score{
		g.learner:  score(0, "Attended 0 of 1 sessions held so far (0%)."),
		g.learner2: score(100, "Attended 1 of 1 sessions held so far (100%)."),
	}, strip(g.rescore(t)))
}

// A change counted while a rescore works is rescored before the job ends: the job
// finishes only in a transaction that finds no change left.
func TestAttendanceRescoreSeesChangesMadeWhileItRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGraded(t)
	first := g.create(t, g.prog, draft("Sepsis", "2026-03-30", "09:00", "10:00"))
	require.NoError(t, g.svc.SetAttendanceGrade(ctx, g.prog, true))
	require.NoError(t, g.svc.MarkAttendance(ctx, g.prog, first, []int64{g.learner}))
	g.jobs.rescores()
	marked := false
	finishes := 0
	// The grader marks learner2 present the first time it is called, as a register
	// saved on another instance in the middle of the rescore.
	g.svc = programme.NewService(g.db, programme.Options{Now: g.clock.Now, Queue: g.jobs, Grader: graderFunc(
		func(ctx context.Context, tx pgx.Tx, sc gradesync.Score) error {
			if !marked {
				marked = true
				require.NoError(t, g.svc.MarkAttendance(context.Background(), g.prog, first, []int64{g.learner, g.learner2}))
			}
			return g.grades.Record(ctx, tx, sc)
		})})
	require.NoError(t, g.svc.RescoreAttendance(ctx, g.prog.ID, func(context.Context, pgx.Tx) error {
		finishes++
		return nil
	}))
	require.Equal(t, 1, finishes)
	require.Equal(t, []int64{g.prog.ID}, g.jobs.rescores(), "the change's own job was queued (River makes it a duplicate of the running one)")
	got := g.grades.take()
	require.Equal(t, 100.0, got[g.learner2].Given, "the change made during the first round is sent by the second")
}

type graderFunc func(ctx context.Context, tx pgx.Tx, sc gradesync.Score) error

func (f graderFunc) Record(ctx context.Context, tx pgx.Tx, sc gradesync.Score) error {
	return f(ctx, tx, sc)
}

func TestPercentRoundsForPeople(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		attended, held int
		want           string
	}{{0, 0, "0%"}, {0, 3, "0%"}, {1, 3, "33%"}, {2, 3, "67%"}, {1, 8, "13%"}, {1, 200, "1%"}, {1, 201, "0%"}, {7, 7, "100%"}} {
		require.Equal(t, tc.want, programme.Percent(tc.attended, tc.held), "%d of %d", tc.attended, tc.held)
	}
}
