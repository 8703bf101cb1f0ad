// Package pipeline sends the small pgx batches of concurrent requests to PostgreSQL
// together: one round trip for several batches, each still an implicit transaction
// of its own. PostgreSQL's extended protocol ends a transaction at each Sync message,
// and after an error skips only to the next Sync, so batches that share a round trip
// commit, fail and roll back apart, exactly as they would one by one.
//
// Under load most of a returning launch's database cost is its round trip (the
// sends, receives and wake-ups on both sides), not its statements. Batches that
// arrive while the Sender already has its pipelines in flight wait for the next one
// (internal/batch); a lone batch goes at once, on its own, through pgx's SendBatch.
package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/internal/batch"
)

// Sender sends pgx batches, sharing round trips between those sent at the same time.
type Sender struct {
	pool    *pgxpool.Pool
	batches *batch.Batcher[*pgx.Batch, error]
}

// Tuning, measured with huddle-load's returning mix (docs/operations.md): one
// pipeline in flight, as for the login states' inserts (lti.authStartsInFlight),
// since with two the pipelines stayed too small to gain as much; and one that follows
// another lingers 2 ms for more batches to join it (lti.authStartLinger). One
// pipeline at a time bounds an instance's launches: a returning launch's statements
// take PostgreSQL about 80 µs (docs/operations.md), so a full pipeline of 32 takes
// about 2.6 ms, some 12,000 launches a second, where the 2-core machine serves about
// 1,000 in all.
const (
	inFlight = 1
	linger   = 2 * time.Millisecond
	maxSize  = 32
	// timeout bounds a pipeline: it carries several requests' statements, so no one
	// request's context may cancel it.
	timeout = 5 * time.Second
)

// New returns a Sender on pool. The pool must reach PostgreSQL itself or a
// session-mode pooler: statements are prepared by name, and several transactions go
// in one round trip. Through a transaction-mode PgBouncer, send with pgx's SendBatch.
func New(pool *pgxpool.Pool) *Sender {
	s := &Sender{pool: pool}
	s.batches = batch.New(inFlight, maxSize, timeout, s.run).Lingering(linger)
	return s
}

// Send sends b as pgx's SendBatch(ctx, b).Close() would: b's statements run in one
// implicit transaction, its queued queries' callbacks are called in order until one
// fails, and Send returns the first error. b may share its round trip with other
// batches; their errors are their own. If ctx ends before b is sent, Send returns
// ctx's error and b is not sent; once it is sent, it runs to the end whatever ctx does.
//
// b's queries are SQL, not names of prepared statements, and none of them begins or
// ends a transaction (no Batch.BeginTx): a transaction left open would take in the
// batches after it. A pipeline that finds one open fails whole, and its connection is
// closed, which rolls back all it ran.
func (s *Sender) Send(ctx context.Context, b *pgx.Batch) error {
	err, berr := s.batches.Do(ctx, b)
	if berr != nil {
		return berr
	}
	return err
}

// run sends bs and returns each one's error.
func (s *Sender) run(ctx context.Context, bs []*pgx.Batch) ([]error, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("pipeline: acquire: %w", err)
	}
	defer conn.Release()
	if len(bs) == 1 {
		return []error{conn.SendBatch(ctx, bs[0]).Close()}, nil
	}
	return sendAll(ctx, conn.Conn(), bs)
}

// sendAll sends bs on c in one pipeline, each batch followed by a Sync, and returns
// each batch's error. An error of the whole (the connection lost, a protocol error)
// is every batch's: which of them committed is then unknown, as it is when a single
// batch loses its connection.
func sendAll(ctx context.Context, c *pgx.Conn, bs []*pgx.Batch) ([]error, error) {
	errs := make([]error, len(bs))
	queued := make([][]queuedStatement, len(bs))
	for i, b := range bs {
		queued[i], errs[i] = prepare(ctx, c, b)
		if errs[i] != nil && c.IsClosed() {
			return nil, errs[i]
		}
	}

	p := c.PgConn().StartPipeline(ctx)
	for i := range bs {
		if errs[i] != nil {
			continue // nothing of it is sent
		}
		for _, q := range queued[i] {
			// Not SendQueryStatement, which saves the Describe: pgconn queues its
			// statement descriptions apart from its requests, and the descriptions of
			// statements that an error skipped would stay queued, misreading the
			// results of the batches after it.
			p.SendQueryPrepared(q.sd.Name, q.args.ParamValues, q.args.ParamFormats, q.args.ResultFormats)
		}
		p.SendPipelineSync()
	}
	if err := p.Flush(); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("pipeline: send: %w", err)
	}
	tracer, _ := c.Config().Tracer.(pgx.BatchTracer)
	for i, b := range bs {
		if errs[i] != nil {
			continue
		}
		tctx := ctx
		if tracer != nil {
			tctx = tracer.TraceBatchStart(ctx, c, pgx.TraceBatchStartData{Batch: b})
		}
		var err error
		errs[i], err = readBatch(tctx, c, p, b, tracer)
		if err == nil && c.PgConn().TxStatus() != 'I' {
			err = errors.New("pipeline: a batch left its transaction open")
		}
		if err != nil {
			_ = p.Close()
			closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = c.Close(closeCtx)
			cancel()
			return nil, err
		}
		if tracer != nil {
			tracer.TraceBatchEnd(tctx, c, pgx.TraceBatchEndData{Err: errs[i]})
		}
	}
	if err := p.Close(); err != nil {
		return nil, fmt.Errorf("pipeline: close: %w", err)
	}
	return errs, nil
}

// queuedStatement is one of a batch's statements, prepared, with its arguments
// encoded.
type queuedStatement struct {
	sd   *pgconn.StatementDescription
	args pgx.ExtendedQueryBuilder
}

// prepare prepares b's statements on c and encodes their arguments, all before the
// pipeline starts, so that a batch is sent whole or not at all. Each statement is
// prepared under its SQL, as pgx prepares statements for its cache: the hot ones
// were prepared as the connection opened (app.keepWarm), so this is a lookup; any
// other takes a round trip of its own, once per connection.
func prepare(ctx context.Context, c *pgx.Conn, b *pgx.Batch) ([]queuedStatement, error) {
	qs := make([]queuedStatement, len(b.QueuedQueries))
	for j, qq := range b.QueuedQueries {
		sd, err := c.Prepare(ctx, qq.SQL, qq.SQL)
		if err != nil {
			return nil, fmt.Errorf("pipeline: prepare: %w", err)
		}
		qs[j].sd = sd
		if err := qs[j].args.Build(c.TypeMap(), sd, qq.Arguments); err != nil {
			return nil, fmt.Errorf("pipeline: encode arguments: %w", err)
		}
	}
	return qs, nil
}

// readBatch reads the results of one batch, up to and including its Sync, and calls
// its queued queries' callbacks in order until one fails, as pgx's batch results do.
// It returns the batch's first error, and separately an error of the whole pipeline.
func readBatch(ctx context.Context, c *pgx.Conn, p *pgconn.Pipeline, b *pgx.Batch, tracer pgx.BatchTracer) (error, error) {
	var berr error
	for _, qq := range b.QueuedQueries {
		res, err := p.GetResults()
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			// Refused at Bind: PostgreSQL skips the rest of the batch up to its Sync,
			// and so does pgx.
			if tracer != nil {
				tracer.TraceBatchQuery(ctx, c, pgx.TraceBatchQueryData{SQL: qq.SQL, Args: qq.Arguments, Err: err})
			}
			berr = cmp.Or(berr, err)
			break
		}
		if err != nil {
			return nil, fmt.Errorf("pipeline: read: %w", err)
		}
		rr, ok := res.(*pgconn.ResultReader)
		if !ok {
			return nil, fmt.Errorf("pipeline: read: %T where a statement's result was due", res)
		}
		r := &result{m: c.TypeMap(), rr: rr}
		var cberr error
		switch {
		case berr != nil:
			// A callback failed already: pgx calls no more of them.
		case qq.Fn == nil:
			_, cberr = r.Exec()
		default:
			cberr = qq.Fn(r)
		}
		tag, serr := rr.Close()
		if tracer != nil {
			tracer.TraceBatchQuery(ctx, c, pgx.TraceBatchQueryData{SQL: qq.SQL, Args: qq.Arguments, CommandTag: tag, Err: cmp.Or(serr, cberr)})
		}
		berr = cmp.Or(berr, cberr, serr)
		if serr != nil {
			break // the statement failed: PostgreSQL skips the rest up to the Sync
		}
	}
	for {
		res, err := p.GetResults()
		var pe *pgconn.PgError
		switch {
		case errors.As(err, &pe):
			// An error at the commit (a deferred constraint): the transaction rolled
			// back, and the Sync's answer still follows.
			berr = cmp.Or(berr, err)
		case err != nil:
			return nil, fmt.Errorf("pipeline: read: %w", err)
		default:
			if _, ok := res.(*pgconn.PipelineSync); !ok {
				return nil, fmt.Errorf("pipeline: read: %T where a Sync's answer was due", res)
			}
			return berr, nil
		}
	}
}

// result is pgx.BatchResults over one statement's result, for its queued query's
// callback: pgx's own needs its connection's batch, which a pipeline of several
// batches is not.
type result struct {
	m  *pgtype.Map
	rr *pgconn.ResultReader
}

var _ pgx.BatchResults = (*result)(nil)

func (r *result) Exec() (pgconn.CommandTag, error) { return r.rr.Close() }

func (r *result) Query() (pgx.Rows, error) { return pgx.RowsFromResultReader(r.m, r.rr), nil }

func (r *result) QueryRow() pgx.Row { return row{pgx.RowsFromResultReader(r.m, r.rr)} }

// Close does nothing: readBatch closes each statement's result after its callback.
func (r *result) Close() error { return nil }

// Tx is nil: a batch sent here begins no transaction of pgx's (Batch.BeginTx).
func (r *result) Tx() pgx.Tx { return nil }

// row is QueryRow's pgx.Row, with pgx's rules: no row is pgx.ErrNoRows, and the rows
// are closed after the first.
type row struct{ rows pgx.Rows }

func (r row) Scan(dest ...any) error {
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}
