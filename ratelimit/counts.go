package ratelimit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Every count is a write and a commit, and a commit waits for its WAL flush. When
// many arrive at once (the whole intake launching before a session, or every client
// of the verification API starting its first block of a new minute) they would queue
// for the pool and for the disk one by one; batched, a few hundred share one
// statement and one flush. internal/batch says why a batch still sees everything
// committed before its counts arrived.

// countsInFlight and maxCountBatch are the batching's settings. Two batches in flight
// keep a lone count from waiting behind a batch's flush.
const (
	countsInFlight = 2
	maxCountBatch  = 256
	// countTimeout bounds a batch's statement: it counts for several requests, so no
	// one request's context may cancel it.
	countTimeout = 5 * time.Second
)

// countQuestion adds n events to key mac's count in bucket's window starting at
// start, and asks for the count then and the count of the window starting at prev.
// expires is when the row stops counting.
type countQuestion struct {
	bucket               string
	mac                  string
	start, prev, expires time.Time
	n                    int
}

// countAnswer is the window's count with this question's events, and the previous
// window's.
type countAnswer struct{ hits, before int }

// countSQL adds each row's hits to its window's count and returns the count with
// the previous window's.
const countSQL = `
WITH q AS (
    SELECT * FROM unnest($1::text[], $2::bytea[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], $6::int[])
        WITH ORDINALITY AS q(bucket, key_mac, window_start, prev_start, expires_at, n, i)
), cur AS (
    INSERT INTO rate_counts AS c (bucket, key_mac, window_start, hits, expires_at)
    SELECT bucket, key_mac, window_start, n, expires_at FROM q ORDER BY i
    ON CONFLICT (bucket, key_mac, window_start) DO UPDATE SET hits = c.hits + EXCLUDED.hits
    RETURNING c.bucket, c.key_mac, c.window_start, c.hits
)
SELECT q.i, cur.hits, COALESCE(p.hits, 0)
FROM q
JOIN cur ON cur.bucket = q.bucket AND cur.key_mac = q.key_mac AND cur.window_start = q.window_start
LEFT JOIN rate_counts p ON p.bucket = q.bucket AND p.key_mac = q.key_mac AND p.window_start = q.prev_start`

// HotStatements are the SQL every limited request runs (a login among them), for each
// web connection to prepare and plan as it opens (app.PoolConfig.Warm).
func HotStatements() []string { return []string{countSQL} }

// countMany counts a batch in one statement. A key may be asked for more than once
// (concurrent logins from one address): PostgreSQL cannot update a row twice in one
// statement, so such questions become one row, counted with their sum, and each is
// answered as if they had been counted one after another in the batch's order. (One
// exception, at a window's boundary: a count for the window before, in the same
// batch, is not yet seen as the previous window's; that is at most one request's
// events, once per window.) Rows go in key order, so that two instances' batches lock
// shared rows in the same order and cannot deadlock.
func (l *Limiter) countMany(ctx context.Context, qs []countQuestion) ([]countAnswer, error) {
	type row struct {
		q     countQuestion // n summed over the questions it stands for
		asked []int         // their positions in qs, in order
	}
	type key struct {
		bucket, mac string
		start       int64
	}
	rows := make([]*row, 0, len(qs))
	byKey := make(map[key]*row, len(qs))
	for i, q := range qs {
		k := key{q.bucket, q.mac, q.start.UnixNano()}
		r := byKey[k]
		if r == nil {
			r = &row{q: q}
			r.q.n = 0
			byKey[k] = r
			rows = append(rows, r)
		}
		r.q.n += q.n
		r.asked = append(r.asked, i)
	}
	slices.SortFunc(rows, func(a, b *row) int {
		return cmp.Or(cmp.Compare(a.q.bucket, b.q.bucket), cmp.Compare(a.q.mac, b.q.mac), a.q.start.Compare(b.q.start))
	})
	buckets, macs := make([]string, len(rows)), make([][]byte, len(rows))
	starts, prevs, expires := make([]time.Time, len(rows)), make([]time.Time, len(rows)), make([]time.Time, len(rows))
	ns := make([]int32, len(rows))
	for i, r := range rows {
		buckets[i], macs[i], ns[i] = r.q.bucket, []byte(r.q.mac), int32(r.q.n)
		starts[i], prevs[i], expires[i] = r.q.start, r.q.prev, r.q.expires
	}
	res, err := l.db.Query(ctx, countSQL, buckets, macs, starts, prevs, expires, ns)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	out := make([]countAnswer, len(qs))
	seen := 0
	for res.Next() {
		var i int64
		var hits, before int
		if err := res.Scan(&i, &hits, &before); err != nil {
			return nil, err
		}
		if i < 1 || int(i) > len(rows) {
			return nil, fmt.Errorf("count for row %d of %d", i, len(rows))
		}
		// The last question asked for this key sees the whole sum; each earlier one,
		// the sum less what was asked after it.
		r := rows[i-1]
		for j := len(r.asked) - 1; j >= 0; j-- {
			out[r.asked[j]] = countAnswer{hits: hits, before: before}
			hits -= qs[r.asked[j]].n
		}
		seen++
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	if seen != len(rows) {
		return nil, fmt.Errorf("%d counts for %d rows", seen, len(rows))
	}
	return out, nil
}
