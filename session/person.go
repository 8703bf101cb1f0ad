package session

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PersonalData is what the session store holds on one person (UK GDPR right of
// access): their signed-in sessions and open "new window" tickets. A session's id
// and CSRF token are secrets that sign the person in, not information about them,
// so they are left out (only their hashes are stored anyway).
type PersonalData struct {
	Sessions []PersonalSession `json:"sessions"`
	Handoffs []PersonalHandoff `json:"new_window_tickets"`
}

// PersonalSession is one signed-in session.
type PersonalSession struct {
	StartedAt  time.Time `json:"started_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	// InMoodle is true for a session shown inside Moodle's frame.
	InMoodle bool `json:"in_moodle_frame"`
}

// PersonalHandoff is an unused "open in new window" ticket.
type PersonalHandoff struct {
	Path      string    `json:"path"`
	ExpiresAt time.Time `json:"expires_at"`
}

// PersonalData returns the person's sessions and tickets.
func (s *Store) PersonalData(ctx context.Context, userID int64) (PersonalData, error) {
	var d PersonalData
	rows, err := s.db.Query(ctx, `
SELECT created_at, last_seen_at, expires_at, framed FROM sessions WHERE user_id = $1 ORDER BY created_at`, userID)
	if err != nil {
		return d, fmt.Errorf("session: personal data of %d: %w", userID, err)
	}
	if d.Sessions, err = pgx.CollectRows(rows, pgx.RowToStructByPos[PersonalSession]); err != nil {
		return d, fmt.Errorf("session: personal data of %d: %w", userID, err)
	}
	rows, err = s.db.Query(ctx, `SELECT path, expires_at FROM session_handoffs WHERE user_id = $1 ORDER BY expires_at`, userID)
	if err != nil {
		return d, fmt.Errorf("session: personal data of %d: %w", userID, err)
	}
	if d.Handoffs, err = pgx.CollectRows(rows, pgx.RowToStructByPos[PersonalHandoff]); err != nil {
		return d, fmt.Errorf("session: personal data of %d: %w", userID, err)
	}
	if d.Sessions == nil {
		d.Sessions = []PersonalSession{}
	}
	if d.Handoffs == nil {
		d.Handoffs = []PersonalHandoff{}
	}
	return d, nil
}

// Erased counts what ErasePerson deleted.
type Erased struct {
	Sessions int64 `json:"sessions_deleted"`
	Handoffs int64 `json:"new_window_tickets_deleted"`
}

// ErasePerson signs the person out everywhere, in tx: their sessions and tickets go
// (UK GDPR right to erasure).
func (s *Store) ErasePerson(ctx context.Context, tx pgx.Tx, userID int64) (Erased, error) {
	var e Erased
	tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	if err != nil {
		return e, fmt.Errorf("session: erase sessions of %d: %w", userID, err)
	}
	e.Sessions = tag.RowsAffected()
	tag, err = tx.Exec(ctx, `DELETE FROM session_handoffs WHERE user_id = $1`, userID)
	if err != nil {
		return e, fmt.Errorf("session: erase tickets of %d: %w", userID, err)
	}
	e.Handoffs = tag.RowsAffected()
	return e, nil
}
