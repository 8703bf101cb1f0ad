package lti_test

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/seal"
)

func TestKeyringRotationAndGrace(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	sealer, err := seal.New(bytes.Repeat([]byte{3}, 32))
	require.NoError(t, err)
	clock := fakeclock.New(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	k := lti.NewKeyring(pool, sealer, clock.Now, 1024)

	// Several instances starting at once end with one key.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); require.NoError(t, k.Ensure(t.Context())) }()
	}
	wg.Wait()
	kids := func() []string {
		body, err := k.PublicJWKS(t.Context())
		require.NoError(t, err)
		var set struct{ Keys []struct{ Kid, D string } }
		require.NoError(t, json.Unmarshal(body, &set))
		var out []string
		for _, key := range set.Keys {
			require.Empty(t, key.D, "no private parts in the JWKS")
			out = append(out, key.Kid)
		}
		return out
	}
	first := kids()
	require.Len(t, first, 1)
	signing, err := k.SigningKey(t.Context())
	require.NoError(t, err)
	require.Equal(t, first[0], signing.KeyID())

	newKid, err := k.Rotate(t.Context(), time.Hour)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{first[0], newKid}, kids(), "the old key stays published during the grace period")
	signing, err = k.SigningKey(t.Context())
	require.NoError(t, err)
	require.Equal(t, newKid, signing.KeyID(), "only the new key signs")

	clock.Advance(2 * time.Hour)
	require.Equal(t, []string{newKid}, kids(), "after the grace period the old key is gone")

	// The private key is sealed: another secret cannot open it.
	other, err := seal.New(bytes.Repeat([]byte{4}, 32))
	require.NoError(t, err)
	_, err = lti.NewKeyring(pool, other, clock.Now, 1024).SigningKey(t.Context())
	require.ErrorIs(t, err, seal.ErrOpen)
}

// TestKeyringReseal: huddle secret rotate moves every tool key, current and retired,
// to the new secret in the caller's transaction, or changes nothing.
func TestKeyringReseal(t *testing.T) {
	t.Parallel()
	sealerOf := func(b byte) *seal.Sealer {
		s, err := seal.New(bytes.Repeat([]byte{b}, 32))
		require.NoError(t, err)
		return s
	}
	oldSecret, newSecret, other := sealerOf(3), sealerOf(5), sealerOf(6)
	// setup makes a database with two keys sealed with the old secret, the first one
	// retired but still published.
	setup := func(t *testing.T) (*pgxpool.Pool, *lti.Keyring) {
		pool := dbtest.New(t)
		k := lti.NewKeyring(pool, oldSecret, nil, 1024)
		require.NoError(t, k.Ensure(t.Context()))
		_, err := k.Rotate(t.Context(), time.Hour)
		require.NoError(t, err)
		return pool, k
	}
	reseal := func(t *testing.T, pool *pgxpool.Pool, k *lti.Keyring, from, to lti.Sealer) (int, error) {
		var n int
		err := pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
			var err error
			n, err = k.Reseal(t.Context(), tx, from, to)
			return err
		})
		return n, err
	}

	failures := []struct {
		name    string
		prepare func(t *testing.T, pool *pgxpool.Pool)
		from    *seal.Sealer
		wantRow string
	}{
		{name: "the wrong old secret", from: other, wantRow: "tool_keys row id=1"},
		{
			// Keys 1 and 2 open and are re-sealed in the transaction before key 3,
			// sealed with another secret, fails it: they must not stay re-sealed.
			name: "one key sealed with another secret",
			prepare: func(t *testing.T, pool *pgxpool.Pool) {
				_, err := lti.NewKeyring(pool, other, nil, 1024).Rotate(t.Context(), time.Hour)
				require.NoError(t, err)
			},
			from: oldSecret, wantRow: "tool_keys row id=3",
		},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool, k := setup(t)
			if tt.prepare != nil {
				tt.prepare(t, pool)
			}
			before := sealedToolKeys(t, pool)
			_, err := reseal(t, pool, k, tt.from, newSecret)
			require.ErrorIs(t, err, seal.ErrOpen)
			require.ErrorContains(t, err, tt.wantRow)
			require.Equal(t, before, sealedToolKeys(t, pool), "nothing changed")
		})
	}

	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		pool, k := setup(t)
		ctx := t.Context()
		before := sealedToolKeys(t, pool)
		n, err := reseal(t, pool, k, oldSecret, newSecret)
		require.NoError(t, err)
		require.Equal(t, 2, n, "the retired key is still published, so it is re-sealed too")
		after := sealedToolKeys(t, pool)
		for id := range before {
			require.NotEqual(t, before[id], after[id], "row %d", id)
		}

		// A fresh keyring (nothing cached) with the new secret signs, and the
		// signature verifies with the published key: the key pair is the same one.
		key, err := lti.NewKeyring(pool, newSecret, nil, 1024).SigningKey(ctx)
		require.NoError(t, err)
		signed, err := jws.Sign([]byte("payload"), jws.WithKey(jwa.RS256, key))
		require.NoError(t, err)
		body, err := k.PublicJWKS(ctx)
		require.NoError(t, err)
		set, err := jwk.Parse(body)
		require.NoError(t, err)
		payload, err := jws.Verify(signed, jws.WithKeySet(set))
		require.NoError(t, err)
		require.Equal(t, "payload", string(payload))

		_, err = lti.NewKeyring(pool, oldSecret, nil, 1024).SigningKey(ctx)
		require.ErrorIs(t, err, seal.ErrOpen, "the old secret no longer opens it")

		_, err = reseal(t, pool, k, oldSecret, newSecret)
		require.ErrorIs(t, err, seal.ErrOpen, "a second rotation from the old secret fails")
		require.Equal(t, after, sealedToolKeys(t, pool), "and changes nothing")
	})
}

// sealedToolKeys returns each tool key row's sealed private key by id.
func sealedToolKeys(t *testing.T, pool *pgxpool.Pool) map[int64][]byte {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT id, private_key FROM tool_keys`)
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
