// Package token makes the opaque secrets Huddle hands to browsers (session ids, login
// states and nonces, resumable login ids) and the hashes it stores in their place, so
// a copy of the database gives nobody a usable secret.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// New returns 256 random bits as URL-safe base64 (the LTI Security Framework asks for
// unguessable state and nonce values; 128 bits would do, 256 costs nothing).
func New() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash is what is stored for a secret: its SHA-256.
func Hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
