package app

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
)

// A generic plan made while a table was counted empty keeps scanning the whole table
// as it fills, until the table is analysed again; analyzeGrown analyses a table that
// has outgrown its statistics, and the plan is made again for its size: a table that
// grew (users), and one whose rows came and went, leaving pages (login states). A
// table whose statistics are current is left alone.
func TestAnalyzeGrownReplansTablesThatOutgrewTheirStatistics(t *testing.T) {
	t.Parallel()
	const platform = `
INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url)
VALUES ('https://moodle.example', 'huddle', 'https://moodle.example/auth', 'https://moodle.example/token', 'https://moodle.example/jwks');`
	for _, tc := range []struct {
		name, table, lookup, args, fill, index string
	}{
		{
			name: "grown", table: "users",
			lookup: "SELECT id FROM users WHERE platform_id = $1 AND subject = $2", args: "(1, 'someone')",
			fill: platform + `
INSERT INTO users (platform_id, subject, name, email, updated_at)
SELECT (SELECT id FROM platforms), 'person-' || g, '', '', now() FROM generate_series(1, 3000) g;`,
			index: "users_platform_id_subject_key",
		},
		{
			name: "rows come and go", table: "lti_login_states",
			lookup: "SELECT nonce FROM lti_login_states WHERE state_hash = $1 AND expires_at > now()", args: "('x')",
			fill: platform + `
INSERT INTO lti_login_states (state_hash, nonce, platform_id, browser_hash, created_at, expires_at)
SELECT sha256(g::text::bytea), 'nonce', (SELECT id FROM platforms), '\x00', now(), now() + interval '5 minutes'
FROM generate_series(1, 3000) g;
DELETE FROM lti_login_states;`,
			index: "lti_login_states_pkey",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool := dbtest.New(t)
			ctx := t.Context()
			// The table as autovacuum leaves it once its rows have gone: counted empty.
			_, err := pool.Exec(ctx, "VACUUM ANALYZE "+tc.table)
			require.NoError(t, err)

			conn, err := pool.Acquire(ctx)
			require.NoError(t, err)
			defer conn.Release()
			_, err = conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan")
			require.NoError(t, err)
			_, err = conn.Exec(ctx, "PREPARE lookup AS "+tc.lookup)
			require.NoError(t, err)
			plan := func() string {
				t.Helper()
				rows, err := conn.Query(ctx, "EXPLAIN EXECUTE lookup"+tc.args)
				require.NoError(t, err)
				lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
				require.NoError(t, err)
				return strings.Join(lines, "\n")
			}
			require.Contains(t, plan(), "Seq Scan on "+tc.table, "a plan made for an empty table")

			// The rows reach the cumulative statistics at once.
			_, err = pool.Exec(ctx, tc.fill+"\nSELECT pg_stat_force_next_flush()")
			require.NoError(t, err)
			require.Contains(t, plan(), "Seq Scan on "+tc.table, "the plan is kept as the table fills")

			tables, err := analyzeGrown(ctx, pool)
			require.NoError(t, err)
			require.Contains(t, tables, tc.table)
			require.NotContains(t, tables, "platforms", "one row: nothing to gain")
			p := plan()
			require.NotContains(t, p, "Seq Scan", "made again for the table's size")
			require.Contains(t, p, tc.index)

			tables, err = analyzeGrown(ctx, pool)
			require.NoError(t, err)
			require.Empty(t, tables, "statistics now current")
		})
	}
}
