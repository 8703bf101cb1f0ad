package discussion_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/discussion"
)

// TestPruneExpiredOpportunities: a learning opportunity is deleted, with its replies
// and what hangs off them, once it ended longer ago than the retention; cases,
// discussions and opportunities still open or recently ended stay.
func TestPruneExpiredOpportunities(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	e := setup(t)
	b := e.board(discussion.KindCaseBoard, discussion.Named, nil)
	talk := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	opp := func(title string, expires time.Time) discussion.Draft {
		return discussion.Draft{Kind: discussion.ThreadOpportunity, Title: title, Body: "Come to resus.", ExpiresAt: expires}
	}
	short := e.thread(b, e.learner1, opp("Chest drain in resus", start.Add(time.Hour)))
	week := e.thread(b, e.learner1, opp("Clinic all week", start.Add(7*day)))
	kase := e.thread(b, e.learner1, caseDraft("A case never expires"))
	chat := e.thread(talk, e.learner1, discussionDraft("Night shifts", "How do you stay awake?"))

	// The short one gathers replies, a helpful mark, a report and a moderator's action.
	reply := e.reply(b, e.learner2, short.ThreadID, 0, "I'm coming.")
	e.reply(b, e.learner1, short.ThreadID, reply.PostID, "See you there.")
	require.NoError(t, e.svc.MarkHelpful(e.ctx, b, e.learner1, reply.PostID, true))
	require.NoError(t, e.svc.Report(e.ctx, b, e.learner1, reply.PostID, "Off topic"))
	require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, reply.PostID, discussion.ActionDismiss, ""))
	e.reply(b, e.learner2, kase.ThreadID, 0, "Troponin first.")

	threads := func() []int64 {
		var ids []int64
		rows, err := e.pool.Query(e.ctx, `SELECT id FROM threads`)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var id int64
			require.NoError(t, rows.Scan(&id))
			ids = append(ids, id)
		}
		return ids
	}
	all := []int64{short.ThreadID, week.ThreadID, kase.ThreadID, chat.ThreadID}
	require.ElementsMatch(t, all, threads())

	tests := []struct {
		name      string
		at        time.Duration // after start
		retention time.Duration
		deleted   int64
		want      []int64
	}{
		{"both open", 0, 0, 0, all},
		{"ended, within the default month", time.Hour + 30*day, 0, 0, all},
		{"the short one a month and a second after it ended", time.Hour + 30*day + time.Second, 0, 1,
			[]int64{week.ThreadID, kase.ThreadID, chat.ThreadID}},
		{"the week-long one, a day after it ended with a day's retention", 8*day + time.Second, day, 1,
			[]int64{kase.ThreadID, chat.ThreadID}},
		{"years later, cases and discussions stay", 3 * 365 * day, 0, 0, []int64{kase.ThreadID, chat.ThreadID}},
	}
	for _, tc := range tests {
		e.clock.Set(start.Add(tc.at))
		n, err := e.svc.PruneExpiredOpportunities(e.ctx, tc.retention)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.deleted, n, tc.name)
		require.ElementsMatch(t, tc.want, threads(), tc.name)
	}

	// Nothing of the short opportunity is left but the moderator's log entry, which
	// no longer points at it.
	require.Zero(t, e.count(`SELECT count(*) FROM posts WHERE thread_id = ANY ($1)`, []int64{short.ThreadID, week.ThreadID}))
	require.Zero(t, e.count(`SELECT count(*) FROM post_helpful`))
	require.Zero(t, e.count(`SELECT count(*) FROM post_reports`))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM moderation_log WHERE action = 'dismiss' AND post_id IS NULL AND thread_id IS NULL`))
	// The case keeps its reply.
	require.Equal(t, 2, e.count(`SELECT count(*) FROM posts WHERE thread_id = $1`, kase.ThreadID))
}
