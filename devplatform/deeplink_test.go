package devplatform_test

import (
	"bytes"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/internal/moodlecapture"
	"github.com/huddle-lti/huddle/lti"
)

func TestDeepLinkingFlow(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	got := bn.launch(t, bn.browser, "3", 0)

	// The initiation carries Moodle's ContentItemSelectionRequest launchid, no cmid.
	require.Regexp(t, `^\{"launchid":"ltilaunch_ContentItemSelectionRequest\d+"\}$`, got.Initiation.Get("lti_message_hint"))

	c := bn.verifiedClaims(t, got.IDToken)
	require.Equal(t, got.Nonce, c["nonce"])
	require.Equal(t, "LtiDeepLinkingRequest", c[lti.ClaimMessageType])
	require.Equal(t, "3", c["sub"])
	require.Equal(t, []any{devplatform.RoleInstructor}, c[lti.ClaimRoles])
	require.NotContains(t, c, lti.ClaimResourceLink)
	settings := c[lti.ClaimDeepLinking].(map[string]any)
	require.Equal(t, bn.srv.URL+"/deep-link-return?course=2", settings["deep_link_return_url"])
	require.Equal(t, []any{"ltiResourceLink"}, settings["accept_types"])
	require.Equal(t, []any{"frame", "iframe", "window"}, settings["accept_presentation_document_targets"])
	require.Equal(t, true, settings["accept_multiple"])
	require.Equal(t, false, settings["auto_create"])
	require.NotContains(t, c[lti.ClaimAGSEndpoint], "lineitem")

	// Huddle verifies the request and answers with its own signer: two activities, one
	// graded.
	req := huddleVerify(t, bn, got.IDToken)
	require.Equal(t, lti.MessageDeepLinkingRequest, req.MessageType)
	signer := lti.NewDeepLinkingSigner(lti.DeepLinkingConfig{Now: func() time.Time { return testNow }})
	launchURL := bn.tool.srv.URL + "/lti/launch"
	ret, err := signer.SignResponse(req, bn.p.Registration(), lti.DeepLinkingResponse{
		Message: "Huddle added 2 activities",
		Items: []lti.ContentItem{
			{Type: lti.ContentItemTypeResourceLink, Title: "Case board", Text: "Share cases", URL: launchURL + "?kind=case_board",
				Custom:   map[string]string{"huddle_kind": "case_board", "huddle_settings": `{"anonymous":true}`},
				LineItem: &lti.ContentLineItem{ScoreMaximum: 20, Label: "Case board", ResourceID: "case_board", Tag: "participation"}},
			{Type: lti.ContentItemTypeResourceLink, Title: "Reflection log", URL: launchURL + "?kind=reflection_log",
				Custom: map[string]string{"huddle_kind": "reflection_log", "huddle_settings": `{}`}},
		},
	}, bn.tool.signingKey())
	require.NoError(t, err)
	require.Equal(t, bn.p.DeepLinkReturnURL(), ret.ReturnURL)

	// Huddle's frame posts the JWT back to the platform.
	result := bn.browser.post(ret.ReturnURL, url.Values{lti.DeepLinkingFormField: {ret.JWT}})
	require.Equal(t, http.StatusOK, result.Status, result.Body)
	require.Contains(t, result.Body, devplatform.Banner)
	require.Contains(t, result.Body, "Huddle added 2 activities")
	require.Contains(t, result.Body, "Case board")
	require.Contains(t, result.Body, "Reflection log")
	require.Equal(t, 2, strings.Count(result.Body, "HTTP 200"))
	require.Contains(t, result.Body, `href="/course"`)

	acts := bn.p.Activities()
	require.Len(t, acts, 3)
	board, log := acts[1], acts[2]
	require.Equal(t, 3, board.CMID)
	require.Equal(t, "2", board.ResourceLinkID())
	require.Equal(t, launchURL+"?kind=case_board", board.TargetLinkURI)
	require.Equal(t, "case_board", board.Custom["huddle_kind"])
	require.Equal(t, []devplatform.LineItem{{ID: 2, Label: "Case board", ScoreMaximum: 20, ResourceID: "case_board",
		Tag: "participation", ResourceLinkID: "2"}}, board.LineItems)
	require.Equal(t, 4, log.CMID)
	require.Equal(t, "3", log.ResourceLinkID())
	require.Empty(t, log.LineItems)

	// Like Moodle on save: a plain GET of each item URL, no cookies, MoodleBot.
	probes := bn.tool.seenProbes()
	require.Len(t, probes, 2)
	for i, want := range []string{launchURL + "?kind=case_board", launchURL + "?kind=reflection_log"} {
		require.Equal(t, want, probes[i].URL)
		require.Equal(t, "MoodleBot/4.5 (+"+bn.srv.URL+")", probes[i].UserAgent)
		require.Zero(t, probes[i].Cookies)
	}

	// The course page lists them.
	course := bn.browser.get(bn.srv.URL + "/course")
	require.Contains(t, course.Body, "Case board")
	require.Contains(t, course.Body, "Reflection log")

	// A learner launches them: item URL as target_link_uri, custom parameters, and
	// lineitem only for the graded one.
	learner := newBrowser(t)
	boardLaunch := bn.verifiedClaims(t, bn.launch(t, learner, "4", 3).IDToken)
	require.Equal(t, launchURL+"?kind=case_board", boardLaunch[lti.ClaimTargetLinkURI])
	require.Equal(t, "2", boardLaunch[lti.ClaimResourceLink].(map[string]any)["id"])
	custom := boardLaunch[lti.ClaimCustom].(map[string]any)
	require.Equal(t, "case_board", custom["huddle_kind"])
	require.Equal(t, `{"anonymous":true}`, custom["huddle_settings"])
	ags := boardLaunch[lti.ClaimAGSEndpoint].(map[string]any)
	require.Equal(t, bn.srv.URL+"/mod/lti/services.php/2/lineitems/2/lineitem?type_id=1", ags["lineitem"])

	logLaunch := bn.verifiedClaims(t, bn.launch(t, learner, "4", 4).IDToken)
	require.Equal(t, "3", logLaunch[lti.ClaimResourceLink].(map[string]any)["id"])
	require.NotContains(t, logLaunch[lti.ClaimAGSEndpoint], "lineitem")
	// The login initiation for a deep-linked activity also carries the item URL.
	require.Equal(t, launchURL+"?kind=reflection_log", bn.tool.lastLoginTarget())

	// The column is the activity's own grade item: the tool may grade it, not delete it
	// (lti/10 118).
	token := bn.accessToken(t, lti.ScopeLineItem)
	del := bn.service(t, http.MethodDelete, ags["lineitem"].(string), token, "")
	require.Equal(t, http.StatusForbidden, del.Status, del.Body)
	require.Len(t, bn.p.Gradebook().LineItems, 1)
}

func (ft *fakeTool) lastLoginTarget() string {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.logins[len(ft.logins)-1].Get("target_link_uri")
}

// responseClaims is a valid LtiDeepLinkingResponse for bn with one graded item.
func responseClaims(bn *bundle) map[string]any {
	return map[string]any{
		"iss":                 testClientID,
		"aud":                 bn.srv.URL,
		"iat":                 testNow.Unix(),
		"exp":                 testNow.Add(5 * time.Minute).Unix(),
		"nonce":               "n-1",
		lti.ClaimDeploymentID: "1",
		lti.ClaimMessageType:  "LtiDeepLinkingResponse",
		lti.ClaimVersion:      "1.3.0",
		lti.ClaimContentItems: []any{map[string]any{
			"type": "ltiResourceLink", "title": "Discussion board", "url": bn.tool.srv.URL + "/lti/launch?kind=discussion",
			"custom":   map[string]any{"huddle_kind": "discussion"},
			"lineItem": map[string]any{"scoreMaximum": 10},
		}},
	}
}

func sign(t *testing.T, key jwk.Key, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	tok.Options().Enable(jwt.FlattenAudience)
	for k, v := range claims {
		require.NoError(t, tok.Set(k, v))
	}
	h := jws.NewHeaders()
	require.NoError(t, h.Set(jws.KeyIDKey, key.KeyID()))
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, key, jws.WithProtectedHeaders(h)))
	require.NoError(t, err)
	return string(b)
}

func TestDeepLinkReturnRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		token func(t *testing.T, bn *bundle) string
		want  string
	}{
		{"expired", func(t *testing.T, bn *bundle) string {
			c := responseClaims(bn)
			c["iat"], c["exp"] = testNow.Add(-10*time.Minute).Unix(), testNow.Add(-time.Minute).Unix()
			return sign(t, bn.tool.signingKey(), c)
		}, `"exp" not satisfied`},
		{"no exp", func(t *testing.T, bn *bundle) string {
			c := responseClaims(bn)
			delete(c, "exp")
			return sign(t, bn.tool.signingKey(), c)
		}, `"exp" not satisfied`},
		{"iss is not the client_id", func(t *testing.T, bn *bundle) string {
			c := responseClaims(bn)
			c["iss"] = "another-client"
			return sign(t, bn.tool.signingKey(), c)
		}, `"iss" not satisfied`},
		{"aud is not the platform", func(t *testing.T, bn *bundle) string {
			c := responseClaims(bn)
			c["aud"] = "https://moodle.example"
			return sign(t, bn.tool.signingKey(), c)
		}, `"aud" not satisfied`},
		{"wrong message_type", func(t *testing.T, bn *bundle) string {
			c := responseClaims(bn)
			c[lti.ClaimMessageType] = "LtiResourceLinkRequest"
			return sign(t, bn.tool.signingKey(), c)
		}, "message_type"},
		{"wrong deployment_id", func(t *testing.T, bn *bundle) string {
			c := responseClaims(bn)
			c[lti.ClaimDeploymentID] = "2"
			return sign(t, bn.tool.signingKey(), c)
		}, "deployment_id"},
		{"signed by a key the tool does not publish", func(t *testing.T, bn *bundle) string {
			other, err := jwk.FromRaw(rsaKey(t, 2))
			require.NoError(t, err)
			require.NoError(t, other.Set(jwk.KeyIDKey, "not-published"))
			return sign(t, other, responseClaims(bn))
		}, "not-published"},
		{"forged with the published kid", func(t *testing.T, bn *bundle) string {
			other, err := jwk.FromRaw(rsaKey(t, 2))
			require.NoError(t, err)
			require.NoError(t, other.Set(jwk.KeyIDKey, bn.tool.signingKey().KeyID()))
			return sign(t, other, responseClaims(bn))
		}, "verif"},
		{"not a JWT", func(*testing.T, *bundle) string { return "not.a.jwt" }, "not a JWS"},
		{"missing", func(*testing.T, *bundle) string { return "" }, "no JWT field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bn := setup(t)
			pg := bn.browser.post(bn.p.DeepLinkReturnURL(), url.Values{"JWT": {tc.token(t, bn)}})
			require.Equal(t, http.StatusBadRequest, pg.Status)
			require.Contains(t, html.UnescapeString(pg.Body), tc.want)
			require.Contains(t, pg.Body, devplatform.Banner)
			require.Len(t, bn.p.Activities(), 1, "nothing is created")
			require.Empty(t, bn.tool.seenProbes())
		})
	}
}

func TestDeepLinkReturnRefetchesToolKeysOnUnknownKid(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	post := func() page {
		return bn.browser.post(bn.p.DeepLinkReturnURL(), url.Values{"JWT": {sign(t, bn.tool.signingKey(), responseClaims(bn))}})
	}
	require.Equal(t, http.StatusOK, post().Status)
	require.Equal(t, http.StatusOK, post().Status)
	require.Equal(t, 1, bn.tool.fetches(), "the tool's key set is cached")

	bn.tool.useKey(rsaKey(t, 2), "tool-key-2")
	pg := post()
	require.Equal(t, http.StatusOK, pg.Status, pg.Body)
	require.Equal(t, 2, bn.tool.fetches(), "an unknown kid fetches the key set again")
	require.Len(t, bn.p.Activities(), 4)
}

// TestDeepLinkReturnReplaysMoodleFixture posts the real two-item response captured from
// the capture tool (fixture lti/11) to a platform configured like that Moodle.
func TestDeepLinkReturnReplaysMoodleFixture(t *testing.T) {
	t.Parallel()
	raw := moodlecapture.Read(t, "lti/11-deep-linking-multi/347-deep-linking-response.jwt")
	toolJWKS := moodlecapture.Read(t, "keys/tool_jwks.json")

	// The capture tool at 127.0.0.1:9000, answered in process.
	tool := &replayTool{jwks: toolJWKS}
	p, err := devplatform.New(devplatform.Config{
		PublicURL:         "http://127.0.0.1:8000",
		ClientID:          "NN2vPfddM8H41eY",
		DeploymentID:      "1",
		ToolLoginURL:      "http://127.0.0.1:9000/login",
		ToolRedirectURI:   "http://127.0.0.1:9000/launch",
		ToolJWKSURL:       "http://127.0.0.1:9000/jwks",
		ToolTargetLinkURI: "http://127.0.0.1:9000/launch",
		HTTPClient:        &http.Client{Transport: tool},
		Now:               func() time.Time { return time.Date(2026, 11, 26, 17, 55, 43, 0, time.UTC) },
		Key:               rsaKey(t, 0),
	})
	require.NoError(t, err)

	body := url.Values{"JWT": {strings.TrimSpace(string(raw))}}.Encode()
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8000/deep-link-return?course=2", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	p.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), "Capture tool added 2 items")

	acts := p.Activities()
	require.Len(t, acts, 3)
	require.Equal(t, "Reflection log (deep linked, multi 1/2)", acts[1].Title)
	require.Equal(t, "http://127.0.0.1:9000/launch?item=reflection-log-week1", acts[1].TargetLinkURI)
	require.Equal(t, map[string]string{"activity_kind": "reflection_log", "item_id": "reflection-log-week1"}, acts[1].Custom)
	require.Equal(t, []devplatform.LineItem{{ID: 2, Label: "Reflection log week 1", ScoreMaximum: 10,
		ResourceID: "reflection-log-week1", Tag: "reflection", ResourceLinkID: "2"}}, acts[1].LineItems)
	require.Equal(t, "Case sharing (deep linked, multi 2/2, ungraded)", acts[2].Title)
	require.Empty(t, acts[2].LineItems)

	require.Equal(t, []string{
		"GET http://127.0.0.1:9000/jwks MoodleBot/4.5 (+http://127.0.0.1:8000)",
		"GET http://127.0.0.1:9000/launch?item=reflection-log-week1 MoodleBot/4.5 (+http://127.0.0.1:8000)",
		"GET http://127.0.0.1:9000/launch?item=case-sharing-week1 MoodleBot/4.5 (+http://127.0.0.1:8000)",
	}, tool.seen())
}

// replayTool answers the platform's outbound requests as the capture tool did.
type replayTool struct {
	jwks     []byte
	mu       sync.Mutex
	requests []string
}

func (rt *replayTool) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.requests = append(rt.requests, r.Method+" "+r.URL.String()+" "+r.UserAgent())
	rt.mu.Unlock()
	body, ctype := []byte("<html>capture tool</html>"), "text/html"
	if r.URL.Path == "/jwks" {
		body, ctype = rt.jwks, "application/json"
	}
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {ctype}},
		Body:       io.NopCloser(bytes.NewReader(body)),
		Request:    r,
	}, nil
}

func (rt *replayTool) seen() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]string(nil), rt.requests...)
}

// Like Moodle's contentitem_return.php, the return fills the "Add an activity" form only
// inside its dialog: a response posted in a window of its own adds nothing.
func TestDeepLinkReturnOutsideTheDialogAddsNothing(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	req, err := http.NewRequest(http.MethodPost, bn.p.DeepLinkReturnURL(),
		strings.NewReader(url.Values{"JWT": {sign(t, bn.tool.signingKey(), responseClaims(bn))}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Dest", "document")
	pg := bn.browser.do(req)
	require.Contains(t, pg.Body, "Nothing was added")
	require.Len(t, bn.p.Activities(), 1, "nothing is created")

	req.Header.Set("Sec-Fetch-Dest", "iframe")
	req.Body = io.NopCloser(strings.NewReader(url.Values{"JWT": {sign(t, bn.tool.signingKey(), responseClaims(bn))}}.Encode()))
	pg = bn.browser.do(req)
	require.Contains(t, pg.Body, "Activities added")
	require.Len(t, bn.p.Activities(), 2, "inside the dialog the activity is added")
}
