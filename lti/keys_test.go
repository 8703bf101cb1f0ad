package lti_test

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
	"time"

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
