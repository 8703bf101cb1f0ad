package devplatform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/huddle-lti/huddle/lti"
)

// deepLinkingLeeway absorbs clock drift on the response's exp and iat.
const deepLinkingLeeway = 5 * time.Second

// probeTimeout bounds each MoodleBot GET of an item URL.
const probeTimeout = 10 * time.Second

// errDeepLinking marks a Deep Linking response the platform refuses.
var errDeepLinking = errors.New("devplatform: deep linking response refused")

// deepLinkingResponse is the part of an LtiDeepLinkingResponse the platform uses.
type deepLinkingResponse struct {
	MessageType  string            `json:"https://purl.imsglobal.org/spec/lti/claim/message_type"`
	Version      string            `json:"https://purl.imsglobal.org/spec/lti/claim/version"`
	DeploymentID string            `json:"https://purl.imsglobal.org/spec/lti/claim/deployment_id"`
	ContentItems []json.RawMessage `json:"https://purl.imsglobal.org/spec/lti-dl/claim/content_items"`
	Msg          string            `json:"https://purl.imsglobal.org/spec/lti-dl/claim/msg"`
	ErrorMsg     string            `json:"https://purl.imsglobal.org/spec/lti-dl/claim/errormsg"`
}

// Probe is the result of the MoodleBot GET of one item URL.
type Probe struct {
	URL    string
	Status int    // 0 when the request failed
	Err    string // why it failed
}

// OK reports whether the tool answered the probe with a 2xx.
func (pr Probe) OK() bool { return pr.Status >= 200 && pr.Status < 300 }

// deepLinkReturn receives the tool's LtiDeepLinkingResponse (form field JWT) at
// deep_link_return_url, as Moodle's contentitem_return.php does. It creates one activity
// per ltiResourceLink item at once (Moodle would first show the add-activity form for a
// single item), then GETs each item URL as Moodle's server does on save.
func (p *Platform) deepLinkReturn(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		p.renderError(w, http.StatusBadRequest, "Invalid request", "The form could not be read.")
		return
	}
	if r.URL.Query().Get("course") != CourseID {
		p.renderError(w, http.StatusBadRequest, "Invalid request", "deep_link_return_url names no course of this platform.")
		return
	}
	// Moodle's contentitem_return.php answers with a script that hands the items to the
	// "Add an activity" form in its parent window. Posted in a window of its own (a tool
	// that finished Deep Linking in a new window) the script fails and nothing is added;
	// browsers say which it is in Sec-Fetch-Dest.
	if r.Header.Get("Sec-Fetch-Dest") == "document" {
		p.log.Info("devplatform: deep linking response posted outside the dialog")
		p.renderError(w, http.StatusOK, "Nothing was added",
			"This page must load inside the \"Add an activity\" dialog; in a window of its own Moodle's script fails and the form is never filled.")
		return
	}
	raw := r.PostForm.Get(lti.DeepLinkingFormField)
	p.secret("deep_linking_response", raw)
	if raw == "" {
		p.renderError(w, http.StatusBadRequest, "Invalid request", "The form has no JWT field.")
		return
	}
	resp, err := p.verifyDeepLinkingResponse(r.Context(), raw)
	if err != nil {
		p.log.Info("devplatform: deep linking response refused", "err", err)
		p.renderError(w, http.StatusBadRequest, "Deep Linking response refused", err.Error())
		return
	}

	var items []lti.ContentItem
	var skipped []string
	for i, rawItem := range resp.ContentItems {
		var item lti.ContentItem
		if err := json.Unmarshal(rawItem, &item); err != nil {
			skipped = append(skipped, fmt.Sprintf("item %d cannot be read: %v", i, err))
			continue
		}
		if item.Type != lti.ContentItemTypeResourceLink {
			// Moodle accepts only the types it offered in accept_types.
			skipped = append(skipped, fmt.Sprintf("item %d has type %q, not %s", i, item.Type, lti.ContentItemTypeResourceLink))
			continue
		}
		items = append(items, item)
	}
	created := p.addActivities(CourseID, items)

	probes := make([]Probe, len(created))
	for i, a := range created {
		u := a.TargetLinkURI
		if u == "" {
			u = p.cfg.ToolTargetLinkURI
		}
		probes[i] = p.probe(r.Context(), u)
		p.log.Info("devplatform: probed item URL", "url", u, "status", probes[i].Status, "err", probes[i].Err)
	}
	p.log.Info("devplatform: deep linking response accepted", "created", len(created), "skipped", len(skipped))

	type result struct {
		Activity Activity
		Probe    Probe
	}
	results := make([]result, len(created))
	for i := range created {
		results[i] = result{created[i], probes[i]}
	}
	p.render(w, http.StatusOK, "deeplinkreturn", "Activities added", p.signedIn(r), struct {
		Msg, ErrorMsg string
		Results       []result
		Skipped       []string
	}{resp.Msg, resp.ErrorMsg, results, skipped})
}

// verifyDeepLinkingResponse checks the response as Moodle does (Deep Linking 2.0,
// "Deep linking response message"): RS256 signed by a key from the tool's JWKS, iss the
// client_id, aud the platform, not expired, the right message type and deployment.
func (p *Platform) verifyDeepLinkingResponse(ctx context.Context, raw string) (*deepLinkingResponse, error) {
	msg, err := jws.ParseString(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: not a JWS: %w", errDeepLinking, err)
	}
	if len(msg.Signatures()) != 1 {
		return nil, fmt.Errorf("%w: expected one signature", errDeepLinking)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if h.Algorithm() != jwa.RS256 {
		return nil, fmt.Errorf("%w: alg %q is not RS256", errDeepLinking, h.Algorithm())
	}
	if h.KeyID() == "" {
		return nil, fmt.Errorf("%w: no kid in the header", errDeepLinking)
	}
	// The key set is cached and fetched again when the kid is unknown (key rotation).
	key, err := p.toolKeys.Key(ctx, p.cfg.ToolJWKSURL, h.KeyID())
	if err != nil {
		return nil, fmt.Errorf("%w: tool key %q: %w", errDeepLinking, h.KeyID(), err)
	}
	_, err = jwt.ParseString(raw,
		jwt.WithKey(jwa.RS256, key),
		jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(p.now)),
		jwt.WithAcceptableSkew(deepLinkingLeeway),
		jwt.WithIssuer(p.cfg.ClientID),
		jwt.WithAudience(p.cfg.PublicURL),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errDeepLinking, err)
	}
	var resp deepLinkingResponse
	if err := json.Unmarshal(msg.Payload(), &resp); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", errDeepLinking, err)
	}
	switch {
	case resp.MessageType != string(lti.MessageDeepLinkingResponse):
		return nil, fmt.Errorf("%w: message_type %q is not %s", errDeepLinking, resp.MessageType, lti.MessageDeepLinkingResponse)
	case resp.Version != lti.LTIVersion:
		return nil, fmt.Errorf("%w: version %q is not %s", errDeepLinking, resp.Version, lti.LTIVersion)
	case resp.DeploymentID != p.cfg.DeploymentID:
		return nil, fmt.Errorf("%w: deployment_id %q is not %q", errDeepLinking, resp.DeploymentID, p.cfg.DeploymentID)
	}
	return &resp, nil
}

// addActivities creates one activity per item, each with a new resource link id and,
// when the item asks for one, a grade column bound to it.
func (p *Platform) addActivities(courseID string, items []lti.ContentItem) []Activity {
	p.mu.Lock()
	defer p.mu.Unlock()
	created := make([]Activity, 0, len(items))
	for _, item := range items {
		a := Activity{
			CMID:          p.nextCMID,
			InstanceID:    p.nextInstance,
			Title:         item.Title,
			Text:          item.Text,
			TargetLinkURI: item.URL,
			Custom:        item.Custom,
			CourseID:      courseID,
		}
		p.nextCMID++
		p.nextInstance++
		if a.Title == "" {
			a.Title = p.cfg.ToolName
		}
		if li := item.LineItem; li != nil {
			label := li.Label
			if label == "" {
				label = a.Title
			}
			// The activity's own grade item (Moodle's itemtype mod): AGS may grade it
			// but not delete it.
			p.gradeItems = append(p.gradeItems, &gradeItem{
				LineItem: LineItem{ID: p.nextGradeID, Label: label, ScoreMaximum: li.ScoreMaximum,
					ResourceID: li.ResourceID, Tag: li.Tag, ResourceLinkID: a.ResourceLinkID()},
				grades: map[string]*Grade{},
			})
			p.nextGradeID++
		}
		p.activities = append(p.activities, a)
		created = append(created, p.withLineItems(a))
	}
	return created
}

// probe sends the plain GET Moodle's server sends to an item URL when an activity is
// saved (fixtures lti/04 and lti/11): no cookies, User-Agent MoodleBot.
func (p *Platform) probe(ctx context.Context, u string) Probe {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
	defer cancel()
	pr := Probe{URL: u}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		pr.Err = err.Error()
		return pr
	}
	req.Header.Set("User-Agent", p.userAgent())
	req.Header.Set("Accept", "*/*")
	resp, err := p.client.Do(req)
	if err != nil {
		pr.Err = err.Error()
		return pr
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	pr.Status = resp.StatusCode
	return pr
}
