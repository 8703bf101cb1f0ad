package discussion_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/discussion"
)

// A form sent twice (the browser never saw the first answer: a dropped connection, an
// instance killed mid-request) makes one post, the resend is told which, and it does
// not count against the posting rate. Resends that race each other still make one
// post. Without a submission token nothing is merged.
func TestResentFormMakesOnePost(t *testing.T) {
	t.Parallel()
	e := setup(t)
	count := func(b discussion.Board) int {
		var n int
		require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT count(*) FROM posts WHERE board_id = $1`, b.ActivityID).Scan(&n))
		return n
	}
	for _, identity := range []discussion.Identity{discussion.Named, discussion.Anonymous} {
		t.Run(string(identity), func(t *testing.T) {
			b := e.board(discussion.KindDiscussionBoard, identity, func(b *discussion.Board) { b.PostsPerHour = 2 })
			d := discussionDraft("Resent", "Sent twice by a flaky connection.")
			d.Submission = "form-token-" + string(identity)
			first, err := e.svc.CreateThread(e.ctx, b, e.learner1, d)
			require.NoError(t, err)
			again, err := e.svc.CreateThread(e.ctx, b, e.learner1, d)
			require.NoError(t, err)
			require.Equal(t, first, again)
			// A fully anonymous post waits, and a resend after its release is still told
			// only that: never which post it became.
			require.Equal(t, identity == discussion.Anonymous, first.Queued)
			th := e.released(b, first)
			again, err = e.svc.CreateThread(e.ctx, b, e.learner1, d)
			require.NoError(t, err)
			require.Equal(t, first, again)

			reply := discussionDraft("", "The hour's second post.")
			reply.Submission = "reply-token-" + string(identity)
			r1, err := e.svc.Reply(e.ctx, b, e.learner1, th.ThreadID, 0, reply)
			require.NoError(t, err, "the resent thread was not counted")
			r2, err := e.svc.Reply(e.ctx, b, e.learner1, th.ThreadID, 0, reply)
			require.NoError(t, err, "a resend at the limit still gets its post")
			require.Equal(t, r1, r2)
			e.released(b, r1)
			require.Equal(t, 2, count(b))

			other := discussionDraft("", "A third form is over the limit.")
			other.Submission = "third-token-" + string(identity)
			_, err = e.svc.Reply(e.ctx, b, e.learner1, th.ThreadID, 0, other)
			var rl *discussion.RateLimitedError
			require.ErrorAs(t, err, &rl)

			// Three identical sends at once make one post.
			busy := e.board(discussion.KindDiscussionBoard, identity, nil)
			host := e.thread(busy, e.educator, discussionDraft("Host", "Reply here."))
			racing := discussionDraft("", "A reply sent three times at once.")
			racing.Submission = "racing-token-" + string(identity)
			got := make([]discussion.Posted, 3)
			var wg sync.WaitGroup
			for i := range got {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p, err := e.svc.Reply(e.ctx, busy, e.learner2, host.ThreadID, 0, racing)
					require.NoError(t, err)
					got[i] = p
				}()
			}
			wg.Wait()
			require.Equal(t, got[0], got[1])
			require.Equal(t, got[0], got[2])
			e.released(busy, got[0])
			require.Equal(t, 2, count(busy), "the host's opening post and one reply")

			plain := discussionDraft("", "No token: sent twice, stored twice.")
			for range 2 {
				_, err = e.svc.Reply(e.ctx, busy, e.learner2, host.ThreadID, 0, plain)
				require.NoError(t, err)
			}
			if identity == discussion.Anonymous {
				posts, err := e.svc.ReleaseNow(e.ctx, busy.ActivityID)
				require.NoError(t, err)
				require.Len(t, posts, 2)
			}
			require.Equal(t, 4, count(busy))
		})
	}
}
