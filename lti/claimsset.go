package lti

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/tidwall/gjson"
)

// claimsSet is an id_token's payload as VerifyIDToken reads it: the registered claims
// it checks, in the JWT library's own token so that aud (string or array) and the
// NumericDates are read per RFC 7519, and the LTI claims.
type claimsSet struct {
	Claims
	registered jwt.Token
	// typeErr is the first claim, outside the registered ones, whose JSON type does not
	// fit its field. VerifyIDToken reports it only once the signature and the times
	// have been checked: a claim is worth complaining about only in a genuine token.
	typeErr error
}

// decodeClaimsSet reads payload in one pass of a JSON parser that matches claim names
// exactly, as RFC 7519 §4 says they compare. It decodes as encoding/json would decode
// Claims by its field tags (TestClaimsSetDecodesAsTheFieldTagsSay) except that names
// never match in another case, and it refuses a payload that is not UTF-8 (RFC 8259
// §8.1), where encoding/json would quietly replace the bytes.
//
// It replaced three encoding/json passes (a split of the top level into names, the
// JWT library's decoder over the registered claims, the struct decode): they were a
// fifth of Huddle's CPU on a returning launch (perf, huddle-load's returning mix).
// Of duplicate names the last counts, as RFC 7519 §4 allows.
func decodeClaimsSet(payload []byte) (claimsSet, error) {
	if !utf8.Valid(payload) {
		return claimsSet{}, errors.New("claims set is not UTF-8")
	}
	if !gjson.ValidBytes(payload) {
		return claimsSet{}, errors.New("claims set is not JSON")
	}
	top := gjson.ParseBytes(payload)
	if !top.IsObject() {
		return claimsSet{}, errors.New("claims set is not a JSON object")
	}
	s := claimsSet{registered: jwt.New()}
	var d claimsDecoder
	var regErr error
	top.ForEach(func(k, v gjson.Result) bool {
		switch name := k.Str; name {
		case jwt.IssuerKey, jwt.AudienceKey, jwt.ExpirationKey, jwt.IssuedAtKey, jwt.NotBeforeKey:
			// The library's own checks of each value's type and form; its message can
			// quote the value, so only the claim and the JSON type are kept.
			if err := s.registered.Set(name, v.Value()); err != nil {
				regErr = fmt.Errorf("claim %q: JSON %s is not accepted", name, jsonType(v))
				return false
			}
			if name == jwt.IssuerKey {
				s.Issuer = v.Str
			}
		default:
			d.claim(&s.Claims, name, v)
		}
		return true
	})
	if regErr != nil {
		return claimsSet{}, regErr
	}
	s.typeErr = d.err
	return s, nil
}

// claimsDecoder fills Claims from parsed JSON, keeping the first type mismatch. Like
// encoding/json it carries on after one, and like it a null leaves a field as it was.
type claimsDecoder struct {
	err error
}

// claim decodes the top-level claim name; names Claims has no field for are ignored
// (LTI Core 5.4.7).
func (d *claimsDecoder) claim(c *Claims, name string, v gjson.Result) {
	switch name {
	case "sub":
		d.str(name, "", v, &c.Subject)
	case "nonce":
		d.str(name, "", v, &c.Nonce)
	case "azp":
		d.str(name, "", v, &c.AuthorizedParty)
	case "name":
		d.str(name, "", v, &c.Name)
	case "given_name":
		d.str(name, "", v, &c.GivenName)
	case "family_name":
		d.str(name, "", v, &c.FamilyName)
	case "email":
		d.str(name, "", v, &c.Email)
	case "lti_storage_target":
		d.str(name, "", v, &c.StorageTarget)
	case ClaimMessageType:
		s := string(c.MessageType)
		d.str(name, "", v, &s)
		c.MessageType = MessageType(s)
	case ClaimVersion:
		d.str(name, "", v, &c.Version)
	case ClaimDeploymentID:
		d.str(name, "", v, &c.DeploymentID)
	case ClaimTargetLinkURI:
		d.str(name, "", v, &c.TargetLinkURI)
	case ClaimRoles:
		d.strs(name, "", v, &c.Roles)
	case ClaimRoleScopeMentor:
		d.strs(name, "", v, &c.RoleScopeMentor)
	case ClaimResourceLink:
		object(d, name, v, &c.ResourceLink, func(r *ResourceLink, k string, v gjson.Result) {
			switch k {
			case "id":
				d.str(name, "id", v, &r.ID)
			case "title":
				d.str(name, "title", v, &r.Title)
			case "description":
				d.str(name, "description", v, &r.Description)
			}
		})
	case ClaimContext:
		object(d, name, v, &c.Context, func(x *Context, k string, v gjson.Result) {
			switch k {
			case "id":
				d.str(name, "id", v, &x.ID)
			case "label":
				d.str(name, "label", v, &x.Label)
			case "title":
				d.str(name, "title", v, &x.Title)
			case "type":
				d.strs(name, "type", v, &x.Type)
			}
		})
	case ClaimToolPlatform:
		object(d, name, v, &c.ToolPlatform, func(p *ToolPlatform, k string, v gjson.Result) {
			switch k {
			case "guid":
				d.str(name, "guid", v, &p.GUID)
			case "name":
				d.str(name, "name", v, &p.Name)
			case "description":
				d.str(name, "description", v, &p.Description)
			case "contact_email":
				d.str(name, "contact_email", v, &p.ContactEmail)
			case "url":
				d.str(name, "url", v, &p.URL)
			case "product_family_code":
				d.str(name, "product_family_code", v, &p.ProductFamilyCode)
			case "version":
				d.str(name, "version", v, &p.Version)
			}
		})
	case ClaimLaunchPresentation:
		object(d, name, v, &c.LaunchPresentation, func(lp *LaunchPresentation, k string, v gjson.Result) {
			switch k {
			case "document_target":
				d.str(name, "document_target", v, &lp.DocumentTarget)
			case "return_url":
				d.str(name, "return_url", v, &lp.ReturnURL)
			case "locale":
				d.str(name, "locale", v, &lp.Locale)
			case "height": // only sizes a frame: see LaunchPresentation.UnmarshalJSON
				lp.Height = looseInt(v.Value())
			case "width":
				lp.Width = looseInt(v.Value())
			}
		})
	case ClaimLIS:
		object(d, name, v, &c.LIS, func(l *LIS, k string, v gjson.Result) {
			switch k {
			case "person_sourcedid":
				d.str(name, "person_sourcedid", v, &l.PersonSourcedID)
			case "course_offering_sourcedid":
				d.str(name, "course_offering_sourcedid", v, &l.CourseOfferingSourcedID)
			case "course_section_sourcedid":
				d.str(name, "course_section_sourcedid", v, &l.CourseSectionSourcedID)
			case "result_sourcedid":
				d.str(name, "result_sourcedid", v, &l.ResultSourcedID)
			case "outcome_service_url":
				d.str(name, "outcome_service_url", v, &l.OutcomeServiceURL)
			}
		})
	case ClaimCustom:
		d.custom(name, v, &c.Custom)
	case ClaimAGSEndpoint:
		object(d, name, v, &c.AGS, func(a *AGSEndpoint, k string, v gjson.Result) {
			switch k {
			case "scope":
				d.strs(name, "scope", v, &a.Scope)
			case "lineitems":
				d.str(name, "lineitems", v, &a.LineItems)
			case "lineitem":
				d.str(name, "lineitem", v, &a.LineItem)
			}
		})
	case ClaimNRPS:
		object(d, name, v, &c.NRPS, func(n *NRPSService, k string, v gjson.Result) {
			switch k {
			case "context_memberships_url":
				d.str(name, "context_memberships_url", v, &n.ContextMembershipsURL)
			case "service_versions":
				d.strs(name, "service_versions", v, &n.ServiceVersions)
			}
		})
	case ClaimDeepLinking:
		object(d, name, v, &c.DeepLinking, func(s *DeepLinkingSettings, k string, v gjson.Result) {
			switch k {
			case "deep_link_return_url":
				d.str(name, "deep_link_return_url", v, &s.DeepLinkReturnURL)
			case "accept_types":
				d.strs(name, "accept_types", v, &s.AcceptTypes)
			case "accept_presentation_document_targets":
				d.strs(name, "accept_presentation_document_targets", v, &s.AcceptPresentationDocumentTargets)
			case "accept_media_types":
				d.str(name, "accept_media_types", v, &s.AcceptMediaTypes)
			case "accept_multiple":
				d.boolean(name, "accept_multiple", v, &s.AcceptMultiple)
			case "accept_lineitem":
				d.boolean(name, "accept_lineitem", v, &s.AcceptLineItem)
			case "auto_create":
				d.boolean(name, "auto_create", v, &s.AutoCreate)
			case "title":
				d.str(name, "title", v, &s.Title)
			case "text":
				d.str(name, "text", v, &s.Text)
			case "data":
				d.str(name, "data", v, &s.Data)
			}
		})
	}
}

// object decodes an object claim into a new *T, each member through member; null
// leaves *dst nil. A later duplicate of the claim replaces an earlier one whole.
func object[T any](d *claimsDecoder, claim string, v gjson.Result, dst **T, member func(*T, string, gjson.Result)) {
	switch {
	case v.Type == gjson.Null:
		*dst = nil
	case v.IsObject():
		x := new(T)
		v.ForEach(func(k, v gjson.Result) bool {
			member(x, k.Str, v)
			return true
		})
		*dst = x
	default:
		d.mismatch(claim, "", v, "object")
	}
}

// str decodes a string: claim's own value, or its member's when member is not empty.
func (d *claimsDecoder) str(claim, member string, v gjson.Result, dst *string) {
	switch v.Type {
	case gjson.String:
		*dst = v.Str
	case gjson.Null:
	default:
		d.mismatch(claim, member, v, "string")
	}
}

func (d *claimsDecoder) boolean(claim, member string, v gjson.Result, dst *bool) {
	switch v.Type {
	case gjson.True, gjson.False:
		*dst = v.Type == gjson.True
	case gjson.Null:
	default:
		d.mismatch(claim, member, v, "bool")
	}
}

// strs decodes an array of strings; an empty array gives an empty slice, not nil, as
// Claims.Roles needs, and a null element the empty string.
func (d *claimsDecoder) strs(claim, member string, v gjson.Result, dst *[]string) {
	switch {
	case v.Type == gjson.Null:
		*dst = nil
	case v.IsArray():
		out := make([]string, 0, 4)
		v.ForEach(func(_, e gjson.Result) bool {
			var s string
			d.str(claim, member, e, &s)
			out = append(out, s)
			return true
		})
		*dst = out
	default:
		d.mismatch(claim, member, v, "[]string")
	}
}

// custom decodes the custom claim with CustomParameters' leniency: a value that is
// not a string keeps its JSON text, and a null claim is an empty set.
func (d *claimsDecoder) custom(claim string, v gjson.Result, dst *CustomParameters) {
	switch {
	case v.Type == gjson.Null:
		*dst = CustomParameters{}
	case v.IsObject():
		out := make(CustomParameters)
		v.ForEach(func(k, e gjson.Result) bool {
			switch e.Type {
			case gjson.String:
				out[k.Str] = e.Str
			case gjson.Null:
				out[k.Str] = ""
			default:
				out[k.Str] = e.Raw
			}
			return true
		})
		*dst = out
	default:
		d.mismatch(claim, "", v, "object")
	}
}

// mismatch keeps the first type mismatch, in encoding/json's words and, like its
// errors, without the value. The member's path is built only here: a launch's
// claims have some forty members.
func (d *claimsDecoder) mismatch(claim, member string, v gjson.Result, want string) {
	if d.err != nil {
		return
	}
	field := claim
	if member != "" {
		field += "." + member
	}
	d.err = fmt.Errorf("claim %q: JSON %s where %s expected", field, jsonType(v), want)
}

// jsonType names v's JSON type.
func jsonType(v gjson.Result) string {
	switch v.Type {
	case gjson.String:
		return "string"
	case gjson.Number:
		return "number"
	case gjson.True, gjson.False:
		return "bool"
	case gjson.Null:
		return "null"
	}
	if v.IsArray() {
		return "array"
	}
	return "object"
}
