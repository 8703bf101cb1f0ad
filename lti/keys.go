package lti

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/huddle-lti/huddle/signingkeys"
	"github.com/huddle-lti/huddle/token"
)

// Sealer encrypts private keys at rest (package seal implements it).
type Sealer = signingkeys.Sealer

const sealPurposeToolKey = "tool-key"

// DefaultKeyGrace is how long a rotated-out key stays published, so platforms that
// cached Huddle's JWKS still verify what was signed just before the rotation.
const DefaultKeyGrace = 72 * time.Hour

// Keyring holds Huddle's RSA signing keys in PostgreSQL (table tool_keys, kept by
// package signingkeys, which certificates' issuing keys share).
type Keyring struct {
	db    *pgxpool.Pool
	now   func() time.Time
	store *signingkeys.Store
}

// toolKeys is the table of tool keys: a retired key stays in the JWKS until
// unpublish_at, so platforms that cached it still verify what it signed.
var toolKeys = signingkeys.Table{Name: "tool_keys", KeyColumn: "kid", Purpose: sealPurposeToolKey,
	Published: "unpublish_at IS NULL OR unpublish_at > $1"}

// NewKeyring returns a Keyring; bits is the RSA size (2048 if zero).
func NewKeyring(db *pgxpool.Pool, sealer Sealer, now func() time.Time, bits int) *Keyring {
	if now == nil {
		now = time.Now
	}
	if bits == 0 {
		bits = 2048
	}
	return &Keyring{db: db, now: now, store: signingkeys.New(db, sealer, toolKeys, bits, now, nil)}
}

// keyLock serialises key creation across instances (an arbitrary constant).
const keyLock = 0x48756464_6c654b59

// Ensure creates the first signing key if there is none. Safe to call from several
// instances at once.
func (k *Keyring) Ensure(ctx context.Context) error {
	return pgx.BeginFunc(ctx, k.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(keyLock)); err != nil {
			return fmt.Errorf("lti: ensure key: %w", err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM tool_keys WHERE retired_at IS NULL`).Scan(&n); err != nil {
			return fmt.Errorf("lti: ensure key: %w", err)
		}
		if n > 0 {
			return nil
		}
		_, err := k.insert(ctx, tx)
		return err
	})
}

// Rotate adds a new signing key; the previous ones stop signing now and stay in the
// JWKS for grace.
func (k *Keyring) Rotate(ctx context.Context, grace time.Duration) (string, error) {
	var kid string
	err := pgx.BeginFunc(ctx, k.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(keyLock)); err != nil {
			return err
		}
		now := k.now()
		if _, err := tx.Exec(ctx, `UPDATE tool_keys SET retired_at = $1, unpublish_at = $2 WHERE retired_at IS NULL`,
			now, now.Add(grace)); err != nil {
			return err
		}
		var err error
		kid, err = k.insert(ctx, tx)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("lti: rotate key: %w", err)
	}
	return kid, nil
}

func (k *Keyring) insert(ctx context.Context, tx pgx.Tx) (string, error) {
	kidRaw, err := token.New()
	if err != nil {
		return "", err
	}
	kid := kidRaw[:16]
	if err := k.store.Insert(ctx, tx, kid); err != nil {
		return "", fmt.Errorf("lti: %w", err)
	}
	return kid, nil
}

// SigningKey returns the current private signing key as a JWK with kid and alg set.
func (k *Keyring) SigningKey(ctx context.Context) (jwk.Key, error) {
	key, _, err := k.store.Current(ctx, k.db)
	if errors.Is(err, signingkeys.ErrNoKey) {
		return nil, fmt.Errorf("lti: no signing key (run huddle serve once, or huddle keys rotate): %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("lti: signing key: %w", err)
	}
	return key, nil
}

// PublicJWKS returns the JSON Web Key Set platforms fetch to verify Huddle's
// signatures: the current key and every rotated key still in its grace period.
func (k *Keyring) PublicJWKS(ctx context.Context) ([]byte, error) {
	body, err := k.store.PublicJWKS(ctx)
	if err != nil {
		return nil, fmt.Errorf("lti: %w", err)
	}
	return body, nil
}

// Reseal seals every tool key again under a new secret inside tx (huddle secret
// rotate; signingkeys.Store.Reseal). It returns how many keys it re-sealed; an error
// names the row, never a value, and the caller then rolls back.
func (k *Keyring) Reseal(ctx context.Context, tx pgx.Tx, from, to Sealer) (int, error) {
	n, err := k.store.Reseal(ctx, tx, from, to)
	if err != nil {
		return 0, fmt.Errorf("lti: %w", err)
	}
	return n, nil
}
