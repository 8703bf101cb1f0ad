package lti

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/token"
)

// A Deep Linking relay carries the response of a Deep Linking request made in a new
// window back to the frame that could not keep Huddle's cookies (Moodle 4.5 offers no
// platform storage). Moodle fills its activity form only when its contentitem_return
// page is posted inside the dialog frame; posted in the new window it fails with a
// script error and the form stays empty. The frame holds the relay's secret, which
// never leaves it, and takes the response once.

// Relay states, as the frame's script sees them.
const (
	RelayWaiting = "waiting" // the new window has not launched yet
	RelayPicking = "picking" // it launched Deep Linking; the educator is choosing
	RelayReady   = "ready"   // the response waits for the frame
	RelayClosed  = "closed"  // the launch was not Deep Linking: nothing will come
)

// RelayLifetime bounds a relay: the login's ten minutes and the hour an educator may
// take to choose.
const RelayLifetime = InitiationLifetime + DeepLinkRequestLifetime

// StartRelay makes a relay for a waiting initiation and returns its secret. A frame
// shown again (a reload) makes a new one, and the earlier secret stops being passed on.
func (s *Store) StartRelay(ctx context.Context, initiationID string) (string, error) {
	secret, err := token.New()
	if err != nil {
		return "", fmt.Errorf("lti: start relay: %w", err)
	}
	now := s.now()
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE lti_login_initiations SET relay_hash = $2 WHERE id_hash = $1 AND expires_at > $3`,
			token.Hash(initiationID), token.Hash(secret), now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		_, err = tx.Exec(ctx, `INSERT INTO deep_link_relays (relay_hash, created_at, expires_at) VALUES ($1, $2, $3)`,
			token.Hash(secret), now, now.Add(RelayLifetime))
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("lti: start relay: %w", err)
	}
	return secret, nil
}

// MarkRelay records what the launch of a relayed login turned out to be: RelayPicking
// for Deep Linking, RelayClosed for anything else. A relay already used or expired is
// left alone.
func (s *Store) MarkRelay(ctx context.Context, relayHash []byte, state string) error {
	if state != RelayPicking && state != RelayClosed {
		return fmt.Errorf("lti: mark relay: %q is not a launch's outcome", state)
	}
	_, err := s.db.Exec(ctx, `UPDATE deep_link_relays SET state = $2 WHERE relay_hash = $1 AND state = 'waiting' AND expires_at > $3`,
		relayHash, state, s.now())
	if err != nil {
		return fmt.Errorf("lti: mark relay: %w", err)
	}
	return nil
}

// FillRelay leaves a signed Deep Linking response for the frame to post to returnURL.
// ErrNotFound means the relay expired, or the frame was reloaded and made another.
func (s *Store) FillRelay(ctx context.Context, relayHash []byte, returnURL, response string) error {
	tag, err := s.db.Exec(ctx, `
UPDATE deep_link_relays SET state = 'ready', return_url = $2, response = $3
WHERE relay_hash = $1 AND state = 'picking' AND expires_at > $4`, relayHash, returnURL, response, s.now())
	if err != nil {
		return fmt.Errorf("lti: fill relay: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// RelayState is what the frame learns when it asks: the state and, once ready, where
// to post what.
type RelayState struct {
	State     string
	ReturnURL string
	Response  string
}

// TakeRelay reports a relay's state to the frame holding its secret; a ready response
// is handed over once and the relay deleted. ErrNotFound: no such relay, or expired.
func (s *Store) TakeRelay(ctx context.Context, secret string) (RelayState, error) {
	var r RelayState
	now := s.now()
	err := s.db.QueryRow(ctx, `
DELETE FROM deep_link_relays WHERE relay_hash = $1 AND state = 'ready' AND expires_at > $2
RETURNING state, return_url, response`, token.Hash(secret), now).Scan(&r.State, &r.ReturnURL, &r.Response)
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.db.QueryRow(ctx, `SELECT state FROM deep_link_relays WHERE relay_hash = $1 AND expires_at > $2`,
			token.Hash(secret), now).Scan(&r.State)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("lti: take relay: %w", err)
	}
	return r, nil
}
