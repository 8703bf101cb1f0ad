package lti

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/huddle-lti/huddle/token"
)

// Sealer encrypts private keys at rest (package seal implements it).
type Sealer interface {
	Seal(purpose string, plaintext []byte) ([]byte, error)
	Open(purpose string, sealed []byte) ([]byte, error)
}

const sealPurposeToolKey = "tool-key"

// DefaultKeyGrace is how long a rotated-out key stays published, so platforms that
// cached Huddle's JWKS still verify what was signed just before the rotation.
const DefaultKeyGrace = 72 * time.Hour

// Keyring holds Huddle's RSA signing keys in PostgreSQL.
type Keyring struct {
	db     *pgxpool.Pool
	sealer Sealer
	now    func() time.Time
	bits   int

	// Parsed private keys by kid. Keys never change once written, so this cache is
	// safe across instances; it saves an RSA parse and an AES open per signature.
	mu     sync.Mutex
	parsed map[string]jwk.Key
}

// NewKeyring returns a Keyring; bits is the RSA size (2048 if zero).
func NewKeyring(db *pgxpool.Pool, sealer Sealer, now func() time.Time, bits int) *Keyring {
	if now == nil {
		now = time.Now
	}
	if bits == 0 {
		bits = 2048
	}
	return &Keyring{db: db, sealer: sealer, now: now, bits: bits, parsed: map[string]jwk.Key{}}
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
	priv, err := rsa.GenerateKey(rand.Reader, k.bits)
	if err != nil {
		return "", fmt.Errorf("lti: generate key: %w", err)
	}
	kidRaw, err := token.New()
	if err != nil {
		return "", err
	}
	kid := kidRaw[:16]
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("lti: marshal key: %w", err)
	}
	sealed, err := k.sealer.Seal(sealPurposeToolKey, der)
	if err != nil {
		return "", err
	}
	pub, err := jwk.FromRaw(priv.Public())
	if err != nil {
		return "", fmt.Errorf("lti: public jwk: %w", err)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.RS256, jwk.KeyUsageKey: "sig"} {
		if err := pub.Set(name, v); err != nil {
			return "", err
		}
	}
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return "", err
	}
	_, err = tx.Exec(ctx, `INSERT INTO tool_keys (kid, private_key, public_jwk, created_at) VALUES ($1, $2, $3, $4)`,
		kid, sealed, pubJSON, k.now())
	if err != nil {
		return "", fmt.Errorf("lti: store key: %w", err)
	}
	return kid, nil
}

// SigningKey returns the current private signing key as a JWK with kid and alg set.
func (k *Keyring) SigningKey(ctx context.Context) (jwk.Key, error) {
	var kid string
	var sealed []byte
	err := k.db.QueryRow(ctx, `SELECT kid, private_key FROM tool_keys WHERE retired_at IS NULL ORDER BY id DESC LIMIT 1`).Scan(&kid, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("lti: no signing key (run huddle serve once, or huddle keys rotate): %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("lti: signing key: %w", err)
	}
	k.mu.Lock()
	cached, ok := k.parsed[kid]
	k.mu.Unlock()
	if ok {
		return cached, nil
	}
	der, err := k.sealer.Open(sealPurposeToolKey, sealed)
	if err != nil {
		return nil, fmt.Errorf("lti: open key %s: %w", kid, err)
	}
	raw, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("lti: parse key %s: %w", kid, err)
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, fmt.Errorf("lti: jwk %s: %w", kid, err)
	}
	if err := key.Set(jwk.KeyIDKey, kid); err != nil {
		return nil, err
	}
	if err := key.Set(jwk.AlgorithmKey, jwa.RS256); err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.parsed[kid] = key
	k.mu.Unlock()
	return key, nil
}

// PublicJWKS returns the JSON Web Key Set platforms fetch to verify Huddle's
// signatures: the current key and every rotated key still in its grace period.
func (k *Keyring) PublicJWKS(ctx context.Context) ([]byte, error) {
	rows, err := k.db.Query(ctx, `SELECT public_jwk FROM tool_keys WHERE unpublish_at IS NULL OR unpublish_at > $1 ORDER BY id DESC`, k.now())
	if err != nil {
		return nil, fmt.Errorf("lti: jwks: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[json.RawMessage])
	if err != nil {
		return nil, fmt.Errorf("lti: jwks: %w", err)
	}
	if keys == nil {
		keys = []json.RawMessage{}
	}
	return json.Marshal(struct {
		Keys []json.RawMessage `json:"keys"`
	}{keys})
}

// Reseal seals every tool key again under a new secret: each private key is opened
// with from and sealed with to for the same purpose, inside tx, which the caller
// commits or rolls back together with the other owners of sealed values (huddle
// secret rotate). It returns how many keys it re-sealed. A key that from cannot open
// stops it with an error naming the row, never the value; the caller then rolls back.
func (k *Keyring) Reseal(ctx context.Context, tx pgx.Tx, from, to Sealer) (int, error) {
	// Stronger than SELECT ... FOR UPDATE: row locks do not see a key another process
	// (Ensure, huddle keys rotate) inserted but has not committed yet, which would stay
	// sealed with the old secret. The table lock waits for that writer, so its row is
	// read here, and holds later writers until the commit; readers (signing, the JWKS)
	// go on.
	if _, err := tx.Exec(ctx, `LOCK TABLE tool_keys IN EXCLUSIVE MODE`); err != nil {
		return 0, fmt.Errorf("lti: reseal tool_keys: lock: %w", err)
	}
	type sealedKey struct {
		ID         int64
		PrivateKey []byte
	}
	rows, err := tx.Query(ctx, `SELECT id, private_key FROM tool_keys ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("lti: reseal tool_keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowToStructByPos[sealedKey])
	if err != nil {
		return 0, fmt.Errorf("lti: reseal tool_keys: %w", err)
	}
	for _, key := range keys {
		der, err := from.Open(sealPurposeToolKey, key.PrivateKey)
		if err != nil {
			return 0, fmt.Errorf("lti: reseal tool_keys row id=%d: %w", key.ID, err)
		}
		resealed, err := to.Seal(sealPurposeToolKey, der)
		clear(der)
		if err != nil {
			return 0, fmt.Errorf("lti: reseal tool_keys row id=%d: %w", key.ID, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE tool_keys SET private_key = $2 WHERE id = $1`, key.ID, resealed); err != nil {
			return 0, fmt.Errorf("lti: reseal tool_keys row id=%d: %w", key.ID, err)
		}
	}
	// The parsed-key cache stays valid: the private keys themselves have not changed.
	return len(keys), nil
}
