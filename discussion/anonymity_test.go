package discussion_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/discussion"
)

// anonymousScenario has learner1 start a thread and reply in it under identity, and
// others react: learner2 marks both helpful and reports the reply, the educator
// dismisses the report. It returns the ids of what learner1 wrote.
func anonymousScenario(t *testing.T, e *env, identity discussion.Identity) (discussion.Board, []int64) {
	t.Helper()
	b := e.board(discussion.KindDiscussionBoard, identity, nil)
	th := e.thread(b, e.learner1, discussionDraft("Night shifts", "How do you stay awake on nights?"))
	e.clock.Advance(17 * time.Minute)
	r := e.reply(b, e.learner1, th.ThreadID, 0, "Answering myself: strong coffee.")
	require.NoError(t, e.svc.MarkHelpful(e.ctx, b, e.learner2, th.PostID, true))
	require.NoError(t, e.svc.MarkHelpful(e.ctx, b, e.learner2, r.PostID, true))
	require.NoError(t, e.svc.Report(e.ctx, b, e.learner2, r.PostID, "Promotes caffeine"))
	require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, r.PostID, discussion.ActionDismiss, ""))
	return b, []int64{th.ThreadID, th.PostID, r.PostID}
}

// TestFullyAnonymousLeavesNoLink walks every row of every table after learner1 wrote a
// fully anonymous thread and reply: no row holding their ids holds learner1's id, and
// no such row keeps a time of day. Named and anonymous-to-peers posts are the
// controls: the walk finds their links.
func TestFullyAnonymousLeavesNoLink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		identity   discussion.Identity
		wantLinked bool
	}{
		{discussion.Anonymous, false},
		{discussion.Peers, true},
		{discussion.Named, true},
	}
	for _, tc := range tests {
		t.Run(string(tc.identity), func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			b, ids := anonymousScenario(t, e, tc.identity)

			res := walkLinks(t, e.pool, ids, learner1ID, "post_reports", "moderation_log")
			// The walk reached every table that refers to the posts.
			for _, table := range []string{"threads", "posts", "post_helpful", "post_reports", "moderation_log"} {
				require.Positive(t, res.Mentions[table], "no row of %s mentions the posts", table)
			}
			if !tc.wantLinked {
				require.Empty(t, res.Linked, "rows tie the fully anonymous posts to their author")
				require.Empty(t, res.Timed, "rows keep the time of day of fully anonymous posts")
			} else {
				require.NotEmpty(t, res.Linked)
				require.NotEmpty(t, res.Timed)
				return
			}

			// Only the day is kept, and there is no author to edit, delete or read a draft.
			var created []time.Time
			rows, err := e.pool.Query(e.ctx, `SELECT created_at FROM posts WHERE id = ANY ($1)
UNION ALL SELECT created_at FROM threads WHERE id = $2`,
				ids[1:], ids[0])
			require.NoError(t, err)
			created, err = pgx.CollectRows(rows, pgx.RowTo[time.Time])
			require.NoError(t, err)
			require.Len(t, created, 3)
			for _, c := range created {
				require.Equal(t, time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC), c.UTC())
			}
			for _, id := range ids[1:] {
				require.ErrorIs(t, e.svc.Edit(e.ctx, b, e.learner1, id, discussion.Draft{Body: "Changed."}), discussion.ErrNotAuthor)
				require.ErrorIs(t, e.svc.Delete(e.ctx, b, e.learner1, id), discussion.ErrNotAuthor)
				_, _, err := e.svc.DraftOf(e.ctx, b, e.learner1, id)
				require.ErrorIs(t, err, discussion.ErrNotAuthor)
				_, err = e.svc.Reveal(e.ctx, b, e.educator, id, "Safeguarding")
				require.ErrorIs(t, err, discussion.ErrNotFound)
			}
			require.Zero(t, e.count(`SELECT count(*) FROM post_revisions WHERE post_id = ANY ($1)`, ids[1:]))
			require.Zero(t, e.count(`SELECT count(*) FROM post_helpful WHERE user_id = $1`, learner1ID))
			require.Zero(t, e.count(`SELECT count(*) FROM post_reports WHERE reporter_id = $1`, learner1ID))
			require.Zero(t, e.count(`SELECT count(*) FROM moderation_log WHERE moderator_id = $1`, learner1ID))
			require.Zero(t, e.count(`SELECT count(*) FROM posts WHERE author_id IS NOT NULL AND id = ANY ($1)`, ids[1:]))
			// The rate limit counted both posts without recording whose or which they were.
			require.Zero(t, e.count(`SELECT count(*) FROM post_rate WHERE board_id = $1 AND user_id = $2`, b.ActivityID, learner1ID))
			require.Equal(t, 2, e.count(`SELECT sum(posts)::int FROM anonymous_counts`))

			// Nobody, the author included, is told the post is theirs.
			for _, v := range []discussion.Viewer{e.learner1, e.learner2, e.educator} {
				th, err := e.svc.Thread(e.ctx, b, v, ids[0])
				require.NoError(t, err)
				for _, p := range append([]*discussion.Post{th.Opening}, th.Posts...) {
					require.False(t, p.Author.Mine)
					require.Empty(t, p.Author.Name)
					require.True(t, p.DayOnly)
					require.Equal(t, "Anonymous", p.Author.Shown())
					require.False(t, p.CanEdit)
				}
				require.Len(t, th.Posts, 1)
			}
		})
	}
}

// TestFullyAnonymousPostSharesNoTransactionWithItsAuthor looks below the columns: a
// row's xmin is the transaction that wrote it. If the post is written in the same
// transaction as a row holding the author's id (the rate-limit count), joining on
// xmin names the author. (The release writes it in a transaction of its own; the
// neighbouring transactions are web/unlinkable_test.go's.)
func TestFullyAnonymousPostSharesNoTransactionWithItsAuthor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		identity   discussion.Identity
		wantShared bool
	}{
		{discussion.Anonymous, false},
		{discussion.Named, true}, // control: the post row itself holds the author
	}
	for _, tc := range tests {
		t.Run(string(tc.identity), func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			b := e.board(discussion.KindDiscussionBoard, tc.identity, nil)
			th := e.thread(b, e.learner1, discussionDraft("Night shifts", "How do you stay awake?"))
			r := e.reply(b, e.learner1, th.ThreadID, 0, "Coffee.")

			var postXmins []string
			rows, err := e.pool.Query(e.ctx, `SELECT xmin::text FROM posts WHERE id = ANY ($1) UNION SELECT xmin::text FROM threads WHERE id = $2`,
				[]int64{th.PostID, r.PostID}, th.ThreadID)
			require.NoError(t, err)
			postXmins, err = pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			require.NotEmpty(t, postXmins)

			rows, err = e.pool.Query(e.ctx, `SELECT table_name FROM information_schema.tables
WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
			require.NoError(t, err)
			tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			var shared []string
			user := strconv.Itoa(learner1ID)
			for _, table := range tables {
				rows, err := e.pool.Query(e.ctx, fmt.Sprintf(`SELECT row_to_json(t)::text, t.xmin::text FROM public.%s t WHERE t.xmin::text = ANY ($1)`,
					pgx.Identifier{table}.Sanitize()), postXmins)
				require.NoError(t, err)
				type row struct{ JSON, Xmin string }
				found, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
				require.NoError(t, err)
				for _, f := range found {
					for _, n := range numbersIn(f.JSON) {
						if n == user {
							shared = append(shared, table+": "+f.JSON)
							break
						}
					}
				}
			}
			if tc.wantShared {
				require.NotEmpty(t, shared)
			} else {
				require.Empty(t, shared, "rows written in the same transaction as the fully anonymous posts name their author")
			}
		})
	}
}

// TestIdentityChoice checks who may post under which identity.
func TestIdentityChoice(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tests := []struct {
		name     string
		board    discussion.Identity
		choice   bool
		educator bool
		chosen   discussion.Identity
		want     discussion.Identity // "" means refused
	}{
		{"named board", discussion.Named, false, false, "", discussion.Named},
		{"named board refuses peers", discussion.Named, true, false, discussion.Peers, ""},
		{"peers board default", discussion.Peers, false, false, "", discussion.Peers},
		{"peers board without choice refuses named", discussion.Peers, false, false, discussion.Named, ""},
		{"peers board with choice allows named", discussion.Peers, true, false, discussion.Named, discussion.Named},
		{"peers board never allows anonymous", discussion.Peers, true, false, discussion.Anonymous, ""},
		{"anonymous board default", discussion.Anonymous, false, false, "", discussion.Anonymous},
		{"anonymous board without choice refuses named", discussion.Anonymous, false, false, discussion.Named, ""},
		{"anonymous board with choice allows peers", discussion.Anonymous, true, false, discussion.Peers, discussion.Peers},
		{"anonymous board with choice allows named", discussion.Anonymous, true, false, discussion.Named, discussion.Named},
		{"educator on anonymous board posts named", discussion.Anonymous, true, true, discussion.Anonymous, discussion.Named},
		{"educator on peers board posts named", discussion.Peers, false, true, "", discussion.Named},
		{"unknown identity", discussion.Anonymous, true, false, "secret", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := e.board(discussion.KindDiscussionBoard, tc.board, func(b *discussion.Board) { b.LearnerChoice = tc.choice })
			require.Equal(t, tc.choice, b.LearnerChoice)
			v := e.learner1
			if tc.educator {
				v = e.educator
			}
			for _, reply := range []bool{false, true} {
				var p discussion.Posted
				var err error
				if reply {
					host := e.thread(b, e.educator, discussionDraft("Host", "Reply here."))
					p, err = e.svc.Reply(e.ctx, b, v, host.ThreadID, 0, discussion.Draft{Body: "A reply.", Identity: tc.chosen})
				} else {
					p, err = e.svc.CreateThread(e.ctx, b, v, discussion.Draft{Title: "Mine", Body: "Hello.", Identity: tc.chosen})
				}
				if tc.want == "" {
					var inv *discussion.InvalidError
					require.ErrorAs(t, err, &inv)
					require.Equal(t, "identity", inv.Field)
					continue
				}
				require.NoError(t, err)
				require.Equal(t, tc.want == discussion.Anonymous, p.Queued, "only fully anonymous posts wait")
				p = e.released(b, p)
				var identity discussion.Identity
				var author *int64
				require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT identity, author_id FROM posts WHERE id = $1`, p.PostID).
					Scan(&identity, &author))
				require.Equal(t, tc.want, identity)
				if tc.want == discussion.Anonymous {
					require.Nil(t, author)
				} else {
					require.NotNil(t, author)
					require.Equal(t, v.UserID, *author)
				}
			}
			// A refused post stores nothing.
			if tc.want == "" {
				require.Zero(t, e.count(`SELECT count(*) FROM posts WHERE board_id = $1 AND author_id = $2`, b.ActivityID, v.UserID))
			}
		})
	}

	b := e.board(discussion.KindDiscussionBoard, discussion.Anonymous, func(b *discussion.Board) { b.LearnerChoice = true })
	require.Equal(t, []discussion.Identity{discussion.Anonymous, discussion.Named, discussion.Peers}, b.Identities())
	b = e.board(discussion.KindDiscussionBoard, discussion.Peers, nil)
	require.Equal(t, []discussion.Identity{discussion.Peers}, b.Identities())
}

// TestGuardLogOfAnonymousPost: the service logs the guard's findings when an author
// overrides it. The log line carries its own exact time, so for a fully anonymous post
// it must not carry anything that matches the post either (its findings are stored
// on the post), or the log pins down when the post was written.
func TestGuardLogOfAnonymousPost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		identity discussion.Identity
		wantSeen bool
	}{
		{discussion.Anonymous, false},
		{discussion.Named, true}, // control: a named post's time is no secret
	}
	for _, tc := range tests {
		t.Run(string(tc.identity), func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			b := e.board(discussion.KindDiscussionBoard, tc.identity, nil)
			p, err := e.svc.CreateThread(e.ctx, b, e.learner1, discussion.Draft{Title: "Audit",
				Body: "A made-up code: " + nhsNumber, GuardReason: "It is made up"})
			require.NoError(t, err)
			p = e.released(b, p)
			require.True(t, p.Held)
			var stored string
			require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT guard_findings::text FROM posts WHERE id = $1`, p.PostID).Scan(&stored))
			var want any
			require.NoError(t, json.Unmarshal([]byte(stored), &want))

			matched := false
			for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
				var rec map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
				require.NotContains(t, line, "5919", "the log holds the text the guard found")
				if reflect.DeepEqual(rec["findings"], want) {
					matched = true
				}
			}
			require.Equal(t, tc.wantSeen, matched, "log: %s", e.logs.String())
		})
	}
}
