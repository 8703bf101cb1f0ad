package certificates_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
	"github.com/huddle-lti/huddle/gradesync"
)

// fakes stand in for the other domains; each answers from a map the test fills.
type fakes struct {
	mu         sync.Mutex
	submitted  map[int64]bool
	signedOff  map[int64]bool
	posts      map[int64]int
	feedback   map[int64]bool
	complete   map[int64]bool
	noCriteria bool
	moodleAsks int
	scores     []gradesync.Score
}

func newFakes() *fakes {
	return &fakes{submitted: map[int64]bool{}, signedOff: map[int64]bool{}, posts: map[int64]int{},
		feedback: map[int64]bool{}, complete: map[int64]bool{}}
}

func (f *fakes) Progress(_ context.Context, _, user int64) (bool, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.submitted[user], f.signedOff[user], nil
}

func (f *fakes) Posts(_ context.Context, _, user int64) (int, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts[user], false, nil
}

func (f *fakes) Given(_ context.Context, _, user int64) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.feedback[user], nil
}

func (f *fakes) Completed(_ context.Context, _, _, moodleUser int64) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.moodleAsks++
	if f.noCriteria {
		return false, certificates.ErrNoCompletionCriteria
	}
	return f.complete[moodleUser], nil
}

func (f *fakes) Record(_ context.Context, _ pgx.Tx, sc gradesync.Score) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scores = append(f.scores, sc)
	return nil
}

// rules is the bundle with a reflection log, a board and a feedback form in the
// course, both learners enrolled, and the service wired to the fakes.
type rules struct {
	*bundle
	f                          *fakes
	log, board, form, otherLog int64
}

func setupRules(t *testing.T) *rules {
	t.Helper()
	r := &rules{bundle: setup(t), f: newFakes()}
	activity := func(course int64, link, kind string) int64 {
		var id int64
		require.NoError(t, r.pool.QueryRow(r.ctx, `
INSERT INTO activities (course_id, resource_link_id, title, kind) VALUES ($1, $2, $2, $3) RETURNING id`,
			course, link, kind).Scan(&id))
		return id
	}
	r.log = activity(r.course, "log", "reflection_log")
	r.board = activity(r.course, "board", "discussion_board")
	r.form = activity(r.course, "form", "feedback")
	var other int64
	require.NoError(t, r.pool.QueryRow(r.ctx, `
INSERT INTO courses (platform_id, deployment_id, context_id, title) VALUES ($1, '1', 'c2', 'Other') RETURNING id`,
		r.platform).Scan(&other))
	r.otherLog = activity(other, "log2", "reflection_log")
	for _, u := range []int64{r.learner, r.learner2} {
		_, err := r.pool.Exec(r.ctx, `INSERT INTO memberships (user_id, course_id, roles) VALUES ($1, $2, '{learner}')`, u, r.course)
		require.NoError(t, err)
	}
	// Moodle's user ids are the LTI subjects: make them numeric.
	_, err := r.pool.Exec(r.ctx, `UPDATE users SET subject = id::text`)
	require.NoError(t, err)
	_, err = r.pool.Exec(r.ctx, `UPDATE courses SET context_id = '42' WHERE id = $1`, r.course)
	require.NoError(t, err)
	r.svc = certificates.NewService(r.pool, r.keys, r.base, certificates.Options{Now: r.clock.Now,
		Reflections: r.f, Boards: r.f, Feedback: r.f, Completion: r.f, Grader: r.f,
		Kinds: certificates.TargetKinds{ReflectionLogs: []string{"reflection_log"}, Boards: []string{"discussion_board"},
			Feedback: []string{"feedback"}}})
	return r
}

func (r *rules) save(t *testing.T, reqs ...certificates.Requirement) {
	t.Helper()
	d := r.definition()
	d.Requirements = reqs
	require.NoError(t, r.svc.SaveDefinition(r.ctx, r.platform, 0, d))
}

func TestSaveDefinitionRefusesWhatCanNeverBeEarned(t *testing.T) {
	t.Parallel()
	r := setupRules(t)
	for name, tc := range map[string]struct {
		edit func(*certificates.Definition)
		says string
	}{
		"its own completion": {func(d *certificates.Definition) {
			d.Requirements = []certificates.Requirement{{Kind: certificates.ReflectionSubmitted, Activity: r.activity}}
		}, "its own completion"},
		"its own completion as a board": {func(d *certificates.Definition) {
			d.Requirements = []certificates.Requirement{{Kind: certificates.BoardPosts, Activity: r.activity, Count: 1}}
		}, "its own completion"},
		"a board as a reflection log": {func(d *certificates.Definition) {
			d.Requirements = []certificates.Requirement{{Kind: certificates.ReflectionSignedOff, Activity: r.board}}
		}, "not the kind"},
		"another course's log": {func(d *certificates.Definition) {
			d.Requirements = []certificates.Requirement{{Kind: certificates.ReflectionSubmitted, Activity: r.otherLog}}
		}, "activity of this course"},
		"an unknown kind": {func(d *certificates.Definition) {
			d.Requirements = []certificates.Requirement{{Kind: "attendance", Activity: r.log}}
		}, "not a kind"},
		"no posts asked": {func(d *certificates.Definition) {
			d.Requirements = []certificates.Requirement{{Kind: certificates.BoardPosts, Activity: r.board}}
		}, "between 1 and 100"},
		"no title":        {func(d *certificates.Definition) { d.Title = " " }, "title"},
		"no organisation": {func(d *certificates.Definition) { d.Organisation = "" }, "organisation"},
		"negative hours":  {func(d *certificates.Definition) { d.CPDHours = -1 }, "CPD hours"},
		"endless expiry":  {func(d *certificates.Definition) { d.ExpiryMonths = 601 }, "expiry"},
		"a patient in the description": {func(d *certificates.Definition) {
			d.Description = "Awarded after the case of Mrs Okoro, NHS 943 476 5919"
		}, "may identify a patient"},
		"a patient's postcode in the title": {func(d *certificates.Definition) { d.Title = "Home visits to M14 5TH" }, "title may identify"},
	} {
		t.Run(name, func(t *testing.T) {
			d := r.definition()
			tc.edit(&d)
			err := r.svc.SaveDefinition(r.ctx, r.platform, 0, d)
			var invalid *certificates.InvalidError
			require.ErrorAs(t, err, &invalid)
			require.Contains(t, invalid.Message, tc.says)
		})
	}
	_, err := r.svc.DefinitionOf(r.ctx, r.activity)
	require.ErrorIs(t, err, certificates.ErrNotFound, "nothing refused was saved")

	r.save(t, certificates.Requirement{Kind: certificates.ReflectionSignedOff, Activity: r.log},
		certificates.Requirement{Kind: certificates.BoardPosts, Activity: r.board, Count: 3},
		certificates.Requirement{Kind: certificates.FeedbackGiven, Activity: r.form},
		certificates.Requirement{Kind: certificates.MoodleCompletion})
	d, err := r.svc.DefinitionOf(r.ctx, r.activity)
	require.NoError(t, err)
	require.Len(t, d.Requirements, 4)
	require.Equal(t, 24, d.ExpiryMonths)
	require.EqualValues(t, 6.5, d.CPDHours)
	var audited int
	require.NoError(t, r.pool.QueryRow(r.ctx, `SELECT count(*) FROM audit_log WHERE action = 'certificate.settings.update'`).Scan(&audited))
	require.Equal(t, 1, audited)
}

func TestRequirementCombinations(t *testing.T) {
	t.Parallel()
	signedOff := certificates.Requirement{Kind: certificates.ReflectionSignedOff}
	submitted := certificates.Requirement{Kind: certificates.ReflectionSubmitted}
	posts := certificates.Requirement{Kind: certificates.BoardPosts, Count: 2}
	feedback := certificates.Requirement{Kind: certificates.FeedbackGiven}
	moodle := certificates.Requirement{Kind: certificates.MoodleCompletion}
	for name, tc := range map[string]struct {
		reqs     []certificates.Requirement
		state    func(f *fakes, user int64)
		eligible bool
		why      string
		asks     int // Moodle calls
	}{
		"submitted only, met":   {[]certificates.Requirement{submitted}, func(f *fakes, u int64) { f.submitted[u] = true }, true, "", 0},
		"signed off, submitted": {[]certificates.Requirement{signedOff}, func(f *fakes, u int64) { f.submitted[u] = true }, false, "not yet signed off", 0},
		"signed off, met":       {[]certificates.Requirement{signedOff}, func(f *fakes, u int64) { f.submitted[u], f.signedOff[u] = true, true }, true, "", 0},
		"posts short":           {[]certificates.Requirement{posts}, func(f *fakes, u int64) { f.posts[u] = 1 }, false, "1 of 2 posts", 0},
		"posts and feedback": {[]certificates.Requirement{posts, feedback},
			func(f *fakes, u int64) { f.posts[u], f.feedback[u] = 2, true }, true, "", 0},
		"feedback missing": {[]certificates.Requirement{posts, feedback}, func(f *fakes, u int64) { f.posts[u] = 5 }, false, "released together", 0},
		"moodle asked only when the rest is met": {[]certificates.Requirement{posts, moodle},
			func(f *fakes, u int64) { f.posts[u], f.complete[u] = 1, true }, false, "once the other requirements are met", 0},
		"moodle complete": {[]certificates.Requirement{posts, moodle},
			func(f *fakes, u int64) { f.posts[u], f.complete[u] = 2, true }, true, "", 1},
		"moodle incomplete": {[]certificates.Requirement{moodle}, func(f *fakes, u int64) {}, false, "not show the course as complete", 1},
		"moodle without criteria": {[]certificates.Requirement{moodle},
			func(f *fakes, u int64) { f.noCriteria = true }, false, "no completion criteria", 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := setupRules(t)
			reqs := make([]certificates.Requirement, len(tc.reqs))
			for i, q := range tc.reqs {
				switch q.Kind {
				case certificates.ReflectionSignedOff, certificates.ReflectionSubmitted:
					q.Activity = r.log
				case certificates.BoardPosts:
					q.Activity = r.board
				case certificates.FeedbackGiven:
					q.Activity = r.form
				}
				reqs[i] = q
			}
			r.save(t, reqs...)
			tc.state(r.f, r.learner)
			c, issued, err := r.svc.IssueIfEligible(r.ctx, r.activity, r.learner, true)
			require.NoError(t, err)
			require.Equal(t, tc.eligible, issued)
			require.Equal(t, tc.eligible, c != nil)
			require.Equal(t, tc.asks, r.f.moodleAsks)
			progress, err := r.svc.Learners(r.ctx, r.activity)
			require.NoError(t, err)
			require.Len(t, progress, 2)
			mine := progress[0]
			if mine.UserID != r.learner {
				mine = progress[1]
			}
			require.Equal(t, tc.eligible, mine.Certificate != nil)
			if tc.why != "" {
				found := false
				for _, ch := range mine.Checks {
					found = found || (!ch.Met && strings.Contains(ch.Why, tc.why))
				}
				if !found {
					// Moodle's answer is given at the check, not on the page (which never asks Moodle).
					d, err := r.svc.DefinitionOf(r.ctx, r.activity)
					require.NoError(t, err)
					checks, err := r.svc.Evaluate(r.ctx, d, r.learner, true)
					require.NoError(t, err)
					for _, ch := range checks {
						found = found || (!ch.Met && strings.Contains(ch.Why, tc.why))
					}
				}
				require.True(t, found, "a reason saying %q", tc.why)
			}
		})
	}
}

func TestAutomaticIssueCompletesInMoodleAndIsAudited(t *testing.T) {
	t.Parallel()
	r := setupRules(t)
	r.save(t, certificates.Requirement{Kind: certificates.BoardPosts, Activity: r.board, Count: 1})
	r.f.posts[r.learner] = 1
	for range 3 {
		_, _, err := r.svc.IssueIfEligible(r.ctx, r.activity, r.learner, false)
		require.NoError(t, err)
	}
	var n int
	require.NoError(t, r.pool.QueryRow(r.ctx, `SELECT count(*) FROM certificates`).Scan(&n))
	require.Equal(t, 1, n, "idempotent")
	require.Len(t, r.f.scores, 1)
	require.Equal(t, gradesync.Score{ActivityID: r.activity, UserID: r.learner, Given: 1, Maximum: 1,
		ActivityProgress: gradesync.ActivityCompleted, GradingProgress: gradesync.GradingFully, At: start}, r.f.scores[0])
	var action, detail string
	var actor *int64
	require.NoError(t, r.pool.QueryRow(r.ctx, `SELECT action, detail, actor_id FROM audit_log WHERE action LIKE 'certificate.issue'`).Scan(&action, &detail, &actor))
	require.Regexp(t, `^code=[a-z2-9]{10}$`, detail)
	require.Nil(t, actor, "issued by Huddle, not a person")

	// The learner's certificate names them, from the roster.
	mine, err := r.svc.Mine(r.ctx, r.learner)
	require.NoError(t, err)
	require.Len(t, mine, 1)
	require.Equal(t, "Priya Shah", mine[0].LearnerName)
	require.Equal(t, "Acute Medicine Teaching", mine[0].CourseTitle)
}

func TestManualIssueRevokeAndReissueAreAudited(t *testing.T) {
	t.Parallel()
	r := setupRules(t)
	r.save(t, certificates.Requirement{Kind: certificates.BoardPosts, Activity: r.board, Count: 5})
	var educator int64
	require.NoError(t, r.pool.QueryRow(r.ctx, `INSERT INTO users (platform_id, subject, name) VALUES ($1, 'e', 'Eve Educator') RETURNING id`,
		r.platform).Scan(&educator))
	// An educator may issue to a learner who has not met the requirements.
	c, created, err := r.svc.IssueTo(r.ctx, educator, r.activity, r.learner2)
	require.NoError(t, err)
	require.True(t, created)
	_, err = r.svc.RevokeAs(r.ctx, r.platform, educator, c.ID, "Issued to the wrong learner.")
	require.NoError(t, err)
	fresh, err := r.svc.ReissueAs(r.ctx, r.platform, educator, c.ID)
	require.NoError(t, err)
	require.Equal(t, c.SubjectID, fresh.SubjectID)
	rows, err := r.pool.Query(r.ctx, `SELECT action FROM audit_log WHERE actor_id = $1 ORDER BY id`, educator)
	require.NoError(t, err)
	actions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"certificate.issue", "certificate.revoke", "certificate.reissue"}, actions)
	var reasons int
	require.NoError(t, r.pool.QueryRow(r.ctx, `SELECT count(*) FROM audit_log WHERE detail LIKE '%wrong%'`).Scan(&reasons))
	require.Zero(t, reasons, "the typed reason never reaches the audit log")
}

// insertRecorder stands in for River's client and keeps what it was asked to insert.
type insertRecorder struct{ args []river.JobArgs }

func (q *insertRecorder) InsertManyTx(_ context.Context, _ pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	for _, p := range params {
		q.args = append(q.args, p.Args)
	}
	return nil, nil
}

func TestSweepQueuesChecksAndTheWorkerIssues(t *testing.T) {
	t.Parallel()
	r := setupRules(t)
	r.save(t, certificates.Requirement{Kind: certificates.BoardPosts, Activity: r.board, Count: 1})
	r.f.posts[r.learner] = 2
	q := &insertRecorder{}
	n, err := r.svc.QueueChecks(r.ctx, q, 0, false)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	w := certificates.NewCheckWorker(r.svc)
	for _, a := range q.args {
		require.NoError(t, w.Work(r.ctx, &river.Job[certificates.CheckArgs]{Args: a.(certificates.CheckArgs)}))
	}
	mine, err := r.svc.Mine(r.ctx, r.learner)
	require.NoError(t, err)
	require.Len(t, mine, 1)
	none, err := r.svc.Mine(r.ctx, r.learner2)
	require.NoError(t, err)
	require.Empty(t, none)

	// The next sweep leaves out the learner who holds a certificate.
	q2 := &insertRecorder{}
	n, err = r.svc.QueueChecks(r.ctx, q2, r.activity, true)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, certificates.CheckArgs{ActivityID: r.activity, UserID: r.learner2, Moodle: true}, q2.args[0])
}
