package lti_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/lti"
)

// countStartAuths counts the statements that store login states.
type countStartAuths struct{ n atomic.Int64 }

func (c *countStartAuths) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, "INSERT INTO lti_login_states") {
		c.n.Add(1)
	}
	return ctx
}

func (c *countStartAuths) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Logins that arrive while the login states being written hold their turn go
// together in the next statement, and each still gets a state of its own that only
// its browser can take; a lone login goes at once.
func TestLoginsThatArriveTogetherShareAStatement(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := dbtest.Migrated(t)
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	counter := &countStartAuths{}
	cfg.ConnConfig.Tracer = counter
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s := lti.NewStore(pool, nil)
	p, err := s.AddPlatform(ctx, lti.Platform{Issuer: "https://moodle.example", ClientID: "c", AuthURL: "https://moodle.example/auth",
		TokenURL: "https://moodle.example/token", JWKSURL: "https://moodle.example/jwks", DeploymentIDs: []string{"1"}})
	require.NoError(t, err)
	in := lti.LoginInitiation{Platform: p, LoginHint: "4", TargetLinkURI: "https://huddle.test/lti/launch"}
	// A platform removed after this instance read it: its logins share the batches
	// and are refused, alone.
	gone, err := s.AddPlatform(ctx, lti.Platform{Issuer: "https://gone.example", ClientID: "c", AuthURL: "https://gone.example/auth",
		TokenURL: "https://gone.example/token", JWKSURL: "https://gone.example/jwks", DeploymentIDs: []string{"1"}})
	require.NoError(t, err)
	require.NoError(t, lti.NewStore(pool, nil).RemovePlatform(ctx, gone.ID))
	inGone := lti.LoginInitiation{Platform: gone, LoginHint: "4", TargetLinkURI: "https://huddle.test/lti/launch"}

	_, err = s.StartAuth(ctx, in, "https://huddle.test/lti/launch", "alone")
	require.NoError(t, err)
	require.EqualValues(t, 1, counter.n.Load(), "a lone login is one statement, at once")

	// Hold the table so that the first statements wait while the other logins arrive.
	holder := dbtest.Pool(t, url)
	tx, err := holder.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE lti_login_states IN SHARE MODE")
	require.NoError(t, err)

	const logins = 40
	states := make([]string, logins)
	refusals := make([]error, logins/4)
	var wg sync.WaitGroup
	var arrived atomic.Int64
	for i := range logins {
		wg.Go(func() {
			arrived.Add(1)
			req, err := s.StartAuth(ctx, in, "https://huddle.test/lti/launch", "browser-"+string(rune('a'+i)))
			if err == nil {
				states[i] = req.State
			}
		})
		if i%4 == 0 {
			wg.Go(func() {
				_, refusals[i/4] = s.StartAuth(ctx, inGone, "https://huddle.test/lti/launch", "browser-gone")
			})
		}
	}
	require.Eventually(t, func() bool {
		return counter.n.Load() >= 2 && arrived.Load() == logins
	}, 10*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond) // the last arrivals reach the queue
	require.NoError(t, tx.Rollback(ctx))
	wg.Wait()

	statements := counter.n.Load() - 1
	require.Less(t, statements, int64(logins/4), "%d statements for %d logins", statements, logins+len(refusals))
	for _, err := range refusals {
		require.ErrorIs(t, err, lti.ErrNotFound)
	}
	seen := map[string]bool{}
	for i, state := range states {
		require.NotEmpty(t, state, "login %d failed", i)
		require.False(t, seen[state])
		seen[state] = true
		_, err := s.TakeState(ctx, state, "another-browser")
		require.ErrorIs(t, err, lti.ErrStateInvalid, "another browser cannot take login %d's state", i)
	}
	for i, state := range states {
		got, err := s.TakeState(ctx, state, "browser-"+string(rune('a'+i)))
		require.NoError(t, err, "login %d", i)
		require.Equal(t, p.ID, got.Platform.ID)
	}
}
