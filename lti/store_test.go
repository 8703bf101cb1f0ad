package lti_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/lti"
)

// Two instances over one database: one caches a platform for logins, the other
// removes it; the first then refuses the login instead of failing.
func TestPlatformRemovedOnAnotherInstance(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	a, b := lti.NewStore(pool, nil), lti.NewStore(pool, nil)
	p, err := a.AddPlatform(ctx, lti.Platform{Issuer: "https://moodle.example", ClientID: "c", AuthURL: "https://moodle.example/auth",
		TokenURL: "https://moodle.example/token", JWKSURL: "https://moodle.example/jwks", DeploymentIDs: []string{"1"}})
	require.NoError(t, err)
	cached, err := a.FindPlatform(ctx, p.Issuer, p.ClientID)
	require.NoError(t, err)

	require.NoError(t, b.RemovePlatform(ctx, p.ID))
	_, err = a.StartAuth(ctx, lti.LoginInitiation{Platform: cached, LoginHint: "4", TargetLinkURI: "https://huddle.test/lti/launch"},
		"https://huddle.test/lti/launch", "browser-secret")
	require.ErrorIs(t, err, lti.ErrNotFound)
	_, err = a.FindPlatform(ctx, p.Issuer, p.ClientID)
	require.ErrorIs(t, err, lti.ErrNotFound, "the stale entry is dropped")
}
