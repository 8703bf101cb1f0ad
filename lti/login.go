package lti

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/token"
)

// Lifetimes of the login records. A login initiation waits while the browser is
// checked for cookies (and perhaps a new window opens); a state waits for the
// platform's form_post, which Moodle sends within a second or two.
const (
	InitiationLifetime = 10 * time.Minute
	StateLifetime      = 5 * time.Minute
)

// ErrStateInvalid means a launch's state was never issued, already used, expired, or
// was issued to another browser. All four look the same to the caller on purpose.
var ErrStateInvalid = errors.New("lti: login state is unknown, used, expired or from another browser")

// LoginInitiation is a third-party initiated login request (LTI Core 5.1.1, Security
// Framework 5.1.1) as the platform sent it.
type LoginInitiation struct {
	Platform       Platform
	LoginHint      string
	LTIMessageHint string
	TargetLinkURI  string
	DeploymentID   string
	// StorageTarget is lti_storage_target: the platform frame that stores data for
	// the tool through postMessage (LTI Client Side postMessages). Moodle 4.5 sends none.
	StorageTarget string
	// relayHash names the Deep Linking relay of the frame this login began in, if it
	// made one (relay.go); it is carried to the launch.
	relayHash []byte
}

// saveInitiationSQL inserts an initiation only while its platform exists, read
// without a lock: a foreign key would lock the platform's row, a WAL record that costs
// this unlogged table's insert a WAL flush (migration 00043).
const saveInitiationSQL = `
INSERT INTO lti_login_initiations
    (id_hash, platform_id, login_hint, lti_message_hint, target_link_uri, deployment_id, storage_target, created_at, expires_at)
SELECT $1, p.id, $3, $4, $5, $6, $7, $8, $9 FROM platforms p WHERE p.id = $2`

// SaveInitiation keeps a login initiation and returns the id a browser uses to resume
// it. Moodle's lti_message_hint is single use, so Huddle must not send the browser to
// the platform before it knows its cookies will stick; the id lets it try again in a
// new window with the same, still unused, parameters.
func (s *Store) SaveInitiation(ctx context.Context, in LoginInitiation) (string, error) {
	secret, err := token.New()
	if err != nil {
		return "", fmt.Errorf("lti: save initiation: %w", err)
	}
	// Named by its platform, as a state is (StartAuth), so that ResumeAuth can name
	// the state's platform too.
	id := namedFor(in.Platform.ID, secret)
	now := s.now()
	tag, err := s.db.Exec(ctx, saveInitiationSQL, token.Hash(id), in.Platform.ID, in.LoginHint, in.LTIMessageHint,
		in.TargetLinkURI, in.DeploymentID, in.StorageTarget, now, now.Add(InitiationLifetime))
	if err != nil {
		return "", fmt.Errorf("lti: save initiation: %w", err)
	}
	if tag.RowsAffected() == 0 {
		// The platform was removed (on another instance, within the cache's life).
		s.forget()
		return "", ErrNotFound
	}
	return id, nil
}

// TakeInitiation returns and deletes a saved initiation: it is sent to the platform
// at most once.
func (s *Store) TakeInitiation(ctx context.Context, id string) (LoginInitiation, error) {
	// One round trip: the platform comes back with the initiation, and an initiation
	// whose platform was removed since is used up and not found.
	const q = `
WITH i AS (
    DELETE FROM lti_login_initiations
    WHERE id_hash = $1 AND expires_at > $2
    RETURNING platform_id, login_hint, lti_message_hint, target_link_uri, deployment_id, storage_target, relay_hash
)
SELECT i.login_hint, i.lti_message_hint, i.target_link_uri, i.deployment_id, i.storage_target, i.relay_hash,
       ` + platformColumns + `
FROM i JOIN platforms p ON p.id = i.platform_id`
	var in LoginInitiation
	p := &in.Platform
	err := s.db.QueryRow(ctx, q, token.Hash(id), s.now()).Scan(&in.LoginHint, &in.LTIMessageHint, &in.TargetLinkURI,
		&in.DeploymentID, &in.StorageTarget, &in.relayHash,
		&p.ID, &p.Issuer, &p.ClientID, &p.AuthURL, &p.TokenURL, &p.JWKSURL, &p.CreatedAt, &p.DeploymentIDs)
	if errors.Is(err, pgx.ErrNoRows) {
		return in, ErrNotFound
	}
	if err != nil {
		return in, fmt.Errorf("lti: take initiation: %w", err)
	}
	return in, nil
}

// WaitingInitiation is what a frame may know of a saved initiation before using it.
type WaitingInitiation struct {
	// StorageTarget is the platform frame offered for storage; empty for Moodle 4.5.
	StorageTarget string
	// Issuer is the platform's issuer: its origin may frame Huddle and receive forms.
	Issuer string
}

// PeekInitiation reports whether an initiation is still waiting, and what a frame may
// know of it, without using it.
func (s *Store) PeekInitiation(ctx context.Context, id string) (WaitingInitiation, bool, error) {
	var w WaitingInitiation
	err := s.db.QueryRow(ctx, `
SELECT i.storage_target, p.issuer FROM lti_login_initiations i JOIN platforms p ON p.id = i.platform_id
WHERE i.id_hash = $1 AND i.expires_at > $2`, token.Hash(id), s.now()).Scan(&w.StorageTarget, &w.Issuer)
	if errors.Is(err, pgx.ErrNoRows) {
		return w, false, nil
	}
	if err != nil {
		return w, false, fmt.Errorf("lti: peek initiation: %w", err)
	}
	return w, true, nil
}

// AuthRequest is the OIDC authentication request Huddle sends the browser to.
type AuthRequest struct {
	URL   string
	State string
}

// startAuthsSQL stores a batch of login states, each (as saveInitiationSQL does) only
// while its platform exists, without locking its row, and names the states it stored.
const startAuthsSQL = `
INSERT INTO lti_login_states (state_hash, nonce, platform_id, browser_hash, storage_target, relay_hash, created_at, expires_at)
SELECT s.state_hash, s.nonce, p.id, s.browser_hash, s.storage_target, s.relay_hash, s.created_at, s.expires_at
FROM unnest($1::bytea[], $2::text[], $3::bigint[], $4::bytea[], $5::text[], $6::bytea[], $7::timestamptz[], $8::timestamptz[])
     AS s (state_hash, nonce, platform_id, browser_hash, storage_target, relay_hash, created_at, expires_at)
JOIN platforms p ON p.id = s.platform_id
RETURNING state_hash`

// Every launch begins with a login, and each login's state was a statement, a round
// trip and a commit of its own (and, the table being unlogged, a commit that wakes
// PostgreSQL's WAL writer). Batched, the logins that arrive while a batch is being
// written go together in the next, and a lone login still goes at once, alone. One
// batch in flight, not two as the rate limiter's counts have: a login's state is
// unlogged, so a batch never waits for a WAL flush, and with two the batches stayed
// too small to gain anything. huddle-load's returning mix, with one: 1.8 commits a
// launch instead of 2.24, and about 6% less CPU a launch.
//
// Even so a batch held fewer than two logins at a thousand launches a second: each
// batch's round trip and commit cost far more than its rows. So a batch that follows
// another lingers authStartLinger first (batch.Lingering), for more logins to join
// it; a lone login still goes at once. A login already waits for the platform's
// answer, which takes hundreds of milliseconds through Moodle; two more, and only
// under a stream of logins, cost nobody anything they would notice.
const (
	authStartsInFlight = 1
	authStartLinger    = 2 * time.Millisecond
	maxAuthStartBatch  = 128
	// authStartTimeout bounds a batch's statement: it writes for several logins, so
	// no one login's context may cancel it.
	authStartTimeout = 5 * time.Second
)

// authStart is one login state to insert.
type authStart struct {
	stateHash, browserHash, relayHash []byte
	nonce, storageTarget              string
	platformID                        int64
	created, expires                  time.Time
}

// startAuths inserts a batch of login states in one statement and reports, for each,
// whether it was inserted: a state whose platform was removed is not.
func (s *Store) startAuths(ctx context.Context, starts []authStart) ([]bool, error) {
	n := len(starts)
	var (
		states, browsers, relays = make([][]byte, n), make([][]byte, n), make([][]byte, n)
		nonces, targets          = make([]string, n), make([]string, n)
		platforms                = make([]int64, n)
		created, expires         = make([]time.Time, n), make([]time.Time, n)
	)
	for i, a := range starts {
		states[i], browsers[i], relays[i] = a.stateHash, a.browserHash, a.relayHash
		nonces[i], targets[i], platforms[i] = a.nonce, a.storageTarget, a.platformID
		created[i], expires[i] = a.created, a.expires
	}
	rows, err := s.db.Query(ctx, startAuthsSQL, states, nonces, platforms, browsers, targets, relays, created, expires)
	if err != nil {
		return nil, err
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, err
	}
	done := make(map[string]bool, len(inserted))
	for _, h := range inserted {
		done[string(h)] = true
	}
	answers := make([]bool, n)
	for i, a := range starts {
		answers[i] = done[string(a.stateHash)]
	}
	return answers, nil
}

// StartAuth creates a single-use state and nonce bound to the browser that holds
// browserSecret, and returns the platform authentication request URL (Security
// Framework 5.1.1.2, with Moodle's requirements: response_mode form_post, prompt none,
// and a redirect_uri byte-identical to the registered one).
func (s *Store) StartAuth(ctx context.Context, in LoginInitiation, redirectURI, browserSecret string) (AuthRequest, error) {
	secret, err := token.New()
	if err != nil {
		return AuthRequest{}, fmt.Errorf("lti: start auth: %w", err)
	}
	state := namedFor(in.Platform.ID, secret)
	nonce, err := token.New()
	if err != nil {
		return AuthRequest{}, fmt.Errorf("lti: start auth: %w", err)
	}
	now := s.now()
	inserted, err := s.authStarts.Do(ctx, authStart{
		stateHash: token.Hash(state), browserHash: token.Hash(browserSecret), relayHash: in.relayHash,
		nonce: nonce, storageTarget: in.StorageTarget, platformID: in.Platform.ID,
		created: now, expires: now.Add(StateLifetime),
	})
	if err != nil {
		return AuthRequest{}, fmt.Errorf("lti: start auth: %w", err)
	}
	if !inserted {
		// The platform was removed (on another instance, within the cache's life).
		s.forget()
		return AuthRequest{}, ErrNotFound
	}
	return AuthRequest{URL: authURL(in, redirectURI, state, nonce), State: state}, nil
}

// namedFor makes a state or initiation id that names its platform: the launch checks
// the token against that platform before it takes the state (Launcher.Prepare). Only
// the whole value's hash is stored, so one whose platform was changed on its way
// matches nothing.
func namedFor(platformID int64, secret string) string {
	return strconv.FormatInt(platformID, 10) + "." + secret
}

// platformNamed is the platform a value from namedFor names.
func platformNamed(v string) (int64, bool) {
	prefix, _, ok := strings.Cut(v, ".")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(prefix, 10, 64)
	return id, err == nil && id > 0
}

// authURL appends the authentication request's parameters to the platform's auth
// URL, which may carry a query of its own. Built directly: this runs on every login.
func authURL(in LoginInitiation, redirectURI, state, nonce string) string {
	var b strings.Builder
	b.Grow(len(in.Platform.AuthURL) + len(redirectURI) + len(in.LoginHint) + len(in.LTIMessageHint)*2 + 300)
	b.WriteString(in.Platform.AuthURL)
	sep := byte('?')
	if strings.Contains(in.Platform.AuthURL, "?") {
		sep = '&'
	}
	add := func(k, v string) {
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	add("scope", "openid")
	add("response_type", "id_token")
	add("response_mode", "form_post")
	add("prompt", "none")
	add("client_id", in.Platform.ClientID)
	add("redirect_uri", redirectURI)
	add("login_hint", in.LoginHint)
	if in.LTIMessageHint != "" {
		add("lti_message_hint", in.LTIMessageHint)
	}
	add("state", state)
	add("nonce", nonce)
	return b.String()
}

// resumeAuthSQL uses up an initiation and stores a state for its platform, in one
// statement.
const resumeAuthSQL = `
WITH i AS (
    DELETE FROM lti_login_initiations
    WHERE id_hash = $1 AND expires_at > $2
    RETURNING platform_id, login_hint, lti_message_hint, target_link_uri, deployment_id, storage_target, relay_hash
), s AS (
    INSERT INTO lti_login_states (state_hash, nonce, platform_id, browser_hash, storage_target, relay_hash, created_at, expires_at)
    SELECT $3, $4, p.id, $5, i.storage_target, i.relay_hash, $2, $6 FROM i JOIN platforms p ON p.id = i.platform_id
)
SELECT i.login_hint, i.lti_message_hint, i.target_link_uri, i.deployment_id, i.storage_target, i.relay_hash,
       ` + platformColumns + `
FROM i JOIN platforms p ON p.id = i.platform_id`

// ResumeAuth is TakeInitiation and StartAuth in one statement, for a browser that
// comes back to a saved initiation: the initiation is used up, and a state and nonce
// bound to browserSecret are stored for its platform. The state names the platform
// the initiation's id names (SaveInitiation); the id's hash binds the two.
// ErrNotFound means the initiation was used, waited too long, or its platform was
// removed.
func (s *Store) ResumeAuth(ctx context.Context, id, redirectURI, browserSecret string) (LoginInitiation, AuthRequest, error) {
	state, err := token.New()
	if err != nil {
		return LoginInitiation{}, AuthRequest{}, fmt.Errorf("lti: resume auth: %w", err)
	}
	if platformID, ok := platformNamed(id); ok {
		// An id saved by the previous release names none; its state then names none
		// either, and its launch takes the state before anything else (Launch).
		state = namedFor(platformID, state)
	}
	nonce, err := token.New()
	if err != nil {
		return LoginInitiation{}, AuthRequest{}, fmt.Errorf("lti: resume auth: %w", err)
	}
	now := s.now()
	var in LoginInitiation
	p := &in.Platform
	err = s.db.QueryRow(ctx, resumeAuthSQL, token.Hash(id), now, token.Hash(state), nonce, token.Hash(browserSecret), now.Add(StateLifetime)).Scan(
		&in.LoginHint, &in.LTIMessageHint, &in.TargetLinkURI, &in.DeploymentID, &in.StorageTarget, &in.relayHash,
		&p.ID, &p.Issuer, &p.ClientID, &p.AuthURL, &p.TokenURL, &p.JWKSURL, &p.CreatedAt, &p.DeploymentIDs)
	if errors.Is(err, pgx.ErrNoRows) {
		return in, AuthRequest{}, ErrNotFound
	}
	if err != nil {
		return in, AuthRequest{}, fmt.Errorf("lti: resume auth: %w", err)
	}
	return in, AuthRequest{URL: authURL(in, redirectURI, state, nonce), State: state}, nil
}

// LoginState is what a consumed state tells the launch: the platform the login
// was started for and the nonce sent with it.
type LoginState struct {
	Platform Platform
	Nonce    string
	// RelayHash names the Deep Linking relay of the frame the login began in; nil when
	// there is none.
	RelayHash []byte
}

// TakeState consumes the state posted with a launch. It matches only when the same
// browser that started the login posts it (login CSRF, Security Framework 7.3.1), and
// the DELETE makes it single use: of several concurrent posts exactly one wins. A
// wrong browser does not burn the state, so an attacker cannot spoil a real login.
func (s *Store) TakeState(ctx context.Context, state, browserSecret string) (LoginState, error) {
	// One round trip: the launch needs the platform right after the state.
	const q = `
WITH s AS (
    DELETE FROM lti_login_states
    WHERE state_hash = $1 AND browser_hash = $2 AND expires_at > $3
    RETURNING platform_id, nonce, relay_hash
)
SELECT s.nonce, s.relay_hash, ` + platformColumns + `
FROM s JOIN platforms p ON p.id = s.platform_id`
	var ls LoginState
	p := &ls.Platform
	err := s.db.QueryRow(ctx, q, token.Hash(state), token.Hash(browserSecret), s.now()).Scan(&ls.Nonce, &ls.RelayHash,
		&p.ID, &p.Issuer, &p.ClientID, &p.AuthURL, &p.TokenURL, &p.JWKSURL, &p.CreatedAt, &p.DeploymentIDs)
	if errors.Is(err, pgx.ErrNoRows) {
		return ls, ErrStateInvalid
	}
	if err != nil {
		return ls, fmt.Errorf("lti: take state: %w", err)
	}
	return ls, nil
}

// platformColumns are a Platform's, of platforms p, in the order TakeState and
// TakeInitiation scan them.
const platformColumns = `p.id, p.issuer, p.client_id, p.auth_url, p.token_url, p.jwks_url, p.created_at,
       coalesce((SELECT array_agg(d.deployment_id ORDER BY d.deployment_id) FROM platform_deployments d WHERE d.platform_id = p.id), '{}')`

// StorageState is what a launch page needs to fetch a login's browser binding from
// the platform's storage frame.
type StorageState struct {
	Target       string // lti_storage_target
	PlatformAuth string // the platform's OIDC authentication URL; its origin is the postMessage target origin
}

// StorageStateOf reports whether an unused state was bound through platform storage,
// without consuming it. ok is false for unknown, used or cookie-bound states.
func (s *Store) StorageStateOf(ctx context.Context, state string) (StorageState, bool, error) {
	var st StorageState
	err := s.db.QueryRow(ctx, `
SELECT l.storage_target, p.auth_url FROM lti_login_states l JOIN platforms p ON p.id = l.platform_id
WHERE l.state_hash = $1 AND l.expires_at > $2 AND l.storage_target <> ''`, token.Hash(state), s.now()).Scan(&st.Target, &st.PlatformAuth)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("lti: storage state: %w", err)
	}
	return st, true, nil
}

// PruneLogins deletes expired login records.
func (s *Store) PruneLogins(ctx context.Context) (int64, error) {
	now := s.now()
	var total int64
	for _, q := range []string{
		`DELETE FROM lti_login_states WHERE expires_at <= $1`,
		`DELETE FROM lti_login_initiations WHERE expires_at <= $1`,
		`DELETE FROM deep_link_relays WHERE expires_at <= $1`,
	} {
		tag, err := s.db.Exec(ctx, q, now)
		if err != nil {
			return total, fmt.Errorf("lti: prune logins: %w", err)
		}
		total += tag.RowsAffected()
	}
	return total, nil
}
