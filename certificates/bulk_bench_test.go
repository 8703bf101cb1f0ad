package certificates_test

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
)

// bulkSize is issue 15's bulk issue: 500 certificates, PDF included, in under 60 s of
// wall time without blocking the web server.
const bulkSize = 500

// BenchmarkBulkIssue500 queues a bulk issue to a roster of 500 through River (as
// "Issue to every learner without one" does), with production's key size and as many
// job workers as an instance runs, waits until the progress the educator's page reads
// says all are issued, then renders every certificate's PDF. Meanwhile a reader asks
// for a certificate by code every 20 ms, as the public verification page does, and its
// p99 shows whether the bulk work starves the web server's reads.
func BenchmarkBulkIssue500(b *testing.B) {
	bb := setupBench(b)
	users := make([]int64, bulkSize)
	for i := range users {
		require.NoError(b, bb.pool.QueryRow(bb.ctx, `
WITH u AS (INSERT INTO users (platform_id, subject, name, email) VALUES ($1, $2, $3, $4) RETURNING id)
INSERT INTO memberships (user_id, course_id, roles) SELECT id, $5, '{learner}' FROM u RETURNING user_id`,
			bb.platform, fmt.Sprintf("bulk-%d", i), fmt.Sprintf("Learner %03d", i), fmt.Sprintf("learner%d@nhs.example", i),
			bb.course).Scan(&users[i]))
	}
	def := bb.definition()
	def.Requirements = nil
	require.NoError(b, bb.svc.SaveDefinition(bb.ctx, bb.platform, 0, def))
	probe := bb.issue(b, bb.learner) // what the reader reads

	workers := river.NewWorkers()
	queue, err := river.NewClient(riverpgxv5.New(bb.pool), &river.Config{
		// As app.New: 24 workers on the default queue.
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 24}},
		Workers:           workers,
		FetchCooldown:     50 * time.Millisecond,
		FetchPollInterval: 200 * time.Millisecond,
	})
	require.NoError(b, err)
	svc := certificates.NewService(bb.pool, bb.keys, bb.base, certificates.Options{Now: bb.clock.Now, Queue: queue})
	river.AddWorker(workers, certificates.NewIssueWorker(svc))
	require.NoError(b, queue.Start(bb.ctx))
	b.Cleanup(func() { _ = queue.Stop(bb.ctx) })

	for i := 0; i < b.N; i++ {
		if i > 0 {
			b.StopTimer()
			_, err := bb.pool.Exec(bb.ctx, `DELETE FROM certificates WHERE user_id <> $1`, bb.learner)
			require.NoError(b, err)
			b.StartTimer()
		}
		var (
			reads []time.Duration
			stop  = make(chan struct{})
			wg    sync.WaitGroup
		)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				t0 := time.Now()
				if _, err := svc.ByCode(bb.ctx, probe.Code); err != nil {
					b.Error(err)
					return
				}
				reads = append(reads, time.Since(t0))
			}
		}()

		t0 := time.Now()
		bulk, err := svc.QueueBulk(bb.ctx, 0, bb.activity, users)
		require.NoError(b, err)
		var p certificates.BulkProgress
		for deadline := time.Now().Add(5 * time.Minute); ; {
			p, err = svc.BulkProgress(bb.ctx, bb.activity, bulk)
			require.NoError(b, err)
			if p.Finished() || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		issued := time.Since(t0)
		require.Equal(b, certificates.BulkProgress{Total: bulkSize, Done: bulkSize}, p)

		rows, err := bb.pool.Query(bb.ctx, `SELECT id::text FROM certificates WHERE user_id <> $1 AND revoked_at IS NULL`, bb.learner)
		require.NoError(b, err)
		var ids []string
		for rows.Next() {
			var id string
			require.NoError(b, rows.Scan(&id))
			ids = append(ids, id)
		}
		require.NoError(b, rows.Err())
		require.Len(b, ids, bulkSize)
		for _, id := range ids {
			c, err := svc.Certificate(bb.ctx, id)
			require.NoError(b, err)
			var buf bytes.Buffer
			require.NoError(b, svc.WritePDF(c, &buf))
			require.True(b, bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")))
			_, _ = io.Copy(io.Discard, &buf)
		}
		total := time.Since(t0)
		close(stop)
		wg.Wait()

		slices.Sort(reads)
		b.ReportMetric(issued.Seconds(), "issue-s")
		b.ReportMetric(total.Seconds(), "issue+pdf-s")
		if len(reads) > 0 {
			b.ReportMetric(float64(reads[len(reads)*99/100])/float64(time.Millisecond), "read-p99-ms")
		}
	}
}
