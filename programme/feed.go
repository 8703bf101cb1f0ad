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
	"math"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/maypok86/otter/v2"
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

// FeedVersion is the version of a scope's feed without reading its sessions. Any
// change a calendar must see (an edit, a reschedule, a cancellation, a new session, a
// programme gained or lost, a renamed programme or course) changes its ETag.
func (s *Service) FeedVersion(ctx context.Context, sc Scope) (Version, error) {
	var state string
	var newest *time.Time
	// programme_feed_state: migrations/00045.
	err := s.db.QueryRow(ctx, `SELECT state, newest FROM programme_feed_state($1, $2)`, sc.UserID, sc.ProgrammeID).Scan(&state, &newest)
	if err != nil {
		return Version{}, fmt.Errorf("programme: feed version for %d: %w", sc.UserID, err)
	}
	return version(sc, state, newest), nil
}

// FeedBySecretVersion is FeedBySecret and FeedVersion of the feed's whole scope (or
// one programme of it) in one indexed statement, run for this poll (batched with any
// polls that wait with it: see feedcheck.go): the secret's row by its hash, then the
// learner's few programmes. Nothing of it is cached, so a revoked secret and a
// changed programme are seen on the very next request, on every instance.
func (s *Service) FeedBySecretVersion(ctx context.Context, secret string, programmeID int64) (Scope, Version, error) {
	var sc Scope
	if len(secret) != base64.RawURLEncoding.EncodedLen(secretBytes) {
		return sc, Version{}, ErrNotFound
	}
	c, err := s.checkFeed(ctx, hashSecret(secret), programmeID)
	if err != nil {
		return sc, Version{}, err
	}
	if !c.found {
		return sc, Version{}, ErrNotFound
	}
	sc = Scope{UserID: c.user, ProgrammeID: programmeID, Grade: c.grade}
	return sc, version(sc, c.state, c.newest), nil
}

// version is a scope's ETag (a hash of whose feed it is and of its programmes' state)
// and Last-Modified (their newest change, to the second as HTTP dates go).
func version(sc Scope, state string, newest *time.Time) Version {
	v := Version{}
	if newest != nil {
		v.Modified = newest.UTC().Truncate(time.Second)
	}
	// Built by hand rather than with fmt: this runs for every poll (the same bytes
	// as "%d|%d|%s|%s", so ETags calendars already hold stay valid).
	var buf [128]byte
	in := strconv.AppendInt(buf[:0], sc.UserID, 10)
	in = append(in, '|')
	in = strconv.AppendInt(in, sc.ProgrammeID, 10)
	in = append(in, '|')
	in = append(in, sc.Grade...)
	in = append(in, '|')
	in = append(in, state...)
	h := sha256.Sum256(in)
	var tag [2 + 2*12]byte
	tag[0], tag[len(tag)-1] = '"', '"'
	hex.Encode(tag[1:len(tag)-1], h[:12])
	v.ETag = string(tag[:])
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

// feedCache keeps rendered feeds by version, so that an unchanged feed is rendered
// once per instance rather than once per request. The key is the version's ETag (a
// hash of whose feed it is and of the state of every programme in it) with the
// feed's name and base URL; the version and the secret are read from PostgreSQL on
// every request before the cache is asked, so a change made on any instance gives a
// key no entry has yet, and a revoked secret never reaches the cache. An entry can
// only hold the feed as it was at its version or later (the sessions are read after
// the version), never an older one.
//
// Bounded twice: by bytes (the renderings' sizes) and by time, so an instance's
// memory holds only feeds asked for lately. It is built on first use, so a Service's
// zero value works.
//
// It also holds the polls waiting for their secret to be checked (feedcheck.go),
// which is not a cache: nothing there outlives its poll.
type feedCache struct {
	once   sync.Once
	cache  *otter.Cache[string, []byte]
	checks feedChecks
}

const (
	// feedCacheBytes is what renderings may hold on an instance: a 200-session feed
	// is about 140 KB, so some 450 of them.
	feedCacheBytes = 64 << 20
	// feedCacheTTL drops a rendering this long after it was made, used or not.
	feedCacheTTL = 15 * time.Minute
)

func (c *feedCache) get() *otter.Cache[string, []byte] {
	c.once.Do(func() {
		c.cache = otter.Must(&otter.Options[string, []byte]{
			MaximumWeight:    feedCacheBytes,
			Weigher:          func(k string, b []byte) uint32 { return uint32(min(len(k)+len(b), math.MaxUint32)) },
			ExpiryCalculator: otter.ExpiryWriting[string, []byte](feedCacheTTL),
		})
	})
	return c.cache
}

// RenderFeed is WriteCalendar of the scope's events at version v, rendered once per
// version on each instance: requests that miss together wait for one rendering.
func (s *Service) RenderFeed(ctx context.Context, sc Scope, v Version, name string, base *url.URL) ([]byte, error) {
	key := v.ETag + "|" + name + "|" + base.String()
	b, err := s.feeds.get().Get(ctx, key, otter.LoaderFunc[string, []byte](func(ctx context.Context, _ string) ([]byte, error) {
		events, err := s.FeedEvents(ctx, sc)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		b.Grow(700 * (len(events) + 2))
		if err := WriteCalendar(&b, name, events, base); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}))
	if err != nil {
		return nil, fmt.Errorf("programme: render feed for %d: %w", sc.UserID, err)
	}
	return b, nil
}
