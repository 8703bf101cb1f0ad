package anonymity_test

import (
	"context"
	"errors"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/anonymity"
	"github.com/huddle-lti/huddle/dbtest"
)

type testRelease struct{}

func (testRelease) Kind() string                 { return "test_release" }
func (testRelease) InsertOpts() river.InsertOpts { return anonymity.ReleaseInsertOpts() }

// TestReleaseJob: the shared plumbing runs the user's release once per job, reports
// its failure, is unique per minute and never retried, and its periodic job is named
// by its kind.
func TestReleaseJob(t *testing.T) {
	t.Parallel()
	opts := anonymity.ReleaseInsertOpts()
	require.Equal(t, 1, opts.MaxAttempts, "the next minute's run does the same work")
	require.Equal(t, anonymity.ReleaseEvery, opts.UniqueOpts.ByPeriod)
	require.NotNil(t, anonymity.ReleasePeriodicJob(testRelease{}))

	ctx := t.Context()
	pool := dbtest.New(t)
	calls := 0
	var fail error
	w := anonymity.NewReleaseWorker[testRelease](func(context.Context) (int, error) {
		calls++
		return 3, fail
	})
	tw := rivertest.NewWorker(t, riverpgxv5.New(nil), &river.Config{}, w)
	for _, tc := range []struct {
		name string
		fail error
		want river.EventKind
	}{
		{"released", nil, river.EventKindJobCompleted},
		{"failed", errors.New("database gone"), river.EventKindJobFailed},
	} {
		fail = tc.fail
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		res, err := tw.Work(ctx, t, tx, testRelease{}, nil)
		if tc.fail != nil {
			require.ErrorIs(t, err, tc.fail, tc.name)
		} else {
			require.NoError(t, err, tc.name)
		}
		require.Equal(t, tc.want, res.EventKind, tc.name)
		require.NoError(t, tx.Rollback(ctx))
	}
	require.Equal(t, 2, calls)
}
