package lti

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
)

// The tool side of LTI Dynamic Registration 1.0 (LTI-DR) as Moodle 4.5 speaks it. Moodle sends the
// administrator's browser to Huddle's registration page with openid_configuration and registration_token
// (LTI-DR 3.3); the page's handler calls FetchPlatformConfiguration, NewToolRegistration and Register, stores
// the result and closes the window. Nothing here touches HTTP handlers or storage.

// The AGS and NRPS scopes Huddle asks for. Moodle switches services on from them (registration_helper.php):
// lineitem gives "grade sync and column management", the others grade sync only, and the NRPS scope
// turns on the membership service.
const (
	regScopeLineItem         = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
	regScopeLineItemReadOnly = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
	regScopeResultReadOnly   = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
	regScopeScore            = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
	regScopeMemberships      = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
)

// RegistrationClientName is the client_name Moodle shows in Manage tools.
const RegistrationClientName = "Huddle"

const (
	// regMaxBodyBytes bounds what Huddle reads from a platform; Moodle's configuration is about 4 KiB.
	regMaxBodyBytes = 1 << 20
	// regSummaryChars bounds how much of an error body goes into an error's Detail.
	regSummaryChars = 200
	// regDeepLinkingPlacement is the placement Moodle advertises for LtiDeepLinkingRequest in its
	// messages_supported. Moodle 4.5 ignores placements on registration (it reads only type and
	// target_link_uri) but LTI-DR 3.5.2 lets a platform use them to decide where to offer the message,
	// so Huddle asks for the one Moodle offers. Canvas-only values such as "link_selection" mean
	// nothing to Moodle.
	regDeepLinkingPlacement = "ContentArea"
)

// PlatformConfiguration is the platform's OpenID configuration (LTI-DR 3.4), as far as Huddle uses it.
type PlatformConfiguration struct {
	Issuer                                     string                      `json:"issuer"`
	AuthorizationEndpoint                      string                      `json:"authorization_endpoint"`
	TokenEndpoint                              string                      `json:"token_endpoint"`
	JWKSURI                                    string                      `json:"jwks_uri"`
	RegistrationEndpoint                       string                      `json:"registration_endpoint"`
	ScopesSupported                            []string                    `json:"scopes_supported"`
	ResponseTypesSupported                     []string                    `json:"response_types_supported"`
	ClaimsSupported                            []string                    `json:"claims_supported"`
	IDTokenSigningAlgValuesSupported           []string                    `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported          []string                    `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string                    `json:"token_endpoint_auth_signing_alg_values_supported"`
	LTI                                        RegistrationPlatformDetails `json:"https://purl.imsglobal.org/spec/lti-platform-configuration"`
}

// RegistrationPlatformDetails is the lti-platform-configuration member of the platform's configuration
// (LTI-DR 3.4): which product it is and which messages and substitution variables it supports.
type RegistrationPlatformDetails struct {
	ProductFamilyCode string                         `json:"product_family_code"`
	Version           string                         `json:"version"`
	MessagesSupported []RegistrationMessageSupported `json:"messages_supported"`
	Variables         []string                       `json:"variables"`
}

// RegistrationMessageSupported is one entry of messages_supported.
type RegistrationMessageSupported struct {
	Type       string   `json:"type"`
	Placements []string `json:"placements,omitempty"`
}

// SupportsScope reports whether the platform lists scope in scopes_supported.
func (c *PlatformConfiguration) SupportsScope(scope string) bool {
	return slices.Contains(c.ScopesSupported, scope)
}

// ToolRegistrationOptions are Huddle's own URLs and settings, from its configuration.
type ToolRegistrationOptions struct {
	// BaseURL is where Huddle is served, e.g. https://huddle.example.org. Its host[:port] becomes the
	// domain; LaunchURL's host is used when it is empty.
	BaseURL string
	// LaunchURL receives LtiResourceLinkRequest launches; it is the target_link_uri.
	LaunchURL string
	// LoginURL is the OIDC login initiation endpoint (initiate_login_uri).
	LoginURL string
	// JWKSURL serves Huddle's public keys (jwks_uri).
	JWKSURL string
	// DeepLinkingURL receives LtiDeepLinkingRequest launches; LaunchURL if empty.
	DeepLinkingURL string
	// RedirectURIs are the only redirect_uri values Huddle will use in authentication requests; Moodle
	// compares them byte for byte, so list exactly what the login handler sends. [LaunchURL] if empty.
	RedirectURIs []string
	// LogoURL is optional.
	LogoURL string
	// Description is shown to administrators in Moodle.
	Description string
	// CustomParameters are sent with every launch, after Moodle substitutes $variables.
	CustomParameters map[string]string
}

// ToolRegistration is the client registration request body (LTI-DR 3.5.2, OpenID Connect Dynamic Client
// Registration 1.0 section 2 plus the lti-tool-configuration member).
type ToolRegistration struct {
	ApplicationType         string                        `json:"application_type"`
	ResponseTypes           []string                      `json:"response_types"`
	GrantTypes              []string                      `json:"grant_types"`
	InitiateLoginURI        string                        `json:"initiate_login_uri"`
	RedirectURIs            []string                      `json:"redirect_uris"`
	ClientName              string                        `json:"client_name"`
	JWKSURI                 string                        `json:"jwks_uri"`
	LogoURI                 string                        `json:"logo_uri,omitempty"`
	TokenEndpointAuthMethod string                        `json:"token_endpoint_auth_method"`
	Scope                   string                        `json:"scope"`
	ToolConfiguration       RegistrationToolConfiguration `json:"https://purl.imsglobal.org/spec/lti-tool-configuration"`
}

// RegistrationToolConfiguration is the lti-tool-configuration member of a registration (LTI-DR 3.5.2).
type RegistrationToolConfiguration struct {
	Domain           string                `json:"domain"`
	TargetLinkURI    string                `json:"target_link_uri"`
	CustomParameters map[string]string     `json:"custom_parameters,omitempty"`
	Claims           []string              `json:"claims"`
	Messages         []RegistrationMessage `json:"messages"`
	Description      string                `json:"description,omitempty"`
}

// RegistrationMessage is one message the tool supports (LTI-DR 3.5.2 messages).
type RegistrationMessage struct {
	Type          string   `json:"type"`
	TargetLinkURI string   `json:"target_link_uri,omitempty"`
	Label         string   `json:"label,omitempty"`
	Placements    []string `json:"placements,omitempty"`
}

// NewToolRegistration builds Huddle's registration request. Register checks it before sending.
func NewToolRegistration(opts ToolRegistrationOptions) ToolRegistration {
	redirects := slices.Clone(opts.RedirectURIs)
	if len(redirects) == 0 && opts.LaunchURL != "" {
		redirects = []string{opts.LaunchURL}
	}
	deepLinking := opts.DeepLinkingURL
	if deepLinking == "" {
		deepLinking = opts.LaunchURL
	}
	base := opts.BaseURL
	if base == "" {
		base = opts.LaunchURL
	}
	var domain string
	if u, err := url.Parse(base); err == nil {
		domain = u.Host
	}
	return ToolRegistration{
		ApplicationType: "web",
		// LTI-DR 3.5.2: id_token only (the OIDC implicit flow of Security Framework 5.1.1), and
		// client_credentials for the service token (Security Framework 4.1).
		ResponseTypes:    []string{"id_token"},
		GrantTypes:       []string{"implicit", "client_credentials"},
		InitiateLoginURI: opts.LoginURL,
		RedirectURIs:     redirects,
		ClientName:       RegistrationClientName,
		JWKSURI:          opts.JWKSURL,
		LogoURI:          opts.LogoURL,
		// Security Framework 4.1.1: the tool authenticates with a JWT signed by its own key.
		TokenEndpointAuthMethod: "private_key_jwt",
		Scope: strings.Join([]string{
			regScopeLineItem, regScopeLineItemReadOnly, regScopeResultReadOnly, regScopeScore, regScopeMemberships,
		}, " "),
		ToolConfiguration: RegistrationToolConfiguration{
			Domain:           domain,
			TargetLinkURI:    opts.LaunchURL,
			CustomParameters: maps.Clone(opts.CustomParameters),
			// Moodle sets "share launcher's name" from name/given_name/family_name and "share email"
			// from email; Huddle needs both to show who wrote what.
			Claims: []string{"iss", "sub", "name", "given_name", "family_name", "email"},
			Messages: []RegistrationMessage{
				{Type: string(MessageResourceLink), TargetLinkURI: opts.LaunchURL},
				{
					Type:          string(MessageDeepLinkingRequest),
					TargetLinkURI: deepLinking,
					Label:         RegistrationClientName,
					Placements:    []string{regDeepLinkingPlacement},
				},
			},
			Description: opts.Description,
		},
	}
}

// RegistrationResult is what the platform assigned Huddle (LTI-DR 3.6).
type RegistrationResult struct {
	ClientID     string
	DeploymentID string
	// Scope is what the platform says it granted, space separated; Moodle echoes what it switched on.
	Scope string
	// Configuration is the platform configuration the registration was made against.
	Configuration *PlatformConfiguration
}

// Platform turns the result into the Platform Huddle stores, created at now.
func (r *RegistrationResult) Platform(now time.Time) Platform {
	p := Platform{
		Issuer:    r.Configuration.Issuer,
		ClientID:  r.ClientID,
		AuthURL:   r.Configuration.AuthorizationEndpoint,
		TokenURL:  r.Configuration.TokenEndpoint,
		JWKSURL:   r.Configuration.JWKSURI,
		CreatedAt: now,
	}
	if r.DeploymentID != "" {
		p.DeploymentIDs = []string{r.DeploymentID}
	}
	return p
}

// RegistrationErrorCode is a stable reason a registration failed; the HTTP layer branches on it.
type RegistrationErrorCode string

// The reasons a registration fails.
const (
	RegistrationCodeConfigUnavailable RegistrationErrorCode = "config_unavailable"
	RegistrationCodeConfigInvalid     RegistrationErrorCode = "config_invalid"
	RegistrationCodeInsecureIssuer    RegistrationErrorCode = "insecure_issuer"
	RegistrationCodeIssuerMismatch    RegistrationErrorCode = "issuer_mismatch"
	RegistrationCodeToolMisconfigured RegistrationErrorCode = "tool_misconfigured"
	RegistrationCodeTokenUsed         RegistrationErrorCode = "token_already_used"
	RegistrationCodeTokenExpired      RegistrationErrorCode = "token_expired"
	RegistrationCodeTokenRejected     RegistrationErrorCode = "token_rejected"
	RegistrationCodeRejected          RegistrationErrorCode = "registration_rejected"
	RegistrationCodePlatformFailed    RegistrationErrorCode = "platform_failed"
	RegistrationCodeUnreachable       RegistrationErrorCode = "platform_unreachable"
	RegistrationCodeBadResponse       RegistrationErrorCode = "bad_response"
)

// regMessages are for the Moodle administrator running the registration: what happened and what to do.
var regMessages = map[RegistrationErrorCode]string{
	RegistrationCodeConfigUnavailable: "Huddle could not fetch your Moodle site's LTI configuration. " +
		"Check that your Moodle site can be reached from Huddle, then start the registration again from Manage tools.",
	RegistrationCodeConfigInvalid: "Your Moodle site's LTI configuration is missing something Huddle needs. " +
		"Check that Moodle's External tool plugin is enabled and up to date, then start the registration again from Manage tools.",
	RegistrationCodeInsecureIssuer: "Your Moodle site is not served over HTTPS, so Huddle will not register with it. " +
		"Set Moodle's wwwroot to an https:// address, then start the registration again from Manage tools.",
	RegistrationCodeIssuerMismatch: "The registration link did not come from the Moodle site it names, so Huddle stopped. " +
		"In Moodle, start the registration again from Manage tools; if this keeps happening, check Moodle's wwwroot setting.",
	RegistrationCodeToolMisconfigured: "Huddle's own settings are incomplete, so it cannot register. " +
		"Tell whoever runs Huddle to check its public address settings.",
	RegistrationCodeTokenUsed: "This registration link has already been used. " +
		"In Moodle, start the registration again from Manage tools.",
	RegistrationCodeTokenExpired: "This registration link has expired; Moodle's links last an hour. " +
		"In Moodle, start the registration again from Manage tools.",
	RegistrationCodeTokenRejected: "Your Moodle site did not accept this registration link. " +
		"In Moodle, start the registration again from Manage tools.",
	RegistrationCodeRejected: "Your Moodle site refused Huddle's registration. " +
		"Tell whoever runs Huddle; the details are in Huddle's log.",
	RegistrationCodePlatformFailed: "Your Moodle site had a problem while registering Huddle. " +
		"Wait a minute, then start the registration again from Manage tools; if it keeps happening, check Moodle's logs.",
	RegistrationCodeUnreachable: "Huddle could not reach your Moodle site to register. " +
		"Check that your Moodle site can be reached from Huddle, then start the registration again from Manage tools.",
	RegistrationCodeBadResponse: "Your Moodle site answered the registration in a way Huddle could not understand. " +
		"Check in Manage tools whether Huddle appears; if not, start the registration again.",
}

// RegistrationError is returned for every failed registration. Code is for programs, Message for the
// administrator, Detail for logs. None of them, nor Err, ever contains the registration token.
type RegistrationError struct {
	Code    RegistrationErrorCode
	Message string
	// Status is the platform's HTTP status, when it answered.
	Status int
	// Detail is a short technical note, e.g. a summary of the platform's error body.
	Detail string
	Err    error
}

func (e *RegistrationError) Error() string {
	msg := "lti: registration: " + string(e.Code)
	if e.Status != 0 {
		msg += fmt.Sprintf(": HTTP %d", e.Status)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *RegistrationError) Unwrap() error { return e.Err }

func regError(code RegistrationErrorCode, status int, detail string, cause error) *RegistrationError {
	return &RegistrationError{Code: code, Message: regMessages[code], Status: status, Detail: detail, Err: cause}
}

// RegistrationPolicy is what Dynamic Registration accepts from a platform. The zero value is
// production's: every platform URL must be https.
type RegistrationPolicy struct {
	// AllowInsecureLoopback accepts plain http URLs whose host is loopback (localhost, 127.0.0.0/8,
	// ::1), where the development platform and the captured Moodle run. Only development sets it, as
	// CheckPlatformURLs allows for `huddle platform add`.
	AllowInsecureLoopback bool
}

// FetchPlatformConfiguration downloads and checks the platform's OpenID configuration (LTI-DR 3.4).
// openidConfigURL comes from the query string of a browser request, so anyone can choose it: client should
// be an egress client, which refuses metadata and link-local addresses. A configuration URL or endpoint
// the policy refuses is a RegistrationError with code RegistrationCodeInsecureIssuer wrapping an
// *InsecureURLError.
func (rp RegistrationPolicy) FetchPlatformConfiguration(ctx context.Context, client *http.Client, openidConfigURL string) (*PlatformConfiguration, error) {
	configURL, err := url.Parse(openidConfigURL)
	if err != nil || configURL.Host == "" || configURL.User != nil {
		return nil, regError(RegistrationCodeConfigInvalid, 0, "openid_configuration is not an absolute URL", nil)
	}
	// Refuse before fetching: a plain-http configuration could have been altered on the way, and with it
	// every endpoint and key Huddle would trust.
	if ierr := checkPlatformURL("openid_configuration URL", openidConfigURL, rp.AllowInsecureLoopback); ierr != nil {
		return nil, regError(RegistrationCodeInsecureIssuer, 0,
			"openid_configuration is not https: "+configURL.Redacted(), ierr)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, configURL.String(), nil)
	if err != nil {
		return nil, regError(RegistrationCodeConfigInvalid, 0, "build request", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, regError(RegistrationCodeConfigUnavailable, 0, "GET "+configURL.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := regReadBody(resp.Body)
	if err != nil {
		return nil, regError(RegistrationCodeConfigUnavailable, resp.StatusCode, "read configuration", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, regError(RegistrationCodeConfigUnavailable, resp.StatusCode, regSummarise(body, ""), nil)
	}

	var cfg PlatformConfiguration
	if err := json.Unmarshal(body, &cfg); err != nil {
		return nil, regError(RegistrationCodeConfigInvalid, resp.StatusCode,
			"configuration is not JSON: "+regSummarise(body, ""), nil)
	}
	if err := rp.checkConfiguration(&cfg, configURL); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// checkConfiguration applies LTI-DR 3.4 and 3.5.1 and what Huddle itself needs.
func (rp RegistrationPolicy) checkConfiguration(cfg *PlatformConfiguration, configURL *url.URL) *RegistrationError {
	issuer, err := url.Parse(cfg.Issuer)
	if cfg.Issuer == "" || err != nil || issuer.Host == "" {
		return regError(RegistrationCodeConfigInvalid, 0, "issuer missing or not a URL", nil)
	}
	// OpenID Connect Discovery 1.0 section 3: the issuer is an https URL with no query or fragment.
	// Plain http is accepted only on loopback in development, where the development platform and the
	// captured Moodle fixtures run (http://127.0.0.1:8000); nothing on a loopback address crosses a network.
	if ierr := checkPlatformURL("issuer", cfg.Issuer, rp.AllowInsecureLoopback); ierr != nil {
		return regError(RegistrationCodeInsecureIssuer, 0, "issuer is not https: "+cfg.Issuer, ierr)
	}
	if issuer.RawQuery != "" || issuer.Fragment != "" || issuer.User != nil {
		return regError(RegistrationCodeConfigInvalid, 0, "issuer has a query, fragment or user info", nil)
	}
	// LTI-DR 3.5.1 (Issuer and OpenID Configuration URL Match): the openid_configuration URL must start
	// with the issuer. Compared as parsed URLs, and on a path-segment boundary, so that
	// https://moodle.example.org does not match https://moodle.example.org.evil.test/...
	if !regIssuerPrefixes(issuer, configURL) {
		return regError(RegistrationCodeIssuerMismatch, 0,
			fmt.Sprintf("issuer %s is not a prefix of %s", cfg.Issuer, configURL.Redacted()), nil)
	}

	// field names each endpoint as CheckPlatformURLs does, for the InsecureURLError.
	endpoints := []struct{ name, field, value string }{
		{"authorization_endpoint", "authentication request URL", cfg.AuthorizationEndpoint},
		{"token_endpoint", "access token URL", cfg.TokenEndpoint},
		{"jwks_uri", "key set URL", cfg.JWKSURI},
		{"registration_endpoint", "registration URL", cfg.RegistrationEndpoint},
	}
	for _, ep := range endpoints {
		if ep.value == "" {
			return regError(RegistrationCodeConfigInvalid, 0, ep.name+" missing", nil)
		}
		u, err := url.Parse(ep.value)
		if err != nil || u.Host == "" {
			return regError(RegistrationCodeConfigInvalid, 0, ep.name+" is not an absolute URL", nil)
		}
		// The registration token and Huddle's client assertions go to these, and keys come from them.
		if ierr := checkPlatformURL(ep.field, ep.value, rp.AllowInsecureLoopback); ierr != nil {
			return regError(RegistrationCodeInsecureIssuer, 0, ep.name+" is not https: "+u.Redacted(), ierr)
		}
	}
	// The Security Framework has platforms sign id_tokens with RS256, which is also the
	// only algorithm Huddle's launch verification accepts.
	if !slices.Contains(cfg.IDTokenSigningAlgValuesSupported, "RS256") {
		return regError(RegistrationCodeConfigInvalid, 0, "id_token_signing_alg_values_supported lacks RS256", nil)
	}
	// Optional in the configuration, but if listed it must allow the only method Huddle uses.
	if len(cfg.TokenEndpointAuthMethodsSupported) > 0 &&
		!slices.Contains(cfg.TokenEndpointAuthMethodsSupported, "private_key_jwt") {
		return regError(RegistrationCodeConfigInvalid, 0, "token_endpoint_auth_methods_supported lacks private_key_jwt", nil)
	}
	return nil
}

func regIssuerPrefixes(issuer, configURL *url.URL) bool {
	if !strings.EqualFold(issuer.Scheme, configURL.Scheme) || !strings.EqualFold(issuer.Host, configURL.Host) {
		return false
	}
	prefix := strings.TrimSuffix(issuer.EscapedPath(), "/")
	path := configURL.EscapedPath()
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

// Register sends reg to the platform's registration endpoint with the registration token (LTI-DR 3.5.2)
// and returns the client_id and deployment_id it assigned (LTI-DR 3.6). Moodle adds the tool as Pending;
// an administrator still has to activate it in Manage tools.
//
// The token is a bearer credential for creating a tool on the platform: it goes in the Authorization
// header and nowhere else, never into an error.
func Register(ctx context.Context, client *http.Client, cfg *PlatformConfiguration, registrationToken string, reg ToolRegistration) (*RegistrationResult, error) {
	if cfg == nil || cfg.RegistrationEndpoint == "" {
		return nil, regError(RegistrationCodeConfigInvalid, 0, "no registration_endpoint", nil)
	}
	if err := regCheckToolRegistration(reg); err != nil {
		return nil, err
	}
	body, err := json.Marshal(reg)
	if err != nil {
		return nil, regError(RegistrationCodeToolMisconfigured, 0, "encode registration", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.RegistrationEndpoint, bytes.NewReader(body))
	if err != nil {
		return nil, regError(RegistrationCodeConfigInvalid, 0, "registration_endpoint is not a URL", nil)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	// LTI-DR 3.5.2: the token is optional for a platform to issue, but when given it must be sent.
	if registrationToken != "" {
		req.Header.Set("Authorization", "Bearer "+registrationToken)
	}

	resp, err := client.Do(req)
	if err != nil {
		return nil, regError(RegistrationCodeUnreachable, 0, "POST "+req.URL.Redacted(), regScrub(err, registrationToken))
	}
	defer resp.Body.Close()
	respBody, err := regReadBody(resp.Body)
	if err != nil {
		return nil, regError(RegistrationCodeUnreachable, resp.StatusCode, "read response", regScrub(err, registrationToken))
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return nil, regStatusError(resp.StatusCode, respBody, registrationToken)
	}

	var out struct {
		ClientID          string `json:"client_id"`
		Scope             string `json:"scope"`
		ToolConfiguration struct {
			DeploymentID json.RawMessage `json:"deployment_id"`
		} `json:"https://purl.imsglobal.org/spec/lti-tool-configuration"`
	}
	// Judged by the body, not Content-Type: Moodle's service endpoints label JSON as text/html. A 200
	// that is not JSON is a PHP error page or a login page in front of Moodle.
	if err := json.Unmarshal(respBody, &out); err != nil {
		return nil, regError(RegistrationCodeBadResponse, resp.StatusCode,
			"response ("+resp.Header.Get("Content-Type")+") is not JSON: "+regSummarise(respBody, registrationToken), nil)
	}
	if out.ClientID == "" {
		return nil, regError(RegistrationCodeBadResponse, resp.StatusCode, "response has no client_id", nil)
	}
	deploymentID, err := regDeploymentID(out.ToolConfiguration.DeploymentID)
	if err != nil {
		return nil, regError(RegistrationCodeBadResponse, resp.StatusCode, "deployment_id", err)
	}
	return &RegistrationResult{
		ClientID:      out.ClientID,
		DeploymentID:  deploymentID,
		Scope:         out.Scope,
		Configuration: cfg,
	}, nil
}

// regDeploymentID accepts a string (Moodle: "1") or a bare number, which some platforms send.
// Absent is allowed: LTI-DR 3.6 makes deployment_id optional, and launches carry it anyway.
func regDeploymentID(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), nil
	}
	return "", errors.New("neither a string nor a number")
}

// regCheckToolRegistration catches what Moodle would refuse with a 400 (registration_helper.php),
// so the administrator hears about Huddle's settings rather than a Moodle error code.
func regCheckToolRegistration(reg ToolRegistration) *RegistrationError {
	tc := reg.ToolConfiguration
	required := []struct{ name, value string }{
		{"initiate_login_uri", reg.InitiateLoginURI},
		{"jwks_uri", reg.JWKSURI},
		{"client_name", reg.ClientName},
		{"target_link_uri", tc.TargetLinkURI},
		{"domain", tc.Domain},
	}
	for _, f := range required {
		if f.value == "" {
			return regError(RegistrationCodeToolMisconfigured, 0, f.name+" is empty", nil)
		}
	}
	if len(reg.RedirectURIs) == 0 {
		return regError(RegistrationCodeToolMisconfigured, 0, "redirect_uris is empty", nil)
	}
	if !slices.Contains(reg.ResponseTypes, "id_token") {
		return regError(RegistrationCodeToolMisconfigured, 0, "response_types lacks id_token", nil)
	}
	if reg.TokenEndpointAuthMethod != "private_key_jwt" {
		return regError(RegistrationCodeToolMisconfigured, 0, "token_endpoint_auth_method is not private_key_jwt", nil)
	}
	target, err := url.Parse(tc.TargetLinkURI)
	if err != nil || target.Host == "" {
		return regError(RegistrationCodeToolMisconfigured, 0, "target_link_uri is not an absolute URL", nil)
	}
	// Moodle answers domain_targetlinkuri_mismatch unless the domain's host equals target_link_uri's,
	// both compared without port and without a leading "www." or "wwwN.".
	if regMoodleDomain(tc.Domain) != regMoodleDomain(target.Host) {
		return regError(RegistrationCodeToolMisconfigured, 0,
			fmt.Sprintf("domain %s does not match the host of target_link_uri %s", tc.Domain, tc.TargetLinkURI), nil)
	}
	return nil
}

// regMoodleDomain reduces host[:port] the way Moodle's domain matching does.
func regMoodleDomain(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	if rest, ok := strings.CutPrefix(host, "www"); ok {
		rest = strings.TrimLeftFunc(rest, unicode.IsDigit)
		if after, ok := strings.CutPrefix(rest, "."); ok {
			host = after
		}
	}
	return host
}

// regStatusError maps a refusal from the registration endpoint. Moodle's bodies are bare words such as
// token_already_used, missing_registration_token, "missing required attribute domain" or
// domain_targetlinkuri_mismatch (openid-registration.php, registration_helper.php).
func regStatusError(status int, body []byte, token string) *RegistrationError {
	summary := regSummarise(body, token)
	word := strings.TrimSpace(string(body))
	switch {
	case word == "token_already_used":
		return regError(RegistrationCodeTokenUsed, status, summary, nil)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		// Moodle lets a JWT library exception escape for an expired or badly signed token, so its body
		// says little; an expired link is by far the commonest cause.
		if strings.Contains(strings.ToLower(word), "expired") {
			return regError(RegistrationCodeTokenExpired, status, summary, nil)
		}
		return regError(RegistrationCodeTokenRejected, status, summary, nil)
	case status >= 500:
		return regError(RegistrationCodePlatformFailed, status, summary, nil)
	default:
		return regError(RegistrationCodeRejected, status, summary, nil)
	}
}

// CheckRegistrationToken reports, before anything is sent, whether Moodle's registration token has
// expired at now. Moodle's token is a JWT valid for an hour (startltiadvregistration.php); reading its exp
// without verifying the signature is enough here because Moodle verifies it on receipt; the point is only to
// tell an administrator who left the page open "start again" instead of showing a Moodle exception. Tokens
// that are not JWTs, or carry no exp, pass: LTI-DR 3.3 treats the token as opaque.
func CheckRegistrationToken(token string, now time.Time) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == "" {
		return nil
	}
	exp, err := claims.Exp.Int64()
	if err != nil {
		return nil
	}
	if !now.Before(time.Unix(exp, 0)) {
		return regError(RegistrationCodeTokenExpired, 0,
			"registration token expired at "+time.Unix(exp, 0).UTC().Format(time.RFC3339), nil)
	}
	return nil
}

func regReadBody(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, regMaxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > regMaxBodyBytes {
		return nil, fmt.Errorf("body larger than %d bytes", regMaxBodyBytes)
	}
	return body, nil
}

// regSummarise makes a platform's body fit for a log line: the token removed, whitespace and control
// characters collapsed, and cut to regSummaryChars.
func regSummarise(body []byte, token string) string {
	s := string(body)
	if token != "" {
		s = strings.ReplaceAll(s, token, "[registration token]")
	}
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	if s == "" {
		return "(empty body)"
	}
	if r := []rune(s); len(r) > regSummaryChars {
		s = string(r[:regSummaryChars]) + "…"
	}
	return s
}

// regScrub makes sure a transport error cannot carry the token (a custom RoundTripper could echo
// headers). Errors without it are returned as they are, so callers can still find *egress.BlockedError;
// one with it is flattened to scrubbed text, because anything left in its chain could print the token.
func regScrub(err error, token string) error {
	if err == nil || token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "[registration token]"))
}
