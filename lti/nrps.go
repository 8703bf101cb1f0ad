package lti

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// MediaTypeMembershipContainer is the NRPS 2.0 media type of a membership container.
const MediaTypeMembershipContainer = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

var scopesMemberships = []string{ScopeContextMembershipReadOnly}

// NRPSClient calls a platform's Names and Role Provisioning Services 2.0.
type NRPSClient struct {
	tokens *ServiceTokens
}

// NewNRPSClient returns a client that gets its access tokens, and makes its requests,
// through tokens.
func NewNRPSClient(tokens *ServiceTokens) *NRPSClient {
	return &NRPSClient{tokens: tokens}
}

// Member is one person in a context's membership (NRPS 2.0 "Membership container").
// Which of the personal fields are filled depends on the tool's privacy settings in
// Moodle ("share launcher's name/email").
type Member struct {
	UserID string `json:"user_id"`
	// Roles are as the platform gave them. Moodle 4.5 sends the short context role
	// names ("Instructor", "Learner"), not URIs; course.MapRoles takes both.
	Roles []string `json:"roles"`
	// Status is Active, Inactive or Deleted; absent means Active.
	Status             string `json:"status,omitempty"`
	Name               string `json:"name,omitempty"`
	GivenName          string `json:"given_name,omitempty"`
	FamilyName         string `json:"family_name,omitempty"`
	MiddleName         string `json:"middle_name,omitempty"`
	Email              string `json:"email,omitempty"`
	Picture            string `json:"picture,omitempty"`
	LISPersonSourcedID string `json:"lis_person_sourcedid,omitempty"`
	// Username is Moodle's ext_user_username extension.
	Username string `json:"ext_user_username,omitempty"`
	// Messages are the per-member message claims sent when the roster is read for one
	// resource link (MembersQuery.ResourceLinkID), kept as JSON objects.
	Messages []json.RawMessage `json:"message,omitempty"`
}

// Active reports whether the member is active in the context.
func (m Member) Active() bool { return m.Status == "" || m.Status == "Active" }

// Roster is a context's membership container: the context and its members, from every
// page.
type Roster struct {
	// ID is the container's URL as the platform names it.
	ID      string
	Context Context
	Members []Member
	// DifferencesURL is the rel="differences" link of the last page, if the platform
	// offers one (NRPS 2.0 "Membership differences"); Moodle 4.5 does not.
	DifferencesURL string
}

// MembersQuery narrows a membership request (NRPS 2.0 "Role query parameter", "Limit
// query parameter", "Resource link membership"). Empty fields are not sent.
type MembersQuery struct {
	// Role is a role URI (Moodle matches membership#Learner, lti/10 062).
	Role string
	// Limit is the page size asked of the platform; all pages are read either way.
	Limit int
	// ResourceLinkID asks for the members who can access that link, with their
	// message claims (Moodle's rlid parameter).
	ResourceLinkID string
}

// Roster reads the membership at membershipsURL (the context_memberships_url of the
// launch's NRPS claim), following rel="next" links until the last page.
func (c *NRPSClient) Roster(ctx context.Context, p Platform, membershipsURL string, q MembersQuery) (*Roster, error) {
	params := url.Values{}
	if q.Role != "" {
		params.Set("role", q.Role)
	}
	if q.Limit > 0 {
		params.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.ResourceLinkID != "" {
		params.Set("rlid", q.ResourceLinkID)
	}
	first, err := withQuery(membershipsURL, params)
	if err != nil {
		return nil, fmt.Errorf("lti: read roster: %w", err)
	}
	roster := &Roster{}
	err = c.tokens.pages(ctx, p, serviceRequest{
		op: "read roster", method: http.MethodGet, url: first,
		accept: MediaTypeMembershipContainer, scopes: scopesMemberships,
	}, func(body []byte, h http.Header, page *url.URL) error {
		var container struct {
			ID      string   `json:"id"`
			Context Context  `json:"context"`
			Members []Member `json:"members"`
		}
		if err := json.Unmarshal(body, &container); err != nil {
			return err
		}
		if container.Members == nil {
			return fmt.Errorf("membership container has no members array")
		}
		if roster.ID == "" {
			roster.ID, roster.Context = container.ID, container.Context
		}
		roster.Members = append(roster.Members, container.Members...)
		if l, ok := LinkByRel(ParseLinkHeader(h.Values("Link")...), "differences"); ok {
			if ref, err := url.Parse(l.URL); err == nil {
				roster.DifferencesURL = page.ResolveReference(ref).String()
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return roster, nil
}
