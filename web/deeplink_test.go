package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/stretchr/testify/require"
)

func TestDeepLinkingPicksActivitiesAndSignsResponse(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	returnURL := e.platform.Issuer + "/mod/lti/contentitem_return.php?course=2&id=1&sesskey=abc"

	auth := e.startLogin(t, b, educator)
	claims := e.platform.DeepLinkingClaims(educator, course2, auth.Query().Get("nonce"), returnURL)
	claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"].(map[string]any)["data"] = "opaque-csrf-from-platform"
	r := b.post("/lti/launch", url.Values{"id_token": {e.platform.Sign(t, claims)}, "state": {auth.Query().Get("state")}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Regexp(t, `^/deep-link/`, r.location)

	picker := b.get(r.location)
	expectPage(t, picker, http.StatusOK, "Add Huddle to your course", "Test board", "Test log", `type="checkbox"`)
	csrf := extractValue(t, picker.body, "csrf")

	// A learner who somehow has the link cannot answer it.
	lb := e.browser(t)
	require.Equal(t, http.StatusSeeOther, e.launch(t, lb, learner, course2).code)
	expectPage(t, lb.get(r.location), http.StatusNotFound, "deep_link_expired")

	expectPage(t, b.post(r.location, url.Values{"csrf": {csrf}}), http.StatusUnprocessableEntity, "Choose one kind")
	resp := b.post(r.location, url.Values{"csrf": {csrf}, "kind": {"test_board", "test_log"}, "max_score": {"20"}})
	expectPage(t, resp, http.StatusOK, `action="`+htmlEscapeURL(returnURL)+`"`, `name="JWT"`, "data-autosubmit")
	require.Contains(t, resp.header.Get("Content-Security-Policy"), "form-action 'self' "+e.platform.Issuer)
	raw := extractValue(t, resp.body, "JWT")

	// Moodle verifies it with Huddle's published key set.
	set, err := jwk.Parse([]byte(b.get("/.well-known/jwks.json").body))
	require.NoError(t, err)
	tok, err := jwt.Parse([]byte(raw), jwt.WithKeySet(set), jwt.WithAudience(e.platform.Issuer), jwt.WithIssuer(e.platform.ClientID))
	require.NoError(t, err)
	get := func(k string) any { v, _ := tok.Get(k); return v }
	require.Equal(t, "LtiDeepLinkingResponse", get("https://purl.imsglobal.org/spec/lti/claim/message_type"))
	require.Equal(t, "1", get("https://purl.imsglobal.org/spec/lti/claim/deployment_id"))
	require.Equal(t, "opaque-csrf-from-platform", get("https://purl.imsglobal.org/spec/lti-dl/claim/data"))
	itemsJSON, err := json.Marshal(get("https://purl.imsglobal.org/spec/lti-dl/claim/content_items"))
	require.NoError(t, err)
	require.JSONEq(t, `[
	  {"type":"ltiResourceLink","title":"Test board","text":"A kind registered by the tests.",
	   "url":"https://huddle.test/lti/launch?kind=test_board",
	   "custom":{"huddle_kind":"test_board","huddle_settings":"{\"max_score\":20}"},
	   "lineItem":{"scoreMaximum":20,"label":"Test board","resourceId":"test_board","tag":"test"}},
	  {"type":"ltiResourceLink","title":"Test log","text":"An ungraded kind.",
	   "url":"https://huddle.test/lti/launch?kind=test_log",
	   "custom":{"huddle_kind":"test_log","huddle_settings":"{}"}}
	]`, string(itemsJSON))

	// The request is answered once.
	expectPage(t, b.post(r.location, url.Values{"csrf": {csrf}, "kind": {"test_log"}}), http.StatusNotFound, "deep_link_expired")

	// The activity Moodle creates from the first item launches straight into its kind.
	link := course2
	link.ResourceLinkID, link.TargetLinkURI = "2", "https://huddle.test/lti/launch?kind=test_board"
	link.Custom = map[string]string{"huddle_kind": "test_board", "huddle_settings": "{}"}
	lr := e.launch(t, lb, learner, link)
	expectPage(t, lb.get(lr.location), http.StatusOK, "Test board")
}

func htmlEscapeURL(s string) string { return htmlEscaper.Replace(s) }
