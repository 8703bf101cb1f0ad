package certificates

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/huddle-lti/huddle/signingkeys"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Sealer encrypts private keys at rest (package seal implements it).
type Sealer = signingkeys.Sealer

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
	db    *pgxpool.Pool
	now   func() time.Time
	base  *url.URL
	store *signingkeys.Store

	// Public keys by key id, ready for verification: as *rsa.PublicKey, since handed
	// a jwk.Key, jws converted it (new big.Ints) at every verification. A key row never
	// changes once written, so this cache is correct on every instance; it is bounded
	// by the number of keys ever made, a handful.
	mu     sync.Mutex
	public map[string]*rsa.PublicKey
}

// issuingKeyTable is the table of issuing keys (shared code with lti's tool keys in
// package signingkeys): every key ever made stays published.
var issuingKeyTable = signingkeys.Table{Name: "issuing_keys", KeyColumn: "key_id", Purpose: sealPurposeIssuingKey}

// IssuingKeyBits is the RSA size of new issuing keys. 2048 bits, as LTI's, Moodle's and
// most Open Badges issuers' keys are: NIST SP 800-57 accepts it for new signatures
// through 2030 and for verifying them after. 3072 bits cost six times as much CPU
// per verification in Go's crypto/rsa (which has assembly for 1024, 1536 and 2048-bit
// moduli only: 117 against 782 us on the 2-core machine), which made anyone's
// verification of a certificate the most expensive request Huddle served. Keys made
// at another size keep verifying; `huddle keys rotate --issuing` moves to this one.
const IssuingKeyBits = 2048

// NewIssuingKeys returns the issuing keyring; bits is the RSA size (IssuingKeyBits if
// zero). base is Huddle's public URL, which every kid starts with.
func NewIssuingKeys(db *pgxpool.Pool, sealer Sealer, base *url.URL, now func() time.Time, bits int) *IssuingKeys {
	if now == nil {
		now = time.Now
	}
	if bits == 0 {
		bits = IssuingKeyBits
	}
	k := &IssuingKeys{db: db, now: now, base: base, public: map[string]*rsa.PublicKey{}}
	k.store = signingkeys.New(db, sealer, issuingKeyTable, bits, now, k.KID)
	return k
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
	idBytes := make([]byte, 12)
	if _, err := rand.Read(idBytes); err != nil {
		return "", fmt.Errorf("certificates: key id: %w", err)
	}
	keyID := hex.EncodeToString(idBytes)
	if err := k.store.Insert(ctx, tx, keyID); err != nil {
		return "", fmt.Errorf("certificates: %w", err)
	}
	return keyID, nil
}

// signingKey returns the current private key, ready to sign, with its kid and key id,
// read through q (the issuing transaction, so a signer never waits for a second
// connection).
func (k *IssuingKeys) signingKey(ctx context.Context, q querier) (*rsa.PrivateKey, string, string, error) {
	key, keyID, err := k.store.CurrentPrivate(ctx, q)
	if errors.Is(err, signingkeys.ErrNoKey) {
		return nil, "", "", errors.New("certificates: no issuing key (run huddle serve once, or huddle keys rotate --issuing)")
	}
	if err != nil {
		return nil, "", "", fmt.Errorf("certificates: issuing key: %w", err)
	}
	return key, k.KID(keyID), keyID, nil
}

// CheckOpens opens the current issuing key, so a wrong HUDDLE_SECRET_KEY stops
// start-up instead of every issue failing.
func (k *IssuingKeys) CheckOpens(ctx context.Context) error {
	_, _, _, err := k.signingKey(ctx, k.db)
	return err
}

// ErrUnknownKey: no issuing key Huddle ever published has that kid.
var ErrUnknownKey = errors.New("certificates: no such issuing key")

// publicKey returns the published public key a kid names.
func (k *IssuingKeys) publicKey(ctx context.Context, kid string) (*rsa.PublicKey, error) {
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
	pub := &rsa.PublicKey{}
	if err := key.Raw(pub); err != nil {
		return nil, fmt.Errorf("certificates: issuing key %s is not an RSA key: %w", keyID, err)
	}
	k.mu.Lock()
	k.public[keyID] = pub
	k.mu.Unlock()
	return pub, nil
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
	body, err := k.store.PublicJWKS(ctx)
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	return body, nil
}

// Reseal seals every issuing key again under a new secret inside tx (huddle secret
// rotate; signingkeys.Store.Reseal). It returns how many keys it re-sealed; errors
// name the row, never a value.
func (k *IssuingKeys) Reseal(ctx context.Context, tx pgx.Tx, from, to Sealer) (int, error) {
	n, err := k.store.Reseal(ctx, tx, from, to)
	if err != nil {
		return 0, fmt.Errorf("certificates: %w", err)
	}
	return n, nil
}
