package discussion_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/discussion"
)

// personScenario is a graded board where learners choose their identity, and a fully
// anonymous board. Pat (learner2) starts a named thread that Lee (learner1) answers
// and then edits; Lee starts an anonymous-to-peers thread that Pat answers and the
// educator reveals; Lee writes a fully anonymous thread. Each marks the other's post
// helpful and reports it; the educator endorses Lee's answer.
type personScenario struct {
	board, anonBoard                discussion.Board
	patThread, leeAnswer, leeThread discussion.Posted
	patAnswer, leeAnonymous         discussion.Posted
}

func newPersonScenario(t *testing.T, e *env) personScenario {
	t.Helper()
	var s personScenario
	s.board = e.board(discussion.KindDiscussionBoard, discussion.Peers, func(b *discussion.Board) {
		b.LearnerChoice, b.GradeThreads, b.GradeReplies = true, 1, 1
		b.GradeDates = []time.Time{time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)}
	})
	s.anonBoard = e.board(discussion.KindDiscussionBoard, discussion.Anonymous, nil)

	s.patThread = e.thread(s.board, e.learner2, discussion.Draft{Title: "Pat asks about fluid balance",
		Body: "Pat's question: how do you chart fluid balance on a busy ward?", Identity: discussion.Named})
	e.clock.Advance(3 * time.Minute)
	var err error
	s.leeAnswer, err = e.svc.Reply(e.ctx, s.board, e.learner1, s.patThread.ThreadID, 0,
		discussion.Draft{Body: "Lee's first answer: hourly.", Identity: discussion.Named})
	require.NoError(t, err)
	require.NoError(t, e.svc.Edit(e.ctx, s.board, e.learner1, s.leeAnswer.PostID,
		discussion.Draft{Body: "Lee's answer: hourly, on the paper chart by the bed.", Identity: discussion.Named}))
	e.clock.Advance(5 * time.Minute)
	s.leeThread = e.thread(s.board, e.learner1, discussion.Draft{Title: "Lee's worry about handover",
		Body: "Lee wonders whether handovers miss the quiet patients.", Identity: discussion.Peers})
	s.patAnswer = e.reply(s.board, e.learner2, s.leeThread.ThreadID, 0, "Pat's reply: use a checklist.")
	s.leeAnonymous = e.thread(s.anonBoard, e.learner1, discussion.Draft{Title: "Lee's honest feedback",
		Body: "The rota is unsafe.", Identity: discussion.Anonymous})

	require.NoError(t, e.svc.MarkHelpful(e.ctx, s.board, e.learner1, s.patThread.PostID, true))
	require.NoError(t, e.svc.MarkHelpful(e.ctx, s.board, e.learner2, s.leeAnswer.PostID, true))
	require.NoError(t, e.svc.Report(e.ctx, s.board, e.learner1, s.patAnswer.PostID, "Lee's report: off topic"))
	require.NoError(t, e.svc.Report(e.ctx, s.board, e.learner2, s.leeAnswer.PostID, "Pat's report: wrong advice"))
	require.NoError(t, e.svc.Endorse(e.ctx, s.board, e.educator, s.leeAnswer.PostID, true))
	_, err = e.svc.Reveal(e.ctx, s.board, e.educator, s.leeThread.PostID, "Safeguarding concern")
	require.NoError(t, err)
	return s
}

func TestPersonalData(t *testing.T) {
	t.Parallel()
	e := setup(t)
	s := newPersonScenario(t, e)

	d, err := e.svc.PersonalData(e.ctx, learner1ID)
	require.NoError(t, err)
	require.Len(t, d.Posts, 2, "Lee's answer and thread; the fully anonymous thread cannot be found")
	answer, thread := d.Posts[0], d.Posts[1]
	require.Equal(t, s.leeAnswer.PostID, answer.ID)
	require.Equal(t, s.patThread.ThreadID, answer.ThreadID)
	require.Nil(t, answer.Thread, "the title of a thread Pat started is Pat's")
	require.Equal(t, "Lee's answer: hourly, on the paper chart by the bed.", answer.Body)
	require.Equal(t, []discussion.PersonalRevision{{Body: "Lee's first answer: hourly.", WrittenAt: start.Add(3 * time.Minute)}},
		utcRevisions(answer.Revisions))
	require.True(t, answer.Endorsed)
	require.Equal(t, 1, answer.Helpful)
	require.Equal(t, discussion.Named, answer.Identity)

	require.Equal(t, s.leeThread.PostID, thread.ID)
	require.Equal(t, discussion.Peers, thread.Identity)
	require.NotNil(t, thread.Thread)
	require.Equal(t, "Lee's worry about handover", thread.Thread.Title)
	require.Empty(t, thread.Revisions)

	require.Len(t, d.Reports, 1)
	require.Equal(t, "Lee's report: off topic", d.Reports[0].Reason)
	require.Equal(t, s.patAnswer.PostID, d.Reports[0].PostID)
	require.Len(t, d.HelpfulMarks, 1)
	require.Equal(t, s.patThread.PostID, d.HelpfulMarks[0].PostID)
	require.Empty(t, d.Endorsements)
	require.Empty(t, d.ModerationActions)
	require.Len(t, d.RevealsOfYourPosts, 1)
	require.Equal(t, "Safeguarding concern", d.RevealsOfYourPosts[0].Reason)
	// Fully anonymous posts are counted under an HMAC that names nobody (queue.go), so
	// only the named board's hour is hers.
	require.Len(t, d.PostingCounts, 1, "one hour on the named board")
	require.NotEmpty(t, d.Note)

	raw, err := json.Marshal(d)
	require.NoError(t, err)
	for _, other := range []string{"Pat", "Dr Eve Educator", "fluid balance", "The rota is unsafe", "Lee's honest feedback"} {
		require.NotContains(t, string(raw), other, "the export holds someone else's words or a fully anonymous post")
	}
	require.Contains(t, string(raw), `"id":"`, "post ids are strings: a JSON number would lose their last digits")

	edu, err := e.svc.PersonalData(e.ctx, educatorID)
	require.NoError(t, err)
	require.Len(t, edu.Endorsements, 1)
	require.Equal(t, s.leeAnswer.PostID, edu.Endorsements[0].PostID)
	actions := []string{}
	for _, a := range edu.ModerationActions {
		actions = append(actions, a.Action)
	}
	require.Equal(t, []string{"settings", "endorse", "reveal"}, actions)
}

func utcRevisions(rs []discussion.PersonalRevision) []discussion.PersonalRevision {
	for i := range rs {
		rs[i].WrittenAt = rs[i].WrittenAt.UTC()
	}
	return rs
}

// TestErasePerson: Lee's posts stay, for everyone else, as a former member's;
// nothing that links a post to Lee is left; every count a board shows is unchanged.
func TestErasePerson(t *testing.T) {
	t.Parallel()
	e := setup(t)
	s := newPersonScenario(t, e)
	leeIDs := []int64{s.leeAnswer.PostID, s.leeThread.PostID, s.leeThread.ThreadID}

	before := boardCounts(t, e, s)
	erase := func(userID int64) discussion.Erased {
		t.Helper()
		var got discussion.Erased
		require.NoError(t, pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
			var err error
			got, err = e.svc.ErasePerson(e.ctx, tx, userID)
			return err
		}))
		return got
	}
	require.Equal(t, discussion.Erased{Posts: 2, Reports: 1, HelpfulMarks: 1, PostingCounts: 1}, erase(learner1ID))

	res := walkLinks(t, e.pool, leeIDs, learner1ID)
	require.Empty(t, res.Linked, "a row still ties Lee's posts to Lee")
	require.Equal(t, before, boardCounts(t, e, s), "erasing a person changes no count a board shows")

	// Pat's thread reads whole, with Lee's answer by a former member.
	th, err := e.svc.Thread(e.ctx, s.board, e.learner2, s.patThread.ThreadID)
	require.NoError(t, err)
	answer := findPost(th, s.leeAnswer.PostID)
	require.NotNil(t, answer)
	require.Equal(t, "A former member", answer.Author.Shown())
	require.Contains(t, string(answer.HTML), "on the paper chart by the bed")
	require.True(t, answer.Endorsed)
	require.Equal(t, "Dr Eve Educator", answer.EndorsedBy)

	// Lee's anonymous-to-peers thread stays anonymous, and can no longer be revealed.
	th, err = e.svc.Thread(e.ctx, s.board, e.educator, s.leeThread.ThreadID)
	require.NoError(t, err)
	require.Equal(t, "Anonymous colleague", th.Opening.Author.Shown())
	require.Len(t, th.Posts, 1, "Pat's reply is still there")
	_, err = e.svc.Reveal(e.ctx, s.board, e.educator, s.leeThread.PostID, "again")
	require.ErrorIs(t, err, discussion.ErrNotFound)

	// Nobody can act as the author of Lee's posts any more.
	require.ErrorIs(t, e.svc.Delete(e.ctx, s.board, e.learner1, s.leeAnswer.PostID), discussion.ErrNotAuthor)

	again, err := e.svc.PersonalData(e.ctx, learner1ID)
	require.NoError(t, err)
	require.Empty(t, again.Posts)
	require.Empty(t, again.Reports)
	require.Empty(t, again.HelpfulMarks)
	require.Empty(t, again.PostingCounts)

	// The educator's erasure keeps the endorsement and the log, without the name.
	require.Equal(t, discussion.Erased{Endorsements: 1, ModerationEntries: 3}, erase(educatorID))
	th, err = e.svc.Thread(e.ctx, s.board, e.learner2, s.patThread.ThreadID)
	require.NoError(t, err)
	answer = findPost(th, s.leeAnswer.PostID)
	require.True(t, answer.Endorsed, "an endorsement outlives its educator's erasure")
	require.Empty(t, answer.EndorsedBy)
	log, err := e.svc.AuditLog(e.ctx, s.board, discussion.Viewer{UserID: learner2ID, Moderator: true})
	require.NoError(t, err)
	require.Len(t, log, 3)
	for _, entry := range log {
		require.Empty(t, entry.Moderator)
		require.NotEmpty(t, entry.Action)
	}
	require.Equal(t, before, boardCounts(t, e, s))
}

// counts is what the boards show in numbers: posts per board, replies and helpful
// marks per thread, Pat's participation.
type counts struct {
	PostsPerBoard    map[int64]int
	Replies, Helpful map[int64]int
	Endorsed         map[int64]bool
	Pat              discussion.Participation
	OpenReports      int
}

func boardCounts(t *testing.T, e *env, s personScenario) counts {
	t.Helper()
	c := counts{PostsPerBoard: map[int64]int{}, Replies: map[int64]int{}, Helpful: map[int64]int{}, Endorsed: map[int64]bool{}}
	for _, b := range []discussion.Board{s.board, s.anonBoard} {
		c.PostsPerBoard[b.ActivityID] = e.count(`SELECT count(*) FROM posts WHERE board_id = $1`, b.ActivityID)
		list, err := e.svc.Threads(e.ctx, b, discussion.Viewer{UserID: learner2ID}, discussion.ListQuery{})
		require.NoError(t, err)
		for _, th := range list {
			c.Replies[th.ID], c.Helpful[th.ID], c.Endorsed[th.ID] = th.Replies, th.Helpful, th.Endorsed
		}
	}
	var err error
	c.Pat, err = e.svc.ParticipationOf(e.ctx, s.board, learner2ID)
	require.NoError(t, err)
	c.OpenReports = e.count(`SELECT count(*) FROM post_reports WHERE resolved_at IS NULL`)
	return c
}
