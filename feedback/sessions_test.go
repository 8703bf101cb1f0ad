package feedback_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/feedback"
)

// sessions adds a teaching programme to the course with n sessions linked to the form,
// written straight into programme's tables (programme owns them; this test only needs
// rows to point at).
func (e *env) sessions(t *testing.T, n int) []int64 {
	t.Helper()
	var prog int64
	require.NoError(t, e.pool.QueryRow(e.ctx, `
INSERT INTO activities (course_id, resource_link_id, title, kind) VALUES ($1, 'rl-prog', 'Foundation teaching', 'teaching_programme')
RETURNING id`, e.activity.CourseID).Scan(&prog))
	var ids []int64
	for i := range n {
		var id int64
		at := start.Add(time.Duration(i) * 7 * 24 * time.Hour)
		require.NoError(t, e.pool.QueryRow(e.ctx, `
INSERT INTO programme_sessions (activity_id, uid, title, starts_at, ends_at, feedback_activity_id, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $4, $4) RETURNING id`, prog, fmt.Sprintf("uid-%d", i), fmt.Sprintf("Week %d", i+1),
			at, at.Add(time.Hour), e.activity.ID).Scan(&id))
		ids = append(ids, id)
	}
	return ids
}

func (e *env) results(t *testing.T, f feedback.Form, session int64) feedback.Results {
	t.Helper()
	var r feedback.Results
	var err error
	if session == 0 {
		r, err = e.svc.Results(e.ctx, f)
	} else {
		r, err = e.svc.SessionResults(e.ctx, f, session)
	}
	require.NoError(t, err)
	return r
}

// TestSessionQueues: one form reused for several sessions. Each session's responses
// wait in their own queue for a batch of the threshold and are then released tagged
// with the session; a learner answers once per session; "given" is per session and
// moves only at its release; the close releases the small remainder untagged, into the
// term's results only.
func TestSessionQueues(t *testing.T) {
	t.Parallel()
	e := setup(t, 8)
	f := e.open(t, 3)
	ses := e.sessions(t, 2)
	a, b := ses[0], ses[1]

	for _, i := range []int{0, 1} {
		require.NoError(t, e.svc.SendFor(e.ctx, f.ActivityID, a, e.learners[i], answers(4, "")))
	}
	require.ErrorIs(t, e.svc.SendFor(e.ctx, f.ActivityID, a, e.learners[0], answers(4, "")), feedback.ErrAlreadyGiven)
	require.NoError(t, e.svc.SendFor(e.ctx, f.ActivityID, b, e.learners[0], answers(1, "")), "another session is another answer")
	require.NoError(t, e.svc.SendFor(e.ctx, f.ActivityID, b, e.learners[3], answers(1, "")))
	sent, err := e.svc.SentFor(e.ctx, f.ActivityID, b, e.learners[3])
	require.NoError(t, err)
	require.True(t, sent)
	sent, err = e.svc.SentFor(e.ctx, f.ActivityID, a, e.learners[3])
	require.NoError(t, err)
	require.False(t, sent)

	require.Zero(t, e.release(t), "two and two: neither session has its batch")
	require.Zero(t, e.results(t, f, 0).Responses)
	givenA, err := e.svc.GivenSessions(e.ctx, e.learners[0], ses)
	require.NoError(t, err)
	require.Empty(t, givenA, "nothing counts as given before its release")

	require.NoError(t, e.svc.SendFor(e.ctx, f.ActivityID, a, e.learners[4], answers(4, "")))
	require.Equal(t, 3, e.release(t), "session A's batch")
	ra := e.results(t, f, a)
	require.True(t, ra.Ready)
	require.Equal(t, 3, ra.Responses)
	require.Equal(t, 3, ra.Questions[0].Counts[3].Count, "A's three 4s, nothing else")
	rb := e.results(t, f, b)
	require.False(t, rb.Ready)
	require.Zero(t, rb.Responses, "B's two wait and are not counted")
	require.Empty(t, rb.Questions)
	require.Equal(t, 3, e.results(t, f, 0).Responses)
	counts, err := e.svc.SessionCounts(e.ctx, f.ActivityID)
	require.NoError(t, err)
	require.Equal(t, map[int64]int{a: 3}, counts)

	g, err := e.svc.GivenSessions(e.ctx, e.learners[0], ses)
	require.NoError(t, err)
	require.Equal(t, map[int64]bool{a: true}, g, "A released, B still waits")
	g, err = e.svc.GivenSessions(e.ctx, e.learners[3], ses)
	require.NoError(t, err)
	require.Empty(t, g)

	// The close: B's two are fewer than the threshold, so they go into the term's
	// results untagged (three with one sent to the form itself), never into B's.
	require.NoError(t, e.svc.Send(e.ctx, f.ActivityID, e.learners[5], answers(2, "")))
	require.NoError(t, e.svc.Close(e.ctx, f.ActivityID))
	require.Equal(t, 6, e.results(t, f, 0).Responses)
	require.Zero(t, e.results(t, f, b).Responses)
	require.Equal(t, 3, e.results(t, f, a).Responses)
	g, err = e.svc.GivenSessions(e.ctx, e.learners[3], ses)
	require.NoError(t, err)
	require.Equal(t, map[int64]bool{b: true}, g, "released at the close")
	require.Zero(t, e.count(t, `SELECT count(*) FROM feedback_pending`))
	require.Zero(t, e.count(t, `SELECT count(*) FROM anonymous_queues`))
	require.Equal(t, 3, e.count(t, `SELECT count(*) FROM feedback_responses WHERE session_id = $1`, a))
	require.Zero(t, e.count(t, `SELECT count(*) FROM feedback_responses WHERE session_id = $1`, b),
		"a session below the threshold is never stored tagged")
}

// observation is what an educator can read at one moment: the term's results and each
// session's, as counts per point of the "overall" rating (nil when not shown), and the
// released "given" records per session (which, with attendance, tell them who).
type observation struct {
	term     []int
	sessions map[int64][]int
	given    map[int64]int
}

func (e *env) observe(t *testing.T, f feedback.Form, ses []int64) observation {
	t.Helper()
	points := func(r feedback.Results) []int {
		if !r.Ready {
			return nil
		}
		var out []int
		for _, c := range r.Questions[0].Counts {
			out = append(out, c.Count)
		}
		return out
	}
	o := observation{term: points(e.results(t, f, 0)), sessions: map[int64][]int{}, given: map[int64]int{}}
	for _, s := range ses {
		o.sessions[s] = points(e.results(t, f, s))
		o.given[s] = e.count(t, `SELECT count(*) FROM feedback_given WHERE session_id = $1 AND released`, s)
	}
	return o
}

func diff(after, before []int) (int, []int) {
	if after == nil {
		return 0, nil
	}
	d := make([]int, len(after))
	n := 0
	for i := range after {
		d[i] = after[i]
		if before != nil {
			d[i] -= before[i]
		}
		n += d[i]
	}
	return n, d
}

// TestSessionResultsCannotBeSubtracted tries to find one learner's answer by comparing
// what an educator sees before and after each release.
//
// The attacker is an educator (or anyone they show the pages to). They see the term's
// results and each session's, whenever they like; they know who attended each session
// and, from certificate progress, whose feedback counts as given for it. Their moves:
//   - compare a session's results before and after a release: the difference is that
//     release's answers for the session, and the given records that turned released
//     are its authors; fewer than the threshold of them and the answers are theirs;
//   - subtract every session's results from the term's: what remains is the answers
//     sent to no session or released untagged; when a remainder moves by one or two,
//     and they know the one or two whose given record turned released at the close,
//     those answers are theirs;
//   - close the form early to flush a small session out.
//
// The learner at risk (the target) is the only one at session "small", and answers
// "Very poor" where everyone else answers "Excellent". After every step, every
// difference the attacker can form is either nothing or at least the threshold, for a
// session and for the term less its sessions, and the target's "Very poor" never
// shows anywhere.
//
// What this does not stop: an attacker who sends threshold-1 responses of their own to
// the target's session (n-1 attack) learns the target's answer from the batch; every
// threshold scheme has that hole, and only learners of the course can send.
func TestSessionResultsCannotBeSubtracted(t *testing.T) {
	t.Parallel()
	e := setup(t, 12)
	f := e.open(t, 5)
	// open released nothing yet: three responses to the form itself wait.
	ses := e.sessions(t, 3)
	big, other, small := ses[0], ses[1], ses[2]
	target := e.learners[11]

	before := e.observe(t, f, ses)
	check := func(step string) {
		t.Helper()
		after := e.observe(t, f, ses)
		termN, termD := diff(after.term, before.term)
		rest := termN
		for _, s := range ses {
			n, d := diff(after.sessions[s], before.sessions[s])
			require.True(t, n == 0 || n >= f.Threshold, "%s: session %d moved by %d", step, s, n)
			rest -= n
			if d != nil {
				require.Zero(t, d[0], "%s: a Very poor shows in a session", step)
			}
		}
		require.True(t, rest == 0 || rest >= f.Threshold, "%s: the term less its sessions moved by %d", step, rest)
		if after.term != nil {
			require.Zero(t, after.term[0], "%s: the target's Very poor shows in the term", step)
		}
		if termD != nil && before.term == nil {
			require.GreaterOrEqual(t, termN, f.Threshold, "%s: the term's results first show a full batch", step)
		}
		before = after
	}

	require.NoError(t, e.svc.SendFor(e.ctx, f.ActivityID, small, target, answers(1, "")))
	e.release(t)
	check("the target answers")
	for i := range 4 {
		require.NoError(t, e.svc.SendFor(e.ctx, f.ActivityID, big, e.learners[i], answers(5, "")))
		e.release(t)
		check(fmt.Sprintf("big, response %d", i+1))
	}
	for i := range 2 {
		require.NoError(t, e.svc.SendFor(e.ctx, f.ActivityID, other, e.learners[4+i], answers(5, "")))
		e.release(t)
		check(fmt.Sprintf("other, response %d", i+1))
	}
	require.NoError(t, e.svc.SendFor(e.ctx, f.ActivityID, big, e.learners[4], answers(5, "")))
	e.release(t)
	check("big's batch of five")
	require.Equal(t, 5, e.results(t, f, big).Responses)
	require.Zero(t, e.results(t, f, small).Responses)

	// The threshold lowered to the least allowed does not let "small" out alone: a
	// session's batch still needs three.
	f.Threshold = feedback.MinThreshold
	require.NoError(t, e.svc.Save(e.ctx, f))
	e.release(t)
	check("threshold lowered")
	require.Zero(t, e.results(t, f, small).Responses)
	f.Threshold = 5
	require.NoError(t, e.svc.Save(e.ctx, f))

	// Closing early would flush "small" and "other" (three, untagged) into the term's
	// results, which already show: the term would move by three, fewer than the
	// threshold, with the target one of the three whose given records turned released.
	// So they are withheld.
	require.NoError(t, e.svc.Close(e.ctx, f.ActivityID))
	check("closed early")
	after := e.observe(t, f, ses)
	require.Nil(t, after.sessions[small], "small never shows on its own")
	require.Nil(t, after.sessions[other])
	require.Equal(t, 1, after.given[small], "the target's feedback counts as given")
	require.Equal(t, 3, e.results(t, f, 0).Withheld)
	require.Zero(t, e.count(t, `SELECT count(*) FROM feedback_responses WHERE (answers->'overall'->>'r')::int = 1`),
		"the target's answer is nowhere in the dump either")
}

// TestSessionRemainderBeforeResultsShow: at a close before the term's results show,
// the remainder is released untagged (nobody saw a "before" to subtract from), and the
// term shows it only if it reaches the threshold.
func TestSessionRemainderBeforeResultsShow(t *testing.T) {
	t.Parallel()
	e := setup(t, 6)
	f := e.open(t, 5)
	ses := e.sessions(t, 2)
	for i := range 4 {
		require.NoError(t, e.svc.SendFor(e.ctx, f.ActivityID, ses[i%2], e.learners[i], answers(5, "")))
	}
	require.Zero(t, e.release(t))
	require.NoError(t, e.svc.Close(e.ctx, f.ActivityID))
	r := e.results(t, f, 0)
	require.Equal(t, 4, r.Responses)
	require.False(t, r.Ready, "four of five: no results")
	require.Zero(t, r.Withheld)
	for _, s := range ses {
		require.Zero(t, e.results(t, f, s).Responses)
	}
}
