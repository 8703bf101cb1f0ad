package reflection_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/guard"
	"github.com/huddle-lti/huddle/reflection"
)

const nhsNumber = "943 476 5919" // a valid NHS number (its check digit is right)

func TestSignOffIsOfOneExactVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	me, sup, edu := w.people[author], w.people[supervisorShared], w.people[educator]
	au := w.as(t, author, w.log)

	id, v, err := w.svc.Submit(ctx, w.log, au, 0, practice("Handover", "The first telling."), nil)
	require.NoError(t, err)
	require.Equal(t, 1, v)
	require.NoError(t, w.svc.Share(ctx, me, id, sup))
	require.NoError(t, w.svc.Share(ctx, me, id, reflection.Everyone))

	require.ErrorIs(t, w.svc.SignOff(ctx, me, id, 1, "I sign my own."), reflection.ErrOwnReflection)
	require.NoError(t, w.svc.SignOff(ctx, sup, id, 1, "  A clear plan.  "))

	refused := func(t *testing.T, who int64, version int, message string) {
		t.Helper()
		var ie *reflection.InvalidError
		require.ErrorAs(t, w.svc.SignOff(ctx, who, id, version, "Again."), &ie)
		require.Equal(t, "version", ie.Field)
		require.Contains(t, ie.Message, message)
	}
	t.Run("twice", func(t *testing.T) {
		refused(t, sup, 1, "already signed off")
		refused(t, edu, 1, "already signed off")
	})
	t.Run("a version not yet written", func(t *testing.T) { refused(t, sup, 2, "newer version") })

	r, err := w.svc.Get(ctx, me, id)
	require.NoError(t, err)
	require.NotNil(t, r.Current.SignOff)
	require.Equal(t, reflection.SignOff{Supervisor: "Dev Supervisor", Comment: "A clear plan.", SignedAt: r.Current.SignOff.SignedAt,
		Role: reflection.RoleMentor},
		*r.Current.SignOff, "the name and role as they were, and the trimmed comment")
	mine, err := w.svc.Mine(ctx, me, 0)
	require.NoError(t, err)
	require.True(t, mine[0].SignedOff)

	// The author revises it: version 2 starts without a sign-off; version 1 keeps its own.
	id2, v, err := w.svc.Submit(ctx, w.log, au, id, practice("Handover, revised", "The second telling."), nil)
	require.NoError(t, err)
	require.Equal(t, id, id2)
	require.Equal(t, 2, v)

	r, err = w.svc.Get(ctx, me, id)
	require.NoError(t, err)
	require.Len(t, r.Versions, 2)
	require.Equal(t, 2, r.Versions[0].Number)
	require.Nil(t, r.Versions[0].SignOff, "the new version is not signed off")
	require.Equal(t, 1, r.Versions[1].Number)
	require.Equal(t, "The first telling.", r.Versions[1].Answers["what_happened"])
	require.NotNil(t, r.Versions[1].SignOff, "version 1 keeps its sign-off")
	require.Equal(t, "Dev Supervisor", r.Versions[1].SignOff.Supervisor)

	seen, err := w.svc.Get(ctx, sup, id)
	require.NoError(t, err)
	require.Equal(t, 2, seen.Current.Number)
	require.Equal(t, "The second telling.", seen.Current.Answers["what_happened"])
	require.Nil(t, seen.Current.SignOff, "the supervisor sees the new version as not signed off")
	mine, err = w.svc.Mine(ctx, me, 0)
	require.NoError(t, err)
	require.False(t, mine[0].SignedOff)
	require.Equal(t, 2, mine[0].Version)

	t.Run("a stale version", func(t *testing.T) { refused(t, sup, 1, "newer version") })
	require.Equal(t, 1, w.count(t, `SELECT count(*) FROM reflection_signoffs WHERE reflection_id = $1`, id))

	require.NoError(t, w.svc.SignOff(ctx, edu, id, 2, ""))
	r, err = w.svc.Get(ctx, me, id)
	require.NoError(t, err)
	require.Equal(t, "Cara Educator", r.Versions[0].SignOff.Supervisor)
	require.Equal(t, "Dev Supervisor", r.Versions[1].SignOff.Supervisor)

	t.Run("comments are of the version read", func(t *testing.T) {
		require.NoError(t, w.svc.Comment(ctx, sup, id, "Better."))
		r, err := w.svc.Get(ctx, me, id)
		require.NoError(t, err)
		require.Len(t, r.Comments, 1)
		require.Equal(t, reflection.Comment{Version: 2, Author: "Dev Supervisor", Body: "Better.", CreatedAt: r.Comments[0].CreatedAt},
			r.Comments[0])
	})
}

func TestGuardStopsCommentsAndSignOffs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	me, sup := w.people[author], w.people[supervisorShared]
	id, _, err := w.svc.Submit(ctx, w.log, w.as(t, author, w.log), 0, practice("Handover", "Busy night."), nil)
	require.NoError(t, err)
	require.NoError(t, w.svc.Share(ctx, me, id, sup))

	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"supervisor's comment", func() error { return w.svc.Comment(ctx, sup, id, "Was that NHS "+nhsNumber+"?") }},
		{"author's comment", func() error { return w.svc.Comment(ctx, me, id, "It was "+nhsNumber+".") }},
		{"sign-off comment", func() error { return w.svc.SignOff(ctx, sup, id, 1, "Signed for "+nhsNumber+".") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ge *reflection.GuardError
			require.ErrorAs(t, tc.do(), &ge)
			require.Len(t, ge.Findings["comment"], 1)
			require.Equal(t, guard.KindNHSNumber, ge.Findings["comment"][0].Kind)
			require.Equal(t, nhsNumber, ge.Findings["comment"][0].Text)
		})
	}
	require.Zero(t, w.count(t, `SELECT count(*) FROM reflection_comments`))
	require.Zero(t, w.count(t, `SELECT count(*) FROM reflection_signoffs`))

	var ie *reflection.InvalidError
	require.ErrorAs(t, w.svc.Comment(ctx, sup, id, "   "), &ie)
	require.Equal(t, "comment", ie.Field)
}

func TestDrafts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	au := w.as(t, author, w.log)

	// A draft need not be complete: no title, one answer of three.
	id, err := w.svc.SaveDraft(ctx, w.log, au, 0, reflection.Content{Answers: map[string]string{"learned": "Half a thought"}}, nil)
	require.NoError(t, err)
	require.NotZero(t, id)
	r, err := w.svc.Get(ctx, au.UserID, id)
	require.NoError(t, err)
	require.Nil(t, r.Current)
	require.Equal(t, &reflection.Content{Answers: map[string]string{"learned": "Half a thought"}, Tags: []string{}}, r.Draft)
	require.NotNil(t, r.DraftSavedAt)
	firstSaved := *r.DraftSavedAt

	// Saving again updates the same reflection.
	again, err := w.svc.SaveDraft(ctx, w.log, au, id, reflection.Content{Title: "  Night   shift ",
		Answers: map[string]string{"learned": "A whole thought.", "not_a_prompt": "dropped"}}, nil)
	require.NoError(t, err)
	require.Equal(t, id, again)
	require.Equal(t, 1, w.count(t, `SELECT count(*) FROM reflections`))
	r, err = w.svc.Get(ctx, au.UserID, id)
	require.NoError(t, err)
	require.Equal(t, "Night shift", r.Draft.Title)
	require.Equal(t, map[string]string{"learned": "A whole thought."}, r.Draft.Answers)
	require.True(t, r.DraftSavedAt.After(firstSaved))
	savedDraft := w.draftJSON(t, id)

	// Another person's or another activity's draft is not found.
	_, err = w.svc.SaveDraft(ctx, w.log, w.as(t, peerLearner, w.log), id, reflection.Content{Title: "Mine now"}, nil)
	require.ErrorIs(t, err, reflection.ErrNotFound)
	_, err = w.svc.SaveDraft(ctx, w.logB, w.as(t, author, w.logB), id, reflection.Content{Title: "Moved"}, nil)
	require.ErrorIs(t, err, reflection.ErrNotFound)
	require.Equal(t, savedDraft, w.draftJSON(t, id))

	for _, tc := range []struct {
		name    string
		content reflection.Content
		field   string
	}{
		{"in the title", reflection.Content{Title: "Patient " + nhsNumber}, "title"},
		{"in an answer", reflection.Content{Title: "Night shift", Answers: map[string]string{"what_happened": "Admitted NHS " + nhsNumber + " overnight."}}, "answer_what_happened"},
		{"in a tag", reflection.Content{Title: "Night shift", Tags: []string{"handover", nhsNumber}}, "tags"},
		{"in the event's title", reflection.Content{Title: "Night shift", EventTitle: "Teaching on bed 3, NHS " + nhsNumber}, "event_title"},
	} {
		t.Run("guard "+tc.name, func(t *testing.T) {
			check := func(t *testing.T, err error) {
				t.Helper()
				var ge *reflection.GuardError
				require.ErrorAs(t, err, &ge)
				require.Len(t, ge.Findings, 1)
				require.Len(t, ge.Findings[tc.field], 1, "%v", ge.Findings)
				require.Equal(t, guard.KindNHSNumber, ge.Findings[tc.field][0].Kind)
				require.Equal(t, nhsNumber, ge.Findings[tc.field][0].Text)
			}
			before := w.count(t, `SELECT count(*) FROM reflections`)
			// A new draft with it is not stored at all.
			newID, err := w.svc.SaveDraft(ctx, w.log, au, 0, tc.content, nil)
			check(t, err)
			require.Zero(t, newID)
			// An existing draft keeps what it had.
			_, err = w.svc.SaveDraft(ctx, w.log, au, id, tc.content, nil)
			check(t, err)
			// Nor does a submission store it.
			_, _, err = w.svc.Submit(ctx, w.log, au, id, completed(tc.content), nil)
			check(t, err)
			require.Equal(t, before, w.count(t, `SELECT count(*) FROM reflections`))
			require.Equal(t, savedDraft, w.draftJSON(t, id))
			require.Zero(t, w.count(t, `SELECT count(*) FROM reflections WHERE draft::text LIKE '%943%'`))
			require.Zero(t, w.count(t, `SELECT count(*) FROM reflection_versions`))
		})
	}

	t.Run("submitting clears the draft", func(t *testing.T) {
		_, v, err := w.svc.Submit(ctx, w.log, au, id, practice("Night shift", "It was busy."), nil)
		require.NoError(t, err)
		require.Equal(t, 1, v)
		r, err := w.svc.Get(ctx, au.UserID, id)
		require.NoError(t, err)
		require.Nil(t, r.Draft)
		require.Nil(t, r.DraftSavedAt)
		require.Equal(t, "It was busy.", r.Current.Answers["what_happened"])

		// A later draft is the author's only: readers see the submitted version.
		_, err = w.svc.SaveDraft(ctx, w.log, au, id, reflection.Content{Title: "Night shift, third go",
			Answers: map[string]string{"what_happened": "DRAFTMARKER"}}, nil)
		require.NoError(t, err)
		require.NoError(t, w.svc.Share(ctx, au.UserID, id, reflection.Everyone))
		seen, err := w.svc.Get(ctx, w.people[educator], id)
		require.NoError(t, err)
		require.Nil(t, seen.Draft)
		require.Nil(t, seen.DraftSavedAt)
		require.Equal(t, "Night shift", seen.Title())
		shared, err := w.svc.SharedWithMe(ctx, w.people[educator])
		require.NoError(t, err)
		require.Equal(t, "Night shift", shared[0].Title)
		require.False(t, shared[0].HasDraft)
	})
}

// draftJSON is a reflection's stored draft and when it was saved, as text.
func (w *world) draftJSON(t *testing.T, id int64) string {
	t.Helper()
	var s string
	require.NoError(t, w.db.QueryRow(context.Background(),
		`SELECT coalesce(draft::text, 'null') || ' @ ' || coalesce(draft_saved_at::text, 'never') FROM reflections WHERE id = $1`, id).Scan(&s))
	return s
}

// completed fills in whatever the default template needs that c lacks.
func completed(c reflection.Content) reflection.Content {
	out := practice(c.Title, "")
	for k, v := range c.Answers {
		out.Answers[k] = v
	}
	if out.Answers["what_happened"] == "" {
		out.Answers["what_happened"] = "A busy night."
	}
	if out.Title == "" {
		out.Title = "Untitled"
	}
	out.Tags = c.Tags
	out.EventDate, out.EventTitle = c.EventDate, c.EventTitle
	return out
}

func TestSubmitRequiresTitleAndRequiredPrompts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	au := w.as(t, author, w.log)
	without := func(key string) reflection.Content {
		c := practice("Night shift", "A busy night.")
		delete(c.Answers, key)
		return c
	}
	blank := practice("Night shift", " \n\t ")
	long := practice(strings.Repeat("t", 201), "A busy night.")
	manyTags := practice("Night shift", "A busy night.")
	for i := range 13 {
		manyTags.Tags = append(manyTags.Tags, fmt.Sprintf("tag %d", i))
	}
	for _, tc := range []struct {
		name    string
		content reflection.Content
		field   string
		draftOK bool
	}{
		{"no title", practice("   ", "A busy night."), "title", true},
		{"no first answer", without("what_happened"), "answer_what_happened", true},
		{"no last answer", without("next"), "answer_next", true},
		{"a blank answer", blank, "answer_what_happened", true},
		{"a title too long", long, "title", false},
		{"too many tags", manyTags, "tags", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.count(t, `SELECT count(*) FROM reflections`)
			_, _, err := w.svc.Submit(ctx, w.log, au, 0, tc.content, nil)
			var ie *reflection.InvalidError
			require.ErrorAs(t, err, &ie)
			require.Equal(t, tc.field, ie.Field)
			require.Equal(t, before, w.count(t, `SELECT count(*) FROM reflections`), "nothing stored")

			_, err = w.svc.SaveDraft(ctx, w.log, au, 0, tc.content, nil)
			if tc.draftOK {
				require.NoError(t, err, "a draft may be incomplete")
			} else {
				require.ErrorAs(t, err, &ie)
				require.Equal(t, tc.field, ie.Field)
			}
		})
	}
	require.Zero(t, w.count(t, `SELECT count(*) FROM reflection_versions`))
}

func TestGibbsOptionalPrompts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	_, err := w.svc.Settings(ctx, w.log)
	require.NoError(t, err)
	require.NoError(t, w.svc.SaveSettings(ctx, reflection.Settings{ActivityID: w.log.ID, Template: "gibbs", CompleteOn: reflection.CompleteOnSubmit}))
	au := w.as(t, author, w.log)
	_, v, err := w.svc.Submit(ctx, w.log, au, 0, reflection.Content{Title: "Gibbs", Answers: map[string]string{
		"description": "A thing happened.", "conclusion": "I could have asked.", "action_plan": "Ask."}}, nil)
	require.NoError(t, err, "feelings, evaluation and analysis are optional")
	require.Equal(t, 1, v)
	_, _, err = w.svc.Submit(ctx, w.log, au, 0, reflection.Content{Title: "Gibbs", Answers: map[string]string{
		"description": "A thing happened.", "feelings": "Worried.", "action_plan": "Ask."}}, nil)
	var ie *reflection.InvalidError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "answer_conclusion", ie.Field)
}

func TestTemplatesAndCustomPrompts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	au := w.as(t, author, w.log)

	st, err := w.svc.Settings(ctx, w.log)
	require.NoError(t, err)
	require.Equal(t, "reflective_practice", st.Template, "the default")
	require.Equal(t, reflection.CompleteOnSubmit, st.CompleteOn)
	require.Equal(t, 100.0, st.MaxScore)
	require.Equal(t, []string{"what_happened", "learned", "next"}, keysOf(st.Prompts()))

	for _, tc := range []struct {
		template string
		keys     []string
	}{
		{"gibbs", []string{"description", "feelings", "evaluation", "analysis", "conclusion", "action_plan"}},
		{"free", []string{"reflection"}},
		{"reflective_practice", []string{"what_happened", "learned", "next"}},
	} {
		require.NoError(t, w.svc.SaveSettings(ctx, reflection.Settings{ActivityID: w.log.ID, Template: tc.template, CompleteOn: reflection.CompleteOnSubmit}))
		st, err := w.svc.Settings(ctx, w.log)
		require.NoError(t, err)
		require.Equal(t, tc.keys, keysOf(st.Prompts()), tc.template)
	}

	first := []reflection.Prompt{
		{Label: "  What did you   see? ", Help: "Without names.", Required: true},
		{Label: ""}, // an empty row of the form is skipped
		{Label: "Anything else?", Help: "Optional."},
	}
	require.NoError(t, w.svc.SaveSettings(ctx, reflection.Settings{ActivityID: w.log.ID, Template: reflection.TemplateCustom,
		CustomPrompts: first, CompleteOn: reflection.CompleteOnSubmit}))
	st, err = w.svc.Settings(ctx, w.log)
	require.NoError(t, err)
	want := []reflection.Prompt{
		{Key: "p1", Label: "What did you see?", Help: "Without names.", Required: true},
		{Key: "p2", Label: "Anything else?", Help: "Optional."},
	}
	require.Equal(t, want, st.Prompts())

	started, err := w.svc.SaveDraft(ctx, w.log, au, 0, reflection.Content{Title: "Under the first template",
		Answers: map[string]string{"p1": "A fall on the ward."}}, nil)
	require.NoError(t, err)

	// The educator changes the template: the reflection keeps the prompts it was started with.
	require.NoError(t, w.svc.SaveSettings(ctx, reflection.Settings{ActivityID: w.log.ID, Template: reflection.TemplateCustom,
		CustomPrompts: []reflection.Prompt{{Label: "Entirely new question", Required: false}, {Label: "And another", Required: true}},
		CompleteOn:    reflection.CompleteOnSubmit}))
	r, err := w.svc.Get(ctx, au.UserID, started)
	require.NoError(t, err)
	require.Equal(t, want, r.Prompts)
	require.Equal(t, reflection.TemplateCustom, r.Template)

	// Submitting it checks its own prompts: p1 is required there, p2 is not.
	_, v, err := w.svc.Submit(ctx, w.log, au, started, reflection.Content{Title: "Under the first template",
		Answers: map[string]string{"p1": "A fall on the ward."}}, nil)
	require.NoError(t, err)
	require.Equal(t, 1, v)
	r, err = w.svc.Get(ctx, au.UserID, started)
	require.NoError(t, err)
	require.Equal(t, want, r.Prompts)
	require.Equal(t, map[string]string{"p1": "A fall on the ward."}, r.Current.Answers)

	// A new reflection answers the new template, where p2 is the required one.
	fresh, err := w.svc.SaveDraft(ctx, w.log, au, 0, reflection.Content{Title: "Under the second"}, nil)
	require.NoError(t, err)
	r, err = w.svc.Get(ctx, au.UserID, fresh)
	require.NoError(t, err)
	require.Equal(t, []string{"Entirely new question", "And another"}, labelsOf(r.Prompts))
	_, _, err = w.svc.Submit(ctx, w.log, au, fresh, reflection.Content{Title: "Under the second",
		Answers: map[string]string{"p1": "Only the optional one."}}, nil)
	var ie *reflection.InvalidError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "answer_p2", ie.Field)

	t.Run("refused settings change nothing", func(t *testing.T) {
		before, err := w.svc.Settings(ctx, w.log)
		require.NoError(t, err)
		many := make([]reflection.Prompt, 13)
		var tags []string
		for i := range many {
			many[i] = reflection.Prompt{Label: fmt.Sprintf("Q%d", i), Required: true}
		}
		for i := range 51 {
			tags = append(tags, fmt.Sprintf("outcome %d", i))
		}
		for _, tc := range []struct {
			name  string
			st    reflection.Settings
			field string
		}{
			{"unknown template", reflection.Settings{Template: "nope", CompleteOn: reflection.CompleteOnSubmit}, "template"},
			{"unknown completion", reflection.Settings{Template: "free", CompleteOn: "never"}, "complete_on"},
			{"custom without prompts", reflection.Settings{Template: reflection.TemplateCustom, CompleteOn: reflection.CompleteOnSubmit,
				CustomPrompts: []reflection.Prompt{{Label: "  "}}}, "prompt_1"},
			{"custom with none required", reflection.Settings{Template: reflection.TemplateCustom, CompleteOn: reflection.CompleteOnSubmit,
				CustomPrompts: []reflection.Prompt{{Label: "Optional"}}}, "prompt_1"},
			{"too many prompts", reflection.Settings{Template: reflection.TemplateCustom, CompleteOn: reflection.CompleteOnSubmit,
				CustomPrompts: many}, "prompt_1"},
			{"too many offered tags", reflection.Settings{Template: "free", CompleteOn: reflection.CompleteOnSubmit,
				OfferedTags: []string{strings.Join(tags, ",")}}, "offered_tags"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.st.ActivityID = w.log.ID
				var ie *reflection.InvalidError
				require.ErrorAs(t, w.svc.SaveSettings(ctx, tc.st), &ie)
				require.Equal(t, tc.field, ie.Field)
				after, err := w.svc.Settings(ctx, w.log)
				require.NoError(t, err)
				require.Equal(t, before, after)
			})
		}
	})

	t.Run("an activity that is not a reflection log", func(t *testing.T) {
		other := w.log
		other.ID, other.Kind = w.logB.ID+1000, "discussion_board"
		_, err := w.svc.Settings(ctx, other)
		require.ErrorIs(t, err, reflection.ErrNotFound)
		require.ErrorIs(t, w.svc.SaveSettings(ctx, reflection.Settings{ActivityID: other.ID, Template: "free",
			CompleteOn: reflection.CompleteOnSubmit}), reflection.ErrNotFound)
	})
}

func keysOf(ps []reflection.Prompt) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Key)
	}
	return out
}

func labelsOf(ps []reflection.Prompt) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Label)
	}
	return out
}

func TestTags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	_, err := w.svc.Settings(ctx, w.log)
	require.NoError(t, err)
	require.NoError(t, w.svc.SaveSettings(ctx, reflection.Settings{ActivityID: w.log.ID, Template: "reflective_practice",
		CompleteOn: reflection.CompleteOnSubmit, OfferedTags: []string{"GMC 1.1, GMC 2.3", "  Teamwork ", "GMC 1.1"}}))
	st, err := w.svc.Settings(ctx, w.log)
	require.NoError(t, err)
	require.Equal(t, []string{"GMC 1.1", "GMC 2.3", "Teamwork"}, st.OfferedTags, "split at commas, trimmed, once each")

	// Offered tags ticked, and the learner's own typed as one comma-separated field.
	c := practice("Night shift", "A busy night.")
	c.Tags = []string{"Teamwork", "GMC 2.3", "my own,  second   one , Teamwork", ""}
	au := w.as(t, author, w.log)
	id, _, err := w.svc.Submit(ctx, w.log, au, 0, c, nil)
	require.NoError(t, err)
	r, err := w.svc.Get(ctx, au.UserID, id)
	require.NoError(t, err)
	require.Equal(t, []string{"Teamwork", "GMC 2.3", "my own", "second one"}, r.Current.Tags)

	// Clearing the offered tags leaves the tags already written alone.
	require.NoError(t, w.svc.SaveSettings(ctx, reflection.Settings{ActivityID: w.log.ID, Template: "reflective_practice",
		CompleteOn: reflection.CompleteOnSubmit}))
	st, err = w.svc.Settings(ctx, w.log)
	require.NoError(t, err)
	require.Empty(t, st.OfferedTags)
	r, err = w.svc.Get(ctx, au.UserID, id)
	require.NoError(t, err)
	require.Equal(t, []string{"Teamwork", "GMC 2.3", "my own", "second one"}, r.Current.Tags)
}

func TestReferencesToThreads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	au := w.as(t, author, w.log)

	choices, err := w.svc.RefChoices(ctx, au.UserID)
	require.NoError(t, err)
	require.Equal(t, []reflection.Ref{visibleThread}, choices)

	id, err := w.svc.SaveDraft(ctx, w.log, au, 0, reflection.Content{Title: "About the case"},
		&reflection.Ref{ThreadID: visibleThread.ThreadID, Title: "A title the client made up"})
	require.NoError(t, err)
	r, err := w.svc.Get(ctx, au.UserID, id)
	require.NoError(t, err)
	require.Equal(t, visibleThread, r.Ref, "the title is the thread's, as the discussion service gives it")

	// Submitting without a reference keeps it; a hidden thread is refused and changes nothing.
	_, _, err = w.svc.Submit(ctx, w.log, au, id, practice("About the case", "Read the case."), nil)
	require.NoError(t, err)
	_, _, err = w.svc.Submit(ctx, w.log, au, id, practice("About the case", "Version two."), &reflection.Ref{ThreadID: hiddenThread.ThreadID})
	var ie *reflection.InvalidError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "ref", ie.Field)
	r, err = w.svc.Get(ctx, au.UserID, id)
	require.NoError(t, err)
	require.Equal(t, visibleThread, r.Ref)
	require.Equal(t, 1, r.Current.Number, "a refused reference stores no version")

	// A reader sees the reference too.
	require.NoError(t, w.svc.Share(ctx, au.UserID, id, reflection.Everyone))
	seen, err := w.svc.Get(ctx, w.people[educator], id)
	require.NoError(t, err)
	require.Equal(t, visibleThread, seen.Ref)

	// Choosing "nothing" clears it.
	_, err = w.svc.SaveDraft(ctx, w.log, au, id, reflection.Content{Title: "About nothing"}, &reflection.Ref{})
	require.NoError(t, err)
	r, err = w.svc.Get(ctx, au.UserID, id)
	require.NoError(t, err)
	require.Equal(t, reflection.Ref{}, r.Ref)

	w.threads.mu.Lock()
	asked := append([]int64(nil), w.threads.askedBy...)
	w.threads.mu.Unlock()
	require.NotEmpty(t, asked)
	for _, who := range asked {
		require.Equal(t, au.UserID, who, "visibility is the author's")
	}

	t.Run("without a discussion service", func(t *testing.T) {
		plain := reflection.NewService(w.db, reflection.Options{})
		choices, err := plain.RefChoices(ctx, au.UserID)
		require.NoError(t, err)
		require.Empty(t, choices)
		_, err = plain.SaveDraft(ctx, w.log, au, id, reflection.Content{Title: "x"}, &reflection.Ref{ThreadID: visibleThread.ThreadID})
		require.ErrorAs(t, err, &ie)
		require.Equal(t, "ref", ie.Field)
	})

	// BUG: a new reflection whose reference is refused is stored anyway. start inserts
	// the row (with the draft) before setRef asks the discussion service, so the caller
	// gets an error and id 0 while an orphan reflection stays behind: every retry of
	// the autosave makes another one, and Submit leaves an empty "Untitled" reflection.
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"new draft", func() error {
			_, err := w.svc.SaveDraft(ctx, w.log, au, 0, reflection.Content{Title: "ORPHANMARKER"}, &reflection.Ref{ThreadID: hiddenThread.ThreadID})
			return err
		}},
		{"new submission", func() error {
			_, _, err := w.svc.Submit(ctx, w.log, au, 0, practice("ORPHANMARKER", "x"), &reflection.Ref{ThreadID: hiddenThread.ThreadID})
			return err
		}},
	} {
		t.Run("a refused reference stores nothing: "+tc.name, func(t *testing.T) {
			before := w.count(t, `SELECT count(*) FROM reflections`)
			var ie *reflection.InvalidError
			require.ErrorAs(t, tc.do(), &ie)
			require.Equal(t, "ref", ie.Field)
			require.Equal(t, before, w.count(t, `SELECT count(*) FROM reflections`), "BUG: an orphan reflection was stored")
		})
	}
}

func TestMineSpansTheSite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	me := w.people[author]
	inA, _, err := w.svc.Submit(ctx, w.log, w.as(t, author, w.log), 0, practice("In course A", "x"), nil)
	require.NoError(t, err)
	inB, err := w.svc.SaveDraft(ctx, w.logB, w.as(t, author, w.logB), 0, reflection.Content{Title: "In course B"}, nil)
	require.NoError(t, err)
	// The namesake on the other site writes too.
	otherLog := w.activity(t, w.courseOtherSite, "rl-1", "Night shift reflections", "{}")
	_, _, err = w.svc.Submit(ctx, otherLog, w.as(t, otherSite, otherLog), 0, practice("On the other site", "x"), nil)
	require.NoError(t, err)

	all, err := w.svc.Mine(ctx, me, 0)
	require.NoError(t, err)
	require.Equal(t, []int64{inB, inA}, ids(all), "newest first, across the site's courses")
	require.Equal(t, reflection.Summary{ID: inB, Title: "In course B", Author: "Ada Author", CourseTitle: "Core Training",
		ActivityID: w.logB.ID, ActivityTitle: "Clinic reflections", Version: 0, HasDraft: true, UpdatedAt: all[0].UpdatedAt}, all[0])
	require.Equal(t, "Foundation Programme", all[1].CourseTitle)
	require.Equal(t, 1, all[1].Version)
	require.False(t, all[1].HasDraft)

	one, err := w.svc.Mine(ctx, me, w.logB.ID)
	require.NoError(t, err)
	require.Equal(t, []int64{inB}, ids(one))
}

func TestSupervisors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	p := w.people
	// A second educator, who has not been assigned to anyone yet.
	second := w.user(t, w.site, "ivy", "Ivy Educator")
	w.enrol(t, second, w.courseA, "{educator}")

	for _, tc := range []struct {
		name                 string
		learner, supervisor  int64
		byLearner, permitted bool
	}{
		{"an educator assigns an educator", p[peerLearner], p[educator], false, true},
		{"an educator assigns a mentor", p[peerLearner], p[supervisorShared], false, true},
		{"assigning again is harmless", p[peerLearner], p[educator], false, true},
		{"a learner picks an educator for themselves", p[author], second, true, true},
		{"a learner supervising themselves", p[author], p[author], true, false},
		{"a learner as supervisor", p[author], p[peerLearner], false, false},
		{"an admin who does not teach the course", p[author], p[admin], false, false},
		{"an educator of another course", p[author], p[educatorOther], false, false},
		{"a user of another site", p[author], p[otherSite], true, false},
		{"a learner of another course", p[learnerOther], p[educator], false, false},
		{"an educator as the learner", p[educator], p[supervisorShared], false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := w.svc.Assign(ctx, w.courseA, tc.learner, tc.supervisor, tc.byLearner)
			rows := w.count(t, `SELECT count(*) FROM supervisors WHERE course_id = $1 AND learner_id = $2 AND supervisor_id = $3`,
				w.courseA, tc.learner, tc.supervisor)
			if !tc.permitted {
				var ie *reflection.InvalidError
				require.ErrorAs(t, err, &ie)
				require.Equal(t, "supervisor", ie.Field)
				require.Zero(t, rows)
				return
			}
			require.NoError(t, err)
			require.Equal(t, 1, rows)
		})
	}
	var chosen string
	require.NoError(t, w.db.QueryRow(ctx, `SELECT chosen_by FROM supervisors WHERE learner_id = $1 AND supervisor_id = $2`,
		p[author], second).Scan(&chosen))
	require.Equal(t, "learner", chosen)
	require.NoError(t, w.db.QueryRow(ctx, `SELECT chosen_by FROM supervisors WHERE learner_id = $1 AND supervisor_id = $2`,
		p[peerLearner], p[educator]).Scan(&chosen))
	require.Equal(t, "educator", chosen)

	person := func(who string) reflection.Person { return reflection.Person{UserID: p[who], Name: w.names[who]} }
	ivy := reflection.Person{UserID: second, Name: "Ivy Educator"}

	cands, err := w.svc.Candidates(ctx, w.courseA)
	require.NoError(t, err)
	require.Equal(t, []reflection.Person{person(educator), person(supervisorShared), person(supervisorNoShare), ivy}, cands,
		"educators and mentors, by name; not learners, not an admin who does not teach")

	sups, err := w.svc.SupervisorsOf(ctx, w.courseA, p[author])
	require.NoError(t, err)
	require.Equal(t, []reflection.Person{person(supervisorShared), person(supervisorNoShare), ivy}, sups)
	none, err := w.svc.SupervisorsOf(ctx, w.courseB, p[author])
	require.NoError(t, err)
	require.Empty(t, none, "supervision is per course")

	roster, err := w.svc.Roster(ctx, w.courseA)
	require.NoError(t, err)
	require.Equal(t, []reflection.Supervision{
		{Learner: person(author), Supervisors: []reflection.Person{person(supervisorShared), person(supervisorNoShare), ivy}},
		{Learner: person(peerLearner), Supervisors: []reflection.Person{person(educator), person(supervisorShared)}},
	}, roster)
	rosterB, err := w.svc.Roster(ctx, w.courseB)
	require.NoError(t, err)
	require.Equal(t, []reflection.Supervision{{Learner: person(author)}, {Learner: person(learnerOther)}}, rosterB)

	// A supervisor the learner chose can be named in a share. Unassigning takes one off
	// the learner's list; as a mentor of the course she may still be named.
	id, _, err := w.svc.Submit(ctx, w.log, w.as(t, author, w.log), 0, practice("Night shift", "x"), nil)
	require.NoError(t, err)
	require.NoError(t, w.svc.Share(ctx, p[author], id, second))
	require.NoError(t, w.svc.Unassign(ctx, w.courseA, p[author], p[supervisorNoShare]))
	sups, err = w.svc.SupervisorsOf(ctx, w.courseA, p[author])
	require.NoError(t, err)
	require.Equal(t, []reflection.Person{person(supervisorShared), ivy}, sups)
	require.NoError(t, w.svc.Share(ctx, p[author], id, p[supervisorNoShare]))
}

func TestCompletionScores(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		completeOn string
		settings   string
		max        float64
	}{
		{"on submit", reflection.CompleteOnSubmit, "{}", 100},
		{"on sign-off", reflection.CompleteOnSignOff, `{"max_score": 10}`, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := newWorld(t)
			a := w.activity(t, w.courseA, "rl-graded", "Graded reflections", tc.settings)
			_, err := w.svc.Settings(ctx, a)
			require.NoError(t, err)
			require.NoError(t, w.svc.SaveSettings(ctx, reflection.Settings{ActivityID: a.ID, Template: "reflective_practice", CompleteOn: tc.completeOn}))
			me, sup := w.people[author], w.people[supervisorShared]

			type score struct {
				given, maximum    float64
				activity, grading string
				comment           string
				at                time.Time
			}
			scores := func() []score {
				rows, err := w.db.Query(ctx, `SELECT score_given, score_maximum, activity_progress, grading_progress, comment, scored_at
FROM scores WHERE activity_id = $1 AND user_id = $2`, a.ID, me)
				require.NoError(t, err)
				defer rows.Close()
				var out []score
				for rows.Next() {
					var s score
					require.NoError(t, rows.Scan(&s.given, &s.maximum, &s.activity, &s.grading, &s.comment, &s.at))
					out = append(out, s)
				}
				require.NoError(t, rows.Err())
				return out
			}

			_, err = w.svc.SaveDraft(ctx, a, w.as(t, author, a), 0, reflection.Content{Title: "Just a draft"}, nil)
			require.NoError(t, err)
			require.Empty(t, scores(), "a draft completes nothing")

			id, _, err := w.svc.Submit(ctx, a, w.as(t, author, a), 0, practice("Night shift", "x"), nil)
			require.NoError(t, err)
			got := scores()
			if tc.completeOn == reflection.CompleteOnSubmit {
				require.Len(t, got, 1)
				require.Equal(t, "Reflection submitted", got[0].comment)
			} else {
				require.Empty(t, got, "submitting is not enough")
				require.NoError(t, w.svc.Share(ctx, me, id, sup))
				require.NoError(t, w.svc.SignOff(ctx, sup, id, 1, "Good."))
				got = scores()
				require.Len(t, got, 1)
				require.Equal(t, "Reflection signed off", got[0].comment)
			}
			require.Equal(t, tc.max, got[0].given)
			require.Equal(t, tc.max, got[0].maximum)
			require.Equal(t, "Completed", got[0].activity)
			require.Equal(t, "FullyGraded", got[0].grading)
			// The score waits for its activity's dispatcher, queued with it.
			job := rivertest.RequireInserted(ctx, t, riverpgxv5.New(w.db), gradesync.DispatchArgs{}, nil)
			require.Equal(t, a.ID, job.Args.ActivityID)
			require.Equal(t, 1, w.count(t, `SELECT count(*) FROM scores WHERE activity_id = $1 AND user_id = $2 AND state = 'pending'`, a.ID, me))

			// An educator's own reflection completes nothing and is not an error.
			edu := w.people[educator]
			eid, _, err := w.svc.Submit(ctx, a, w.as(t, educator, a), 0, practice("Teaching", "x"), nil)
			require.NoError(t, err)
			require.NoError(t, w.svc.Share(ctx, edu, eid, sup))
			require.NoError(t, w.svc.SignOff(ctx, sup, eid, 1, ""))
			require.Zero(t, w.count(t, `SELECT count(*) FROM scores WHERE user_id = $1`, edu))
			require.Zero(t, w.count(t, `SELECT count(*) FROM scores WHERE activity_id <> $1`, a.ID))
		})
	}
}

func TestGuardErrorNamesFieldsOnly(t *testing.T) {
	t.Parallel()
	err := &reflection.GuardError{Findings: map[string][]guard.Finding{
		"title": {{Kind: guard.KindNHSNumber, Start: 0, End: 12, Text: nhsNumber}},
	}}
	require.NotContains(t, err.Error(), nhsNumber, "an error may be logged: it carries no patient text")
}
