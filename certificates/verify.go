package certificates

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
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
		if base64URL[s[i]] {
			length++
			continue
		}
		if s[i] != '.' || length == 0 || part == 2 {
			return false
		}
		part, length = part+1, 0
	}
	return part == 2
}

// base64URL marks the bytes of the base64url alphabet (RFC 4648 §5): a table lookup
// per byte instead of five comparisons.
var base64URL = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// The caches below make a repeated verification cost no RSA and no PostgreSQL (issue
// 15: 5,000 verifications a second on two cores). Each is bounded in size and what
// can change (the record: revocation, expiry, erasure) is bounded in time, so every
// instance agrees with PostgreSQL within recordTTL and no instance's memory decides
// anything the others would not.

// verifiedCacheSize bounds the tokens remembered as checked (about 5 KB each with
// their payload and record: at most some 20 MB).
const verifiedCacheSize = 4096

// recordCacheSize bounds the records remembered (about 1 KB each without the token
// and credential: some 4 MB).
const recordCacheSize = 4096

// RecordTTL is how long an instance answers from a certificate record it read,
// rather than reading it again. A revocation, an expiry set by hand or an erased name
// made on another instance shows on this one within RecordTTL; on the instance that
// made it, at once. Issue 15 allows 60 seconds.
const RecordTTL = 10 * time.Second

// verifiedCache remembers tokens whose signature, header and claims Huddle has checked
// and that matched its record, by SHA-256 of the token: what never changes about a
// token (its bytes, Huddle's published keys, which stay published). It also remembers
// each record read for verification, by certificate id (and its code), for RecordTTL.
// When a map is full, an arbitrary entry makes way.
type verifiedCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]verifiedToken
	records map[string]cachedRecord // by certificate id
	codes   map[string]string       // verification code to certificate id, for records
}

type verifiedToken struct {
	id      string
	payload json.RawMessage // the JWT's payload, as signed
	record  json.RawMessage // the credential as Huddle's record holds it (PostgreSQL's jsonb form)
}

// cachedRecord is a certificate's record as read at read, without its token and
// credential (token is the SHA-256 of the token it held).
type cachedRecord struct {
	cert  Certificate
	token [sha256.Size]byte
	read  time.Time
}

func newVerifiedCache() *verifiedCache {
	return &verifiedCache{entries: make(map[[sha256.Size]byte]verifiedToken),
		records: make(map[string]cachedRecord), codes: make(map[string]string)}
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

// fresh reports whether a record read at read may still be answered from at now. A
// clock that went back counts as stale.
func fresh(read, now time.Time) bool {
	age := now.Sub(read)
	return age >= 0 && age < RecordTTL
}

// record returns a copy of the record of certificate id, if one read within RecordTTL
// of now is remembered.
func (c *verifiedCache) record(id string, now time.Time) (cachedRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.records[id]
	if !ok || !fresh(r.read, now) {
		return cachedRecord{}, false
	}
	return r, true
}

// recordByCode is record for a verification code.
func (c *verifiedCache) recordByCode(code string, now time.Time) (cachedRecord, bool) {
	c.mu.Lock()
	id, ok := c.codes[code]
	c.mu.Unlock()
	if !ok {
		return cachedRecord{}, false
	}
	return c.record(id, now)
}

// putRecord remembers cert (without its token and credential), read at read, as
// holding the token with SHA-256 token.
func (c *verifiedCache) putRecord(cert *Certificate, token [sha256.Size]byte, read time.Time) {
	r := cachedRecord{cert: *cert, token: token, read: read}
	r.cert.JWS, r.cert.Credential = "", nil
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.records[cert.ID]; !ok && len(c.records) >= recordCacheSize {
		c.evictRecord()
	}
	if old, ok := c.records[cert.ID]; ok && old.cert.Code != cert.Code {
		delete(c.codes, old.cert.Code)
	}
	c.records[cert.ID] = r
	c.codes[cert.Code] = cert.ID
}

// evictRecord drops an arbitrary record (map order).
func (c *verifiedCache) evictRecord() {
	for id := range c.records {
		c.dropRecord(id)
		return
	}
}

func (c *verifiedCache) dropRecord(id string) {
	if r, ok := c.records[id]; ok {
		delete(c.codes, r.cert.Code)
		delete(c.records, id)
	}
}

// forget drops the records of the certificates with these ids, so this instance sees
// its own revocation or re-issue at once.
func (c *verifiedCache) forget(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		c.dropRecord(id)
	}
}

// forgetUser drops the records of a person's certificates (erasure).
func (c *verifiedCache) forgetUser(userID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, r := range c.records {
		if r.cert.UserID == userID {
			c.dropRecord(id)
		}
	}
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
	// Read is when this instance read the record (VerifyCode): two answers with the
	// same Read and Status show the same thing, so a page made from one serves both.
	Read time.Time
}

// Verify checks a compact JWS as Huddle issues certificates: the header, the key
// (one Huddle published), the RS256 signature, the claims against the credential,
// and then Huddle's record of it (revoked, expired). A token checked before is not
// checked again, and its record is read at most once per RecordTTL, so a revocation
// made on another instance shows here within RecordTTL. It returns ErrNotJWS only
// when token has not even the shape of a JWS; every other defect is a Verification
// with StatusInvalid.
func (s *Service) Verify(ctx context.Context, token string) (*Verification, error) {
	token = strings.TrimSpace(token)
	if !isCompactJWS(token) {
		return nil, ErrNotJWS
	}
	digest := sha256.Sum256([]byte(token))
	if hit, ok := s.verified.get(digest); ok {
		now := s.now()
		if r, ok := s.verified.record(hit.id, now); ok && r.token == digest {
			c := r.cert
			c.JWS, c.Credential = token, hit.record
			return s.verdict(&c, hit.payload), nil
		}
		c, same, err := s.recordOf(ctx, hit.id, digest, false)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if err == nil && same {
			s.verified.putRecord(c, digest, now)
			c.JWS, c.Credential = token, hit.record
			return s.verdict(c, hit.payload), nil
		}
		// The record is gone or changed: check everything again.
	}
	// A token byte for byte the one Huddle stored when it issued the certificate is the
	// token Huddle signed: its signature and claims are Huddle's own, so checking them
	// again would only repeat what the record already proves, at the cost of an RS256
	// check (most of a first verification's CPU). Its header is still checked, so a
	// token whose key Huddle no longer publishes is refused as before. Anything else
	// (a changed, foreign or superseded token) is checked in full below, with the
	// record read here.
	pre, err := s.readAsStored(ctx, token, digest)
	if err != nil {
		return nil, err
	}
	if pre.stored {
		pre.cert.JWS = token
		s.verified.put(digest, verifiedToken{id: pre.id, payload: pre.payload, record: pre.cert.Credential})
		s.verified.putRecord(pre.cert, digest, s.now())
		return s.verdict(pre.cert, pre.payload), nil
	}
	invalid := func(reason string) (*Verification, error) {
		return &Verification{Status: StatusInvalid, Reason: reason}, nil
	}
	// One parse: jws.Verify parses the compact form, hands the parsed header to the
	// key provider (which checks it and picks the key its kid names), and checks the
	// signature. The algorithm is fixed by the verifier, never taken from the token.
	var reason string
	var keyErr error
	parsed := false
	provider := jws.KeyProviderFunc(func(ctx context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
		parsed = true
		key, why, err := s.headerKey(ctx, sig.ProtectedHeaders())
		if why != "" || err != nil {
			reason, keyErr = why, err
			return errRefusedHeader
		}
		sink.Key(jwa.RS256, key)
		return nil
	})
	payload, err := jws.Verify([]byte(token), jws.WithKeyProvider(provider), jws.WithContext(ctx))
	switch {
	case keyErr != nil:
		return nil, keyErr
	case reason != "":
		return invalid(reason)
	case err != nil && !parsed:
		return invalid("The certificate is damaged: its parts do not decode.")
	case err != nil:
		return invalid("The signature does not match: the certificate was changed after Huddle signed it, or someone else signed it.")
	}
	var body verifiedClaims
	if err := json.Unmarshal(payload, &body); err != nil {
		return invalid("The certificate's contents cannot be read.")
	}
	if reason := claimsMismatch(&body); reason != "" {
		return invalid(reason)
	}
	id, ok := strings.CutPrefix(body.ID, "urn:uuid:")
	if !ok {
		return invalid("The certificate's id is not one Huddle writes.")
	}
	if _, err := uuid.Parse(id); err != nil {
		return unknownCertificate(payload), nil
	}
	if pre.id != id || !pre.read {
		// The signed payload names another record than the one read unverified (it
		// cannot, as both come from the same bytes, unless that read was skipped).
		pre.cert, _, err = s.recordOf(ctx, id, digest, true)
		pre.missing = errors.Is(err, ErrNotFound)
		if err != nil && !pre.missing {
			return nil, err
		}
	}
	if pre.missing {
		return unknownCertificate(payload), nil
	}
	// Signed by Huddle's key yet not what Huddle issued under this id (a token the
	// record holds would have been answered above).
	return invalid("The certificate does not match Huddle's record of it.")
}

// asStored is what readAsStored found of a token before its signature is checked.
type asStored struct {
	id      string          // the certificate id its payload names, if it names one
	payload json.RawMessage // its payload, unverified
	read    bool            // whether the record of id was read
	missing bool            // read, and Huddle has no such record
	cert    *Certificate    // the record, with its credential, when read and found
	stored  bool            // the record holds exactly this token, and its header is as Huddle writes it
}

// readAsStored parses token (whose SHA-256 is digest) without checking its
// signature, reads the record its payload names and reports whether that record holds
// exactly this token, whose header names a key Huddle still publishes. A token that
// does not parse, or names no certificate id, is left to Verify's full check, which
// says what is wrong with it.
func (s *Service) readAsStored(ctx context.Context, token string, digest [sha256.Size]byte) (asStored, error) {
	var a asStored
	msg, err := jws.Parse([]byte(token))
	if err != nil || len(msg.Signatures()) != 1 {
		return a, nil
	}
	a.payload = msg.Payload()
	var body struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(a.payload, &body) != nil {
		return a, nil
	}
	id, ok := strings.CutPrefix(body.ID, "urn:uuid:")
	if _, err := uuid.Parse(id); !ok || err != nil {
		return a, nil
	}
	a.id = id
	c, same, err := s.recordOf(ctx, id, digest, true)
	a.read, a.missing = true, errors.Is(err, ErrNotFound)
	if err != nil && !a.missing {
		return a, err
	}
	a.cert = c
	if !same {
		return a, nil
	}
	_, why, err := s.headerKey(ctx, msg.Signatures()[0].ProtectedHeaders())
	if err != nil {
		return a, err
	}
	a.stored = why == ""
	return a, nil
}

func unknownCertificate(payload json.RawMessage) *Verification {
	return &Verification{Status: StatusUnknown, Credential: payload,
		Reason: "The signature is Huddle's, but Huddle has no record of this certificate."}
}

// errRefusedHeader stops jws.Verify when the key provider refused a token's header;
// the provider has said why.
var errRefusedHeader = errors.New("certificates: header refused")

// refusedHeader is every JOSE header parameter jws knows that Huddle never writes
// (OB 3.0 §8.2.4.1 asks for alg, kid and typ only). A token carrying any of them, or
// any parameter jws does not know (b64 among them), was not issued by Huddle, and
// some of them change how the signature would be checked. Asked one by one rather than
// through Headers.AsMap, which copied the whole header into a new map per token.
var refusedHeader = []string{jws.ContentTypeKey, jws.CriticalKey, jws.JWKKey, jws.JWKSetURLKey,
	jws.X509CertChainKey, jws.X509CertThumbprintKey, jws.X509CertThumbprintS256Key, jws.X509URLKey}

// headerKey checks a token's protected header as Huddle writes it and returns the
// published key its kid names, or why the token is invalid, or an error reading keys.
func (s *Service) headerKey(ctx context.Context, hdr jws.Headers) (*rsa.PublicKey, string, error) {
	for _, name := range refusedHeader {
		if _, ok := hdr.Get(name); ok {
			return nil, "The certificate's header carries a field Huddle never writes.", nil
		}
	}
	if len(hdr.PrivateParams()) != 0 { // hdr is this call's own parse: no one else reads it
		return nil, "The certificate's header carries a field Huddle never writes.", nil
	}
	if hdr.Algorithm() != jwa.RS256 {
		return nil, "The certificate is not signed with the algorithm Huddle uses (RS256).", nil
	}
	if hdr.Type() != JWTType {
		return nil, "The certificate's header does not say it is a verifiable credential.", nil
	}
	pub, err := s.keys.publicKey(ctx, hdr.KeyID())
	if errors.Is(err, ErrUnknownKey) {
		return nil, "The certificate names a signing key Huddle never published.", nil
	}
	if err != nil {
		return nil, "", err
	}
	return pub, "", nil
}

// verifiedClaims is what Verify reads of a verified payload: the registered claims
// and the credential fields they mirror (OB 3.0 §8.2.4.2), and nothing else, so the
// achievement and identifiers are scanned past rather than copied.
type verifiedClaims struct {
	ID     string `json:"id"`
	Issuer struct {
		ID string `json:"id"`
	} `json:"issuer"`
	ValidFrom         string `json:"validFrom"`
	ValidUntil        string `json:"validUntil"`
	CredentialSubject struct {
		ID string `json:"id"`
	} `json:"credentialSubject"`
	JWTClaims
}

// recordOf reads the record of certificate id, in a batch with the reads waiting
// (records.go): every column but the token itself, whether the record holds exactly
// the token whose SHA-256 is digest (compared in PostgreSQL with the digest it keeps,
// migrations/00047, so the 3 KB token goes neither way), and the credential when
// withCredential (the caller of a token already checked has it). The credential is
// read as bytes, not through encoding/json: PostgreSQL wrote it as valid JSON.
func (s *Service) recordOf(ctx context.Context, id string, digest [sha256.Size]byte, withCredential bool) (*Certificate, bool, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return nil, false, ErrNotFound
	}
	a, err := s.records.Do(ctx, recordQuestion{id: u, digest: digest, withCredential: withCredential})
	if err != nil {
		return nil, false, fmt.Errorf("certificates: record %s: %w", id, err)
	}
	if !a.found {
		return nil, false, ErrNotFound
	}
	return &a.cert, a.same, nil
}

// recordByCode reads the record of the certificate with a verification code, in a
// batch with the reads waiting (records.go), without its token and credential (the
// public page shows neither): the SHA-256 of the token, which the record cache keys
// on, is the one PostgreSQL keeps (migrations/00047), so the 6 KB of token and
// credential are not sent, and no JSON is decoded.
func (s *Service) recordByCode(ctx context.Context, code string) (*Certificate, [sha256.Size]byte, error) {
	a, err := s.records.Do(ctx, recordQuestion{code: code})
	if err != nil {
		return nil, a.digest, err
	}
	if !a.found {
		return nil, a.digest, ErrNotFound
	}
	return &a.cert, a.digest, nil
}

// recordFields are where a certificate record's columns, but its token and
// credential, are scanned, in the order certificate_records (migrations/00050)
// returns them.
func (c *Certificate) recordFields() []any {
	return []any{&c.ID, &c.Code, &c.ActivityID, &c.UserID, &c.SubjectID, &c.LearnerName, &c.RegistrationNumber,
		&c.AchievementName, &c.CourseTitle, &c.Organisation, &c.CPDHours, &c.SignatoryName, &c.SignatoryRole,
		&c.ValidFrom, &c.ValidUntil, &c.KeyID, &c.RevokedAt, &c.RevokedReason, &c.ReplacedBy}
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
func claimsMismatch(c *verifiedClaims) string {
	j := &c.JWTClaims
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

// VerifyCode is the certificate with a verification code, as a person typed it, and
// its status now, for the public page: the Certificate without its token and
// credential. Like Verify it reads the record at most once per RecordTTL. It returns
// ErrNotFound when no certificate has the code.
func (s *Service) VerifyCode(ctx context.Context, code string) (*Verification, error) {
	code = NormaliseCode(code)
	if code == "" {
		return nil, ErrNotFound
	}
	now := s.now()
	var c *Certificate
	read := now
	if r, ok := s.verified.recordByCode(code, now); ok {
		c, read = &r.cert, r.read
	} else {
		rec, digest, err := s.recordByCode(ctx, code)
		if err != nil {
			return nil, fmt.Errorf("certificates: verify code: %w", err)
		}
		s.verified.putRecord(rec, digest, now)
		c = rec
	}
	st := c.StatusAt(now)
	return &Verification{Status: st, Reason: c.Explain(st), Certificate: c, Read: read}, nil
}
