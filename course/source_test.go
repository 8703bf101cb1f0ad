package course_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
)

// TestResolveSource: where a new activity's settings come from, for each history
// Moodle may send with a key Huddle knows.
func TestResolveSource(t *testing.T) {
	t.Parallel()
	const key = "ha_TESTKEYTESTKEYTESTKEYTEST"
	tests := []struct {
		name    string
		history string // of the launch of the copy in course 9
		want    course.SettingsSource
		from    string // context of the source course, when copied
	}{
		{"history names the source course", "2", course.SourceCopied, "2"},
		{"nearest course in the history wins", "5,2", course.SourceCopied, "5"},
		{"an older course when the nearest holds no copy", "8,2", course.SourceCopied, "2"},
		{"no history: an educator chooses", "", course.SourcePending, ""},
		{"variable not substituted: an educator chooses", "$Context.id.history", course.SourcePending, ""},
		{"history of other courses: an educator chooses", "3,4", course.SourcePending, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ids := map[string]int64{}
			for _, ctx := range []string{"2", "5"} {
				l := b.launch()
				l.ContextID, l.ResourceLinkID = ctx, "rl-"+ctx
				l.Custom = map[string]string{course.CustomKind: "case_board", course.CustomActivity: key}
				rec := b.record(t, l)
				a := b.activityFor(t, rec)
				require.Equal(t, course.SourceUnresolved, a.Source)
				a, err := b.svc.ResolveSource(t.Context(), a, noCopy)
				require.NoError(t, err)
				if ctx == "2" {
					require.Equal(t, course.SourceOwn, a.Source, "the first activity with a key is the original")
				}
				ids[ctx] = rec.ActivityID
			}
			l := b.launch()
			l.ContextID, l.ResourceLinkID = "9", "rl-9"
			l.Custom = map[string]string{course.CustomKind: "case_board", course.CustomActivity: key,
				course.CustomContextHistory: tt.history}
			a := b.activityFor(t, b.record(t, l))
			a, err := b.svc.ResolveSource(t.Context(), a, noCopy)
			require.NoError(t, err)
			require.Equal(t, tt.want, a.Source)
			require.Equal(t, ids[tt.from], a.SettingsFrom)

			again := b.activityFor(t, b.record(t, l))
			require.Equal(t, tt.want, again.Source, "resolved once, and stored")
			cands, err := b.svc.SourceCandidates(t.Context(), again)
			require.NoError(t, err)
			require.Len(t, cands, 2)
			require.Equal(t, "Foundation Teaching Programme", cands[0].CourseTitle)

			if tt.want != course.SourcePending {
				_, err := b.svc.ChooseSource(t.Context(), again, ids["2"], noCopy)
				require.ErrorIs(t, err, course.ErrSourceChosen)
				return
			}
			_, err = b.svc.ChooseSource(t.Context(), again, again.ID, noCopy)
			require.ErrorIs(t, err, course.ErrNotFound, "only a candidate may be chosen")
			failed := errors.New("copy failed")
			_, err = b.svc.ChooseSource(t.Context(), again, ids["5"], func(course.Activity) error { return failed })
			require.ErrorIs(t, err, failed)
			require.Equal(t, course.SourcePending, b.activityFor(t, b.record(t, l)).Source, "a failed copy leaves the choice open")
			chosen, err := b.svc.ChooseSource(t.Context(), again, ids["5"], noCopy)
			require.NoError(t, err)
			require.Equal(t, course.SourceCopied, chosen.Source)
			require.Equal(t, ids["5"], b.activityFor(t, b.record(t, l)).SettingsFrom)
			_, err = b.svc.ChooseSource(t.Context(), again, 0, noCopy)
			require.ErrorIs(t, err, course.ErrSourceChosen, "chosen once")
		})
	}
}

// TestResolveSourceStaysOnOnePlatform: another Moodle site's activity with the same
// key (a key copied by hand, or guessed) is neither a candidate nor a source.
func TestResolveSourceStaysOnOnePlatform(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.launch()
	l.Custom = map[string]string{course.CustomKind: "case_board", course.CustomActivity: "ha_SAMEKEY"}
	a, err := b.svc.ResolveSource(t.Context(), b.activityFor(t, b.record(t, l)), noCopy)
	require.NoError(t, err)
	require.Equal(t, course.SourceOwn, a.Source)

	other := l
	other.PlatformID, other.ContextID, other.ResourceLinkID = b.moodleB, "2", "99"
	other.Custom = map[string]string{course.CustomKind: "case_board", course.CustomActivity: "ha_SAMEKEY",
		course.CustomContextHistory: "2"}
	o, err := b.svc.ResolveSource(t.Context(), b.activityFor(t, b.record(t, other)), noCopy)
	require.NoError(t, err)
	require.Equal(t, course.SourceOwn, o.Source)
	cands, err := b.svc.SourceCandidates(t.Context(), o)
	require.NoError(t, err)
	require.Empty(t, cands)
}

// TestRecordLaunchActivityKey: the key is taken when the activity is made and never
// changed by a later launch; without one, or with one too long, the activity's
// settings are its own.
func TestRecordLaunchActivityKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.launch()
	l.Custom = map[string]string{course.CustomActivity: "ha_FIRST"}
	rec := b.record(t, l)
	require.Equal(t, "ha_FIRST", b.activityFor(t, rec).Key)
	l.Custom = map[string]string{course.CustomActivity: "ha_SECOND"}
	require.Equal(t, "ha_FIRST", b.activityFor(t, b.record(t, l)).Key)

	long := b.launch()
	long.ResourceLinkID = "13"
	long.Custom = map[string]string{course.CustomActivity: "ha_" + strings.Repeat("X", 62)}
	a := b.activityFor(t, b.record(t, long))
	require.Empty(t, a.Key)
	require.Equal(t, course.SourceOwn, a.Source)

	require.NotEqual(t, course.NewActivityKey(), course.NewActivityKey())
	require.Regexp(t, `^ha_[A-Z2-7]{26}$`, course.NewActivityKey())
}

func (b *testBundle) activityFor(t *testing.T, rec course.Recorded) course.Activity {
	t.Helper()
	a, _, err := b.svc.ActivityFor(t.Context(), rec.ActivityID, rec.UserID)
	require.NoError(t, err)
	return a
}

func noCopy(course.Activity) error { return nil }

// TestResolveSourceRetriesAFailedCopy: a copy that fails leaves the activity
// unresolved, so the next request copies again; only then is it marked copied.
func TestResolveSourceRetriesAFailedCopy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.launch()
	l.Custom = map[string]string{course.CustomKind: "case_board", course.CustomActivity: "ha_RETRY"}
	orig, err := b.svc.ResolveSource(t.Context(), b.activityFor(t, b.record(t, l)), noCopy)
	require.NoError(t, err)
	cp := l
	cp.ContextID, cp.ResourceLinkID = "7", "rl-7"
	cp.Custom = map[string]string{course.CustomKind: "case_board", course.CustomActivity: "ha_RETRY", course.CustomContextHistory: "2"}
	a := b.activityFor(t, b.record(t, cp))
	failed := errors.New("database went away")
	_, err = b.svc.ResolveSource(t.Context(), a, func(course.Activity) error { return failed })
	require.ErrorIs(t, err, failed)
	a = b.activityFor(t, b.record(t, cp))
	require.Equal(t, course.SourceUnresolved, a.Source)
	var applied course.Activity
	a, err = b.svc.ResolveSource(t.Context(), a, func(c course.Activity) error { applied = c; return nil })
	require.NoError(t, err)
	require.Equal(t, orig.ID, applied.SettingsFrom)
	require.Equal(t, course.SourceCopied, a.Source)
}
