package session_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/session"
)

func TestSessionLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	p, err := lti.NewStore(pool, nil).AddPlatform(ctx, lti.Platform{Issuer: "https://moodle.example", ClientID: "c",
		AuthURL: "https://moodle.example/a", TokenURL: "https://moodle.example/t", JWKSURL: "https://moodle.example/j"})
	require.NoError(t, err)
	var userID int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (platform_id, subject, name) VALUES ($1, '4', 'Lena Learner') RETURNING id`, p.ID).Scan(&userID))

	clock := fakeclock.New(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	s := session.NewStore(pool, clock.Now, time.Hour)

	id, created, err := s.Create(ctx, userID, p.ID)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(id), 43, "256-bit id")
	require.NotEmpty(t, created.CSRFToken)

	got, err := s.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "Lena Learner", got.UserName)
	require.Equal(t, "https://moodle.example", got.PlatformIssuer)

	// Use keeps it alive past the idle time; idleness ends it.
	clock.Advance(50 * time.Minute)
	_, err = s.Get(ctx, id)
	require.NoError(t, err)
	clock.Advance(50 * time.Minute)
	_, err = s.Get(ctx, id)
	require.NoError(t, err, "the earlier use moved the expiry on")
	clock.Advance(61 * time.Minute)
	_, err = s.Get(ctx, id)
	require.ErrorIs(t, err, session.ErrNotFound)

	_, err = s.Get(ctx, "not-a-session")
	require.ErrorIs(t, err, session.ErrNotFound)

	n, err := s.Prune(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)

	id2, _, err := s.Create(ctx, userID, p.ID)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, id2))
	_, err = s.Get(ctx, id2)
	require.ErrorIs(t, err, session.ErrNotFound)
}
