package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
)

func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := dbtest.Pool(t, dbtest.Empty(t))
	_, err := pool.Exec(t.Context(), `CREATE TABLE rows (id int PRIMARY KEY)`)
	require.NoError(t, err)
	return pool
}

func storedIDs(t *testing.T, pool *pgxpool.Pool) []int {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT id FROM rows ORDER BY id`)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	return ids
}

// Batches that share one pipeline commit, fail and roll back apart, and each gets its
// own results and error, as it would from pgx's SendBatch: a statement that fails
// (at execution or at Bind) rolls back its batch alone and skips the rest of it; a
// callback that fails stops that batch's callbacks, not its statements; a batch
// whose arguments do not encode is not sent at all.
func TestBatchesInOnePipelineAreTransactionsOfTheirOwn(t *testing.T) {
	t.Parallel()
	pool := newPool(t)

	var got []string
	note := func(s string) { got = append(got, s) }

	b0 := &pgx.Batch{}
	b0.Queue(`INSERT INTO rows VALUES (1)`)
	b0.Queue(`SELECT $1::int + 1`, 41).QueryRow(func(r pgx.Row) error {
		var n int
		err := r.Scan(&n)
		note(fmt.Sprint("b0 row ", n))
		return err
	})

	// A unique violation at execution: the batch's first insert is rolled back too,
	// and its last statement neither runs nor calls back.
	b1 := &pgx.Batch{}
	b1.Queue(`INSERT INTO rows VALUES (2)`)
	b1.Queue(`INSERT INTO rows VALUES (1), (1)`).Exec(func(pgconn.CommandTag) error {
		note("b1 duplicate inserted")
		return nil
	})
	b1.Queue(`INSERT INTO rows VALUES (20)`).Exec(func(pgconn.CommandTag) error {
		note("b1 after the failure")
		return nil
	})

	b2 := &pgx.Batch{}
	b2.Queue(`INSERT INTO rows VALUES (3)`).Exec(func(tag pgconn.CommandTag) error {
		note("b2 " + tag.String())
		return nil
	})
	b2.Queue(`SELECT generate_series(1, $1::int)`, 3).Query(func(rows pgx.Rows) error {
		ns, err := pgx.CollectRows(rows, pgx.RowTo[int])
		note(fmt.Sprint("b2 rows ", ns))
		return err
	})
	b2.Queue(`SELECT 1 WHERE false`).QueryRow(func(r pgx.Row) error {
		var n int
		if err := r.Scan(&n); !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("want no rows, got %v", err)
		}
		note("b2 no rows")
		return nil
	})

	// A callback's error stops the callbacks after it, not the statements.
	errCallback := errors.New("callback refused")
	b3 := &pgx.Batch{}
	b3.Queue(`SELECT 1`).QueryRow(func(pgx.Row) error { return errCallback })
	b3.Queue(`INSERT INTO rows VALUES (4)`).Exec(func(pgconn.CommandTag) error {
		note("b3 after the callback's error")
		return nil
	})

	// Refused at Bind (the text is no int): what came before in the batch is rolled
	// back.
	b4 := &pgx.Batch{}
	b4.Queue(`INSERT INTO rows VALUES (5)`)
	b4.Queue(`SELECT $1::int`, "five")

	// An argument pgx cannot encode for the parameter: nothing of the batch is sent.
	b5 := &pgx.Batch{}
	b5.Queue(`INSERT INTO rows VALUES (6)`)
	b5.Queue(`SELECT $1::int`, struct{}{})

	b6 := &pgx.Batch{}
	b6.Queue(`INSERT INTO rows VALUES (7)`)

	conn, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	errs, err := sendAll(t.Context(), conn.Conn(), []*pgx.Batch{b0, b1, b2, b3, b4, b5, b6})
	require.NoError(t, err)
	require.Len(t, errs, 7)

	assert.NoError(t, errs[0])
	var pe *pgconn.PgError
	if assert.ErrorAs(t, errs[1], &pe) {
		assert.Equal(t, "23505", pe.Code, "b1: unique violation")
	}
	assert.NoError(t, errs[2])
	assert.ErrorIs(t, errs[3], errCallback)
	if assert.ErrorAs(t, errs[4], &pe) {
		assert.Equal(t, "22P02", pe.Code, "b4: invalid text representation, at Bind")
	}
	assert.ErrorContains(t, errs[5], "encode arguments")
	assert.NoError(t, errs[6])

	assert.Equal(t, []string{"b0 row 42", "b2 INSERT 0 1", "b2 rows [1 2 3]", "b2 no rows"}, got)
	assert.Equal(t, []int{1, 3, 4, 7}, storedIDs(t, pool))

	// The connection is back to normal use, outside any transaction.
	var one int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT 1`).Scan(&one))
	assert.Equal(t, byte('I'), conn.Conn().PgConn().TxStatus())
}

// A batch that leaves a transaction open would take in the batches after it: the
// pipeline fails whole and closes its connection, which rolls back everything the
// open transaction held.
func TestABatchLeavingItsTransactionOpenFailsThePipeline(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	b0 := &pgx.Batch{}
	b0.Queue(`BEGIN`)
	b0.Queue(`INSERT INTO rows VALUES (1)`)
	b1 := &pgx.Batch{}
	b1.Queue(`INSERT INTO rows VALUES (2)`)

	conn, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	_, err = sendAll(t.Context(), conn.Conn(), []*pgx.Batch{b0, b1})
	require.ErrorContains(t, err, "left its transaction open")
	assert.True(t, conn.Conn().IsClosed())
	assert.Empty(t, storedIDs(t, pool))
}

// A statement the connection has not prepared yet is prepared on the way; one that
// does not prepare fails its batch alone.
func TestStatementsArePreparedOnTheWay(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	b0 := &pgx.Batch{}
	b0.Queue(`INSERT INTO rows VALUES ($1)`, 1)
	b1 := &pgx.Batch{}
	b1.Queue(`INSERT INTO no_such_table VALUES (1)`)
	b2 := &pgx.Batch{}
	b2.Queue(`INSERT INTO rows VALUES ($1)`, 2)

	conn, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	errs, err := sendAll(t.Context(), conn.Conn(), []*pgx.Batch{b0, b1, b2})
	require.NoError(t, err)
	assert.NoError(t, errs[0])
	var pe *pgconn.PgError
	if assert.ErrorAs(t, errs[1], &pe) {
		assert.Equal(t, "42P01", pe.Code, "undefined table")
	}
	assert.NoError(t, errs[2])
	assert.Equal(t, []int{1, 2}, storedIDs(t, pool))
}

// The connection's tracer sees each statement of each batch, its error included, as
// it does for pgx's SendBatch: the web pool's tracer retires connections whose
// prepared statements went stale by it.
func TestTheConnectionsTracerSeesEachStatement(t *testing.T) {
	t.Parallel()
	cfg, err := pgxpool.ParseConfig(dbtest.Empty(t))
	require.NoError(t, err)
	tr := &tracer{}
	cfg.ConnConfig.Tracer = tr
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	b0 := &pgx.Batch{}
	b0.Queue(`SELECT 1`)
	b1 := &pgx.Batch{}
	b1.Queue(`SELECT 1/0`)
	conn, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	_, err = sendAll(t.Context(), conn.Conn(), []*pgx.Batch{b0, b1})
	require.NoError(t, err)

	tr.mu.Lock()
	defer tr.mu.Unlock()
	assert.Equal(t, []string{"start", "SELECT 1: <nil>", "end: <nil>",
		"start", "SELECT 1/0: ERROR: division by zero (SQLSTATE 22012)", "end: ERROR: division by zero (SQLSTATE 22012)"}, tr.seen)
}

type tracer struct {
	mu   sync.Mutex
	seen []string
}

func (tr *tracer) add(s string) {
	tr.mu.Lock()
	tr.seen = append(tr.seen, s)
	tr.mu.Unlock()
}

func (*tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (*tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (tr *tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	tr.add("start")
	return ctx
}
func (tr *tracer) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	tr.add(fmt.Sprintf("%s: %v", d.SQL, d.Err))
}
func (tr *tracer) TraceBatchEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchEndData) {
	tr.add(fmt.Sprintf("end: %v", d.Err))
}

// Concurrent sends, alone or sharing pipelines, each get their own answers, in
// transactions of their own.
func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	s := New(pool)

	const n = 40
	var wg sync.WaitGroup
	txs := make([]int64, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := &pgx.Batch{}
			b.Queue(`INSERT INTO rows VALUES ($1)`, i)
			if i%10 == 3 {
				b.Queue(`INSERT INTO rows VALUES ($1)`, i) // a duplicate: this send fails alone
			}
			b.Queue(`SELECT txid_current()`).QueryRow(func(r pgx.Row) error { return r.Scan(&txs[i]) })
			errs[i] = s.Send(t.Context(), b)
		}()
	}
	wg.Wait()

	var want []int
	seen := map[int64]bool{}
	for i := range n {
		if i%10 == 3 {
			assert.Error(t, errs[i], "send %d", i)
			continue
		}
		require.NoError(t, errs[i], "send %d", i)
		assert.False(t, seen[txs[i]], "send %d shares a transaction", i)
		seen[txs[i]] = true
		want = append(want, i)
	}
	assert.Equal(t, want, storedIDs(t, pool))
}
