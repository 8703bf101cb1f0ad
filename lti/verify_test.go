package lti

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/internal/fakeclock"
	"github.com/huddle-lti/huddle/internal/moodlecapture"
)

const (
	moodleIssuer   = "http://127.0.0.1:8000"
	moodleClientID = "NN2vPfddM8H41eY"
	testUserAgent  = "Huddle-test/1.0"
)

func readFixture(t testing.TB, rel string) []byte {
	t.Helper()
	return moodlecapture.Read(t, rel)
}

// jwksServer serves whatever JWKS body is current and counts requests.
type jwksServer struct {
	*httptest.Server
	body       atomic.Pointer[[]byte]
	hits       atomic.Int64
	userAgents sync.Map // user agent -> true
	// gate, when set, blocks each request until it is closed.
	gate atomic.Pointer[chan struct{}]
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.setBody(body)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.userAgents.Store(r.UserAgent(), true)
		if g := s.gate.Load(); g != nil {
			<-*g
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setBody(b []byte) { s.body.Store(&b) }

// rsaTestKeys are generated once: RSA generation is slow under -race.
var rsaTestKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 3)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

// privateJWK wraps the i-th test RSA key as a jwk.Key with kid and alg RS256.
func privateJWK(t testing.TB, i int, kid string) jwk.Key {
	t.Helper()
	k, err := jwk.FromRaw(rsaTestKeys()[i])
	require.NoError(t, err)
	require.NoError(t, k.Set(jwk.KeyIDKey, kid))
	require.NoError(t, k.Set(jwk.AlgorithmKey, jwa.RS256))
	require.NoError(t, k.Set(jwk.KeyUsageKey, jwk.ForSignature))
	return k
}

// jwksOf returns the public JWKS body for keys.
func jwksOf(t testing.TB, keys ...jwk.Key) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		pub, err := k.PublicKey()
		require.NoError(t, err)
		require.NoError(t, set.AddKey(pub))
	}
	b, err := json.Marshal(set)
	require.NoError(t, err)
	return b
}

// testPlatform is a fake Moodle that signs id_tokens with a key it serves as JWKS.
type testPlatform struct {
	clock    *fakeclock.Clock // shared by the verifier and its key set
	key      jwk.Key
	jwks     *jwksServer
	keys     *KeySet
	verifier *Verifier
	platform Platform
}

var testNow = time.Date(2026, 11, 26, 17, 40, 0, 0, time.UTC)

func setup(t testing.TB) *testPlatform {
	t.Helper()
	return setupWithKey(t, privateJWK(t, 0, "platform-key-1"))
}

// setupWithKey is setup with a given platform signing key.
func setupWithKey(t testing.TB, key jwk.Key) *testPlatform {
	t.Helper()
	tp := &testPlatform{clock: fakeclock.New(testNow), key: key}
	tp.jwks = newJWKSServer(t, jwksOf(t, tp.key))
	tp.keys = NewKeySet(KeySetConfig{Client: tp.jwks.Client(), UserAgent: testUserAgent, Now: tp.clock.Now})
	tp.verifier = NewVerifier(VerifierConfig{Keys: tp.keys, Now: tp.clock.Now})
	tp.platform = Platform{
		ID:            1,
		Issuer:        moodleIssuer,
		ClientID:      moodleClientID,
		JWKSURL:       tp.jwks.URL + "/mod/lti/certs.php",
		DeploymentIDs: []string{"1"},
	}
	return tp
}

// resourceLinkClaims is a valid LtiResourceLinkRequest payload issued at now.
func resourceLinkClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss":              moodleIssuer,
		"aud":              moodleClientID,
		"sub":              "4",
		"iat":              now.Unix(),
		"exp":              now.Add(60 * time.Second).Unix(),
		"nonce":            "nonce-1",
		"name":             "Lena Learner",
		"email":            "learner1@example.com",
		ClaimMessageType:   "LtiResourceLinkRequest",
		ClaimVersion:       "1.3.0",
		ClaimDeploymentID:  "1",
		ClaimTargetLinkURI: "http://127.0.0.1:9000/launch",
		ClaimResourceLink:  map[string]any{"id": "1", "title": "Peer Discussion"},
		ClaimRoles:         []string{"http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"},
		ClaimContext:       map[string]any{"id": "2", "label": "FTP1", "type": []string{"CourseSection"}},
	}
}

func deepLinkingClaims(now time.Time) map[string]any {
	c := resourceLinkClaims(now)
	delete(c, ClaimResourceLink)
	c[ClaimMessageType] = "LtiDeepLinkingRequest"
	c[ClaimTargetLinkURI] = "http://127.0.0.1:9000/deeplink"
	c[ClaimDeepLinking] = map[string]any{
		"deep_link_return_url":                 "http://127.0.0.1:8000/mod/lti/contentitem_return.php?course=2&id=1",
		"accept_types":                         []string{"ltiResourceLink"},
		"accept_presentation_document_targets": []string{"iframe"},
		"accept_multiple":                      true,
	}
	return c
}

// sign makes a compact RS256 JWT of claims with key (kid from the key).
func sign(t testing.TB, key jwk.Key, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	tok.Options().Enable(jwt.FlattenAudience)
	for k, v := range claims {
		require.NoError(t, tok.Set(k, v))
	}
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, key))
	require.NoError(t, err)
	return string(b)
}

func b64(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// launchErrorOf is err as the *LaunchError with code it must be.
func launchErrorOf(t testing.TB, err error, code Code) *LaunchError {
	t.Helper()
	require.Error(t, err)
	var lerr *LaunchError
	require.True(t, errors.As(err, &lerr), "want *LaunchError, got %T: %v", err, err)
	require.Equal(t, code, lerr.Code, "error: %v", err)
	require.NotEmpty(t, lerr.Message)
	return lerr
}

func requireCode(t testing.TB, err error, code Code) {
	t.Helper()
	_ = launchErrorOf(t, err, code) // it fails the test itself
}

func TestVerifyIDTokenMoodleFixtures(t *testing.T) {
	t.Parallel()

	jwks := newJWKSServer(t, readFixture(t, "platform/moodle-jwks.json"))
	keys := NewKeySet(KeySetConfig{
		Client:    jwks.Client(),
		UserAgent: testUserAgent,
		Now:       func() time.Time { return time.Unix(1795714792, 0) },
	})
	platform := Platform{
		Issuer:        moodleIssuer,
		ClientID:      moodleClientID,
		JWKSURL:       jwks.URL + "/mod/lti/certs.php",
		DeploymentIDs: []string{"1"},
	}

	// Moodle 4.5 sends context roles as full membership URIs (LTI Core A.2.3).
	const (
		learnerURI    = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
		instructorURI = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
	)
	tests := []struct {
		file         string
		iat          int64
		messageType  MessageType
		sub          string
		nonce        string
		roles        []string // as sent; course.MapRoles maps them
		resourceLink string
		lineItem     string
		customKind   string
	}{
		{
			file: "lti/02-launch-learner1-cm2/026-id-token-LtiResourceLinkRequest.jwt", iat: 1795714792,
			messageType: MessageResourceLink, sub: "4", nonce: "e39b906b4b8da1e33b304b9de280ca6d",
			roles: []string{learnerURI}, resourceLink: "1",
			lineItem:   "http://127.0.0.1:8000/mod/lti/services.php/2/lineitems/2/lineitem?type_id=1",
			customKind: "peer_discussion",
		},
		{
			file: "lti/03-deep-linking-educator1/085-id-token-LtiDeepLinkingRequest.jwt", iat: 1795714816,
			messageType: MessageDeepLinkingRequest, sub: "3", nonce: "9051d0f9645df180148ddfa20b2efae9",
			roles: []string{instructorURI},
		},
		{
			file: "lti/06-launch-learner2-cm3-deeplinked/120-id-token-LtiResourceLinkRequest.jwt", iat: 1795715016,
			messageType: MessageResourceLink, sub: "5", roles: []string{learnerURI}, resourceLink: "2",
			lineItem:   "http://127.0.0.1:8000/mod/lti/services.php/2/lineitems/4/lineitem?type_id=1",
			customKind: "peer_discussion",
		},
		{
			file: "lti/07-launch-educator1-cm3-instructor/179-id-token-LtiResourceLinkRequest.jwt", iat: 1795715022,
			messageType: MessageResourceLink, sub: "3", nonce: "7f0a5068c69803297ebb579f31f62fae",
			roles: []string{instructorURI}, resourceLink: "2",
			lineItem:   "http://127.0.0.1:8000/mod/lti/services.php/2/lineitems/4/lineitem?type_id=1",
			customKind: "peer_discussion",
		},
		{
			// Two line items on the link: Moodle leaves lineitem out.
			file: "lti/08-launch-learner2-cm2-two-lineitems/239-id-token-LtiResourceLinkRequest.jwt", iat: 1795715348,
			messageType: MessageResourceLink, sub: "5", roles: []string{learnerURI}, resourceLink: "1",
			customKind: "peer_discussion",
		},
		{
			file: "lti/09-launch-learner2-cm2/286-id-token-LtiResourceLinkRequest.jwt", iat: 1795715560,
			messageType: MessageResourceLink, sub: "5", roles: []string{learnerURI}, resourceLink: "1",
			lineItem:   "http://127.0.0.1:8000/mod/lti/services.php/2/lineitems/2/lineitem?type_id=1",
			customKind: "peer_discussion",
		},
		{
			file: "lti/11-deep-linking-multi/344-id-token-LtiDeepLinkingRequest.jwt", iat: 1795715742,
			messageType: MessageDeepLinkingRequest, sub: "3", nonce: "502c6895c0de7b88107e731bdba56ef4",
			roles: []string{instructorURI},
		},
	}

	t.Run("group", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(filepath.Base(tt.file), func(t *testing.T) {
				t.Parallel()
				raw := strings.TrimSpace(string(readFixture(t, tt.file)))
				// Pin the clock inside the token's 60 s window.
				now := time.Unix(tt.iat+30, 0)
				v := NewVerifier(VerifierConfig{Keys: keys, Now: func() time.Time { return now }})

				launch, err := v.VerifyIDToken(context.Background(), raw, platform)
				require.NoError(t, err)

				require.Equal(t, tt.messageType, launch.MessageType)
				require.Equal(t, "1.3.0", launch.Version)
				require.Equal(t, "1", launch.DeploymentID)
				require.Equal(t, tt.sub, launch.Subject)
				require.Equal(t, moodleIssuer, launch.Issuer)
				require.NotEmpty(t, launch.Nonce)
				if tt.nonce != "" {
					require.Equal(t, tt.nonce, launch.Nonce)
				}
				require.Equal(t, tt.roles, launch.Roles)
				require.Equal(t, time.Unix(tt.iat, 0), launch.IssuedAt.Local())
				require.Equal(t, time.Unix(tt.iat+60, 0), launch.ExpiresAt.Local())
				require.NotEmpty(t, launch.Email)
				require.NotEmpty(t, launch.GivenName)
				require.NotEmpty(t, launch.FamilyName)
				require.NotEmpty(t, launch.Name)

				require.NotNil(t, launch.Context)
				require.Equal(t, Context{ID: "2", Label: "FTP1", Title: "Foundation Teaching Programme", Type: []string{"CourseSection"}}, *launch.Context)
				require.NotNil(t, launch.ToolPlatform)
				require.Equal(t, "moodle", launch.ToolPlatform.ProductFamilyCode)
				require.NotNil(t, launch.LIS)
				require.Equal(t, "FTP1-2025", launch.LIS.CourseSectionSourcedID)
				require.NotNil(t, launch.NRPS)
				require.Equal(t, "http://127.0.0.1:8000/mod/lti/services.php/CourseSection/2/bindings/1/memberships", launch.NRPS.ContextMembershipsURL)
				require.Equal(t, []string{"1.0", "2.0"}, launch.NRPS.ServiceVersions)
				require.NotNil(t, launch.AGS)
				require.Equal(t, "http://127.0.0.1:8000/mod/lti/services.php/2/lineitems?type_id=1", launch.AGS.LineItems)
				require.Equal(t, tt.lineItem, launch.AGS.LineItem)
				require.True(t, launch.AGS.HasScope("https://purl.imsglobal.org/spec/lti-ags/scope/score"))
				require.Equal(t, "FTP1-2025", launch.Custom["moodle_course_id"])
				require.Equal(t, tt.sub, launch.Custom["moodle_user_id"])
				require.Equal(t, tt.customKind, launch.Custom["activity_kind"])
				require.NotNil(t, launch.LaunchPresentation)
				require.Equal(t, "en", launch.LaunchPresentation.Locale)
				require.Empty(t, launch.StorageTarget)

				switch tt.messageType {
				case MessageResourceLink:
					require.NotNil(t, launch.ResourceLink)
					require.Equal(t, tt.resourceLink, launch.ResourceLink.ID)
					require.NotEmpty(t, launch.ResourceLink.Title)
					require.Nil(t, launch.DeepLinking)
					require.Equal(t, "iframe", launch.LaunchPresentation.DocumentTarget)
					require.True(t, strings.HasPrefix(launch.LaunchPresentation.ReturnURL, "http://127.0.0.1:8000/mod/lti/return.php?"))
				case MessageDeepLinkingRequest:
					require.Nil(t, launch.ResourceLink)
					dl := launch.DeepLinking
					require.NotNil(t, dl)
					require.True(t, strings.HasPrefix(dl.DeepLinkReturnURL, "http://127.0.0.1:8000/mod/lti/contentitem_return.php?course=2&id=1&sesskey="))
					require.Equal(t, []string{"ltiResourceLink"}, dl.AcceptTypes)
					require.Equal(t, []string{"frame", "iframe", "window"}, dl.AcceptPresentationDocumentTargets)
					require.True(t, dl.AcceptMultiple)
					require.False(t, dl.AutoCreate)
					require.Equal(t, "Capture Tool (dynamic registration)", dl.Title)
					require.Empty(t, dl.Data)
				}
			})
		}
	})

	// Seven launches, one fetch of the platform's keys.
	require.Equal(t, 1, keys.Fetches(platform.JWKSURL))
	require.Equal(t, int64(1), jwks.hits.Load())
}

func TestVerifyIDTokenRejections(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		claims func(now time.Time) map[string]any
		code   Code
	}{
		{"expired", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now.Add(-2 * time.Minute))
			return c
		}, CodeTokenExpired},
		{"expired just beyond leeway", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now.Add(-66 * time.Second))
			return c
		}, CodeTokenExpired},
		{"iat in the future", func(now time.Time) map[string]any {
			return resourceLinkClaims(now.Add(30 * time.Second))
		}, CodeTokenNotYetValid},
		{"nbf in the future", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c["nbf"] = now.Add(time.Minute).Unix()
			return c
		}, CodeTokenNotYetValid},
		{"missing exp", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			delete(c, "exp")
			return c
		}, CodeMissingClaim},
		{"wrong aud", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c["aud"] = "someone-else"
			return c
		}, CodeBadAudience},
		{"aud array without client_id", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c["aud"] = []string{"a", "b"}
			return c
		}, CodeBadAudience},
		{"wrong iss", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c["iss"] = "https://evil.example"
			return c
		}, CodeBadIssuer},
		// Claim names are case-sensitive (RFC 7519 §4): "ISS" is not iss, however
		// Go's JSON decoding matches struct fields.
		{"iss only in other case", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c["ISS"] = c["iss"]
			delete(c, "iss")
			return c
		}, CodeBadIssuer},
		{"exp only in other case", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c["Exp"] = c["exp"]
			delete(c, "exp")
			return c
		}, CodeMissingClaim},
		{"azp mismatch", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c["azp"] = "other-client"
			return c
		}, CodeBadAZP},
		{"several aud without azp", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c["aud"] = []string{moodleClientID, "other-client"}
			return c
		}, CodeBadAZP},
		{"several aud with wrong azp", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c["aud"] = []string{moodleClientID, "other-client"}
			c["azp"] = "other-client"
			return c
		}, CodeBadAZP},
		{"unregistered deployment", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c[ClaimDeploymentID] = "2"
			return c
		}, CodeUnknownDeployment},
		{"missing deployment", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			delete(c, ClaimDeploymentID)
			return c
		}, CodeMissingClaim},
		{"wrong version", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c[ClaimVersion] = "1.1"
			return c
		}, CodeBadVersion},
		{"missing version", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			delete(c, ClaimVersion)
			return c
		}, CodeMissingClaim},
		{"unsupported message type", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c[ClaimMessageType] = "LtiSubmissionReviewRequest"
			return c
		}, CodeUnsupportedMessageType},
		{"deep linking response posted as a launch", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c[ClaimMessageType] = "LtiDeepLinkingResponse"
			return c
		}, CodeUnsupportedMessageType},
		{"missing message type", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			delete(c, ClaimMessageType)
			return c
		}, CodeMissingClaim},
		{"missing sub", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			delete(c, "sub")
			return c
		}, CodeMissingClaim},
		{"sub too long", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c["sub"] = strings.Repeat("x", 256)
			return c
		}, CodeInvalidClaim},
		{"missing roles", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			delete(c, ClaimRoles)
			return c
		}, CodeMissingClaim},
		{"roles not an array", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c[ClaimRoles] = "Learner"
			return c
		}, CodeInvalidClaim},
		{"missing nonce", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			delete(c, "nonce")
			return c
		}, CodeMissingClaim},
		{"missing target_link_uri", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			delete(c, ClaimTargetLinkURI)
			return c
		}, CodeMissingClaim},
		{"missing resource_link", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			delete(c, ClaimResourceLink)
			return c
		}, CodeMissingClaim},
		{"resource_link without id", func(now time.Time) map[string]any {
			c := resourceLinkClaims(now)
			c[ClaimResourceLink] = map[string]any{"title": "no id"}
			return c
		}, CodeMissingClaim},
		{"missing deep_linking_settings", func(now time.Time) map[string]any {
			c := deepLinkingClaims(now)
			delete(c, ClaimDeepLinking)
			return c
		}, CodeMissingClaim},
		{"missing deep_link_return_url", func(now time.Time) map[string]any {
			c := deepLinkingClaims(now)
			c[ClaimDeepLinking] = map[string]any{"accept_types": []string{"ltiResourceLink"}}
			return c
		}, CodeMissingClaim},
		{"deep_link_return_url not http", func(now time.Time) map[string]any {
			c := deepLinkingClaims(now)
			c[ClaimDeepLinking] = map[string]any{"deep_link_return_url": "javascript:alert(1)"}
			return c
		}, CodeInvalidClaim},
	}

	tp := setup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw := sign(t, tp.key, tt.claims(testNow))
			_, err := tp.verifier.VerifyIDToken(context.Background(), raw, tp.platform)
			lerr := launchErrorOf(t, err, tt.code)
			// A rejection never carries the token or the person's data.
			require.NotContains(t, lerr.Error(), raw[:40])
			require.NotContains(t, lerr.Error(), "Lena")
			require.NotContains(t, lerr.Error(), "learner1@example.com")
			require.NotContains(t, lerr.Message, "Lena")
		})
	}

	t.Run("valid tokens pass", func(t *testing.T) {
		t.Parallel()
		for _, c := range []map[string]any{
			resourceLinkClaims(testNow),
			resourceLinkClaims(testNow.Add(-64 * time.Second)), // expired 4 s ago: within leeway
			deepLinkingClaims(testNow),
			func() map[string]any { // empty roles are allowed (LTI Core 5.3.7)
				c := resourceLinkClaims(testNow)
				c[ClaimRoles] = []string{}
				return c
			}(),
			func() map[string]any { // several audiences with azp = our client_id
				c := resourceLinkClaims(testNow)
				c["aud"] = []string{"other-client", moodleClientID}
				c["azp"] = moodleClientID
				return c
			}(),
		} {
			_, err := tp.verifier.VerifyIDToken(context.Background(), sign(t, tp.key, c), tp.platform)
			require.NoError(t, err)
		}
	})
}

// TestVerifyIDTokenMaxAge: a token older than the maximum age is refused even when its
// exp is still ahead. Moodle's exp is 60 s after iat, but another platform may issue
// tokens that live for hours, and a captured one must not be replayable that long.
func TestVerifyIDTokenMaxAge(t *testing.T) {
	t.Parallel()

	// issued is a token of message type claims issued at iat, expiring at exp, both
	// relative to testNow.
	issued := func(claims func(time.Time) map[string]any, iat, exp time.Duration) map[string]any {
		c := claims(testNow.Add(iat))
		c["exp"] = testNow.Add(exp).Unix()
		return c
	}
	tests := []struct {
		name   string
		maxAge time.Duration // VerifierConfig.MaxTokenAge; zero is the default
		leeway time.Duration // VerifierConfig.Leeway; zero is the default
		claims map[string]any
		code   Code // empty: accepted
	}{
		{name: "issued 4 minutes ago", claims: issued(resourceLinkClaims, -4*time.Minute, time.Minute)},
		{name: "issued 6 minutes ago, exp still ahead", claims: issued(resourceLinkClaims, -6*time.Minute, time.Minute), code: CodeTokenTooOld},
		{name: "issued 6 minutes ago, exp hours ahead", claims: issued(resourceLinkClaims, -6*time.Minute, 8*time.Hour), code: CodeTokenTooOld},
		{name: "deep linking request issued 6 minutes ago", claims: issued(deepLinkingClaims, -6*time.Minute, time.Minute), code: CodeTokenTooOld},
		{name: "deep linking request issued 4 minutes ago", claims: issued(deepLinkingClaims, -4*time.Minute, time.Minute)},
		// The default leeway (5 s) is added to the maximum age, as to exp and iat.
		{name: "at the maximum age plus leeway", claims: issued(resourceLinkClaims, -5*time.Minute-5*time.Second, time.Minute)},
		{name: "just beyond the maximum age plus leeway", claims: issued(resourceLinkClaims, -5*time.Minute-6*time.Second, time.Minute), code: CodeTokenTooOld},
		{name: "a wider leeway widens the maximum age", leeway: 30 * time.Second, claims: issued(resourceLinkClaims, -5*time.Minute-30*time.Second, time.Minute)},
		// Security Framework 5.1.3 step 8: iat must not be in the future beyond the leeway.
		{name: "iat in the future within leeway", claims: issued(resourceLinkClaims, 5*time.Second, time.Minute)},
		{name: "iat in the future beyond leeway", claims: issued(resourceLinkClaims, 6*time.Second, time.Minute), code: CodeTokenNotYetValid},
		{name: "iat an hour in the future", claims: issued(resourceLinkClaims, time.Hour, 2*time.Hour), code: CodeTokenNotYetValid},
		// An expired token says so, whatever its age: that is what the person can act on.
		{name: "expired and too old", claims: issued(resourceLinkClaims, -10*time.Minute, -9*time.Minute), code: CodeTokenExpired},
		{name: "custom maximum age allows an older token", maxAge: 30 * time.Minute, claims: issued(resourceLinkClaims, -20*time.Minute, time.Hour)},
		{name: "custom maximum age refuses beyond it", maxAge: 30 * time.Minute, claims: issued(resourceLinkClaims, -31*time.Minute, time.Hour), code: CodeTokenTooOld},
		{name: "shorter custom maximum age", maxAge: time.Minute, claims: issued(resourceLinkClaims, -2*time.Minute, time.Minute), code: CodeTokenTooOld},
		{name: "shorter custom maximum age within it", maxAge: time.Minute, claims: issued(resourceLinkClaims, -50*time.Second, time.Minute)},
	}

	tp := setup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := NewVerifier(VerifierConfig{Keys: tp.keys, Now: tp.clock.Now, Leeway: tt.leeway, MaxTokenAge: tt.maxAge})
			raw := sign(t, tp.key, tt.claims)
			launch, err := v.VerifyIDToken(context.Background(), raw, tp.platform)
			if tt.code == "" {
				require.NoError(t, err)
				require.Equal(t, tt.claims["iat"], launch.IssuedAt.Unix())
				return
			}
			lerr := launchErrorOf(t, err, tt.code)
			require.NotContains(t, lerr.Error(), raw[:40])
		})
	}
}

func TestVerifyIDTokenRejectsForgedSignatures(t *testing.T) {
	t.Parallel()
	tp := setup(t)
	claims := resourceLinkClaims(testNow)

	pub, err := tp.key.PublicKey()
	require.NoError(t, err)
	var rawPub rsa.PublicKey
	require.NoError(t, pub.Raw(&rawPub))
	der, err := x509.MarshalPKIXPublicKey(&rawPub)
	require.NoError(t, err)
	pemPub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwkPub, err := json.Marshal(pub)
	require.NoError(t, err)

	// hmacWith signs the claims HS256 with secret, naming the platform's kid.
	hmacWith := func(secret []byte) string {
		tok := jwt.New()
		for k, v := range claims {
			require.NoError(t, tok.Set(k, v))
		}
		hdr := jws.NewHeaders()
		require.NoError(t, hdr.Set(jws.KeyIDKey, "platform-key-1"))
		b, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256, secret, jws.WithProtectedHeaders(hdr)))
		require.NoError(t, err)
		return string(b)
	}
	valid := sign(t, tp.key, claims)
	parts := strings.Split(valid, ".")

	tests := []struct {
		name string
		raw  string
		code Code
	}{
		{"alg none", b64(map[string]string{"alg": "none", "kid": "platform-key-1"}) + "." + parts[1] + ".", CodeBadAlgorithm},
		{"alg None", b64(map[string]string{"alg": "None", "kid": "platform-key-1"}) + "." + parts[1] + ".", CodeBadAlgorithm},
		{"HS256 with the PEM public key as secret", hmacWith(pemPub), CodeBadAlgorithm},
		{"HS256 with the JWK public key as secret", hmacWith(jwkPub), CodeBadAlgorithm},
		{"HS256 with the DER public key as secret", hmacWith(der), CodeBadAlgorithm},
		{"RS512 header", b64(map[string]string{"alg": "RS512", "kid": "platform-key-1"}) + "." + parts[1] + "." + parts[2], CodeBadAlgorithm},
		{"crit header", func() string {
			tok := jwt.New()
			for k, v := range claims {
				require.NoError(t, tok.Set(k, v))
			}
			hdr := jws.NewHeaders()
			require.NoError(t, hdr.Set(jws.CriticalKey, []string{"http://example.com/ext"}))
			b, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, tp.key, jws.WithProtectedHeaders(hdr)))
			require.NoError(t, err)
			return string(b)
		}(), CodeMalformedToken},
		{"signature from another key", sign(t, privateJWK(t, 1, "platform-key-1"), claims), CodeBadSignature},
		{"payload swapped", parts[0] + "." + b64(resourceLinkClaims(testNow.Add(time.Second))) + "." + parts[2], CodeBadSignature},
		{"signature stripped", parts[0] + "." + parts[1] + ".", CodeBadSignature},
		// The signature covers the header as sent too: one still naming RS256 and the
		// platform's key, but not the one signed, fails.
		{"header swapped", b64(map[string]string{"alg": "RS256", "kid": "platform-key-1", "typ": "JWT", "x": "1"}) + "." + parts[1] + "." + parts[2], CodeBadSignature},
		{"signature not base64url", parts[0] + "." + parts[1] + "." + parts[2] + "*", CodeMalformedToken},
		{"no kid", func() string {
			tok := jwt.New()
			for k, v := range claims {
				require.NoError(t, tok.Set(k, v))
			}
			var raw rsa.PrivateKey
			require.NoError(t, tp.key.Raw(&raw))
			b, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, &raw))
			require.NoError(t, err)
			return string(b)
		}(), CodeUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tp.verifier.VerifyIDToken(context.Background(), tt.raw, tp.platform)
			requireCode(t, err, tt.code)
		})
	}
}

func TestVerifyIDTokenKeyAlgorithmMustMatch(t *testing.T) {
	t.Parallel()
	tp := setup(t)
	// The platform publishes its key marked for RS512 only; an RS256 token must not pass.
	pub, err := tp.key.PublicKey()
	require.NoError(t, err)
	require.NoError(t, pub.Set(jwk.AlgorithmKey, jwa.RS512))
	set := jwk.NewSet()
	require.NoError(t, set.AddKey(pub))
	body, err := json.Marshal(set)
	require.NoError(t, err)
	tp.jwks.setBody(body)

	_, err = tp.verifier.VerifyIDToken(context.Background(), sign(t, tp.key, resourceLinkClaims(testNow)), tp.platform)
	requireCode(t, err, CodeBadAlgorithm)
}

func TestVerifyIDTokenMalformed(t *testing.T) {
	t.Parallel()
	tp := setup(t)
	valid := sign(t, tp.key, resourceLinkClaims(testNow))
	parts := strings.Split(valid, ".")

	tests := []struct {
		name string
		raw  string
		code Code
	}{
		{"empty", "", CodeMalformedToken},
		{"garbage", "not a token", CodeMalformedToken},
		{"two parts", parts[0] + "." + parts[1], CodeMalformedToken},
		{"four parts", valid + ".x", CodeMalformedToken},
		{"bad base64 header", "!!!." + parts[1] + "." + parts[2], CodeMalformedToken},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[1] + "." + parts[2], CodeMalformedToken},
		{"unencoded payload", b64(map[string]any{"alg": "RS256", "kid": "platform-key-1", "b64": false}) + "." + parts[1] + "." + parts[2], CodeMalformedToken},
		{"bad base64 payload", parts[0] + ".!!!." + parts[2], CodeMalformedToken},
		{"payload not JSON", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[2], CodeMalformedToken},
		{"payload null", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("null")) + "." + parts[2], CodeMalformedToken},
		{"payload an array", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`["iss"]`)) + "." + parts[2], CodeMalformedToken},
		{"iss not a string", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":{"a":1}}`)) + "." + parts[2], CodeMalformedToken},
		{"JSON serialization", `{"payload":"e30","signatures":[]}`, CodeMalformedToken},
		{"oversized", strings.Repeat("a", MaxTokenSize+1), CodeTokenTooLarge},
		{"oversized but well formed", parts[0] + "." + strings.Repeat("A", MaxTokenSize) + "." + parts[2], CodeTokenTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tp.verifier.VerifyIDToken(context.Background(), tt.raw, tp.platform)
			requireCode(t, err, tt.code)
		})
	}
	// None of these needed the platform's keys.
	require.Equal(t, 0, tp.keys.Fetches(tp.platform.JWKSURL))
}

// A header is remembered only once a token carrying it verified, so a forger cannot
// fill the cache, and the cache stays bounded whatever it is given.
func TestVerifyIDTokenRemembersOnlyVerifiedHeaders(t *testing.T) {
	t.Parallel()
	tp := setup(t)
	ctx := context.Background()
	valid := sign(t, tp.key, resourceLinkClaims(testNow))
	header, _, _ := strings.Cut(valid, ".")

	// The same header (alg and kid), signed with a key that is not the platform's.
	forged := sign(t, privateJWK(t, 2, "platform-key-1"), resourceLinkClaims(testNow))
	forgedHeader, _, _ := strings.Cut(forged, ".")
	require.Equal(t, header, forgedHeader)
	_, err := tp.verifier.VerifyIDToken(ctx, forged, tp.platform)
	requireCode(t, err, CodeBadSignature)
	_, cached := tp.verifier.headers.get(header)
	require.False(t, cached, "a header is remembered before its token verified")

	_, err = tp.verifier.VerifyIDToken(ctx, valid, tp.platform)
	require.NoError(t, err)
	_, cached = tp.verifier.headers.get(header)
	require.True(t, cached)
	// The remembered header serves the next launch, and a forgery still fails.
	c := resourceLinkClaims(testNow)
	c["nonce"] = "another"
	_, err = tp.verifier.VerifyIDToken(ctx, sign(t, tp.key, c), tp.platform)
	require.NoError(t, err)
	_, err = tp.verifier.VerifyIDToken(ctx, forged, tp.platform)
	requireCode(t, err, CodeBadSignature)

	for i := range 3 * maxCachedHeaders {
		tp.verifier.headers.add(fmt.Sprintf("header-%d", i), jws.NewHeaders())
		require.LessOrEqual(t, len(*tp.verifier.headers.m.Load()), maxCachedHeaders)
		_, cached := tp.verifier.headers.get(fmt.Sprintf("header-%d", i))
		require.True(t, cached, "the newest header is kept")
	}
}

// Each platform key's RSA public key is converted once and kept for that key only:
// a key replaced under the same kid (a new fetch of the key set) gets its own, and
// the cache stays bounded.
func TestVerifyIDTokenConvertsEachKeyOnce(t *testing.T) {
	t.Parallel()
	var c rsaKeyCache
	publicOf := func(k jwk.Key) jwk.Key {
		pub, err := k.PublicKey()
		require.NoError(t, err)
		return pub
	}
	old, rotated := publicOf(privateJWK(t, 0, "same-kid")), publicOf(privateJWK(t, 1, "same-kid"))
	first, err := c.publicKey(old)
	require.NoError(t, err)
	require.Equal(t, rsaTestKeys()[0].PublicKey.N, first.N)
	again, err := c.publicKey(old)
	require.NoError(t, err)
	require.Same(t, first, again, "converted again")
	other, err := c.publicKey(rotated)
	require.NoError(t, err)
	require.Equal(t, rsaTestKeys()[1].PublicKey.N, other.N, "the old key's answer for a new key with its kid")

	for i := range 3 * maxCachedKeys {
		k := publicOf(privateJWK(t, i%2, fmt.Sprintf("key-%d", i)))
		pub, err := c.publicKey(k)
		require.NoError(t, err)
		require.Equal(t, rsaTestKeys()[i%2].PublicKey.N, pub.N)
		require.LessOrEqual(t, len(*c.m.Load()), maxCachedKeys)
		require.Contains(t, *c.m.Load(), k, "the newest key is kept")
	}
}

func TestVerifyIDTokenPlatformNotConfigured(t *testing.T) {
	t.Parallel()
	tp := setup(t)
	p := tp.platform
	p.JWKSURL = ""
	_, err := tp.verifier.VerifyIDToken(context.Background(), sign(t, tp.key, resourceLinkClaims(testNow)), p)
	requireCode(t, err, CodePlatformNotConfigured)
}

func TestVerifyIDTokenKeysUnavailable(t *testing.T) {
	t.Parallel()
	tp := setup(t)
	tp.jwks.setBody([]byte("<html>503</html>"))
	_, err := tp.verifier.VerifyIDToken(context.Background(), sign(t, tp.key, resourceLinkClaims(testNow)), tp.platform)
	lerr := launchErrorOf(t, err, CodeKeysUnavailable)
	require.ErrorIs(t, lerr, ErrKeySetUnavailable)
}

func TestVerifyIDTokenFetchesKeysOnce(t *testing.T) {
	t.Parallel()
	tp := setup(t)
	for i := range 50 {
		tp.clock.Advance(time.Second)
		c := resourceLinkClaims(tp.clock.Now())
		c["nonce"] = "n" + strings.Repeat("x", i)
		_, err := tp.verifier.VerifyIDToken(context.Background(), sign(t, tp.key, c), tp.platform)
		require.NoError(t, err)
	}
	require.Equal(t, 1, tp.keys.Fetches(tp.platform.JWKSURL))
	require.Equal(t, int64(1), tp.jwks.hits.Load())
	_, sentUA := tp.jwks.userAgents.Load(testUserAgent)
	require.True(t, sentUA, "the configured User-Agent is sent")
}

func TestVerifyIDTokenKeyRotation(t *testing.T) {
	t.Parallel()
	tp := setup(t)
	ctx := context.Background()

	// First launch: the set is fetched once.
	_, err := tp.verifier.VerifyIDToken(ctx, sign(t, tp.key, resourceLinkClaims(tp.clock.Now())), tp.platform)
	require.NoError(t, err)
	require.Equal(t, 1, tp.keys.Fetches(tp.platform.JWKSURL))

	// Moodle rotates its key; the next launch names the new kid and triggers one refetch.
	rotated := privateJWK(t, 1, "platform-key-2")
	tp.jwks.setBody(jwksOf(t, rotated))
	tp.clock.Advance(DefaultRefetchInterval + time.Second)
	launch, err := tp.verifier.VerifyIDToken(ctx, sign(t, rotated, resourceLinkClaims(tp.clock.Now())), tp.platform)
	require.NoError(t, err)
	require.Equal(t, "4", launch.Subject)
	require.Equal(t, 2, tp.keys.Fetches(tp.platform.JWKSURL))

	// Launches with the new key need no more fetches.
	_, err = tp.verifier.VerifyIDToken(ctx, sign(t, rotated, resourceLinkClaims(tp.clock.Now())), tp.platform)
	require.NoError(t, err)
	require.Equal(t, 2, tp.keys.Fetches(tp.platform.JWKSURL))

	// Another unknown kid inside the rate-limit window: rejected without a fetch.
	tp.clock.Advance(5 * time.Second)
	stranger := privateJWK(t, 2, "platform-key-3")
	_, err = tp.verifier.VerifyIDToken(ctx, sign(t, stranger, resourceLinkClaims(tp.clock.Now())), tp.platform)
	lerr := launchErrorOf(t, err, CodeUnknownKey)
	require.ErrorIs(t, lerr, ErrKeyNotFound)
	require.Equal(t, 2, tp.keys.Fetches(tp.platform.JWKSURL))

	// Once the window has passed the unknown kid may cause one more fetch, still rejected.
	tp.clock.Advance(DefaultRefetchInterval)
	_, err = tp.verifier.VerifyIDToken(ctx, sign(t, stranger, resourceLinkClaims(tp.clock.Now())), tp.platform)
	requireCode(t, err, CodeUnknownKey)
	require.Equal(t, 3, tp.keys.Fetches(tp.platform.JWKSURL))
	require.Equal(t, int64(3), tp.jwks.hits.Load())
}

func TestVerifyIDTokenConcurrentUnknownKidCoalesces(t *testing.T) {
	t.Parallel()
	tp := setup(t)
	ctx := context.Background()
	_, err := tp.verifier.VerifyIDToken(ctx, sign(t, tp.key, resourceLinkClaims(tp.clock.Now())), tp.platform)
	require.NoError(t, err)

	rotated := privateJWK(t, 1, "platform-key-2")
	tp.jwks.setBody(jwksOf(t, tp.key, rotated))
	tp.clock.Advance(DefaultRefetchInterval + time.Second)
	// Hold the refetch open so that the launches pile up behind it.
	gate := make(chan struct{})
	tp.jwks.gate.Store(&gate)

	const launches = 20
	tokens := make([]string, launches)
	for i := range tokens {
		c := resourceLinkClaims(tp.clock.Now())
		c["nonce"] = strings.Repeat("n", i+1)
		tokens[i] = sign(t, rotated, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, launches)
	waiting := make(chan struct{}, launches)
	for _, raw := range tokens {
		ctx := NewWaitingContext(ctx, waiting)
		wg.Go(func() {
			_, err := tp.verifier.VerifyIDToken(ctx, raw, tp.platform)
			errs <- err
		})
	}
	// The refetch is held until every other launch waits behind it (the refetch's own
	// request outlives its launch's context, so that one never asks for Done), so that
	// a second refetch could not hide behind a slow launch.
	require.Eventually(t, func() bool { return tp.jwks.hits.Load() == 2 }, 10*time.Second, time.Millisecond)
	if n, ok := AwaitWaiting(waiting, launches-1); !ok {
		close(gate)
		t.Fatalf("%d of %d launches waiting for the key set after 10s", n, launches-1)
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 2, tp.keys.Fetches(tp.platform.JWKSURL))
	require.Equal(t, int64(2), tp.jwks.hits.Load())
}

func FuzzVerifyIDToken(f *testing.F) {
	// The fixture key avoids RSA key generation, which is very slow in instrumented
	// fuzz workers.
	tp := setupWithKey(f, toolKey(f))
	f.Add(sign(f, tp.key, resourceLinkClaims(testNow)))
	f.Add(sign(f, tp.key, deepLinkingClaims(testNow)))
	f.Add(strings.TrimSpace(string(readFixture(f, "lti/02-launch-learner1-cm2/026-id-token-LtiResourceLinkRequest.jwt"))))
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(`{"payload":"e30","signatures":[{"protected":"eyJhbGciOiJSUzI1NiJ9","signature":""}]}`)
	f.Fuzz(func(t *testing.T, raw string) {
		launch, err := tp.verifier.VerifyIDToken(context.Background(), raw, tp.platform)
		if err == nil {
			require.NotNil(t, launch)
			return
		}
		var lerr *LaunchError
		require.True(t, errors.As(err, &lerr), "got %T: %v", err, err)
		require.NotEmpty(t, lerr.Code)
		require.NotEmpty(t, lerr.Message)
	})
}
