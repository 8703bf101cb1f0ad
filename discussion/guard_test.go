package discussion_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/discussion"
	"github.com/huddle-lti/huddle/guard"
)

// prefix puts multi-byte runes before the number, so byte and rune offsets differ.
const prefix = "Café → "

var prefixRunes = len([]rune(prefix))

// TestGuardRefuses puts a valid NHS number in each field a person types: the service
// refuses with the field and the rune offsets, and stores nothing.
func TestGuardRefuses(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cases := e.board(discussion.KindCaseBoard, discussion.Named, nil)
	talk := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	host := e.thread(talk, e.educator, discussionDraft("Host", "Reply here."))

	tests := []struct {
		field string
		start int
		board discussion.Board
		reply bool
		draft func(d *discussion.Draft)
	}{
		{"title", prefixRunes, cases, false, func(d *discussion.Draft) { d.Title = prefix + nhsNumber }},
		{"specialty", prefixRunes, cases, false, func(d *discussion.Draft) { d.Specialty = prefix + nhsNumber }},
		{"setting", prefixRunes, cases, false, func(d *discussion.Draft) { d.Setting = prefix + nhsNumber }},
		{"section_presentation", prefixRunes, cases, false, func(d *discussion.Draft) { d.Sections["presentation"] = prefix + nhsNumber }},
		{"section_question", prefixRunes, cases, false, func(d *discussion.Draft) { d.Sections["question"] = prefix + nhsNumber }},
		{"section_investigations", prefixRunes, cases, false, func(d *discussion.Draft) { d.Sections["investigations"] = prefix + nhsNumber }},
		{"section_learning_points", prefixRunes, cases, false, func(d *discussion.Draft) { d.Sections["learning_points"] = prefix + nhsNumber }},
		// Tags are checked as the list the thread shows: "ecg, 943 476 5919".
		{"tags", len([]rune("ecg, ")), cases, false, func(d *discussion.Draft) { d.Tags = []string{"ecg", nhsNumber} }},
		{"body", prefixRunes, talk, false, func(d *discussion.Draft) { *d = discussionDraft("Question", prefix+nhsNumber) }},
		{"body", prefixRunes, talk, true, func(d *discussion.Draft) { *d = discussion.Draft{Body: prefix + nhsNumber} }},
	}
	for _, tc := range tests {
		name := tc.field
		if tc.reply {
			name = "reply " + name
		}
		t.Run(name, func(t *testing.T) {
			d := caseDraft("Chest pain")
			d.Sections = map[string]string{"presentation": "Chest pain.", "question": "Next steps?"}
			tc.draft(&d)
			before := e.count(`SELECT (SELECT count(*) FROM threads) + (SELECT count(*) FROM posts) + (SELECT count(*) FROM post_rate)`)
			var err error
			if tc.reply {
				_, err = e.svc.Reply(e.ctx, tc.board, e.learner1, host.ThreadID, 0, d)
			} else {
				_, err = e.svc.CreateThread(e.ctx, tc.board, e.learner1, d)
			}
			var ge *discussion.GuardError
			require.ErrorAs(t, err, &ge)
			require.Len(t, ge.Findings, 1, "%v", ge.Findings)
			require.Equal(t, []guard.Finding{{Kind: guard.KindNHSNumber, Start: tc.start, End: tc.start + len([]rune(nhsNumber)),
				Text: nhsNumber}}, ge.Findings[tc.field])
			require.Contains(t, ge.Error(), "1 possible patient identifier")
			after := e.count(`SELECT (SELECT count(*) FROM threads) + (SELECT count(*) FROM posts) + (SELECT count(*) FROM post_rate)`)
			require.Equal(t, before, after, "a refused post left rows behind")
			require.Zero(t, e.count(`SELECT count(*) FROM posts WHERE body LIKE '%5919%'`))
		})
	}

	t.Run("several fields", func(t *testing.T) {
		d := caseDraft(prefix + nhsNumber)
		d.Sections["question"] = "Was " + nhsNumber + " right?"
		_, err := e.svc.CreateThread(e.ctx, cases, e.learner1, d)
		var ge *discussion.GuardError
		require.ErrorAs(t, err, &ge)
		require.Len(t, ge.Findings, 2)
		require.Equal(t, prefixRunes, ge.Findings["title"][0].Start)
		require.Equal(t, 4, ge.Findings["section_question"][0].Start)
		require.Contains(t, ge.Error(), "2 possible patient identifiers")
	})
	require.Equal(t, 1, e.count(`SELECT count(*) FROM threads`)) // the host thread only
	require.Zero(t, e.count(`SELECT count(*) FROM post_rate WHERE user_id = $1`, learner1ID))
}

// TestGuardOverride stores a post whose author says the findings are not patient
// identifiers: held for a moderator, with the kinds and positions kept, never the text.
func TestGuardOverride(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindCaseBoard, discussion.Peers, nil)
	d := caseDraft(prefix + nhsNumber)
	d.Sections["question"] = "Is " + nhsNumber + " a trial code?"
	d.GuardReason = "  It is the trial's   protocol number  "
	p, err := e.svc.CreateThread(e.ctx, b, e.learner1, d)
	require.NoError(t, err)
	require.True(t, p.Held)
	require.Empty(t, e.announced.take(), "a held post must not be announced")

	var findings, reason, status, heldFor string
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT guard_findings::text, guard_reason, status, held_for FROM posts WHERE id = $1`,
		p.PostID).Scan(&findings, &reason, &status, &heldFor))
	require.Equal(t, "held", status)
	require.Equal(t, "guard", heldFor)
	require.Equal(t, "It is the trial's protocol number", reason)
	for _, digits := range []string{"5919", "9434765919", "943 476", "476"} {
		require.NotContains(t, findings, digits)
	}
	var kept []map[string]any
	require.NoError(t, json.Unmarshal([]byte(findings), &kept))
	require.Equal(t, []map[string]any{
		{"field": "section_question", "kind": "nhs_number", "start": float64(3), "end": float64(15)},
		{"field": "title", "kind": "nhs_number", "start": float64(prefixRunes), "end": float64(prefixRunes + 12)},
	}, kept)

	// Other learners do not see it; the author does, without the guard's details; the
	// moderators' queue shows the kinds.
	_, err = e.svc.Thread(e.ctx, b, e.learner2, p.ThreadID)
	require.ErrorIs(t, err, discussion.ErrNotFound)
	mine, err := e.svc.Thread(e.ctx, b, e.learner1, p.ThreadID)
	require.NoError(t, err)
	require.Equal(t, "held", mine.Opening.Status)
	require.Empty(t, mine.Opening.GuardKinds)
	queue, err := e.svc.Queue(e.ctx, b, e.educator)
	require.NoError(t, err)
	require.Len(t, queue, 1)
	require.Equal(t, p.PostID, queue[0].ID)
	require.Equal(t, []string{"nhs_number", "nhs_number"}, queue[0].GuardKinds)
	require.Equal(t, "guard", queue[0].HeldFor)
	require.Empty(t, queue[0].Author.Name, "anonymous to peers: the queue does not name the author either")

	require.NoError(t, e.svc.Moderate(e.ctx, b, e.educator, p.PostID, discussion.ActionApprove, ""))
	th, err := e.svc.Thread(e.ctx, b, e.learner2, p.ThreadID)
	require.NoError(t, err)
	require.Equal(t, "visible", th.Opening.Status)
	require.Len(t, e.announced.take(), 1)

	// Editing into the guard: refused without a reason and nothing changes; with one,
	// held again.
	r := e.reply(b, e.learner2, p.ThreadID, 0, "A trial code, I think.")
	err = e.svc.Edit(e.ctx, b, e.learner2, r.PostID, discussion.Draft{Body: "Call 943-476-5919."})
	var ge *discussion.GuardError
	require.ErrorAs(t, err, &ge)
	require.Equal(t, 5, ge.Findings["body"][0].Start)
	require.Zero(t, e.count(`SELECT count(*) FROM posts WHERE body LIKE '%5919%' AND id = $1`, r.PostID))
	require.Zero(t, e.count(`SELECT count(*) FROM post_revisions WHERE post_id = $1`, r.PostID))
	require.NoError(t, e.svc.Edit(e.ctx, b, e.learner2, r.PostID, discussion.Draft{Body: "Call 943-476-5919.", GuardReason: "Trial code"}))
	status, heldFor = e.status(r.PostID)
	require.Equal(t, "held", status)
	require.Equal(t, "guard", heldFor)
}
