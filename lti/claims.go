package lti

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Claim names used in LTI 1.3 messages (LTI Core 5.3 and 5.4, AGS 2.0 §3.1, NRPS 2.0 §3.6.1,
// Deep Linking 2.0 "Deep linking request message" and "Deep linking response message").
const (
	ClaimMessageType        = "https://purl.imsglobal.org/spec/lti/claim/message_type"
	ClaimVersion            = "https://purl.imsglobal.org/spec/lti/claim/version"
	ClaimDeploymentID       = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
	ClaimTargetLinkURI      = "https://purl.imsglobal.org/spec/lti/claim/target_link_uri"
	ClaimResourceLink       = "https://purl.imsglobal.org/spec/lti/claim/resource_link"
	ClaimRoles              = "https://purl.imsglobal.org/spec/lti/claim/roles"
	ClaimRoleScopeMentor    = "https://purl.imsglobal.org/spec/lti/claim/role_scope_mentor"
	ClaimContext            = "https://purl.imsglobal.org/spec/lti/claim/context"
	ClaimToolPlatform       = "https://purl.imsglobal.org/spec/lti/claim/tool_platform"
	ClaimLaunchPresentation = "https://purl.imsglobal.org/spec/lti/claim/launch_presentation"
	ClaimLIS                = "https://purl.imsglobal.org/spec/lti/claim/lis"
	ClaimCustom             = "https://purl.imsglobal.org/spec/lti/claim/custom"
	ClaimAGSEndpoint        = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
	ClaimNRPS               = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
	ClaimDeepLinking        = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
	ClaimContentItems       = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
	ClaimDeepLinkingData    = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
	ClaimDeepLinkingMsg     = "https://purl.imsglobal.org/spec/lti-dl/claim/msg"
	ClaimDeepLinkingLog     = "https://purl.imsglobal.org/spec/lti-dl/claim/log"
	ClaimDeepLinkingErrMsg  = "https://purl.imsglobal.org/spec/lti-dl/claim/errormsg"
	ClaimDeepLinkingErrLog  = "https://purl.imsglobal.org/spec/lti-dl/claim/errorlog"
)

// LTIVersion is the only value of the version claim Huddle accepts (LTI Core 5.3.2).
const LTIVersion = "1.3.0"

// MessageType is the value of the message_type claim.
type MessageType string

// The message types Huddle exchanges with a platform.
const (
	MessageResourceLink        MessageType = "LtiResourceLinkRequest"
	MessageDeepLinkingRequest  MessageType = "LtiDeepLinkingRequest"
	MessageDeepLinkingResponse MessageType = "LtiDeepLinkingResponse"
)

// ContentItemTypeResourceLink is the only content item type Huddle creates (Deep Linking 2.0,
// "LTI Resource Link").
const ContentItemTypeResourceLink = "ltiResourceLink"

// Claims are the claims of a validated id_token, decoded into types. Optional objects are
// nil when the platform left them out. Platforms may add claims Huddle does not know;
// LTI Core 5.4.7 says receivers ignore them, and so does this decoder.
type Claims struct {
	Issuer  string `json:"iss"`
	Subject string `json:"sub"`
	Nonce   string `json:"nonce"`
	// AuthorizedParty is azp (OpenID Connect Core 2); Moodle does not send it.
	AuthorizedParty string `json:"azp,omitempty"`

	// User identity claims (LTI Core 5.3.6, OpenID Connect standard claims). Moodle sends
	// them only when the tool's privacy settings share name and email.
	Name       string `json:"name,omitempty"`
	GivenName  string `json:"given_name,omitempty"`
	FamilyName string `json:"family_name,omitempty"`
	Email      string `json:"email,omitempty"`

	MessageType   MessageType   `json:"https://purl.imsglobal.org/spec/lti/claim/message_type"`
	Version       string        `json:"https://purl.imsglobal.org/spec/lti/claim/version"`
	DeploymentID  string        `json:"https://purl.imsglobal.org/spec/lti/claim/deployment_id"`
	TargetLinkURI string        `json:"https://purl.imsglobal.org/spec/lti/claim/target_link_uri"`
	ResourceLink  *ResourceLink `json:"https://purl.imsglobal.org/spec/lti/claim/resource_link,omitempty"`
	// Roles are the full role URIs (LTI Core 5.3.7; Appendix A.2). A nil slice means the
	// claim was absent; an empty one means the platform sent [] (allowed by the spec).
	Roles              []string             `json:"https://purl.imsglobal.org/spec/lti/claim/roles"`
	RoleScopeMentor    []string             `json:"https://purl.imsglobal.org/spec/lti/claim/role_scope_mentor,omitempty"`
	Context            *Context             `json:"https://purl.imsglobal.org/spec/lti/claim/context,omitempty"`
	ToolPlatform       *ToolPlatform        `json:"https://purl.imsglobal.org/spec/lti/claim/tool_platform,omitempty"`
	LaunchPresentation *LaunchPresentation  `json:"https://purl.imsglobal.org/spec/lti/claim/launch_presentation,omitempty"`
	LIS                *LIS                 `json:"https://purl.imsglobal.org/spec/lti/claim/lis,omitempty"`
	Custom             CustomParameters     `json:"https://purl.imsglobal.org/spec/lti/claim/custom,omitempty"`
	AGS                *AGSEndpoint         `json:"https://purl.imsglobal.org/spec/lti-ags/claim/endpoint,omitempty"`
	NRPS               *NRPSService         `json:"https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice,omitempty"`
	DeepLinking        *DeepLinkingSettings `json:"https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings,omitempty"`

	// StorageTarget is the frame name for client-side postMessage storage (LTI OIDC Login
	// with LTI Client Side postMessages). The spec carries it as the lti_storage_target
	// login parameter, not as a claim; it is decoded here only in case a platform echoes
	// it in the token, so the login handler should also keep the one it received.
	// Moodle 4.5 sends neither.
	StorageTarget string `json:"lti_storage_target,omitempty"`
}

// ResourceLink is the resource_link claim (LTI Core 5.3.5).
type ResourceLink struct {
	ID          string `json:"id"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

// Context is the context claim (LTI Core 5.4.1): in Moodle, the course.
type Context struct {
	ID    string   `json:"id"`
	Label string   `json:"label,omitempty"`
	Title string   `json:"title,omitempty"`
	Type  []string `json:"type,omitempty"`
}

// ToolPlatform is the tool_platform claim (LTI Core 5.4.2).
type ToolPlatform struct {
	GUID              string `json:"guid,omitempty"`
	Name              string `json:"name,omitempty"`
	Description       string `json:"description,omitempty"`
	ContactEmail      string `json:"contact_email,omitempty"`
	URL               string `json:"url,omitempty"`
	ProductFamilyCode string `json:"product_family_code,omitempty"`
	Version           string `json:"version,omitempty"`
}

// LaunchPresentation is the launch_presentation claim (LTI Core 5.4.4).
type LaunchPresentation struct {
	DocumentTarget string `json:"document_target,omitempty"`
	ReturnURL      string `json:"return_url,omitempty"`
	Locale         string `json:"locale,omitempty"`
	Height         int    `json:"height,omitempty"`
	Width          int    `json:"width,omitempty"`
}

// UnmarshalJSON tolerates height and width sent as fractional numbers or numeric strings:
// they only size a frame, and a launch should not fail over them.
func (lp *LaunchPresentation) UnmarshalJSON(b []byte) error {
	var raw struct {
		DocumentTarget string `json:"document_target"`
		ReturnURL      string `json:"return_url"`
		Locale         string `json:"locale"`
		Height         any    `json:"height"`
		Width          any    `json:"width"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*lp = LaunchPresentation{
		DocumentTarget: raw.DocumentTarget,
		ReturnURL:      raw.ReturnURL,
		Locale:         raw.Locale,
		Height:         looseInt(raw.Height),
		Width:          looseInt(raw.Width),
	}
	return nil
}

func looseInt(v any) int {
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case string:
		parsed, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0
		}
		f = parsed
	default:
		return 0
	}
	if math.IsNaN(f) || f < 0 || f > math.MaxInt32 {
		return 0
	}
	return int(math.Round(f))
}

// LIS is the Learning Information Services claim (LTI Core 5.4.5).
type LIS struct {
	PersonSourcedID         string `json:"person_sourcedid,omitempty"`
	CourseOfferingSourcedID string `json:"course_offering_sourcedid,omitempty"`
	CourseSectionSourcedID  string `json:"course_section_sourcedid,omitempty"`
	ResultSourcedID         string `json:"result_sourcedid,omitempty"`
	OutcomeServiceURL       string `json:"outcome_service_url,omitempty"`
}

// CustomParameters is the custom claim (LTI Core 5.4.6). The spec says the values are
// strings; a platform that sends a number or boolean gets its JSON text kept as the value
// rather than a failed launch.
type CustomParameters map[string]string

// UnmarshalJSON accepts non-string values, see CustomParameters.
func (c *CustomParameters) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(CustomParameters, len(raw))
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out[k] = s
			continue
		}
		out[k] = string(v)
	}
	*c = out
	return nil
}

// AGSEndpoint is the Assignment and Grade Services claim (AGS 2.0 §3.1). LineItem is empty
// when the link has no line item or more than one: Moodle then omits it (fixture lti/08).
type AGSEndpoint struct {
	Scope     []string `json:"scope,omitempty"`
	LineItems string   `json:"lineitems,omitempty"`
	LineItem  string   `json:"lineitem,omitempty"`
}

// HasScope reports whether the platform granted scope for this launch.
func (a *AGSEndpoint) HasScope(scope string) bool {
	if a == nil {
		return false
	}
	for _, s := range a.Scope {
		if s == scope {
			return true
		}
	}
	return false
}

// NRPSService is the Names and Role Provisioning Services claim (NRPS 2.0 §3.6.1).
type NRPSService struct {
	ContextMembershipsURL string   `json:"context_memberships_url"`
	ServiceVersions       []string `json:"service_versions,omitempty"`
}

// DeepLinkingSettings is the deep_linking_settings claim of an LtiDeepLinkingRequest
// (Deep Linking 2.0, "Deep linking settings").
type DeepLinkingSettings struct {
	DeepLinkReturnURL                 string   `json:"deep_link_return_url"`
	AcceptTypes                       []string `json:"accept_types"`
	AcceptPresentationDocumentTargets []string `json:"accept_presentation_document_targets"`
	AcceptMediaTypes                  string   `json:"accept_media_types,omitempty"`
	AcceptMultiple                    bool     `json:"accept_multiple,omitempty"`
	AcceptLineItem                    bool     `json:"accept_lineitem,omitempty"`
	AutoCreate                        bool     `json:"auto_create,omitempty"`
	Title                             string   `json:"title,omitempty"`
	Text                              string   `json:"text,omitempty"`
	// Data is opaque to the tool and must be echoed unchanged in the response.
	Data string `json:"data,omitempty"`
}

// AcceptsType reports whether the platform accepts content items of type t.
func (s *DeepLinkingSettings) AcceptsType(t string) bool {
	for _, a := range s.AcceptTypes {
		if a == t {
			return true
		}
	}
	return false
}

// Role is what a person may do in Huddle. course.MapRoles derives a person's roles
// from the LTI roles a platform sends; Claims.Roles and Member.Roles keep those as sent.
type Role string

// Huddle's roles. One person can hold several (an administrator who also teaches).
const (
	RoleLearner  Role = "learner"
	RoleEducator Role = "educator"
	RoleAdmin    Role = "admin"
	RoleMentor   Role = "mentor"
)
