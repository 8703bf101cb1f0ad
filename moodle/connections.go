package moodle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sealer encrypts web service tokens at rest (package seal implements it).
type Sealer interface {
	Seal(purpose string, plaintext []byte) ([]byte, error)
	Open(purpose string, sealed []byte) ([]byte, error)
}

const sealPurposeToken = "moodle-token"

// ErrNoConnection means no web services connection is saved for the platform.
var ErrNoConnection = errors.New("moodle: no web services connection is set up for this Moodle site (huddle platform set-moodle)")

// Connection is a saved web services connection, without its token.
type Connection struct {
	PlatformID int64
	SiteURL    string
	SiteName   string
	WSUser     string
	CheckedAt  time.Time
	Status     string
	Missing    []string // functions Huddle uses that the external service lacks
}

// Connections keeps each platform's Moodle web services connection in PostgreSQL
// (token sealed) and hands out one Client per site, so the per-site concurrency
// limit holds across every caller in this instance.
type Connections struct {
	db     *pgxpool.Pool
	sealer Sealer
	base   Config // HTTPClient, UserAgent, limits: everything but site and token
	now    func() time.Time

	mu      sync.Mutex
	clients map[int64]cachedClient
}

type cachedClient struct {
	client    *Client
	checkedAt time.Time
}

// NewConnections returns a Connections. base supplies the HTTP client, User-Agent
// and limits for every site's Client.
func NewConnections(db *pgxpool.Pool, sealer Sealer, base Config, now func() time.Time) *Connections {
	if now == nil {
		now = time.Now
	}
	return &Connections{db: db, sealer: sealer, base: base, now: now, clients: map[int64]cachedClient{}}
}

// Save checks the site and token with core_webservice_get_site_info and stores them
// only if the check succeeds. The token never appears in errors or logs.
func (c *Connections) Save(ctx context.Context, platformID int64, siteURL, token string) (Connection, error) {
	cfg := c.base
	cfg.SiteURL, cfg.Token = siteURL, token
	client, err := New(cfg)
	if err != nil {
		return Connection{}, err
	}
	info, err := client.SiteInfo(ctx)
	if err != nil {
		return Connection{}, err
	}
	sealed, err := c.sealer.Seal(sealPurposeToken, []byte(token))
	if err != nil {
		return Connection{}, fmt.Errorf("moodle: seal token: %w", err)
	}
	conn := Connection{PlatformID: platformID, SiteURL: siteURL, SiteName: info.SiteName, WSUser: info.Username,
		CheckedAt: c.now(), Status: "ok", Missing: info.MissingFunctions()}
	if conn.Missing == nil {
		conn.Missing = []string{}
	}
	_, err = c.db.Exec(ctx, `
INSERT INTO moodle_connections (platform_id, site_url, token_sealed, site_name, ws_user, checked_at, status, missing)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (platform_id) DO UPDATE SET site_url = EXCLUDED.site_url, token_sealed = EXCLUDED.token_sealed,
    site_name = EXCLUDED.site_name, ws_user = EXCLUDED.ws_user, checked_at = EXCLUDED.checked_at,
    status = EXCLUDED.status, missing = EXCLUDED.missing`,
		platformID, siteURL, sealed, conn.SiteName, conn.WSUser, conn.CheckedAt, conn.Status, conn.Missing)
	if err != nil {
		return Connection{}, fmt.Errorf("moodle: save connection: %w", err)
	}
	c.mu.Lock()
	delete(c.clients, platformID)
	c.mu.Unlock()
	return conn, nil
}

// Get returns the saved connection of a platform, without its token.
func (c *Connections) Get(ctx context.Context, platformID int64) (Connection, error) {
	conn := Connection{PlatformID: platformID}
	err := c.db.QueryRow(ctx, `SELECT site_url, site_name, ws_user, checked_at, status, missing FROM moodle_connections WHERE platform_id = $1`,
		platformID).Scan(&conn.SiteURL, &conn.SiteName, &conn.WSUser, &conn.CheckedAt, &conn.Status, &conn.Missing)
	if errors.Is(err, pgx.ErrNoRows) {
		return conn, ErrNoConnection
	}
	if err != nil {
		return conn, fmt.Errorf("moodle: connection: %w", err)
	}
	return conn, nil
}

// ClientFor returns the web services client of a platform's Moodle site. A token
// saved again (on any instance) replaces the cached client here too.
func (c *Connections) ClientFor(ctx context.Context, platformID int64) (*Client, error) {
	var siteURL string
	var sealed []byte
	var checkedAt time.Time
	err := c.db.QueryRow(ctx, `SELECT site_url, token_sealed, checked_at FROM moodle_connections WHERE platform_id = $1`, platformID).
		Scan(&siteURL, &sealed, &checkedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoConnection
	}
	if err != nil {
		return nil, fmt.Errorf("moodle: connection: %w", err)
	}
	c.mu.Lock()
	cached, ok := c.clients[platformID]
	c.mu.Unlock()
	if ok && cached.checkedAt.Equal(checkedAt) {
		return cached.client, nil
	}
	token, err := c.sealer.Open(sealPurposeToken, sealed)
	if err != nil {
		return nil, fmt.Errorf("moodle: open token: %w", err)
	}
	cfg := c.base
	cfg.SiteURL, cfg.Token = siteURL, string(token)
	client, err := New(cfg)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.clients[platformID] = cachedClient{client: client, checkedAt: checkedAt}
	c.mu.Unlock()
	return client, nil
}

// Reseal seals every saved web services token again under a new secret: each is
// opened with from and sealed with to for the same purpose, inside tx, which the
// caller commits or rolls back together with the other owners of sealed values
// (huddle secret rotate). It returns how many tokens it re-sealed. A token that from
// cannot open stops it with an error naming the platform, never the token; the
// caller then rolls back. checked_at is left alone, so clients cached by running
// instances stay valid: the tokens themselves have not changed.
func (c *Connections) Reseal(ctx context.Context, tx pgx.Tx, from, to Sealer) (int, error) {
	// Stronger than SELECT ... FOR UPDATE: row locks do not see a connection Save has
	// inserted but not committed yet, which would stay sealed with the old secret. The
	// table lock waits for that writer, so its row is read here, and holds later
	// writers until the commit (a token saved meanwhile is not overwritten with the
	// previous one); readers (ClientFor, Get) go on.
	if _, err := tx.Exec(ctx, `LOCK TABLE moodle_connections IN EXCLUSIVE MODE`); err != nil {
		return 0, fmt.Errorf("moodle: reseal moodle_connections: lock: %w", err)
	}
	type sealedToken struct {
		PlatformID int64
		Token      []byte
	}
	rows, err := tx.Query(ctx, `SELECT platform_id, token_sealed FROM moodle_connections ORDER BY platform_id`)
	if err != nil {
		return 0, fmt.Errorf("moodle: reseal moodle_connections: %w", err)
	}
	tokens, err := pgx.CollectRows(rows, pgx.RowToStructByPos[sealedToken])
	if err != nil {
		return 0, fmt.Errorf("moodle: reseal moodle_connections: %w", err)
	}
	for _, t := range tokens {
		plain, err := from.Open(sealPurposeToken, t.Token)
		if err != nil {
			return 0, fmt.Errorf("moodle: reseal moodle_connections row platform_id=%d: %w", t.PlatformID, err)
		}
		resealed, err := to.Seal(sealPurposeToken, plain)
		clear(plain)
		if err != nil {
			return 0, fmt.Errorf("moodle: reseal moodle_connections row platform_id=%d: %w", t.PlatformID, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE moodle_connections SET token_sealed = $2 WHERE platform_id = $1`, t.PlatformID, resealed); err != nil {
			return 0, fmt.Errorf("moodle: reseal moodle_connections row platform_id=%d: %w", t.PlatformID, err)
		}
	}
	return len(tokens), nil
}

// BaseConfig is the part of Config shared by every site: HTTP client and User-Agent.
func BaseConfig(httpClient *http.Client, userAgent string) Config {
	return Config{HTTPClient: httpClient, UserAgent: userAgent}
}
