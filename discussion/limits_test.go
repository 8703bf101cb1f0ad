package discussion_test

import (
	"html/template"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/guard"
	"github.com/huddle-lti/huddle/markup"
)

// costly counts the calls of the two costly steps of writing a post.
type costly struct{ renders, scans atomic.Int64 }

func (c *costly) options(e *env) discussion.Options {
	return discussion.Options{Now: e.clock.Now,
		Render: func(src string) (template.HTML, error) { c.renders.Add(1); return markup.Render(src) },
		Scan:   func(text string) []guard.Finding { c.scans.Add(1); return guard.Scan(text) }}
}

// TestCheapRefusalsComeFirst: a post refused for who sends it, where it goes, how
// often they post or how long or deeply nested it is, is refused before the guard
// reads it or the renderer parses it, and leaves nothing behind.
func TestCheapRefusalsComeFirst(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var c costly
	svc := discussion.NewService(e.pool, c.options(e))

	// learner1 posts where the limit is one an hour; learner2 where it is the default.
	talk := e.board(discussion.KindDiscussionBoard, discussion.Named, func(b *discussion.Board) { b.PostsPerHour = 1 })
	cases := e.board(discussion.KindCaseBoard, discussion.Named, func(b *discussion.Board) { b.PostsPerHour = 1 })
	hidden := e.board(discussion.KindDiscussionBoard, discussion.Anonymous, func(b *discussion.Board) { b.PostsPerHour = 1 })
	open := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	openCases := e.board(discussion.KindCaseBoard, discussion.Named, nil)
	host := e.thread(talk, e.educator, discussionDraft("Host", "Reply here."))
	anonHost := e.thread(hidden, e.educator, discussionDraft("Host", "Reply here."))
	openHost := e.thread(open, e.educator, discussionDraft("Host", "Reply here."))
	locked := e.thread(open, e.educator, discussionDraft("Locked", "No more replies."))
	require.NoError(t, e.svc.SetThreadFlag(e.ctx, open, e.educator, locked.ThreadID, "lock", true))

	// learner1 has used the hour's one post on each of their boards.
	_, err := svc.CreateThread(e.ctx, talk, e.learner1, discussionDraft("One", "The hour's post."))
	require.NoError(t, err)
	require.Positive(t, c.renders.Load(), "the counting renderer is the one the service uses")
	require.Positive(t, c.scans.Load(), "the counting guard is the one the service uses")
	e.thread(cases, e.learner1, caseDraft("The hour's case"))
	e.reply(hidden, e.learner1, anonHost.ThreadID, 0, "The hour's anonymous reply.")
	mine := e.reply(open, e.learner2, openHost.ThreadID, 0, "Mine to edit.")

	nested := strings.Repeat("> ", 5000) + "x"
	withNHS := "Seen today, NHS " + nhsNumber + "."
	deepCase := caseDraft("Deep")
	deepCase.Sections["presentation"] = strings.Repeat("+ ", 2000)
	nhsCase := caseDraft("Identified")
	nhsCase.Sections["presentation"] = withNHS
	manyTags := discussionDraft("Tags", withNHS)
	for i := range 20000 {
		manyTags.Tags = append(manyTags.Tags, "tag"+strconv.Itoa(i))
	}

	var (
		rateLimited = func(t *testing.T, err error) {
			var rl *discussion.RateLimitedError
			require.ErrorAs(t, err, &rl)
		}
		invalid = func(field string, limit markup.Limit) func(t *testing.T, err error) {
			return func(t *testing.T, err error) {
				var inv *discussion.InvalidError
				require.ErrorAs(t, err, &inv)
				require.Equal(t, field, inv.Field)
				if limit == "" {
					return
				}
				var le *markup.LimitError
				require.ErrorAs(t, err, &le)
				require.Equal(t, limit, le.Limit)
				require.Equal(t, le.Message(), inv.Message)
			}
		}
		is = func(want error) func(t *testing.T, err error) {
			return func(t *testing.T, err error) { require.ErrorIs(t, err, want) }
		}
	)
	tests := []struct {
		name string
		post func() error
		want func(t *testing.T, err error)
	}{
		{"thread over the rate, naming a patient", func() error {
			_, err := svc.CreateThread(e.ctx, talk, e.learner1, discussionDraft("Two", withNHS))
			return err
		}, rateLimited},
		{"thread over the rate, five thousand quotes deep", func() error {
			_, err := svc.CreateThread(e.ctx, talk, e.learner1, discussionDraft("Two", nested))
			return err
		}, rateLimited},
		{"case over the rate, naming a patient", func() error {
			_, err := svc.CreateThread(e.ctx, cases, e.learner1, nhsCase)
			return err
		}, rateLimited},
		{"reply over the rate, naming a patient", func() error {
			_, err := svc.Reply(e.ctx, talk, e.learner1, host.ThreadID, 0, discussion.Draft{Body: withNHS})
			return err
		}, rateLimited},
		{"anonymous reply over the rate, naming a patient", func() error {
			_, err := svc.Reply(e.ctx, hidden, e.learner1, anonHost.ThreadID, 0, discussion.Draft{Body: withNHS})
			return err
		}, rateLimited},
		{"reply to a locked thread", func() error {
			_, err := svc.Reply(e.ctx, open, e.learner2, locked.ThreadID, 0, discussion.Draft{Body: withNHS})
			return err
		}, is(discussion.ErrLocked)},
		{"reply to a missing thread", func() error {
			_, err := svc.Reply(e.ctx, open, e.learner2, 42, 0, discussion.Draft{Body: withNHS})
			return err
		}, is(discussion.ErrNotFound)},
		{"reply to a post in another thread", func() error {
			_, err := svc.Reply(e.ctx, open, e.learner2, openHost.ThreadID, locked.PostID, discussion.Draft{Body: withNHS})
			return err
		}, is(discussion.ErrNotFound)},
		{"reply to a missing post", func() error {
			_, err := svc.Reply(e.ctx, open, e.learner2, openHost.ThreadID, 42, discussion.Draft{Body: withNHS})
			return err
		}, is(discussion.ErrNotFound)},
		{"reply in an identity the board does not allow", func() error {
			_, err := svc.Reply(e.ctx, open, e.learner2, openHost.ThreadID, 0, discussion.Draft{Body: withNHS, Identity: discussion.Anonymous})
			return err
		}, invalid("identity", "")},
		{"reply five thousand quotes deep", func() error {
			_, err := svc.Reply(e.ctx, open, e.learner2, openHost.ThreadID, 0, discussion.Draft{Body: withNHS + "\n\n" + nested})
			return err
		}, invalid("body", markup.LimitDepth)},
		{"reply ten thousand brackets deep", func() error {
			_, err := svc.Reply(e.ctx, open, e.learner2, openHost.ThreadID, 0, discussion.Draft{Body: withNHS + strings.Repeat("[", 10000)})
			return err
		}, invalid("body", markup.LimitDepth)},
		{"reply with a thousand unfinished links", func() error {
			_, err := svc.Reply(e.ctx, open, e.learner2, openHost.ThreadID, 0, discussion.Draft{Body: withNHS + strings.Repeat("[a](", 1000)})
			return err
		}, invalid("body", markup.LimitLinks)},
		{"reply too long", func() error {
			_, err := svc.Reply(e.ctx, open, e.learner2, openHost.ThreadID, 0, discussion.Draft{Body: withNHS + strings.Repeat("é", 20000)})
			return err
		}, invalid("body", "")},
		{"case section two thousand lists deep", func() error {
			_, err := svc.CreateThread(e.ctx, openCases, e.learner2, deepCase)
			return err
		}, invalid("section_presentation", markup.LimitDepth)},
		{"thread with twenty thousand tags", func() error {
			_, err := svc.CreateThread(e.ctx, open, e.learner2, manyTags)
			return err
		}, invalid("tags", "")},
		{"edit five thousand quotes deep", func() error {
			return svc.Edit(e.ctx, open, e.learner2, mine.PostID, discussion.Draft{Body: withNHS + "\n\n" + nested})
		}, invalid("body", markup.LimitDepth)},
		{"edit someone else's post", func() error {
			return svc.Edit(e.ctx, open, e.learner1, mine.PostID, discussion.Draft{Body: withNHS})
		}, is(discussion.ErrNotAuthor)},
	}
	rows := `SELECT (SELECT count(*) FROM threads) + (SELECT count(*) FROM posts) + (SELECT count(*) FROM post_revisions) +
	(SELECT coalesce(sum(posts), 0) FROM post_rate)`
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.renders.Store(0)
			c.scans.Store(0)
			before := e.count(rows)
			tc.want(t, tc.post())
			require.Zero(t, c.scans.Load(), "the guard read a post refused for something cheaper")
			require.Zero(t, c.renders.Load(), "the renderer parsed a post refused for something cheaper")
			require.Equal(t, before, e.count(rows), "a refused post left rows behind or counted against the rate")
		})
	}

	// The guard still comes before the renderer.
	c.renders.Store(0)
	_, err = svc.Reply(e.ctx, open, e.learner2, openHost.ThreadID, 0, discussion.Draft{Body: withNHS})
	var ge *discussion.GuardError
	require.ErrorAs(t, err, &ge)
	require.Zero(t, c.renders.Load())
}

// TestRefusedNesting: nesting that only the parsed text shows (lists nested by
// indentation, emphasis) is refused by the renderer, in plain words for the field.
func TestRefusedNesting(t *testing.T) {
	t.Parallel()
	e := setup(t)
	talk := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	var list strings.Builder
	for i := range markup.MaxDepth + 1 {
		list.WriteString(strings.Repeat("  ", i) + "- level\n")
	}
	emphasis := strings.Repeat("*a ", markup.MaxDepth+1) + "x" + strings.Repeat(" a*", markup.MaxDepth+1)
	for name, body := range map[string]string{"lists by indentation": list.String(), "emphasis": emphasis} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, markup.Check(body), "Check cannot see this nesting")
			_, err := e.svc.CreateThread(e.ctx, talk, e.learner1, discussionDraft("Deep", body))
			var inv *discussion.InvalidError
			require.ErrorAs(t, err, &inv)
			require.Equal(t, "body", inv.Field)
			require.Contains(t, inv.Message, "nested more than 16 levels deep")
			var le *markup.LimitError
			require.ErrorAs(t, err, &le)
			require.Equal(t, markup.LimitDepth, le.Limit)
		})
	}
	require.Zero(t, e.count(`SELECT count(*) FROM threads`))
}

// TestLimitsCountLineBreaksAsTheFormDoes: a textarea's maxlength counts a line break
// as one character, though the browser sends two (CRLF); a body the form allowed is
// not refused for its line breaks, and is stored with plain newlines.
func TestLimitsCountLineBreaksAsTheFormDoes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	talk := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	cases := e.board(discussion.KindCaseBoard, discussion.Named, nil)

	body := strings.Repeat("a line\r\n", 2600) // 18,200 characters in the textarea, 20,800 sent
	p, err := e.svc.CreateThread(e.ctx, talk, e.learner1, discussionDraft("Lines", body))
	require.NoError(t, err)
	require.Equal(t, 1, e.count(`SELECT count(*) FROM posts WHERE id = $1 AND body NOT LIKE '%'||chr(13)||'%'
		AND char_length(body) = 18199`, p.PostID))

	d := caseDraft("Lines")
	d.Sections["presentation"] = strings.Repeat("line\r\n", 900) // 4,500 characters in the textarea, 5,400 sent
	_, err = e.svc.CreateThread(e.ctx, cases, e.learner1, d)
	require.NoError(t, err)

	_, err = e.svc.CreateThread(e.ctx, talk, e.learner1, discussionDraft("Long", strings.Repeat("a\r\n", 10000)+"a"))
	var inv *discussion.InvalidError
	require.ErrorAs(t, err, &inv)
	require.Equal(t, "body", inv.Field)
	require.Equal(t, "Keep it to 20000 characters.", inv.Message)
}
