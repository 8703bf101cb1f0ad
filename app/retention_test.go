package app_test

import (
	"bytes"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/app"
	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/roster"
)

// River's own job cleaner deletes finished jobs once they are older than
// Config.JobRetention (a week by default), whatever their final state. River's clock
// is the wall clock, so the jobs' finishing times are set relative to it; River's
// defaults (a day for completed and cancelled jobs) would delete the two-day-old ones.
func TestFinishedJobsAreDeletedAfterJobRetention(t *testing.T) {
	t.Parallel()
	pool, err := app.OpenPool(t.Context(), dbtest.Migrated(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	base, err := url.Parse("http://localhost")
	require.NoError(t, err)
	a, err := app.New(t.Context(), pool, app.Config{BaseURL: base, SecretKey: bytes.Repeat([]byte{3}, 32), Version: "test",
		ShutdownTimeout: 5 * time.Second}, app.Options{KeyBits: 1024})
	require.NoError(t, err)
	t.Cleanup(a.Close)

	const day = 24 * time.Hour
	jobs := []struct {
		state string
		age   time.Duration
		kept  bool
	}{
		{"completed", 8 * day, false},
		{"completed", 2 * day, true},
		{"cancelled", 8 * day, false},
		{"cancelled", 2 * day, true},
		{"discarded", 8 * day, false},
		{"discarded", 6 * day, true},
	}
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		// Distinct course ids: roster reads are unique per course.
		res, err := a.Queue.Insert(t.Context(), roster.Args{CourseID: int64(900 + i)}, nil)
		require.NoError(t, err)
		ids[i] = res.Job.ID
		_, err = pool.Exec(t.Context(), `UPDATE river_job SET state = $2, finalized_at = $3 WHERE id = $1`,
			res.Job.ID, j.state, time.Now().Add(-j.age))
		require.NoError(t, err)
	}

	require.NoError(t, a.Queue.Start(t.Context()))
	t.Cleanup(func() { _ = a.Queue.Stop(t.Context()) })
	exists := func(id int64) bool {
		var ok bool
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM river_job WHERE id = $1)`, id).Scan(&ok))
		return ok
	}
	require.Eventually(t, func() bool {
		for i, j := range jobs {
			if !j.kept && exists(ids[i]) {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "the cleaner deleted the jobs older than a week")
	for i, j := range jobs {
		require.Equal(t, j.kept, exists(ids[i]), "%s job %v old", j.state, j.age)
	}
}
