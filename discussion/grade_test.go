package discussion_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/live"
)

type score struct {
	given, maximum float64
	progress       string
	comment        string
	at             time.Time
}

// score reads a learner's stored score; ok is false when there is none.
func (e *env) score(activityID, userID int64) (score, bool) {
	e.t.Helper()
	var s score
	err := e.pool.QueryRow(e.ctx, `
SELECT score_given, score_maximum, activity_progress, comment, scored_at FROM scores WHERE activity_id = $1 AND user_id = $2`,
		activityID, userID).Scan(&s.given, &s.maximum, &s.progress, &s.comment, &s.at)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, false
	}
	require.NoError(e.t, err)
	return s, true
}

// TestParticipationGrade: one thread and two replies earn full marks; each counts a
// third, and only while visible. On a named board each change is sent at once (a board
// anonymous to peers waits for its dates: gradedates_test.go).
func TestParticipationGrade(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Named, func(b *discussion.Board) { b.GradeThreads, b.GradeReplies = 1, 2 })
	require.True(t, b.Graded())
	require.Equal(t, 100.0, b.MaxScore)

	var th, r1, r2 discussion.Posted
	steps := []struct {
		name     string
		do       func()
		given    float64
		progress string
		comment  string
	}{
		{"a thread", func() { th = e.thread(b, e.learner1, discussionDraft("Question", "Body.")) },
			100.0 / 3, "InProgress", "1 of 1 threads, 0 of 2 replies"},
		{"a second thread counts for nothing more", func() { e.thread(b, e.learner1, discussionDraft("Another", "Body.")) },
			100.0 / 3, "InProgress", "1 of 1 threads, 0 of 2 replies"},
		{"one reply", func() { r1 = e.reply(b, e.learner1, th.ThreadID, 0, "Reply one.") },
			200.0 / 3, "InProgress", "1 of 1 threads, 1 of 2 replies"},
		{"two replies", func() { r2 = e.reply(b, e.learner1, th.ThreadID, r1.PostID, "Reply two.") },
			100, "Completed", "1 of 1 threads, 2 of 2 replies"},
		{"a hidden reply lowers it", func() {
			require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, r2.PostID, discussion.ActionHide, "Off topic"))
		}, 200.0 / 3, "InProgress", "1 of 1 threads, 1 of 2 replies"},
		{"restored", func() {
			require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, r2.PostID, discussion.ActionRestore, ""))
		}, 100, "Completed", "1 of 1 threads, 2 of 2 replies"},
		{"a deleted reply lowers it", func() { require.NoError(t, e.svc.Delete(e.ctx, b, e.learner1, r1.PostID)) },
			200.0 / 3, "InProgress", "1 of 1 threads, 1 of 2 replies"},
	}
	for _, s := range steps {
		e.clock.Advance(time.Minute)
		s.do()
		got, ok := e.score(b.ActivityID, learner1ID)
		require.True(t, ok, s.name)
		require.InDelta(t, s.given, got.given, 1e-9, s.name)
		require.Equal(t, 100.0, got.maximum)
		require.Equal(t, s.progress, got.progress, s.name)
		require.Equal(t, s.comment, got.comment, s.name)
		require.True(t, got.at.Equal(e.clock.Now()), s.name)
	}
	part, err := e.svc.ParticipationOf(e.ctx, b, learner1ID)
	require.NoError(t, err)
	require.Equal(t, discussion.Participation{Threads: 2, Replies: 1}, part)
	// Six changes to the score, one job waiting: the board's dispatcher, queued with the
	// first; each newer score waits for it.
	job := rivertest.RequireInserted(e.ctx, t, riverpgxv5.New(e.pool), gradesync.DispatchArgs{}, nil)
	require.Equal(t, b.ActivityID, job.Args.ActivityID)

	// Educators' posts earn nothing; only learners have scores.
	e.reply(b, e.educator, th.ThreadID, 0, "Educator reply.")
	_, ok := e.score(b.ActivityID, educatorID)
	require.False(t, ok)

	// An ungraded board records nothing.
	plain := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	e.thread(plain, e.learner1, discussionDraft("Question", "Body."))
	_, ok = e.score(plain.ActivityID, learner1ID)
	require.False(t, ok)
}

// TestParticipationGradeHeldPosts: on a pre-moderated board a post counts once approved.
func TestParticipationGradeHeldPosts(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindCaseBoard, discussion.Named, func(b *discussion.Board) {
		b.Premoderated, b.GradeThreads, b.GradeReplies = true, 2, 0
	})
	p := e.thread(b, e.learner1, caseDraft("Case"))
	require.True(t, p.Held)
	got, ok := e.score(b.ActivityID, learner1ID)
	require.True(t, ok)
	require.Zero(t, got.given)
	require.Equal(t, "InProgress", got.progress)

	e.clock.Advance(time.Minute)
	require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, p.PostID, discussion.ActionApprove, ""))
	got, _ = e.score(b.ActivityID, learner1ID)
	require.InDelta(t, 50, got.given, 1e-9)
}

// TestGradeInPostTransaction: the score is written in the post's transaction, so a
// post that fails later (here, the reply notice) leaves no score behind.
func TestGradeInPostTransaction(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Named, func(b *discussion.Board) { b.GradeReplies = 1 })
	th := e.thread(b, e.learner1, discussionDraft("Question", "Body."))

	e.notes.mu.Lock()
	e.notes.fail = errors.New("notices are down")
	e.notes.mu.Unlock()
	_, err := e.svc.Reply(e.ctx, b, e.learner2, th.ThreadID, 0, discussion.Draft{Body: "An answer."})
	require.ErrorContains(t, err, "notices are down")

	_, ok := e.score(b.ActivityID, learner2ID)
	require.False(t, ok, "the score outlived the failed post")
	require.Zero(t, e.count(`SELECT count(*) FROM posts WHERE author_id = $1`, learner2ID))
	// The only grade sync queued is the dispatcher the thread's author's score queued:
	// the reply's score went with its transaction.
	job := rivertest.RequireInserted(e.ctx, t, riverpgxv5.New(e.pool), gradesync.DispatchArgs{}, nil)
	require.Equal(t, b.ActivityID, job.Args.ActivityID)
	require.Equal(t, 1, e.count(`SELECT count(*) FROM scores WHERE activity_id = $1 AND state = 'pending'`, b.ActivityID))
	require.Zero(t, e.count(`SELECT count(*) FROM post_rate WHERE user_id = $1`, learner2ID))
	require.Zero(t, e.replies(b, th.ThreadID))
}

// TestNotifyReplies: the author of a thread hears of others' visible replies.
func TestNotifyReplies(t *testing.T) {
	t.Parallel()
	e := setup(t)
	premod := func(b *discussion.Board) { b.Premoderated = true }
	tests := []struct {
		name     string
		identity discussion.Identity
		change   func(*discussion.Board)
		replier  func(e *env) discussion.Viewer
		toReply  bool // reply to a reply rather than to the thread
		guard    bool
		want     []int64
	}{
		{"peer replies", discussion.Named, nil, func(e *env) discussion.Viewer { return e.learner2 }, false, false, []int64{learner1ID}},
		{"educator replies", discussion.Named, nil, func(e *env) discussion.Viewer { return e.educator }, false, false, []int64{learner1ID}},
		{"peer replies to a reply", discussion.Named, nil, func(e *env) discussion.Viewer { return e.learner2 }, true, false, []int64{learner1ID}},
		{"anonymous-to-peers thread", discussion.Peers, nil, func(e *env) discussion.Viewer { return e.learner2 }, false, false, []int64{learner1ID}},
		{"own reply", discussion.Named, nil, func(e *env) discussion.Viewer { return e.learner1 }, false, false, nil},
		{"held reply", discussion.Named, premod, func(e *env) discussion.Viewer { return e.learner2 }, false, false, nil},
		{"reply held by the guard", discussion.Named, nil, func(e *env) discussion.Viewer { return e.learner2 }, false, true, nil},
		{"fully anonymous thread", discussion.Anonymous, nil, func(e *env) discussion.Viewer { return e.learner2 }, false, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := e.board(discussion.KindDiscussionBoard, tc.identity, tc.change)
			th := e.thread(b, e.learner1, discussionDraft("Night *shift* tips", "Body."))
			if th.Held {
				require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, th.PostID, discussion.ActionApprove, ""))
			}
			parent := int64(0)
			if tc.toReply {
				parent = e.reply(b, e.educator, th.ThreadID, 0, "A reply to reply to.").PostID
			}
			e.notes.take()
			d := discussion.Draft{Body: "The replier's private words."}
			if tc.guard {
				d = discussion.Draft{Body: "Ref " + nhsNumber, GuardReason: "Not a patient"}
			}
			_, err := e.svc.Reply(e.ctx, b, tc.replier(e), th.ThreadID, parent, d)
			require.NoError(t, err)
			got := e.notes.take()
			var to []int64
			for _, n := range got {
				to = append(to, n.UserID)
				require.Equal(t, "New reply in Huddle", n.Subject)
				require.Equal(t, b.ActivityID, n.ActivityID, "the message names the board it is about")
				require.Contains(t, n.Text, `"Night shift tips"`)
				require.NotContains(t, n.Text, "private words")
				require.NotContains(t, n.Text, "Pat Peer")
				require.NotContains(t, n.Text, "Educator")
			}
			require.Equal(t, tc.want, to)
		})
	}
}

// TestAnnounce: visible posts are announced with ids only; held ones when approved.
func TestAnnounce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Peers, nil)
	pre := e.board(discussion.KindDiscussionBoard, discussion.Peers, func(b *discussion.Board) { b.Premoderated = true })
	event := func(b discussion.Board, p discussion.Posted) announcement {
		return announcement{Topic: "board:" + strconv.FormatInt(b.ActivityID, 10),
			Data: `{"thread":"` + strconv.FormatInt(p.ThreadID, 10) + `","post":"` + strconv.FormatInt(p.PostID, 10) + `"}`}
	}

	th := e.thread(b, e.learner1, discussionDraft("Question", "Body."))
	require.Equal(t, []announcement{event(b, th)}, e.announced.take())
	r := e.reply(b, e.learner2, th.ThreadID, 0, "Visible reply.")
	require.Equal(t, []announcement{event(b, r)}, e.announced.take())

	guarded, err := e.svc.Reply(e.ctx, b, e.learner2, th.ThreadID, 0, discussion.Draft{Body: "Ref " + nhsNumber, GuardReason: "Not a patient"})
	require.NoError(t, err)
	require.Empty(t, e.announced.take())
	require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, guarded.PostID, discussion.ActionApprove, ""))
	require.Equal(t, []announcement{event(b, guarded)}, e.announced.take())

	require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, r.PostID, discussion.ActionHide, "Rude"))
	require.Empty(t, e.announced.take())
	require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, r.PostID, discussion.ActionRestore, ""))
	require.Equal(t, []announcement{event(b, r)}, e.announced.take())

	pth := e.thread(pre, e.educator, discussionDraft("Host", "Body."))
	require.Equal(t, []announcement{event(pre, pth)}, e.announced.take())
	held := e.reply(pre, e.learner1, pth.ThreadID, 0, "Held reply.")
	require.True(t, held.Held)
	require.Empty(t, e.announced.take())
	require.NoError(t, e.svc.Moderate(e.ctx, pre, e.educator, held.PostID, discussion.ActionApprove, ""))
	got := e.announced.take()
	require.Equal(t, []announcement{event(pre, held)}, got)

	// Ids only: nothing names the author.
	var data map[string]any
	require.NoError(t, json.Unmarshal([]byte(got[0].Data), &data))
	require.Len(t, data, 2)
	require.NotContains(t, got[0].Data, strconv.Itoa(learner1ID))
}

// TestAnnounceThroughLive uses live.Publish as the Announcer: PostgreSQL delivers the
// announcement when the post commits, and never for a held or refused post.
func TestAnnounceThroughLive(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := discussion.NewService(e.pool, discussion.Options{Now: e.clock.Now,
		Announce: func(ctx context.Context, tx pgx.Tx, topic string, data []byte) error {
			return live.Publish(ctx, tx, topic, data)
		}})
	b := e.board(discussion.KindDiscussionBoard, discussion.Named, func(b *discussion.Board) { b.PostsPerHour = 1 })

	conn, err := e.pool.Acquire(e.ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(e.ctx, `LISTEN huddle_live`)
	require.NoError(t, err)

	held, err := svc.CreateThread(e.ctx, b, e.learner1, discussion.Draft{Title: "Held", Body: "Ref " + nhsNumber, GuardReason: "Not a patient"})
	require.NoError(t, err)
	require.True(t, held.Held)
	_, err = svc.CreateThread(e.ctx, b, e.learner1, discussionDraft("Refused", "Over the limit."))
	var rl *discussion.RateLimitedError
	require.ErrorAs(t, err, &rl)
	visible, err := svc.CreateThread(e.ctx, b, e.learner2, discussionDraft("Visible", "Body."))
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	n, err := conn.Conn().WaitForNotification(ctx)
	require.NoError(t, err)
	require.Equal(t, "huddle_live", n.Channel)
	topic, data, ok := strings.Cut(n.Payload, "\n")
	require.True(t, ok)
	require.Equal(t, discussion.Topic(b.ActivityID), topic)
	require.JSONEq(t, `{"thread":"`+strconv.FormatInt(visible.ThreadID, 10)+`","post":"`+strconv.FormatInt(visible.PostID, 10)+`"}`, data)

	ctx, cancel = context.WithTimeout(e.ctx, 300*time.Millisecond)
	defer cancel()
	_, err = conn.Conn().WaitForNotification(ctx)
	require.Error(t, err, "only one announcement was due")
}

func TestNoticeOnApprovalAndNeverForAnonymousReplies(t *testing.T) {
	t.Parallel()
	e := setup(t)

	// A held reply tells the thread's author when a moderator approves it.
	b := e.board(discussion.KindDiscussionBoard, discussion.Named, func(b *discussion.Board) { b.Premoderated = true })
	th := e.thread(b, e.learner1, discussionDraft("Handover tips", "Body."))
	require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, th.PostID, discussion.ActionApprove, ""))
	e.notes.take()
	r, err := e.svc.Reply(e.ctx, b, e.learner2, th.ThreadID, 0, discussion.Draft{Body: "Use a checklist."})
	require.NoError(t, err)
	require.True(t, r.Held)
	require.Empty(t, e.notes.take())
	require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, r.PostID, discussion.ActionApprove, ""))
	got := e.notes.take()
	require.Len(t, got, 1)
	require.EqualValues(t, learner1ID, got[0].UserID)

	// A fully anonymous reply to a named thread sends nothing: its notice's time
	// would be the reply's.
	choice := e.board(discussion.KindDiscussionBoard, discussion.Anonymous, func(b *discussion.Board) { b.LearnerChoice = true })
	named := e.thread(choice, e.learner1, discussion.Draft{Title: "Named question", Body: "Body.", Identity: discussion.Named})
	e.notes.take()
	_, err = e.svc.Reply(e.ctx, choice, e.learner2, named.ThreadID, 0, discussion.Draft{Body: "Honest answer.", Identity: discussion.Anonymous})
	require.NoError(t, err)
	require.Empty(t, e.notes.take())
	_, err = e.svc.Reply(e.ctx, choice, e.learner2, named.ThreadID, 0, discussion.Draft{Body: "Named answer.", Identity: discussion.Named})
	require.NoError(t, err)
	require.Len(t, e.notes.take(), 1)
}
