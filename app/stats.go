package app

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// statsEvery is how often each instance looks for tables that have outgrown their
// statistics (analyzeGrown).
const statsEvery = 5 * time.Second

// grownTablesSQL names Huddle's tables (those its role owns) that have outgrown what
// their last ANALYZE or VACUUM counted (pg_class): live rows (as the cumulative
// statistics count them, at most a second behind) more than twice, and 250 more than,
// reltuples (-1 when never counted); or pages more than twice, and 16 more than,
// relpages. The pages catch the tables whose rows come and go (login states,
// sessions): their live rows stay few while their dead ones fill pages that a plan
// made for an empty table scans whole.
const grownTablesSQL = `
SELECT s.schemaname, s.relname
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
WHERE pg_has_role(current_user, c.relowner, 'MEMBER')
  AND (s.n_live_tup > 2 * greatest(c.reltuples, 0) + 250
       OR pg_relation_size(c.oid) / current_setting('block_size')::bigint > 2 * c.relpages + 16)
ORDER BY s.relname`

// analyzeGrown analyses each table that has outgrown its statistics and returns their
// names. The web pool's statements keep generic plans (keepWarm), and PostgreSQL
// makes a generic plan again only when its tables' statistics change. One made while
// a table's statistics said it was empty (a new installation, or autovacuum having
// seen the previous day's login states and sessions go) joins and scans as if the
// table had no rows, and keeps doing so as a rush fills it, until autovacuum next
// analyses it: up to a minute, or longer on a busy cluster. In huddle-load's paced
// start-of-term mix after VACUUM ANALYZE of the empty tables, PostgreSQL's CPU a
// launch tripled for the whole run, in seq scans of sessions, users, memberships and
// login states. Analysed here within seconds of outgrowing their statistics, the
// tables' plans are made again for their size.
func analyzeGrown(ctx context.Context, db *pgxpool.Pool) ([]string, error) {
	rows, err := db.Query(ctx, grownTablesSQL)
	if err != nil {
		return nil, fmt.Errorf("app: find tables that outgrew their statistics: %w", err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pgx.Identifier, error) {
		var schema, name string
		err := r.Scan(&schema, &name)
		return pgx.Identifier{schema, name}, err
	})
	if err != nil {
		return nil, fmt.Errorf("app: find tables that outgrew their statistics: %w", err)
	}
	names := make([]string, 0, len(tables))
	for _, t := range tables {
		// One table at a time: each ANALYZE is a short transaction of its own, and
		// the plans that read one table are made again as soon as it is done.
		if _, err := db.Exec(ctx, "ANALYZE "+t.Sanitize()); err != nil {
			return names, fmt.Errorf("app: analyze %s: %w", t.Sanitize(), err)
		}
		names = append(names, t[1])
	}
	return names, nil
}

// keepStatsFresh runs analyzeGrown every interval until ctx ends, on the direct pool
// (background work, not the web budget). Every instance runs it; a table another
// instance has just analysed no longer qualifies.
func (a *App) keepStatsFresh(ctx context.Context, every time.Duration) {
	each(ctx, every, func() {
		tables, err := analyzeGrown(ctx, a.Direct)
		if len(tables) > 0 {
			a.Log.Info("analysed tables that had outgrown their statistics", "tables", tables)
		}
		if err != nil && ctx.Err() == nil {
			a.Log.Warn("analyse grown tables", "err", err)
		}
	})
}
