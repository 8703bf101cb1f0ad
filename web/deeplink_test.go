package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
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
	// Issue 17 item 12: each ticked kind has its own title, and none is dropped.
	resp := b.post(r.location, url.Values{"csrf": {csrf}, "kind": {"test_board", "test_log"}, "max_score": {"20"},
		"title_test_board": {"Week 1 cases"}, "title_test_log": {"  "}, "title_case_board": {"Not ticked"}})
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
	// Each item has its own random huddle_activity key (course copies find their
	// source by it); the rest is exactly as expected.
	items, _ := get("https://purl.imsglobal.org/spec/lti-dl/claim/content_items").([]any)
	require.Len(t, items, 2)
	keys := map[string]bool{}
	for _, it := range items {
		custom := it.(map[string]any)["custom"].(map[string]any)
		key, _ := custom["huddle_activity"].(string)
		require.Regexp(t, `^ha_[A-Z2-7]{26}$`, key)
		keys[key] = true
		delete(custom, "huddle_activity")
	}
	require.Len(t, keys, 2, "a key per item")
	itemsJSON, err := json.Marshal(items)
	require.NoError(t, err)
	require.JSONEq(t, `[
	  {"type":"ltiResourceLink","title":"Week 1 cases","text":"A kind registered by the tests.",
	   "url":"https://huddle.test/lti/launch?kind=test_board",
	   "custom":{"huddle_kind":"test_board","huddle_settings":"{\"max_score\":20}"},
	   "lineItem":{"scoreMaximum":20,"label":"Week 1 cases","resourceId":"test_board","tag":"test"}},
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

// TestDeepLinkingPickerSettings: the picker's board and reflection settings go into
// each item's huddle_settings (anonymous to peers by default for boards), and choices
// a board or log would refuse are sent back to the field, with the request still
// usable.
func TestDeepLinkingPickerSettings(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	b := e.browser(t)
	auth := e.startLogin(t, b, educator)
	claims := e.platform.DeepLinkingClaims(educator, course2, auth.Query().Get("nonce"), e.platform.Issuer+"/mod/lti/contentitem_return.php")
	r := b.post("/lti/launch", url.Values{"id_token": {e.platform.Sign(t, claims)}, "state": {auth.Query().Get("state")}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	picker := b.get(r.location)
	csrf := extractValue(t, picker.body, "csrf")
	// Boards default to anonymous to peers.
	require.Regexp(t, `name="identity_discussion_board" value="peers" checked`, picker.body)
	require.Regexp(t, `name="complete_on_reflection_log" value="submit" checked`, picker.body)

	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
		msg   string
	}{
		{"fully anonymous with a grade", url.Values{"kind": {"discussion_board"}, "identity_discussion_board": {"anonymous"},
			"grade_threads_discussion_board": {"1"}}, "grade_threads-", "not available on a fully anonymous board"},
		{"not a number", url.Values{"kind": {"case_board"}, "grade_replies_case_board": {"two"}}, "grade_threads-", "whole numbers"},
		{"unknown identity", url.Values{"kind": {"case_board"}, "identity_case_board": {"secret"}}, "identity-", "Choose how authors are shown"},
		{"unknown template", url.Values{"kind": {"reflection_log"}, "template_reflection_log": {"custom"}}, "template-", "Choose a template"},
		{"unknown completion", url.Values{"kind": {"reflection_log"}, "complete_on_reflection_log": {"never"}}, "complete_on-", "Choose what completes"},
		{"title too long", url.Values{"kind": {"reflection_log"}, "title_reflection_log": {strings.Repeat("é", 201)}}, "title-", "at most 200 characters"},
	} {
		tc.form.Set("csrf", csrf)
		resp := b.post(r.location, tc.form)
		expectPage(t, resp, http.StatusUnprocessableEntity, `href="#`+tc.field, tc.msg)
	}

	resp := b.post(r.location, url.Values{"csrf": {csrf}, "kind": {"discussion_board", "case_board", "reflection_log"},
		"grade_threads_discussion_board": {"2"}, "grade_replies_discussion_board": {"3"},
		"identity_case_board": {"named"}, "title_case_board": {"Cases"},
		"template_reflection_log": {"gibbs"}, "complete_on_reflection_log": {"signoff"}})
	expectPage(t, resp, http.StatusOK, `name="JWT"`)
	tok, err := jwt.Parse([]byte(extractValue(t, resp.body, "JWT")), jwt.WithVerify(false), jwt.WithValidate(false))
	require.NoError(t, err)
	raw, _ := tok.Get("https://purl.imsglobal.org/spec/lti-dl/claim/content_items")
	items := raw.([]any)
	require.Len(t, items, 3)
	settings := map[string]string{}
	titles := map[string]string{}
	for _, it := range items {
		m := it.(map[string]any)
		custom := m["custom"].(map[string]any)
		settings[custom["huddle_kind"].(string)] = custom["huddle_settings"].(string)
		titles[custom["huddle_kind"].(string)] = m["title"].(string)
	}
	require.JSONEq(t, `{"max_score":100,"identity":"peers","grade_threads":2,"grade_replies":3}`, settings["discussion_board"])
	require.JSONEq(t, `{"max_score":100,"identity":"named"}`, settings["case_board"])
	require.JSONEq(t, `{"max_score":100,"template":"gibbs","complete_on":"signoff"}`, settings["reflection_log"])
	require.Equal(t, map[string]string{"discussion_board": "Discussion board", "case_board": "Cases", "reflection_log": "Reflection log"}, titles)
}
