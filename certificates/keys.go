package certificates

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Sealer encrypts private keys at rest (package seal implements it).
type Sealer interface {
	Seal(purpose string, plaintext []byte) ([]byte, error)
	Open(purpose string, sealed []byte) ([]byte, error)
}

const sealPurposeIssuingKey = "issuing-key"

// KeysPath is where each issuing key's public JWK is served: {base}{KeysPath}{key id}.
// The JWS kid is that URL, so a verifier can fetch the key it names.
const KeysPath = "/certificates/keys/"

// JWKSPath is the well-known URL of every issuing key Huddle has published.
const JWKSPath = "/.well-known/huddle-issuing-keys.json"

// IssuingKeys holds the RSA keys Huddle signs certificates with, in PostgreSQL. They
// are not the LTI tool keys: those sign messages to Moodle and are unpublished after
// a grace period, while an issuing key stays published for good, so a certificate
// signed years ago still verifies after any number of rotations.
type IssuingKeys struct {
	db     *pgxpool.Pool
	sealer Sealer
	now    func() time.Time
	bits   int
	base   *url.URL

	// Parsed keys by key id. A key row never changes once written (Reseal re-seals
	// the same key), so this cache is correct on every instance; it is bounded by the
	// number of keys ever made, a handful.
	mu      sync.Mutex
	private map[string]jwk.Key
	public  map[string]jwk.Key
}

// NewIssuingKeys returns the issuing keyring; bits is the RSA size (3072 if zero).
// base is Huddle's public URL, which every kid starts with.
func NewIssuingKeys(db *pgxpool.Pool, sealer Sealer, base *url.URL, now func() time.Time, bits int) *IssuingKeys {
	if now == nil {
		now = time.Now
	}
	if bits == 0 {
		bits = 3072
	}
	return &IssuingKeys{db: db, sealer: sealer, now: now, bits: bits, base: base,
		private: map[string]jwk.Key{}, public: map[string]jwk.Key{}}
}

// issuingKeyLock serialises key creation across instances (an arbitrary constant).
const issuingKeyLock = 0x48756464_6c654953

// KID is the kid of the key with keyID: the https URL that serves its public JWK.
func (k *IssuingKeys) KID(keyID string) string {
	return strings.TrimRight(k.base.String(), "/") + KeysPath + keyID
}

// keyIDOf is the key id a kid names, if the kid is one of Huddle's key URLs.
func (k *IssuingKeys) keyIDOf(kid string) (string, bool) {
	prefix := strings.TrimRight(k.base.String(), "/") + KeysPath
	id, ok := strings.CutPrefix(kid, prefix)
	if !ok || id == "" || strings.ContainsAny(id, "/?#") {
		return "", false
	}
	return id, true
}

// Ensure creates the first issuing key if there is none. Safe to call from several
// instances at once.
func (k *IssuingKeys) Ensure(ctx context.Context) error {
	return pgx.BeginFunc(ctx, k.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(issuingKeyLock)); err != nil {
			return fmt.Errorf("certificates: ensure issuing key: %w", err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM issuing_keys WHERE retired_at IS NULL`).Scan(&n); err != nil {
			return fmt.Errorf("certificates: ensure issuing key: %w", err)
		}
		if n > 0 {
			return nil
		}
		_, err := k.insert(ctx, tx)
		return err
	})
}

// Rotate adds a new issuing key, which signs from now on. The previous keys stop
// signing and stay published, so what they signed still verifies.
func (k *IssuingKeys) Rotate(ctx context.Context) (string, error) {
	var keyID string
	err := pgx.BeginFunc(ctx, k.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(issuingKeyLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE issuing_keys SET retired_at = $1 WHERE retired_at IS NULL`, k.now()); err != nil {
			return err
		}
		var err error
		keyID, err = k.insert(ctx, tx)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("certificates: rotate issuing key: %w", err)
	}
	return k.KID(keyID), nil
}

func (k *IssuingKeys) insert(ctx context.Context, tx pgx.Tx) (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, k.bits)
	if err != nil {
		return "", fmt.Errorf("certificates: generate key: %w", err)
	}
	idBytes := make([]byte, 12)
	if _, err := rand.Read(idBytes); err != nil {
		return "", fmt.Errorf("certificates: key id: %w", err)
	}
	keyID := hex.EncodeToString(idBytes)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("certificates: marshal key: %w", err)
	}
	sealed, err := k.sealer.Seal(sealPurposeIssuingKey, der)
	clear(der)
	if err != nil {
		return "", err
	}
	pub, err := jwk.FromRaw(priv.Public())
	if err != nil {
		return "", fmt.Errorf("certificates: public jwk: %w", err)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: k.KID(keyID), jwk.AlgorithmKey: jwa.RS256, jwk.KeyUsageKey: "sig"} {
		if err := pub.Set(name, v); err != nil {
			return "", err
		}
	}
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return "", err
	}
	_, err = tx.Exec(ctx, `
INSERT INTO issuing_keys (key_id, private_key, public_jwk, created_at)
VALUES ($1, $2, $3, $4)`, keyID, sealed, pubJSON, k.now())
	if err != nil {
		return "", fmt.Errorf("certificates: store issuing key: %w", err)
	}
	return keyID, nil
}

// signingKey returns the current private key (kid and alg set) and its key id, read
// through q (the issuing transaction, so a signer never waits for a second connection).
func (k *IssuingKeys) signingKey(ctx context.Context, q querier) (jwk.Key, string, error) {
	var keyID string
	var sealed []byte
	err := q.QueryRow(ctx, `
SELECT key_id, private_key FROM issuing_keys
WHERE retired_at IS NULL ORDER BY id DESC LIMIT 1`).Scan(&keyID, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", errors.New("certificates: no issuing key (run huddle serve once, or huddle keys rotate --issuing)")
	}
	if err != nil {
		return nil, "", fmt.Errorf("certificates: issuing key: %w", err)
	}
	k.mu.Lock()
	cached, ok := k.private[keyID]
	k.mu.Unlock()
	if ok {
		return cached, keyID, nil
	}
	der, err := k.sealer.Open(sealPurposeIssuingKey, sealed)
	if err != nil {
		return nil, "", fmt.Errorf("certificates: open issuing key %s: %w", keyID, err)
	}
	raw, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, "", fmt.Errorf("certificates: parse issuing key %s: %w", keyID, err)
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, "", fmt.Errorf("certificates: jwk %s: %w", keyID, err)
	}
	if err := key.Set(jwk.KeyIDKey, k.KID(keyID)); err != nil {
		return nil, "", err
	}
	if err := key.Set(jwk.AlgorithmKey, jwa.RS256); err != nil {
		return nil, "", err
	}
	k.mu.Lock()
	k.private[keyID] = key
	k.mu.Unlock()
	return key, keyID, nil
}

// CheckOpens opens the current issuing key, so a wrong HUDDLE_SECRET_KEY stops
// start-up instead of every issue failing.
func (k *IssuingKeys) CheckOpens(ctx context.Context) error {
	_, _, err := k.signingKey(ctx, k.db)
	return err
}

// ErrUnknownKey: no issuing key Huddle ever published has that kid.
var ErrUnknownKey = errors.New("certificates: no such issuing key")

// publicKey returns the published public key a kid names.
func (k *IssuingKeys) publicKey(ctx context.Context, kid string) (jwk.Key, error) {
	keyID, ok := k.keyIDOf(kid)
	if !ok {
		return nil, ErrUnknownKey
	}
	k.mu.Lock()
	cached, ok := k.public[keyID]
	k.mu.Unlock()
	if ok {
		return cached, nil
	}
	raw, err := k.PublicJWK(ctx, keyID)
	if err != nil {
		return nil, err
	}
	key, err := jwk.ParseKey(raw)
	if err != nil {
		return nil, fmt.Errorf("certificates: parse public key %s: %w", keyID, err)
	}
	k.mu.Lock()
	k.public[keyID] = key
	k.mu.Unlock()
	return key, nil
}

// PublicJWK is the public JWK of the key with keyID (the last path segment of its
// kid), as served at its kid URL.
func (k *IssuingKeys) PublicJWK(ctx context.Context, keyID string) ([]byte, error) {
	var raw []byte
	err := k.db.QueryRow(ctx, `SELECT public_jwk FROM issuing_keys WHERE key_id = $1`, keyID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrUnknownKey
	}
	if err != nil {
		return nil, fmt.Errorf("certificates: public key %s: %w", keyID, err)
	}
	return raw, nil
}

// PublicJWKS is every issuing key Huddle has made, newest first, as a JWK set.
func (k *IssuingKeys) PublicJWKS(ctx context.Context) ([]byte, error) {
	rows, err := k.db.Query(ctx, `SELECT public_jwk FROM issuing_keys ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("certificates: jwks: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[json.RawMessage])
	if err != nil {
		return nil, fmt.Errorf("certificates: jwks: %w", err)
	}
	if keys == nil {
		keys = []json.RawMessage{}
	}
	return json.Marshal(struct {
		Keys []json.RawMessage `json:"keys"`
	}{keys})
}

// Reseal seals every issuing key again under a new secret inside tx (huddle secret
// rotate). It returns how many keys it re-sealed; errors name the row, never a value.
func (k *IssuingKeys) Reseal(ctx context.Context, tx pgx.Tx, from, to Sealer) (int, error) {
	// As lti.Keyring.Reseal: a table lock also waits for a key being inserted.
	if _, err := tx.Exec(ctx, `LOCK TABLE issuing_keys IN EXCLUSIVE MODE`); err != nil {
		return 0, fmt.Errorf("certificates: reseal issuing_keys: lock: %w", err)
	}
	type sealedKey struct {
		ID         int64
		PrivateKey []byte
	}
	rows, err := tx.Query(ctx, `SELECT id, private_key FROM issuing_keys ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("certificates: reseal issuing_keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowToStructByPos[sealedKey])
	if err != nil {
		return 0, fmt.Errorf("certificates: reseal issuing_keys: %w", err)
	}
	for _, key := range keys {
		der, err := from.Open(sealPurposeIssuingKey, key.PrivateKey)
		if err != nil {
			return 0, fmt.Errorf("certificates: reseal issuing_keys row id=%d: %w", key.ID, err)
		}
		resealed, err := to.Seal(sealPurposeIssuingKey, der)
		clear(der)
		if err != nil {
			return 0, fmt.Errorf("certificates: reseal issuing_keys row id=%d: %w", key.ID, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE issuing_keys SET private_key = $2 WHERE id = $1`, key.ID, resealed); err != nil {
			return 0, fmt.Errorf("certificates: reseal issuing_keys row id=%d: %w", key.ID, err)
		}
	}
	return len(keys), nil
}
