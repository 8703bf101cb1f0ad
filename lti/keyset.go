package lti

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Defaults for KeySetConfig.
const (
	DefaultRefetchInterval = 30 * time.Second
	DefaultKeySetMaxAge    = 24 * time.Hour
	defaultFetchTimeout    = 10 * time.Second
	// maxJWKSBytes bounds what Huddle reads from a platform's JWKS URL; Moodle's is < 1 KiB.
	maxJWKSBytes = 1 << 20
)

var (
	// ErrKeyNotFound: the platform's key set has no usable signing key with that kid,
	// even after the refetch that an unknown kid allows.
	ErrKeyNotFound = errors.New("lti: signing key not found in platform key set")
	// ErrKeySetUnavailable: the platform's key set could not be fetched (or a recent
	// attempt failed and the rate limit forbids another one yet).
	ErrKeySetUnavailable = errors.New("lti: platform key set unavailable")
)

// KeySetConfig configures a KeySet. Zero values get the defaults noted on each field.
type KeySetConfig struct {
	// Client fetches the key sets; http.DefaultClient if nil.
	Client *http.Client
	// UserAgent is sent with every fetch. Some Moodle sites answer 403 to requests
	// without one.
	UserAgent string
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// RefetchInterval is the least time between two fetches of one URL
	// (DefaultRefetchInterval if zero): an unknown kid cannot make Huddle hammer a platform.
	RefetchInterval time.Duration
	// MaxAge is how long a fetched set is trusted before the next lookup refreshes it, so a
	// key the platform withdrew stops working (DefaultKeySetMaxAge if zero).
	MaxAge time.Duration
}

// KeySet caches platforms' public keys (their JWKS), one set per JWKS URL. A set is
// fetched on first use and then only when a token names a kid the set does not have
// (key rotation, Security Framework "Key Set URL") or when it is older than MaxAge; never once per
// launch. Concurrent lookups that need a fetch share one request. Safe for concurrent use.
type KeySet struct {
	client          *http.Client
	userAgent       string
	now             func() time.Time
	refetchInterval time.Duration
	maxAge          time.Duration

	mu      sync.Mutex
	entries map[string]*keySetEntry
}

type keySetEntry struct {
	set         jwk.Set // nil until the first successful fetch
	fetchedAt   time.Time
	lastAttempt time.Time
	lastErr     error
	inflight    *keySetFetch
	fetches     int
}

// keySetFetch is one fetch in progress; done is closed when set/err are final.
type keySetFetch struct {
	done chan struct{}
	set  jwk.Set
	err  error
}

// NewKeySet returns an empty cache.
func NewKeySet(cfg KeySetConfig) *KeySet {
	ks := &KeySet{
		client:          cfg.Client,
		userAgent:       cfg.UserAgent,
		now:             cfg.Now,
		refetchInterval: cfg.RefetchInterval,
		maxAge:          cfg.MaxAge,
		entries:         map[string]*keySetEntry{},
	}
	if ks.client == nil {
		ks.client = http.DefaultClient
	}
	if ks.now == nil {
		ks.now = time.Now
	}
	if ks.refetchInterval <= 0 {
		ks.refetchInterval = DefaultRefetchInterval
	}
	if ks.maxAge <= 0 {
		ks.maxAge = DefaultKeySetMaxAge
	}
	return ks
}

// Fetches reports how many HTTP fetches of jwksURL have been started, successful or not.
func (ks *KeySet) Fetches(jwksURL string) int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if e, ok := ks.entries[jwksURL]; ok {
		return e.fetches
	}
	return 0
}

// Key returns the signing key with the given kid from the key set at jwksURL. It returns
// an error wrapping ErrKeyNotFound or ErrKeySetUnavailable when it cannot.
func (ks *KeySet) Key(ctx context.Context, jwksURL, kid string) (jwk.Key, error) {
	ks.mu.Lock()
	e := ks.entries[jwksURL]
	if e == nil {
		e = &keySetEntry{}
		ks.entries[jwksURL] = e
	}
	now := ks.now()
	if e.set != nil && now.Sub(e.fetchedAt) < ks.maxAge {
		if key, ok := signingKey(e.set, kid); ok {
			ks.mu.Unlock()
			return key, nil
		}
	}

	call := e.inflight
	if call == nil {
		if !e.lastAttempt.IsZero() && now.Sub(e.lastAttempt) < ks.refetchInterval {
			// Rate limited: answer from what we have, even if it is past MaxAge.
			defer ks.mu.Unlock()
			if key, ok := signingKey(e.set, kid); ok {
				return key, nil
			}
			if e.set == nil {
				return nil, fmt.Errorf("%w: last fetch failed, next try after %s: %w",
					ErrKeySetUnavailable, ks.refetchInterval, e.lastErr)
			}
			return nil, fmt.Errorf("%w: kid %q (refetch rate limited)", ErrKeyNotFound, kid)
		}
		// This caller fetches; later callers wait on call.done instead of fetching again.
		call = &keySetFetch{done: make(chan struct{})}
		e.inflight = call
		e.lastAttempt = now
		e.fetches++
		ks.mu.Unlock()

		set, err := ks.fetch(ctx, jwksURL)

		ks.mu.Lock()
		call.set, call.err = set, err
		e.inflight = nil
		e.lastErr = err
		if err == nil {
			e.set = set
			e.fetchedAt = ks.now()
		}
		close(call.done)
		ks.mu.Unlock()
	} else {
		ks.mu.Unlock()
		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrKeySetUnavailable, ctx.Err())
		}
	}

	if call.err != nil {
		// A refresh that failed must not break launches signed with a key we already hold.
		ks.mu.Lock()
		key, ok := signingKey(e.set, kid)
		ks.mu.Unlock()
		if ok {
			return key, nil
		}
		return nil, fmt.Errorf("%w: %w", ErrKeySetUnavailable, call.err)
	}
	if key, ok := signingKey(call.set, kid); ok {
		return key, nil
	}
	return nil, fmt.Errorf("%w: kid %q", ErrKeyNotFound, kid)
}

// signingKey finds kid in set, skipping keys marked for encryption only (RFC 7517 §4.2).
func signingKey(set jwk.Set, kid string) (jwk.Key, bool) {
	if set == nil || kid == "" {
		return nil, false
	}
	key, ok := set.LookupKeyID(kid)
	if !ok {
		return nil, false
	}
	if use := key.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return nil, false
	}
	return key, true
}

// fetch downloads and parses one JWKS. It runs detached from the caller's cancellation,
// because other launches may be waiting for the same fetch, but bounded by its own timeout.
func (ks *KeySet) fetch(ctx context.Context, jwksURL string) (jwk.Set, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultFetchTimeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return nil, fmt.Errorf("lti: fetch key set: %w", err)
	}
	req.Header.Set("User-Agent", ks.userAgent)
	req.Header.Set("Accept", "application/json, application/jwk-set+json")

	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lti: fetch key set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("lti: fetch key set: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("lti: fetch key set: read body: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("lti: fetch key set: body larger than %d bytes", maxJWKSBytes)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("lti: parse key set: %w", err)
	}
	return set, nil
}
