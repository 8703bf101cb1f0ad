package people

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Querier runs a query; *pgxpool.Pool and pgx.Tx are both.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// List is one list in a Holder's export: what it holds (named in errors), the query
// that reads it, with the person's user id as $1, and where its rows go.
type List struct {
	what string
	sql  string
	into func(pgx.Rows) error
}

// ListOf is the list that sql reads into *dst, row by row, by column position. No rows
// is an empty list, so the export shows [] rather than null: the person sees that
// Huddle holds none, not that the question went unanswered.
func ListOf[T any](what, sql string, dst *[]T) List {
	return List{what: what, sql: sql, into: func(rows pgx.Rows) error {
		list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[T])
		if list == nil {
			list = []T{}
		}
		*dst = list
		return err
	}}
}

// ReadLists reads each list of userID's, in order, and stops at the first error.
func ReadLists(ctx context.Context, q Querier, userID int64, lists ...List) error {
	for _, l := range lists {
		rows, err := q.Query(ctx, l.sql, userID)
		if err == nil {
			err = l.into(rows)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", l.what, err)
		}
	}
	return nil
}
