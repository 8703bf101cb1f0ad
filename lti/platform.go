// Package lti implements the tool side of LTI 1.3 Advantage as Moodle 4.5 speaks it:
// OIDC login initiation, launch validation (Launcher: state, id_token, nonce), Deep
// Linking, tool keys, Dynamic Registration, and the Assignment and Grade and Names and
// Role services.
package lti

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Platform is one registered LMS site (in practice a Moodle site): an issuer and the
// client_id it gave Huddle, the endpoints Huddle talks to and the deployments it trusts.
type Platform struct {
	ID            int64
	Issuer        string
	ClientID      string
	AuthURL       string
	TokenURL      string
	JWKSURL       string
	DeploymentIDs []string
	CreatedAt     time.Time
}

// HasDeployment reports whether id is one of the platform's registered deployments.
func (p Platform) HasDeployment(id string) bool {
	for _, d := range p.DeploymentIDs {
		if d == id {
			return true
		}
	}
	return false
}

// ErrForeignHost means a URL is not on any host of the registered platform.
var ErrForeignHost = errors.New("not a host of the registered platform")

// Hosts are the host[:port] values of the platform's registered URLs.
func (p Platform) Hosts() []string {
	var hosts []string
	for _, raw := range []string{p.Issuer, p.AuthURL, p.TokenURL, p.JWKSURL} {
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			hosts = append(hosts, u.Host)
		}
	}
	return hosts
}

// CheckServiceURL refuses a service URL (from a launch claim, a Link header) whose
// host is not one of the platform's registered hosts, so Huddle's calls and the
// platform's tokens never go elsewhere.
func (p Platform) CheckServiceURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("service URL %q is not absolute: %w", raw, ErrForeignHost)
	}
	for _, h := range p.Hosts() {
		if h == u.Host {
			return nil
		}
	}
	return fmt.Errorf("Huddle will not call %s: %w", u.Host, ErrForeignHost)
}

// InsecureURLError means a platform URL uses plain http where Huddle needs https. Field
// names the URL as Moodle's tool registration page does, for the person who typed it;
// the error says what to do in plain words and is safe to show.
type InsecureURLError struct {
	Field string
	// URL is as given. Error leaves it out: it may carry user info.
	URL string
}

func (e *InsecureURLError) Error() string {
	return "the " + e.Field + " must use https (http is allowed only for localhost in development)"
}

// CheckPlatformURLs refuses a platform whose issuer, authentication request, access token
// or key set URL is plain http, unless allowInsecureLoopback (development only) and the
// host is loopback. The key set decides which launches Huddle believes and the token URL
// receives Huddle's signed assertions, so over plain http anyone on the path could forge
// launches or take the platform's access tokens. ValidatePlatform checks the URLs' shape;
// this checks whether they can be trusted. The error is an *InsecureURLError.
func CheckPlatformURLs(p Platform, allowInsecureLoopback bool) error {
	for _, f := range []struct{ field, value string }{
		{"issuer", p.Issuer},
		{"authentication request URL", p.AuthURL},
		{"access token URL", p.TokenURL},
		{"key set URL", p.JWKSURL},
	} {
		if err := checkPlatformURL(f.field, f.value, allowInsecureLoopback); err != nil {
			return err
		}
	}
	return nil
}

// CheckSecureURL is CheckPlatformURLs for one URL of a platform's other services (the
// Moodle site whose web services Huddle calls with a token); field names it in the error.
func CheckSecureURL(field, raw string, allowInsecureLoopback bool) error {
	if err := checkPlatformURL(field, raw, allowInsecureLoopback); err != nil {
		return err
	}
	return nil
}

// checkPlatformURL is CheckPlatformURLs for one URL.
func checkPlatformURL(field, raw string, allowInsecureLoopback bool) *InsecureURLError {
	u, err := url.Parse(raw)
	if err != nil || !secureOrLoopback(u, allowInsecureLoopback) {
		return &InsecureURLError{Field: field, URL: raw}
	}
	return nil
}

// secureOrLoopback reports whether u is https or, when allowLoopback, plain http to a
// loopback host. Nothing sent to a loopback address crosses a network, which is why the
// development platform and the captured Moodle (http://127.0.0.1:8000) may use http; in
// production a plain-http loopback URL means something is misconfigured.
func secureOrLoopback(u *url.URL, allowLoopback bool) bool {
	switch strings.ToLower(u.Scheme) {
	case "https":
		return true
	case "http":
		return allowLoopback && isLoopbackHost(u.Hostname())
	}
	return false
}

// isLoopbackHost reports whether host is localhost, 127.0.0.0/8 or ::1. Only the exact
// name localhost counts: localhost.evil.example is anyone's.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
