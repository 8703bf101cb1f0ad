package programme

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Feed is a learner's private calendar subscription.
type Feed struct {
	UserID    int64
	Grade     string // "" for every session
	CreatedAt time.Time
}

// secretBytes is the feed secret's length: 256 bits, far past guessing, in a URL of
// 43 characters.
const secretBytes = 32

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CreateFeed makes userID a new calendar link, replacing any old one (which stops
// working at once), and returns its secret. Only the secret's hash is stored, so this
// is the only time it can be shown.
func (s *Service) CreateFeed(ctx context.Context, userID int64, grade string) (string, error) {
	if grade != "" {
		g, err := cleanGrades([]string{grade})
		if err != nil || len(g) != 1 {
			return "", invalid("grade", "Choose a grade from the list, or every grade.")
		}
		grade = g[0]
	}
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (Go 1.24)
	secret := base64.RawURLEncoding.EncodeToString(b)
	if _, err := s.db.Exec(ctx, `
INSERT INTO programme_feeds (user_id, secret_hash, grade, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (user_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, grade = EXCLUDED.grade, created_at = EXCLUDED.created_at`,
		userID, hashSecret(secret), grade, s.now()); err != nil {
		return "", fmt.Errorf("programme: create feed for %d: %w", userID, err)
	}
	return secret, nil
}

// RevokeFeed ends userID's calendar link. Every instance reads the table on every
// feed request, so the next request with the old secret finds nothing.
func (s *Service) RevokeFeed(ctx context.Context, userID int64) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM programme_feeds WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("programme: revoke feed of %d: %w", userID, err)
	}
	return nil
}

// FeedOf returns userID's calendar link, if they have one (ErrNotFound otherwise).
func (s *Service) FeedOf(ctx context.Context, userID int64) (Feed, error) {
	f := Feed{UserID: userID}
	err := s.db.QueryRow(ctx, `SELECT grade, created_at FROM programme_feeds WHERE user_id = $1`, userID).Scan(&f.Grade, &f.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, ErrNotFound
	}
	if err != nil {
		return f, fmt.Errorf("programme: feed of %d: %w", userID, err)
	}
	return f, nil
}

// FeedBySecret finds the feed a secret opens; ErrNotFound for a wrong or revoked one.
// It is never cached: revocation must hold on the very next request, on any instance.
func (s *Service) FeedBySecret(ctx context.Context, secret string) (Feed, error) {
	var f Feed
	if len(secret) != base64.RawURLEncoding.EncodedLen(secretBytes) {
		return f, ErrNotFound
	}
	err := s.db.QueryRow(ctx, `SELECT user_id, grade, created_at FROM programme_feeds WHERE secret_hash = $1`,
		hashSecret(secret)).Scan(&f.UserID, &f.Grade, &f.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, ErrNotFound
	}
	if err != nil {
		return f, fmt.Errorf("programme: feed by secret: %w", err)
	}
	return f, nil
}

// Event is a session with what a calendar shows about its programme.
type Event struct {
	Session
	Programme string // the activity's title
	Course    string
	// MoodleURL opens the programme in Moodle (empty when Huddle cannot be sure of it).
	MoodleURL string
}

// Scope is which sessions a feed holds: those of every teaching programme in the
// courses UserID belongs to (or only ProgrammeID's), for Grade ("" for all).
type Scope struct {
	UserID      int64
	ProgrammeID int64
	Grade       string
}

// scopeFrom is the FROM and WHERE every feed query shares; $1 user, $2 programme
// (0: all), $3 grade.
const scopeFrom = `
FROM programme_sessions s
JOIN activities a ON a.id = s.activity_id AND a.kind = 'teaching_programme'
JOIN memberships m ON m.course_id = a.course_id AND m.user_id = $1
JOIN courses c ON c.id = a.course_id
JOIN platforms p ON p.id = c.platform_id
WHERE ($2::bigint = 0 OR a.id = $2::bigint) AND ($3::text = '' OR s.grades = '{}' OR $3::text = ANY (s.grades))`

// Version identifies what a feed would hold, cheaply, for conditional GET.
type Version struct {
	ETag     string
	Modified time.Time
}

// FeedVersion is the version of a scope's feed without reading its sessions: the
// number of sessions, their ids and sequences and the newest change. Any change a
// calendar must see (an edit, a reschedule, a cancellation, a new or lost session, a
// renamed programme) changes it.
func (s *Service) FeedVersion(ctx context.Context, sc Scope) (Version, error) {
	var n, ids, seqs int64
	var newest *time.Time
	err := s.db.QueryRow(ctx, `SELECT count(*), coalesce(sum(s.id), 0), coalesce(sum(s.sequence), 0),
    max(greatest(s.updated_at, a.updated_at, c.updated_at))`+scopeFrom, sc.UserID, sc.ProgrammeID, sc.Grade).
		Scan(&n, &ids, &seqs, &newest)
	if err != nil {
		return Version{}, fmt.Errorf("programme: feed version for %d: %w", sc.UserID, err)
	}
	return version(sc, n, ids, seqs, newest), nil
}

// FeedBySecretVersion is FeedBySecret and FeedVersion of the feed's whole scope (or
// one programme of it) in one round trip: what a calendar app's poll costs.
func (s *Service) FeedBySecretVersion(ctx context.Context, secret string, programmeID int64) (Scope, Version, error) {
	var sc Scope
	if len(secret) != base64.RawURLEncoding.EncodedLen(secretBytes) {
		return sc, Version{}, ErrNotFound
	}
	var n, ids, seqs int64
	var newest *time.Time
	err := s.db.QueryRow(ctx, `
SELECT f.user_id, f.grade, v.n, v.ids, v.seqs, v.newest
FROM programme_feeds f, LATERAL (
    SELECT count(*) AS n, coalesce(sum(s.id), 0) AS ids, coalesce(sum(s.sequence), 0) AS seqs,
        max(greatest(s.updated_at, a.updated_at, c.updated_at)) AS newest
    FROM programme_sessions s
    JOIN activities a ON a.id = s.activity_id AND a.kind = 'teaching_programme'
    JOIN memberships m ON m.course_id = a.course_id AND m.user_id = f.user_id
    JOIN courses c ON c.id = a.course_id
    WHERE ($2::bigint = 0 OR a.id = $2::bigint) AND (f.grade = '' OR s.grades = '{}' OR f.grade = ANY (s.grades))
) v
WHERE f.secret_hash = $1`, hashSecret(secret), programmeID).Scan(&sc.UserID, &sc.Grade, &n, &ids, &seqs, &newest)
	if errors.Is(err, pgx.ErrNoRows) {
		return sc, Version{}, ErrNotFound
	}
	if err != nil {
		return sc, Version{}, fmt.Errorf("programme: feed by secret: %w", err)
	}
	sc.ProgrammeID = programmeID
	return sc, version(sc, n, ids, seqs, newest), nil
}

func version(sc Scope, n, ids, seqs int64, newest *time.Time) Version {
	v := Version{}
	if newest != nil {
		v.Modified = newest.UTC().Truncate(time.Second)
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%d|%d|%s|%d|%d|%d|%d", sc.UserID, sc.ProgrammeID, sc.Grade, n, ids, seqs,
		v.Modified.UnixNano()))
	v.ETag = `"` + hex.EncodeToString(h[:12]) + `"`
	return v
}

// FeedEvents lists a scope's sessions, cancelled ones included, by start.
func (s *Service) FeedEvents(ctx context.Context, sc Scope) ([]Event, error) {
	rows, err := s.db.Query(ctx, `SELECT s.id, s.activity_id, s.uid, coalesce(s.series_id, 0), s.title, s.starts_at, s.ends_at,
    s.location, s.online_url, s.teacher, s.outcomes, s.grades, coalesce(s.feedback_activity_id, 0),
    coalesce(s.reflection_activity_id, 0), s.cancelled_at, s.sequence, s.updated_at,
    a.title, c.title, a.resource_link_id, p.issuer`+scopeFrom+` ORDER BY s.starts_at, s.id`,
		sc.UserID, sc.ProgrammeID, sc.Grade)
	if err != nil {
		return nil, fmt.Errorf("programme: feed events for %d: %w", sc.UserID, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		var rl, issuer string
		err := r.Scan(&e.ID, &e.ActivityID, &e.UID, &e.SeriesID, &e.Title, &e.Start, &e.End, &e.Location, &e.OnlineURL,
			&e.Teacher, &e.Outcomes, &e.Grades, &e.FeedbackActivityID, &e.ReflectionActivityID, &e.CancelledAt,
			&e.Sequence, &e.UpdatedAt, &e.Programme, &e.Course, &rl, &issuer)
		e.MoodleURL = moodleLink(issuer, rl)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("programme: feed events for %d: %w", sc.UserID, err)
	}
	return list, nil
}

// feedCache keeps rendered feeds by version. A version (its ETag) names the scope and
// everything the feed shows, so an entry is right for as long as it is asked for by
// that version; the version itself, and the secret, are read from PostgreSQL on every
// request, so revocation and changes never wait for the cache. Bounded in entries; a
// full cache drops an arbitrary entry.
type feedCache struct {
	mu      sync.Mutex
	entries map[string][]byte
}

const feedCacheEntries = 512

func (c *feedCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.entries[key]
	return b, ok
}

func (c *feedCache) put(key string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string][]byte{}
	}
	if len(c.entries) >= feedCacheEntries {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = b
}

// RenderFeed is WriteCalendar of the scope's events at version v, rendered once per
// version on each instance.
func (s *Service) RenderFeed(ctx context.Context, sc Scope, v Version, name string, base *url.URL) ([]byte, error) {
	key := v.ETag + "|" + name + "|" + base.String()
	if b, ok := s.feeds.get(key); ok {
		return b, nil
	}
	events, err := s.FeedEvents(ctx, sc)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := WriteCalendar(&b, name, events, base); err != nil {
		return nil, err
	}
	s.feeds.put(key, b.Bytes())
	return b.Bytes(), nil
}
