package reflection_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/reflection"
)

// TestSettingsSeededFromCustomParameters: a new reflection log takes the template and
// completion rule Deep Linking put in its custom parameters, once; what it cannot use
// falls back to the defaults.
func TestSettingsSeededFromCustomParameters(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for i, tc := range []struct {
		settings, template, completeOn string
		maxScore                       float64
	}{
		{`{"template":"gibbs","complete_on":"signoff","max_score":20}`, "gibbs", reflection.CompleteOnSignOff, 20},
		{`{"template":"custom","complete_on":"never"}`, reflection.Templates[0].Key, reflection.CompleteOnSubmit, 100},
		{`{}`, reflection.Templates[0].Key, reflection.CompleteOnSubmit, 100},
	} {
		a := w.activity(t, w.courseA, "seed-"+string(rune('a'+i)), "Seeded", tc.settings)
		st, err := w.svc.Settings(t.Context(), a)
		require.NoError(t, err)
		require.Equal(t, tc.template, st.Template, tc.settings)
		require.Equal(t, tc.completeOn, st.CompleteOn, tc.settings)
		require.Equal(t, tc.maxScore, st.MaxScore, tc.settings)
	}

	// Once made, the row is the activity's: its seed does not change it again.
	a := w.activity(t, w.courseA, "seed-once", "Seeded once", `{"template":"gibbs"}`)
	st, err := w.svc.Settings(t.Context(), a)
	require.NoError(t, err)
	st.Template = "free"
	require.NoError(t, w.svc.SaveSettings(t.Context(), st))
	st, err = w.svc.Settings(t.Context(), a)
	require.NoError(t, err)
	require.Equal(t, "free", st.Template)
}

// TestReflectionCopySettings: a copy takes every setting of its source, over its own.
func TestReflectionCopySettings(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	src, err := w.svc.Settings(t.Context(), w.log)
	require.NoError(t, err)
	src.Template, src.CustomPrompts = reflection.TemplateCustom, []reflection.Prompt{{Label: "What did you notice?", Required: true}}
	src.OfferedTags, src.CompleteOn = []string{"Safeguarding"}, reflection.CompleteOnSignOff
	require.NoError(t, w.svc.SaveSettings(t.Context(), src))
	src, err = w.svc.Settings(t.Context(), w.log)
	require.NoError(t, err)

	_, err = w.svc.Settings(t.Context(), w.logB) // its own row first, from its seed
	require.NoError(t, err)
	require.NoError(t, w.svc.CopySettings(t.Context(), w.logB, w.log.ID))
	got, err := w.svc.Settings(t.Context(), w.logB)
	require.NoError(t, err)
	got.ActivityID = src.ActivityID
	require.Equal(t, src, got)

	fresh := w.activity(t, w.courseB, "rl-never", "Never opened", "{}")
	require.ErrorIs(t, w.svc.CopySettings(t.Context(), w.logB, fresh.ID), reflection.ErrNotFound)
}

func TestReflectionSeedCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		seed  reflection.Seed
		field string
	}{
		{reflection.Seed{Template: "gibbs", CompleteOn: reflection.CompleteOnSignOff}, ""},
		{reflection.Seed{Template: reflection.TemplateCustom, CompleteOn: reflection.CompleteOnSubmit}, "template"},
		{reflection.Seed{Template: "free", CompleteOn: "later"}, "complete_on"},
	} {
		err := tc.seed.Check()
		if tc.field == "" {
			require.NoError(t, err)
			continue
		}
		var inv *reflection.InvalidError
		require.ErrorAs(t, err, &inv)
		require.Equal(t, tc.field, inv.Field)
	}
}
