// Package session keeps signed-in sessions in PostgreSQL. The browser holds only a
// random id; the database holds its hash, the user and a CSRF token, so any Huddle
// instance can serve any request.
package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/token"
)

// ErrNotFound means there is no live session for that id.
var ErrNotFound = errors.New("session: not found or expired")

// DefaultIdle is how long a session lives without use.
const DefaultIdle = 8 * time.Hour

// touchEvery limits writes: a session's expiry moves on at most once a minute.
const touchEvery = time.Minute

// Session is a signed-in person.
type Session struct {
	UserID     int64
	PlatformID int64
	UserName   string
	// PlatformIssuer is the issuer of the platform the session came from; its origin is
	// the only one allowed to frame Huddle's pages for this session.
	PlatformIssuer string
	CSRFToken      string
	LastSeenAt     time.Time
	ExpiresAt      time.Time
}

// Store reads and writes sessions.
type Store struct {
	db   *pgxpool.Pool
	now  func() time.Time
	idle time.Duration
}

// NewStore returns a Store. idle is the idle lifetime (DefaultIdle if zero).
func NewStore(db *pgxpool.Pool, now func() time.Time, idle time.Duration) *Store {
	if now == nil {
		now = time.Now
	}
	if idle <= 0 {
		idle = DefaultIdle
	}
	return &Store{db: db, now: now, idle: idle}
}

// Create starts a session and returns the id to put in the cookie.
func (s *Store) Create(ctx context.Context, userID, platformID int64) (string, Session, error) {
	id, err := token.New()
	if err != nil {
		return "", Session{}, fmt.Errorf("session: create: %w", err)
	}
	csrf, err := token.New()
	if err != nil {
		return "", Session{}, fmt.Errorf("session: create: %w", err)
	}
	now := s.now()
	sess := Session{UserID: userID, PlatformID: platformID, CSRFToken: csrf, LastSeenAt: now, ExpiresAt: now.Add(s.idle)}
	const q = `
INSERT INTO sessions (id_hash, user_id, platform_id, csrf_token, created_at, last_seen_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $5, $6)`
	if _, err := s.db.Exec(ctx, q, token.Hash(id), userID, platformID, csrf, now, sess.ExpiresAt); err != nil {
		return "", Session{}, fmt.Errorf("session: create: %w", err)
	}
	return id, sess, nil
}

// Get returns the live session for id and moves its idle expiry on.
func (s *Store) Get(ctx context.Context, id string) (Session, error) {
	if id == "" {
		return Session{}, ErrNotFound
	}
	now := s.now()
	const q = `
SELECT s.user_id, s.platform_id, u.name, p.issuer, s.csrf_token, s.last_seen_at, s.expires_at
FROM sessions s JOIN users u ON u.id = s.user_id JOIN platforms p ON p.id = s.platform_id
WHERE s.id_hash = $1 AND s.expires_at > $2`
	var sess Session
	err := s.db.QueryRow(ctx, q, token.Hash(id), now).Scan(&sess.UserID, &sess.PlatformID, &sess.UserName, &sess.PlatformIssuer, &sess.CSRFToken, &sess.LastSeenAt, &sess.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("session: get: %w", err)
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		sess.LastSeenAt, sess.ExpiresAt = now, now.Add(s.idle)
		if _, err := s.db.Exec(ctx, `UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id_hash = $1`,
			token.Hash(id), sess.LastSeenAt, sess.ExpiresAt); err != nil {
			return Session{}, fmt.Errorf("session: touch: %w", err)
		}
	}
	return sess, nil
}

// Delete ends a session.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, token.Hash(id)); err != nil {
		return fmt.Errorf("session: delete: %w", err)
	}
	return nil
}

// Prune deletes expired sessions.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, s.now())
	if err != nil {
		return 0, fmt.Errorf("session: prune: %w", err)
	}
	handoffs, err := s.db.Exec(ctx, `DELETE FROM session_handoffs WHERE expires_at <= $1`, s.now())
	if err != nil {
		return 0, fmt.Errorf("session: prune handoffs: %w", err)
	}
	return tag.RowsAffected() + handoffs.RowsAffected(), nil
}
