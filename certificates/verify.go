package certificates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// ErrNotJWS: what was given is not a compact JWS at all (three base64url parts), so
// there is nothing to verify; the API answers 400, not "invalid".
var ErrNotJWS = errors.New("certificates: not a compact JWS")

// compactJWS is the shape of a compact JWS (RFC 7515 §7.1). The signature may be
// empty: an unsecured JWS ("alg": "none") is still a JWS, and is answered "invalid".
var compactJWS = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)

// Verification is the answer to "is this certificate genuine and current?".
type Verification struct {
	Status Status
	// Reason says why, in plain words, for every status but valid.
	Reason string
	// Credential is the verified payload (nil unless the signature verified).
	Credential json.RawMessage
	// Certificate is Huddle's record (nil when Huddle has none).
	Certificate *Certificate
}

// allowedHeader is every JOSE header parameter Huddle writes (OB 3.0 §8.2.4.1 asks
// for alg, kid and typ). A token carrying any other (jwk, jku, x5u, crit, b64) was
// not issued by Huddle, and some of them change how the signature would be checked.
var allowedHeader = map[string]bool{jws.AlgorithmKey: true, jws.TypeKey: true, jws.KeyIDKey: true}

// Verify checks a compact JWS as Huddle issues certificates: the header, the key
// (one Huddle published), the RS256 signature, the claims against the credential,
// and then Huddle's record of it (revoked, expired). It reads PostgreSQL on every
// call and caches nothing that can change, so a revocation is seen at once on every
// instance. It returns ErrNotJWS only when token has not even the shape of a JWS;
// every other defect is a Verification with StatusInvalid.
func (s *Service) Verify(ctx context.Context, token string) (*Verification, error) {
	token = strings.TrimSpace(token)
	if !compactJWS.MatchString(token) {
		return nil, ErrNotJWS
	}
	invalid := func(reason string) (*Verification, error) {
		return &Verification{Status: StatusInvalid, Reason: reason}, nil
	}
	msg, err := jws.Parse([]byte(token), jws.WithCompact())
	if err != nil || len(msg.Signatures()) != 1 {
		return invalid("The certificate is damaged: its parts do not decode.")
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	fields, err := hdr.AsMap(ctx)
	if err != nil {
		return invalid("The certificate's header cannot be read.")
	}
	for name := range fields {
		if !allowedHeader[name] {
			return invalid("The certificate's header carries a field Huddle never writes.")
		}
	}
	if hdr.Algorithm() != jwa.RS256 {
		return invalid("The certificate is not signed with the algorithm Huddle uses (RS256).")
	}
	if hdr.Type() != JWTType {
		return invalid("The certificate's header does not say it is a verifiable credential.")
	}
	key, err := s.keys.publicKey(ctx, hdr.KeyID())
	if errors.Is(err, ErrUnknownKey) {
		return invalid("The certificate names a signing key Huddle never published.")
	}
	if err != nil {
		return nil, err
	}
	// The algorithm is fixed by the verifier, never taken from the token.
	payload, err := jws.Verify([]byte(token), jws.WithKey(jwa.RS256, key))
	if err != nil {
		return invalid("The signature does not match: the certificate was changed after Huddle signed it, or someone else signed it.")
	}
	var body struct {
		Credential
		JWTClaims
	}
	if err := json.Unmarshal(payload, &body); err != nil {
		return invalid("The certificate's contents cannot be read.")
	}
	if reason := claimsMismatch(body.Credential, body.JWTClaims); reason != "" {
		return invalid(reason)
	}
	id, ok := strings.CutPrefix(body.ID, "urn:uuid:")
	if !ok {
		return invalid("The certificate's id is not one Huddle writes.")
	}
	c, err := s.Certificate(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return &Verification{Status: StatusUnknown, Credential: payload,
			Reason: "The signature is Huddle's, but Huddle has no record of this certificate."}, nil
	}
	if err != nil {
		return nil, err
	}
	if c.JWS != token {
		// Signed by Huddle's key yet not what Huddle issued under this id.
		return invalid("The certificate does not match Huddle's record of it.")
	}
	v := &Verification{Status: c.StatusAt(s.now()), Credential: payload, Certificate: c}
	v.Reason = c.Explain(v.Status)
	if v.Status == StatusValid && s.now().Before(c.ValidFrom) {
		v.Status, v.Reason = StatusInvalid, "The certificate is not valid yet."
	}
	return v, nil
}

// claimsMismatch checks the registered claims mirror the credential (OB 3.0 §8.2.4.2
// under VC DM 2.0); it returns why not, or "".
func claimsMismatch(c Credential, j JWTClaims) string {
	from, err := time.Parse(time.RFC3339, c.ValidFrom)
	switch {
	case j.Issuer == "" || j.Issuer != c.Issuer.ID:
		return "The certificate's issuer claim does not match its issuer."
	case j.JTI == "" || j.JTI != c.ID:
		return "The certificate's id claim does not match its id."
	case j.Subject == "" || j.Subject != c.CredentialSubject.ID:
		return "The certificate's subject claim does not match its subject."
	case err != nil || j.NotBefore != from.Unix():
		return "The certificate's start date does not match its not-before claim."
	}
	if c.ValidUntil == "" {
		if j.Expires != 0 {
			return "The certificate has an expiry claim but no end date."
		}
		return ""
	}
	until, err := time.Parse(time.RFC3339, c.ValidUntil)
	if err != nil || j.Expires != until.Unix() {
		return "The certificate's end date does not match its expiry claim."
	}
	return ""
}

// Explain is the reason shown beside a status, in plain words.
func (c *Certificate) Explain(st Status) string {
	switch st {
	case StatusRevoked:
		return fmt.Sprintf("Revoked on %s: %s", c.RevokedAt.UTC().Format("2 January 2006"), c.RevokedReason)
	case StatusExpired:
		return fmt.Sprintf("Expired on %s.", c.ValidUntil.UTC().Format("2 January 2006"))
	case StatusValid:
		return ""
	}
	return ""
}
