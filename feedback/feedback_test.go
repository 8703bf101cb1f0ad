package feedback_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/feedback"
	"github.com/huddle-lti/huddle/internal/fakeclock"
)

// nhsNumber passes the NHS number checksum, so the guard must find it.
const nhsNumber = "943 476 5919"

var start = time.Date(2025, 3, 4, 10, 17, 23, 0, time.UTC)

type env struct {
	ctx      context.Context
	pool     *pgxpool.Pool
	clock    *fakeclock.Clock
	svc      *feedback.Service
	activity course.Activity
	learners []int64
	// released records each call of the Released hook.
	mu       sync.Mutex
	released [][]int64
}

func setup(t *testing.T, learners int) *env {
	t.Helper()
	ctx := t.Context()
	pool := dbtest.New(t)
	e := &env{ctx: ctx, pool: pool, clock: fakeclock.New(start)}
	var platform, courseID int64
	require.NoError(t, pool.QueryRow(ctx, `
INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url)
VALUES ('https://moodle.example.nhs.uk', 'huddle', 'https://moodle.example.nhs.uk/auth',
        'https://moodle.example.nhs.uk/token', 'https://moodle.example.nhs.uk/certs') RETURNING id`).Scan(&platform))
	require.NoError(t, pool.QueryRow(ctx, `
INSERT INTO courses (platform_id, deployment_id, context_id, title) VALUES ($1, '1', 'fp', 'Foundation') RETURNING id`,
		platform).Scan(&courseID))
	for i := range learners {
		var id int64
		require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (platform_id, subject, name) VALUES ($1, $2, $3) RETURNING id`,
			platform, fmt.Sprintf("learner-%d", i), fmt.Sprintf("Learner %d", i)).Scan(&id))
		_, err := pool.Exec(ctx, `INSERT INTO memberships (user_id, course_id, roles) VALUES ($1, $2, '{learner}')`, id, courseID)
		require.NoError(t, err)
		e.learners = append(e.learners, id)
	}
	e.activity = course.Activity{CourseID: courseID, PlatformID: platform, Kind: feedback.KindSessionFeedback, Title: "Sepsis teaching"}
	require.NoError(t, pool.QueryRow(ctx, `
INSERT INTO activities (course_id, resource_link_id, title, kind) VALUES ($1, 'rl-1', 'Sepsis teaching', 'session_feedback')
RETURNING id`, courseID).Scan(&e.activity.ID))
	e.svc = feedback.NewService(pool, feedback.Options{Now: e.clock.Now,
		Released: func(_ context.Context, _ pgx.Tx, activityID int64, users []int64) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			require.Equal(t, e.activity.ID, activityID)
			e.released = append(e.released, users)
			return nil
		}})
	return e
}

// open makes the form from the template with the threshold and opens it.
func (e *env) open(t *testing.T, threshold int) feedback.Form {
	t.Helper()
	f, err := e.svc.Form(e.ctx, e.activity)
	require.NoError(t, err)
	f.Threshold = threshold
	require.NoError(t, e.svc.Save(e.ctx, f))
	require.NoError(t, e.svc.Open(e.ctx, f.ActivityID, nil))
	f, err = e.svc.Form(e.ctx, e.activity)
	require.NoError(t, err)
	return f
}

func (e *env) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(e.ctx, sql, args...).Scan(&n))
	return n
}

func answers(overall int, better string) feedback.Answers {
	a := feedback.Answers{"overall": {Rating: overall}, "relevance": {Rating: 4}, "teaching": {Rating: 5}}
	if better != "" {
		a["better"] = feedback.Answer{Text: better}
	}
	return a
}

func (e *env) release(t *testing.T) int {
	t.Helper()
	n, err := e.svc.Release(e.ctx)
	require.NoError(t, err)
	return n
}

func (e *env) given(t *testing.T, user int64) bool {
	t.Helper()
	ok, err := e.svc.Given(e.ctx, e.activity.ID, user)
	require.NoError(t, err)
	return ok
}

// TestNewFormStartsFromTheTemplate: the ready template trusts ask for after teaching.
func TestNewFormStartsFromTheTemplate(t *testing.T) {
	t.Parallel()
	e := setup(t, 0)
	f, err := e.svc.Form(e.ctx, e.activity)
	require.NoError(t, err)
	var labels []string
	for _, q := range f.Questions {
		labels = append(labels, q.Label)
	}
	require.Equal(t, []string{"Overall, how would you rate this session?", "How relevant was it to my practice?",
		"How good was the teaching?", "What went well?", "What could be better?"}, labels)
	require.Equal(t, feedback.DefaultThreshold, f.Threshold)
	require.False(t, f.Opened)
	_, err = e.svc.Form(e.ctx, course.Activity{ID: e.activity.ID + 1000, Kind: "reflection_log"})
	require.ErrorIs(t, err, feedback.ErrNotFound)
}

// TestSaveChecksQuestions: what an educator may and may not build.
func TestSaveChecksQuestions(t *testing.T) {
	t.Parallel()
	e := setup(t, 0)
	base, err := e.svc.Form(e.ctx, e.activity)
	require.NoError(t, err)
	tests := []struct {
		name      string
		change    func(f *feedback.Form)
		wantField string // "" when saved
	}{
		{"the template", func(*feedback.Form) {}, ""},
		{"a choice", func(f *feedback.Form) {
			f.Questions = append(f.Questions, feedback.Question{Kind: feedback.Choice, Label: "Which site?",
				Options: []string{"North", "", "South", "North"}})
		}, ""},
		{"threshold below three", func(f *feedback.Form) { f.Threshold = 2 }, "threshold"},
		{"no questions", func(f *feedback.Form) { f.Questions = nil }, "questions"},
		{"a question with no words", func(f *feedback.Form) { f.Questions[1].Label = "  " }, "question_1"},
		{"a choice with one option", func(f *feedback.Form) {
			f.Questions = append(f.Questions, feedback.Question{Kind: feedback.Choice, Label: "Which?", Options: []string{"One", "One"}})
		}, "question_5"},
		{"a question of no kind", func(f *feedback.Form) { f.Questions[0].Kind = "" }, "question_0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			f.Questions = append([]feedback.Question(nil), base.Questions...)
			tc.change(&f)
			err := e.svc.Save(e.ctx, f)
			if tc.wantField == "" {
				require.NoError(t, err)
				return
			}
			var inv *feedback.InvalidError
			require.ErrorAs(t, err, &inv)
			require.Equal(t, tc.wantField, inv.Field)
		})
	}
	f, err := e.svc.Form(e.ctx, e.activity)
	require.NoError(t, err)
	last := f.Questions[len(f.Questions)-1]
	require.Equal(t, []string{"North", "South"}, last.Options, "empty and repeated options dropped")
	require.NotEmpty(t, last.ID, "a new question is given an id")

	// Once open, the questions are fixed; the threshold is not.
	require.NoError(t, e.svc.Open(e.ctx, f.ActivityID, nil))
	moved := f
	moved.Questions = append([]feedback.Question{f.Questions[1], f.Questions[0]}, f.Questions[2:]...)
	require.ErrorIs(t, e.svc.Save(e.ctx, moved), feedback.ErrOpened)
	f.Threshold = 8
	require.NoError(t, e.svc.Save(e.ctx, f))
}

// TestSendRefuses: what a learner's response may not be; nothing is stored then.
func TestSendRefuses(t *testing.T) {
	t.Parallel()
	e := setup(t, 2)
	f, err := e.svc.Form(e.ctx, e.activity)
	require.NoError(t, err)
	require.ErrorIs(t, e.svc.Send(e.ctx, f.ActivityID, e.learners[0], answers(4, "")), feedback.ErrNotOpen, "not open yet")
	e.open(t, 3)
	tests := []struct {
		name      string
		answers   feedback.Answers
		wantErr   error
		wantField string
		guard     bool
	}{
		{"a required rating missing", feedback.Answers{"relevance": {Rating: 4}, "teaching": {Rating: 5}}, nil, "overall", false},
		{"a rating off the scale", answers(6, ""), nil, "overall", false},
		{"an answer too long", answers(4, strings.Repeat("a", feedback.MaxText+1)), nil, "better", false},
		{"an NHS number in free text", answers(4, "The patient in bed 3, NHS "+nhsNumber+", was a good case."), nil, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := e.svc.Send(e.ctx, f.ActivityID, e.learners[0], tc.answers)
			switch {
			case tc.guard:
				var ge *feedback.GuardError
				require.ErrorAs(t, err, &ge)
				require.Contains(t, ge.Findings, "better")
				require.Equal(t, nhsNumber, ge.Findings["better"][0].Text)
			default:
				var inv *feedback.InvalidError
				require.ErrorAs(t, err, &inv)
				require.Equal(t, tc.wantField, inv.Field)
			}
			require.Zero(t, e.count(t, `SELECT count(*) FROM feedback_pending`))
			require.Zero(t, e.count(t, `SELECT count(*) FROM feedback_given`))
		})
	}
}

// TestOneResponsePerLearner: a second response is refused, before and after the release.
func TestOneResponsePerLearner(t *testing.T) {
	t.Parallel()
	e := setup(t, 3)
	f := e.open(t, 3)
	require.NoError(t, e.svc.Send(e.ctx, f.ActivityID, e.learners[0], answers(4, "More cases.")))
	require.ErrorIs(t, e.svc.Send(e.ctx, f.ActivityID, e.learners[0], answers(2, "")), feedback.ErrAlreadyGiven)
	sent, err := e.svc.Sent(e.ctx, f.ActivityID, e.learners[0])
	require.NoError(t, err)
	require.True(t, sent)
	require.NoError(t, e.svc.Send(e.ctx, f.ActivityID, e.learners[1], answers(5, "")))
	require.NoError(t, e.svc.Send(e.ctx, f.ActivityID, e.learners[2], answers(3, "")))
	require.Equal(t, 3, e.release(t))
	require.ErrorIs(t, e.svc.Send(e.ctx, f.ActivityID, e.learners[0], answers(2, "")), feedback.ErrAlreadyGiven)
	require.Equal(t, 3, e.count(t, `SELECT count(*) FROM feedback_responses`))
}

// TestReleaseRule: responses wait for a batch of the threshold, or for the close; the
// educator's count and "feedback given" both move only at a release, for everyone in
// it at once.
func TestReleaseRule(t *testing.T) {
	t.Parallel()
	e := setup(t, 8)
	f := e.open(t, 3)
	results := func() feedback.Results {
		r, err := e.svc.Results(e.ctx, f)
		require.NoError(t, err)
		return r
	}

	steps := []struct {
		name          string
		send          []int // learners who send before the release job runs
		wantReleased  int
		wantResponses int
	}{
		{"one waits", []int{0}, 0, 0},
		{"two wait, an hour later", []int{1}, 0, 0},
		{"a batch of three", []int{2}, 3, 3},
		{"two more wait", []int{3, 4}, 0, 3},
		{"a batch of four", []int{5, 6}, 4, 7},
	}
	for _, st := range steps {
		for _, i := range st.send {
			require.NoError(t, e.svc.Send(e.ctx, f.ActivityID, e.learners[i], answers(1+i%5, "")))
			require.False(t, e.given(t, e.learners[i]), "%s: given is not visible at submission", st.name)
		}
		require.Equal(t, st.wantResponses-st.wantReleased, results().Responses, "%s: the count does not move at submission", st.name)
		e.clock.Advance(time.Hour)
		require.Equal(t, st.wantReleased, e.release(t), st.name)
		require.Equal(t, st.wantResponses, results().Responses, st.name)
		for i := range e.learners {
			want := i < st.wantResponses
			require.Equal(t, want, e.given(t, e.learners[i]), "%s: learner %d", st.name, i)
		}
	}
	require.Len(t, e.released, 2)
	require.Equal(t, e.learners[:3], e.released[0], "everyone released, sorted")
	require.Equal(t, e.learners[:7], e.released[1], "everyone released so far, not only the batch")
	require.Equal(t, 7, e.count(t, `SELECT count(*) FROM feedback_given WHERE released`))

	// The close releases what waits, however few; nothing is taken after it. With
	// results already showing, a lone response would be read off by comparing them, so
	// its answers are withheld and its author still counts as having given feedback.
	before := results()
	require.True(t, before.Ready)
	require.NoError(t, e.svc.Send(e.ctx, f.ActivityID, e.learners[7], answers(5, "A lone late answer")))
	require.NoError(t, e.svc.Close(e.ctx, f.ActivityID))
	after := results()
	require.Equal(t, 7, after.Responses)
	require.Equal(t, 1, after.Withheld)
	for i, q := range before.Questions {
		require.Equal(t, q.Counts, after.Questions[i].Counts, "nothing in the results changes: %s", q.ID)
		require.Equal(t, q.Answered, after.Questions[i].Answered, q.ID)
		require.InDelta(t, q.SD, after.Questions[i].SD, 1e-9, q.ID)
	}
	require.Zero(t, e.count(t, `SELECT count(*) FROM feedback_responses WHERE answers::text LIKE '%lone late%'`))
	require.True(t, e.given(t, e.learners[7]))
	require.Zero(t, e.count(t, `SELECT count(*) FROM feedback_pending`))
	require.Zero(t, e.count(t, `SELECT count(*) FROM anonymous_queues`))
	f, err := e.svc.Form(e.ctx, e.activity)
	require.NoError(t, err)
	require.True(t, f.Closed(e.clock.Now()))
	require.ErrorIs(t, e.svc.Send(e.ctx, f.ActivityID, e.learners[0], answers(5, "")), feedback.ErrNotOpen)
}

// TestReleaseRewritesEverything: after a release, every response and every given
// record of the form carries the release's transaction id, whichever batch it came in,
// and the responses' ids are not the waiting rows'.
func TestReleaseRewritesEverything(t *testing.T) {
	t.Parallel()
	e := setup(t, 6)
	f := e.open(t, 3)
	var pendingIDs []int64
	for i := range 6 {
		require.NoError(t, e.svc.Send(e.ctx, f.ActivityID, e.learners[i], answers(1+i%5, "")))
		var id int64
		require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT id FROM feedback_pending ORDER BY ctid DESC LIMIT 1`).Scan(&id))
		pendingIDs = append(pendingIDs, id)
		if i == 2 {
			require.Equal(t, 3, e.release(t))
		}
	}
	require.Equal(t, 3, e.release(t))
	require.Equal(t, 1, e.count(t, `SELECT count(DISTINCT xmin::text) FROM (
SELECT xmin FROM feedback_responses UNION ALL SELECT xmin FROM feedback_given) x`))
	require.Zero(t, e.count(t, `SELECT count(*) FROM feedback_responses WHERE id = ANY ($1)`, pendingIDs))
}

// TestConcurrentSendsAndReleases: responses sent while releases run are either
// released with their given record or wait with it; never one without the other.
func TestConcurrentSendsAndReleases(t *testing.T) {
	t.Parallel()
	const n = 24
	e := setup(t, n)
	f := e.open(t, 3)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, e.svc.Send(e.ctx, f.ActivityID, e.learners[i], answers(1+i%5, "")))
		}()
		if i%4 == 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.svc.Release(e.ctx)
				require.NoError(t, err)
			}()
		}
	}
	wg.Wait()
	require.Equal(t, e.count(t, `SELECT count(*) FROM feedback_responses`),
		e.count(t, `SELECT count(*) FROM feedback_given WHERE released`))
	require.Equal(t, e.count(t, `SELECT count(*) FROM feedback_pending`),
		e.count(t, `SELECT count(*) FROM feedback_given WHERE NOT released`))
	require.NoError(t, e.svc.Close(e.ctx, f.ActivityID))
	// One or two left for the close are withheld from the results already shown.
	require.Equal(t, n, e.count(t, `SELECT (SELECT count(*) FROM feedback_responses) + withheld FROM feedback_forms`))
	require.Equal(t, n, e.count(t, `SELECT count(*) FROM feedback_given WHERE released`))
}

// TestResultsThreshold: results are shown only once the threshold is reached.
func TestResultsThreshold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		threshold int
		responses int
		wantReady bool
	}{
		{"default, four", 5, 4, false},
		{"default, five", 5, 5, true},
		{"three, three", 3, 3, true},
		{"eight, seven", 8, 7, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, tc.responses)
			f := e.open(t, tc.threshold)
			for i := range tc.responses {
				require.NoError(t, e.svc.Send(e.ctx, f.ActivityID, e.learners[i], answers(5, "")))
			}
			require.NoError(t, e.svc.Close(e.ctx, f.ActivityID))
			r, err := e.svc.Results(e.ctx, f)
			require.NoError(t, err)
			require.Equal(t, tc.responses, r.Responses)
			require.Equal(t, tc.wantReady, r.Ready)
			if !tc.wantReady {
				require.Empty(t, r.Questions)
			}
		})
	}
}

// TestAggregate: counts, shares, mean and spread per rating; choices; free text.
func TestAggregate(t *testing.T) {
	t.Parallel()
	qs := []feedback.Question{
		{ID: "r", Kind: feedback.Rating, Label: "Rate", Scale: feedback.DefaultScale},
		{ID: "c", Kind: feedback.Choice, Label: "Site", Options: []string{"North", "South"}},
		{ID: "t", Kind: feedback.Text, Label: "Say"},
	}
	rs := []feedback.Answers{
		{"r": {Rating: 5}, "c": {Choice: "North"}, "t": {Text: "one"}},
		{"r": {Rating: 4}, "c": {Choice: "North"}},
		{"r": {Rating: 5}, "t": {Text: "two"}},
		{"r": {Rating: 2}, "c": {Choice: "South"}},
		{},
	}
	got := feedback.Aggregate(qs, rs)
	require.Len(t, got, 3)
	r := got[0]
	require.Equal(t, 4, r.Answered)
	require.Equal(t, []int{0, 1, 0, 1, 2}, []int{r.Counts[0].Count, r.Counts[1].Count, r.Counts[2].Count, r.Counts[3].Count, r.Counts[4].Count})
	require.InDelta(t, 4.0, r.Mean, 1e-9)
	require.InDelta(t, 1.4142, r.SD, 1e-4) // sample SD of 5, 4, 5, 2
	require.InDelta(t, 50.0, r.Counts[4].Percent, 1e-9)
	c := got[1]
	require.Equal(t, 3, c.Answered)
	require.Equal(t, "North", c.Counts[0].Label)
	require.Equal(t, 2, c.Counts[0].Count)
	require.ElementsMatch(t, []string{"one", "two"}, got[2].Texts)
}

// TestFreeTextInRandomOrder: free text is not shown in the order it was written.
func TestFreeTextInRandomOrder(t *testing.T) {
	t.Parallel()
	qs := []feedback.Question{{ID: "t", Kind: feedback.Text, Label: "Say"}}
	var rs []feedback.Answers
	var written []string
	for i := range 8 {
		text := fmt.Sprintf("answer %d", i)
		written = append(written, text)
		rs = append(rs, feedback.Answers{"t": {Text: text}})
	}
	same := 0
	for range 20 {
		if fmt.Sprint(feedback.Aggregate(qs, rs)[0].Texts) == fmt.Sprint(written) {
			same++
		}
	}
	require.Less(t, same, 2, "eight answers in their written order by chance: 1 in 40320")
}

// TestCSV: the aggregates and the free text, with cells a spreadsheet would run made safe.
func TestCSV(t *testing.T) {
	t.Parallel()
	qs := []feedback.Question{
		{ID: "r", Kind: feedback.Rating, Label: "Rate", Scale: feedback.DefaultScale},
		{ID: "c", Kind: feedback.Choice, Label: "Site", Options: []string{"North", "South"}},
		{ID: "t", Kind: feedback.Text, Label: "Say, \"plainly\""},
	}
	rs := []feedback.Answers{
		{"r": {Rating: 5}, "c": {Choice: "North"}, "t": {Text: "=HYPERLINK(\"http://evil\")"}},
		{"r": {Rating: 3}, "c": {Choice: "North"}, "t": {Text: "Good, with commas,\nand a new line"}},
		{"r": {Rating: 4}, "c": {Choice: "South"}},
	}
	var buf bytes.Buffer
	require.NoError(t, feedback.WriteCSV(&buf, feedback.Results{Responses: 3, Threshold: 3, Ready: true,
		Questions: feedback.Aggregate(qs, rs)}))
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	want := [][]string{
		{"question", "kind", "answer", "count", "percent", "answered", "responses"},
		{"Rate", "rating", "1 Very poor", "0", "0.0", "3", "3"},
		{"Rate", "rating", "2 Poor", "0", "0.0", "3", "3"},
		{"Rate", "rating", "3 Fair", "1", "33.3", "3", "3"},
		{"Rate", "rating", "4 Good", "1", "33.3", "3", "3"},
		{"Rate", "rating", "5 Excellent", "1", "33.3", "3", "3"},
		{"Rate", "rating", "mean", "4.00", "", "3", "3"},
		{"Rate", "rating", "standard deviation", "1.00", "", "3", "3"},
		{"Site", "choice", "North", "2", "66.7", "3", "3"},
		{"Site", "choice", "South", "1", "33.3", "3", "3"},
	}
	require.Equal(t, want, rows[:len(want)])
	texts := rows[len(want):]
	require.Len(t, texts, 2)
	var got []string
	for _, r := range texts {
		require.Equal(t, []string{"Say, \"plainly\"", "text"}, r[:2])
		got = append(got, r[2])
	}
	require.ElementsMatch(t, []string{"'=HYPERLINK(\"http://evil\")", "Good, with commas,\nand a new line"}, got)

	buf.Reset()
	require.NoError(t, feedback.WriteCSV(&buf, feedback.Results{Responses: 2, Threshold: 5}))
	require.Equal(t, "question,kind,answer,count,percent,answered,responses\n", buf.String(), "no answers before the threshold")
}

// TestPersonalDataAndErasure: a person's copy says which forms they answered, never
// what; erasure removes those records and leaves the anonymous responses.
func TestPersonalDataAndErasure(t *testing.T) {
	t.Parallel()
	e := setup(t, 3)
	f := e.open(t, 3)
	for i, id := range e.learners {
		require.NoError(t, e.svc.Send(e.ctx, f.ActivityID, id, answers(1+i, "Learner-specific words.")))
	}
	d, err := e.svc.PersonalData(e.ctx, e.learners[0])
	require.NoError(t, err)
	require.Equal(t, []feedback.GaveFeedback{{ActivityID: f.ActivityID, Activity: "Sepsis teaching", Released: false}}, d.GaveFeedback)
	e.release(t)
	d, err = e.svc.PersonalData(e.ctx, e.learners[0])
	require.NoError(t, err)
	require.True(t, d.GaveFeedback[0].Released)
	require.NotContains(t, fmt.Sprint(d), "Learner-specific words.")

	var erased feedback.Erased
	require.NoError(t, pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
		erased, err = e.svc.ErasePerson(e.ctx, tx, e.learners[0])
		return err
	}))
	require.Equal(t, int64(1), erased.GivenRecords)
	require.False(t, e.given(t, e.learners[0]))
	require.True(t, e.given(t, e.learners[1]))
	require.Equal(t, 3, e.count(t, `SELECT count(*) FROM feedback_responses`), "the anonymous responses stay")
}
