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

// A ticket can be looked at any number of times (link previews and scanners fetch the
// confirmation page), is used once, and is good for a minute.
func TestHandoffTicket(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	p, err := lti.NewStore(pool, nil).AddPlatform(ctx, lti.Platform{Issuer: "https://moodle.example", ClientID: "c",
		AuthURL: "https://moodle.example/a", TokenURL: "https://moodle.example/t", JWKSURL: "https://moodle.example/j"})
	require.NoError(t, err)
	var userID int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (platform_id, subject, name) VALUES ($1, '4', 'Lena Learner') RETURNING id`, p.ID).Scan(&userID))
	clock := fakeclock.New(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	s := session.NewStore(pool, session.Options{Now: clock.Now, Idle: time.Hour})
	sess := session.Session{UserID: userID, PlatformID: p.ID}
	want := session.Handoff{UserID: userID, PlatformID: p.ID, Path: "/activities/7", UserName: "Lena Learner", PlatformIssuer: "https://moodle.example"}

	tests := []struct {
		name string
		// wait is how long after issuing the ticket is used.
		wait time.Duration
		ok   bool
	}{
		{name: "at once", wait: 0, ok: true},
		{name: "within the minute", wait: 59 * time.Second, ok: true},
		{name: "after the minute", wait: session.HandoffLifetime, ok: false},
		{name: "long after", wait: time.Hour, ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := clock.Now()
			defer clock.Set(start)
			ticket, err := s.NewHandoff(ctx, sess, "/activities/7")
			require.NoError(t, err)
			clock.Advance(tt.wait)

			if !tt.ok {
				_, err = s.PeekHandoff(ctx, ticket)
				require.ErrorIs(t, err, session.ErrNotFound)
				_, err = s.TakeHandoff(ctx, ticket)
				require.ErrorIs(t, err, session.ErrNotFound)
				return
			}
			for range 2 {
				got, err := s.PeekHandoff(ctx, ticket)
				require.NoError(t, err)
				require.Equal(t, want, got, "peeking does not use the ticket")
			}
			got, err := s.TakeHandoff(ctx, ticket)
			require.NoError(t, err)
			require.Equal(t, want, got)

			_, err = s.TakeHandoff(ctx, ticket)
			require.ErrorIs(t, err, session.ErrNotFound, "single use")
			_, err = s.PeekHandoff(ctx, ticket)
			require.ErrorIs(t, err, session.ErrNotFound, "a used ticket shows nothing")
		})
	}

	_, err = s.PeekHandoff(ctx, "not-a-ticket")
	require.ErrorIs(t, err, session.ErrNotFound)
}
