// Package lti implements the tool side of LTI 1.3 Advantage as Moodle 4.5 speaks it:
// OIDC login initiation, launch validation (Launcher: state, id_token, nonce), Deep
// Linking, tool keys, Dynamic Registration, and the Assignment and Grade and Names and
// Role services.
package lti

import (
	"errors"
	"fmt"
	"net/url"
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
