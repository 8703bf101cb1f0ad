package programme_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/loadgen"
)

// BenchmarkFeedCheckAlone is one calendar poll at a time, the usual case in
// production (each phone polls a few times an hour): FeedBySecretVersion for a learner
// in two courses with a teaching programme each, nothing to batch with. pg-cpu-us/op
// is the CPU of the PostgreSQL backends serving the test's database, per poll: the
// cost migrations/00045 cut by keeping the statement's plan instead of planning it at
// every poll.
func BenchmarkFeedCheckAlone(b *testing.B) {
	w := newWorld(b)
	ctx := context.Background()
	w.create(b, w.prog, draft("Sepsis", "2026-03-30", "09:00", "10:00"))
	w.create(b, w.progB, draft("Handover", "2026-03-31", "09:00", "10:00"))
	secret, err := w.svc.CreateFeed(ctx, w.learner, "")
	require.NoError(b, err)
	var db string
	require.NoError(b, w.db.QueryRow(ctx, `SELECT current_database()`).Scan(&db))
	// Every pooled connection plans once; then the polls.
	for range 50 {
		_, _, err := w.svc.FeedBySecretVersion(ctx, secret, 0)
		require.NoError(b, err)
	}
	self0, err := loadgen.ProcessCPU(os.Getpid())
	require.NoError(b, err)
	pg0, _, err := loadgen.BackendCPU(db)
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := w.svc.FeedBySecretVersion(ctx, secret, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	self1, err := loadgen.ProcessCPU(os.Getpid())
	require.NoError(b, err)
	pg1, _, err := loadgen.BackendCPU(db)
	require.NoError(b, err)
	b.ReportMetric(float64((self1-self0).Microseconds())/float64(b.N), "cpu-us/op")
	b.ReportMetric(float64((pg1-pg0).Microseconds())/float64(b.N), "pg-cpu-us/op")
}
