// Package seal encrypts secrets at rest (tool private keys, Moodle web service
// tokens) with AES-256-GCM under a key derived from HUDDLE_SECRET_KEY. Each use
// passes its own purpose, so a sealed value cannot be replayed into another column.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// ErrOpen means a sealed value could not be opened: a different HUDDLE_SECRET_KEY,
// a different purpose, or damaged data.
var ErrOpen = errors.New("seal: cannot open sealed value (was HUDDLE_SECRET_KEY changed?)")

const version byte = 1

// Sealer seals and opens values with one secret.
type Sealer struct {
	aead cipher.AEAD
}

// New derives the encryption key from secret, which must be at least 32 bytes.
func New(secret []byte) (*Sealer, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("seal: secret is %d bytes, need at least 32", len(secret))
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "huddle seal v1", 32)
	if err != nil {
		return nil, fmt.Errorf("seal: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: gcm: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext for purpose (e.g. "tool-key", "moodle-token").
func (s *Sealer) Seal(purpose string, plaintext []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	out := make([]byte, 0, 1+len(nonce)+len(plaintext)+s.aead.Overhead())
	out = append(out, version)
	out = append(out, nonce...)
	return s.aead.Seal(out, nonce, plaintext, []byte(purpose)), nil
}

// Open decrypts a value sealed for purpose.
func (s *Sealer) Open(purpose string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(purpose))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// Derive returns a 32-byte key for purpose from secret (HKDF-SHA256), for uses that
// need a key of their own rather than sealing, such as the rate limiter's HMAC. Keys
// for different purposes are independent, so one leaking says nothing of another or
// of the sealing key.
func Derive(secret []byte, purpose string) []byte {
	key, err := hkdf.Key(sha256.New, secret, nil, "huddle derive v1 "+purpose, 32)
	if err != nil {
		// hkdf.Key fails only when asked for more than 255 hash lengths.
		panic(fmt.Sprintf("seal: derive %s: %v", purpose, err))
	}
	return key
}
