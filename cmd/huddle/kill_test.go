package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/lti/ltitest"
)

// The flood: the first wave of sessions signs in and posts while two instances serve;
// one instance is killed under it; the second wave signs in after the kill. The
// platform, like Moodle, takes grades only for learners enrolled in the course, and it
// enrols two; so each learner posts from several sessions at once (tabs, devices),
// which also makes every learner's score change many times a second.
const (
	firstWave   = 10
	secondWave  = 4
	repliesEach = 10
	killAfter   = 30 // posts answered before the kill starts
)

// sentPost is one post a learner sent and what Huddle answered.
type sentPost struct {
	subject string
	text    string // unique to this post, so its copies can be counted
	opening bool
	id      string // the post id in Huddle's answer
	// lost counts the attempts that got no answer before the one that did. Each may
	// have stored the post; the form's submission token makes the retries land on it.
	lost int
}

type floodLog struct {
	mu    sync.Mutex
	posts []sentPost
	acked atomic.Int64
}

func (fl *floodLog) add(p sentPost) {
	fl.mu.Lock()
	fl.posts = append(fl.posts, p)
	fl.mu.Unlock()
	fl.acked.Add(1)
}

// group runs learners and keeps the first error, which stops the others.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

func newGroup(ctx context.Context) *group {
	g := &group{}
	g.ctx, g.cancel = context.WithCancel(ctx)
	return g
}

func (g *group) Go(f func(context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(g.ctx); err != nil {
			g.mu.Lock()
			if g.err == nil {
				g.err = err
				g.cancel()
			}
			g.mu.Unlock()
		}
	}()
}

func (g *group) failed() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

func (g *group) Wait() error {
	g.wg.Wait()
	g.cancel()
	return g.failed()
}

// runSession signs a learner in to the board in a browser of its own, starts a thread
// and replies in it.
func runSession(ctx context.Context, m *devMoodle, f *fleet, board ltitest.Link, who ltitest.Member, session int, fl *floodLog, replies int) error {
	b := newBrowser(f)
	activity, err := b.launch(ctx, m, who, board)
	if err != nil {
		return fmt.Errorf("session %d: %w", session, err)
	}
	text := fmt.Sprintf("Opening post of session %d: what would you check first?", session)
	thread, post, lost, err := b.startThread(ctx, activity, "Question from "+who.Name, text)
	if err != nil {
		return fmt.Errorf("session %d: %w", session, err)
	}
	fl.add(sentPost{subject: who.Subject, text: text, opening: true, id: post, lost: lost})
	for i := range replies {
		text := fmt.Sprintf("Reply %d of session %d: repeat the observations.", i+1, session)
		post, lost, err := b.reply(ctx, activity, thread, text)
		if err != nil {
			return fmt.Errorf("session %d: %w", session, err)
		}
		fl.add(sentPost{subject: who.Subject, text: text, id: post, lost: lost})
	}
	return nil
}

// TestTwoInstancesSurviveSIGKILL runs two `huddle serve` processes on one database
// under a flood of learners' sessions posting on a graded board (every post re-scores
// its author, and the score goes to the platform through a River job). While posts are
// in flight and grade sync jobs are inside their push to the platform, one instance
// gets SIGKILL; the flood goes on against the survivor, a replacement starts, and a
// second wave of sessions signs in. Then every answered post is stored once (or, if an
// attempt got no answer, at most once per attempt), nothing unsent is stored, each
// learner's score matches their posts, the dead instance's jobs were rescued and
// finished by another, and the platform's gradebook holds one column with each
// learner's newest score.
func TestTwoInstancesSurviveSIGKILL(t *testing.T) {
	t.Parallel()
	bin := buildHuddle(t)
	dbURL := dbtest.Migrated(t)
	db := dbtest.Pool(t, dbURL)
	f := &fleet{}
	m := newMoodle(t, f)
	vars := map[string]string{"HUDDLE_DATABASE_URL": dbURL, "HUDDLE_SECRET_KEY": goodKey, "HUDDLE_BASE_URL": frontURL,
		"HUDDLE_LOG_FORMAT": "json", "HUDDLE_SHUTDOWN_TIMEOUT": "5s"}
	m.register(t, vars)

	a := startProcess(t, bin, "a", vars)
	b := startProcess(t, bin, "b", vars)
	f.add(a.base)
	f.add(b.base)
	byRiverID := map[string]*process{a.riverClientID(t): a, b.riverClientID(t): b}

	ctx := t.Context()
	board := link("1", "discussion_board")
	edu := newBrowser(f)
	boardPath, err := edu.launch(ctx, m, educatorMember, board)
	require.NoError(t, err)
	// Full marks at 100 replies, so a learner's score is their number of replies.
	p, err := edu.do(ctx, http.MethodPost, boardPath+"/board-settings", edu.form(url.Values{"identity": {"named"},
		"edit_minutes": {"30"}, "posts_per_hour": {"1000"}, "grade_threads": {"0"}, "grade_replies": {"100"}}))
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, p.code, p.body)
	boardID, err := strconv.ParseInt(strings.TrimPrefix(boardPath, "/activities/"), 10, 64)
	require.NoError(t, err)

	learners := m.learners()
	require.Len(t, learners, 2)
	fl := &floodLog{}
	g := newGroup(ctx)
	sessions := 0
	startSessions := func(n int) {
		for range n {
			sessions++
			who, session := learners[sessions%len(learners)], sessions
			g.Go(func(ctx context.Context) error { return runSession(ctx, m, f, board, who, session, fl, repliesEach) })
		}
	}
	startSessions(firstWave)

	require.Eventually(t, func() bool { return fl.acked.Load() >= killAfter || g.failed() != nil },
		120*time.Second, 10*time.Millisecond, "the flood never got going")
	require.NoError(t, g.failed())

	// Mid-job: the platform holds the scores it is sent, so grade sync jobs stay
	// running inside their push. Once every running one is held there (none can finish
	// before the kill; a dispatcher may hold several pushes, a score's own job one),
	// the victim is an instance that runs one: a, unless only b does.
	m.holdScores()
	var victim, survivor *process
	var victimID string
	require.Eventually(t, func() bool {
		if g.failed() != nil {
			return true
		}
		running, err := runningGradeJobsBy(ctx, db)
		total := 0
		for _, n := range running {
			total += n
		}
		if err != nil || total == 0 || m.heldScores() < total {
			return false
		}
		victim = nil
		for id, proc := range byRiverID {
			if running[id] > 0 && (victim == nil || proc == a) {
				victim, victimID = proc, id
			}
		}
		return victim != nil
	}, 60*time.Second, 10*time.Millisecond, "no grade sync job ever ran while scores were held")
	require.NoError(t, g.failed())
	survivor = a
	if victim == a {
		survivor = b
	}
	victim.kill(t)
	f.remove(victim.base)

	var stuck []int64
	require.NoError(t, db.QueryRow(ctx, `
SELECT coalesce(array_agg(id), '{}') FROM river_job
WHERE state = 'running' AND attempted_by[cardinality(attempted_by)] = $1`, victimID).Scan(&stuck))
	require.NotEmpty(t, stuck, "the killed instance held running jobs")
	m.releaseScores()
	// River rescues a job left running longer than RescueStuckJobsAfter, which app.New
	// sets to 5 minutes and no setting changes. Instead of waiting, the dead instance's
	// jobs are aged 10 minutes. The rescuer runs on River's leader every 30 s, and a
	// dead leader's lease lasts 15 s; deleting the lease makes the instances elect a
	// leader again at once, and a new leader's rescuer runs as it starts.
	_, err = db.Exec(ctx, `UPDATE river_job SET attempted_at = now() - interval '10 minutes' WHERE id = ANY($1)`, stuck)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `DELETE FROM river_leader`)
	require.NoError(t, err)

	replacement := startProcess(t, bin, "c", vars)
	f.add(replacement.base)
	startSessions(secondWave)
	require.NoError(t, g.Wait())

	awaitGradeSync(t, ctx, db)
	// What the flood left behind. A score that did not reach the platform is a bug; one
	// is known (see strictDelivery) and is reported here rather than failed on.
	for _, problem := range deliveryProblems(t, ctx, db, m, boardID) {
		if strictDelivery {
			t.Error(problem)
		} else {
			t.Log("KNOWN BUG (gradesync): " + problem)
		}
	}

	// Each learner signs in once more, on the instances now serving, and starts a thread,
	// which records their score again; after that every score must be in the platform,
	// whatever the flood lost. One post each, as the known bug loses a second score
	// recorded while the first one's job finishes.
	for _, who := range learners {
		sessions++
		require.NoError(t, runSession(ctx, m, f, board, who, sessions, fl, 0))
	}
	awaitGradeSync(t, ctx, db)

	posts := checkPosts(t, ctx, db, boardID, fl)
	checkScores(t, ctx, db, boardID, posts, len(learners))
	require.Empty(t, deliveryProblems(t, ctx, db, m, boardID), "after the last posts every score is in the platform")
	checkScorePosts(t, m, len(learners))
	checkRescued(t, ctx, db, stuck, victimID)

	survivor.stop(t)
	replacement.stop(t)
	requireNoRace(t, victim.name, victim.log.String())
}

// strictDelivery makes a score the flood left undelivered fail the test. It was off
// while two bugs in gradesync, both seen in this test's runs, were known:
//   - A score recorded while its learner's job was finishing (the push done and marked,
//     River's completion of the job not yet committed) enqueued nothing: River skipped
//     the new job as a duplicate of the running one. The job now completes in the
//     transaction that finds nothing newer under the score's row lock.
//   - Moodle refuses (409) a score whose timestamp is in an earlier second than the
//     time it stored the learner's grade, and Huddle took every 409 for "Moodle holds
//     a newer score". A refused score newer than anything Huddle delivered is now sent
//     again with a later timestamp.
//
// The test still has each learner post once more before its last checks.
const strictDelivery = true

// awaitGradeSync waits until no grade sync job (an activity's dispatcher, or a score's
// own after a failed push) is waiting, scheduled or running.
func awaitGradeSync(t *testing.T, ctx context.Context, db *pgxpool.Pool) {
	t.Helper()
	require.Eventually(t, func() bool {
		var waiting int
		err := db.QueryRow(ctx, `
SELECT count(*) FROM river_job
WHERE kind IN ('grade_sync', 'grade_sync_dispatch') AND state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&waiting)
		return err == nil && waiting == 0
	}, 120*time.Second, 50*time.Millisecond, "grade sync never drained")
}

// runningGradeJobsBy counts running grade sync jobs by the River client running them.
func runningGradeJobsBy(ctx context.Context, db *pgxpool.Pool) (map[string]int, error) {
	rows, err := db.Query(ctx, `
SELECT attempted_by[cardinality(attempted_by)], count(*) FROM river_job
WHERE kind IN ('grade_sync', 'grade_sync_dispatch') AND state = 'running' GROUP BY 1`)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	var id string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		out[id] = n
		return nil
	})
	return out, err
}

// storedPost is a post as the board holds it.
type storedPost struct {
	id, text, subject, status string
	opening                   bool
}

// checkPosts holds Huddle to what the learners were told: every answered post is
// stored, once unless an attempt that got no answer may have stored it too, and
// nothing is stored that nobody sent. It returns the stored posts.
func checkPosts(t *testing.T, ctx context.Context, db *pgxpool.Pool, boardID int64, fl *floodLog) []storedPost {
	t.Helper()
	rows, err := db.Query(ctx, `
SELECT p.id::text, p.body, u.subject, p.status, p.opening
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.board_id = $1`, boardID)
	require.NoError(t, err)
	var stored []storedPost
	var s storedPost
	_, err = pgx.ForEachRow(rows, []any{&s.id, &s.text, &s.subject, &s.status, &s.opening}, func() error {
		stored = append(stored, s)
		return nil
	})
	require.NoError(t, err)

	sent := map[string]sentPost{}
	for _, p := range fl.posts {
		sent[p.text] = p
	}
	copies := map[string]int{}
	byID := map[string]storedPost{}
	for _, s := range stored {
		p, ok := sent[s.text]
		require.True(t, ok, "post %s %q was never sent", s.id, s.text)
		require.Equal(t, p.subject, s.subject, "post %s", s.id)
		require.Equal(t, p.opening, s.opening, "post %s", s.id)
		require.Equal(t, "visible", s.status, "post %s", s.id)
		copies[s.text]++
		byID[s.id] = s
	}
	retried := 0
	for _, p := range fl.posts {
		s, ok := byID[p.id]
		require.True(t, ok, "post %s was answered with id %s but is not stored", p.text, p.id)
		require.Equal(t, p.text, s.text)
		require.Equal(t, 1, copies[p.text], "post %q was sent %d times and stored %d times", p.text, 1+p.lost, copies[p.text])
		if p.lost > 0 {
			retried++
		}
	}
	t.Logf("posts: %d sent and answered, %d stored; %d sent again after an attempt got no answer, each stored once",
		len(fl.posts), len(stored), retried)
	return stored
}

// checkScores holds each learner's score in Huddle to their visible replies: full
// marks, 100, at 100 replies.
func checkScores(t *testing.T, ctx context.Context, db *pgxpool.Pool, boardID int64, posts []storedPost, learners int) {
	t.Helper()
	replies := map[string]int{}
	for _, p := range posts {
		if !p.opening && p.status == "visible" {
			replies[p.subject]++
		}
	}
	rows, err := db.Query(ctx, `
SELECT u.subject, s.score_given FROM scores s JOIN users u ON u.id = s.user_id WHERE s.activity_id = $1`, boardID)
	require.NoError(t, err)
	var subject string
	var given float64
	n := 0
	_, err = pgx.ForEachRow(rows, []any{&subject, &given}, func() error {
		require.InDelta(t, float64(min(replies[subject], 100)), given, 1e-9, "learner %s's score in Huddle", subject)
		n++
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, learners, n, "one score per learner")
}

// deliveryProblems compares each learner's newest score in Huddle with the grade the
// platform holds and describes every difference: a score Huddle never delivered, or
// one Huddle holds delivered while the platform kept an older one. The platform must
// hold one column for the board and one grade per learner.
func deliveryProblems(t *testing.T, ctx context.Context, db *pgxpool.Pool, m *devMoodle, boardID int64) []string {
	t.Helper()
	gb := m.Gradebook()
	require.Len(t, gb.LineItems, 1, "one gradebook column, however many instances created it and died")
	li := gb.LineItems[0]
	rows, err := db.Query(ctx, `
SELECT u.subject, s.score_given, s.score_maximum, s.state, s.scored_at, s.synced_scored_at
FROM scores s JOIN users u ON u.id = s.user_id
WHERE s.activity_id = $1`, boardID)
	require.NoError(t, err)
	var problems []string
	var subject, state string
	var given, maximum float64
	var scoredAt time.Time
	var synced *time.Time
	learners := 0
	_, err = pgx.ForEachRow(rows, []any{&subject, &given, &maximum, &state, &scoredAt, &synced}, func() error {
		learners++
		delivered := state == "synced" && synced != nil && synced.Equal(scoredAt)
		g, ok := gb.Grade(li.ID, subject)
		held := "no grade"
		inPlatform := false
		if ok && g.Score != nil {
			held = fmt.Sprintf("%g, the score of %s", *g.Score, g.Timestamp.UTC().Format(time.RFC3339Nano))
			inPlatform = math.Abs(*g.Score-given*li.ScoreMaximum/maximum) < 1e-6 && g.Timestamp.Equal(scoredAt.Truncate(time.Millisecond))
		}
		newest := fmt.Sprintf("%g, scored %s", given, scoredAt.UTC().Format(time.RFC3339Nano))
		switch {
		case delivered && inPlatform:
		case !delivered:
			problems = append(problems, fmt.Sprintf("learner %s's newest score (%s) was never delivered and no job is left "+
				"to deliver it; the platform holds %s.\n%s", subject, newest, held, scoreHistory(t, ctx, db, boardID, subject)))
		default:
			problems = append(problems, fmt.Sprintf("learner %s's newest score (%s) is marked delivered, but the platform holds %s.\n%s",
				subject, newest, held, scoreHistory(t, ctx, db, boardID, subject)))
		}
		return nil
	})
	require.NoError(t, err)
	require.Len(t, gb.Grades, learners, "one grade per learner")
	return problems
}

// checkScorePosts counts what Huddle posted to the platform. A score sent twice (a
// job rescued after its push landed) is harmless in AGS: the platform keeps one grade
// per learner and line item, and Moodle either stores the same value again or, once
// its grade is newer than the score's timestamp, refuses the copy with 409.
func checkScorePosts(t *testing.T, m *devMoodle, learners int) {
	t.Helper()
	type sent struct {
		user string
		at   time.Time
	}
	times := map[sent]int{}
	var accepted, refused, refusedNewer, abandoned, replayed int
	for _, s := range m.scorePosts() {
		switch s.Status {
		case http.StatusOK:
			accepted++
			times[sent{s.UserID, s.Timestamp}]++
		case http.StatusConflict:
			refused++
			if s.Timestamp.After(s.Held) {
				// Moodle compares the score's timestamp with the time it stored the last
				// grade, to the second, so a score newer than the grade it holds is
				// refused when that grade was stored in a later second. Huddle takes any
				// 409 for "Moodle holds a newer score" and marks the score delivered.
				refusedNewer++
			}
		default:
			t.Errorf("the platform answered %d to a score for %s", s.Status, s.UserID)
		}
		if s.Abandoned {
			abandoned++
		}
	}
	for _, n := range times {
		replayed += n - 1
	}
	require.GreaterOrEqual(t, accepted, learners)
	t.Logf("scores posted to the platform: %d stored (%d of them a score it already held), %d refused with 409 "+
		"(%d of them newer than the grade the platform held), %d abandoned at the door by the killed instance",
		accepted, replayed, refused, refusedNewer, abandoned)
}

// checkRescued holds River to finishing what the dead instance left running: its
// grade sync jobs were rescued, run again by another instance and completed, and no
// job of any kind is left running in its name or undelivered.
func checkRescued(t *testing.T, ctx context.Context, db *pgxpool.Pool, stuck []int64, victimID string) {
	t.Helper()
	rows, err := db.Query(ctx, `
SELECT id, kind, state, attempted_by[cardinality(attempted_by)], errors::text
FROM river_job WHERE id = ANY($1)`, stuck)
	require.NoError(t, err)
	var id int64
	var kind, state, lastBy string
	var errs *string
	grade := 0
	_, err = pgx.ForEachRow(rows, []any{&id, &kind, &state, &lastBy, &errs}, func() error {
		if kind != "grade_sync" && kind != "grade_sync_dispatch" {
			return nil
		}
		grade++
		require.Equal(t, "completed", state, "job %d", id)
		require.NotEqual(t, victimID, lastBy, "job %d was finished by another instance", id)
		require.NotNil(t, errs, "job %d", id)
		require.Contains(t, *errs, "Stuck job rescued by JobRescuer", "job %d", id)
		return nil
	})
	require.NoError(t, err)
	require.Positive(t, grade, "the killed instance was running grade sync jobs")
	t.Logf("jobs: %d left running by the killed instance, %d of them grade sync, all rescued and completed elsewhere", len(stuck), grade)

	var running, undelivered int
	require.NoError(t, db.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE state = 'running' AND attempted_by[cardinality(attempted_by)] = $1),
       count(*) FILTER (WHERE kind IN ('grade_sync', 'grade_sync_dispatch') AND state <> 'completed')
FROM river_job`, victimID).Scan(&running, &undelivered))
	require.Zero(t, running, "no job is left running by the dead instance")
	require.Zero(t, undelivered, "every grade sync job completed")
}

// scoreHistory describes a learner's score and its grade sync jobs, for a failure.
func scoreHistory(t *testing.T, ctx context.Context, db *pgxpool.Pool, boardID int64, subject string) string {
	t.Helper()
	var b strings.Builder
	var state, lastErr string
	var scoredAt time.Time
	var syncedAt, syncedScoredAt *time.Time
	var attempts int
	err := db.QueryRow(ctx, `
SELECT s.state, s.scored_at, s.synced_at, s.synced_scored_at, s.attempts, s.last_error
FROM scores s JOIN users u ON u.id = s.user_id WHERE s.activity_id = $1 AND u.subject = $2`, boardID, subject).
		Scan(&state, &scoredAt, &syncedAt, &syncedScoredAt, &attempts, &lastErr)
	if err != nil {
		return err.Error()
	}
	fmt.Fprintf(&b, "  score: %s, scored %s, delivered %v (the score of %v), %d attempts, last error %q\n",
		state, scoredAt.Format(time.RFC3339Nano), syncedAt, syncedScoredAt, attempts, lastErr)
	rows, err := db.Query(ctx, `
SELECT j.id, j.state, j.created_at, j.attempted_at, j.finalized_at, j.attempted_by, coalesce(j.errors::text, '')
FROM river_job j JOIN users u ON u.id = (j.args->>'user_id')::bigint
WHERE j.kind = 'grade_sync' AND u.subject = $1 ORDER BY j.id`, subject)
	if err != nil {
		return err.Error()
	}
	var id int64
	var jobState, errs string
	var created time.Time
	var attempted, finalized *time.Time
	var by []string
	_, err = pgx.ForEachRow(rows, []any{&id, &jobState, &created, &attempted, &finalized, &by, &errs}, func() error {
		fmt.Fprintf(&b, "  job %d: %s, created %s, attempted %v, finalized %v, by %v %s\n", id, jobState,
			created.Format(time.RFC3339Nano), attempted, finalized, by, errs)
		return nil
	})
	if err != nil {
		return err.Error()
	}
	return b.String()
}
