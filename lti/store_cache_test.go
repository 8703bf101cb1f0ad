package lti

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
)

// FindPlatform's cache is bounded in size, not only in time: looking up more
// platforms than it keeps never grows it past maxCachedPlatforms.
func TestPlatformCacheIsBounded(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	admin, s := NewStore(pool, nil), NewStore(pool, nil) // adding clears the adder's own cache
	for i := range maxCachedPlatforms + 10 {
		iss := "https://moodle" + strconv.Itoa(i) + ".example"
		_, err := admin.AddPlatform(ctx, Platform{Issuer: iss, ClientID: "c", AuthURL: iss + "/auth",
			TokenURL: iss + "/token", JWKSURL: iss + "/jwks", DeploymentIDs: []string{"1"}})
		require.NoError(t, err)
		_, err = s.FindPlatform(ctx, iss, "c")
		require.NoError(t, err)
		s.mu.Lock()
		n := len(s.found)
		s.mu.Unlock()
		require.LessOrEqual(t, n, maxCachedPlatforms)
		if i < maxCachedPlatforms {
			require.Equal(t, i+1, n, "below the bound, every lookup is kept")
		}
	}
}
