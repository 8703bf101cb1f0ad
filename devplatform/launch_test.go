package devplatform_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/lti"
)

func TestHomeRendersEverySeededUser(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	home := bn.browser.get(bn.srv.URL + "/")
	require.Equal(t, http.StatusOK, home.Status)
	require.Contains(t, home.Body, devplatform.Banner)
	require.Contains(t, home.Body, "Foundation Teaching Programme")

	users := bn.p.Users()
	require.Len(t, users, 4)
	for _, u := range []struct{ id, name string }{
		{"2", "Admin User"}, {"3", "Eddie Educator"}, {"4", "Lena Learner"}, {"5", "Liam Student"},
	} {
		t.Run(u.name, func(t *testing.T) {
			require.Contains(t, home.Body, "<h2>"+u.name+" <small>")
			require.Contains(t, home.Body, `name="user" value="`+u.id+`"`)
		})
	}
	// Every user can open the seeded activity, in the frame and in a new tab.
	require.Equal(t, 4, strings.Count(home.Body, "Open “Peer discussion”"))
	require.Equal(t, 4+2, strings.Count(home.Body, ">in a new tab</button>"))
	// Only those Moodle launches as Instructor (educator, site admin) may add activities.
	require.Equal(t, 2, strings.Count(home.Body, "Add an activity (Deep Linking)"))
}

func TestEveryPageShowsTheBanner(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	b := bn.browser
	_, _ = bn.initiation(t, b, "3", 2)
	for _, path := range []string{"/", "/course", "/view?cmid=2", "/view?deeplink=1", "/launch?cmid=2", "/auth", "/gradebook", "/nope"} {
		t.Run(path, func(t *testing.T) {
			pg := b.get(bn.srv.URL + path)
			if pg.Status == http.StatusNotFound {
				return // the mux's own 404 is not a page of the platform
			}
			require.Contains(t, pg.Body, devplatform.Banner, path)
		})
	}
}

func TestLaunchFlow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		user  string
		sub   string
		full  string
		roles []string
	}{
		{"learner1", "4", "4", "Lena Learner", []string{devplatform.RoleLearner}},
		{"learner2", "5", "5", "Liam Student", []string{devplatform.RoleLearner}},
		{"educator1", "3", "3", "Eddie Educator", []string{devplatform.RoleInstructor}},
		// lti_get_ims_role: Instructor, no Learner, plus sysrole and instrole
		// Administrator; lti_sign_jwt expands and sorts them.
		{"site admin", "2", "2", "Admin User", []string{
			"http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
			"http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
			"http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bn := setup(t)
			got := bn.launch(t, bn.browser, tc.user, 2)

			// The initiation, field by field as Moodle posts it (fixture lti/02).
			in := got.Initiation
			require.Equal(t, bn.srv.URL, in.Get("iss"))
			require.Equal(t, bn.tool.srv.URL+"/lti/launch", in.Get("target_link_uri"))
			require.Equal(t, tc.sub, in.Get("login_hint"))
			require.Equal(t, testClientID, in.Get("client_id"))
			require.Equal(t, "1", in.Get("lti_deployment_id"))
			var hint struct {
				CMID     int    `json:"cmid"`
				LaunchID string `json:"launchid"`
			}
			require.NoError(t, json.Unmarshal([]byte(in.Get("lti_message_hint")), &hint))
			require.Equal(t, 2, hint.CMID)
			require.Regexp(t, `^ltilaunch1_\d+$`, hint.LaunchID)

			c := bn.verifiedClaims(t, got.IDToken)
			require.Equal(t, got.Nonce, c["nonce"], "nonce must be the one the tool sent")
			require.NotEmpty(t, got.Nonce)
			require.Equal(t, bn.srv.URL, c["iss"])
			require.Equal(t, testClientID, c["aud"], "aud is a string, as Moodle sends it")
			require.Equal(t, tc.sub, c["sub"])
			require.Equal(t, float64(testNow.Unix()), c["iat"])
			require.Equal(t, float64(testNow.Unix()+60), c["exp"])
			require.Equal(t, tc.full, c["name"])
			require.Equal(t, "LtiResourceLinkRequest", c[lti.ClaimMessageType])
			require.Equal(t, "1.3.0", c[lti.ClaimVersion])
			require.Equal(t, "1", c[lti.ClaimDeploymentID])
			require.Equal(t, bn.tool.srv.URL+"/lti/launch", c[lti.ClaimTargetLinkURI])
			require.Equal(t, toAny(tc.roles), c[lti.ClaimRoles])
			require.Equal(t, map[string]any{"id": "1", "title": "Peer discussion",
				"description": bn.p.Activities()[0].Text}, c[lti.ClaimResourceLink])
			require.Equal(t, map[string]any{"id": "2", "label": "FTP1", "title": "Foundation Teaching Programme",
				"type": []any{"CourseSection"}}, c[lti.ClaimContext])
			tp := c[lti.ClaimToolPlatform].(map[string]any)
			require.Equal(t, "moodle", tp["product_family_code"])
			lp := c[lti.ClaimLaunchPresentation].(map[string]any)
			require.Equal(t, "iframe", lp["document_target"])
			// No custom parameters of its own: only the one Moodle's NRPS service adds.
			members := bn.srv.URL + "/mod/lti/services.php/CourseSection/2/bindings/1/memberships"
			require.Equal(t, map[string]any{"context_memberships_url": members}, c[lti.ClaimCustom])
			ags := c[lti.ClaimAGSEndpoint].(map[string]any)
			require.Equal(t, bn.srv.URL+"/mod/lti/services.php/2/lineitems?type_id=1", ags["lineitems"])
			require.NotContains(t, ags, "lineitem", "the seeded activity has no grade column")
			require.Equal(t, members, c[lti.ClaimNRPS].(map[string]any)["context_memberships_url"])

			// Huddle's own verifier accepts it and maps the roles.
			l := huddleVerify(t, bn, got.IDToken)
			require.Equal(t, tc.sub, l.Subject)
			require.Equal(t, course.MapRoles(tc.roles), course.MapRoles(l.Roles))
		})
	}
}

func TestLaunchInNewWindow(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	b := bn.browser
	// The "in a new tab" button: sign in and go straight to the top-level launch.
	first := b.post(bn.srv.URL+"/open", url.Values{"user": {"4"}, "cmid": {"2"}, "window": {"1"}})
	require.Equal(t, http.StatusOK, first.Status)
	require.Contains(t, first.URL, "/launch?")
	authPage := b.submit(first)
	require.Equal(t, "launched", b.submit(authPage).Body)
	c := bn.verifiedClaims(t, bn.tool.lastLaunch().Get("id_token"))
	lp := c[lti.ClaimLaunchPresentation].(map[string]any)
	require.Equal(t, "window", lp["document_target"])
}

// huddleVerify checks the id_token with Huddle's verifier, as Huddle would at /lti/launch.
func huddleVerify(t *testing.T, bn *bundle, idToken string) *lti.Launch {
	t.Helper()
	v := lti.NewVerifier(lti.VerifierConfig{
		Keys: lti.NewKeySet(lti.KeySetConfig{Client: newClient(t)}),
		Now:  func() time.Time { return testNow },
	})
	l, err := v.VerifyIDToken(context.Background(), idToken, bn.p.Registration())
	require.NoError(t, err)
	return l
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// authParams is the authentication request the fake tool would send for an initiation.
func authParams(bn *bundle, in url.Values) url.Values {
	return url.Values{
		"scope":            {"openid"},
		"response_type":    {"id_token"},
		"response_mode":    {"form_post"},
		"prompt":           {"none"},
		"client_id":        {in.Get("client_id")},
		"redirect_uri":     {bn.tool.srv.URL + "/lti/launch"},
		"login_hint":       {in.Get("login_hint")},
		"lti_message_hint": {in.Get("lti_message_hint")},
		"state":            {"state-1"},
		"nonce":            {"nonce-1"},
	}
}

var errorFieldRe = regexp.MustCompile(`name="error" value="([^"]*)"`)

func TestAuthRefusals(t *testing.T) {
	t.Parallel()
	const invalid = "Invalid request"
	for _, tc := range []struct {
		name   string
		change func(bn *bundle, q url.Values)
		// other browser: the request comes without the platform session
		otherBrowser bool
		want         string // invalid, or the OIDC error posted back to the tool
	}{
		{"redirect_uri with an extra query string", func(bn *bundle, q url.Values) {
			q.Set("redirect_uri", bn.tool.srv.URL+"/lti/launch?kind=discussion")
		}, false, invalid},
		{"redirect_uri with a trailing slash", func(bn *bundle, q url.Values) {
			q.Set("redirect_uri", bn.tool.srv.URL+"/lti/launch/")
		}, false, invalid},
		{"redirect_uri of another site", func(_ *bundle, q url.Values) {
			q.Set("redirect_uri", "https://evil.example/lti/launch")
		}, false, invalid},
		{"missing nonce", func(_ *bundle, q url.Values) { q.Del("nonce") }, false, invalid},
		{"missing login_hint", func(_ *bundle, q url.Values) { q.Del("login_hint") }, false, invalid},
		{"missing client_id", func(_ *bundle, q url.Values) { q.Del("client_id") }, false, invalid},
		{"missing redirect_uri", func(_ *bundle, q url.Values) { q.Del("redirect_uri") }, false, invalid},
		{"missing lti_message_hint", func(_ *bundle, q url.Values) { q.Del("lti_message_hint") }, false, invalid},
		{"lti_message_hint without launchid", func(_ *bundle, q url.Values) {
			q.Set("lti_message_hint", `{"cmid":2}`)
		}, false, invalid},
		{"unknown launchid", func(_ *bundle, q url.Values) {
			q.Set("lti_message_hint", `{"cmid":2,"launchid":"ltilaunch1_42"}`)
		}, false, invalid},
		{"scope other than openid", func(_ *bundle, q url.Values) { q.Set("scope", "openid profile") }, false, invalid},
		{"response_type code", func(_ *bundle, q url.Values) { q.Set("response_type", "code") }, false, invalid},
		{"launch from another browser session", func(*bundle, url.Values) {}, true, invalid},
		{"wrong login_hint", func(_ *bundle, q url.Values) { q.Set("login_hint", "5") }, false, "access_denied"},
		{"wrong client_id", func(_ *bundle, q url.Values) { q.Set("client_id", "someone-else") }, false, "unauthorized_client"},
		{"response_mode query", func(_ *bundle, q url.Values) { q.Set("response_mode", "query") }, false, "invalid_request"},
		{"missing response_mode", func(_ *bundle, q url.Values) { q.Del("response_mode") }, false, "invalid_request"},
		{"prompt login", func(_ *bundle, q url.Values) { q.Set("prompt", "login") }, false, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bn := setup(t)
			_, in := bn.initiation(t, bn.browser, "4", 2)
			q := authParams(bn, in)
			tc.change(bn, q)
			b := bn.browser
			if tc.otherBrowser {
				b = newBrowser(t)
				b.post(bn.srv.URL+"/open", url.Values{"user": {"4"}})
			}
			pg := b.get(bn.srv.URL + "/auth?" + q.Encode())
			if tc.want == invalid {
				require.Equal(t, http.StatusBadRequest, pg.Status)
				require.Contains(t, pg.Body, "<h1>Invalid request</h1>")
				require.Contains(t, pg.Body, devplatform.Banner)
				require.NotContains(t, pg.Body, "data-autosubmit", "nothing is posted back to an untrusted redirect_uri")
				return
			}
			require.Equal(t, http.StatusOK, pg.Status)
			action, fields := autoForm(t, pg)
			require.Equal(t, bn.tool.srv.URL+"/lti/launch", action)
			require.Equal(t, tc.want, fields.Get("error"))
			require.Equal(t, "state-1", fields.Get("state"))
			require.Empty(t, fields.Get("id_token"))
		})
	}

	t.Run("reused lti_message_hint", func(t *testing.T) {
		t.Parallel()
		bn := setup(t)
		_, in := bn.initiation(t, bn.browser, "4", 2)
		q := authParams(bn, in)
		first := bn.browser.get(bn.srv.URL + "/auth?" + q.Encode())
		require.Equal(t, http.StatusOK, first.Status)
		_, fields := autoForm(t, first)
		require.NotEmpty(t, fields.Get("id_token"))

		again := bn.browser.get(bn.srv.URL + "/auth?" + q.Encode())
		require.Equal(t, http.StatusBadRequest, again.Status)
		require.Contains(t, again.Body, "<h1>Invalid request</h1>")
		require.Nil(t, errorFieldRe.FindStringSubmatch(again.Body))
	})

	t.Run("a refused login_hint still uses up the launchid", func(t *testing.T) {
		t.Parallel()
		bn := setup(t)
		_, in := bn.initiation(t, bn.browser, "4", 2)
		q := authParams(bn, in)
		q.Set("login_hint", "3")
		refused := bn.browser.get(bn.srv.URL + "/auth?" + q.Encode())
		m := errorFieldRe.FindStringSubmatch(refused.Body)
		require.NotNil(t, m)
		require.Equal(t, "access_denied", m[1])

		q.Set("login_hint", "4")
		again := bn.browser.get(bn.srv.URL + "/auth?" + q.Encode())
		require.Equal(t, http.StatusBadRequest, again.Status)
		require.Contains(t, again.Body, "<h1>Invalid request</h1>")
	})

	t.Run("POST works like GET", func(t *testing.T) {
		t.Parallel()
		bn := setup(t)
		_, in := bn.initiation(t, bn.browser, "4", 2)
		pg := bn.browser.post(bn.srv.URL+"/auth", authParams(bn, in))
		require.Equal(t, http.StatusOK, pg.Status)
		_, fields := autoForm(t, pg)
		require.NotEmpty(t, fields.Get("id_token"))
		require.Equal(t, "nonce-1", bn.verifiedClaims(t, fields.Get("id_token"))["nonce"])
	})
}

func TestJWKSPublishesOnlyThePublicKey(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	resp, err := newClient(t).Get(bn.srv.URL + "/jwks")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
	require.Len(t, set.Keys, 1)
	k := set.Keys[0]
	require.Equal(t, "RSA", k["kty"])
	require.Equal(t, "RS256", k["alg"])
	require.Equal(t, "sig", k["use"])
	require.NotEmpty(t, k["kid"])
	require.NotContains(t, k, "d")
}

func TestNRPSIsNotImplemented(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	resp, err := newClient(t).Get(bn.srv.URL + "/mod/lti/services.php/CourseSection/2/bindings/1/memberships")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotImplemented, resp.StatusCode)
	require.Contains(t, string(body), "not_implemented")
}

func TestRegistration(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	require.Equal(t, lti.Platform{
		Issuer:        bn.srv.URL,
		ClientID:      testClientID,
		AuthURL:       bn.srv.URL + "/auth",
		TokenURL:      bn.srv.URL + "/token",
		JWKSURL:       bn.srv.URL + "/jwks",
		DeploymentIDs: []string{"1"},
	}, bn.p.Registration())
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	t.Parallel()
	good := devplatform.Config{
		PublicURL: "http://127.0.0.1:8081", ClientID: "c", DeploymentID: "1",
		ToolLoginURL: "http://localhost:8080/lti/login", ToolRedirectURI: "http://localhost:8080/lti/launch",
		ToolJWKSURL: "http://localhost:8080/.well-known/jwks.json", ToolTargetLinkURI: "http://localhost:8080/lti/launch",
		Key: rsaKey(t, 0),
	}
	_, err := devplatform.New(good)
	require.NoError(t, err)
	for name, change := range map[string]func(*devplatform.Config){
		"relative PublicURL":   func(c *devplatform.Config) { c.PublicURL = "/platform" },
		"no ToolRedirectURI":   func(c *devplatform.Config) { c.ToolRedirectURI = "" },
		"no ClientID":          func(c *devplatform.Config) { c.ClientID = "" },
		"no DeploymentID":      func(c *devplatform.Config) { c.DeploymentID = "" },
		"no ToolJWKSURL":       func(c *devplatform.Config) { c.ToolJWKSURL = "" },
		"no ToolLoginURL":      func(c *devplatform.Config) { c.ToolLoginURL = "" },
		"no ToolTargetLinkURI": func(c *devplatform.Config) { c.ToolTargetLinkURI = "" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := good
			change(&cfg)
			_, err := devplatform.New(cfg)
			require.Error(t, err)
		})
	}
}

func TestStaticScriptAndSecurityHeaders(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	resp, err := newClient(t).Get(bn.srv.URL + "/static/devplatform.js")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), "data-autosubmit")

	// The platform's pages may frame Huddle and post forms to it; only the platform
	// frames its own pages.
	csp := resp.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "frame-src 'self' "+bn.tool.srv.URL)
	require.Contains(t, csp, "form-action 'self' "+bn.tool.srv.URL)
	require.Contains(t, csp, "frame-ancestors 'self'")
	require.Contains(t, csp, "script-src 'self';")
}
