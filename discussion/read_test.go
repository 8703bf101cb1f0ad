package discussion_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/discussion"
)

// TestQAMode: in question-and-answer mode a learner sees peers' answers only after
// posting their own; the asker and moderators see them at once.
func TestQAMode(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Named, func(b *discussion.Board) { b.QAMode = true })
	require.True(t, b.QAMode)
	q := e.thread(b, e.educator, discussionDraft("What is the first-line treatment?", "Answer before you look."))
	e.clock.Advance(time.Minute)
	a1 := e.reply(b, e.learner1, q.ThreadID, 0, "Learner one's answer.")

	type view struct {
		posts, gated int
		postFor      bool
	}
	look := func(v discussion.Viewer, threadID, postID int64) view {
		t.Helper()
		page, err := e.svc.Thread(e.ctx, b, v, threadID)
		require.NoError(t, err)
		require.NotNil(t, page.Opening, "the question is never gated")
		_, err = e.svc.PostFor(e.ctx, b, v, threadID, postID)
		if err != nil {
			require.ErrorIs(t, err, discussion.ErrNotFound)
		}
		return view{posts: len(page.Posts), gated: page.Gated, postFor: err == nil}
	}

	require.Equal(t, view{posts: 0, gated: 1, postFor: false}, look(e.learner2, q.ThreadID, a1.PostID), "before answering")
	require.Equal(t, view{posts: 1, gated: 0, postFor: true}, look(e.learner1, q.ThreadID, a1.PostID), "own answer")
	require.Equal(t, view{posts: 1, gated: 0, postFor: true}, look(e.educator, q.ThreadID, a1.PostID), "moderator")

	e.clock.Advance(time.Minute)
	a2 := e.reply(b, e.learner2, q.ThreadID, 0, "Learner two's answer.")
	require.Equal(t, view{posts: 2, gated: 0, postFor: true}, look(e.learner2, q.ThreadID, a1.PostID), "after answering")

	// Withdrawing the answer closes the gate again.
	require.NoError(t, e.svc.Delete(e.ctx, b, e.learner2, a2.PostID))
	got := look(e.learner2, q.ThreadID, a1.PostID)
	require.Zero(t, got.posts)
	require.False(t, got.postFor)
	require.Positive(t, got.gated)

	// A learner's own question shows them the answers.
	own := e.thread(b, e.learner1, discussionDraft("My own question", "Help?"))
	e.clock.Advance(time.Minute)
	ans := e.reply(b, e.learner2, own.ThreadID, 0, "Here is help.")
	require.Equal(t, view{posts: 1, gated: 0, postFor: true}, look(e.learner1, own.ThreadID, ans.PostID), "asker")
	require.Equal(t, view{posts: 1, gated: 0, postFor: true}, look(e.learner2, own.ThreadID, ans.PostID), "answerer")

	// Without Q&A mode nothing is gated.
	open := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	oq := e.thread(open, e.educator, discussionDraft("Open question", "Discuss."))
	oa := e.reply(open, e.learner1, oq.ThreadID, 0, "An answer.")
	page, err := e.svc.Thread(e.ctx, open, e.learner2, oq.ThreadID)
	require.NoError(t, err)
	require.Len(t, page.Posts, 1)
	require.Zero(t, page.Gated)
	_, err = e.svc.PostFor(e.ctx, open, e.learner2, oq.ThreadID, oa.PostID)
	require.NoError(t, err)
}

// TestFilters lists cases by specialty, grade and tag.
func TestFilters(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindCaseBoard, discussion.Named, nil)
	mk := func(title, specialty string, grades, tags []string) int64 {
		d := caseDraft(title)
		d.Specialty, d.Grades, d.Tags = specialty, grades, tags
		id := e.thread(b, e.learner1, d).ThreadID
		e.clock.Advance(time.Minute)
		return id
	}
	a := mk("Chest pain", "Cardiology", []string{"F1", "CT"}, []string{"ECG", "chest pain"})
	r := mk("Wheeze", "Respiratory", []string{"ST", "nurse"}, []string{"asthma"})
	c := mk("Palpitations", "cardiology", []string{"student"}, []string{"ecg"})

	tests := []struct {
		name string
		q    discussion.ListQuery
		want []int64
	}{
		{"all, newest first", discussion.ListQuery{}, []int64{c, r, a}},
		{"specialty ignores case", discussion.ListQuery{Specialty: "CARDIOLOGY"}, []int64{c, a}},
		{"grade F1", discussion.ListQuery{Grade: "F1"}, []int64{a}},
		{"grade nurse", discussion.ListQuery{Grade: "nurse"}, []int64{r}},
		{"tag ignores case", discussion.ListQuery{Tag: "ECG"}, []int64{c, a}},
		{"tag asthma", discussion.ListQuery{Tag: "asthma"}, []int64{r}},
		{"tag with a space", discussion.ListQuery{Tag: "chest pain"}, []int64{a}},
		{"all three", discussion.ListQuery{Specialty: "Cardiology", Grade: "student", Tag: "ecg"}, []int64{c}},
		{"no match", discussion.ListQuery{Specialty: "Cardiology", Grade: "nurse"}, []int64{}},
		{"limit", discussion.ListQuery{Limit: 2}, []int64{c, r}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			list, err := e.svc.Threads(e.ctx, b, e.learner2, tc.q)
			require.NoError(t, err)
			require.Equal(t, tc.want, threadIDs(list))
		})
	}
}

// TestSearch finds words in titles, opening posts and replies; in Q&A mode a learner
// searches opening posts only, so search does not open the gate.
func TestSearch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	open := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	qa := e.board(discussion.KindDiscussionBoard, discussion.Named, func(b *discussion.Board) { b.QAMode = true })

	threads := map[string]int64{}
	for name, b := range map[string]discussion.Board{"open": open, "qa": qa} {
		th := e.thread(b, e.educator, discussionDraft("Syncope on the ward", "The patient fainted while standing."))
		e.thread(b, e.educator, discussionDraft("Unrelated", "Rota swaps."))
		e.reply(b, e.learner1, th.ThreadID, 0, "I would look for bradycardia on the monitor.")
		_, err := e.svc.Reply(e.ctx, b, e.learner1, th.ThreadID, 0, discussion.Draft{Body: "Or tachycardia, ref " + nhsNumber,
			GuardReason: "Not a patient"})
		require.NoError(t, err)
		threads[name] = th.ThreadID
	}

	tests := []struct {
		board, search string
		viewer        discussion.Viewer
		found         bool
	}{
		{"open", "bradycardia", e.learner2, true},
		{"open", "syncope", e.learner2, true},
		{"open", "fainted", e.learner2, true},
		{"open", "tachycardia", e.learner2, false}, // a held reply is not searched
		{"open", "tachycardia", e.educator, false},
		{"open", "pneumothorax", e.learner2, false},
		{"qa", "bradycardia", e.learner2, false},
		{"qa", "bradycardia", e.learner1, false},
		{"qa", "bradycardia", e.educator, true},
		{"qa", "fainted", e.learner2, true},
		{"qa", "syncope", e.learner2, true},
	}
	for _, tc := range tests {
		t.Run(tc.board+"/"+tc.search+"/"+map[bool]string{true: "moderator", false: "learner"}[tc.viewer.Moderator], func(t *testing.T) {
			t.Parallel()
			b := open
			if tc.board == "qa" {
				b = qa
			}
			list, err := e.svc.Threads(e.ctx, b, tc.viewer, discussion.ListQuery{Search: tc.search})
			require.NoError(t, err)
			if tc.found {
				require.Equal(t, []int64{threads[tc.board]}, threadIDs(list))
			} else {
				require.Empty(t, list)
			}
		})
	}
}

// TestQuote starts a reply with a visible post's text, only where the viewer may read it.
func TestQuote(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	th := e.thread(b, e.learner1, discussionDraft("Question", "Body."))
	r := e.reply(b, e.learner2, th.ThreadID, 0, "Line one\nLine two  ")
	held, err := e.svc.Reply(e.ctx, b, e.learner2, th.ThreadID, 0, discussion.Draft{Body: "Ref " + nhsNumber, GuardReason: "Not a patient"})
	require.NoError(t, err)

	q, err := e.svc.Quote(e.ctx, b, e.learner1, th.ThreadID, r.PostID)
	require.NoError(t, err)
	require.Equal(t, "> Line one\n> Line two\n\n", q)
	for _, v := range []discussion.Viewer{e.learner1, e.learner2} {
		_, err = e.svc.Quote(e.ctx, b, v, th.ThreadID, held.PostID)
		require.ErrorIs(t, err, discussion.ErrNotFound)
	}

	// Q&A mode: no quoting an answer the viewer may not read yet.
	qa := e.board(discussion.KindDiscussionBoard, discussion.Named, func(b *discussion.Board) { b.QAMode = true })
	qt := e.thread(qa, e.educator, discussionDraft("Quiz", "Answer first."))
	qa1 := e.reply(qa, e.learner1, qt.ThreadID, 0, "My answer.")
	_, err = e.svc.Quote(e.ctx, qa, e.learner2, qt.ThreadID, qa1.PostID)
	require.ErrorIs(t, err, discussion.ErrNotFound)
	_, err = e.svc.Quote(e.ctx, qa, e.learner2, qt.ThreadID, qt.PostID)
	require.NoError(t, err, "the question itself may be quoted")

	// A thread whose opening post is hidden is not there for other learners: neither
	// its page nor any of its replies.
	// BUG (fails today): Quote checks the post but not the thread, so it hands out the
	// replies of a thread the viewer cannot open.
	gone := e.thread(b, e.learner1, discussionDraft("To be hidden", "Body."))
	answer := e.reply(b, e.educator, gone.ThreadID, 0, "An educator's reply.")
	require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, gone.PostID, discussion.ActionHide, "Patient details"))
	_, err = e.svc.Thread(e.ctx, b, e.learner2, gone.ThreadID)
	require.ErrorIs(t, err, discussion.ErrNotFound)
	_, err = e.svc.PostFor(e.ctx, b, e.learner2, gone.ThreadID, answer.PostID)
	require.ErrorIs(t, err, discussion.ErrNotFound)
	_, err = e.svc.Quote(e.ctx, b, e.learner2, gone.ThreadID, answer.PostID)
	require.ErrorIs(t, err, discussion.ErrNotFound)
}
