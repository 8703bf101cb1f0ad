// Package certificates issues, signs and verifies Huddle's certificates: Open Badges
// 3.0 OpenBadgeCredentials secured as VC-JWTs with Huddle's own issuing keys, what
// each certificate activity requires, the revocation list Huddle publishes, and the
// PDF a learner takes to appraisal.
package certificates

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	_ "time/tzdata" // Europe/London without relying on the machine's zone files
)

// JSON-LD contexts of an OB 3.0 credential under the VC Data Model 2.0 (OB 3.0 §8,
// "@context": the VC 2.0 context first, then the OB 3.0 context).
const (
	ContextVC2  = "https://www.w3.org/ns/credentials/v2"
	ContextOB30 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
)

// RevocationListType is the credentialStatus type OB 3.0 defines for an issuer's
// list of revoked credentials (OB 3.0 "1EdTech Revocation List Status Method").
const RevocationListType = "1EdTechRevocationList"

// RevocationListPath is where Huddle publishes it.
const RevocationListPath = "/certificates/revocations"

// JWTType is the JOSE typ of a VC secured with JOSE (VC-JOSE-COSE §3.1.1, the
// application/vc+jwt media type).
const JWTType = "vc+jwt"

// Credential is an OpenBadgeCredential (OB 3.0 §B.1.1 AchievementCredential) in its
// VC Data Model 2.0 form. Secured as a VC-JWT its JSON is the JWT payload itself,
// with the registered claims beside it (JWTClaims).
type Credential struct {
	Context           []string           `json:"@context"`
	ID                string             `json:"id"`
	Type              []string           `json:"type"`
	Name              string             `json:"name"`
	Description       string             `json:"description,omitempty"`
	Issuer            Profile            `json:"issuer"`
	ValidFrom         string             `json:"validFrom"`
	ValidUntil        string             `json:"validUntil,omitempty"`
	CredentialSubject AchievementSubject `json:"credentialSubject"`
	CredentialStatus  *CredentialStatus  `json:"credentialStatus,omitempty"`
}

// Profile is the issuer (OB 3.0 §B.2.7).
type Profile struct {
	ID   string   `json:"id"`
	Type []string `json:"type"`
	Name string   `json:"name"`
	URL  string   `json:"url,omitempty"`
}

// AchievementSubject is the learner (OB 3.0 §B.1.2). ID is an opaque urn:uuid, the
// JWT sub; the learner is named only by a salted hash of their email (Identifier).
type AchievementSubject struct {
	ID            string           `json:"id"`
	Type          []string         `json:"type"`
	Identifier    []IdentityObject `json:"identifier,omitempty"`
	Achievement   Achievement      `json:"achievement"`
	CreditsEarned float64          `json:"creditsEarned"`
}

// IdentityObject identifies the recipient (OB 3.0 §B.1.4): here "emailAddress",
// hashed with a salt per certificate so two certificates cannot be linked by it.
type IdentityObject struct {
	Type         string `json:"type"`
	Hashed       bool   `json:"hashed"`
	IdentityHash string `json:"identityHash"`
	IdentityType string `json:"identityType"`
	Salt         string `json:"salt"`
}

// Achievement is what was certified (OB 3.0 §B.1.3).
type Achievement struct {
	ID               string   `json:"id"`
	Type             []string `json:"type"`
	AchievementType  string   `json:"achievementType,omitempty"`
	Name             string   `json:"name"`
	Description      string   `json:"description"`
	Criteria         Criteria `json:"criteria"`
	CreditsAvailable float64  `json:"creditsAvailable"`
}

// Criteria says what earns the achievement.
type Criteria struct {
	Narrative string `json:"narrative"`
}

// CredentialStatus points at the revocation list (OB 3.0 §B.1.6).
type CredentialStatus struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// JWTClaims are the registered claims of a VC-JWT (OB 3.0 §8.2.4.2, under the VC
// Data Model 2.0): iss is the issuer's id, jti the credential's id, sub the
// subject's id, nbf and exp mirror validFrom and validUntil. There is no "vc" claim:
// that wrapper belonged to the VC 1.1 form.
type JWTClaims struct {
	Issuer    string `json:"iss"`
	JTI       string `json:"jti"`
	Subject   string `json:"sub"`
	NotBefore int64  `json:"nbf"`
	Expires   int64  `json:"exp,omitempty"`
}

// hashEmail is an OB 3.0 IdentityHash: "sha256$" and the hex SHA-256 of the email
// (trimmed and lower-cased, as people type it in any case) followed by the salt.
func hashEmail(email, salt string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email)) + salt))
	return "sha256$" + hex.EncodeToString(sum[:])
}

// rfc3339 formats a credential date: UTC, whole seconds (VC DM 2.0 dateTimeStamp).
func rfc3339(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// ukTime is the calendar certificates are dated by, on the PDF and the verification
// page: an issue at 00:30 on a summer night is that day, not the UTC day before.
var ukTime = func() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return l
}()
