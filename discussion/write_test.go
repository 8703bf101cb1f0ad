package discussion_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/discussion"
)

// TestEditWindow edits with a fixed clock: the author within the window, nobody else,
// and the earlier versions kept for moderators.
func TestEditWindow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	require.Equal(t, 30*time.Minute, b.EditWindow)
	th := e.thread(b, e.learner1, discussionDraft("Question", "First version."))
	created := e.clock.Now()

	tests := []struct {
		name   string
		at     time.Duration // after the post was written
		viewer discussion.Viewer
		want   error
	}{
		{"author within the window", time.Minute, e.learner1, nil},
		{"other learner", time.Minute, e.learner2, discussion.ErrNotAuthor},
		{"moderator is not the author", time.Minute, e.educator, discussion.ErrNotAuthor},
		{"author at the end of the window", 30 * time.Minute, e.learner1, nil},
		{"author after the window", 30*time.Minute + time.Second, e.learner1, discussion.ErrEditClosed},
	}
	bodies := []string{"First version."}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Set(created.Add(tc.at))
			body := "Version at " + tc.at.String() + "."
			err := e.svc.Edit(e.ctx, b, tc.viewer, th.PostID, discussion.Draft{Title: "Question (" + tc.name + ")", Body: body})
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				d, _, err := e.svc.DraftOf(e.ctx, b, e.learner1, th.PostID)
				require.NoError(t, err)
				require.Equal(t, bodies[len(bodies)-1], d.Body, "a refused edit changed the post")
				return
			}
			require.NoError(t, err)
			bodies = append(bodies, body)
			d, opening, err := e.svc.DraftOf(e.ctx, b, e.learner1, th.PostID)
			require.NoError(t, err)
			require.True(t, opening)
			require.Equal(t, body, d.Body)
			require.Equal(t, "Question ("+tc.name+")", d.Title)
		})
	}

	// CanEdit follows the same window.
	e.clock.Set(created.Add(30 * time.Minute))
	page, err := e.svc.Thread(e.ctx, b, e.learner1, th.ThreadID)
	require.NoError(t, err)
	require.True(t, page.Opening.CanEdit)
	require.True(t, page.Opening.Edited)
	require.Equal(t, "Question (author at the end of the window)", page.Title)
	e.clock.Set(created.Add(31 * time.Minute))
	page, err = e.svc.Thread(e.ctx, b, e.learner1, th.ThreadID)
	require.NoError(t, err)
	require.False(t, page.Opening.CanEdit)

	// Revisions are for moderators, newest first, each with the time it was written.
	_, err = e.svc.Revisions(e.ctx, b, e.learner1, th.PostID)
	require.ErrorIs(t, err, discussion.ErrNotAllowed)
	revs, err := e.svc.Revisions(e.ctx, b, e.educator, th.PostID)
	require.NoError(t, err)
	require.Len(t, revs, 2)
	require.Equal(t, bodies[1], revs[0].Body)
	require.True(t, revs[0].WrittenAt.Equal(created.Add(time.Minute)), "%v", revs[0].WrittenAt)
	require.Equal(t, bodies[0], revs[1].Body)
	require.True(t, revs[1].WrittenAt.Equal(created), "%v", revs[1].WrittenAt)

	// A moderator edits their own post after the window.
	mod := e.reply(b, e.educator, th.ThreadID, 0, "Educator's answer.")
	e.clock.Advance(3 * time.Hour)
	require.NoError(t, e.svc.Edit(e.ctx, b, e.educator, mod.PostID, discussion.Draft{Body: "Educator's corrected answer."}))
	revs, err = e.svc.Revisions(e.ctx, b, e.educator, mod.PostID)
	require.NoError(t, err)
	require.Len(t, revs, 1)
	require.Equal(t, "Educator's answer.", revs[0].Body)
}

// TestEditKeepsModeration: an edit never approves a held post, and on a pre-moderated
// board an edit of a visible learner post holds it again.
func TestEditKeepsModeration(t *testing.T) {
	t.Parallel()
	e := setup(t)

	t.Run("held by the guard stays held", func(t *testing.T) {
		b := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
		host := e.thread(b, e.educator, discussionDraft("Host", "Reply here."))
		p, err := e.svc.Reply(e.ctx, b, e.learner1, host.ThreadID, 0, discussion.Draft{Body: "Code " + nhsNumber, GuardReason: "Trial code"})
		require.NoError(t, err)
		require.True(t, p.Held)
		require.NoError(t, e.svc.Edit(e.ctx, b, e.learner1, p.PostID, discussion.Draft{Body: "No code at all."}))
		status, heldFor := e.status(p.PostID)
		require.Equal(t, "held", status)
		require.Equal(t, "guard", heldFor)
		require.Zero(t, e.replies(b, host.ThreadID))
	})

	t.Run("pre-moderated board holds an edited post again", func(t *testing.T) {
		b := e.board(discussion.KindDiscussionBoard, discussion.Named, func(b *discussion.Board) { b.Premoderated = true })
		require.True(t, b.Premoderated)
		host := e.thread(b, e.educator, discussionDraft("Host", "Reply here."))
		status, _ := e.status(host.PostID)
		require.Equal(t, "visible", status, "educators' posts are not pre-moderated")

		p := e.reply(b, e.learner1, host.ThreadID, 0, "My answer.")
		require.True(t, p.Held)
		status, heldFor := e.status(p.PostID)
		require.Equal(t, "held", status)
		require.Equal(t, "premoderation", heldFor)
		require.Zero(t, e.replies(b, host.ThreadID))
		require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, p.PostID, discussion.ActionApprove, ""))
		require.Equal(t, 1, e.replies(b, host.ThreadID))

		require.NoError(t, e.svc.Edit(e.ctx, b, e.learner1, p.PostID, discussion.Draft{Body: "My answer, changed after approval."}))
		status, heldFor = e.status(p.PostID)
		require.Equal(t, "held", status)
		require.Equal(t, "premoderation", heldFor)
		other, err := e.svc.Thread(e.ctx, b, e.learner2, host.ThreadID)
		require.NoError(t, err)
		require.Nil(t, findPost(other, p.PostID))

		require.Zero(t, e.replies(b, host.ThreadID), "a held reply is not counted")
		require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, p.PostID, discussion.ActionApprove, ""))
		require.Equal(t, 1, e.replies(b, host.ThreadID), "one visible reply")
	})

	t.Run("moderator's own edit is not held", func(t *testing.T) {
		b := e.board(discussion.KindDiscussionBoard, discussion.Named, func(b *discussion.Board) { b.Premoderated = true })
		host := e.thread(b, e.educator, discussionDraft("Host", "Reply here."))
		require.NoError(t, e.svc.Edit(e.ctx, b, e.educator, host.PostID, discussion.Draft{Title: "Host", Body: "Changed."}))
		status, _ := e.status(host.PostID)
		require.Equal(t, "visible", status)
	})
}

// TestEditLockedAndDeleted: a learner cannot edit in a locked thread, and nobody edits
// a deleted or hidden post.
func TestEditLockedAndDeleted(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	th := e.thread(b, e.learner1, discussionDraft("Question", "Body."))
	r := e.reply(b, e.learner1, th.ThreadID, 0, "A reply.")
	hidden := e.reply(b, e.learner1, th.ThreadID, 0, "Another reply.")
	require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, hidden.PostID, discussion.ActionHide, "Rude"))

	require.NoError(t, e.svc.SetThreadFlag(e.ctx, b, e.educator, th.ThreadID, "lock", true))
	require.ErrorIs(t, e.svc.Edit(e.ctx, b, e.learner1, r.PostID, discussion.Draft{Body: "Changed."}), discussion.ErrLocked)
	require.NoError(t, e.svc.SetThreadFlag(e.ctx, b, e.educator, th.ThreadID, "lock", false))
	require.NoError(t, e.svc.Edit(e.ctx, b, e.learner1, r.PostID, discussion.Draft{Body: "Changed."}))

	require.ErrorIs(t, e.svc.Edit(e.ctx, b, e.learner1, hidden.PostID, discussion.Draft{Body: "Changed."}), discussion.ErrNotFound)
	_, _, err := e.svc.DraftOf(e.ctx, b, e.learner1, hidden.PostID)
	require.ErrorIs(t, err, discussion.ErrNotFound)

	var inv *discussion.InvalidError
	require.ErrorAs(t, e.svc.Edit(e.ctx, b, e.learner1, r.PostID, discussion.Draft{Body: "   "}), &inv)
	require.Equal(t, "body", inv.Field)
	require.ErrorAs(t, e.svc.Edit(e.ctx, b, e.learner1, th.PostID, discussion.Draft{Body: "No title."}), &inv)
	require.Equal(t, "title", inv.Field)
}

// TestDelete withdraws a post: it stays for moderators and the thread's count drops.
func TestDelete(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	th := e.thread(b, e.learner1, discussionDraft("Question", "Body."))
	r := e.reply(b, e.learner1, th.ThreadID, 0, "Secret-ish reply.")
	require.Equal(t, 1, e.replies(b, th.ThreadID))

	require.ErrorIs(t, e.svc.Delete(e.ctx, b, e.learner2, r.PostID), discussion.ErrNotAuthor)
	require.ErrorIs(t, e.svc.Delete(e.ctx, b, e.educator, r.PostID), discussion.ErrNotAuthor)
	require.NoError(t, e.svc.Delete(e.ctx, b, e.learner1, r.PostID))
	require.ErrorIs(t, e.svc.Delete(e.ctx, b, e.learner1, r.PostID), discussion.ErrNotFound)
	require.ErrorIs(t, e.svc.Edit(e.ctx, b, e.learner1, r.PostID, discussion.Draft{Body: "Back."}), discussion.ErrNotFound)
	require.Zero(t, e.replies(b, th.ThreadID))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM posts WHERE id = $1 AND status = 'deleted' AND body = 'Secret-ish reply.'`, r.PostID))

	learner, err := e.svc.Thread(e.ctx, b, e.learner2, th.ThreadID)
	require.NoError(t, err)
	require.Empty(t, findPost(learner, r.PostID).HTML)
	mod, err := e.svc.Thread(e.ctx, b, e.educator, th.ThreadID)
	require.NoError(t, err)
	require.Contains(t, string(findPost(mod, r.PostID).HTML), "Secret-ish reply.")

	// A deleted opening post takes the thread off the list.
	require.NoError(t, e.svc.Delete(e.ctx, b, e.learner1, th.PostID))
	list, err := e.svc.Threads(e.ctx, b, e.learner2, discussion.ListQuery{})
	require.NoError(t, err)
	require.Empty(t, list)
}

// TestRateLimit allows PostsPerHour posts an hour to a learner, stores nothing for a
// refused one, and does not limit moderators.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Named, func(b *discussion.Board) { b.PostsPerHour = 2 })
	require.Equal(t, 2, b.PostsPerHour)
	host := e.thread(b, e.educator, discussionDraft("Host", "Reply here."))

	e.thread(b, e.learner1, discussionDraft("One", "First."))
	e.reply(b, e.learner1, host.ThreadID, 0, "Second.")
	before := e.count(`SELECT (SELECT count(*) FROM threads) + (SELECT count(*) FROM posts)`)

	for name, post := range map[string]func() error{
		"thread": func() error {
			_, err := e.svc.CreateThread(e.ctx, b, e.learner1, discussionDraft("Three", "Third."))
			return err
		},
		"reply": func() error {
			_, err := e.svc.Reply(e.ctx, b, e.learner1, host.ThreadID, 0, discussion.Draft{Body: "Third."})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			var rl *discussion.RateLimitedError
			require.ErrorAs(t, post(), &rl)
			require.Equal(t, 2, rl.Limit)
			// 10:17:23.123456 → the limit lifts at 11:00.
			require.Equal(t, 42*time.Minute+36*time.Second+876544*time.Microsecond, rl.RetryAfter)
			require.Contains(t, rl.Error(), "2 posts an hour")
		})
	}
	require.Equal(t, before, e.count(`SELECT (SELECT count(*) FROM threads) + (SELECT count(*) FROM posts)`))
	require.Equal(t, 2, e.count(`SELECT posts FROM post_rate WHERE user_id = $1`, learner1ID))

	// Another learner and the moderator are unaffected.
	e.thread(b, e.learner2, discussionDraft("Peer", "Mine."))
	for range 5 {
		e.reply(b, e.educator, host.ThreadID, 0, "Educator again.")
	}
	require.Zero(t, e.count(`SELECT count(*) FROM post_rate WHERE user_id = $1`, educatorID))

	// The next hour is allowed, and old hours can be pruned.
	e.clock.Set(time.Date(2025, 3, 4, 11, 0, 0, 0, time.UTC))
	e.thread(b, e.learner1, discussionDraft("Three", "Third, an hour on."))
	n, err := e.svc.PruneRates(e.ctx)
	require.NoError(t, err)
	require.Equal(t, int64(2), n) // learner1's and learner2's 10:00 rows
	require.Equal(t, 1, e.count(`SELECT count(*) FROM post_rate`))
}

// TestReplyFlattening: replies hang one level deep; a reply to a reply hangs off the
// same top-level post.
func TestReplyFlattening(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	th := e.thread(b, e.learner1, discussionDraft("Question", "Body."))
	other := e.thread(b, e.learner1, discussionDraft("Other", "Body."))
	e.clock.Advance(time.Minute)
	top := e.reply(b, e.learner2, th.ThreadID, 0, "Top-level answer.")
	e.clock.Advance(time.Minute)
	toOpening := e.reply(b, e.learner1, th.ThreadID, th.PostID, "Reply to the opening post.")
	e.clock.Advance(time.Minute)
	child := e.reply(b, e.learner1, th.ThreadID, top.PostID, "Reply to the answer.")
	e.clock.Advance(time.Minute)
	grandchild := e.reply(b, e.learner2, th.ThreadID, child.PostID, "Reply to the reply.")

	tests := []struct {
		name       string
		post, want int64
	}{
		{"top-level", top.PostID, 0},
		{"to the opening post", toOpening.PostID, 0},
		{"to a top-level post", child.PostID, top.PostID},
		{"to a reply", grandchild.PostID, top.PostID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got int64
			require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT coalesce(parent_id, 0) FROM posts WHERE id = $1`, tc.post).Scan(&got))
			require.Equal(t, tc.want, got)
		})
	}

	page, err := e.svc.Thread(e.ctx, b, e.learner2, th.ThreadID)
	require.NoError(t, err)
	require.Len(t, page.Posts, 2)
	require.Equal(t, top.PostID, page.Posts[0].ID)
	require.Equal(t, toOpening.PostID, page.Posts[1].ID)
	require.Len(t, page.Posts[0].Replies, 2)
	require.Equal(t, child.PostID, page.Posts[0].Replies[0].ID)
	require.Equal(t, grandchild.PostID, page.Posts[0].Replies[1].ID)
	require.Equal(t, top.PostID, page.Posts[0].Replies[1].ParentID)
	require.Equal(t, 4, e.replies(b, th.ThreadID))

	// A parent in another thread, or hidden, is not there to reply to.
	_, err = e.svc.Reply(e.ctx, b, e.learner1, other.ThreadID, top.PostID, discussion.Draft{Body: "Wrong thread."})
	require.ErrorIs(t, err, discussion.ErrNotFound)
	require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, top.PostID, discussion.ActionHide, "Wrong"))
	_, err = e.svc.Reply(e.ctx, b, e.learner1, th.ThreadID, top.PostID, discussion.Draft{Body: "To a hidden post."})
	require.ErrorIs(t, err, discussion.ErrNotFound)
	_, err = e.svc.Reply(e.ctx, b, e.learner1, th.ThreadID, 0, discussion.Draft{Body: " "})
	var inv *discussion.InvalidError
	require.ErrorAs(t, err, &inv)
	require.Equal(t, "body", inv.Field)
}

// TestAnonymousReplyToNamedReplyIsShown: a fully anonymous post keeps only its day, so
// it sorts before the named post it replies to.
//
// BUG (fails today): Thread() attaches a reply only to a top-level post it has already
// seen in created_at order; a fully anonymous reply (midnight) to a post written
// later that day is dropped from the page for everyone. Two fully anonymous posts of
// one day are ordered by their random ids, so the same happens at random.
func TestAnonymousReplyToNamedReplyIsShown(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Anonymous, nil)
	th := e.thread(b, e.learner2, discussionDraft("Question", "Body."))
	answer := e.reply(b, e.educator, th.ThreadID, 0, "The educator's named answer.")
	e.clock.Advance(time.Minute)
	followUp := e.reply(b, e.learner1, th.ThreadID, answer.PostID, "An anonymous follow-up.")

	for _, v := range []discussion.Viewer{e.learner1, e.learner2, e.educator} {
		page, err := e.svc.Thread(e.ctx, b, v, th.ThreadID)
		require.NoError(t, err)
		top := findPost(page, answer.PostID)
		require.NotNil(t, top)
		require.NotNil(t, findPost(page, followUp.PostID), "the anonymous reply is missing from the page")
		require.Len(t, top.Replies, 1)
	}
}

// TestXSS renders what people write at write time and drops anything that runs.
func TestXSS(t *testing.T) {
	t.Parallel()
	e := setup(t)
	talk := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	cases := e.board(discussion.KindCaseBoard, discussion.Named, nil)
	payloads := "Hello **world**\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n" +
		"[x](javascript:alert(3)) and <a href=\"javascript:alert(4)\" onclick=\"alert(5)\">y</a>"
	cd := caseDraft("Case")
	cd.Sections["presentation"] = payloads

	th := e.thread(talk, e.learner1, discussionDraft("<script>alert(0)</script>", payloads))
	r := e.reply(talk, e.learner2, th.ThreadID, 0, payloads)
	c := e.thread(cases, e.learner1, cd)

	tests := []struct {
		name   string
		board  discussion.Board
		thread int64
		post   int64
	}{
		{"opening post", talk, th.ThreadID, th.PostID},
		{"reply", talk, th.ThreadID, r.PostID},
		{"case section", cases, c.ThreadID, c.PostID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stored string
			require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT body_html FROM posts WHERE id = $1`, tc.post).Scan(&stored))
			page, err := e.svc.Thread(e.ctx, tc.board, e.learner2, tc.thread)
			require.NoError(t, err)
			shown := string(findPost(page, tc.post).HTML)
			require.Equal(t, stored, shown)
			require.Contains(t, shown, "<strong>world</strong>")
			lower := strings.ToLower(shown)
			for _, bad := range []string{"<script", "alert(", "onerror", "onclick", "javascript:", "<img"} {
				require.NotContains(t, lower, bad)
			}
		})
	}
}

// TestCaseTemplate checks the case board's structured threads.
func TestCaseTemplate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindCaseBoard, discussion.Named, nil)
	require.True(t, b.IsCaseBoard())

	var required []string
	for _, s := range discussion.CaseSections {
		if s.Required {
			required = append(required, s.Key)
		}
	}
	require.Equal(t, []string{"presentation", "question"}, required)
	for _, key := range required {
		t.Run("missing "+key, func(t *testing.T) {
			d := caseDraft("Case")
			d.Sections[key] = "   "
			_, err := e.svc.CreateThread(e.ctx, b, e.learner1, d)
			var inv *discussion.InvalidError
			require.ErrorAs(t, err, &inv)
			require.Equal(t, "section_"+key, inv.Field)
		})
	}
	require.Zero(t, e.count(`SELECT count(*) FROM threads`))

	d := caseDraft("  Chest   pain ")
	d.Kind = "" // a case board makes cases by default
	d.Grades = []string{"F1", "XX", "F1", "nurse"}
	d.Tags = []string{"ECG, chest pain", "ecg", " "}
	d.Sections["learning_points"] = "Think of **aortic dissection**."
	p := e.thread(b, e.learner1, d)

	var kind string
	var sections []byte
	var html string
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT t.kind, p.sections, p.body_html FROM threads t JOIN posts p ON p.thread_id = t.id WHERE p.id = $1`,
		p.PostID).Scan(&kind, &sections, &html))
	require.Equal(t, discussion.ThreadCase, kind)
	var secs []map[string]string
	require.NoError(t, json.Unmarshal(sections, &secs))
	require.Equal(t, []map[string]string{
		{"key": "presentation", "text": d.Sections["presentation"]},
		{"key": "question", "text": "What would you do next?"},
		{"key": "learning_points", "text": "Think of **aortic dissection**."},
	}, secs)
	require.Contains(t, html, "<h3>Presentation</h3>")
	require.Contains(t, html, "<h3>Learning points</h3>")
	require.Contains(t, html, "<strong>aortic dissection</strong>")
	require.NotContains(t, html, "Investigations")

	page, err := e.svc.Thread(e.ctx, b, e.learner2, p.ThreadID)
	require.NoError(t, err)
	require.Equal(t, "Chest pain", page.Title)
	require.Equal(t, "Cardiology", page.Specialty)
	require.Equal(t, "Emergency department", page.Setting)
	require.Equal(t, []string{"F1", "nurse"}, page.Grades)
	require.Equal(t, []string{"ecg", "chest pain"}, page.Tags)

	draft, opening, err := e.svc.DraftOf(e.ctx, b, e.learner1, p.PostID)
	require.NoError(t, err)
	require.True(t, opening)
	require.Equal(t, map[string]string{"presentation": d.Sections["presentation"], "question": "What would you do next?",
		"learning_points": "Think of **aortic dissection**."}, draft.Sections)

	// A discussion board makes discussions whatever the form says.
	talk := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	od := discussionDraft("Not an opportunity", "Body.")
	od.Kind = discussion.ThreadOpportunity
	q := e.thread(talk, e.learner1, od)
	require.Equal(t, 1, e.count(`SELECT count(*) FROM threads WHERE id = $1 AND kind = 'discussion' AND expires_at IS NULL`, q.ThreadID))

	// Limits.
	var inv *discussion.InvalidError
	_, err = e.svc.CreateThread(e.ctx, talk, e.learner1, discussionDraft(strings.Repeat("é", 201), "Body."))
	require.ErrorAs(t, err, &inv)
	require.Equal(t, "title", inv.Field)
	_, err = e.svc.CreateThread(e.ctx, talk, e.learner1, discussionDraft(strings.Repeat("é", 200), "Body."))
	require.NoError(t, err)
	many := discussionDraft("Tags", "Body.")
	many.Tags = []string{"a,b,c,d,e,f,g,h,i,j,k"}
	_, err = e.svc.CreateThread(e.ctx, talk, e.learner1, many)
	require.ErrorAs(t, err, &inv)
	require.Equal(t, "tags", inv.Field)
}

// TestOpportunityExpiry: a learning opportunity drops out of the list when it ends.
func TestOpportunityExpiry(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindCaseBoard, discussion.Named, nil)
	opp := func(title string, expires time.Time) discussion.Draft {
		return discussion.Draft{Kind: discussion.ThreadOpportunity, Title: title, Body: "Come to resus.", ExpiresAt: expires}
	}

	for name, expires := range map[string]time.Time{
		"in the past":          start.Add(-time.Minute),
		"now":                  start,
		"more than seven days": start.Add(7*24*time.Hour + time.Second),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.svc.CreateThread(e.ctx, b, e.learner1, opp("Bad", expires))
			var inv *discussion.InvalidError
			require.ErrorAs(t, err, &inv)
			require.Equal(t, "expires", inv.Field)
		})
	}

	short := e.thread(b, e.learner1, opp("Chest drain in resus", start.Add(time.Hour)))
	def := e.thread(b, e.learner1, opp("Lumbar puncture on ward 3", time.Time{}))
	week := e.thread(b, e.learner1, opp("Clinic all week", start.Add(7*24*time.Hour)))
	kase := e.thread(b, e.learner1, caseDraft("A case never expires"))
	page, err := e.svc.Thread(e.ctx, b, e.learner2, def.ThreadID)
	require.NoError(t, err)
	require.Equal(t, discussion.ThreadOpportunity, page.Kind)
	require.NotNil(t, page.ExpiresAt)
	require.True(t, page.ExpiresAt.Equal(start.Add(8*time.Hour)), "default is eight hours: %v", page.ExpiresAt)

	tests := []struct {
		at   time.Duration
		want []int64
	}{
		{0, []int64{short.ThreadID, def.ThreadID, week.ThreadID, kase.ThreadID}},
		{time.Hour - time.Second, []int64{short.ThreadID, def.ThreadID, week.ThreadID, kase.ThreadID}},
		{time.Hour, []int64{def.ThreadID, week.ThreadID, kase.ThreadID}},
		{8 * time.Hour, []int64{week.ThreadID, kase.ThreadID}},
		{8 * 24 * time.Hour, []int64{kase.ThreadID}},
	}
	for _, tc := range tests {
		e.clock.Set(start.Add(tc.at))
		for _, v := range []discussion.Viewer{e.learner2, e.educator} {
			list, err := e.svc.Threads(e.ctx, b, v, discussion.ListQuery{})
			require.NoError(t, err)
			require.ElementsMatch(t, tc.want, threadIDs(list), "at +%v", tc.at)
		}
	}
}
