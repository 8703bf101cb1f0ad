package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/internal/moodlecapture"
	"github.com/huddle-lti/huddle/web"
)

func fixture(t *testing.T, rel string) string {
	t.Helper()
	return string(moodlecapture.Read(t, rel))
}

// fakeMoodleRegistration replays Moodle 4.5's captured registration exchange, with
// its URLs moved to the test server; the registration token is single use.
func fakeMoodleRegistration(t *testing.T) (*httptest.Server, *atomic.Value) {
	t.Helper()
	config := fixture(t, "lti/01-dynamic-registration/008-dynreg-openid-configuration-response-body.json")
	regResponse := fixture(t, "lti/01-dynamic-registration/011-dynreg-registration-post-response-body.json")
	var used atomic.Bool
	var posted atomic.Value
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/mod/lti/openid-configuration.php":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			moved := strings.ReplaceAll(config, `http:\/\/127.0.0.1:8000`, strings.ReplaceAll(srv.URL, "/", `\/`))
			io.WriteString(w, strings.ReplaceAll(moved, "http://127.0.0.1:8000", srv.URL))
		case "/mod/lti/openid-registration.php":
			if r.Header.Get("Authorization") != "Bearer test-registration-token" || used.Swap(true) {
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, "token_already_used")
				return
			}
			body, _ := io.ReadAll(r.Body)
			posted.Store(string(body))
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			io.WriteString(w, regResponse)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &posted
}

func TestDynamicRegistration(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t, func(d *web.Deps) {
		d.RegistrationToken = "operator-secret-0123456789"
		d.RequireRegistrationToken = true
		d.Development = true // the fake Moodle is plain http on 127.0.0.1
	})
	moodle, posted := fakeMoodleRegistration(t)
	registerURL := func(secret string) string {
		q := url.Values{"openid_configuration": {moodle.URL + "/mod/lti/openid-configuration.php"}, "registration_token": {"test-registration-token"}}
		if secret != "" {
			q.Set("token", secret)
		}
		return "/lti/register?" + q.Encode()
	}
	b := e.browser(t)

	expectPage(t, b.get(registerURL("")), http.StatusForbidden, "registration_token")
	expectPage(t, b.get(registerURL("wrong-secret-0000000000")), http.StatusForbidden, "registration_token")
	expectPage(t, b.get("/lti/register?token=operator-secret-0123456789"), http.StatusBadRequest, "Manage tools")

	r := b.get(registerURL("operator-secret-0123456789"))
	expectPage(t, r, http.StatusOK, "Huddle is registered", "Pending", "Activate", "/static/registered.js")
	require.Contains(t, r.header.Get("Content-Security-Policy"), "frame-ancestors "+moodle.URL)

	var reg map[string]any
	require.NoError(t, json.Unmarshal([]byte(posted.Load().(string)), &reg))
	require.Equal(t, []any{testBase + "/lti/launch"}, reg["redirect_uris"])
	require.Equal(t, testBase+"/lti/login", reg["initiate_login_uri"])
	require.Equal(t, testBase+"/.well-known/jwks.json", reg["jwks_uri"])
	require.Equal(t, "private_key_jwt", reg["token_endpoint_auth_method"])
	require.Equal(t, testBase+"/static/huddle-logo.svg", reg["logo_uri"], "Moodle shows Huddle's icon")
	logo := b.get("/static/huddle-logo.svg")
	require.Equal(t, http.StatusOK, logo.code)
	require.Contains(t, logo.header.Get("Content-Type"), "image/svg+xml")
	tc := reg["https://purl.imsglobal.org/spec/lti-tool-configuration"].(map[string]any)
	require.Equal(t, "huddle.test", tc["domain"])
	// Moodle fills it with the courses a copied or restored course came from, so a copy
	// finds the activity whose settings it starts with (issue 17 item 1).
	require.Equal(t, map[string]any{"huddle_context_history": "$Context.id.history"}, tc["custom_parameters"])

	ps, err := e.deps.LTI.Platforms(t.Context())
	require.NoError(t, err)
	require.Len(t, ps, 2)
	require.Equal(t, moodle.URL, ps[1].Issuer)
	require.Equal(t, "NN2vPfddM8H41eY", ps[1].ClientID)
	require.Equal(t, []string{"1"}, ps[1].DeploymentIDs)

	// Moodle's registration token is single use; a replay is explained, not a crash.
	expectPage(t, b.get(registerURL("operator-secret-0123456789")), http.StatusBadGateway, "registration_token_already_used")

	js := b.get("/static/registered.js")
	expectPage(t, js, http.StatusOK, "org.imsglobal.lti.close")
	// The dialog closes on the button only, after the admin has read the page.
	require.NotRegexp(t, `(?m)^\s*close\(\);`, js.body)
}

func TestRegistrationNeedsTokenInProduction(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t, func(d *web.Deps) { d.RequireRegistrationToken = true })
	expectPage(t, e.browser(t).get("/lti/register?openid_configuration=http://169.254.169.254/&registration_token=x"), http.StatusForbidden, "registration_disabled")
}

func TestRegistrationRefusesMetadataAddress(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	r := e.browser(t).get("/lti/register?openid_configuration=" + url.QueryEscape("https://169.254.169.254/latest/meta-data") + "&registration_token=x")
	expectPage(t, r, http.StatusBadRequest, "registration_blocked", "169.254.169.254")
}

// In production a platform must be https even on loopback: a Moodle whose
// configuration is plain http is refused before anything is registered.
func TestDynamicRegistrationRefusesPlainHTTPInProduction(t *testing.T) {
	t.Parallel()
	e := newLTIEnv(t)
	moodle, posted := fakeMoodleRegistration(t)
	q := url.Values{"openid_configuration": {moodle.URL + "/mod/lti/openid-configuration.php"}, "registration_token": {"test-registration-token"}}
	r := e.browser(t).get("/lti/register?" + q.Encode())
	expectPage(t, r, http.StatusBadGateway, "registration_insecure_issuer")
	require.Nil(t, posted.Load(), "nothing was registered")
}
