package certificates

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// ErrNotJWS: what was given is not a compact JWS at all (three base64url parts), so
// there is nothing to verify; the API answers 400, not "invalid".
var ErrNotJWS = errors.New("certificates: not a compact JWS")

// isCompactJWS reports whether s has the shape of a compact JWS (RFC 7515 §7.1):
// ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$. The signature may be empty: an
// unsecured JWS ("alg": "none") is still a JWS, and is answered "invalid". A byte scan
// rather than a regular expression: on a 3 KB token the regexp cost a tenth of a
// millisecond, a tenth of a whole verification (pprof, BenchmarkVerifyAPI).
func isCompactJWS(s string) bool {
	part, length := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if length == 0 || part == 2 {
				return false
			}
			part, length = part+1, 0
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			length++
		default:
			return false
		}
	}
	return part == 2
}

// verifiedCacheSize bounds the tokens remembered as checked (about 5 KB each with
// their payload and record: at most some 20 MB).
const verifiedCacheSize = 4096

// verifiedCache remembers tokens whose signature, header and claims Huddle has checked
// and that matched its record, by SHA-256 of the token: what never changes about a
// token (its bytes, Huddle's published keys, which stay published). Status is never
// cached: a hit still reads the record, so a revocation shows at once everywhere.
// It is bounded; when full, an arbitrary entry makes way.
type verifiedCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]verifiedToken
}

type verifiedToken struct {
	id      string
	payload json.RawMessage // the JWT's payload, as signed
	record  json.RawMessage // the credential as Huddle's record holds it (PostgreSQL's jsonb form)
}

func newVerifiedCache() *verifiedCache {
	return &verifiedCache{entries: make(map[[sha256.Size]byte]verifiedToken)}
}

func (c *verifiedCache) get(key [sha256.Size]byte) (verifiedToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.entries[key]
	return v, ok
}

func (c *verifiedCache) put(key [sha256.Size]byte, v verifiedToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= verifiedCacheSize {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = v
}

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
	if !isCompactJWS(token) {
		return nil, ErrNotJWS
	}
	digest := sha256.Sum256([]byte(token))
	if hit, ok := s.verified.get(digest); ok {
		c, same, err := s.recordOf(ctx, hit.id, token)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if err == nil && same {
			c.JWS, c.Credential = token, hit.record
			return s.verdict(c, hit.payload), nil
		}
		// The record is gone or changed: check everything again.
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
	s.verified.put(digest, verifiedToken{id: id, payload: payload, record: c.Credential})
	return s.verdict(c, payload), nil
}

// recordOf reads the record of a token already checked: every column but the token
// and credential themselves (the caller has both), and whether the record still holds
// exactly that token. A third of the bytes of a whole record, and no JSON to decode.
func (s *Service) recordOf(ctx context.Context, id, token string) (*Certificate, bool, error) {
	var c Certificate
	var same bool
	err := s.db.QueryRow(ctx, `
SELECT c.id::text, c.code, coalesce(c.activity_id, 0), coalesce(c.user_id, 0), c.subject_id::text,
    c.learner_name, c.registration_number, c.achievement_name, c.course_title, c.organisation,
    c.cpd_hours::float8, c.signatory_name, c.signatory_role, c.valid_from, c.valid_until, c.key_id,
    c.jws = $2, c.revoked_at, c.revoked_reason, coalesce(c.replaced_by::text, '')
FROM certificates c
WHERE c.id = $1`, id, token).Scan(&c.ID, &c.Code, &c.ActivityID, &c.UserID, &c.SubjectID, &c.LearnerName,
		&c.RegistrationNumber, &c.AchievementName, &c.CourseTitle, &c.Organisation, &c.CPDHours, &c.SignatoryName,
		&c.SignatoryRole, &c.ValidFrom, &c.ValidUntil, &c.KeyID, &same, &c.RevokedAt, &c.RevokedReason, &c.ReplacedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, ErrNotFound
	}
	if err != nil {
		return nil, false, fmt.Errorf("certificates: record %s: %w", id, err)
	}
	return &c, same, nil
}

// verdict is the status of a certificate whose token checked out, from its record now.
func (s *Service) verdict(c *Certificate, payload json.RawMessage) *Verification {
	now := s.now()
	v := &Verification{Status: c.StatusAt(now), Credential: payload, Certificate: c}
	v.Reason = c.Explain(v.Status)
	if v.Status == StatusValid && now.Before(c.ValidFrom) {
		v.Status, v.Reason = StatusInvalid, "The certificate is not valid yet."
	}
	return v
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
		return fmt.Sprintf("Revoked on %s: %s", c.RevokedAt.In(ukTime).Format("2 January 2006"), c.RevokedReason)
	case StatusExpired:
		return fmt.Sprintf("Expired on %s.", c.ValidUntil.In(ukTime).Format("2 January 2006"))
	case StatusValid:
		return ""
	}
	return ""
}
