package moodle_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/moodle/moodletest"
	"github.com/huddle-lti/huddle/seal"
)

// TestConnectionsReseal: huddle secret rotate moves every saved web services token to
// the new secret in the caller's transaction, or changes nothing.
func TestConnectionsReseal(t *testing.T) {
	t.Parallel()
	sealerOf := func(b byte) *seal.Sealer {
		s, err := seal.New(bytes.Repeat([]byte{b}, 32))
		require.NoError(t, err)
		return s
	}
	oldSecret, newSecret, other := sealerOf(3), sealerOf(5), sealerOf(6)
	site := moodletest.NewServer(t, map[string][]byte{"core_webservice_get_site_info": moodletest.Capture(t, "001")})
	cfg := moodle.BaseConfig(site.Client(), "Huddle/test")
	cfg.MaxAttempts = 1

	// setup makes a database with two platforms, the first one's token saved sealed
	// with the old secret and the second one's with secondSecret.
	setup := func(t *testing.T, secondSecret *seal.Sealer) *pgxpool.Pool {
		pool := dbtest.New(t)
		for i, s := range []*seal.Sealer{oldSecret, secondSecret} {
			var id int64
			require.NoError(t, pool.QueryRow(t.Context(), `INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url)
VALUES ($1, 'c', $1 || '/a', $1 || '/t', $1 || '/j') RETURNING id`, fmt.Sprintf("%s/%d", site.URL, i)).Scan(&id))
			_, err := moodle.NewConnections(pool, s, cfg, nil).Save(t.Context(), id, site.URL, moodletest.Token)
			require.NoError(t, err)
		}
		return pool
	}
	reseal := func(t *testing.T, pool *pgxpool.Pool, from, to moodle.Sealer) (int, error) {
		var n int
		err := pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
			var err error
			n, err = moodle.NewConnections(pool, from, cfg, nil).Reseal(t.Context(), tx, from, to)
			return err
		})
		return n, err
	}

	failures := []struct {
		name         string
		secondSecret *seal.Sealer
		from         *seal.Sealer
		wantRow      string
	}{
		{"the wrong old secret", oldSecret, other, "moodle_connections row platform_id=1"},
		// Platform 1's token opens and is re-sealed in the transaction before platform
		// 2's, sealed with another secret, fails it: it must not stay re-sealed.
		{"one token sealed with another secret", other, oldSecret, "moodle_connections row platform_id=2"},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := setup(t, tt.secondSecret)
			before := sealedTokens(t, pool)
			_, err := reseal(t, pool, tt.from, newSecret)
			require.ErrorIs(t, err, seal.ErrOpen)
			require.ErrorContains(t, err, tt.wantRow)
			require.NotContains(t, err.Error(), moodletest.Token)
			require.Equal(t, before, sealedTokens(t, pool), "nothing changed")
		})
	}

	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		pool := setup(t, oldSecret)
		before := sealedTokens(t, pool)
		n, err := reseal(t, pool, oldSecret, newSecret)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		after := sealedTokens(t, pool)
		for id := range before {
			require.NotEqual(t, before[id], after[id], "platform %d", id)
		}

		// The fake site answers only the right token, so a working call proves the
		// token opened under the new secret is the one saved.
		for id := range after {
			client, err := moodle.NewConnections(pool, newSecret, cfg, nil).ClientFor(ctx, id)
			require.NoError(t, err)
			_, err = client.SiteInfo(ctx)
			require.NoError(t, err, "platform %d", id)

			_, err = moodle.NewConnections(pool, oldSecret, cfg, nil).ClientFor(ctx, id)
			require.ErrorIs(t, err, seal.ErrOpen, "the old secret no longer opens platform %d's token", id)
		}

		_, err = reseal(t, pool, oldSecret, newSecret)
		require.ErrorIs(t, err, seal.ErrOpen, "a second rotation from the old secret fails")
		require.Equal(t, after, sealedTokens(t, pool), "and changes nothing")
	})
}

// sealedTokens returns each connection's sealed token by platform id.
func sealedTokens(t *testing.T, pool *pgxpool.Pool) map[int64][]byte {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT platform_id, token_sealed FROM moodle_connections`)
	require.NoError(t, err)
	out := map[int64][]byte{}
	var id int64
	var sealed []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &sealed}, func() error {
		out[id] = bytes.Clone(sealed)
		return nil
	})
	require.NoError(t, err)
	return out
}
