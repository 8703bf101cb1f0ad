package devplatform_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/internal/moodlecapture"
	"github.com/huddle-lti/huddle/lti"
)

var allAGSScopes = []string{lti.ScopeLineItem, lti.ScopeLineItemReadOnly, lti.ScopeResultReadOnly, lti.ScopeScore}

// assertion is a client assertion as Huddle signs it (lti.ServiceTokens), with edit
// applied to the claims.
func (bn *bundle) assertion(t *testing.T, edit func(claims map[string]any)) string {
	t.Helper()
	claims := map[string]any{
		"iss": testClientID,
		"sub": testClientID,
		"aud": bn.p.Registration().TokenURL,
		"iat": bn.now.Unix(),
		"exp": bn.now.Add(5 * time.Minute).Unix(),
		"jti": randomHex(t),
	}
	if edit != nil {
		edit(claims)
	}
	return sign(t, bn.tool.signingKey(), claims)
}

func tokenForm(assertion string, scopes ...string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
		"scope":                 {strings.Join(scopes, " ")},
	}
}

type answer struct {
	Status      int
	StatusLine  string // e.g. "409 Refusing score with ..."
	ContentType string
	Header      http.Header
	Body        string
}

func (bn *bundle) do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := newClient(t).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{Status: resp.StatusCode, StatusLine: resp.Status, ContentType: resp.Header.Get("Content-Type"),
		Header: resp.Header, Body: string(body)}
}

func (bn *bundle) postToken(t *testing.T, form url.Values) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, bn.p.Registration().TokenURL, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return bn.do(t, req)
}

// accessToken gets an access token with scopes from the token endpoint.
func (bn *bundle) accessToken(t *testing.T, scopes ...string) string {
	t.Helper()
	a := bn.postToken(t, tokenForm(bn.assertion(t, nil), scopes...))
	require.Equal(t, http.StatusOK, a.Status, a.Body)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(a.Body), &out))
	return out.AccessToken
}

// service calls an AGS URL with token (none if empty) and the given headers.
func (bn *bundle) service(t *testing.T, method, u, token, body string, header ...string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return bn.do(t, req)
}

func (bn *bundle) lineItemsURL() string {
	return bn.srv.URL + "/mod/lti/services.php/2/lineitems?type_id=1"
}

func (bn *bundle) lineItemURL(id string) string {
	return bn.srv.URL + "/mod/lti/services.php/2/lineitems/" + id + "/lineitem?type_id=1"
}

func (bn *bundle) scoresURL(id string) string {
	return bn.srv.URL + "/mod/lti/services.php/2/lineitems/" + id + "/lineitem/scores?type_id=1"
}

// createLineItem posts body to the container and returns the new line item's URL.
func (bn *bundle) createLineItem(t *testing.T, token, body string) string {
	t.Helper()
	a := bn.service(t, http.MethodPost, bn.lineItemsURL(), token, body, "Content-Type", lti.MediaTypeLineItem)
	require.Equal(t, http.StatusCreated, a.Status, a.Body)
	var li struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal([]byte(a.Body), &li))
	return li.ID
}

func TestTokenGrant(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	// Huddle asks for NRPS too at times: Moodle grants the permitted part, in order.
	a := bn.postToken(t, tokenForm(bn.assertion(t, nil), append(allAGSScopes, lti.ScopeContextMembershipReadOnly)...))
	require.Equal(t, http.StatusOK, a.Status, a.Body)
	require.Equal(t, "text/html; charset=utf-8", a.ContentType, "Moodle labels its JSON text/html")
	require.Regexp(t, `^\{\n  "access_token" : "[0-9a-f]{32}",\n  "token_type" : "Bearer",\n  "expires_in" : 3600,\n  "scope" : "[^"]+"\n\}$`, a.Body)
	var out struct {
		Scope string `json:"scope"`
	}
	require.NoError(t, json.Unmarshal([]byte(a.Body), &out))
	require.Equal(t, strings.Join(allAGSScopes, " "), out.Scope)
}

func TestTokenRefusals(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	otherKey, err := jwk.FromRaw(rsaKey(t, 2))
	require.NoError(t, err)
	require.NoError(t, otherKey.Set(jwk.KeyIDKey, "tool-key-1")) // Huddle's kid, not Huddle's key
	require.NoError(t, otherKey.Set(jwk.AlgorithmKey, jwa.RS256))
	unknownKid, err := jwk.FromRaw(rsaKey(t, 1))
	require.NoError(t, err)
	require.NoError(t, unknownKid.Set(jwk.KeyIDKey, "no-such-kid"))

	claims := func(edit func(map[string]any)) func() url.Values {
		return func() url.Values { return tokenForm(bn.assertion(t, edit), lti.ScopeScore) }
	}
	signedBy := func(key jwk.Key) func() url.Values {
		return func() url.Values {
			return tokenForm(sign(t, key, map[string]any{
				"iss": testClientID, "sub": testClientID, "aud": bn.p.Registration().TokenURL,
				"iat": testNow.Unix(), "exp": testNow.Add(time.Minute).Unix(), "jti": randomHex(t),
			}), lti.ScopeScore)
		}
	}
	for _, tc := range []struct {
		name string
		form func() url.Values
		// error is the "error" member Moodle sends; description, if set, must be in
		// error_description (refusals stricter than Moodle 4.5).
		error       string
		description string
	}{
		// Moodle 4.5's own refusals (fixtures lti/02 031-036, lti/10 075-086).
		{"bad signature", signedBy(otherKey), "Signature verification failed", ""},
		{"unknown kid", signedBy(unknownKid), `"kid" invalid, unable to lookup correct key`, ""},
		{"expired", claims(func(c map[string]any) {
			c["iat"], c["exp"] = testNow.Add(-time.Hour).Unix(), testNow.Add(-time.Minute).Unix()
		}), "Expired token", ""},
		{"issued in the future", claims(func(c map[string]any) { c["iat"] = testNow.Add(time.Hour).Unix() }),
			"Cannot handle token prior to 2026-11-26T18:39:52+0000", ""},
		{"unknown client", claims(func(c map[string]any) { c["iss"], c["sub"] = "unknown-client", "unknown-client" }),
			"invalid_client", ""},
		{"unknown scope", func() url.Values {
			return tokenForm(bn.assertion(t, nil), "https://example.invalid/scope/unknown")
		}, "invalid_scope", ""},
		{"NRPS only (not implemented)", func() url.Values {
			return tokenForm(bn.assertion(t, nil), lti.ScopeContextMembershipReadOnly)
		}, "invalid_scope", ""},
		{"authorization_code grant", func() url.Values {
			f := tokenForm(bn.assertion(t, nil), lti.ScopeScore)
			f.Set("grant_type", "authorization_code")
			return f
		}, "unsupported_grant_type", ""},
		{"no scope", func() url.Values { return tokenForm(bn.assertion(t, nil)) }, "invalid_request", ""},
		{"not a JWT", func() url.Values { return tokenForm("not-a-jwt", lti.ScopeScore) }, "invalid_request", ""},
		// Stricter than Moodle 4.5, which took these (lti/10 087-095).
		{"wrong aud", claims(func(c map[string]any) { c["aud"] = "https://wrong.example/token" }), "invalid_client", "aud"},
		{"aud is the issuer", claims(func(c map[string]any) { c["aud"] = bn.srv.URL }), "invalid_client", "aud"},
		{"iss is not the client", claims(func(c map[string]any) { c["iss"] = "someone-else" }), "invalid_client", "iss"},
		{"no jti", claims(func(c map[string]any) { delete(c, "jti") }), "invalid_client", "jti"},
		{"no exp", claims(func(c map[string]any) { delete(c, "exp") }), "invalid_request", "exp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := bn.postToken(t, tc.form())
			require.Equal(t, http.StatusBadRequest, a.Status, a.Body)
			require.Equal(t, "text/html; charset=utf-8", a.ContentType)
			var out struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			require.NoError(t, json.Unmarshal([]byte(a.Body), &out), a.Body)
			require.Equal(t, tc.error, out.Error)
			if tc.description != "" {
				require.Contains(t, out.Description, tc.description)
			} else {
				require.Empty(t, out.Description, "Moodle's own refusals carry only error")
				require.True(t, strings.HasPrefix(a.Body, "{\n  \"error\" : "), a.Body)
			}
		})
	}

	t.Run("JSON body", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, bn.p.Registration().TokenURL, strings.NewReader(`{"grant_type":"client_credentials"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		a := bn.do(t, req)
		require.Equal(t, http.StatusBadRequest, a.Status)
		require.Equal(t, "{\n  \"error\" : \"invalid_request\"\n}", a.Body, "as lti/10 080")
	})

	t.Run("replayed jti", func(t *testing.T) {
		form := tokenForm(bn.assertion(t, nil), lti.ScopeScore)
		require.Equal(t, http.StatusOK, bn.postToken(t, form).Status)
		again := bn.postToken(t, form)
		require.Equal(t, http.StatusBadRequest, again.Status)
		require.Contains(t, again.Body, `"error" : "invalid_client"`)
		require.Contains(t, again.Body, "already used")
	})
}

func TestTokenEndpointCachesToolKeys(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	for range 3 {
		bn.accessToken(t, lti.ScopeScore)
	}
	require.Equal(t, 1, bn.tool.fetches(), "the tool's JWKS is fetched once and cached")
	// A new key (rotation): the unknown kid fetches the set again.
	bn.tool.useKey(rsaKey(t, 2), "tool-key-2")
	bn.accessToken(t, lti.ScopeScore)
	require.Equal(t, 2, bn.tool.fetches())
}

func TestLineItems(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	token := bn.accessToken(t, allAGSScopes...)
	readOnly := bn.accessToken(t, lti.ScopeLineItemReadOnly)
	container := lti.MediaTypeLineItemContainer

	list := bn.service(t, http.MethodGet, bn.lineItemsURL(), token, "", "Accept", container)
	require.Equal(t, http.StatusOK, list.Status)
	require.Equal(t, container+"; charset=utf-8", list.ContentType)
	require.Equal(t, "[]", list.Body, "the seeded activity has no grade column")

	// Created as Moodle creates them: the posted members in order, then the id, slashes
	// unescaped (lti/02 048).
	created := bn.service(t, http.MethodPost, bn.lineItemsURL(), token,
		`{"label":"Participation","resourceId":"peer-discussion","scoreMaximum":100,"tag":"participation","resourceLinkId":"1"}`,
		"Content-Type", lti.MediaTypeLineItem, "Accept", lti.MediaTypeLineItem)
	require.Equal(t, http.StatusCreated, created.Status, created.Body)
	require.Equal(t, lti.MediaTypeLineItem+"; charset=utf-8", created.ContentType)
	require.Equal(t, `{"label":"Participation","resourceId":"peer-discussion","scoreMaximum":100,"tag":"participation",`+
		`"resourceLinkId":"1","id":"`+bn.lineItemURL("2")+`"}`, created.Body)
	unbound := bn.createLineItem(t, token, `{"scoreMaximum":50,"label":"Reflection log","tag":"reflection"}`)
	require.Equal(t, bn.lineItemURL("3"), unbound)

	// Read back with Moodle's escaped slashes (lti/02 043, 061).
	esc := func(s string) string { return strings.ReplaceAll(s, "/", `\/`) }
	one := bn.service(t, http.MethodGet, bn.lineItemURL("2"), readOnly, "", "Accept", lti.MediaTypeLineItem)
	require.Equal(t, http.StatusOK, one.Status, one.Body)
	bound := `{"id":"` + esc(bn.lineItemURL("2")) + `","label":"Participation","scoreMaximum":100,` +
		`"resourceId":"peer-discussion","tag":"participation","resourceLinkId":"1","ltiLinkId":"1"}`
	require.Equal(t, bound, one.Body)
	free := `{"id":"` + esc(bn.lineItemURL("3")) + `","label":"Reflection log","scoreMaximum":50,"resourceId":"","tag":"reflection"}`

	for _, tc := range []struct {
		name, query string
		want        string
	}{
		{"all", "", "[" + bound + "," + free + "]"},
		{"resource link", "&resource_link_id=1", "[" + bound + "]"},
		{"tag", "&tag=reflection", "[" + free + "]"},
		{"resource id", "&resource_id=peer-discussion", "[" + bound + "]"},
		{"no match", "&resource_link_id=9", "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := bn.service(t, http.MethodGet, bn.lineItemsURL()+tc.query, readOnly, "", "Accept", container)
			require.Equal(t, http.StatusOK, a.Status, a.Body)
			require.Equal(t, tc.want, a.Body)
		})
	}

	t.Run("paging with Moodle's Link header", func(t *testing.T) {
		a := bn.service(t, http.MethodGet, bn.lineItemsURL()+"&limit=1", readOnly, "", "Accept", container)
		require.Equal(t, "["+bound+"]", a.Body)
		base := bn.lineItemsURL() + "&amp;limit=1&amp;from="
		require.Equal(t, "<"+base+"0>; rel=“first”, <"+base+"0>; rel=“canonical”, <"+base+"1>; rel=“next”, <"+
			base+"1>; rel=“last”", a.Header.Get("Link"))
		next, ok := lti.LinkByRel(lti.ParseLinkHeader(a.Header.Values("Link")...), "next")
		require.True(t, ok, "Huddle's parser reads it")
		page2 := bn.service(t, http.MethodGet, next.URL, readOnly, "", "Accept", container)
		require.Equal(t, "["+free+"]", page2.Body)
	})

	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name, method, url, token, body string
			header                         []string
			status                         int
			statusLine                     string
		}{
			{"no token", http.MethodGet, bn.lineItemsURL(), "", "", []string{"Accept", container}, 401, "401 Unauthorized"},
			{"bogus token", http.MethodGet, bn.lineItemsURL(), "deadbeef", "", []string{"Accept", container}, 401, "401 Unauthorized"},
			{"read-only token creates", http.MethodPost, bn.lineItemsURL(), readOnly, `{"label":"x","scoreMaximum":1}`,
				[]string{"Content-Type", lti.MediaTypeLineItem}, 401, "401 Unauthorized"},
			{"other type_id", http.MethodGet, strings.Replace(bn.lineItemsURL(), "type_id=1", "type_id=2", 1), token, "",
				[]string{"Accept", container}, 401, "401 Unauthorized"},
			{"wrong Accept", http.MethodGet, bn.lineItemsURL(), token, "", []string{"Accept", "application/json"}, 400,
				"400 No handler found for /2/lineitems application/json"},
			{"no label", http.MethodPost, bn.lineItemsURL(), token, `{"scoreMaximum":10}`,
				[]string{"Content-Type", lti.MediaTypeLineItem}, 400, "400 No label or Score Maximum"},
			{"scoreMaximum 0", http.MethodPost, bn.lineItemsURL(), token, `{"label":"x","scoreMaximum":0}`,
				[]string{"Content-Type", lti.MediaTypeLineItem}, 400, "400 scoreMaximum must be a number greater than 0"},
			{"unknown resource link", http.MethodPost, bn.lineItemsURL(), token, `{"label":"x","scoreMaximum":1,"resourceLinkId":"9"}`,
				[]string{"Content-Type", lti.MediaTypeLineItem}, 400, "400 Invalid resource link id 9"},
			{"unknown line item", http.MethodGet, bn.lineItemURL("99"), token, "", []string{"Accept", lti.MediaTypeLineItem}, 404,
				"404 Not Found: Grade item 99 doesn't exist"},
			{"other course", http.MethodGet, strings.Replace(bn.lineItemsURL(), "/2/", "/3/", 1), token, "",
				[]string{"Accept", container}, 404, "404 Not Found: Course 3 doesn't exist"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := bn.service(t, tc.method, tc.url, tc.token, tc.body, tc.header...)
				require.Equal(t, tc.status, a.Status, a.Body)
				require.Equal(t, tc.statusLine, a.StatusLine)
				require.Equal(t, "application/json; charset=utf-8", a.ContentType)
				var e struct {
					Status  int    `json:"status"`
					Reason  string `json:"reason"`
					Request struct {
						Method string `json:"method"`
						URL    string `json:"url"`
					} `json:"request"`
				}
				require.NoError(t, json.Unmarshal([]byte(a.Body), &e))
				require.Equal(t, tc.status, e.Status)
				require.Equal(t, tc.method, e.Request.Method)
				require.True(t, strings.HasPrefix(e.Request.URL, "/mod/lti/services.php/"), e.Request.URL)
			})
		}
	})

	t.Run("put and delete", func(t *testing.T) {
		put := bn.service(t, http.MethodPut, unbound, token, `{"scoreMaximum":60,"label":"Reflection log (renamed)","tag":"reflection"}`,
			"Content-Type", lti.MediaTypeLineItem)
		require.Equal(t, http.StatusOK, put.Status, put.Body)
		require.Equal(t, `{"scoreMaximum":60,"label":"Reflection log (renamed)","tag":"reflection","id":"`+unbound+`"}`, put.Body)
		gb := bn.p.Gradebook()
		require.Equal(t, devplatform.LineItem{ID: 3, Label: "Reflection log (renamed)", ScoreMaximum: 60, Tag: "reflection"}, gb.LineItems[1])

		del := bn.service(t, http.MethodDelete, unbound, token, "")
		require.Equal(t, http.StatusNoContent, del.Status, del.Body)
		require.Len(t, bn.p.Gradebook().LineItems, 1)
		require.Equal(t, http.StatusNotFound, bn.service(t, http.MethodGet, unbound, token, "").Status)
	})
}

func TestLineItemClaimFollowsTheLinksColumns(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	token := bn.accessToken(t, lti.ScopeLineItem)
	agsClaim := func() map[string]any {
		c := bn.verifiedClaims(t, bn.launch(t, newBrowser(t), "4", 2).IDToken)
		return c[lti.ClaimAGSEndpoint].(map[string]any)
	}
	require.NotContains(t, agsClaim(), "lineitem")

	// Huddle creates the activity's column through AGS: later launches name it, with
	// Moodle's scope list and the course's container.
	li := bn.createLineItem(t, token, `{"scoreMaximum":100,"label":"Peer discussion","resourceLinkId":"1"}`)
	require.Equal(t, map[string]any{
		"scope":     toAny(allAGSScopes),
		"lineitems": bn.lineItemsURL(),
		"lineitem":  li,
	}, agsClaim())
	require.Equal(t, "1", bn.p.Activities()[0].LineItems[0].ResourceLinkID)

	// A second column for the same link: Moodle leaves lineitem out (lti/08).
	bn.createLineItem(t, token, `{"scoreMaximum":10,"label":"Bonus","resourceLinkId":"1"}`)
	require.NotContains(t, agsClaim(), "lineitem")
}

// fixtureExchange is a request or response captured from Moodle 4.5.
type fixtureExchange struct {
	FirstLine string
	Header    http.Header
	Body      string
}

func readFixtureExchange(t *testing.T, rel string) fixtureExchange {
	t.Helper()
	b := moodlecapture.Read(t, "lti/"+rel)
	head, body, _ := strings.Cut(string(b), "\n\n")
	lines := strings.Split(head, "\n")
	ex := fixtureExchange{FirstLine: lines[0], Header: http.Header{}, Body: body}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ": ")
		if ok {
			ex.Header.Add(k, v)
		}
	}
	return ex
}

// TestScoresReplayMoodleFixtures sends the score, result and error requests captured
// from Moodle 4.5 (lti/02, lti/10) and expects Moodle's answers: status line with its
// reason phrase, media type and body.
func TestScoresReplayMoodleFixtures(t *testing.T) {
	t.Parallel()
	// The capture's server clock when lti/10 ran; grades record it as timemodified.
	bn := setup(t, time.Date(2026, 11, 26, 17, 48, 55, 0, time.UTC))
	token := bn.accessToken(t, allAGSScopes...)
	tokens := map[string]string{"all": token, "readonly": bn.accessToken(t, lti.ScopeLineItemReadOnly)}

	// The fixture's columns: item 2 of cm 2 out of 100; item 3 comes from replaying
	// lti/02 047; item 4 out of 20.
	require.Equal(t, bn.lineItemURL("2"), bn.createLineItem(t, token,
		`{"label":"Peer Discussion (LTI capture tool)","scoreMaximum":100,"resourceLinkId":"1"}`))

	host := func(s string) string {
		s = strings.ReplaceAll(s, "http://127.0.0.1:8000", bn.srv.URL)
		return strings.ReplaceAll(s, `http:\/\/127.0.0.1:8000`, strings.ReplaceAll(bn.srv.URL, "/", `\/`))
	}
	for _, tc := range []struct {
		request, response string
		token             string // which token replaces Moodle's
		ignoreBody        bool
		then              func(t *testing.T)
	}{
		{request: "02-launch-learner1-cm2/044-ags-get-lineitems-no-token-request.txt",
			response: "02-launch-learner1-cm2/045-ags-get-lineitems-no-token-response.http.txt"},
		{request: "02-launch-learner1-cm2/047-ags-post-lineitem-request.txt",
			response: "02-launch-learner1-cm2/048-ags-post-lineitem-response.http.txt",
			then: func(t *testing.T) {
				bn.createLineItem(t, token, `{"label":"Peer discussion: week 1 (deep linked)","scoreMaximum":20}`)
			}},
		{request: "02-launch-learner1-cm2/050-ags-get-created-lineitem-request.txt",
			response: "02-launch-learner1-cm2/051-ags-get-created-lineitem-response.http.txt"},
		{request: "02-launch-learner1-cm2/059-ags-get-lineitem-request.txt",
			response: "02-launch-learner1-cm2/060-ags-get-lineitem-response.http.txt"},
		{request: "02-launch-learner1-cm2/053-ags-post-score-created-lineitem-request.txt",
			response: "02-launch-learner1-cm2/054-ags-post-score-created-lineitem-response.http.txt"},
		{request: "02-launch-learner1-cm2/062-ags-post-score-request.txt",
			response: "02-launch-learner1-cm2/063-ags-post-score-response.http.txt"},
		// Pretty-printed and invalid: PHP cannot write the 400 status line, so 200 [].
		{request: "02-launch-learner1-cm2/065-ags-post-score-invalid-request.txt",
			response: "02-launch-learner1-cm2/066-ags-post-score-invalid-response.http.txt"},
		{request: "10-ags-token-edge-cases/005-score-invalid-compact-request.txt",
			response: "10-ags-token-edge-cases/006-score-invalid-compact-response.http.txt"},
		{request: "10-ags-token-edge-cases/008-score-learner2-valid-request.txt",
			response: "10-ags-token-edge-cases/009-score-learner2-valid-response.http.txt"},
		{request: "10-ags-token-edge-cases/011-score-learner2-older-timestamp-request.txt",
			response: "10-ags-token-edge-cases/012-score-learner2-older-timestamp-response.http.txt"},
		{request: "10-ags-token-edge-cases/014-score-learner2-pending-request.txt",
			response: "10-ags-token-edge-cases/015-score-learner2-pending-response.http.txt",
			then: func(t *testing.T) {
				g, ok := bn.p.Gradebook().Grade(2, "5")
				require.True(t, ok)
				require.Nil(t, g.Score, "a Pending score clears the grade, as in Moodle")
			}},
		{request: "10-ags-token-edge-cases/017-score-learner2-progress-only-request.txt",
			response: "10-ags-token-edge-cases/018-score-learner2-progress-only-response.http.txt"},
		{request: "10-ags-token-edge-cases/020-score-learner2-final-request.txt",
			response: "10-ags-token-edge-cases/021-score-learner2-final-response.http.txt"},
		{request: "10-ags-token-edge-cases/023-score-teacher-compact-request.txt",
			response: "10-ags-token-edge-cases/024-score-teacher-compact-response.http.txt"},
		{request: "10-ags-token-edge-cases/026-score-unknown-user-request.txt",
			response: "10-ags-token-edge-cases/027-score-unknown-user-response.http.txt"},
		{request: "10-ags-token-edge-cases/029-score-above-max-request.txt",
			response: "10-ags-token-edge-cases/030-score-above-max-response.http.txt",
			then: func(t *testing.T) {
				g, ok := bn.p.Gradebook().Grade(4, "4")
				require.True(t, ok)
				require.Equal(t, 20.0, *g.Score, "15/10 is 30 on a column out of 20, capped at 20")
			}},
		{request: "10-ags-token-edge-cases/032-results-user5-request.txt",
			response: "10-ags-token-edge-cases/033-results-user5-response.http.txt"},
		{request: "10-ags-token-edge-cases/035-results-limit1-request.txt",
			response: "10-ags-token-edge-cases/036-results-limit1-response.http.txt", ignoreBody: true},
		{request: "10-ags-token-edge-cases/050-lineitems-wrong-accept-request.txt",
			response: "10-ags-token-edge-cases/051-lineitems-wrong-accept-response.http.txt"},
		{request: "10-ags-token-edge-cases/072-score-with-readonly-token-request.txt",
			response: "10-ags-token-edge-cases/073-score-with-readonly-token-response.http.txt", token: "readonly"},
		{request: "10-ags-token-edge-cases/096-ags-bogus-bearer-request.txt",
			response: "10-ags-token-edge-cases/097-ags-bogus-bearer-response.http.txt", token: "bogus"},
	} {
		// Sequential: each step depends on the grades the earlier ones left.
		name := filepath.Base(tc.request)
		req := readFixtureExchange(t, tc.request)
		want := readFixtureExchange(t, tc.response)
		method, target, _ := strings.Cut(req.FirstLine, " ")
		var header []string
		for k := range req.Header {
			if k != "Authorization" {
				header = append(header, k, req.Header.Get(k))
			}
		}
		tok := ""
		if req.Header.Get("Authorization") != "" {
			tok = tokens[tc.token]
			if tc.token == "" {
				tok = token
			} else if tok == "" {
				tok = "deadbeef"
			}
		}
		got := bn.service(t, method, host(target), tok, req.Body, header...)
		require.Equal(t, strings.TrimPrefix(want.FirstLine, "HTTP/1.1 "), got.StatusLine, name)
		require.Equal(t, want.Header.Get("Content-Type"), got.ContentType, name)
		if !tc.ignoreBody {
			require.Equal(t, host(want.Body), got.Body, name)
		}
		if tc.then != nil {
			tc.then(t)
		}
	}
}

var timeRe = regexp.MustCompile(`<time datetime="([^"]+)">`)

func TestScoreShowsOnTheGradebook(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	token := bn.accessToken(t, allAGSScopes...)
	li := bn.createLineItem(t, token, `{"scoreMaximum":100,"label":"Peer discussion participation","resourceLinkId":"1"}`)

	// The course page links to the grader report.
	course := bn.browser.post(bn.srv.URL+"/open", url.Values{"user": {"3"}})
	require.Contains(t, course.Body, `<a href="/gradebook">Grades</a>`)

	score := `{"userId":"4","scoreGiven":8.5,"scoreMaximum":10,"activityProgress":"Completed","gradingProgress":"FullyGraded",` +
		`"timestamp":"2026-11-26T17:40:00.500Z","comment":"Took part in 3 threads"}`
	// A score posted to the line item itself finds no handler: scores go to {lineitem}/scores.
	a := bn.service(t, http.MethodPost, li, token, score, "Content-Type", lti.MediaTypeScore)
	require.Equal(t, http.StatusBadRequest, a.Status)
	require.True(t, strings.HasPrefix(a.StatusLine, "400 No handler found for /2/lineitems/2/lineitem "), a.StatusLine)
	a = bn.service(t, http.MethodPost, bn.scoresURL("2"), token, score, "Content-Type", lti.MediaTypeScore)
	require.Equal(t, http.StatusOK, a.Status, a.Body)
	require.Empty(t, a.Body)
	require.Equal(t, lti.MediaTypeScore+"; charset=utf-8", a.ContentType)

	g, ok := bn.p.Gradebook().Grade(2, "4")
	require.True(t, ok)
	require.Equal(t, 85.0, *g.Score, "8.5/10 is 85 on a column out of 100")
	require.Equal(t, 8.5, *g.ScoreGiven)
	require.Equal(t, "Completed", g.ActivityProgress)
	require.Equal(t, "FullyGraded", g.GradingProgress)
	require.Equal(t, "Took part in 3 threads", g.Comment)
	require.Equal(t, time.Date(2026, 11, 26, 17, 40, 0, 500e6, time.UTC), g.Timestamp)
	require.Equal(t, testNow, g.Modified)

	pg := bn.browser.get(bn.srv.URL + "/gradebook")
	require.Equal(t, http.StatusOK, pg.Status)
	require.Contains(t, pg.Body, devplatform.Banner)
	require.Contains(t, pg.Body, "<caption>Grades in Foundation Teaching Programme")
	require.Contains(t, pg.Body, `<th scope="col" data-lineitem-id="2">Peer discussion participation`)
	require.Contains(t, pg.Body, "out of 100 · line item 2 · Peer discussion, resource link 1")
	require.Regexp(t, `<tr data-user-id="4">\s*<th scope="row">Lena Learner`, pg.Body)
	require.Regexp(t, `<th scope="row">Liam Student`, pg.Body)
	require.NotContains(t, pg.Body, `<th scope="row">Eddie Educator`, "teachers have no grades")
	require.Contains(t, pg.Body, `<span class="grade">85.00</span>`)
	require.Contains(t, pg.Body, "Completed, FullyGraded")
	require.Equal(t, []string{"2026-11-26T17:40:00.5Z"}, submatches(timeRe, pg.Body))
	require.Contains(t, pg.Body, "26 Nov 2026, 17:40:00 UTC")
	require.Contains(t, pg.Body, "Took part in 3 threads")

	// The results service agrees (lti/02 070).
	res := bn.service(t, http.MethodGet, strings.Replace(bn.scoresURL("2"), "/scores", "/results", 1), token, "",
		"Accept", lti.MediaTypeResultContainer)
	require.Equal(t, http.StatusOK, res.Status, res.Body)
	var results []lti.Result
	require.NoError(t, json.Unmarshal([]byte(res.Body), &results))
	require.Len(t, results, 1)
	require.Equal(t, "4", results[0].UserID)
	require.Equal(t, 85.0, *results[0].ResultScore)
	require.Equal(t, 100.0, results[0].ResultMaximum)
	require.Equal(t, li, results[0].ScoreOf)
}

func submatches(re *regexp.Regexp, s string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestScoreRefusals(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	token := bn.accessToken(t, allAGSScopes...)
	readOnly := bn.accessToken(t, lti.ScopeLineItem, lti.ScopeLineItemReadOnly, lti.ScopeResultReadOnly)
	bn.createLineItem(t, token, `{"scoreMaximum":10,"label":"Case board"}`)
	// A stored grade: its timemodified is the platform's clock, testNow.
	first := `{"userId":"5","scoreGiven":7,"scoreMaximum":10,"activityProgress":"Completed","gradingProgress":"FullyGraded","timestamp":"2026-11-26T17:40:00Z"}`
	require.Equal(t, http.StatusOK, bn.service(t, http.MethodPost, bn.scoresURL("2"), token, first, "Content-Type", lti.MediaTypeScore).Status)

	valid := func(edit func(m map[string]any)) string {
		m := map[string]any{"userId": "5", "scoreGiven": 9.0, "scoreMaximum": 10.0, "activityProgress": "Completed",
			"gradingProgress": "FullyGraded", "timestamp": "2026-11-26T17:41:00.000Z"}
		if edit != nil {
			edit(m)
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return string(b)
	}
	for _, tc := range []struct {
		name        string
		token       string
		contentType string
		body        string
		status      int
		statusLine  string // prefix
	}{
		{"older than the stored grade", token, lti.MediaTypeScore,
			valid(func(m map[string]any) { m["timestamp"] = "2026-11-26T16:39:52.000Z" }),
			409, "409 Refusing score with an earlier timestamp for item 2 and user 5"},
		{"older than the score itself but not than the write: Moodle compares with timemodified", token, lti.MediaTypeScore,
			valid(func(m map[string]any) { m["timestamp"] = "2026-11-26T17:39:52.900Z" }), 200, "200 OK"},
		{"token without the score scope", readOnly, lti.MediaTypeScore, valid(nil), 401, "401 Unauthorized"},
		{"JSON content type", token, "application/json", valid(nil), 400, "400 No handler found for /2/lineitems/2/lineitem/scores  application/json"},
		{"no userId", token, lti.MediaTypeScore, valid(func(m map[string]any) { delete(m, "userId") }), 400, "400 Incorrect score received{"},
		{"no timestamp", token, lti.MediaTypeScore, valid(func(m map[string]any) { delete(m, "timestamp") }), 400, "400 Incorrect score received{"},
		{"bad timestamp", token, lti.MediaTypeScore, valid(func(m map[string]any) { m["timestamp"] = "yesterday" }), 400, "400 Incorrect score received{"},
		{"no activityProgress", token, lti.MediaTypeScore, valid(func(m map[string]any) { delete(m, "activityProgress") }), 400, "400 Incorrect score received{"},
		{"bad activityProgress", token, lti.MediaTypeScore, valid(func(m map[string]any) { m["activityProgress"] = "Done" }), 400, "400 Incorrect score received{"},
		{"bad gradingProgress", token, lti.MediaTypeScore, valid(func(m map[string]any) { m["gradingProgress"] = "Graded" }), 400, "400 Incorrect score received{"},
		{"scoreGiven without scoreMaximum", token, lti.MediaTypeScore, valid(func(m map[string]any) { delete(m, "scoreMaximum") }), 400, "400 Incorrect score received{"},
		{"negative scoreGiven", token, lti.MediaTypeScore, valid(func(m map[string]any) { m["scoreGiven"] = -1 }), 400, "400 Incorrect score received{"},
		{"scoreMaximum 0", token, lti.MediaTypeScore, valid(func(m map[string]any) { m["scoreMaximum"] = 0 }), 400, "400 Incorrect score received{"},
		{"teacher", token, lti.MediaTypeScore, valid(func(m map[string]any) { m["userId"] = "3" }), 400, "400 Incorrect score received{"},
		{"site admin, not enrolled", token, lti.MediaTypeScore, valid(func(m map[string]any) { m["userId"] = "2" }), 400, "400 Incorrect score received{"},
		{"unknown user", token, lti.MediaTypeScore, valid(func(m map[string]any) { m["userId"] = "999" }), 400, "400 Incorrect score received{"},
		{"pretty-printed and invalid: 200 []", token, lti.MediaTypeScore, "{\n  \"userId\": \"5\"\n}", 200, "200 OK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := bn.service(t, http.MethodPost, bn.scoresURL("2"), tc.token, tc.body, "Content-Type", tc.contentType)
			require.Equal(t, tc.status, a.Status, a.StatusLine)
			require.True(t, strings.HasPrefix(a.StatusLine, tc.statusLine), a.StatusLine)
			if strings.HasPrefix(tc.statusLine, "400 Incorrect") {
				require.Equal(t, "400 Incorrect score received"+tc.body, a.StatusLine, "Moodle echoes the body")
				require.Equal(t, "[]", a.Body)
			}
		})
	}
	g, _ := bn.p.Gradebook().Grade(2, "5")
	require.Equal(t, 9.0, *g.Score, "only the accepted scores count")
}

func TestOutageSwitch(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	token := bn.accessToken(t, allAGSScopes...)
	home := bn.browser.get(bn.srv.URL + "/")
	require.Contains(t, home.Body, "<strong>Online.</strong>")
	require.Contains(t, home.Body, `<button type="submit">Take Moodle offline</button>`)
	require.Contains(t, home.Body, `<a href="/gradebook">Grader report</a>`)

	// The form turns it off and comes back to the page.
	pg := bn.browser.post(bn.srv.URL+"/outage", url.Values{"offline": {"1"}, "back": {"/gradebook"}})
	require.Equal(t, http.StatusOK, pg.Status)
	require.Equal(t, bn.srv.URL+"/gradebook", pg.URL)
	require.True(t, bn.p.Offline())
	require.Contains(t, pg.Body, `<div class="outage" role="status">Moodle is offline`)
	require.Contains(t, pg.Body, ">Bring Moodle back</button>")

	for _, tc := range []struct {
		name string
		call func() answer
	}{
		{"token", func() answer { return bn.postToken(t, tokenForm(bn.assertion(t, nil), lti.ScopeScore)) }},
		{"line items", func() answer {
			return bn.service(t, http.MethodGet, bn.lineItemsURL(), token, "", "Accept", lti.MediaTypeLineItemContainer)
		}},
		{"scores", func() answer {
			return bn.service(t, http.MethodPost, bn.scoresURL("2"), token, `{}`, "Content-Type", lti.MediaTypeScore)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.call()
			require.Equal(t, http.StatusServiceUnavailable, a.Status)
			require.Equal(t, "503 Moodle under maintenance", a.StatusLine)
			require.Equal(t, "300", a.Header.Get("Retry-After"))
		})
	}
	// Launches still work while the services are down.
	bn.launch(t, newBrowser(t), "4", 2)

	// Another site cannot turn the switch.
	req, err := http.NewRequest(http.MethodPost, bn.srv.URL+"/outage", strings.NewReader("offline=0"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	require.Equal(t, http.StatusForbidden, bn.do(t, req).Status)
	require.True(t, bn.p.Offline())

	pg = bn.browser.post(bn.srv.URL+"/outage", url.Values{"offline": {"0"}, "back": {"https://evil.example/"}})
	require.Equal(t, bn.srv.URL+"/", pg.URL, "back goes only to the platform's pages")
	require.False(t, bn.p.Offline())
	a := bn.service(t, http.MethodGet, bn.lineItemsURL(), token, "", "Accept", lti.MediaTypeLineItemContainer)
	require.Equal(t, http.StatusOK, a.Status, "the token issued before the outage still works")

	bn.p.SetOffline(true)
	require.Equal(t, http.StatusServiceUnavailable, bn.postToken(t, tokenForm(bn.assertion(t, nil), lti.ScopeScore)).Status)
	bn.p.SetOffline(false)
	require.Equal(t, http.StatusOK, bn.postToken(t, tokenForm(bn.assertion(t, nil), lti.ScopeScore)).Status)
}
