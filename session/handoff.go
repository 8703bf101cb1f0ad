package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/token"
)

// HandoffLifetime is how long an "open in new window" ticket stays usable.
const HandoffLifetime = time.Minute

// Handoff is a ticket: who it is for and where they were.
type Handoff struct {
	UserID, PlatformID int64
	Path               string
	// UserName and PlatformIssuer name the account, so that the window can ask the
	// person whether they are who the ticket signs in.
	UserName       string
	PlatformIssuer string
}

// NewHandoff issues a single-use ticket for the signed-in person at path. The new
// window redeems it for a session of its own; nothing else can. The caller checks
// path: this stores what it is given.
func (s *Store) NewHandoff(ctx context.Context, sess Session, path string) (string, error) {
	t, err := token.New()
	if err != nil {
		return "", fmt.Errorf("session: handoff: %w", err)
	}
	const q = `
INSERT INTO session_handoffs (token_hash, user_id, platform_id, path, expires_at)
VALUES ($1, $2, $3, $4, $5)`
	_, err = s.db.Exec(ctx, q, token.Hash(t), sess.UserID, sess.PlatformID, path, s.now().Add(HandoffLifetime))
	if err != nil {
		return "", fmt.Errorf("session: handoff: %w", err)
	}
	return t, nil
}

// PeekHandoff reads a live ticket without using it. Link previews and scanners fetch
// whatever link they see, so looking at a ticket must leave it for the person.
func (s *Store) PeekHandoff(ctx context.Context, t string) (Handoff, error) {
	const q = `
SELECT h.user_id, h.platform_id, h.path, u.name, p.issuer
FROM session_handoffs h JOIN users u ON u.id = h.user_id JOIN platforms p ON p.id = h.platform_id
WHERE h.token_hash = $1 AND h.expires_at > $2`
	var h Handoff
	err := s.db.QueryRow(ctx, q, token.Hash(t), s.now()).Scan(&h.UserID, &h.PlatformID, &h.Path, &h.UserName, &h.PlatformIssuer)
	if errors.Is(err, pgx.ErrNoRows) {
		return Handoff{}, ErrNotFound
	}
	if err != nil {
		return Handoff{}, fmt.Errorf("session: peek handoff: %w", err)
	}
	return h, nil
}

// TakeHandoff redeems a ticket once: of several concurrent redemptions exactly one
// wins the DELETE.
func (s *Store) TakeHandoff(ctx context.Context, t string) (Handoff, error) {
	const q = `
WITH h AS (
    DELETE FROM session_handoffs
    WHERE token_hash = $1 AND expires_at > $2
    RETURNING user_id, platform_id, path
)
SELECT h.user_id, h.platform_id, h.path, u.name, p.issuer
FROM h JOIN users u ON u.id = h.user_id JOIN platforms p ON p.id = h.platform_id`
	var h Handoff
	err := s.db.QueryRow(ctx, q, token.Hash(t), s.now()).Scan(&h.UserID, &h.PlatformID, &h.Path, &h.UserName, &h.PlatformIssuer)
	if errors.Is(err, pgx.ErrNoRows) {
		return Handoff{}, ErrNotFound
	}
	if err != nil {
		return Handoff{}, fmt.Errorf("session: take handoff: %w", err)
	}
	return h, nil
}
