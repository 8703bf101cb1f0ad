package devplatform

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/huddle-lti/huddle/lti"
)

const (
	// accessTokenLifetime is Moodle's LTI_ACCESS_TOKEN_LIFE: expires_in 3600.
	accessTokenLifetime = time.Hour
	// assertionLeeway absorbs clock drift on the client assertion's exp, iat and nbf.
	assertionLeeway = 5 * time.Second
	// maxTokenRequestBytes bounds a token request; Huddle's is about 1 KiB.
	maxTokenRequestBytes = 64 << 10

	clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// accessToken is an access token the platform issued, kept as Moodle keeps its
// lti_access_tokens rows.
type accessToken struct {
	clientID string
	scopes   []string
	expires  time.Time
}

// tokenRefusal is why the token endpoint refused. code is what goes in "error": an RFC
// 6749 code or, as Moodle does, the text of the JWT library's exception. detail is
// logged, and sent as error_description for the refusals where this platform is stricter
// than Moodle 4.5, so a developer can tell why a request real Moodle takes was refused.
type tokenRefusal struct {
	code   string
	detail string
	strict bool
}

// token is the OAuth 2 token endpoint (Security Framework 4.1; Moodle's
// mod/lti/token.php): the client credentials grant with a JWT client assertion (RFC 7523)
// signed by a key from the tool's JWKS. It checks what token.php checks, in the same
// order and with the same answers (fixtures lti/02 029-040, lti/10 075-095), and also
// what Moodle 4.5 does not check but the Security Framework asks for: iss is the
// client_id, aud is this endpoint, and a jti is used once.
func (p *Platform) token(w http.ResponseWriter, r *http.Request) {
	if p.Offline() {
		p.unavailable(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequestBytes)
	tok, scopes, refusal := p.grantToken(r)
	p.secret("client_assertion", r.Form.Get("client_assertion"))
	p.secret("access_token", tok)
	if refusal != nil {
		p.log.Info("devplatform: token refused", "error", refusal.code, "detail", refusal.detail)
		body := "{\n  \"error\" : " + jsonString(refusal.code)
		if refusal.strict {
			body += ",\n  \"error_description\" : " + jsonString(refusal.detail)
		}
		writeMoodleTokenBody(w, http.StatusBadRequest, body+"\n}")
		return
	}
	p.log.Info("devplatform: access token issued", "scopes", scopes)
	writeMoodleTokenBody(w, http.StatusOK, fmt.Sprintf(
		"{\n  \"access_token\" : %s,\n  \"token_type\" : \"Bearer\",\n  \"expires_in\" : %d,\n  \"scope\" : %s\n}",
		jsonString(tok), int(accessTokenLifetime/time.Second), jsonString(strings.Join(scopes, " "))))
}

// writeMoodleTokenBody writes token.php's answer, which Moodle labels text/html.
func writeMoodleTokenBody(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// grantToken checks a token request and issues an access token with the granted scopes.
func (p *Platform) grantToken(r *http.Request) (string, []string, *tokenRefusal) {
	// token.php: a POST of application/x-www-form-urlencoded (parameters after ";"
	// ignored) with all four parameters, else invalid_request (lti/10 078).
	contentType, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	if strings.TrimSpace(contentType) != "application/x-www-form-urlencoded" {
		return "", nil, &tokenRefusal{code: "invalid_request", detail: "Content-Type is not application/x-www-form-urlencoded"}
	}
	if err := r.ParseForm(); err != nil {
		return "", nil, &tokenRefusal{code: "invalid_request", detail: "the form cannot be read: " + err.Error()}
	}
	assertion, assertionType := r.Form.Get("client_assertion"), r.Form.Get("client_assertion_type")
	grantType, scope := r.Form.Get("grant_type"), r.Form.Get("scope")
	if assertion == "" || assertionType == "" || grantType == "" || scope == "" {
		return "", nil, &tokenRefusal{code: "invalid_request",
			detail: "client_assertion, client_assertion_type, grant_type and scope are all required"}
	}
	if assertionType != clientAssertionType || grantType != "client_credentials" {
		return "", nil, &tokenRefusal{code: "unsupported_grant_type",
			detail: "only grant_type client_credentials with a jwt-bearer client assertion"}
	}
	// Moodle finds the tool by the assertion's sub before it looks at the signature.
	sub, err := assertionSubject(assertion)
	if err != nil {
		return "", nil, &tokenRefusal{code: "invalid_request", detail: err.Error()}
	}
	if sub != p.cfg.ClientID {
		return "", nil, &tokenRefusal{code: "invalid_client", detail: fmt.Sprintf("no tool has client_id %q", sub)}
	}
	if refusal := p.verifyAssertion(r.Context(), assertion); refusal != nil {
		return "", nil, refusal
	}
	// Moodle grants the requested scopes the tool type permits, in the requested order.
	var granted []string
	for _, s := range strings.Split(scope, " ") {
		if slices.Contains(agsScopes, s) && !slices.Contains(granted, s) {
			granted = append(granted, s)
		}
	}
	if len(granted) == 0 {
		return "", nil, &tokenRefusal{code: "invalid_scope",
			detail: "none of the requested scopes is permitted; this platform offers only the AGS scopes " +
				"(Names and Role Provisioning Services are not implemented)"}
	}
	tok, err := randomHex(16) // Moodle's are 32 hex digits
	if err != nil {
		return "", nil, &tokenRefusal{code: "server_error", detail: err.Error()}
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for t, at := range p.tokens {
		if !now.Before(at.expires) {
			delete(p.tokens, t)
		}
	}
	p.tokens[tok] = accessToken{clientID: sub, scopes: granted, expires: now.Add(accessTokenLifetime)}
	return tok, granted, nil
}

// assertionSubject reads sub from the assertion without verifying it, as token.php does
// to find the tool.
func assertionSubject(assertion string) (string, error) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return "", errors.New("client_assertion is not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", fmt.Errorf("client_assertion payload: %w", err)
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Sub == "" {
		return "", errors.New("client_assertion has no sub")
	}
	return claims.Sub, nil
}

// verifyAssertion checks the client assertion's signature against the tool's JWKS
// (fetched from the tool's JWKS URL and cached, fetched again for an unknown kid) and
// its claims. The refusal codes are the messages Moodle's JWT library (Firebase JWT)
// throws and token.php sends as the error.
func (p *Platform) verifyAssertion(ctx context.Context, assertion string) *tokenRefusal {
	msg, err := jws.ParseString(assertion)
	if err != nil || len(msg.Signatures()) != 1 {
		return &tokenRefusal{code: "invalid_request", detail: "client_assertion is not a JWS with one signature"}
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if h.KeyID() == "" {
		return &tokenRefusal{code: `"kid" empty, unable to lookup correct key`, detail: "the assertion header has no kid"}
	}
	if h.Algorithm() != jwa.RS256 {
		return &tokenRefusal{code: "Incorrect key for this algorithm", detail: fmt.Sprintf("alg %q is not RS256", h.Algorithm())}
	}
	key, err := p.toolKeys.Key(ctx, p.cfg.ToolJWKSURL, h.KeyID())
	switch {
	case errors.Is(err, lti.ErrKeyNotFound):
		return &tokenRefusal{code: `"kid" invalid, unable to lookup correct key`,
			detail: fmt.Sprintf("kid %q is not in the tool's JWKS at %s", h.KeyID(), p.cfg.ToolJWKSURL)}
	case err != nil:
		return &tokenRefusal{code: "invalid_client", strict: true,
			detail: fmt.Sprintf("the tool's JWKS at %s could not be fetched: %v", p.cfg.ToolJWKSURL, err)}
	}
	if _, err := jws.Verify([]byte(assertion), jws.WithKey(jwa.RS256, key)); err != nil {
		return &tokenRefusal{code: "Signature verification failed", detail: err.Error()}
	}
	tok, err := jwt.ParseString(assertion, jwt.WithVerify(false), jwt.WithValidate(false))
	if err != nil {
		return &tokenRefusal{code: "invalid_request", detail: "client_assertion claims: " + err.Error()}
	}

	now := p.now()
	for _, t := range []time.Time{tok.NotBefore(), tok.IssuedAt()} {
		if !t.IsZero() && t.After(now.Add(assertionLeeway)) {
			return &tokenRefusal{code: "Cannot handle token prior to " + t.UTC().Format("2006-01-02T15:04:05-0700"),
				detail: "the assertion is not valid yet: check the clocks"}
		}
	}
	exp := tok.Expiration()
	if exp.IsZero() {
		// Moodle would take it; Security Framework 4.1.1 requires exp.
		return &tokenRefusal{code: "invalid_request", strict: true, detail: "the client assertion has no exp"}
	}
	if !now.Add(-assertionLeeway).Before(exp) {
		return &tokenRefusal{code: "Expired token", detail: "exp " + exp.UTC().Format(time.RFC3339) + " has passed"}
	}

	// Security Framework 4.1.1 and RFC 7523 §3; Moodle 4.5 checks none of these
	// (lti/10 087-095), but other platforms do, so Huddle must get them right.
	if tok.Issuer() != p.cfg.ClientID {
		return &tokenRefusal{code: "invalid_client", strict: true,
			detail: fmt.Sprintf("iss %q must be the client_id %q (stricter than Moodle 4.5)", tok.Issuer(), p.cfg.ClientID)}
	}
	tokenURL := p.Registration().TokenURL
	if !slices.Contains(tok.Audience(), tokenURL) {
		return &tokenRefusal{code: "invalid_client", strict: true,
			detail: fmt.Sprintf("aud %q must name the token endpoint %s (stricter than Moodle 4.5)", tok.Audience(), tokenURL)}
	}
	jti := tok.JwtID()
	if jti == "" {
		return &tokenRefusal{code: "invalid_client", strict: true, detail: "the client assertion has no jti (stricter than Moodle 4.5)"}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, until := range p.usedJTIs {
		if now.After(until) {
			delete(p.usedJTIs, id)
		}
	}
	if _, used := p.usedJTIs[jti]; used {
		return &tokenRefusal{code: "invalid_client", strict: true,
			detail: fmt.Sprintf("jti %q was already used: a client assertion is single use (stricter than Moodle 4.5)", jti)}
	}
	// Remembered until the assertion could no longer pass the exp check anyway.
	p.usedJTIs[jti] = exp.Add(assertionLeeway)
	return nil
}

// bearer reports whether r's Authorization header carries a current access token that
// grants at least one of scopes (Moodle's check_tool).
func (p *Platform) bearer(r *http.Request, scopes ...string) bool {
	auth := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(auth) <= len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return false
	}
	p.mu.Lock()
	at, ok := p.tokens[strings.TrimSpace(auth[len(prefix):])]
	p.mu.Unlock()
	if !ok || !p.now().Before(at.expires) {
		return false
	}
	for _, s := range scopes {
		if slices.Contains(at.scopes, s) {
			return true
		}
	}
	return false
}

// jsonString is s as a JSON string literal.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
