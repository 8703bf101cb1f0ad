package lti_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/lti"
)

// A relay's life: the frame makes it for a waiting initiation; the login carries it to
// the launch; the launch says what it was; the response is left once and taken once;
// an expired relay answers nothing and is pruned.
func TestDeepLinkingRelay(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	clock := fakeclock.New(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	s := lti.NewStore(pool, clock.Now)
	p, err := s.AddPlatform(ctx, lti.Platform{Issuer: "https://moodle.example", ClientID: "c", AuthURL: "https://moodle.example/a",
		TokenURL: "https://moodle.example/t", JWKSURL: "https://moodle.example/j", DeploymentIDs: []string{"1"}})
	require.NoError(t, err)

	_, err = s.StartRelay(ctx, "no-such-initiation")
	require.ErrorIs(t, err, lti.ErrNotFound)

	id, err := s.SaveInitiation(ctx, lti.LoginInitiation{Platform: p, LoginHint: "3", TargetLinkURI: "https://huddle.test/lti/launch"})
	require.NoError(t, err)
	w, ok, err := s.PeekInitiation(ctx, id)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "https://moodle.example", w.Issuer)
	stale, err := s.StartRelay(ctx, id)
	require.NoError(t, err)
	secret, err := s.StartRelay(ctx, id) // the frame reloaded: the later relay is the one carried
	require.NoError(t, err)

	in, err := s.TakeInitiation(ctx, id)
	require.NoError(t, err)
	req, err := s.StartAuth(ctx, in, "https://huddle.test/lti/launch", "browser")
	require.NoError(t, err)
	ls, err := s.TakeState(ctx, req.State, "browser")
	require.NoError(t, err)
	require.NotNil(t, ls.RelayHash, "the login carries the relay to the launch")

	r, err := s.TakeRelay(ctx, secret)
	require.NoError(t, err)
	require.Equal(t, lti.RelayWaiting, r.State)
	require.ErrorIs(t, s.FillRelay(ctx, ls.RelayHash, "https://moodle.example/r", "jwt"), lti.ErrNotFound,
		"only a relay whose launch was Deep Linking takes a response")
	require.Error(t, s.MarkRelay(ctx, ls.RelayHash, lti.RelayReady), "a launch cannot mark a relay ready")
	require.NoError(t, s.MarkRelay(ctx, ls.RelayHash, lti.RelayPicking))
	require.NoError(t, s.FillRelay(ctx, ls.RelayHash, "https://moodle.example/r", "jwt"))

	r, err = s.TakeRelay(ctx, stale)
	require.NoError(t, err)
	require.Equal(t, lti.RelayWaiting, r.State, "the reloaded frame's first relay never hears of the response")
	r, err = s.TakeRelay(ctx, secret)
	require.NoError(t, err)
	require.Equal(t, lti.RelayState{State: lti.RelayReady, ReturnURL: "https://moodle.example/r", Response: "jwt"}, r)
	_, err = s.TakeRelay(ctx, secret)
	require.ErrorIs(t, err, lti.ErrNotFound, "taken once")

	clock.Advance(lti.RelayLifetime + time.Second)
	_, err = s.TakeRelay(ctx, stale)
	require.ErrorIs(t, err, lti.ErrNotFound, "expired")
	_, err = s.PruneLogins(ctx)
	require.NoError(t, err)
	var left int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM deep_link_relays`).Scan(&left))
	require.Zero(t, left)
}
