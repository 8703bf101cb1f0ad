// Package ltitest is a signing LTI 1.3 platform for tests: it holds an RSA key,
// serves its JWKS over httptest, and signs id_tokens shaped like the ones Moodle 4.5
// sends (see internal/moodlecapture), so other packages' tests can launch Huddle.
package ltitest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/huddle-lti/huddle/lti"
)

// Role URIs exactly as Moodle 4.5 sends them.
const (
	RoleLearner       = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
	RoleInstructor    = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
	RoleAdministrator = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
)

// Platform is a test LTI platform.
type Platform struct {
	Issuer       string
	ClientID     string
	DeploymentID string
	KID          string
	Key          *rsa.PrivateKey
	Server       *httptest.Server
	Now          func() time.Time

	mu         sync.Mutex
	jwksFetch  atomic.Int64
	publicKeys []jwk.Key
	mux        *http.ServeMux
}

var keyOnce struct {
	sync.Once
	key *rsa.PrivateKey
}

// sharedKey saves the 2048-bit generation per test; tests that need a distinct key
// call Rotate.
func sharedKey() *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keyOnce.key = k
	})
	return keyOnce.key
}

// New starts a platform whose issuer is its httptest server's URL; it stops when the
// test ends.
func New(t testing.TB) *Platform {
	t.Helper()
	p := Start()
	t.Cleanup(p.Server.Close)
	return p
}

func (p *Platform) setPublic() {
	pub, err := jwk.FromRaw(p.Key.Public())
	if err != nil {
		panic(err)
	}
	_ = pub.Set(jwk.KeyIDKey, p.KID)
	_ = pub.Set(jwk.AlgorithmKey, jwa.RS256)
	_ = pub.Set(jwk.KeyUsageKey, "sig")
	p.mu.Lock()
	p.publicKeys = []jwk.Key{pub}
	p.mu.Unlock()
}

// Rotate switches to a new key with a new kid and publishes only that one.
func (p *Platform) Rotate(t testing.TB, kid string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p.Key, p.KID = k, kid
	p.setPublic()
}

// JWKSFetches counts how often the JWKS was fetched.
func (p *Platform) JWKSFetches() int64 { return p.jwksFetch.Load() }

// LTIPlatform is the registration Huddle keeps for this platform.
func (p *Platform) LTIPlatform() lti.Platform {
	return lti.Platform{
		Issuer:        p.Issuer,
		ClientID:      p.ClientID,
		AuthURL:       p.Issuer + "/auth",
		TokenURL:      p.Issuer + "/token",
		JWKSURL:       p.Issuer + "/jwks",
		DeploymentIDs: []string{p.DeploymentID},
	}
}

// Member describes who launches.
type Member struct {
	Subject string
	Name    string
	Email   string
	Roles   []string
}

// Link describes where a launch goes.
type Link struct {
	ContextID      string
	ContextTitle   string
	ResourceLinkID string
	Title          string
	TargetLinkURI  string
	Custom         map[string]string
	LineItem       string
}

// ResourceLinkClaims are the claims of an LtiResourceLinkRequest as Moodle 4.5 sends them.
func (p *Platform) ResourceLinkClaims(m Member, l Link, nonce string) map[string]any {
	c := p.baseClaims(m, l, nonce, "LtiResourceLinkRequest")
	c["https://purl.imsglobal.org/spec/lti/claim/resource_link"] = map[string]any{"id": l.ResourceLinkID, "title": l.Title, "description": ""}
	ags := map[string]any{
		"scope": []string{
			"https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
			"https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
			"https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
			"https://purl.imsglobal.org/spec/lti-ags/scope/score",
		},
		"lineitems": p.Issuer + "/mod/lti/services.php/2/lineitems?type_id=1",
	}
	if l.LineItem != "" {
		ags["lineitem"] = l.LineItem
	}
	c["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = ags
	c["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"] = map[string]any{
		"context_memberships_url": p.Issuer + "/mod/lti/services.php/CourseSection/2/bindings/1/memberships",
		"service_versions":        []string{"1.0", "2.0"},
	}
	return c
}

// DeepLinkingClaims are the claims of an LtiDeepLinkingRequest as Moodle 4.5 sends them.
func (p *Platform) DeepLinkingClaims(m Member, l Link, nonce, returnURL string) map[string]any {
	c := p.baseClaims(m, l, nonce, "LtiDeepLinkingRequest")
	c["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = map[string]any{
		"accept_types":                         []string{"ltiResourceLink"},
		"accept_presentation_document_targets": []string{"frame", "iframe", "window"},
		"accept_copy_advice":                   false,
		"accept_multiple":                      true,
		"accept_unsigned":                      false,
		"auto_create":                          false,
		"can_confirm":                          false,
		"deep_link_return_url":                 returnURL,
		"title":                                "",
		"text":                                 "",
	}
	return c
}

func (p *Platform) baseClaims(m Member, l Link, nonce, msgType string) map[string]any {
	now := p.Now()
	c := map[string]any{
		"iss":   p.Issuer,
		"aud":   p.ClientID,
		"sub":   m.Subject,
		"nonce": nonce,
		"iat":   now.Unix(),
		"exp":   now.Add(60 * time.Second).Unix(),
		"name":  m.Name,
		"email": m.Email,
		"https://purl.imsglobal.org/spec/lti/claim/deployment_id":   p.DeploymentID,
		"https://purl.imsglobal.org/spec/lti/claim/message_type":    msgType,
		"https://purl.imsglobal.org/spec/lti/claim/version":         "1.3.0",
		"https://purl.imsglobal.org/spec/lti/claim/target_link_uri": l.TargetLinkURI,
		"https://purl.imsglobal.org/spec/lti/claim/roles":           m.Roles,
		"https://purl.imsglobal.org/spec/lti/claim/context": map[string]any{
			"id": l.ContextID, "label": "FTP1", "title": l.ContextTitle,
			"type": []string{"CourseSection"},
		},
		"https://purl.imsglobal.org/spec/lti/claim/tool_platform": map[string]any{
			"product_family_code": "moodle", "version": "2024100705.01", "guid": "localhost", "name": "Test Moodle",
		},
		"https://purl.imsglobal.org/spec/lti/claim/launch_presentation": map[string]any{
			"locale": "en", "document_target": "iframe", "return_url": p.Issuer + "/mod/lti/return.php",
		},
	}
	if l.Custom != nil {
		c["https://purl.imsglobal.org/spec/lti/claim/custom"] = l.Custom
	}
	return c
}

// Sign signs claims RS256 with the platform's current key.
func (p *Platform) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	s, err := p.SignClaims(claims)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// SignClaims signs claims RS256 with the platform's current key.
func (p *Platform) SignClaims(claims map[string]any) (string, error) {
	tok := jwt.New()
	tok.Options().Enable(jwt.FlattenAudience)
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			return "", err
		}
	}
	h := jws.NewHeaders()
	_ = h.Set(jws.KeyIDKey, p.KID)
	_ = h.Set(jws.TypeKey, "JWT")
	// The Go key itself, not a jwk.Key: jwx turns a JWK into a fresh rsa.PrivateKey at
	// every signature, which Go then validates and precomputes again, a tenth of the
	// signature's cost, and the load generator signs one token per launch on the
	// cores it measures Huddle on.
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, p.Key, jws.WithProtectedHeaders(h)))
	return string(b), err
}

// Start starts a platform like New for a program that has no testing.TB (the load
// generator, cmd/huddle-load): its issuer is a fresh server on 127.0.0.1 that serves the
// JWKS and counts fetches. The caller closes p.Server when done.
func Start() *Platform {
	p := &Platform{ClientID: "huddle-test-client", DeploymentID: "1", KID: "test-key-1", Key: sharedKey(), Now: time.Now}
	p.setPublic()
	p.mux = http.NewServeMux()
	p.mux.HandleFunc("/jwks", p.serveJWKSCounted)
	p.Server = httptest.NewServer(p.mux)
	p.Issuer = p.Server.URL
	return p
}

// Handle serves more of the platform at pattern (http.ServeMux's), beside the JWKS:
// the load generator adds a token endpoint and rosters this way.
func (p *Platform) Handle(pattern string, h http.Handler) { p.mux.Handle(pattern, h) }

func (p *Platform) serveJWKSCounted(w http.ResponseWriter, _ *http.Request) {
	p.jwksFetch.Add(1)
	p.mu.Lock()
	set := jwk.NewSet()
	for _, k := range p.publicKeys {
		_ = set.AddKey(k)
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}
