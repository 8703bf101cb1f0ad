package discussion_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/discussion"
)

// TestFullyAnonymousPostsWaitForABatch: a fully anonymous post is queued, not written,
// and announced to nobody; the release writes a board's waiting posts together, in one
// transaction, dated to the day, then announces them and forgets what waited.
func TestFullyAnonymousPostsWaitForABatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Anonymous, nil)
	host := e.thread(b, e.educator, discussionDraft("Host", "Reply here."))
	e.announced.take()

	p, err := e.svc.CreateThread(e.ctx, b, e.learner1, discussionDraft("Asked without my name", "Is it just me?"))
	require.NoError(t, err)
	require.Equal(t, discussion.Posted{Queued: true}, p, "nothing about the post is told")
	require.Equal(t, 1, e.count(`SELECT count(*) FROM threads WHERE board_id = $1`, b.ActivityID), "the host only")
	require.Equal(t, 1, e.count(`SELECT count(*) FROM posts WHERE board_id = $1`, b.ActivityID))
	require.Empty(t, e.announced.take())

	n, err := e.svc.ReleaseAnonymous(e.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "one post waits for others")

	for _, v := range []discussion.Viewer{e.learner2, e.learner1} {
		p, err := e.svc.Reply(e.ctx, b, v, host.ThreadID, 0, discussion.Draft{Body: "A reply of " + string(rune('A'+v.UserID%26))})
		require.NoError(t, err)
		require.Equal(t, discussion.Posted{ThreadID: host.ThreadID, Queued: true}, p)
	}
	require.Empty(t, e.announced.take())
	require.Equal(t, 3, e.count(`SELECT count(*) FROM anonymous_pending`))

	n, err = e.svc.ReleaseAnonymous(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Len(t, e.announced.take(), 3, "announced at the release")
	require.Zero(t, e.count(`SELECT count(*) FROM anonymous_pending`))
	require.Zero(t, e.count(`SELECT count(*) FROM anonymous_queues`))
	require.Equal(t, 2, e.count(`SELECT count(*) FROM threads WHERE board_id = $1`, b.ActivityID))
	require.Equal(t, 1, e.count(`SELECT count(DISTINCT xmin::text) FROM posts WHERE identity = 'anonymous'`),
		"one transaction wrote them all")
	require.Equal(t, 0, e.count(`SELECT count(*) FROM posts WHERE identity = 'anonymous'
AND created_at <> date_trunc('day', $1::timestamptz, 'UTC')`, start))
	// The release's transaction is the last to have written any posting count.
	require.Zero(t, e.count(`SELECT count(*) FROM anonymous_counts c
WHERE c.xmin::text <> (SELECT min(xmin::text) FROM posts WHERE identity = 'anonymous')`))

	n, err = e.svc.ReleaseAnonymous(e.ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

// TestFullyAnonymousPostWaitsNoLongerThanTheBoardAllows: a post that no other joins is
// released alone once it has waited the board's longest wait (the job runs each
// minute, so a queue is due a minute early), and the educator sets that wait.
func TestFullyAnonymousPostWaitsNoLongerThanTheBoardAllows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		delay time.Duration // 0: the board's default
		want  time.Duration
	}{
		{"default", 0, time.Hour},
		{"ten minutes", 10 * time.Minute, 10 * time.Minute},
		{"a day", 24 * time.Hour, 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			b := e.board(discussion.KindDiscussionBoard, discussion.Anonymous, func(b *discussion.Board) {
				b.AnonymousDelay = tc.delay
			})
			require.Equal(t, tc.want, b.AnonymousDelay)
			_, err := e.svc.CreateThread(e.ctx, b, e.learner1, discussionDraft("Alone", "Nobody else is posting."))
			require.NoError(t, err)
			// start is 10:17:23; the wait counts from 10:17:00.
			e.clock.Advance(tc.want - 2*time.Minute)
			n, err := e.svc.ReleaseAnonymous(e.ctx)
			require.NoError(t, err)
			require.Zero(t, n)
			e.clock.Advance(time.Minute)
			n, err = e.svc.ReleaseAnonymous(e.ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n, "released within the wait")
		})
	}

	e := setup(t)
	for _, minutes := range []int{-1, 9, 1441} {
		b := e.board(discussion.KindDiscussionBoard, discussion.Anonymous, nil)
		b.AnonymousDelay = time.Duration(minutes) * time.Minute
		var inv *discussion.InvalidError
		require.ErrorAs(t, e.svc.SaveSettings(e.ctx, educatorID, b), &inv)
		require.Equal(t, "anonymous_delay", inv.Field)
	}
}

// TestReleaseChecksTheTargetAgain: a reply waits; if its thread is locked or hidden
// meanwhile it is dropped, and a post waiting on a pre-moderated board, or that the
// guard held, is released held and not announced.
func TestReleaseChecksTheTargetAgain(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Anonymous, nil)
	locked := e.thread(b, e.educator, discussionDraft("Soon locked", "Reply while you can."))
	_, err := e.svc.Reply(e.ctx, b, e.learner1, locked.ThreadID, 0, discussion.Draft{Body: "Too late."})
	require.NoError(t, err)
	require.NoError(t, e.svc.SetThreadFlag(e.ctx, b, e.educator, locked.ThreadID, "lock", true))
	posts, err := e.svc.ReleaseNow(e.ctx, b.ActivityID)
	require.NoError(t, err)
	require.Empty(t, posts)
	require.Zero(t, e.count(`SELECT count(*) FROM anonymous_pending`))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM posts WHERE thread_id = $1`, locked.ThreadID))

	held := e.board(discussion.KindDiscussionBoard, discussion.Anonymous, func(b *discussion.Board) { b.Premoderated = true })
	e.announced.take()
	p := e.thread(held, e.learner2, discussionDraft("Pre-moderated", "Waits twice."))
	require.True(t, p.Held)
	status, why := e.status(p.PostID)
	require.Equal(t, "held", status)
	require.Equal(t, "premoderation", why)
	require.Empty(t, e.announced.take())

	g := e.thread(b, e.learner2, discussion.Draft{Title: "Guarded", Body: "Code " + nhsNumber, GuardReason: "Made up"})
	require.True(t, g.Held)
	_, why = e.status(g.PostID)
	require.Equal(t, "guard", why)
}

// TestFullyAnonymousPostingLimit: named and fully anonymous posts share the board's
// hourly limit. The count of fully anonymous posts is kept under a key that holds no
// user id, and both it and the day's secret are gone once the day is over.
func TestFullyAnonymousPostingLimit(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Anonymous, func(b *discussion.Board) {
		b.LearnerChoice = true
		b.PostsPerHour = 3
	})
	host := e.thread(b, e.educator, discussionDraft("Host", "Reply here."))
	post := func(v discussion.Viewer, identity discussion.Identity) error {
		_, err := e.svc.Reply(e.ctx, b, v, host.ThreadID, 0, discussion.Draft{Body: "A reply.", Identity: identity})
		return err
	}
	var rl *discussion.RateLimitedError
	require.NoError(t, post(e.learner1, discussion.Named))
	require.NoError(t, post(e.learner1, discussion.Anonymous))
	require.NoError(t, post(e.learner1, discussion.Anonymous))
	require.ErrorAs(t, post(e.learner1, discussion.Anonymous), &rl)
	require.ErrorAs(t, post(e.learner1, discussion.Named), &rl)
	require.NoError(t, post(e.learner2, discussion.Anonymous), "another person's count")
	require.Equal(t, 3, e.count(`SELECT count(*) FROM anonymous_pending`), "refused posts do not wait")

	var macs [][]byte
	rows, err := e.pool.Query(e.ctx, `SELECT key_mac FROM anonymous_counts ORDER BY posts`)
	require.NoError(t, err)
	macs, err = pgx.CollectRows(rows, pgx.RowTo[[]byte])
	require.NoError(t, err)
	require.Len(t, macs, 2, "one count for each person and hour")
	require.Equal(t, 1, e.count(`SELECT count(*) FROM anonymous_day_secrets`))

	// A new hour, a new count.
	e.clock.Advance(time.Hour)
	require.NoError(t, post(e.learner1, discussion.Anonymous))
	require.Equal(t, 3, e.count(`SELECT count(*) FROM anonymous_counts`))

	// The next day nothing of the day before is left to key a count with.
	e.clock.Advance(24 * time.Hour)
	_, err = e.svc.ReleaseAnonymous(e.ctx)
	require.NoError(t, err)
	_, err = e.svc.PruneRates(e.ctx)
	require.NoError(t, err)
	require.Zero(t, e.count(`SELECT count(*) FROM anonymous_counts`))
	require.Zero(t, e.count(`SELECT count(*) FROM anonymous_day_secrets WHERE day < $1`, e.clock.Now().Truncate(24*time.Hour)))
	require.NoError(t, post(e.learner1, discussion.Anonymous))
}

// TestFullyAnonymousOpportunityEndsCountedFromItsRelease: a learning opportunity keeps
// how long it is open for while it waits, not when it would end.
func TestFullyAnonymousOpportunityEndsCountedFromItsRelease(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindCaseBoard, discussion.Anonymous, nil)
	d := discussion.Draft{Kind: discussion.ThreadOpportunity, Title: "Chest drain on ward 4", Body: "Come and watch.",
		ExpiresAt: e.clock.Now().Add(3 * time.Hour)}
	_, err := e.svc.CreateThread(e.ctx, b, e.learner1, d)
	require.NoError(t, err)
	require.Equal(t, 3, e.count(`SELECT open_hours FROM anonymous_pending`))
	e.clock.Advance(20 * time.Minute)
	p, err := e.svc.ReleaseNow(e.ctx, b.ActivityID)
	require.NoError(t, err)
	require.Len(t, p, 1)
	var expires time.Time
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT expires_at FROM threads WHERE id = $1`, p[0].ThreadID).Scan(&expires))
	require.Equal(t, e.clock.Now().Add(3*time.Hour).Truncate(time.Minute), expires.UTC())
}
