package lti

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Scopes of the LTI Advantage services (AGS 2.0 "Scopes and allowed http methods", NRPS
// 2.0 "Access token scope").
const (
	ScopeLineItem                  = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
	ScopeLineItemReadOnly          = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
	ScopeResultReadOnly            = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
	ScopeScore                     = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
	ScopeContextMembershipReadOnly = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
)

const (
	// DefaultTokenMargin is how long before its expiry a cached access token is replaced,
	// so a token is never sent in its last seconds (or across a small clock difference).
	DefaultTokenMargin = time.Minute
	// assertionLifetime is the exp of a client assertion; Moodle checks exp only.
	assertionLifetime = 5 * time.Minute
	// serviceTimeout bounds a token fetch, which runs detached from any one caller.
	serviceTimeout = 30 * time.Second
	// maxTokenResponseBytes bounds a token response; Moodle's is about 400 bytes.
	maxTokenResponseBytes = 64 << 10
	// maxServiceResponseBytes bounds one AGS or NRPS page. A membership page of a large
	// course with ?rlid messages runs to a few MiB.
	maxServiceResponseBytes = 32 << 20

	clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// KeySource gives Huddle's current private signing key, with kid and alg set.
// *Keyring implements it.
type KeySource interface {
	SigningKey(ctx context.Context) (jwk.Key, error)
}

var _ KeySource = (*Keyring)(nil)

// ServiceTokenConfig configures ServiceTokens. Zero values get the defaults noted.
type ServiceTokenConfig struct {
	// Keys signs the client assertions. Required.
	Keys KeySource
	// Client makes every request to the token endpoint and to the services;
	// http.DefaultClient if nil.
	Client *http.Client
	// UserAgent is sent with every request.
	UserAgent string
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Margin is how long before expiry a token is refreshed (DefaultTokenMargin if zero).
	Margin time.Duration
}

// ServiceToken is an OAuth 2 access token for a platform's services. Its String,
// GoString and LogValue leave the token out, so it can be printed or logged.
type ServiceToken struct {
	AccessToken string
	// Scopes are the scopes granted: Moodle grants the intersection of those requested
	// and those the tool type permits.
	Scopes    []string
	ExpiresAt time.Time

	refreshAt time.Time
}

// String describes the token without its secret.
func (t ServiceToken) String() string {
	return fmt.Sprintf("lti.ServiceToken{AccessToken: [redacted], Scopes: %q, ExpiresAt: %s}",
		t.Scopes, t.ExpiresAt.Format(time.RFC3339))
}

// GoString is String, so %#v does not print the token either.
func (t ServiceToken) GoString() string { return t.String() }

// LogValue keeps the token out of slog output.
func (t ServiceToken) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("scopes", t.Scopes), slog.Time("expires_at", t.ExpiresAt))
}

// TokenError is returned when the platform's token endpoint does not give Huddle an
// access token. Message is plain English for the site administrator who has to fix the
// registration; Code is the platform's error as sent (Moodle also sends exception texts
// such as "Signature verification failed" there). Nothing in it carries a token.
type TokenError struct {
	// Status is the HTTP status, 0 when there was no answer.
	Status  int
	Code    string
	Message string
	// Err is the cause, if any (a transport error, an unreadable body).
	Err error
}

func (e *TokenError) Error() string {
	msg := "lti: service token"
	if e.Status != 0 {
		msg += ": HTTP " + strconv.Itoa(e.Status)
	}
	if e.Code != "" {
		msg += " " + strconv.Quote(e.Code)
	}
	msg += ": " + e.Message
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *TokenError) Unwrap() error { return e.Err }

// tokenErrorMessages maps the token endpoint's errors, lower-cased, to advice for an
// administrator. RFC 6749 §5.2 codes plus the texts Moodle 4.5 sends in their place
// (fixtures lti/02 031-036, lti/10 075-086).
var tokenErrorMessages = map[string]string{
	"invalid_client": "Moodle does not recognise Huddle's client id or could not verify its key: " +
		"check the tool's public keyset URL",
	"signature verification failed": "Moodle could not verify Huddle's signature: check that the tool's " +
		"public keyset URL in Moodle is Huddle's keyset URL and that Moodle can reach it",
	"invalid_scope": "the tool's services are not enabled for grade sync/roster in Moodle: edit the tool " +
		"in Site administration > Plugins > External tool > Manage tools and switch on the IMS LTI " +
		"Assignment and Grade Services and Names and Role Provisioning services",
	"expired token": "Moodle says Huddle's request had expired: check that the Huddle and Moodle " +
		"servers' clocks are right",
	"unauthorized_client": "Moodle does not let Huddle use its services: check that the tool is active in Moodle",
	"invalid_request":     "Moodle could not understand Huddle's token request: this is a fault in Huddle, please report it",
	"unsupported_grant_type": "Moodle does not accept the way Huddle asks for access: " +
		"this is a fault in Huddle, please report it",
	"invalid_grant": "Moodle refused Huddle's credentials: check the tool's client id and public keyset URL",
}

func tokenErrorMessage(status int, code string) string {
	lc := strings.ToLower(strings.TrimSpace(code))
	if m, ok := tokenErrorMessages[lc]; ok {
		return m
	}
	switch {
	case strings.HasPrefix(lc, "cannot handle token prior to"):
		// Firebase JWT's message for an iat or nbf in the future.
		return "Moodle says Huddle's request is not valid yet: check that the Huddle and Moodle servers' clocks are right"
	case code != "":
		return "Moodle refused to give Huddle an access token: check the tool's registration in Moodle"
	case status >= 500:
		return "Moodle's token endpoint failed: try again later; if it persists, check Moodle's error log"
	}
	return "Moodle's token endpoint gave an answer Huddle does not understand: " +
		"check the token URL registered for this platform"
}

// tokenKey identifies a cached token: the platform and the sorted scopes, plus the
// client id and token URL so an edited registration never reuses the old client's token.
type tokenKey struct {
	platformID int64
	clientID   string
	tokenURL   string
	scopes     string
}

// tokenFetch is one token request in progress; done is closed when tok/err are final.
type tokenFetch struct {
	done chan struct{}
	tok  ServiceToken
	err  error
}

// ServiceTokens gets access tokens for platforms' services with the OAuth 2 client
// credentials grant and a JWT client assertion (Security Framework 4.1, RFC 7523), and
// caches them until shortly before they expire. The cache is a cache, not state: every
// Huddle instance fetches its own tokens. Concurrent callers needing the same token
// share one request. It also makes the authorised service calls of AGSClient and
// NRPSClient. Safe for concurrent use.
type ServiceTokens struct {
	keys      KeySource
	client    *http.Client
	userAgent string
	now       func() time.Time
	margin    time.Duration

	mu       sync.Mutex
	cache    map[tokenKey]ServiceToken
	inflight map[tokenKey]*tokenFetch
}

// NewServiceTokens returns an empty token cache.
func NewServiceTokens(cfg ServiceTokenConfig) *ServiceTokens {
	s := &ServiceTokens{
		keys:      cfg.Keys,
		client:    cfg.Client,
		userAgent: cfg.UserAgent,
		now:       cfg.Now,
		margin:    cfg.Margin,
		cache:     map[tokenKey]ServiceToken{},
		inflight:  map[tokenKey]*tokenFetch{},
	}
	if s.client == nil {
		s.client = http.DefaultClient
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.margin <= 0 {
		s.margin = DefaultTokenMargin
	}
	return s
}

func newTokenKey(p Platform, scopes []string) tokenKey {
	sorted := slices.Clone(scopes)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	return tokenKey{platformID: p.ID, clientID: p.ClientID, tokenURL: p.TokenURL, scopes: strings.Join(sorted, " ")}
}

// Token returns an access token for p's services with the given scopes, from the cache
// when it holds one that is not about to expire. Errors from the token endpoint are
// *TokenError; a failure to get the signing key is returned wrapped as it is.
func (s *ServiceTokens) Token(ctx context.Context, p Platform, scopes ...string) (ServiceToken, error) {
	if len(scopes) == 0 {
		return ServiceToken{}, errors.New("lti: service token: no scopes requested")
	}
	key := newTokenKey(p, scopes)

	s.mu.Lock()
	if t, ok := s.cache[key]; ok && s.now().Before(t.refreshAt) {
		s.mu.Unlock()
		return t, nil
	}
	f := s.inflight[key]
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		s.inflight[key] = f
		// The fetch runs on its own: other callers may wait for it, so one caller's
		// cancellation must not fail them all. serviceTimeout bounds it.
		go s.runFetch(context.WithoutCancel(ctx), p, key, f)
	}
	s.mu.Unlock()

	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return ServiceToken{}, fmt.Errorf("lti: service token: %w", ctx.Err())
	}
}

func (s *ServiceTokens) runFetch(ctx context.Context, p Platform, key tokenKey, f *tokenFetch) {
	ctx, cancel := context.WithTimeout(ctx, serviceTimeout)
	defer cancel()
	tok, err := s.fetch(ctx, p, strings.Fields(key.scopes))

	s.mu.Lock()
	defer s.mu.Unlock()
	f.tok, f.err = tok, err
	delete(s.inflight, key)
	if err == nil && s.now().Before(tok.refreshAt) {
		s.cache[key] = tok
	}
	close(f.done)
}

// forget drops the cached token for key if it is still accessToken, after a service
// answered 401 to it. A token another caller already replaced stays.
func (s *ServiceTokens) forget(key tokenKey, accessToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.cache[key]; ok && t.AccessToken == accessToken {
		delete(s.cache, key)
	}
}

// fetch asks the token endpoint for a token (Security Framework 4.1).
func (s *ServiceTokens) fetch(ctx context.Context, p Platform, scopes []string) (ServiceToken, error) {
	if p.TokenURL == "" || p.ClientID == "" {
		return ServiceToken{}, &TokenError{Message: "the platform has no token URL or client id: " +
			"finish registering Huddle with this Moodle site"}
	}
	assertion, err := s.clientAssertion(ctx, p)
	if err != nil {
		return ServiceToken{}, fmt.Errorf("lti: service token: %w", err)
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {clientAssertionType},
		"client_assertion":      {assertion},
		"scope":                 {strings.Join(scopes, " ")},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return ServiceToken{}, &TokenError{Message: tokenErrorMessage(0, ""), Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if s.userAgent != "" {
		req.Header.Set("User-Agent", s.userAgent)
	}
	requestedAt := s.now()
	resp, err := s.client.Do(req)
	if err != nil {
		return ServiceToken{}, &TokenError{
			Message: "Huddle could not reach Moodle's token endpoint: check the token URL and that Moodle is up",
			Err:     scrubSecret(err, assertion),
		}
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body, maxTokenResponseBytes)
	if err != nil {
		return ServiceToken{}, &TokenError{Status: resp.StatusCode, Message: tokenErrorMessage(resp.StatusCode, ""), Err: err}
	}

	// Decoded whatever the Content-Type: Moodle labels its JSON text/html.
	var out struct {
		AccessToken string      `json:"access_token"`
		TokenType   string      `json:"token_type"`
		ExpiresIn   json.Number `json:"expires_in"`
		Scope       string      `json:"scope"`
		Error       string      `json:"error"`
		Description string      `json:"error_description"`
	}
	decodeErr := json.Unmarshal(body, &out)
	if resp.StatusCode != http.StatusOK || out.Error != "" {
		code := out.Error
		if decodeErr != nil {
			code = ""
		}
		return ServiceToken{}, &TokenError{Status: resp.StatusCode, Code: code, Message: tokenErrorMessage(resp.StatusCode, code)}
	}
	if decodeErr != nil {
		return ServiceToken{}, &TokenError{Status: resp.StatusCode, Message: tokenErrorMessage(resp.StatusCode, ""),
			Err: fmt.Errorf("decode token response: %w", decodeErr)}
	}
	if out.AccessToken == "" {
		return ServiceToken{}, &TokenError{Status: resp.StatusCode, Message: tokenErrorMessage(resp.StatusCode, ""),
			Err: errors.New("token response has no access_token")}
	}
	if out.TokenType != "" && !strings.EqualFold(out.TokenType, "bearer") {
		return ServiceToken{}, &TokenError{Status: resp.StatusCode, Message: tokenErrorMessage(resp.StatusCode, ""),
			Err: fmt.Errorf("token type %q is not Bearer", out.TokenType)}
	}

	tok := ServiceToken{AccessToken: out.AccessToken, Scopes: strings.Fields(out.Scope)}
	if len(tok.Scopes) == 0 {
		// RFC 6749 §5.1: scope may be left out when it is what was requested.
		tok.Scopes = slices.Clone(scopes)
	}
	// Lifetimes count from when the request was sent, the earliest the platform can
	// have started the clock.
	lifetime := time.Duration(0)
	if secs, err := out.ExpiresIn.Float64(); err == nil && secs > 0 {
		lifetime = time.Duration(secs * float64(time.Second))
	}
	tok.ExpiresAt = requestedAt.Add(lifetime)
	margin := s.margin
	if margin > lifetime/2 {
		// A short-lived token is still worth caching for half its life.
		margin = lifetime / 2
	}
	// Without expires_in the token is used for this call only: Huddle cannot know how
	// long the platform honours it.
	tok.refreshAt = tok.ExpiresAt.Add(-margin)
	return tok, nil
}

// clientAssertion signs the JWT that authenticates Huddle at the token endpoint
// (Security Framework 4.1.1; RFC 7523 §3): iss and sub are the client id, aud the token
// URL, and jti is unique. Moodle checks the signature and exp, not aud or jti
// (lti/10 087-095), but other platforms do.
func (s *ServiceTokens) clientAssertion(ctx context.Context, p Platform) (string, error) {
	if s.keys == nil {
		return "", errors.New("no key source configured")
	}
	key, err := s.keys.SigningKey(ctx)
	if err != nil {
		return "", err
	}
	if key == nil || key.KeyID() == "" {
		return "", errors.New("signing key has no kid")
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("jti: %w", err)
	}
	now := s.now()
	tok := jwt.New()
	tok.Options().Enable(jwt.FlattenAudience)
	for _, c := range []struct {
		name  string
		value any
	}{
		{jwt.IssuerKey, p.ClientID},
		{jwt.SubjectKey, p.ClientID},
		{jwt.AudienceKey, []string{p.TokenURL}},
		{jwt.IssuedAtKey, now.Unix()},
		{jwt.ExpirationKey, now.Add(assertionLifetime).Unix()},
		{jwt.JwtIDKey, hex.EncodeToString(jti)},
	} {
		if err := tok.Set(c.name, c.value); err != nil {
			return "", fmt.Errorf("assertion claim %s: %w", c.name, err)
		}
	}
	headers := jws.NewHeaders()
	if err := headers.Set(jws.KeyIDKey, key.KeyID()); err != nil {
		return "", err
	}
	if err := headers.Set(jws.TypeKey, "JWT"); err != nil {
		return "", err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, key, jws.WithProtectedHeaders(headers)))
	if err != nil {
		return "", fmt.Errorf("sign assertion: %w", err)
	}
	return string(signed), nil
}

// Service errors callers branch on. Every error from AGSClient and NRPSClient that
// comes from the platform's answer is a *ServiceError wrapping one of these (404 wraps
// ErrNotFound).
var (
	// ErrServiceUnauthorized: 401 even with a freshly fetched token. The token lacks the
	// scope (Moodle answers 401, not 403, to a read-only token posting a score) or the
	// tool was disabled.
	ErrServiceUnauthorized = errors.New("lti: the platform refused Huddle's access token")
	// ErrServiceForbidden: 403, e.g. deleting a line item the tool did not create.
	ErrServiceForbidden = errors.New("lti: the platform forbids this")
	// ErrServiceRefused: another 4xx, e.g. Moodle's 400 "No handler found" for a wrong
	// media type.
	ErrServiceRefused = errors.New("lti: the platform refused the request")
	// ErrServiceUnavailable: no answer, or a 5xx. Worth retrying later.
	ErrServiceUnavailable = errors.New("lti: the platform's service is unavailable")
	// ErrUnexpectedResponse: a success status with a body Huddle cannot read, or a
	// status it does not expect.
	ErrUnexpectedResponse = errors.New("lti: unexpected answer from the platform")
)

// ServiceError describes a failed AGS or NRPS call. It never carries the access token.
type ServiceError struct {
	// Op names the operation, e.g. "post score".
	Op     string
	Method string
	URL    string
	// Status is the HTTP status, 0 when there was no answer.
	Status int
	// Reason is the platform's explanation: the reason phrase of the status line when it
	// is not the standard one (Moodle puts "Incorrect score received" there), else the
	// "reason" of Moodle's JSON error body. Moodle's echo of the request body is cut off.
	Reason string
	// Err is one of the sentinels above, ErrNotFound, ErrScoreRejected or
	// ErrScoreSuperseded, possibly wrapping a cause.
	Err error
}

func (e *ServiceError) Error() string {
	msg := "lti: " + e.Op + ": " + e.Method + " " + e.URL
	if e.Status != 0 {
		msg += ": HTTP " + strconv.Itoa(e.Status)
	}
	if e.Reason != "" {
		msg += " " + strconv.Quote(e.Reason)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ServiceError) Unwrap() error { return e.Err }

// serviceRequest is one call to an AGS or NRPS endpoint.
type serviceRequest struct {
	op          string
	method      string
	url         string
	accept      string
	contentType string
	body        []byte
	scopes      []string
}

type serviceResponse struct {
	status int
	reason string
	header http.Header
	body   []byte
}

// call makes an authorised request. A 401 answer makes it drop the token, fetch a new
// one and try once more: the platform may have forgotten a token before its expiry
// (Moodle's tokens live in its database and a site restore or a tool re-registration
// drops them). Any answer is returned; transport and token errors are errors.
func (s *ServiceTokens) call(ctx context.Context, p Platform, r serviceRequest) (*serviceResponse, error) {
	// Service URLs arrive in launch claims; the platform's bearer token goes only to
	// the platform's own hosts.
	if err := p.CheckServiceURL(r.url); err != nil {
		return nil, fmt.Errorf("lti: %s: %w", r.op, err)
	}
	var resp *serviceResponse
	for attempt := 0; attempt < 2; attempt++ {
		tok, err := s.Token(ctx, p, r.scopes...)
		if err != nil {
			return nil, fmt.Errorf("lti: %s: %w", r.op, err)
		}
		resp, err = s.send(ctx, r, tok.AccessToken)
		if err != nil {
			return nil, err
		}
		if resp.status != http.StatusUnauthorized {
			return resp, nil
		}
		s.forget(newTokenKey(p, r.scopes), tok.AccessToken)
	}
	return resp, nil
}

func (s *ServiceTokens) send(ctx context.Context, r serviceRequest, accessToken string) (*serviceResponse, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, &ServiceError{Op: r.op, Method: r.method, URL: r.url, Err: fmt.Errorf("%w: %w", ErrUnexpectedResponse, err)}
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if s.userAgent != "" {
		req.Header.Set("User-Agent", s.userAgent)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, &ServiceError{Op: r.op, Method: r.method, URL: req.URL.Redacted(),
			Err: fmt.Errorf("%w: %w", ErrServiceUnavailable, scrubSecret(err, accessToken))}
	}
	defer resp.Body.Close()
	respBody, err := readLimited(resp.Body, maxServiceResponseBytes)
	if err != nil {
		return nil, &ServiceError{Op: r.op, Method: r.method, URL: req.URL.Redacted(), Status: resp.StatusCode,
			Err: fmt.Errorf("%w: %w", ErrServiceUnavailable, scrubSecret(err, accessToken))}
	}
	return &serviceResponse{
		status: resp.StatusCode,
		reason: responseReason(resp, respBody),
		header: resp.Header,
		body:   respBody,
	}, nil
}

// statusError turns a non-success answer into a *ServiceError with the sentinel for its
// status.
func statusError(r serviceRequest, resp *serviceResponse) *ServiceError {
	var kind error
	switch {
	case resp.status == http.StatusUnauthorized:
		kind = ErrServiceUnauthorized
	case resp.status == http.StatusForbidden:
		kind = ErrServiceForbidden
	case resp.status == http.StatusNotFound:
		kind = ErrNotFound
	case resp.status >= 500:
		kind = ErrServiceUnavailable
	case resp.status >= 400:
		kind = ErrServiceRefused
	default:
		kind = ErrUnexpectedResponse
	}
	return &ServiceError{Op: r.op, Method: r.method, URL: redactURL(r.url), Status: resp.status, Reason: resp.reason, Err: kind}
}

// responseReason is the platform's explanation of a status: a non-standard reason
// phrase, else the "reason" member of a JSON error body (Moodle's REST services send
// {"status": 400, "reason": "..."}).
func responseReason(resp *http.Response, body []byte) string {
	reason := strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)))
	if strings.EqualFold(reason, http.StatusText(resp.StatusCode)) {
		reason = ""
	}
	if reason == "" && resp.StatusCode >= 400 {
		var moodle struct {
			Reason string `json:"reason"`
		}
		if json.Unmarshal(body, &moodle) == nil && !strings.EqualFold(moodle.Reason, http.StatusText(resp.StatusCode)) {
			reason = moodle.Reason
		}
	}
	// Moodle appends the request body to "Incorrect score received"; it is Huddle's own
	// data and does not belong in logs.
	if i := strings.IndexAny(reason, "{["); i >= 0 {
		reason = reason[:i]
	}
	reason = strings.TrimSpace(reason)
	if r := []rune(reason); len(r) > 200 {
		reason = string(r[:200]) + "…"
	}
	return reason
}

// pages GETs r.url and every page after it by rel="next" links, passing each body to
// add. A next link must stay on the platform's host: the access token goes with it.
func (s *ServiceTokens) pages(ctx context.Context, p Platform, r serviceRequest, add func(body []byte, h http.Header, page *url.URL) error) error {
	first, err := url.Parse(r.url)
	if err != nil {
		return fmt.Errorf("lti: %s: %w", r.op, err)
	}
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == maxServicePages {
			return &ServiceError{Op: r.op, Method: r.method, URL: redactURL(r.url),
				Err: fmt.Errorf("%w: more than %d pages", ErrUnexpectedResponse, maxServicePages)}
		}
		seen[r.url] = true
		resp, err := s.call(ctx, p, r)
		if err != nil {
			return err
		}
		if resp.status != http.StatusOK {
			return statusError(r, resp)
		}
		current, err := url.Parse(r.url)
		if err != nil {
			return fmt.Errorf("lti: %s: %w", r.op, err)
		}
		if err := add(resp.body, resp.header, current); err != nil {
			return unreadable(r, resp, err)
		}
		next, err := nextPageURL(resp.header, current)
		if err != nil {
			return unreadable(r, resp, fmt.Errorf("next link: %w", err))
		}
		if next == "" || seen[next] {
			return nil
		}
		nu, _ := url.Parse(next)
		if nu.Scheme != first.Scheme || nu.Host != first.Host {
			return unreadable(r, resp, fmt.Errorf("next link leaves %s for %s", first.Host, nu.Host))
		}
		r.url = next
	}
}

// unreadable is the error for a success answer Huddle cannot use.
func unreadable(r serviceRequest, resp *serviceResponse, cause error) *ServiceError {
	return &ServiceError{Op: r.op, Method: r.method, URL: redactURL(r.url), Status: resp.status,
		Err: fmt.Errorf("%w: %w", ErrUnexpectedResponse, cause)}
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("body larger than %d bytes", limit)
	}
	return body, nil
}

// scrubSecret makes sure a transport error cannot carry a token or assertion (a custom
// RoundTripper could echo headers or the body); see regScrub.
func scrubSecret(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "[redacted]"))
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}
