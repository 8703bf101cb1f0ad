package session_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/session"
)

// TestPersonalDataAndErasure: Lena's sessions and tickets are exported without their
// secrets and erased, which signs her out everywhere; Eddie stays signed in.
func TestPersonalDataAndErasure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	store := b.store(session.Options{})

	framedID, _, err := store.CreateWith(ctx, session.NewSession{UserID: b.lena, PlatformID: b.platformID, Framed: true})
	require.NoError(t, err)
	b.clock.Advance(time.Minute)
	windowID, window, err := store.Create(ctx, b.lena, b.platformID)
	require.NoError(t, err)
	ticket, err := store.NewHandoff(ctx, window, "/activities/7")
	require.NoError(t, err)
	eddieID, _, err := store.Create(ctx, b.eddie, b.platformID)
	require.NoError(t, err)

	d, err := store.PersonalData(ctx, b.lena)
	require.NoError(t, err)
	require.Len(t, d.Sessions, 2)
	require.True(t, d.Sessions[0].InMoodle)
	require.False(t, d.Sessions[1].InMoodle)
	require.Equal(t, []session.PersonalHandoff{{Path: "/activities/7", ExpiresAt: d.Handoffs[0].ExpiresAt}}, d.Handoffs)
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	for _, secret := range []string{framedID, windowID, ticket, window.CSRFToken} {
		require.NotContains(t, string(raw), secret)
	}

	_, err = store.PeekHandoff(ctx, ticket)
	require.NoError(t, err, "the ticket is live before the erasure")

	var got session.Erased
	require.NoError(t, pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		got, err = store.ErasePerson(ctx, tx, b.lena)
		return err
	}))
	require.Equal(t, session.Erased{Sessions: 2, Handoffs: 1}, got)
	for _, id := range []string{framedID, windowID} {
		_, err := store.Get(ctx, id)
		require.ErrorIs(t, err, session.ErrNotFound)
	}
	_, err = store.TakeHandoff(ctx, ticket)
	require.ErrorIs(t, err, session.ErrNotFound)
	_, err = store.Get(ctx, eddieID)
	require.NoError(t, err, "someone else's session stays")

	d, err = store.PersonalData(ctx, b.lena)
	require.NoError(t, err)
	require.Equal(t, session.PersonalData{Sessions: []session.PersonalSession{}, Handoffs: []session.PersonalHandoff{}}, d)
}
