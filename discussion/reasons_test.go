package discussion_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/discussion"
)

// staffName and patientName are what the guard calls a clinician's titled name and a
// patient's; logs and tables must never hold either once a test is done with them.
const (
	staffName   = "Dr Okafor"
	patientName = "Mrs Okoro"
)

// requireNoText fails if the service's log holds any of the texts.
func (e *env) requireNoText(texts ...string) {
	e.t.Helper()
	logs := e.logs.String()
	for _, s := range texts {
		require.NotContains(e.t, logs, s, "the log holds text someone wrote")
	}
}

// logLines are the service's log lines whose message is msg, decoded.
func (e *env) logLines(msg string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if line == "" || json.Unmarshal([]byte(line), &m) != nil || m["msg"] != msg {
			continue
		}
		out = append(out, m)
	}
	return out
}

// TestColleagueReason: "This is a colleague, not a patient" publishes a post whose only
// findings are clinicians' titled names at once, with the fixed reason 'colleague', the
// kinds and positions kept and logged and never the text, unless the board holds such
// posts. The claim is the author's; the findings decide, so it cannot carry a patient
// detail past the guard.
func TestColleagueReason(t *testing.T) {
	t.Parallel()
	e := setup(t)
	open := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)
	holding := e.board(discussion.KindDiscussionBoard, discussion.Named, func(b *discussion.Board) { b.HoldColleagueNames = true })
	premoderated := e.board(discussion.KindDiscussionBoard, discussion.Named, func(b *discussion.Board) { b.Premoderated = true })
	require.False(t, open.HoldColleagueNames, "off unless the educator turns it on")
	require.True(t, holding.HoldColleagueNames, "the setting is saved and read back")
	host := e.thread(open, e.educator, discussionDraft("Host", "Reply here."))
	e.announced.take()

	type want struct {
		status, heldFor string
		kinds           []string // stored findings; nil for a refusal
	}
	refused := want{}
	tests := []struct {
		name  string
		board discussion.Board
		reply bool
		draft discussion.Draft
		want  want
	}{
		{"lone doctor, published", open, false, discussionDraft("Simulation", staffName+" ran the simulation."),
			want{"visible", "", []string{"titled_name"}}},
		{"two clinical titles, published", open, true, discussion.Draft{Body: "Sister Patel and Nurse Jones taught us."},
			want{"visible", "", []string{"titled_name", "titled_name"}}},
		{"name in the title only, published", open, false, discussionDraft("With Prof. Adeyemi", "A good teaching round."),
			want{"visible", "", []string{"titled_name"}}},
		{"board holds colleague names", holding, false, discussionDraft("Simulation", staffName+" ran the simulation."),
			want{"held", "guard", []string{"titled_name"}}},
		{"pre-moderated board still pre-moderates", premoderated, false, discussionDraft("Simulation", staffName+" ran the simulation."),
			want{"held", "premoderation", []string{"titled_name"}}},
		{"doctor plus NHS number is refused", open, false, discussionDraft("Simulation", staffName+" saw the man with NHS number "+nhsNumber+"."),
			refused},
		{"doctor plus NHS number in a reply is refused", open, true, discussion.Draft{Body: staffName + " reviewed " + nhsNumber + " today."},
			refused},
		{"doctor plus a patient's name is refused", open, false, discussionDraft("Simulation", staffName+" saw "+patientName+" on the ward."),
			refused},
		{"doctor in the body, NHS number in the title, is refused", open, false, discussionDraft("Re "+nhsNumber, staffName+" ran it."),
			refused},
		{"nothing but a patient's name is refused", open, false, discussionDraft("Ward round", patientName+" was seen."),
			refused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.draft
			d.Colleague = true
			before := e.count(`SELECT (SELECT count(*) FROM threads) + (SELECT count(*) FROM posts) + (SELECT count(*) FROM post_rate)`)
			var p discussion.Posted
			var err error
			if tc.reply {
				p, err = e.svc.Reply(e.ctx, tc.board, e.learner1, host.ThreadID, 0, d)
			} else {
				p, err = e.svc.CreateThread(e.ctx, tc.board, e.learner1, d)
			}
			if tc.want.kinds == nil {
				var ge *discussion.GuardError
				require.ErrorAs(t, err, &ge, "the colleague button carried a patient detail past the guard")
				after := e.count(`SELECT (SELECT count(*) FROM threads) + (SELECT count(*) FROM posts) + (SELECT count(*) FROM post_rate)`)
				require.Equal(t, before, after, "a refused post left rows behind")
				require.Zero(t, e.count(`SELECT count(*) FROM posts WHERE body LIKE '%5919%' OR body LIKE '%Okoro%'`))
				require.Empty(t, e.announced.take())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want.status == "held", p.Held)
			var status, heldFor, reason, findings string
			require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT status, held_for, guard_reason, guard_findings::text FROM posts WHERE id = $1`,
				p.PostID).Scan(&status, &heldFor, &reason, &findings))
			require.Equal(t, tc.want.status, status)
			require.Equal(t, tc.want.heldFor, heldFor)
			require.Equal(t, discussion.ReasonColleague, reason)
			var kept []map[string]any
			require.NoError(t, json.Unmarshal([]byte(findings), &kept))
			var kinds []string
			for _, f := range kept {
				kinds = append(kinds, f["kind"].(string))
				require.Equal(t, true, f["clinician"])
				require.ElementsMatch(t, []string{"field", "kind", "start", "end", "clinician"}, keys(f), "only kinds and positions are kept")
			}
			require.Equal(t, tc.want.kinds, kinds)
			for _, name := range []string{"Okafor", "Patel", "Jones", "Adeyemi"} {
				require.NotContains(t, findings, name)
			}
			if status == "visible" {
				require.Len(t, e.announced.take(), 1, "a published post is announced")
			} else {
				require.Empty(t, e.announced.take(), "a held post is not announced")
			}
		})
	}

	// Each accepted claim was logged: board, whether the board holds them, and the
	// kinds and positions; each refused one as a stop that says the button was used.
	accepted := e.logLines("guard findings are colleagues' names, the author says")
	require.Len(t, accepted, 5)
	first := accepted[0]
	require.EqualValues(t, open.ActivityID, first["board"])
	require.Equal(t, false, first["held"])
	require.Equal(t, []any{map[string]any{"field": "body", "kind": "titled_name", "start": float64(0), "end": float64(9),
		"clinician": true}}, first["findings"])
	stopped := e.logLines("guard stopped a post")
	require.Len(t, stopped, 5)
	for _, l := range stopped {
		require.Equal(t, true, l["colleague"])
	}
	e.requireNoText("Okafor", "Okoro", "Patel", "Jones", "Adeyemi", nhsNumber, "9434765919", "simulation")
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestColleagueReasonEditAndAnonymous: an edit and a fully anonymous post follow the
// same rule. A fully anonymous post is judged again at its release from what was
// stored, so the board's setting at release decides, and a typed reason that reads
// "colleague" on a patient's NHS number is held like any override.
func TestColleagueReasonEditAndAnonymous(t *testing.T) {
	t.Parallel()
	e := setup(t)
	open := e.board(discussion.KindDiscussionBoard, discussion.Named, nil)

	t.Run("edit", func(t *testing.T) {
		p := e.thread(open, e.learner1, discussionDraft("Simulation", "The registrar ran it."))
		err := e.svc.Edit(e.ctx, open, e.learner1, p.PostID, discussion.Draft{Title: "Simulation", Body: staffName + " ran it.",
			Colleague: true})
		require.NoError(t, err)
		status, _ := e.status(p.PostID)
		require.Equal(t, "visible", status)
		err = e.svc.Edit(e.ctx, open, e.learner1, p.PostID, discussion.Draft{Title: "Simulation",
			Body: staffName + " ran it for " + nhsNumber + ".", Colleague: true})
		var ge *discussion.GuardError
		require.ErrorAs(t, err, &ge)
		require.Zero(t, e.count(`SELECT count(*) FROM posts WHERE body LIKE '%5919%'`))
	})

	t.Run("typed reason that reads colleague", func(t *testing.T) {
		d := discussionDraft("Code", "Trial "+nhsNumber+".")
		d.GuardReason = discussion.ReasonColleague
		p, err := e.svc.CreateThread(e.ctx, open, e.learner1, d)
		require.NoError(t, err)
		require.True(t, p.Held, "the stored findings are not colleagues' names")
	})

	for _, hold := range []bool{false, true} {
		name := "fully anonymous, published"
		if hold {
			name = "fully anonymous, board holds colleague names"
		}
		t.Run(name, func(t *testing.T) {
			b := e.board(discussion.KindDiscussionBoard, discussion.Anonymous, func(b *discussion.Board) { b.HoldColleagueNames = hold })
			d := discussionDraft("Simulation", staffName+" ran the simulation.")
			d.Colleague = true
			p, err := e.svc.CreateThread(e.ctx, b, e.learner1, d)
			require.NoError(t, err)
			require.True(t, p.Queued)
			var reason string
			require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT guard_reason FROM anonymous_pending WHERE board_id = $1`, b.ActivityID).Scan(&reason))
			require.Equal(t, discussion.ReasonColleague, reason)
			released, err := e.svc.ReleaseNow(e.ctx, b.ActivityID)
			require.NoError(t, err)
			require.Len(t, released, 1)
			require.Equal(t, hold, released[0].Held)

			d = discussionDraft("Simulation", staffName+" ran it for "+nhsNumber+".")
			d.Colleague = true
			_, err = e.svc.CreateThread(e.ctx, b, e.learner1, d)
			var ge *discussion.GuardError
			require.ErrorAs(t, err, &ge)
			require.Zero(t, e.count(`SELECT count(*) FROM anonymous_pending WHERE board_id = $1`, b.ActivityID))
		})
	}
	e.requireNoText("Okafor", nhsNumber, "9434765919", "simulation")
}

// TestReasonsAreGuarded: every reason a person types (a report, a hide, a reveal, a
// guard override) passes the guard. One that may identify a patient, or names anyone,
// is refused with the field and nothing is stored: no report, no audit line, no
// change to the post. The log says which kind of reason was stopped, never its text.
func TestReasonsAreGuarded(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.board(discussion.KindDiscussionBoard, discussion.Peers, nil)
	th := e.thread(b, e.learner1, discussionDraft("Question", "What dose of aspirin?"))
	r := e.reply(b, e.learner1, th.ThreadID, 0, "75 mg, I think.")

	// Each reason kind, as a function of the reason, with the field it is refused under.
	kinds := []struct {
		name  string
		field string
		send  func(reason string) error
	}{
		{"report", "reason", func(reason string) error { return e.svc.Report(e.ctx, b, e.learner2, r.PostID, reason) }},
		{"hide", "reason", func(reason string) error {
			return e.svc.Moderate(e.ctx, b, e.educator, r.PostID, discussion.ActionHide, reason)
		}},
		{"dismiss with a reason", "reason", func(reason string) error {
			return e.svc.Moderate(e.ctx, b, e.educator, r.PostID, discussion.ActionDismiss, reason)
		}},
		{"reveal", "reason", func(reason string) error {
			_, err := e.svc.Reveal(e.ctx, b, e.educator, r.PostID, reason)
			return err
		}},
		{"guard override", "guard_reason", func(reason string) error {
			d := discussion.Draft{Body: "Trial code " + nhsNumber + ".", GuardReason: reason}
			_, err := e.svc.Reply(e.ctx, b, e.learner2, th.ThreadID, 0, d)
			return err
		}},
	}
	reasons := []struct {
		name, reason string
		kind         string // what the guard finds; "" for a reason that passes
	}{
		{"NHS number", "It gives the patient's NHS number " + nhsNumber, "nhs_number"},
		{"patient's name", "It names " + patientName + " from bay 4", "titled_name"},
		{"staff name", staffName + " asked me to", "titled_name"},
		{"date of birth", "Patient DOB 12/03/1961 is in it", "date_of_birth"},
		{"clean", "It may identify a patient", ""},
	}
	stored := func() int {
		return e.count(`SELECT (SELECT count(*) FROM post_reports) + (SELECT count(*) FROM moderation_log)
     + (SELECT count(*) FROM posts) + (SELECT count(*) FROM posts WHERE status <> 'visible')`)
	}
	for _, k := range kinds {
		for _, rs := range reasons {
			t.Run(k.name+"/"+rs.name, func(t *testing.T) {
				before := stored()
				err := k.send(rs.reason)
				if rs.kind == "" {
					require.NoError(t, err)
					require.Greater(t, stored(), before, "the clean reason was stored: the test can tell")
					// Undo what a clean reason did, so the next row starts from a visible post.
					_, err := e.pool.Exec(e.ctx, `UPDATE posts SET status = 'visible', hidden_reason = '' WHERE id = $1`, r.PostID)
					require.NoError(t, err)
					return
				}
				var ge *discussion.GuardError
				require.ErrorAs(t, err, &ge)
				require.Len(t, ge.Findings[k.field], 1)
				require.Equal(t, rs.kind, string(ge.Findings[k.field][0].Kind))
				require.Equal(t, before, stored(), "a refused reason left rows behind")
				for _, q := range []string{
					`SELECT count(*) FROM post_reports WHERE reason LIKE '%' || $1 || '%'`,
					`SELECT count(*) FROM moderation_log WHERE reason LIKE '%' || $1 || '%'`,
					`SELECT count(*) FROM posts WHERE hidden_reason LIKE '%' || $1 || '%' OR guard_reason LIKE '%' || $1 || '%'`,
				} {
					require.Zero(t, e.count(q, rs.reason[len(rs.reason)-6:]))
				}
				status, _ := e.status(r.PostID)
				require.Equal(t, "visible", status)
			})
		}
	}
	// Every refused reason was logged as such, with what kind of reason it was.
	var actions []string
	for _, l := range e.logLines("guard stopped a reason") {
		actions = append(actions, l["action"].(string))
		require.EqualValues(t, b.ActivityID, l["board"])
	}
	require.ElementsMatch(t, []string{"report", "report", "report", "report", "hide", "hide", "hide", "hide",
		"dismiss", "dismiss", "dismiss", "dismiss", "reveal", "reveal", "reveal", "reveal"}, actions)
	e.requireNoText(nhsNumber, "9434765919", "Okoro", "Okafor", "12/03/1961", "bay 4", "asked me")
}
