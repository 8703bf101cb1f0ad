package lti

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/internal/batch"
)

// Errors callers branch on.
var (
	ErrNotFound      = errors.New("lti: not found")
	ErrPlatformTaken = errors.New("lti: a platform with this issuer and client_id is already registered")
	ErrAmbiguous     = errors.New("lti: several platforms share this issuer; the login must name its client_id")
)

// Store keeps platforms, deployments and the short-lived OIDC login records in
// PostgreSQL, so any Huddle instance can finish a login another one started.
type Store struct {
	db  *pgxpool.Pool
	now func() time.Time

	// found caches FindPlatform's and launchPlatform's answers for platformCacheTTL:
	// every login and launch asks, and registrations change rarely. The login
	// initiation reads it (auth URL and client id), and a launch verifies its token
	// with it; but the launch's state is taken only while it is still that platform's
	// and the token's deployment is still registered (takeStateSQL), so a
	// removed platform or deployment takes effect there at once on every instance.
	// That holds because a platform's row is never changed (a registration is removed
	// and made again), only its deployments added: a launch for one this cache does
	// not list yet is checked again against the platform read fresh (Launch). Misses
	// are not cached, so a new registration works immediately.
	mu    sync.Mutex
	found map[platformKey]cachedPlatform

	// authStarts batches StartAuth's inserts (startAuths).
	authStarts *batch.Batcher[authStart, bool]
}

// platformKey is a cached lookup: by issuer and client id (FindPlatform), or by id.
type platformKey struct {
	issuer, clientID string
	id               int64
}

type cachedPlatform struct {
	p  Platform
	at time.Time
}

const platformCacheTTL = 10 * time.Second

// NewStore returns a Store; now is the clock (time.Now if nil).
func NewStore(db *pgxpool.Pool, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	s := &Store{db: db, now: now, found: map[platformKey]cachedPlatform{}}
	s.authStarts = batch.New(authStartsInFlight, maxAuthStartBatch, authStartTimeout, s.startAuths).Lingering(authStartLinger)
	return s
}

// ValidatePlatform checks the registration data a person or script typed.
func ValidatePlatform(p Platform) error {
	if strings.TrimSpace(p.ClientID) == "" {
		return fmt.Errorf("client id is empty")
	}
	for _, f := range []struct{ name, value string }{
		{"issuer", p.Issuer}, {"auth url", p.AuthURL}, {"token url", p.TokenURL}, {"jwks url", p.JWKSURL},
	} {
		u, err := url.Parse(f.value)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return fmt.Errorf("%s %q is not an absolute http or https URL", f.name, f.value)
		}
	}
	for _, d := range p.DeploymentIDs {
		if strings.TrimSpace(d) == "" {
			return fmt.Errorf("a deployment id is empty")
		}
	}
	return nil
}

const insertPlatform = `
INSERT INTO platforms (issuer, client_id, auth_url, token_url, jwks_url)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, created_at`

const insertDeployment = `
INSERT INTO platform_deployments (platform_id, deployment_id)
VALUES ($1, $2)
ON CONFLICT DO NOTHING`

// AddPlatform registers p with its deployments.
func (s *Store) AddPlatform(ctx context.Context, p Platform) (Platform, error) {
	if err := ValidatePlatform(p); err != nil {
		return p, fmt.Errorf("lti: add platform: %w", err)
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, insertPlatform, p.Issuer, p.ClientID, p.AuthURL, p.TokenURL, p.JWKSURL).Scan(&p.ID, &p.CreatedAt); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23505" {
				return ErrPlatformTaken
			}
			return err
		}
		for _, d := range p.DeploymentIDs {
			if _, err := tx.Exec(ctx, insertDeployment, p.ID, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("lti: add platform %s: %w", p.Issuer, err)
	}
	s.forget()
	return p, nil
}

// AddDeployment registers one more deployment id for a platform.
func (s *Store) AddDeployment(ctx context.Context, platformID int64, deploymentID string) error {
	if _, err := s.db.Exec(ctx, insertDeployment, platformID, deploymentID); err != nil {
		return fmt.Errorf("lti: add deployment to platform %d: %w", platformID, err)
	}
	s.forget()
	return nil
}

const selectPlatforms = `
SELECT p.id, p.issuer, p.client_id, p.auth_url, p.token_url, p.jwks_url, p.created_at,
       coalesce(array_agg(d.deployment_id ORDER BY d.deployment_id) FILTER (WHERE d.deployment_id IS NOT NULL), '{}')
FROM platforms p
LEFT JOIN platform_deployments d ON d.platform_id = p.id`

// platformSQL and findPlatformSQL are the platform lookups of a login and a launch,
// by id and by issuer and client_id (which a login may leave out).
const (
	platformSQL     = selectPlatforms + ` WHERE p.id = $1 GROUP BY p.id`
	findPlatformSQL = selectPlatforms + ` WHERE p.issuer = $1 AND ($2 = '' OR p.client_id = $2) GROUP BY p.id LIMIT 2`
)

func scanPlatforms(rows pgx.Rows) ([]Platform, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Platform, error) {
		var p Platform
		err := r.Scan(&p.ID, &p.Issuer, &p.ClientID, &p.AuthURL, &p.TokenURL, &p.JWKSURL, &p.CreatedAt, &p.DeploymentIDs)
		return p, err
	})
}

// Platforms lists every registered platform.
func (s *Store) Platforms(ctx context.Context) ([]Platform, error) {
	rows, err := s.db.Query(ctx, selectPlatforms+` GROUP BY p.id ORDER BY p.id`)
	if err != nil {
		return nil, fmt.Errorf("lti: list platforms: %w", err)
	}
	ps, err := scanPlatforms(rows)
	if err != nil {
		return nil, fmt.Errorf("lti: list platforms: %w", err)
	}
	return ps, nil
}

// Platform returns the platform with id.
func (s *Store) Platform(ctx context.Context, id int64) (Platform, error) {
	rows, err := s.db.Query(ctx, platformSQL, id)
	if err != nil {
		return Platform{}, fmt.Errorf("lti: platform %d: %w", id, err)
	}
	ps, err := scanPlatforms(rows)
	if err != nil {
		return Platform{}, fmt.Errorf("lti: platform %d: %w", id, err)
	}
	if len(ps) == 0 {
		return Platform{}, fmt.Errorf("lti: platform %d: %w", id, ErrNotFound)
	}
	return ps[0], nil
}

// FindPlatform finds the platform a login or launch names. clientID may be empty
// (LTI Core makes client_id optional at login initiation) when the issuer is unique.
func (s *Store) FindPlatform(ctx context.Context, issuer, clientID string) (Platform, error) {
	return s.cached(platformKey{issuer: issuer, clientID: clientID}, func() (Platform, error) {
		return s.findPlatform(ctx, issuer, clientID)
	})
}

// launchPlatform is Platform(id) through the cache, for the launch's token check.
func (s *Store) launchPlatform(ctx context.Context, id int64) (Platform, error) {
	return s.cached(platformKey{id: id}, func() (Platform, error) { return s.Platform(ctx, id) })
}

// cached answers a platform lookup from the cache while its answer is fresh, or
// from fetch, caching what fetch finds.
func (s *Store) cached(key platformKey, fetch func() (Platform, error)) (Platform, error) {
	s.mu.Lock()
	c, ok := s.found[key]
	s.mu.Unlock()
	if ok && s.now().Sub(c.at) < platformCacheTTL {
		return c.p, nil
	}
	p, err := fetch()
	if err == nil {
		now := s.now()
		s.mu.Lock()
		if len(s.found) >= maxCachedPlatforms {
			// Bounded in size as well as time: entries of platforms removed on another
			// instance would otherwise stay, unread, for the life of the process.
			for k, c := range s.found {
				if now.Sub(c.at) >= platformCacheTTL {
					delete(s.found, k)
				}
			}
			if len(s.found) >= maxCachedPlatforms {
				clear(s.found)
			}
		}
		s.found[key] = cachedPlatform{p: p, at: now}
		s.mu.Unlock()
	}
	return p, err
}

// maxCachedPlatforms bounds FindPlatform's cache: far more registrations than a trust
// has, few enough to cost nothing.
const maxCachedPlatforms = 256

// forget drops cached lookups after this instance changes a registration.
func (s *Store) forget() {
	s.mu.Lock()
	clear(s.found)
	s.mu.Unlock()
}

func (s *Store) findPlatform(ctx context.Context, issuer, clientID string) (Platform, error) {
	rows, err := s.db.Query(ctx, findPlatformSQL, issuer, clientID)
	if err != nil {
		return Platform{}, fmt.Errorf("lti: find platform: %w", err)
	}
	ps, err := scanPlatforms(rows)
	if err != nil {
		return Platform{}, fmt.Errorf("lti: find platform: %w", err)
	}
	switch len(ps) {
	case 0:
		return Platform{}, ErrNotFound
	case 1:
		return ps[0], nil
	default:
		return Platform{}, ErrAmbiguous
	}
}

// RemovePlatform deletes a platform and, by cascade, everything Huddle holds for it.
func (s *Store) RemovePlatform(ctx context.Context, id int64) error {
	// Login records and sessions hold no foreign key to the platform or its users
	// (migrations 00043 and 00054): they go with it here, in the same statement.
	tag, err := s.db.Exec(ctx, `
WITH states AS (DELETE FROM lti_login_states WHERE platform_id = $1),
     initiations AS (DELETE FROM lti_login_initiations WHERE platform_id = $1),
     sessions AS (DELETE FROM sessions WHERE platform_id = $1)
DELETE FROM platforms WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("lti: remove platform %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("lti: remove platform %d: %w", id, ErrNotFound)
	}
	s.forget()
	return nil
}
