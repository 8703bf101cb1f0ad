package discussion_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/discussion"
)

// TestBoardSeededFromCustomParameters: a new board takes the settings Deep Linking
// put in its custom parameters; what a board would refuse falls back to the defaults.
func TestBoardSeededFromCustomParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		settings         string
		identity         discussion.Identity
		threads, replies int
		dates            int
	}{
		{"peers with a grade gets a term of Mondays", `{"identity":"peers","grade_threads":2,"grade_replies":3}`, discussion.Peers, 2, 3, 13},
		{"named with a grade grades at once", `{"identity":"named","grade_replies":1}`, discussion.Named, 0, 1, 0},
		{"fully anonymous cannot be graded", `{"identity":"anonymous","grade_threads":2}`, discussion.Anonymous, 0, 0, 0},
		{"unknown identity is named, as before seeds", `{"identity":"anonymous_to_peers"}`, discussion.Named, 0, 0, 0},
		{"out of range is clamped", `{"identity":"peers","grade_threads":-4,"grade_replies":1000}`, discussion.Peers, 0, 100, 13},
		{"not an object", `[1,2]`, discussion.Named, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			b, err := e.svc.Board(e.ctx, e.activity(e.course1, discussion.KindDiscussionBoard, tt.settings))
			require.NoError(t, err)
			require.Equal(t, tt.identity, b.Identity)
			require.Equal(t, [2]int{tt.threads, tt.replies}, [2]int{b.GradeThreads, b.GradeReplies})
			require.Len(t, b.GradeDates, tt.dates)
			if tt.dates > 0 {
				require.Equal(t, time.Monday, b.GradeDates[0].Weekday())
				require.True(t, b.GradeDates[0].After(e.clock.Now()))
			}
		})
	}
}

// TestSeedNeverChangesAStoredBoard: the custom parameters set a board up once; a board
// whose educator made it named is not made anonymous again, and one made fully
// anonymous is not weakened, by the activity's seed.
func TestSeedNeverChangesAStoredBoard(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a := e.activity(e.course1, discussion.KindCaseBoard, `{"identity":"peers"}`)
	b, err := e.svc.Board(e.ctx, a)
	require.NoError(t, err)
	b.Identity = discussion.Anonymous
	require.NoError(t, e.svc.SaveSettings(e.ctx, educatorID, b))
	a.Settings = []byte(`{"identity":"named","grade_threads":3}`)
	b, err = e.svc.Board(e.ctx, a)
	require.NoError(t, err)
	require.Equal(t, discussion.Anonymous, b.Identity)
	require.Zero(t, b.GradeThreads)
}

// TestCopySettings: a copy takes every setting of its source; over a board that
// exists, the stronger anonymity stays, and a fully anonymous result drops grading
// and question-and-answer mode, which need to know who posted.
func TestCopySettings(t *testing.T) {
	t.Parallel()
	e := setup(t)
	src := e.board(discussion.KindDiscussionBoard, discussion.Peers, func(b *discussion.Board) {
		b.Premoderated, b.QAMode, b.LearnerChoice, b.PostsPerHour = true, true, true, 9
		b.EditWindow, b.AnonymousDelay, b.HoldColleagueNames = 5*time.Minute, 90*time.Minute, true
		b.GradeThreads, b.GradeReplies = 1, 4
		b.GradeDates = []time.Time{e.clock.Now().AddDate(0, 0, 3), e.clock.Now().AddDate(0, 1, 0)}
	})

	fresh := e.activity(e.course2, discussion.KindDiscussionBoard, `{"identity":"named"}`)
	require.NoError(t, e.svc.CopySettings(e.ctx, fresh, src.ActivityID))
	got, err := e.svc.Board(e.ctx, fresh)
	require.NoError(t, err)
	got.ActivityID = src.ActivityID
	require.Equal(t, src, got)

	anon := e.activity(e.course2, discussion.KindDiscussionBoard, `{"identity":"anonymous"}`)
	_, err = e.svc.Board(e.ctx, anon)
	require.NoError(t, err)
	require.NoError(t, e.svc.CopySettings(e.ctx, anon, src.ActivityID))
	got, err = e.svc.Board(e.ctx, anon)
	require.NoError(t, err)
	require.Equal(t, discussion.Anonymous, got.Identity)
	require.False(t, got.QAMode)
	require.False(t, got.Graded())
	require.True(t, got.Premoderated)

	caseBoard := e.activity(e.course2, discussion.KindCaseBoard, "")
	require.ErrorIs(t, e.svc.CopySettings(e.ctx, caseBoard, src.ActivityID), discussion.ErrNotFound, "a case board is not a copy of a discussion board")
	require.ErrorIs(t, e.svc.CopySettings(e.ctx, fresh, 999999), discussion.ErrNotFound)
}

func TestSeedCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		seed  discussion.Seed
		field string
	}{
		{discussion.Seed{Identity: discussion.Peers, GradeThreads: 2}, ""},
		{discussion.Seed{Identity: "public"}, "identity"},
		{discussion.Seed{Identity: discussion.Named, GradeReplies: 101}, "grade_threads"},
		{discussion.Seed{Identity: discussion.Anonymous, GradeReplies: 1}, "grade_threads"},
	} {
		err := tc.seed.Check()
		if tc.field == "" {
			require.NoError(t, err)
			continue
		}
		var inv *discussion.InvalidError
		require.ErrorAs(t, err, &inv)
		require.Equal(t, tc.field, inv.Field)
	}
}
