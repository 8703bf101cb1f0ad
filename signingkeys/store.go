// Package signingkeys keeps RSA signing keys in a PostgreSQL table, the private half
// sealed at rest: it makes keys, opens the current one for signing, publishes the
// public halves as a JWK set and re-seals them under a new secret. Huddle has two such
// tables, lti's tool keys and certificates' issuing keys; each owner decides when its
// keys retire and for how long they stay published.
package signingkeys

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
)

// Sealer encrypts private keys at rest (package seal implements it).
type Sealer interface {
	Seal(purpose string, plaintext []byte) ([]byte, error)
	Open(purpose string, sealed []byte) ([]byte, error)
}

// Querier runs a query: the pool, or the caller's transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Table is one table of keys, with the columns id, private_key (sealed), public_jwk,
// created_at and retired_at, and a column naming each key. Its fields are constants of
// the owning package: they are written into SQL, so never take them from input.
type Table struct {
	// Name is the table's name (tool_keys, issuing_keys).
	Name string
	// KeyColumn names each key (tool_keys.kid, issuing_keys.key_id).
	KeyColumn string
	// Purpose is the seal purpose of the private keys ("tool-key", "issuing-key"):
	// a value sealed for one purpose does not open for another.
	Purpose string
	// Published is the SQL condition on a key that is in the JWK set, with $1 the
	// time now; empty for every key ever made.
	Published string
}

// ErrNoKey: the table holds no key that is not retired.
var ErrNoKey = errors.New("signingkeys: no current key")

// Store is one table of keys.
type Store struct {
	db     *pgxpool.Pool
	sealer Sealer
	table  Table
	bits   int
	now    func() time.Time
	kid    func(keyID string) string

	// Opened private keys by the key column. A key never changes once written
	// (Reseal seals the same key again), so this is right on every instance; it is
	// bounded by the number of keys ever made, a handful, and saves an AES open and
	// an RSA parse per signature.
	mu     sync.Mutex
	opened map[string]openedKey
}

// openedKey is one opened private key in both forms its signers take.
type openedKey struct {
	jwk jwk.Key
	// private is ready to sign (its CRT values precomputed): jws given the JWK
	// instead builds a new *rsa.PrivateKey, and precomputes it, at every signature.
	private *rsa.PrivateKey
}

// New returns the store of table; bits is the RSA size of new keys. kid makes the
// JWK kid of a key from its key column (nil: the key column's value itself).
func New(db *pgxpool.Pool, sealer Sealer, table Table, bits int, now func() time.Time, kid func(keyID string) string) *Store {
	if now == nil {
		now = time.Now
	}
	if kid == nil {
		kid = func(keyID string) string { return keyID }
	}
	return &Store{db: db, sealer: sealer, table: table, bits: bits, now: now, kid: kid, opened: map[string]openedKey{}}
}

// Insert makes a key pair and stores it in tx as keyID, the private half sealed and
// the public half as a JWK with its kid, alg RS256 and use sig.
func (s *Store) Insert(ctx context.Context, tx pgx.Tx, keyID string) error {
	priv, err := rsa.GenerateKey(rand.Reader, s.bits)
	if err != nil {
		return fmt.Errorf("%s: generate key: %w", s.table.Name, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("%s: marshal key: %w", s.table.Name, err)
	}
	sealed, err := s.sealer.Seal(s.table.Purpose, der)
	clear(der)
	if err != nil {
		return err
	}
	pub, err := jwk.FromRaw(priv.Public())
	if err != nil {
		return fmt.Errorf("%s: public jwk: %w", s.table.Name, err)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: s.kid(keyID), jwk.AlgorithmKey: jwa.RS256, jwk.KeyUsageKey: "sig"} {
		if err := pub.Set(name, v); err != nil {
			return err
		}
	}
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (%s, private_key, public_jwk, created_at) VALUES ($1, $2, $3, $4)`,
		s.table.Name, s.table.KeyColumn), keyID, sealed, pubJSON, s.now())
	if err != nil {
		return fmt.Errorf("%s: store key: %w", s.table.Name, err)
	}
	return nil
}

// Current returns the newest key not retired, opened, as a JWK with kid and alg set,
// and its key column, read through q. It returns ErrNoKey when there is none.
func (s *Store) Current(ctx context.Context, q Querier) (jwk.Key, string, error) {
	k, keyID, err := s.current(ctx, q)
	return k.jwk, keyID, err
}

// CurrentPrivate is Current as a ready *rsa.PrivateKey, for a signer that signs
// often (a bulk issue): the caller sets the JWS kid itself (the kid func of New).
func (s *Store) CurrentPrivate(ctx context.Context, q Querier) (*rsa.PrivateKey, string, error) {
	k, keyID, err := s.current(ctx, q)
	return k.private, keyID, err
}

func (s *Store) current(ctx context.Context, q Querier) (openedKey, string, error) {
	var keyID string
	var sealed []byte
	err := q.QueryRow(ctx, fmt.Sprintf(`SELECT %s, private_key FROM %s WHERE retired_at IS NULL ORDER BY id DESC LIMIT 1`,
		s.table.KeyColumn, s.table.Name)).Scan(&keyID, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return openedKey{}, "", ErrNoKey
	}
	if err != nil {
		return openedKey{}, "", fmt.Errorf("%s: current key: %w", s.table.Name, err)
	}
	s.mu.Lock()
	cached, ok := s.opened[keyID]
	s.mu.Unlock()
	if ok {
		return cached, keyID, nil
	}
	der, err := s.sealer.Open(s.table.Purpose, sealed)
	if err != nil {
		return openedKey{}, "", fmt.Errorf("%s: open key %s: %w", s.table.Name, keyID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return openedKey{}, "", fmt.Errorf("%s: parse key %s: %w", s.table.Name, keyID, err)
	}
	raw, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return openedKey{}, "", fmt.Errorf("%s: key %s is a %T, not RSA", s.table.Name, keyID, parsed)
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		return openedKey{}, "", fmt.Errorf("%s: jwk %s: %w", s.table.Name, keyID, err)
	}
	if err := key.Set(jwk.KeyIDKey, s.kid(keyID)); err != nil {
		return openedKey{}, "", err
	}
	if err := key.Set(jwk.AlgorithmKey, jwa.RS256); err != nil {
		return openedKey{}, "", err
	}
	opened := openedKey{jwk: key, private: raw}
	s.mu.Lock()
	s.opened[keyID] = opened
	s.mu.Unlock()
	return opened, keyID, nil
}

// PublicJWKS is every published key, newest first, as a JWK set (RFC 7517 §5).
func (s *Store) PublicJWKS(ctx context.Context) ([]byte, error) {
	q, args := fmt.Sprintf(`SELECT public_jwk FROM %s ORDER BY id DESC`, s.table.Name), []any(nil)
	if s.table.Published != "" {
		q, args = fmt.Sprintf(`SELECT public_jwk FROM %s WHERE %s ORDER BY id DESC`, s.table.Name, s.table.Published), []any{s.now()}
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: jwks: %w", s.table.Name, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[json.RawMessage])
	if err != nil {
		return nil, fmt.Errorf("%s: jwks: %w", s.table.Name, err)
	}
	if keys == nil {
		keys = []json.RawMessage{}
	}
	return json.Marshal(struct {
		Keys []json.RawMessage `json:"keys"`
	}{keys})
}

// Reseal seals every key again under a new secret: each private key is opened with
// from and sealed with to for the same purpose, inside tx, which the caller commits or
// rolls back together with the other owners of sealed values (huddle secret rotate).
// It returns how many keys it re-sealed. A key that from cannot open stops it with an
// error naming the row, never the value; the caller then rolls back.
func (s *Store) Reseal(ctx context.Context, tx pgx.Tx, from, to Sealer) (int, error) {
	// Stronger than SELECT ... FOR UPDATE: row locks do not see a key another process
	// (Ensure, huddle keys rotate) inserted but has not committed yet, which would stay
	// sealed with the old secret. The table lock waits for that writer, so its row is
	// read here, and holds later writers until the commit; readers (signing, the JWKS)
	// go on.
	if _, err := tx.Exec(ctx, fmt.Sprintf(`LOCK TABLE %s IN EXCLUSIVE MODE`, s.table.Name)); err != nil {
		return 0, fmt.Errorf("reseal %s: lock: %w", s.table.Name, err)
	}
	type sealedKey struct {
		ID         int64
		PrivateKey []byte
	}
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT id, private_key FROM %s ORDER BY id`, s.table.Name))
	if err != nil {
		return 0, fmt.Errorf("reseal %s: %w", s.table.Name, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowToStructByPos[sealedKey])
	if err != nil {
		return 0, fmt.Errorf("reseal %s: %w", s.table.Name, err)
	}
	for _, key := range keys {
		der, err := from.Open(s.table.Purpose, key.PrivateKey)
		if err != nil {
			return 0, fmt.Errorf("reseal %s row id=%d: %w", s.table.Name, key.ID, err)
		}
		resealed, err := to.Seal(s.table.Purpose, der)
		clear(der)
		if err != nil {
			return 0, fmt.Errorf("reseal %s row id=%d: %w", s.table.Name, key.ID, err)
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET private_key = $2 WHERE id = $1`, s.table.Name), key.ID, resealed); err != nil {
			return 0, fmt.Errorf("reseal %s row id=%d: %w", s.table.Name, key.ID, err)
		}
	}
	// The opened keys stay valid: the private keys themselves have not changed.
	return len(keys), nil
}
