package lti

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

const (
	// DefaultDeepLinkingLifetime is how long a signed response stays valid: long enough
	// for the browser to post it back, short enough to limit replay.
	DefaultDeepLinkingLifetime = 5 * time.Minute
	// DeepLinkingFormField is the form field that carries the response JWT to
	// deep_link_return_url (Deep Linking 2.0, "Deep linking response message").
	DeepLinkingFormField = "JWT"
)

// ContentItem is one ltiResourceLink content item (Deep Linking 2.0, "LTI Resource Link").
// Moodle turns each into an activity: Title becomes its name, Text its description, URL
// its launch URL and Custom its custom parameters.
type ContentItem struct {
	// Type defaults to ltiResourceLink, the only type Huddle creates.
	Type     string            `json:"type"`
	Title    string            `json:"title,omitempty"`
	Text     string            `json:"text,omitempty"`
	URL      string            `json:"url,omitempty"`
	Custom   map[string]string `json:"custom,omitempty"`
	LineItem *ContentLineItem  `json:"lineItem,omitempty"`
}

// ContentLineItem asks the platform to create a gradebook column for the link.
type ContentLineItem struct {
	ScoreMaximum float64 `json:"scoreMaximum"`
	Label        string  `json:"label,omitempty"`
	ResourceID   string  `json:"resourceId,omitempty"`
	Tag          string  `json:"tag,omitempty"`
}

// DeepLinkingResponse is what Huddle sends back from a deep linking request. An empty
// Items list is allowed and tells the platform nothing was chosen.
type DeepLinkingResponse struct {
	Items []ContentItem
	// Message and ErrorMessage are shown to the person by the platform; Log and ErrorLog
	// go to its logs.
	Message      string
	Log          string
	ErrorMessage string
	ErrorLog     string
}

// DeepLinkingReturn is a signed response ready to post: the HTTP layer renders an
// auto-submitting form that posts JWT as the field DeepLinkingFormField to ReturnURL.
type DeepLinkingReturn struct {
	ReturnURL string
	JWT       string
}

// DeepLinkingConfig configures a DeepLinkingSigner. Zero values get defaults.
type DeepLinkingConfig struct {
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// NewNonce returns a fresh nonce; 16 random bytes in hex if nil.
	NewNonce func() (string, error)
	// Lifetime is exp - iat; DefaultDeepLinkingLifetime if zero.
	Lifetime time.Duration
}

// DeepLinkingSigner builds and signs LtiDeepLinkingResponse messages.
type DeepLinkingSigner struct {
	now      func() time.Time
	newNonce func() (string, error)
	lifetime time.Duration
}

// NewDeepLinkingSigner returns a signer.
func NewDeepLinkingSigner(cfg DeepLinkingConfig) *DeepLinkingSigner {
	s := &DeepLinkingSigner{now: cfg.Now, newNonce: cfg.NewNonce, lifetime: cfg.Lifetime}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newNonce == nil {
		s.newNonce = randomNonce
	}
	if s.lifetime <= 0 {
		s.lifetime = DefaultDeepLinkingLifetime
	}
	return s
}

func randomNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// SignResponse builds the response to the deep linking request req, verified earlier by
// VerifyIDToken for platform p, and signs it RS256 with key, the tool's private RSA key
// (its kid goes in the header so the platform can pick it from Huddle's JWKS). It refuses
// content the request said the platform does not accept.
func (s *DeepLinkingSigner) SignResponse(req *Launch, p Platform, resp DeepLinkingResponse, key jwk.Key) (*DeepLinkingReturn, error) {
	if req == nil || req.MessageType != MessageDeepLinkingRequest || req.DeepLinking == nil ||
		req.DeepLinking.DeepLinkReturnURL == "" {
		return nil, fmt.Errorf("lti: deep linking response: %w: not answering a deep linking request", ErrInvalidDeepLinkingResponse)
	}
	if p.Issuer == "" || p.ClientID == "" || req.DeploymentID == "" {
		return nil, fmt.Errorf("lti: deep linking response: %w: platform issuer, client_id and deployment_id are required", ErrInvalidDeepLinkingResponse)
	}
	if err := checkSigningKey(key); err != nil {
		return nil, fmt.Errorf("lti: deep linking response: %w", err)
	}
	settings := req.DeepLinking
	items, err := acceptedItems(settings, resp.Items)
	if err != nil {
		return nil, fmt.Errorf("lti: deep linking response: %w", err)
	}
	nonce, err := s.newNonce()
	if err != nil {
		return nil, fmt.Errorf("lti: deep linking response: nonce: %w", err)
	}

	// Deep Linking 2.0, "Deep linking response message": the tool is the issuer and the
	// platform the audience, the reverse of a launch.
	now := s.now()
	tok := jwt.New()
	// Moodle sends aud as a string and the captured responses (lti/03) use a string too.
	tok.Options().Enable(jwt.FlattenAudience)
	claims := []claimValue{
		{jwt.IssuerKey, p.ClientID},
		{jwt.AudienceKey, []string{p.Issuer}},
		{jwt.IssuedAtKey, now.Unix()},
		{jwt.ExpirationKey, now.Add(s.lifetime).Unix()},
		{"nonce", nonce},
		{ClaimDeploymentID, req.DeploymentID},
		{ClaimMessageType, string(MessageDeepLinkingResponse)},
		{ClaimVersion, LTIVersion},
		{ClaimContentItems, items},
	}
	// data must be echoed when the request had it.
	optional := []struct{ name, value string }{
		{ClaimDeepLinkingData, settings.Data},
		{ClaimDeepLinkingMsg, resp.Message},
		{ClaimDeepLinkingLog, resp.Log},
		{ClaimDeepLinkingErrMsg, resp.ErrorMessage},
		{ClaimDeepLinkingErrLog, resp.ErrorLog},
	}
	for _, c := range optional {
		if c.value != "" {
			claims = append(claims, claimValue{c.name, c.value})
		}
	}
	for _, c := range claims {
		if err := tok.Set(c.name, c.value); err != nil {
			return nil, fmt.Errorf("lti: deep linking response: set %s: %w", c.name, err)
		}
	}

	headers := jws.NewHeaders()
	if err := headers.Set(jws.KeyIDKey, key.KeyID()); err != nil {
		return nil, fmt.Errorf("lti: deep linking response: header: %w", err)
	}
	if err := headers.Set(jws.TypeKey, "JWT"); err != nil {
		return nil, fmt.Errorf("lti: deep linking response: header: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, key, jws.WithProtectedHeaders(headers)))
	if err != nil {
		return nil, fmt.Errorf("lti: deep linking response: sign: %w", err)
	}
	return &DeepLinkingReturn{ReturnURL: settings.DeepLinkReturnURL, JWT: string(signed)}, nil
}

// claimValue is one claim to set on a token being built.
type claimValue struct {
	name  string
	value any
}

// acceptedItems applies accept_types and accept_multiple (Deep Linking 2.0, "Deep linking
// settings") and fills in the default item type. accept_lineitem is not enforced: Moodle
// 4.5 does not send it (fixture lti/03) yet creates the line items.
func acceptedItems(settings *DeepLinkingSettings, items []ContentItem) ([]ContentItem, error) {
	if len(items) > 1 && !settings.AcceptMultiple {
		return nil, fmt.Errorf("%w: %d items", ErrMultipleNotAccepted, len(items))
	}
	out := make([]ContentItem, len(items))
	for i, item := range items {
		if item.Type == "" {
			item.Type = ContentItemTypeResourceLink
		}
		if item.Type != ContentItemTypeResourceLink {
			return nil, fmt.Errorf("%w: item %d has type %q; Huddle only creates %s",
				ErrInvalidDeepLinkingResponse, i, item.Type, ContentItemTypeResourceLink)
		}
		if !settings.AcceptsType(item.Type) {
			return nil, fmt.Errorf("%w: %s", ErrContentTypeNotAccepted, item.Type)
		}
		out[i] = item
	}
	return out, nil
}

// checkSigningKey makes sure key can sign RS256 and has a kid for the platform to find.
func checkSigningKey(key jwk.Key) error {
	if key == nil {
		return fmt.Errorf("%w: no signing key", ErrInvalidDeepLinkingResponse)
	}
	if _, ok := key.(jwk.RSAPrivateKey); !ok {
		return fmt.Errorf("%w: signing key must be a private RSA key", ErrInvalidDeepLinkingResponse)
	}
	if key.KeyID() == "" {
		return fmt.Errorf("%w: signing key has no kid", ErrInvalidDeepLinkingResponse)
	}
	return nil
}
