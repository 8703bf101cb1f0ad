package devplatform

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/huddle-lti/huddle/lti"
)

// idTokenLifetime: Moodle's id_tokens are valid for 60 s (exp = iat + 60).
const idTokenLifetime = 60 * time.Second

// agsScopes are the scopes of a tool type with "IMS LTI Assignment and Grade Services:
// use this service for grade sync and column management", in the order Moodle lists them
// in the launch claim (fixture lti/02 027). The token endpoint grants only these.
var agsScopes = []string{lti.ScopeLineItem, lti.ScopeLineItemReadOnly, lti.ScopeResultReadOnly, lti.ScopeScore}

// auth is the OIDC authentication endpoint, checking what Moodle 4.5's mod/lti/auth.php
// checks and in the same order. Like auth.php it answers "Invalid request" (HTML, no post
// back) when it cannot trust redirect_uri: the launchid was missing, unknown or already
// used, or redirect_uri is not byte-identical to the registered one. Other refusals are
// posted back to the tool as an OIDC error response (error, error_description, state).
func (p *Platform) auth(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		p.invalidRequest(w, "the request could not be read")
		return
	}
	// auth.php reads $_REQUEST: query string and POST body alike.
	get := r.Form.Get
	scope, responseType, clientID := get("scope"), get("response_type"), get("client_id")
	redirectURI, loginHint, nonce := get("redirect_uri"), get("login_hint"), get("nonce")
	state, responseMode, prompt := get("state"), get("response_mode"), get("prompt")
	p.secret("state", state)
	p.secret("nonce", nonce)

	var hint struct {
		LaunchID string `json:"launchid"`
	}
	_ = json.Unmarshal([]byte(get("lti_message_hint")), &hint)

	// Until auth.php has found the launchid it has no tool configuration to trust
	// redirect_uri with, so every refusal up to here ends as "Invalid request". A
	// launchid that is found is used up, whatever happens next.
	found := false
	var pl pendingLaunch
	if scope != "" && responseType != "" && clientID != "" && redirectURI != "" && loginHint != "" && nonce != "" &&
		hint.LaunchID != "" && scope == "openid" && responseType == "id_token" {
		pl, found = p.takeLaunch(r, hint.LaunchID)
	}
	if !found || redirectURI != p.cfg.ToolRedirectURI {
		p.log.Info("devplatform: auth refused: invalid request", "launch_found", found,
			"redirect_uri_registered", redirectURI == p.cfg.ToolRedirectURI)
		p.invalidRequest(w, "")
		return
	}

	// The remaining refusals go back to the tool as an OIDC error response.
	u := p.signedIn(r)
	errCode, errDesc := "", ""
	switch {
	case clientID != p.cfg.ClientID:
		errCode = "unauthorized_client"
	case u == nil || loginHint != u.ID:
		errCode = "access_denied"
	case responseMode != "form_post":
		errCode, errDesc = "invalid_request", "Invalid response_mode"
	case prompt != "" && prompt != "none":
		errCode, errDesc = "invalid_request", "Invalid prompt"
	}

	post := autopost{Action: redirectURI, Heading: "Signing in to " + p.cfg.ToolName}
	if errCode == "" {
		token, err := p.signIDToken(*u, pl, nonce)
		if err != nil {
			p.log.Error("devplatform: sign id_token", "err", err)
			p.renderError(w, http.StatusInternalServerError, "Error", "The id_token could not be signed.")
			return
		}
		p.secret("id_token", token)
		post.Note = "Posting the id_token to the tool."
		post.Fields = []formField{{"id_token", token}}
		p.log.Info("devplatform: id_token issued", "user", u.ID, "cmid", pl.cmid, "deep_linking", pl.deepLinking)
	} else {
		post.Note = "Telling the tool the sign-in was refused: " + errCode + "."
		post.Fields = []formField{{"error", errCode}}
		if errDesc != "" {
			post.Fields = append(post.Fields, formField{"error_description", errDesc})
		}
		p.log.Info("devplatform: auth refused", "error", errCode, "description", errDesc)
	}
	post.Fields = append(post.Fields, formField{"state", state})
	p.render(w, http.StatusOK, "autopost", post.Heading, u, post)
}

// invalidRequest is Moodle's "Invalid request" error page, shown in the iframe.
func (p *Platform) invalidRequest(w http.ResponseWriter, detail string) {
	msg := "The tool's authentication request was refused: the launch was missing, unknown or already used " +
		"(lti_message_hint is single use), or redirect_uri is not byte-identical to the registered one."
	if detail != "" {
		msg = detail
	}
	p.renderError(w, http.StatusBadRequest, "Invalid request", msg)
}

// takeLaunch removes launchID from the request's session and returns what it stood for.
func (p *Platform) takeLaunch(r *http.Request, launchID string) (pendingLaunch, bool) {
	ck, err := r.Cookie(cookieSession)
	if err != nil {
		return pendingLaunch{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.sessions[ck.Value]
	if s == nil {
		return pendingLaunch{}, false
	}
	pl, ok := s.launches[launchID]
	delete(s.launches, launchID)
	return pl, ok
}

// servicesURL builds the Moodle-shaped service URLs (mod/lti/services.php); the
// deployment id stands in for Moodle's tool type id, as in Moodle.
func (p *Platform) servicesURL(path string) string {
	return p.cfg.PublicURL + "/mod/lti/services.php/" + path
}

func (p *Platform) lineItemsURL() string {
	return p.servicesURL(CourseID + "/lineitems?type_id=" + p.cfg.DeploymentID)
}

func (p *Platform) lineItemURL(id int) string {
	return p.servicesURL(CourseID + "/lineitems/" + strconv.Itoa(id) + "/lineitem?type_id=" + p.cfg.DeploymentID)
}

func (p *Platform) membershipsURL() string {
	return p.servicesURL("CourseSection/" + CourseID + "/bindings/" + p.cfg.DeploymentID + "/memberships")
}

// DeepLinkReturnURL is the deep_link_return_url of Deep Linking requests.
func (p *Platform) DeepLinkReturnURL() string {
	return p.cfg.PublicURL + "/deep-link-return?course=" + CourseID
}

// claims builds the id_token payload as Moodle 4.5 does (fixtures lti/02, lti/03, lti/07).
func (p *Platform) claims(u User, pl pendingLaunch, nonce string, now time.Time) (map[string]any, error) {
	// A launch's course is its activity's (a copy's is its own course, courses.go); a
	// Deep Linking request is the seeded course's.
	var a Activity
	if !pl.deepLinking {
		var ok bool
		if a, ok = p.activity(pl.cmid); !ok {
			return nil, fmt.Errorf("devplatform: activity %d is gone", pl.cmid)
		}
	}
	p.mu.Lock()
	crs, _ := p.findCourse(a.course())
	p.mu.Unlock()
	c := map[string]any{
		"iss":                  p.cfg.PublicURL,
		"aud":                  p.cfg.ClientID,
		"sub":                  u.ID,
		"nonce":                nonce,
		"iat":                  now.Unix(),
		"exp":                  now.Add(idTokenLifetime).Unix(),
		"name":                 u.Name(),
		"given_name":           u.GivenName,
		"family_name":          u.FamilyName,
		"email":                u.Email,
		lti.ClaimDeploymentID:  p.cfg.DeploymentID,
		lti.ClaimVersion:       lti.LTIVersion,
		lti.ClaimRoles:         u.Roles,
		lti.ClaimTargetLinkURI: p.cfg.ToolTargetLinkURI,
		"https://purl.imsglobal.org/spec/lti/claim/ext": map[string]any{"lms": "moodle-2", "user_username": u.Username},
		lti.ClaimContext: map[string]any{
			"id": crs.ID, "label": crs.Label, "title": crs.Title, "type": []string{"CourseSection"},
		},
		lti.ClaimToolPlatform: map[string]any{
			"product_family_code": "moodle",
			"version":             moodleVersion,
			"guid":                "devplatform-" + p.cfg.ClientID,
			"name":                "devmoodle",
			"description":         "Development Moodle (" + Banner + ")",
		},
		lti.ClaimNRPS: map[string]any{
			"context_memberships_url": p.membershipsURL(),
			"service_versions":        []string{"1.0", "2.0"},
		},
	}
	lis := map[string]any{"course_section_sourcedid": courseSourcedID}
	if u.IDNumber != "" {
		lis["person_sourcedid"] = u.IDNumber
	}
	c[lti.ClaimLIS] = lis
	// Moodle's NRPS service adds context_memberships_url to the custom parameters of
	// every launch; the activity's own custom parameters come with it.
	custom := map[string]string{"context_memberships_url": p.membershipsURL()}
	for k, v := range p.cfg.ToolCustom {
		custom[k] = substitute(v, crs)
	}
	ags := map[string]any{"scope": agsScopes, "lineitems": p.lineItemsURL()}

	if pl.deepLinking {
		c[lti.ClaimMessageType] = string(lti.MessageDeepLinkingRequest)
		c[lti.ClaimLaunchPresentation] = map[string]any{"locale": "en"}
		c[lti.ClaimDeepLinking] = map[string]any{
			"accept_types":                         []string{lti.ContentItemTypeResourceLink},
			"accept_presentation_document_targets": []string{"frame", "iframe", "window"},
			"accept_copy_advice":                   false,
			"accept_multiple":                      true,
			"accept_unsigned":                      false,
			"auto_create":                          false,
			"can_confirm":                          false,
			"deep_link_return_url":                 p.DeepLinkReturnURL(),
			"title":                                p.cfg.ToolName,
			"text":                                 "",
		}
	} else {
		c[lti.ClaimMessageType] = string(lti.MessageResourceLink)
		c[lti.ClaimResourceLink] = map[string]any{"id": a.ResourceLinkID(), "title": a.Title, "description": a.Text}
		if a.TargetLinkURI != "" {
			// A deep-linked activity keeps its item URL as target_link_uri (fixture lti/07).
			c[lti.ClaimTargetLinkURI] = a.TargetLinkURI
		}
		for k, v := range a.Custom {
			custom[k] = substitute(v, crs)
		}
		// Moodle leaves lineitem out unless the link has exactly one line item (lti/08).
		if len(a.LineItems) == 1 {
			ags["lineitem"] = p.lineItemURL(a.LineItems[0].ID)
		}
		// Moodle's launch containers: 3 is "embed without blocks", 4 "new window".
		target, container := "iframe", 3
		if pl.window {
			target, container = "window", 4
		}
		c[lti.ClaimLaunchPresentation] = map[string]any{
			"locale":          "en",
			"document_target": target,
			"return_url": fmt.Sprintf("%s/mod/lti/return.php?course=%s&launch_container=%d&instanceid=%d",
				p.cfg.PublicURL, crs.ID, container, a.InstanceID),
		}
	}
	c[lti.ClaimCustom] = custom
	c[lti.ClaimAGSEndpoint] = ags
	return c, nil
}

// signIDToken signs the id_token RS256 with the platform key, kid in the header.
func (p *Platform) signIDToken(u User, pl pendingLaunch, nonce string) (string, error) {
	claims, err := p.claims(u, pl, nonce, p.now())
	if err != nil {
		return "", err
	}
	tok := jwt.New()
	// Moodle sends aud as a string, not an array.
	tok.Options().Enable(jwt.FlattenAudience)
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			return "", fmt.Errorf("devplatform: id_token claim %s: %w", k, err)
		}
	}
	h := jws.NewHeaders()
	if err := h.Set(jws.KeyIDKey, p.key.KeyID()); err != nil {
		return "", fmt.Errorf("devplatform: id_token header: %w", err)
	}
	if err := h.Set(jws.TypeKey, "JWT"); err != nil {
		return "", fmt.Errorf("devplatform: id_token header: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, p.key, jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", fmt.Errorf("devplatform: sign id_token: %w", err)
	}
	return string(signed), nil
}

// jwks serves the platform's public key set (Moodle's mod/lti/certs.php).
func (p *Platform) jwks(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(p.pub)
}
