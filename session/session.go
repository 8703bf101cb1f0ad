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

// Lifetimes a Store uses where Options leave them zero.
const (
	// DefaultIdle is how long a session in a window of its own lives without use.
	DefaultIdle = 8 * time.Hour
	// DefaultFramedIdle is how long a session inside the platform's frame lives without
	// use. Shorter: the frame sits in Moodle on ward computers that are shared, where
	// the next person may sit down at a page left open.
	DefaultFramedIdle = 30 * time.Minute
	// DefaultAbsoluteLifetime is how long any session lives after it was created,
	// however busy: a session in use all shift still ends.
	DefaultAbsoluteLifetime = 12 * time.Hour
)

// touchEvery limits writes: a session's last use is recorded at most once a minute.
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
	// Framed is true for a session shown inside the platform's frame; it has the
	// shorter idle timeout.
	Framed     bool
	LastSeenAt time.Time
	// ExpiresAt is when the session ends unless it is used before: the sooner of its
	// idle timeout and its absolute lifetime.
	ExpiresAt time.Time
}

// Options configure a Store. Zero values take the defaults.
type Options struct {
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// Idle is the idle timeout of a session in a window of its own (DefaultIdle).
	Idle time.Duration
	// FramedIdle is the idle timeout of a session inside the platform's frame
	// (DefaultFramedIdle).
	FramedIdle time.Duration
	// AbsoluteLifetime ends every session this long after it was created, whatever its
	// use (DefaultAbsoluteLifetime).
	AbsoluteLifetime time.Duration
}

// Store reads and writes sessions.
type Store struct {
	db       *pgxpool.Pool
	now      func() time.Time
	idle     time.Duration
	framed   time.Duration
	absolute time.Duration
}

// NewStore returns a Store with o's clock and lifetimes.
func NewStore(db *pgxpool.Pool, o Options) *Store {
	s := &Store{db: db, now: o.Now, idle: o.Idle, framed: o.FramedIdle, absolute: o.AbsoluteLifetime}
	if s.now == nil {
		s.now = time.Now
	}
	if s.idle <= 0 {
		s.idle = DefaultIdle
	}
	if s.framed <= 0 {
		s.framed = DefaultFramedIdle
	}
	if s.absolute <= 0 {
		s.absolute = DefaultAbsoluteLifetime
	}
	return s
}

// NewSession is a session to start.
type NewSession struct {
	UserID, PlatformID int64
	// Framed marks a session that will be shown inside the platform's frame (the
	// launch's document target): it gets the shorter idle timeout. A window of its own
	// (the "open in new window" hand-off) is not framed.
	Framed bool
	// Replaces is the session id the browser already holds here, if any. A session of
	// someone else is ended, so a shared computer does not keep the previous person
	// signed in; the same person's is kept, for their other tabs.
	Replaces string
}

// Create starts a session in a window of its own (not framed) and returns the id to
// put in the cookie.
func (s *Store) Create(ctx context.Context, userID, platformID int64) (string, Session, error) {
	return s.CreateWith(ctx, NewSession{UserID: userID, PlatformID: platformID})
}

// CreateWith starts the session n describes, ending the one it replaces if that is
// someone else's, and returns the id to put in the cookie.
func (s *Store) CreateWith(ctx context.Context, n NewSession) (string, Session, error) {
	p, err := s.prepare(n, "")
	if err != nil {
		return "", Session{}, err
	}
	return p.insert(ctx, n.UserID)
}

// createSQL starts a session, in one statement so the new session never exists
// without the old one ended. $1 id hash, $2 user, $3 platform, $4 CSRF token,
// $5 framed, $6 now, $7 hash of the session replaced (NULL for none), $8 expiry.
const createSQL = `
WITH ended AS (
	DELETE FROM sessions WHERE id_hash = $7 AND user_id <> $2
)
INSERT INTO sessions (id_hash, user_id, platform_id, csrf_token, framed, created_at, last_seen_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $6, $8)`

// createBySubjectSQL is createSQL for a user named by platform and subject ($2), as a
// launch names them before Huddle's own id for them is known. It inserts nothing, and
// ends nothing, when no such user exists yet.
const createBySubjectSQL = `
WITH u AS (
	SELECT id FROM users WHERE platform_id = $3 AND subject = $2
), ended AS (
	DELETE FROM sessions WHERE id_hash = $7 AND user_id <> (SELECT id FROM u)
)
INSERT INTO sessions (id_hash, user_id, platform_id, csrf_token, framed, created_at, last_seen_at, expires_at)
SELECT $1, u.id, $3, $4, $5, $6, $6, $8 FROM u
RETURNING user_id`

// Pending is a launch's session, made ready before the launch is recorded so that its
// insert can travel in the same round trip as the launch's first read
// (course.Service.RecordLaunch): that read finds nearly every returning launch, and
// the session then costs no round trip, and no commit, of its own. The insert names
// the user by platform and subject; when the launch is someone's first, the user does
// not exist yet and Start inserts the session once the launch has created them. A
// launch that fails after the queued insert leaves a session nobody holds the id of
// (only its hash is stored); Prune removes it at its idle timeout.
type Pending struct {
	store    *Store
	subject  string
	id       string
	replaced []byte
	sess     Session
	// queuedFor is the user the queued insert started the session for; zero when it
	// found no user, or was not sent.
	queuedFor int64
}

// PrepareLaunch makes ready the session a launch by the platform's user subject will
// start; n.UserID is ignored. Queue it with the launch's first read, then Start it.
func (s *Store) PrepareLaunch(n NewSession, subject string) (*Pending, error) {
	return s.prepare(n, subject)
}

func (s *Store) prepare(n NewSession, subject string) (*Pending, error) {
	id, err := token.New()
	if err != nil {
		return nil, fmt.Errorf("session: create: %w", err)
	}
	csrf, err := token.New()
	if err != nil {
		return nil, fmt.Errorf("session: create: %w", err)
	}
	now, idle := s.now(), s.idle
	if n.Framed {
		idle = s.framed
	}
	p := &Pending{store: s, subject: subject, id: id,
		sess: Session{PlatformID: n.PlatformID, CSRFToken: csrf, Framed: n.Framed,
			LastSeenAt: now, ExpiresAt: now.Add(min(idle, s.absolute))}}
	if n.Replaces != "" {
		p.replaced = token.Hash(n.Replaces) // nil, NULL, matches no row
	}
	return p, nil
}

// Queue adds the session's insert to b; course.Service.RecordLaunch sends it with the
// launch's first read.
func (p *Pending) Queue(b *pgx.Batch) {
	b.Queue(createBySubjectSQL, p.args(p.subject)...).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&p.queuedFor)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // not a user yet: Start inserts the session
		}
		return err
	})
}

// Start returns the id to put in the cookie for the launch's session, now that the
// launch has recorded its user as userID: the queued insert started it already, or
// Start does.
func (p *Pending) Start(ctx context.Context, userID int64) (string, Session, error) {
	switch p.queuedFor {
	case userID:
		p.sess.UserID = userID
		return p.id, p.sess, nil
	case 0:
		return p.insert(ctx, userID)
	default:
		// The subject named another user when the insert was queued: the user was
		// erased and came back within this launch. Failing it is the honest answer;
		// the queued session, its user gone, matches nothing and Prune removes it.
		return "", Session{}, fmt.Errorf("session: create: the launch's user changed from %d to %d", p.queuedFor, userID)
	}
}

func (p *Pending) insert(ctx context.Context, userID int64) (string, Session, error) {
	if _, err := p.store.db.Exec(ctx, createSQL, p.args(userID)...); err != nil {
		return "", Session{}, fmt.Errorf("session: create: %w", err)
	}
	s := p.sess
	s.UserID = userID
	return p.id, s, nil
}

// args are createSQL's parameters, and createBySubjectSQL's, in their one order; who
// ($2) is the user's id for the first, their subject for the second.
func (p *Pending) args(who any) []any {
	s := p.sess
	return []any{token.Hash(p.id), who, s.PlatformID, s.CSRFToken, s.Framed, s.LastSeenAt, p.replaced, s.ExpiresAt}
}

// getSQL looks a session up and, when $7 is true, records its use (at most once a
// minute), in one statement: every signed-in request runs it. Whether a session is live is decided
// here from created_at and last_seen_at with this Store's lifetimes, not from the
// stored expires_at, so a change of lifetimes applies to every session at once and
// a session touched by an instance of the previous release (which knows only the one
// idle timeout) still ends on time. expires_at is kept up to date for that release
// and for ExpiresAt.
//
// $1 id hash, $2 now, $3 idle, $4 framed idle, $5 absolute lifetime, $6 touchEvery,
// $7 whether to record the use.
const getSQL = `
WITH live AS (
	SELECT s.id_hash, s.user_id, s.platform_id, u.name, p.issuer, s.csrf_token, s.framed,
	       s.created_at, s.last_seen_at, s.expires_at
	FROM sessions s
	JOIN users u ON u.id = s.user_id
	JOIN platforms p ON p.id = s.platform_id
	WHERE s.id_hash = $1
	  AND s.created_at + $5::interval > $2
	  AND s.last_seen_at + CASE WHEN s.framed THEN $4::interval ELSE $3::interval END > $2
), touched AS (
	UPDATE sessions s
	SET last_seen_at = $2,
	    expires_at = LEAST($2 + CASE WHEN live.framed THEN $4::interval ELSE $3::interval END,
	                       live.created_at + $5::interval)
	FROM live
	WHERE s.id_hash = live.id_hash AND $7::boolean AND live.last_seen_at + $6::interval <= $2
	RETURNING s.last_seen_at, s.expires_at
)
SELECT live.user_id, live.platform_id, live.name, live.issuer, live.csrf_token, live.framed,
       COALESCE(touched.last_seen_at, live.last_seen_at), COALESCE(touched.expires_at, live.expires_at)
FROM live LEFT JOIN touched ON true`

// HotStatements are the SQL of starting a launch's session and of looking a session up
// (every signed-in request), for each web connection to prepare and plan as it opens
// (app.PoolConfig.Warm).
func HotStatements() []string { return []string{createSQL, createBySubjectSQL, getSQL} }

// Get returns the live session for id and records its use, which keeps it from
// going idle.
func (s *Store) Get(ctx context.Context, id string) (Session, error) {
	return s.get(ctx, id, true)
}

// Peek returns the live session for id without recording a use: for what a page
// does by itself (live updates), which must not keep an unattended page signed in.
func (s *Store) Peek(ctx context.Context, id string) (Session, error) {
	return s.get(ctx, id, false)
}

func (s *Store) get(ctx context.Context, id string, use bool) (Session, error) {
	if id == "" {
		return Session{}, ErrNotFound
	}
	var sess Session
	err := s.db.QueryRow(ctx, getSQL, token.Hash(id), s.now(), s.idle, s.framed, s.absolute, touchEvery, use).Scan(
		&sess.UserID, &sess.PlatformID, &sess.UserName, &sess.PlatformIssuer, &sess.CSRFToken, &sess.Framed,
		&sess.LastSeenAt, &sess.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("session: get: %w", err)
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

// Prune deletes ended sessions (by the same rules as Get), sessions whose person is
// gone, and expired hand-offs. Sessions hold no foreign key to users (migration
// 00054): the erasure and a platform's removal delete their sessions themselves, and
// Get matches none whose person is gone, but a launch racing an erasure can still
// insert one after it; it goes here.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	now := s.now()
	const q = `
DELETE FROM sessions s
WHERE s.created_at + $4::interval <= $1
   OR s.last_seen_at + CASE WHEN s.framed THEN $3::interval ELSE $2::interval END <= $1
   OR NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)`
	tag, err := s.db.Exec(ctx, q, now, s.idle, s.framed, s.absolute)
	if err != nil {
		return 0, fmt.Errorf("session: prune: %w", err)
	}
	handoffs, err := s.db.Exec(ctx, `DELETE FROM session_handoffs WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("session: prune handoffs: %w", err)
	}
	return tag.RowsAffected() + handoffs.RowsAffected(), nil
}
