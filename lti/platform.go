// Package lti implements the tool side of LTI 1.3 Advantage as Moodle 4.5 speaks it:
// OIDC login initiation, id_token validation, Deep Linking, tool keys, Dynamic
// Registration, and the Assignment and Grade and Names and Role services.
package lti

import "time"

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
