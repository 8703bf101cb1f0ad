package web

import (
	"crypto/rand"
	"encoding/base64"
	"strconv"
)

func randomID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
