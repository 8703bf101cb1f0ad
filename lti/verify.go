package lti

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

const (
	// DefaultLeeway absorbs clock drift between Moodle and Huddle when checking exp and
	// iat. Moodle id_tokens live only 60 s, so the leeway must stay small.
	DefaultLeeway = 5 * time.Second
	// DefaultMaxTokenAge is how long after its iat an id_token is accepted. Moodle's
	// expire after 60 s; other platforms may set exp hours ahead, and the age limit keeps
	// a captured token of theirs from being replayable that long.
	DefaultMaxTokenAge = 5 * time.Minute
	// MaxTokenSize bounds the id_token read before any parsing. Moodle's are about 4 KiB.
	MaxTokenSize = 64 << 10
	// maxIDLength is LTI Core's limit for sub (5.3.6) and resource_link.id (5.3.5).
	maxIDLength = 255
)

// Launch is a validated LTI message from a platform: the decoded claims plus the token's
// lifetime. From VerifyIDToken its Nonce must still be checked against the nonce stored
// with the login state (Security Framework 5.1.3 step 9), which VerifyIDToken cannot do;
// Launcher.Launch does, and sets Platform.
type Launch struct {
	Claims
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Platform is the registration the launch came through; set by Launcher.Launch.
	Platform Platform
	// RelayHash names the Deep Linking relay of the cookie-less frame whose login this
	// launch completes (relay.go); nil for most launches. Set by Launcher.Launch.
	RelayHash []byte
}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Keys supplies the platforms' public keys. Required.
	Keys *KeySet
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Leeway is the clock skew allowed on exp, iat and nbf; DefaultLeeway if zero.
	Leeway time.Duration
	// MaxTokenAge is how long after its iat an id_token is still accepted, whatever its
	// exp says; DefaultMaxTokenAge if zero. Leeway is added to it.
	MaxTokenAge time.Duration
}

// Verifier validates id_tokens posted by platforms to Huddle's launch endpoint.
type Verifier struct {
	headers headerCache
	rsaKeys rsaKeyCache
	keys    *KeySet
	now     func() time.Time
	leeway  time.Duration
	maxAge  time.Duration
}

// NewVerifier returns a Verifier. It panics if cfg.Keys is nil, a wiring mistake.
func NewVerifier(cfg VerifierConfig) *Verifier {
	if cfg.Keys == nil {
		panic("lti: NewVerifier needs a KeySet")
	}
	v := &Verifier{keys: cfg.Keys, now: cfg.Now, leeway: cfg.Leeway, maxAge: cfg.MaxTokenAge}
	if v.now == nil {
		v.now = time.Now
	}
	if v.leeway <= 0 {
		v.leeway = DefaultLeeway
	}
	if v.maxAge <= 0 {
		v.maxAge = DefaultMaxTokenAge
	}
	return v
}

// rs256 verifies RS256 signatures; it holds no state.
var rs256 = func() jws.Verifier {
	v, err := jws.NewVerifier(jwa.RS256)
	if err != nil {
		panic(fmt.Sprintf("lti: RS256 verifier: %v", err))
	}
	return v
}()

// parseProtectedHeader decodes a compact JWS's first segment with the JOSE library's
// own header type.
func parseProtectedHeader(seg string) (jws.Headers, error) {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil, fmt.Errorf("header is not base64url: %w", err)
	}
	h := jws.NewHeaders()
	if err := json.Unmarshal(raw, h); err != nil {
		return nil, fmt.Errorf("header is not a JOSE header: %w", err)
	}
	return h, nil
}

// bounded is a map that readers use without a lock: an add copies it, and a full one
// starts over. The Verifier's two caches are bounded ones, so nothing a platform or a
// forger sends can grow them.
type bounded[K comparable, V any] struct {
	m  atomic.Pointer[map[K]V]
	mu sync.Mutex // serialises adds
}

func (c *bounded[K, V]) get(k K) (V, bool) {
	m := c.m.Load()
	if m == nil {
		var zero V
		return zero, false
	}
	v, ok := (*m)[k]
	return v, ok
}

// add keeps v under k, starting over when the map already holds limit entries.
func (c *bounded[K, V]) add(k K, v V, limit int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := map[K]V{k: v}
	if old := c.m.Load(); old != nil && len(*old) < limit {
		for ek, ev := range *old {
			next[ek] = ev
		}
	}
	c.m.Store(&next)
}

// headerCache keeps the protected headers of tokens whose signature verified, by
// their encoded form. A platform signs every id_token with the same header (its alg,
// kid and typ), so nearly every launch finds its header here instead of decoding it
// again: that decoding, through the library's JSON decoder, was a sixth of the
// launch's token checks (pprof, BenchmarkVerifyIDToken). Only verified headers are
// added, so nobody without a platform's key can fill it.
type headerCache struct {
	bounded[string, jws.Headers]
}

// maxCachedHeaders bounds headerCache: a few platforms, each with a key or two in
// rotation, need a handful.
const maxCachedHeaders = 64

func (c *headerCache) add(seg string, h jws.Headers) { c.bounded.add(seg, h, maxCachedHeaders) }

// rsaKeyCache keeps the *rsa.PublicKey of each platform key the key set returned, by
// that jwk.Key. Given the JWK, the library's RS256 verifier copied it into a new public
// JWK and converted that at every launch: about 2 µs and 23 allocations of the token's
// checks (BenchmarkVerifyIDToken). The keys a KeySet returns are never changed, only
// replaced by a new fetch's.
type rsaKeyCache struct {
	bounded[jwk.Key, *rsa.PublicKey]
}

// maxCachedKeys bounds rsaKeyCache: a few platforms, each with a key or two in
// rotation, and a new fetch's keys beside the old until the cache starts over.
const maxCachedKeys = 64

// publicKey returns key's RSA public key, converting it the first time.
func (c *rsaKeyCache) publicKey(key jwk.Key) (*rsa.PublicKey, error) {
	if pub, ok := c.get(key); ok {
		return pub, nil
	}
	public, err := key.PublicKey()
	if err != nil {
		return nil, err
	}
	pub := &rsa.PublicKey{}
	if err := public.Raw(pub); err != nil {
		return nil, err
	}
	c.add(key, pub, maxCachedKeys)
	return pub, nil
}

// VerifyIDToken validates rawToken, the id_token a platform posted, as a message from p:
// the checks of Security Framework 5.1.3 and the required claims of LTI Core 5.3 and Deep
// Linking 2.0. Every rejection is a *LaunchError.
func (v *Verifier) VerifyIDToken(ctx context.Context, rawToken string, p Platform) (*Launch, error) {
	if p.Issuer == "" || p.ClientID == "" || p.JWKSURL == "" {
		return nil, launchError(CodePlatformNotConfigured, "platform has no issuer, client_id or JWKS URL", nil)
	}
	if len(rawToken) > MaxTokenSize {
		return nil, launchError(CodeTokenTooLarge, fmt.Sprintf("token is %d bytes, limit %d", len(rawToken), MaxTokenSize), nil)
	}
	rawToken = strings.TrimSpace(rawToken)
	// OpenID Connect Core 2: an ID Token is a JWS in compact serialization. Refusing the
	// JSON serialization up front keeps multi-signature messages out.
	if rawToken == "" || strings.Count(rawToken, ".") != 2 {
		return nil, launchError(CodeMalformedToken, "not a compact JWS", nil)
	}
	// RFC 7515 §7.1: the three segments are the header, the payload and the signature,
	// each base64url. The JOSE library still decodes the header and checks the
	// signature; jws.Parse is not used because it would decode the header at every
	// launch, which headerCache spares.
	headerSeg, rest, _ := strings.Cut(rawToken, ".")
	payloadSeg, sigSeg, _ := strings.Cut(rest, ".")
	header, cached := v.headers.get(headerSeg)
	if !cached {
		var err error
		if header, err = parseProtectedHeader(headerSeg); err != nil {
			return nil, launchError(CodeMalformedToken, "cannot parse JWS header", err)
		}
	}
	// RFC 7515 §4.1.11: a "crit" extension the recipient does not understand must be
	// rejected, and Huddle understands none.
	if len(header.Critical()) > 0 {
		return nil, launchError(CodeMalformedToken, "unsupported crit header", nil)
	}
	// RFC 7797 §3 lets "b64": false leave the payload unencoded, but only as a "crit"
	// extension; a header that sets it without saying so is not one Huddle can read.
	if b64, ok := header.Get("b64"); ok && b64 != true {
		return nil, launchError(CodeMalformedToken, "unsupported b64 header", nil)
	}

	// Security Framework 5.1.3 step 6: platforms sign with RS256. Checking the
	// header first rejects "none" and every HMAC algorithm, so a token "signed" with the
	// platform's public key as an HMAC secret never reaches a verifier.
	if alg := header.Algorithm(); alg != jwa.RS256 {
		return nil, launchError(CodeBadAlgorithm, fmt.Sprintf("alg %q is not RS256", alg.String()), nil)
	}

	// Claims are trusted only after the signature verifies, but iss and aud are compared
	// now so that a token meant for another platform or tool never triggers a key fetch.
	payload, err := base64.RawURLEncoding.DecodeString(payloadSeg)
	if err != nil {
		return nil, launchError(CodeMalformedToken, "payload is not base64url", err)
	}
	set, err := decodeClaimsSet(payload)
	if err != nil {
		return nil, launchError(CodeMalformedToken, "payload is not a JSON claims set", err)
	}
	tok := set.registered
	if lerr := checkIssuerAudience(tok, p); lerr != nil {
		return nil, lerr
	}

	// Security Framework "Key Set URL": the kid names the platform key to use.
	kid := header.KeyID()
	if kid == "" {
		return nil, launchError(CodeUnknownKey, "token header has no kid", nil)
	}
	key, err := v.keys.Key(ctx, p.JWKSURL, kid)
	if err != nil {
		if errors.Is(err, ErrKeyNotFound) {
			return nil, launchError(CodeUnknownKey, "kid not in platform key set", err)
		}
		return nil, launchError(CodeKeysUnavailable, "cannot fetch platform key set", err)
	}
	if key.KeyType() != jwa.RSA {
		return nil, launchError(CodeBadAlgorithm, fmt.Sprintf("key %q is %s, not RSA", kid, key.KeyType()), nil)
	}
	// RFC 7517 §4.4: when the JWK names an algorithm, the token must use that one.
	if ka := key.Algorithm(); ka != nil && ka.String() != "" && ka.String() != jwa.RS256.String() {
		return nil, launchError(CodeBadAlgorithm, fmt.Sprintf("key %q is for %s, not RS256", kid, ka.String()), nil)
	}
	// RFC 7515 §5.2: the signature is over the compact form's first two segments as
	// sent, which the library's RS256 verifier checks directly.
	sig, err := base64.RawURLEncoding.DecodeString(sigSeg)
	if err != nil {
		return nil, launchError(CodeMalformedToken, "signature is not base64url", err)
	}
	pub, err := v.rsaKeys.publicKey(key)
	if err != nil {
		return nil, launchError(CodeBadAlgorithm, fmt.Sprintf("key %q is not a usable RSA public key", kid), err)
	}
	if err := rs256.Verify([]byte(rawToken[:len(headerSeg)+1+len(payloadSeg)]), sig, pub); err != nil {
		return nil, launchError(CodeBadSignature, "RS256 signature does not verify", err)
	}
	if !cached {
		v.headers.add(headerSeg, header)
	}
	// The claims decoded above are now verified.
	if lerr := v.checkTimes(tok); lerr != nil {
		return nil, lerr
	}
	if set.typeErr != nil {
		return nil, launchError(CodeInvalidClaim, "a claim has the wrong JSON type", set.typeErr)
	}
	c := set.Claims
	// Security Framework 5.1.3 steps 4 and 5 (OpenID Connect Core 3.1.3.7): with several
	// audiences azp is required, and when present it must be Huddle's client_id.
	if len(tok.Audience()) > 1 && c.AuthorizedParty == "" {
		return nil, launchError(CodeBadAZP, "several audiences but no azp", nil)
	}
	if c.AuthorizedParty != "" && c.AuthorizedParty != p.ClientID {
		return nil, launchError(CodeBadAZP, "azp is not our client_id", nil)
	}
	if lerr := checkLTIClaims(&c, p); lerr != nil {
		return nil, lerr
	}
	return &Launch{Claims: c, IssuedAt: tok.IssuedAt(), ExpiresAt: tok.Expiration()}, nil
}

// checkIssuerAudience applies Security Framework 5.1.3 steps 2 and 3.
func checkIssuerAudience(tok jwt.Token, p Platform) *LaunchError {
	if tok.Issuer() != p.Issuer {
		return launchError(CodeBadIssuer, "iss is not the platform's issuer", nil)
	}
	for _, aud := range tok.Audience() {
		if aud == p.ClientID {
			return nil
		}
	}
	return launchError(CodeBadAudience, "aud does not contain our client_id", nil)
}

// checkTimes applies Security Framework 5.1.3 steps 7 and 8 with the injected clock:
// exp and iat are required, exp must not have passed and iat (and nbf, if sent) must not
// be in the future, each within the leeway. OpenID Connect Core 3.1.3.7 step 10 lets
// the relying party also refuse tokens issued too far in the past, whatever their exp:
// iat must be within the maximum age.
func (v *Verifier) checkTimes(tok jwt.Token) *LaunchError {
	now := v.now()
	err := jwt.Validate(tok,
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })),
		jwt.WithAcceptableSkew(v.leeway),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
	)
	switch {
	case err == nil:
		// The age is checked only once Validate passed, so a token both expired and too
		// old is reported as expired: the plainer reason, with the same remedy.
		if age := now.Sub(tok.IssuedAt()); age > v.maxAge+v.leeway {
			return launchError(CodeTokenTooOld, fmt.Sprintf("iat is %s old, limit %s", age.Truncate(time.Second), v.maxAge), nil)
		}
		return nil
	case errors.Is(err, jwt.ErrTokenExpired()):
		return launchError(CodeTokenExpired, "exp has passed", err)
	case errors.Is(err, jwt.ErrInvalidIssuedAt()):
		return launchError(CodeTokenNotYetValid, "iat is in the future", err)
	case errors.Is(err, jwt.ErrTokenNotYetValid()):
		return launchError(CodeTokenNotYetValid, "nbf is in the future", err)
	case errors.Is(err, jwt.ErrRequiredClaim()):
		return launchError(CodeMissingClaim, "exp or iat missing", err)
	default:
		return launchError(CodeInvalidClaim, "time claims do not validate", err)
	}
}

// checkLTIClaims applies the message rules of LTI Core 5.3 and Deep Linking 2.0.
func checkLTIClaims(c *Claims, p Platform) *LaunchError {
	// Security Framework 5.1.3 step 9: the nonce must be present; the caller compares it
	// with the one it stored.
	if c.Nonce == "" {
		return launchError(CodeMissingClaim, "nonce", nil)
	}
	// LTI Core 5.3.2.
	if c.Version == "" {
		return launchError(CodeMissingClaim, "version", nil)
	}
	if c.Version != LTIVersion {
		return launchError(CodeBadVersion, fmt.Sprintf("version %q", c.Version), nil)
	}
	// LTI Core 5.3.1.
	switch c.MessageType {
	case "":
		return launchError(CodeMissingClaim, "message_type", nil)
	case MessageResourceLink, MessageDeepLinkingRequest:
	default:
		return launchError(CodeUnsupportedMessageType, fmt.Sprintf("message_type %q", c.MessageType), nil)
	}
	// LTI Core 5.3.3: the deployment must be one registered for this platform.
	if c.DeploymentID == "" {
		return launchError(CodeMissingClaim, "deployment_id", nil)
	}
	if !p.HasDeployment(c.DeploymentID) {
		return launchError(CodeUnknownDeployment, "deployment_id not registered for the platform", nil)
	}
	// LTI Core 5.3.6 lets a platform launch anonymously without sub; Huddle needs to know
	// who is speaking, so it requires sub.
	if c.Subject == "" {
		return launchError(CodeMissingClaim, "sub", nil)
	}
	if len(c.Subject) > maxIDLength {
		return launchError(CodeInvalidClaim, "sub longer than 255 characters", nil)
	}
	// LTI Core 5.3.7: roles is required but may be an empty array.
	if c.Roles == nil {
		return launchError(CodeMissingClaim, "roles", nil)
	}
	// LTI Core 5.3.4; Moodle sends it for deep linking requests too.
	if c.TargetLinkURI == "" {
		return launchError(CodeMissingClaim, "target_link_uri", nil)
	}

	switch c.MessageType {
	case MessageResourceLink:
		// LTI Core 5.3.5.
		if c.ResourceLink == nil || c.ResourceLink.ID == "" {
			return launchError(CodeMissingClaim, "resource_link.id", nil)
		}
		if len(c.ResourceLink.ID) > maxIDLength {
			return launchError(CodeInvalidClaim, "resource_link.id longer than 255 characters", nil)
		}
	case MessageDeepLinkingRequest:
		// Deep Linking 2.0, deep linking settings: deep_link_return_url is required, and
		// Huddle will post its response there, so it must be an absolute http(s) URL.
		if c.DeepLinking == nil || c.DeepLinking.DeepLinkReturnURL == "" {
			return launchError(CodeMissingClaim, "deep_linking_settings.deep_link_return_url", nil)
		}
		u, err := url.Parse(c.DeepLinking.DeepLinkReturnURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return launchError(CodeInvalidClaim, "deep_link_return_url is not an absolute http(s) URL", nil)
		}
	}
	return nil
}
