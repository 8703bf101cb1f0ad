package discussion_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/gradesync"
)

// learner3ID is a learner in course 1 who never posts.
const learner3ID = 4100004

// day is a date as boards hold them: midnight UTC standing for a UK day.
func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// The tests' dates: start is Tuesday 4 March 2025 (GMT, so UK time is UTC).
var (
	firstDate  = day(2025, 3, 6)
	secondDate = day(2025, 3, 13)
	firstPush  = time.Date(2025, 3, 6, 7, 0, 0, 0, time.UTC)
)

// addLearner3 makes learner 3 a member of course 1 who has written nothing.
func (e *env) addLearner3() {
	e.t.Helper()
	_, err := e.pool.Exec(e.ctx, `INSERT INTO users (id, platform_id, subject, name) OVERRIDING SYSTEM VALUE VALUES ($1, $2, '14', 'Quinn Quiet')`,
		learner3ID, e.platform)
	require.NoError(e.t, err)
	_, err = e.pool.Exec(e.ctx, `INSERT INTO memberships (user_id, course_id, roles) VALUES ($1, $2, '{learner}')`, learner3ID, e.course1)
	require.NoError(e.t, err)
}

// gradeRows is what grade sync holds for a board: its score rows, those waiting to be
// pushed, and the board's grade sync jobs (its dispatcher, queued once for them all).
type gradeRows struct {
	scores, pending, jobs int
}

func (e *env) gradeRows(boardID int64) gradeRows {
	e.t.Helper()
	return gradeRows{
		scores:  e.count(`SELECT count(*) FROM scores WHERE activity_id = $1`, boardID),
		pending: e.count(`SELECT count(*) FROM scores WHERE activity_id = $1 AND state = 'pending'`, boardID),
		jobs: e.count(`SELECT count(*) FROM river_job WHERE kind IN ('grade_sync', 'grade_sync_dispatch')
AND (args->>'activity_id')::bigint = $1`, boardID),
	}
}

// pushedScore is one stored score with the transaction that wrote it.
type pushedScore struct {
	user             int64
	given            float64
	comment          string
	earned, scoredAt time.Time
	xmin             string
}

func (e *env) pushedScores(boardID int64) []pushedScore {
	e.t.Helper()
	rows, err := e.pool.Query(e.ctx, `
SELECT user_id, score_given, comment, earned_at, scored_at, xmin::text FROM scores WHERE activity_id = $1 ORDER BY user_id`, boardID)
	require.NoError(e.t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pushedScore, error) {
		var p pushedScore
		err := r.Scan(&p.user, &p.given, &p.comment, &p.earned, &p.scoredAt, &p.xmin)
		return p, err
	})
	require.NoError(e.t, err)
	return out
}

// peersBoard is a graded discussion board anonymous to peers, where learners may post
// under their name too, waiting for dates.
func (e *env) peersBoard(dates ...time.Time) discussion.Board {
	e.t.Helper()
	return e.board(discussion.KindDiscussionBoard, discussion.Peers, func(b *discussion.Board) {
		b.LearnerChoice, b.GradeThreads, b.GradeReplies = true, 1, 2
		b.GradeDates = dates
	})
}

// TestPeersBoardPostsWriteNoScore: on a graded board anonymous to peers, nothing a
// post or a moderator does writes a score or queues a grade job; the same steps on a
// named board do, so the test can fail.
func TestPeersBoardPostsWriteNoScore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		identity discussion.Identity
		waits    bool
	}{
		{discussion.Named, false},
		{discussion.Peers, true},
	} {
		t.Run(string(tc.identity), func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			b := e.board(discussion.KindDiscussionBoard, tc.identity, func(b *discussion.Board) {
				b.LearnerChoice, b.GradeThreads, b.GradeReplies = true, 1, 2
				b.GradeDates = []time.Time{firstDate}
			})
			require.Equal(t, tc.waits, b.GradesWait())
			pre := e.board(discussion.KindDiscussionBoard, tc.identity, func(b *discussion.Board) {
				b.Premoderated, b.GradeThreads = true, 1
				b.GradeDates = []time.Time{firstDate}
			})
			var th, r1 discussion.Posted
			var held discussion.Posted
			steps := []struct {
				name  string
				board discussion.Board
				do    func()
			}{
				{"a thread under the board's identity", b, func() {
					th = e.thread(b, e.learner1, discussion.Draft{Title: "Question", Body: "Body.", Identity: tc.identity})
				}},
				{"a named reply", b, func() {
					var err error
					r1, err = e.svc.Reply(e.ctx, b, e.learner2, th.ThreadID, 0, discussion.Draft{Body: "A named answer.", Identity: discussion.Named})
					require.NoError(t, err)
				}},
				{"a reply under the board's identity", b, func() {
					_, err := e.svc.Reply(e.ctx, b, e.learner1, th.ThreadID, 0, discussion.Draft{Body: "Mine.", Identity: tc.identity})
					require.NoError(t, err)
				}},
				{"an edit", b, func() {
					require.NoError(t, e.svc.Edit(e.ctx, b, e.learner2, r1.PostID, discussion.Draft{Body: "Edited: " + nhsNumber,
						GuardReason: "Not a patient", Identity: discussion.Named}))
				}},
				{"an approval", b, func() {
					require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, r1.PostID, discussion.ActionApprove, ""))
				}},
				{"a hide", b, func() {
					require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, r1.PostID, discussion.ActionHide, "Off topic"))
				}},
				{"a restore", b, func() {
					require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, r1.PostID, discussion.ActionRestore, ""))
				}},
				{"a delete", b, func() { require.NoError(t, e.svc.Delete(e.ctx, b, e.learner2, r1.PostID)) }},
				{"a held thread", pre, func() {
					held = e.thread(pre, e.learner1, discussion.Draft{Title: "Held", Body: "Body.", Identity: tc.identity})
					require.True(t, held.Held)
				}},
				{"its approval", pre, func() {
					require.NoError(t, e.svc.Moderate(e.ctx, pre, e.educator, held.PostID, discussion.ActionApprove, ""))
				}},
			}
			grades := gradesync.NewService(e.pool, nil, nil, nil)
			for _, s := range steps {
				e.clock.Advance(time.Minute)
				before := e.gradeRows(s.board.ActivityID)
				s.do()
				after := e.gradeRows(s.board.ActivityID)
				if tc.waits {
					require.Zero(t, after, "%s wrote a score or a grade job", s.name)
					status, err := grades.Status(e.ctx, s.board.ActivityID)
					require.NoError(t, err)
					require.Empty(t, status, "the grade sync page lists someone after %s", s.name)
					continue
				}
				require.Positive(t, after.scores, s.name)
				require.Positive(t, after.pending, s.name)
				require.Equal(t, 1, after.jobs, "%s: the board's dispatcher", s.name)
				require.GreaterOrEqual(t, after.scores, before.scores, s.name)
			}
			if !tc.waits {
				// The named board's scores carry each change's own time.
				got, ok := e.score(pre.ActivityID, learner1ID)
				require.True(t, ok)
				require.True(t, got.at.Equal(e.clock.Now()))
			}
		})
	}
}

// TestGradePushOnItsDate: on the date, from 07:00 UK time, one run records every
// learner's score in one transaction with one timestamp; a second run pushes nothing;
// what is written later waits for the next date.
func TestGradePushOnItsDate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.addLearner3()
	b := e.peersBoard(secondDate, firstDate, firstDate) // out of order and twice: kept once, in order
	require.Equal(t, []time.Time{firstDate, secondDate}, b.GradeDates)
	require.Equal(t, firstPush, b.NextGradePush().UTC())
	other := e.peersBoard(secondDate)

	// Learner 3 has a score from before (a board's settings can change); without a post
	// here, the push leaves it as it was.
	grades := gradesync.NewService(e.pool, nil, insertOnly(t, e), nil)
	earlier := start.Add(-24 * time.Hour)
	require.NoError(t, grades.Submit(e.ctx, gradesync.Score{ActivityID: b.ActivityID, UserID: learner3ID, Given: 50, Maximum: 100,
		ActivityProgress: gradesync.ActivityInProgress, GradingProgress: gradesync.GradingFully, Comment: "from before", At: earlier}))
	pendingBefore := e.gradeRows(b.ActivityID).pending

	th := e.thread(b, e.learner1, discussion.Draft{Title: "Question", Body: "Body.", Identity: discussion.Peers})
	e.clock.Advance(17 * time.Minute)
	e.reply(b, e.learner1, th.ThreadID, 0, "My own follow-up.")
	e.clock.Advance(3 * time.Hour)
	r := e.reply(b, e.learner2, th.ThreadID, 0, "An answer.")
	hidden := e.reply(b, e.learner2, th.ThreadID, r.PostID, "A rude answer.")
	require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, hidden.PostID, discussion.ActionHide, "Rude"))
	e.reply(b, e.educator, th.ThreadID, 0, "The educator's answer.")
	e.thread(other, e.learner2, discussion.Draft{Title: "Elsewhere", Body: "Body.", Identity: discussion.Peers})
	require.Equal(t, gradeRows{scores: 1, pending: pendingBefore, jobs: 1}, e.gradeRows(b.ActivityID), "posting wrote a score")

	for _, at := range []time.Time{firstPush.Add(-time.Second), firstPush.Add(-7 * time.Hour)} {
		e.clock.Set(at)
		n, err := e.svc.PushGrades(e.ctx)
		require.NoError(t, err)
		require.Zero(t, n, "pushed before 07:00 on the date (%s)", at)
	}
	require.Equal(t, 1, e.gradeRows(b.ActivityID).scores)

	// The job's first run after 07:00.
	pushAt := firstPush.Add(4*time.Minute + 11*time.Second)
	e.clock.Set(pushAt)
	n, err := e.svc.PushGrades(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "one board's date has come")
	got := e.pushedScores(b.ActivityID)
	require.Len(t, got, 3)
	quinn := got[2]
	require.EqualValues(t, learner3ID, quinn.user)
	require.Equal(t, "from before", quinn.comment)
	require.True(t, quinn.earned.Equal(earlier))
	pushed := got[:2]
	require.Equal(t, []int64{learner1ID, learner2ID}, []int64{pushed[0].user, pushed[1].user})
	require.InDelta(t, 200.0/3, pushed[0].given, 1e-9)
	require.Equal(t, "1 of 1 threads, 1 of 2 replies", pushed[0].comment)
	require.InDelta(t, 100.0/3, pushed[1].given, 1e-9)
	require.Equal(t, "0 of 1 threads, 1 of 2 replies", pushed[1].comment, "the hidden reply does not count")
	for _, p := range pushed {
		require.Equal(t, pushed[0].xmin, p.xmin, "the scores were written in more than one transaction")
		require.True(t, p.earned.Equal(pushAt), "earned at the push, not at a post")
		require.True(t, p.scoredAt.Equal(pushAt), "sent with the push's timestamp")
	}
	require.NotEqual(t, quinn.xmin, pushed[0].xmin)
	require.Equal(t, gradeRows{scores: 3, pending: pendingBefore + 2, jobs: 1}, e.gradeRows(b.ActivityID),
		"each pushed learner's score waits for the board's one dispatcher")
	require.Equal(t, gradeRows{}, e.gradeRows(other.ActivityID), "the other board's date has not come")

	// The grade sync page shows one time for everyone pushed.
	status, err := grades.Status(e.ctx, b.ActivityID)
	require.NoError(t, err)
	for _, s := range status {
		if s.UserID != learner3ID {
			require.True(t, s.ScoredAt.Equal(pushAt), s.Name)
		}
	}

	// A second run, at once or later that day, pushes nothing more.
	for _, at := range []time.Time{pushAt, pushAt.Add(10 * time.Minute), pushAt.Add(15 * time.Hour)} {
		e.clock.Set(at)
		n, err := e.svc.PushGrades(e.ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, got, e.pushedScores(b.ActivityID))
		require.Equal(t, pendingBefore+2, e.gradeRows(b.ActivityID).pending)
	}
	b, err = e.svc.Board(e.ctx, e.activityOf(b))
	require.NoError(t, err)
	require.Equal(t, []time.Time{secondDate}, b.GradeDates)
	require.True(t, b.GradesPushedAt.Equal(pushAt))

	// What is written after the push waits for the next date, which pushes both boards.
	e.clock.Set(pushAt.Add(24 * time.Hour))
	e.reply(b, e.learner2, th.ThreadID, 0, "A second answer.")
	require.Equal(t, got, e.pushedScores(b.ActivityID))
	second := time.Date(2025, 3, 13, 9, 30, 0, 0, time.UTC)
	e.clock.Set(second)
	n, err = e.svc.PushGrades(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	again := e.pushedScores(b.ActivityID)
	require.InDelta(t, 200.0/3, again[1].given, 1e-9)
	require.Equal(t, again[0].xmin, again[1].xmin)
	require.True(t, again[0].earned.Equal(second) && again[1].earned.Equal(second))
	b, err = e.svc.Board(e.ctx, e.activityOf(b))
	require.NoError(t, err)
	require.Empty(t, b.GradeDates)
	require.True(t, b.NextGradePush().IsZero())
}

// activityOf is the board's activity as the web layer passes it.
func (e *env) activityOf(b discussion.Board) course.Activity {
	e.t.Helper()
	a := course.Activity{ID: b.ActivityID}
	require.NoError(e.t, e.pool.QueryRow(e.ctx, `SELECT kind FROM activities WHERE id = $1`, b.ActivityID).Scan(&a.Kind))
	return a
}

// insertOnly is a River client that inserts jobs and works none.
func insertOnly(t *testing.T, e *env) *river.Client[pgx.Tx] {
	t.Helper()
	q, err := river.NewClient(riverpgxv5.New(e.pool), &river.Config{})
	require.NoError(t, err)
	return q
}

// TestGradePushTimeIsUKTime: a date is pushed from 07:00 in the UK, in winter and in
// summer time, or at the first run after if the job was not running then.
func TestGradePushTimeIsUKTime(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tests := []struct {
		name string
		day  time.Time
		now  time.Time
		due  bool
	}{
		{"winter, a second before 07:00", day(2025, 3, 6), time.Date(2025, 3, 6, 6, 59, 59, 0, time.UTC), false},
		{"winter, 07:00", day(2025, 3, 6), time.Date(2025, 3, 6, 7, 0, 0, 0, time.UTC), true},
		{"summer, a second before 07:00 BST", day(2025, 7, 1), time.Date(2025, 7, 1, 5, 59, 59, 0, time.UTC), false},
		{"summer, 07:00 BST", day(2025, 7, 1), time.Date(2025, 7, 1, 6, 0, 0, 0, time.UTC), true},
		{"the evening before, UK time", day(2025, 7, 1), time.Date(2025, 6, 30, 23, 30, 0, 0, time.UTC), false},
		{"days later, after an outage", day(2025, 3, 6), time.Date(2025, 3, 9, 12, 0, 0, 0, time.UTC), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Set(tc.day.Add(-24 * time.Hour))
			b := e.peersBoard(tc.day)
			require.True(t, tc.now.Before(b.NextGradePush()) != tc.due, "NextGradePush disagrees")
			e.thread(b, e.learner1, discussion.Draft{Title: "Question", Body: "Body.", Identity: discussion.Peers})
			e.clock.Set(tc.now)
			_, err := e.svc.PushGrades(e.ctx)
			require.NoError(t, err)
			var pushed int
			require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT count(*) FROM board_grade_dates WHERE board_id = $1 AND pushed_at IS NOT NULL`,
				b.ActivityID).Scan(&pushed))
			if !tc.due {
				require.Zero(t, pushed)
				require.Zero(t, e.gradeRows(b.ActivityID).scores)
				return
			}
			require.Equal(t, 1, pushed)
			got, ok := e.score(b.ActivityID, learner1ID)
			require.True(t, ok)
			require.True(t, got.at.Equal(tc.now))
		})
	}
}

// failingGrader records through gradesync and then fails on the second learner, as a
// push that dies midway would.
type failingGrader struct {
	grades *gradesync.Service
	mu     sync.Mutex
	calls  int
}

func (g *failingGrader) Record(ctx context.Context, tx pgx.Tx, sc gradesync.Score) error {
	g.mu.Lock()
	g.calls++
	n := g.calls
	g.mu.Unlock()
	if n == 2 {
		return errors.New("the database went away")
	}
	return g.grades.Record(ctx, tx, sc)
}

// TestGradePushIsAllOrNothing: a push that fails midway leaves no score, no job and
// its date still to push; the next run pushes it whole.
func TestGradePushIsAllOrNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.peersBoard(firstDate)
	th := e.thread(b, e.learner1, discussion.Draft{Title: "Question", Body: "Body.", Identity: discussion.Peers})
	e.reply(b, e.learner2, th.ThreadID, 0, "An answer.")

	e.clock.Set(firstPush)
	failing := &failingGrader{grades: gradesync.NewService(e.pool, nil, insertOnly(t, e), nil)}
	svc := discussion.NewService(e.pool, discussion.Options{Now: e.clock.Now, Grader: failing})
	_, err := svc.PushGrades(e.ctx)
	require.ErrorContains(t, err, "the database went away")
	require.Equal(t, 2, failing.calls)
	require.Equal(t, gradeRows{}, e.gradeRows(b.ActivityID), "a failed push left scores behind")
	b, err = e.svc.Board(e.ctx, e.activityOf(b))
	require.NoError(t, err)
	require.Equal(t, []time.Time{firstDate}, b.GradeDates, "a failed push marked its date")

	e.clock.Advance(10 * time.Minute)
	n, err := e.svc.PushGrades(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, gradeRows{scores: 2, pending: 2, jobs: 1}, e.gradeRows(b.ActivityID))
}

// TestGradePushOnceAcrossInstances: several instances running the job at once push
// each date once, in one transaction.
func TestGradePushOnceAcrossInstances(t *testing.T) {
	t.Parallel()
	e := setup(t)
	boards := []discussion.Board{e.peersBoard(firstDate), e.peersBoard(firstDate), e.peersBoard(firstDate)}
	for _, b := range boards {
		th := e.thread(b, e.learner1, discussion.Draft{Title: "Question", Body: "Body.", Identity: discussion.Peers})
		e.reply(b, e.learner2, th.ThreadID, 0, "An answer.")
	}
	e.clock.Set(firstPush)
	const instances = 6
	var wg sync.WaitGroup
	pushed := make([]int, instances)
	errs := make([]error, instances)
	svcs := make([]*discussion.Service, instances)
	for i := range svcs {
		grades := gradesync.NewService(e.pool, nil, insertOnly(t, e), nil)
		svcs[i] = discussion.NewService(e.pool, discussion.Options{Now: e.clock.Now, Grader: grades})
	}
	for i, svc := range svcs {
		wg.Go(func() { pushed[i], errs[i] = svc.PushGrades(e.ctx) })
	}
	wg.Wait()
	total := 0
	for i := range instances {
		require.NoError(t, errs[i])
		total += pushed[i]
	}
	require.Equal(t, len(boards), total, "each board pushed once")
	for _, b := range boards {
		got := e.pushedScores(b.ActivityID)
		require.Len(t, got, 2)
		require.Equal(t, got[0].xmin, got[1].xmin)
		require.Equal(t, gradeRows{scores: 2, pending: 2, jobs: 1}, e.gradeRows(b.ActivityID))
	}
}

// TestLeavingPeersSendsWhatWaited: a board that stops being anonymous to peers but
// keeps its grade sends the scores that waited at once, in one push, and grades each
// post at once from then on.
func TestLeavingPeersSendsWhatWaited(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.peersBoard(firstDate)
	th := e.thread(b, e.learner1, discussion.Draft{Title: "Question", Body: "Body.", Identity: discussion.Peers})
	e.reply(b, e.learner2, th.ThreadID, 0, "An answer.")
	require.Equal(t, gradeRows{}, e.gradeRows(b.ActivityID))

	e.clock.Advance(time.Hour)
	saved := e.clock.Now()
	b.Identity = discussion.Named
	require.NoError(t, e.svc.SaveSettings(e.ctx, educatorID, b))
	got := e.pushedScores(b.ActivityID)
	require.Len(t, got, 2)
	require.Equal(t, got[0].xmin, got[1].xmin)
	require.True(t, got[0].earned.Equal(saved) && got[1].earned.Equal(saved))

	e.clock.Advance(time.Hour)
	e.reply(b, e.learner2, th.ThreadID, 0, "A named answer, graded at once.")
	s, ok := e.score(b.ActivityID, learner2ID)
	require.True(t, ok)
	require.True(t, s.at.Equal(e.clock.Now()))
	require.InDelta(t, 200.0/3, s.given, 1e-9)
}

// TestGradeDateSettings: the dates an educator may set, and the one rule: a graded
// board anonymous to peers needs a date to come.
func TestGradeDateSettings(t *testing.T) {
	t.Parallel()
	e := setup(t)
	today := day(2025, 3, 4)
	peersGraded := func(b *discussion.Board) { b.Identity, b.GradeThreads = discussion.Peers, 1 }
	tests := []struct {
		name   string
		change func(b *discussion.Board)
		want   []time.Time // the dates saved
		field  string      // "" means saved
	}{
		{"peers, graded, no date", peersGraded, nil, "grade_dates"},
		{"peers, graded, today", func(b *discussion.Board) { peersGraded(b); b.GradeDates = []time.Time{today} }, []time.Time{today}, ""},
		{"peers, graded, dates in any order, twice", func(b *discussion.Board) {
			peersGraded(b)
			b.GradeDates = []time.Time{day(2025, 4, 1), today.Add(15 * time.Hour), day(2025, 4, 1)}
		}, []time.Time{today, day(2025, 4, 1)}, ""},
		{"a date that has passed", func(b *discussion.Board) { peersGraded(b); b.GradeDates = []time.Time{day(2025, 3, 3)} }, nil, "grade_dates"},
		{"a date not entered in full", func(b *discussion.Board) { peersGraded(b); b.GradeDates = []time.Time{{}} }, nil, "grade_dates"},
		{"two years ahead", func(b *discussion.Board) { peersGraded(b); b.GradeDates = []time.Time{day(2027, 3, 4)} }, []time.Time{day(2027, 3, 4)}, ""},
		{"further", func(b *discussion.Board) { peersGraded(b); b.GradeDates = []time.Time{day(2027, 3, 5)} }, nil, "grade_dates"},
		{"sixty dates", func(b *discussion.Board) { peersGraded(b); b.GradeDates = weekly(today, 60) }, weekly(today, 60), ""},
		{"sixty-one", func(b *discussion.Board) { peersGraded(b); b.GradeDates = weekly(today, 61) }, nil, "grade_dates"},
		{"named, graded, no date", func(b *discussion.Board) { b.GradeThreads = 1 }, nil, ""},
		{"peers, ungraded, no date", func(b *discussion.Board) { b.Identity = discussion.Peers }, nil, ""},
		{"named, a date kept for later", func(b *discussion.Board) { b.GradeDates = []time.Time{today} }, []time.Time{today}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Set(start)
			a := e.activity(e.course1, discussion.KindDiscussionBoard, "")
			orig, err := e.svc.Board(e.ctx, a)
			require.NoError(t, err)
			b := orig
			tc.change(&b)
			err = e.svc.SaveSettings(e.ctx, educatorID, b)
			got, rerr := e.svc.Board(e.ctx, a)
			require.NoError(t, rerr)
			if tc.field != "" {
				var inv *discussion.InvalidError
				require.ErrorAs(t, err, &inv)
				require.Equal(t, tc.field, inv.Field)
				require.NotEmpty(t, inv.Message)
				require.Equal(t, orig, got, "a refused change was saved")
				return
			}
			require.NoError(t, err)
			if tc.want == nil {
				tc.want = []time.Time{}
			}
			require.Equal(t, tc.want, got.GradeDates)
		})
	}

	t.Run("removing and replacing dates", func(t *testing.T) {
		e.clock.Set(start)
		b := e.peersBoard(firstDate, secondDate)
		b.GradeDates = []time.Time{secondDate}
		require.NoError(t, e.svc.SaveSettings(e.ctx, educatorID, b))
		b, err := e.svc.Board(e.ctx, e.activityOf(b))
		require.NoError(t, err)
		require.Equal(t, []time.Time{secondDate}, b.GradeDates)
		b.GradeDates = nil
		var inv *discussion.InvalidError
		require.ErrorAs(t, e.svc.SaveSettings(e.ctx, educatorID, b), &inv, "the last date cannot go")
		require.Equal(t, "grade_dates", inv.Field)
	})

	t.Run("a date the job missed is pushed, not shown as to come", func(t *testing.T) {
		e.clock.Set(start)
		b := e.peersBoard(firstDate)
		e.thread(b, e.learner1, discussion.Draft{Title: "Question", Body: "Body.", Identity: discussion.Peers})
		e.clock.Set(firstPush.Add(48 * time.Hour)) // the job did not run on the day
		b, err := e.svc.Board(e.ctx, e.activityOf(b))
		require.NoError(t, err)
		require.Empty(t, b.GradeDates)
		b.GradeDates = []time.Time{secondDate}
		require.NoError(t, e.svc.SaveSettings(e.ctx, educatorID, b), "the educator need not remove the missed date")
		n, err := e.svc.PushGrades(e.ctx)
		require.NoError(t, err)
		require.Positive(t, n)
		_, ok := e.score(b.ActivityID, learner1ID)
		require.True(t, ok, "the missed date was pushed")
		b, err = e.svc.Board(e.ctx, e.activityOf(b))
		require.NoError(t, err)
		require.Equal(t, []time.Time{secondDate}, b.GradeDates)
	})

	t.Run("today's date, once pushed, cannot be set again", func(t *testing.T) {
		e.clock.Set(start)
		b := e.peersBoard(firstDate)
		e.thread(b, e.learner1, discussion.Draft{Title: "Question", Body: "Body.", Identity: discussion.Peers})
		e.clock.Set(firstPush.Add(time.Hour))
		_, err := e.svc.PushGrades(e.ctx)
		require.NoError(t, err)
		b.GradeDates = []time.Time{firstDate}
		var inv *discussion.InvalidError
		require.ErrorAs(t, e.svc.SaveSettings(e.ctx, educatorID, b), &inv)
		require.Equal(t, "grade_dates", inv.Field)
		require.Contains(t, inv.Message, "already went to Moodle today")
		b.GradeDates = []time.Time{firstDate, secondDate}
		require.NoError(t, e.svc.SaveSettings(e.ctx, educatorID, b))
		b, err = e.svc.Board(e.ctx, e.activityOf(b))
		require.NoError(t, err)
		require.Equal(t, []time.Time{secondDate}, b.GradeDates, "a date pushed is not pushed again")
	})
}

// weekly is n dates a week apart from first.
func weekly(first time.Time, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = first.AddDate(0, 0, 7*i)
	}
	return out
}

// Posts anonymous to peers count towards a certificate from the next day, UK time (a
// count that moved as one appeared would say who had just posted); named posts count
// at once; fully anonymous posts never. Midnight is the UK's, in summer time too.
func TestCountedPostsWaitForTheNextUKDayWhenAnonymousToPeers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Anonymous, func(b *discussion.Board) { b.LearnerChoice = true })
	named := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	// 23:30 on 1 June 2026 in London is 22:30 UTC, still 1 June in UTC too; midnight
	// in London is 23:00 UTC.
	e.clock.Set(time.Date(2026, 6, 1, 22, 30, 0, 0, time.UTC))
	th := e.thread(b, e.learner1, discussion.Draft{Title: "Question", Body: "Body.", Identity: discussion.Named})
	_, err := e.svc.Reply(e.ctx, b, e.learner1, th.ThreadID, 0, discussion.Draft{Body: "Peers.", Identity: discussion.Peers})
	require.NoError(t, err)
	_, err = e.svc.Reply(e.ctx, b, e.learner1, th.ThreadID, 0, discussion.Draft{Body: "Nobody's.", Identity: discussion.Anonymous})
	require.NoError(t, err)
	e.thread(named, e.learner1, discussion.Draft{Title: "Named", Body: "Body.", Identity: discussion.Named})

	counted := func(board discussion.Board) (int, bool) {
		n, wait, err := e.svc.CountedPosts(e.ctx, board.ActivityID, learner1ID)
		require.NoError(t, err)
		return n, wait
	}
	n, wait := counted(b)
	require.Equal(t, 1, n, "the named thread only")
	require.True(t, wait, "the board lets posts be anonymous to peers")
	e.clock.Set(time.Date(2026, 6, 1, 22, 59, 0, 0, time.UTC))
	n, _ = counted(b)
	require.Equal(t, 1, n, "still 1 June in London")
	e.clock.Set(time.Date(2026, 6, 1, 23, 0, 0, 0, time.UTC))
	n, _ = counted(b)
	require.Equal(t, 2, n, "2 June in London: the post anonymous to peers counts; the fully anonymous one never")

	n, wait = counted(named)
	require.Equal(t, 1, n)
	require.False(t, wait)
}
