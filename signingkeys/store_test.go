package signingkeys_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/seal"
	"github.com/huddle-lti/huddle/signingkeys"
)

var (
	tools   = signingkeys.Table{Name: "tool_keys", KeyColumn: "kid", Purpose: "tool-key", Published: "unpublish_at IS NULL OR unpublish_at > $1"}
	issuing = signingkeys.Table{Name: "issuing_keys", KeyColumn: "key_id", Purpose: "issuing-key"}
)

// One store's code keeps two tables apart: each opens its own current key with the
// kid its owner gives, publishes what its rule says, and a key sealed for one purpose
// does not open as the other's, even copied into its table.
func TestStoresKeepTheirTablesApart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	sealer, err := seal.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	toolStore := signingkeys.New(pool, sealer, tools, 1024, clock, nil)
	issuingStore := signingkeys.New(pool, sealer, issuing, 1024, clock,
		func(id string) string { return "https://huddle.test/certificates/keys/" + id })

	insert := func(s *signingkeys.Store, id string) {
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return s.Insert(ctx, tx, id) }))
	}
	_, _, err = toolStore.Current(ctx, pool)
	require.ErrorIs(t, err, signingkeys.ErrNoKey)
	insert(toolStore, "tool0000000000001")
	insert(issuingStore, "0123456789abcdef01234567")

	key, id, err := toolStore.Current(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, "tool0000000000001", id)
	require.Equal(t, "tool0000000000001", key.KeyID())
	key, id, err = issuingStore.Current(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, "0123456789abcdef01234567", id)
	require.Equal(t, "https://huddle.test/certificates/keys/0123456789abcdef01234567", key.KeyID())

	// A retired tool key past unpublish_at leaves the tool JWKS; issuing keys never do.
	_, err = pool.Exec(ctx, `UPDATE tool_keys SET retired_at = $1, unpublish_at = $1`, now.Add(-time.Hour))
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE issuing_keys SET retired_at = $1`, now.Add(-time.Hour))
	require.NoError(t, err)
	count := func(s *signingkeys.Store) int {
		body, err := s.PublicJWKS(ctx)
		require.NoError(t, err)
		var set struct{ Keys []json.RawMessage }
		require.NoError(t, json.Unmarshal(body, &set))
		return len(set.Keys)
	}
	require.Equal(t, 0, count(toolStore))
	require.Equal(t, 1, count(issuingStore))

	// An issuing key copied into tool_keys does not open as a tool key.
	_, err = pool.Exec(ctx, `
INSERT INTO tool_keys (kid, private_key, public_jwk, created_at)
SELECT 'copied', private_key, public_jwk, created_at FROM issuing_keys`)
	require.NoError(t, err)
	_, _, err = toolStore.Current(ctx, pool)
	require.ErrorIs(t, err, seal.ErrOpen)
}
