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

// Handoff is a used ticket: who it was for and where they were.
type Handoff struct {
	UserID, PlatformID int64
	Path               string
}

// NewHandoff issues a single-use ticket for the signed-in person at path. The new
// window redeems it for a session of its own; nothing else can.
func (s *Store) NewHandoff(ctx context.Context, sess Session, path string) (string, error) {
	t, err := token.New()
	if err != nil {
		return "", fmt.Errorf("session: handoff: %w", err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO session_handoffs (token_hash, user_id, platform_id, path, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		token.Hash(t), sess.UserID, sess.PlatformID, path, s.now().Add(HandoffLifetime))
	if err != nil {
		return "", fmt.Errorf("session: handoff: %w", err)
	}
	return t, nil
}

// TakeHandoff redeems a ticket once.
func (s *Store) TakeHandoff(ctx context.Context, t string) (Handoff, error) {
	var h Handoff
	err := s.db.QueryRow(ctx, `DELETE FROM session_handoffs WHERE token_hash = $1 AND expires_at > $2 RETURNING user_id, platform_id, path`,
		token.Hash(t), s.now()).Scan(&h.UserID, &h.PlatformID, &h.Path)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, ErrNotFound
	}
	if err != nil {
		return h, fmt.Errorf("session: take handoff: %w", err)
	}
	return h, nil
}
