package lti_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/egress"
	"github.com/huddle-lti/huddle/internal/moodlecapture"
	"github.com/huddle-lti/huddle/lti"
)

// regFixtureDir is the captured Moodle 4.5 dynamic registration (see the fixtures README, "Dynamic
// registration (worked)").
const regFixtureDir = "lti/01-dynamic-registration"

// The capture's platform origin, rewritten to the httptest server's URL at test time.
const regCapturedOrigin = "http://127.0.0.1:8000"

func regFixture(t *testing.T, name string) []byte {
	t.Helper()
	return moodlecapture.Read(t, regFixtureDir+"/"+name)
}

// regCapturedResponse parses a *-response.http.txt capture into status, headers and the body as received.
func regCapturedResponse(t *testing.T, name string) (int, http.Header, []byte) {
	t.Helper()
	raw := regFixture(t, name)
	r := bufio.NewReader(bytes.NewReader(raw))
	status, err := r.ReadString('\n')
	require.NoError(t, err)
	fields := strings.Fields(status)
	require.GreaterOrEqual(t, len(fields), 2, "status line %q", status)
	code, err := strconv.Atoi(fields[1])
	require.NoError(t, err)
	hdr, err := textproto.NewReader(r).ReadMIMEHeader()
	require.NoError(t, err)
	body, err := io.ReadAll(r)
	require.NoError(t, err)
	return code, http.Header(hdr), body
}

// regToken is the registration token Moodle issued in the capture.
func regToken(t *testing.T) string {
	return strings.TrimSpace(string(regFixture(t, "004-dynreg-registration-token.jwt")))
}

// regRecorded is one request the fake platform received.
type regRecorded struct {
	method, path string
	header       http.Header
	body         []byte
}

// regPlatform replays Moodle's answers: the openid configuration (with its URLs pointing at the test
// server), then the registration response for the first POST and 401 token_already_used for any later
// one, which is what the single-use token does in the capture.
type regPlatform struct {
	srv        *httptest.Server
	mu         sync.Mutex
	requests   []regRecorded
	registered atomic.Bool
	// config, if set, replaces the served configuration body (after URL rewriting).
	config func(body []byte) []byte
	// register, if set, answers the registration POST instead of the replay.
	register http.HandlerFunc
}

func newRegPlatform(t *testing.T, tls bool) *regPlatform {
	t.Helper()
	p := &regPlatform{}
	cfgStatus, cfgHeader, cfgBody := regCapturedResponse(t, "007-dynreg-openid-configuration-response.http.txt")
	require.Equal(t, regFixture(t, "008-dynreg-openid-configuration-response-body.json"), cfgBody)
	regStatus, regHeader, regBody := regCapturedResponse(t, "010-dynreg-registration-post-response.http.txt")
	require.Equal(t, regFixture(t, "011-dynreg-registration-post-response-body.json"), regBody)
	usedStatus, usedHeader, usedBody := regCapturedResponse(t, "013-dynreg-registration-get-response.http.txt")
	require.Equal(t, regFixture(t, "014-dynreg-registration-get-response-body.txt"), usedBody)

	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.requests = append(p.requests, regRecorded{r.Method, r.URL.Path, r.Header.Clone(), body})
		p.mu.Unlock()
		switch r.URL.Path {
		case "/mod/lti/openid-configuration.php":
			b := bytes.ReplaceAll(cfgBody, []byte(regCapturedOrigin), []byte(p.srv.URL))
			if p.config != nil {
				b = p.config(b)
			}
			w.Header().Set("Content-Type", cfgHeader.Get("Content-Type"))
			w.WriteHeader(cfgStatus)
			w.Write(b)
		case "/mod/lti/openid-registration.php":
			if p.register != nil {
				p.register(w, r)
				return
			}
			if p.registered.Swap(true) {
				w.Header().Set("Content-Type", usedHeader.Get("Content-Type"))
				w.WriteHeader(usedStatus)
				w.Write(usedBody)
				return
			}
			w.Header().Set("Content-Type", regHeader.Get("Content-Type"))
			w.WriteHeader(regStatus)
			w.Write(regBody) // byte for byte: Moodle's escaped slashes and all
		default:
			http.NotFound(w, r)
		}
	})
	if tls {
		p.srv = httptest.NewTLSServer(h)
	} else {
		p.srv = httptest.NewServer(h)
	}
	t.Cleanup(p.srv.Close)
	return p
}

func (p *regPlatform) configURL() string { return p.srv.URL + "/mod/lti/openid-configuration.php" }

func (p *regPlatform) recorded() []regRecorded {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]regRecorded(nil), p.requests...)
}

// regToolOptions are the capture tool's URLs, so Huddle's request can be compared with request 009.
func regToolOptions() lti.ToolRegistrationOptions {
	return lti.ToolRegistrationOptions{
		BaseURL:          "http://127.0.0.1:9000",
		LaunchURL:        "http://127.0.0.1:9000/launch",
		LoginURL:         "http://127.0.0.1:9000/login",
		JWKSURL:          "http://127.0.0.1:9000/jwks",
		DeepLinkingURL:   "http://127.0.0.1:9000/deeplink",
		LogoURL:          "http://127.0.0.1:9000/logo.png",
		Description:      "Peer discussion, reflection and feedback for clinical educators",
		CustomParameters: map[string]string{"moodle_user_id": "$User.id", "moodle_course_id": "$CourseSection.sourcedId"},
	}
}

// registrationErrorOf is err as the *lti.RegistrationError with code it must be.
func registrationErrorOf(t *testing.T, err error, code lti.RegistrationErrorCode) *lti.RegistrationError {
	t.Helper()
	require.Error(t, err)
	var re *lti.RegistrationError
	require.True(t, errors.As(err, &re), "want *lti.RegistrationError, got %T: %v", err, err)
	require.Equal(t, code, re.Code, "error: %v", err)
	require.NotEmpty(t, re.Message)
	return re
}

func requireRegistrationError(t *testing.T, err error, code lti.RegistrationErrorCode) {
	t.Helper()
	_ = registrationErrorOf(t, err, code) // it fails the test itself
}

func requireNoToken(t *testing.T, err error, token string) {
	t.Helper()
	var re *lti.RegistrationError
	require.ErrorAs(t, err, &re)
	for _, s := range []string{err.Error(), re.Message, re.Detail} {
		require.NotContains(t, s, token)
		// Not even the signature part, in case something splits the JWT.
		require.NotContains(t, s, token[strings.LastIndexByte(token, '.')+1:])
	}
}

func TestRegistrationFetchPlatformConfiguration(t *testing.T) {
	t.Parallel()
	p := newRegPlatform(t, false)

	cfg, err := devPolicy.FetchPlatformConfiguration(context.Background(), p.srv.Client(), p.configURL())

	require.NoError(t, err)
	require.Equal(t, p.srv.URL, cfg.Issuer)
	require.Equal(t, p.srv.URL+"/mod/lti/auth.php", cfg.AuthorizationEndpoint)
	require.Equal(t, p.srv.URL+"/mod/lti/token.php", cfg.TokenEndpoint)
	require.Equal(t, p.srv.URL+"/mod/lti/certs.php", cfg.JWKSURI)
	require.Equal(t, p.srv.URL+"/mod/lti/openid-registration.php", cfg.RegistrationEndpoint)
	require.Equal(t, []string{"RS256"}, cfg.IDTokenSigningAlgValuesSupported)
	require.Equal(t, []string{"sub", "iss", "name", "given_name", "family_name", "email"}, cfg.ClaimsSupported)
	require.True(t, cfg.SupportsScope("https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"))
	require.True(t, cfg.SupportsScope("https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"))
	require.Equal(t, "moodle", cfg.LTI.ProductFamilyCode)
	require.Equal(t, "4.5.5+ (Build: 20250613)", cfg.LTI.Version)
	require.Equal(t, []lti.RegistrationMessageSupported{
		{Type: "LtiResourceLinkRequest"},
		{Type: "LtiDeepLinkingRequest", Placements: []string{"ContentArea"}},
	}, cfg.LTI.MessagesSupported)
	require.Contains(t, cfg.LTI.Variables, "CourseSection.sourcedId")
	require.Len(t, cfg.LTI.Variables, 40)

	reqs := p.recorded()
	require.Len(t, reqs, 1)
	require.Equal(t, http.MethodGet, reqs[0].method)
	require.Empty(t, reqs[0].header.Get("Authorization"), "the configuration needs no credentials")
}

func TestRegistrationRegister(t *testing.T) {
	t.Parallel()
	p := newRegPlatform(t, false)
	token := regToken(t)
	ctx := context.Background()
	cfg, err := devPolicy.FetchPlatformConfiguration(ctx, p.srv.Client(), p.configURL())
	require.NoError(t, err)
	opts := regToolOptions()

	res, err := lti.Register(ctx, p.srv.Client(), cfg, token, lti.NewToolRegistration(opts))

	require.NoError(t, err)
	require.Equal(t, "NN2vPfddM8H41eY", res.ClientID)
	require.Equal(t, "1", res.DeploymentID)
	require.Contains(t, res.Scope, "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem")
	created := time.Date(2026, 11, 26, 17, 39, 15, 0, time.UTC)
	require.Equal(t, lti.Platform{
		Issuer:        p.srv.URL,
		ClientID:      "NN2vPfddM8H41eY",
		AuthURL:       p.srv.URL + "/mod/lti/auth.php",
		TokenURL:      p.srv.URL + "/mod/lti/token.php",
		JWKSURL:       p.srv.URL + "/mod/lti/certs.php",
		DeploymentIDs: []string{"1"},
		CreatedAt:     created,
	}, res.Platform(created))

	reqs := p.recorded()
	require.Len(t, reqs, 2)
	post := reqs[1]
	require.Equal(t, http.MethodPost, post.method)
	require.Equal(t, "/mod/lti/openid-registration.php", post.path)
	require.Equal(t, "Bearer "+token, post.header.Get("Authorization"))
	require.Equal(t, "application/json", post.header.Get("Content-Type"))

	// What Moodle's registration_helper::registration_to_config requires, checked on the wire.
	var sent map[string]any
	require.NoError(t, json.Unmarshal(post.body, &sent))
	require.Equal(t, "web", sent["application_type"])
	require.Equal(t, []any{"id_token"}, sent["response_types"])
	require.Equal(t, []any{"implicit", "client_credentials"}, sent["grant_types"])
	require.Equal(t, opts.LoginURL, sent["initiate_login_uri"])
	require.Equal(t, []any{opts.LaunchURL}, sent["redirect_uris"], "exactly the launch URL, byte for byte")
	require.Equal(t, "Huddle", sent["client_name"])
	require.Equal(t, opts.JWKSURL, sent["jwks_uri"])
	require.Equal(t, opts.LogoURL, sent["logo_uri"])
	require.Equal(t, "private_key_jwt", sent["token_endpoint_auth_method"])
	require.ElementsMatch(t, []string{
		"https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
		"https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
		"https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
		"https://purl.imsglobal.org/spec/lti-ags/scope/score",
		"https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
	}, strings.Fields(sent["scope"].(string)))

	tc, ok := sent["https://purl.imsglobal.org/spec/lti-tool-configuration"].(map[string]any)
	require.True(t, ok, "lti-tool-configuration object missing")
	require.Equal(t, opts.LaunchURL, tc["target_link_uri"])
	target, err := url.Parse(tc["target_link_uri"].(string))
	require.NoError(t, err)
	require.Equal(t, target.Host, tc["domain"], "Moodle requires domain to match target_link_uri's host")
	require.Equal(t, []any{"iss", "sub", "name", "given_name", "family_name", "email"}, tc["claims"])
	require.Equal(t, map[string]any{"moodle_user_id": "$User.id", "moodle_course_id": "$CourseSection.sourcedId"},
		tc["custom_parameters"])
	require.Equal(t, opts.Description, tc["description"])
	require.Equal(t, []any{
		map[string]any{"type": "LtiResourceLinkRequest", "target_link_uri": opts.LaunchURL},
		map[string]any{
			"type":            "LtiDeepLinkingRequest",
			"target_link_uri": opts.DeepLinkingURL,
			"label":           "Huddle",
			"placements":      []any{"ContentArea"},
		},
	}, tc["messages"])
}

// TestRegistrationMatchesCaptureTool compares Huddle's request with the one Moodle accepted in the capture
// (request 009): every member the capture tool sent, Huddle sends too, with the same JSON type.
func TestRegistrationMatchesCaptureTool(t *testing.T) {
	t.Parallel()
	raw := regFixture(t, "009-dynreg-registration-post-request.txt")
	_, body, found := bytes.Cut(raw, []byte("\n\n"))
	require.True(t, found)
	var captured map[string]any
	require.NoError(t, json.Unmarshal(body, &captured))

	b, err := json.Marshal(lti.NewToolRegistration(regToolOptions()))
	require.NoError(t, err)
	var ours map[string]any
	require.NoError(t, json.Unmarshal(b, &ours))

	var compare func(path string, want, got map[string]any)
	compare = func(path string, want, got map[string]any) {
		for k, wv := range want {
			gv, ok := got[k]
			require.True(t, ok, "member %s%s missing", path, k)
			require.IsType(t, wv, gv, "member %s%s", path, k)
			if wm, ok := wv.(map[string]any); ok && k != "custom_parameters" {
				compare(path+k+".", wm, gv.(map[string]any))
			}
		}
	}
	compare("", captured, ours)
	require.Equal(t, captured["https://purl.imsglobal.org/spec/lti-tool-configuration"].(map[string]any)["domain"],
		ours["https://purl.imsglobal.org/spec/lti-tool-configuration"].(map[string]any)["domain"])
}

func TestRegistrationTokenAlreadyUsed(t *testing.T) {
	t.Parallel()
	p := newRegPlatform(t, false)
	token := regToken(t)
	ctx := context.Background()
	cfg, err := devPolicy.FetchPlatformConfiguration(ctx, p.srv.Client(), p.configURL())
	require.NoError(t, err)
	reg := lti.NewToolRegistration(regToolOptions())
	_, err = lti.Register(ctx, p.srv.Client(), cfg, token, reg)
	require.NoError(t, err)

	_, err = lti.Register(ctx, p.srv.Client(), cfg, token, reg)

	re := registrationErrorOf(t, err, lti.RegistrationCodeTokenUsed)
	require.Equal(t, http.StatusUnauthorized, re.Status)
	require.Equal(t, "This registration link has already been used. "+
		"In Moodle, start the registration again from Manage tools.", re.Message)
	requireNoToken(t, err, token)
}

func TestRegistrationPlatformRefusals(t *testing.T) {
	t.Parallel()
	token := regToken(t)
	tests := []struct {
		name       string
		status     int
		ctype      string
		body       string
		wantCode   lti.RegistrationErrorCode
		wantDetail string
	}{
		{"token already used", 401, "text/html; charset=utf-8", "token_already_used", lti.RegistrationCodeTokenUsed, "token_already_used"},
		{"missing token", 401, "text/html", "missing_registration_token", lti.RegistrationCodeTokenRejected, "missing_registration_token"},
		{"expired token", 401, "text/html", "Expired token", lti.RegistrationCodeTokenExpired, "Expired token"},
		{"wrong scope", 403, "text/html", "Incorrect scope", lti.RegistrationCodeTokenRejected, "Incorrect scope"},
		{"domain mismatch", 400, "text/html", "domain_targetlinkuri_mismatch", lti.RegistrationCodeRejected, "domain_targetlinkuri_mismatch"},
		{"missing attribute", 400, "text/html", "missing required attribute jwks_uri", lti.RegistrationCodeRejected, "missing required attribute jwks_uri"},
		{"server error echoing the token", 500, "text/html", "<p>Exception: bad token " + token + "</p>\n\n<pre>trace</pre>",
			lti.RegistrationCodePlatformFailed, "<p>Exception: bad token [registration token]</p> <pre>trace</pre>"},
		{"long error body", 502, "text/html", strings.Repeat("x", 5000), lti.RegistrationCodePlatformFailed, strings.Repeat("x", 200) + "…"},
		{"html instead of json", 200, "text/html", "<html><body>Log in to the site</body></html>", lti.RegistrationCodeBadResponse, "not JSON"},
		{"json without client_id", 200, "application/json", `{"client_name":"Huddle"}`, lti.RegistrationCodeBadResponse, "no client_id"},
		{"empty body", 200, "application/json", "", lti.RegistrationCodeBadResponse, "(empty body)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newRegPlatform(t, false)
			p.register = func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}
			ctx := context.Background()
			cfg, err := devPolicy.FetchPlatformConfiguration(ctx, p.srv.Client(), p.configURL())
			require.NoError(t, err)

			_, err = lti.Register(ctx, p.srv.Client(), cfg, token, lti.NewToolRegistration(regToolOptions()))

			re := registrationErrorOf(t, err, tc.wantCode)
			require.Equal(t, tc.status, re.Status)
			require.Contains(t, re.Detail, tc.wantDetail)
			requireNoToken(t, err, token)
		})
	}
}

func TestRegistrationToolMisconfigured(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*lti.ToolRegistrationOptions)
		detail string
	}{
		{"domain differs from target_link_uri host", func(o *lti.ToolRegistrationOptions) {
			o.BaseURL = "https://huddle.example.org"
		}, "does not match"},
		{"no login URL", func(o *lti.ToolRegistrationOptions) { o.LoginURL = "" }, "initiate_login_uri"},
		{"no JWKS URL", func(o *lti.ToolRegistrationOptions) { o.JWKSURL = "" }, "jwks_uri"},
		{"no launch URL", func(o *lti.ToolRegistrationOptions) { o.LaunchURL = ""; o.RedirectURIs = nil }, "target_link_uri"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newRegPlatform(t, false)
			ctx := context.Background()
			cfg, err := devPolicy.FetchPlatformConfiguration(ctx, p.srv.Client(), p.configURL())
			require.NoError(t, err)
			opts := regToolOptions()
			tc.modify(&opts)

			_, err = lti.Register(ctx, p.srv.Client(), cfg, regToken(t), lti.NewToolRegistration(opts))

			re := registrationErrorOf(t, err, lti.RegistrationCodeToolMisconfigured)
			require.Contains(t, re.Detail, tc.detail)
			require.Len(t, p.recorded(), 1, "nothing may be posted, so the token is not spent")
		})
	}
}

func TestRegistrationDomainMatching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base, launch string
		ok           bool
	}{
		{"https://huddle.example.org", "https://huddle.example.org/lti/launch", true},
		{"https://www.huddle.example.org", "https://huddle.example.org/lti/launch", true},  // Moodle ignores www.
		{"https://huddle.example.org:8443", "https://huddle.example.org/lti/launch", true}, // and the port
		{"https://huddle.example.org", "https://other.example.org/lti/launch", false},
	}
	for _, tc := range tests {
		t.Run(tc.base+" "+tc.launch, func(t *testing.T) {
			t.Parallel()
			p := newRegPlatform(t, false)
			ctx := context.Background()
			cfg, err := devPolicy.FetchPlatformConfiguration(ctx, p.srv.Client(), p.configURL())
			require.NoError(t, err)
			opts := regToolOptions()
			opts.BaseURL, opts.LaunchURL = tc.base, tc.launch

			_, err = lti.Register(ctx, p.srv.Client(), cfg, regToken(t), lti.NewToolRegistration(opts))

			if tc.ok {
				require.NoError(t, err)
				return
			}
			requireRegistrationError(t, err, lti.RegistrationCodeToolMisconfigured)
		})
	}
}

func TestRegistrationConfigurationRejected(t *testing.T) {
	t.Parallel()
	replace := func(old, new string) func([]byte) []byte {
		return func(b []byte) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
	}
	removeMember := func(name string) func([]byte) []byte {
		return func(b []byte) []byte {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err != nil {
				panic(err)
			}
			delete(m, name)
			out, _ := json.Marshal(m)
			return out
		}
	}
	tests := []struct {
		name   string
		config func(issuer string) func([]byte) []byte
		want   lti.RegistrationErrorCode
		detail string
	}{
		{"issuer of another site", func(iss string) func([]byte) []byte {
			return replace(`"issuer": "`+iss+`"`, `"issuer": "https://moodle.example.org"`)
		}, lti.RegistrationCodeIssuerMismatch, "not a prefix"},
		{"issuer on another port", func(iss string) func([]byte) []byte {
			return replace(`"issuer": "`+iss+`"`, `"issuer": "http://127.0.0.1:1"`)
		}, lti.RegistrationCodeIssuerMismatch, "not a prefix"},
		{"issuer with a longer path", func(iss string) func([]byte) []byte {
			return replace(`"issuer": "`+iss+`"`, `"issuer": "`+iss+`/moodle"`)
		}, lti.RegistrationCodeIssuerMismatch, "not a prefix"},
		{"issuer that is a string prefix but not a path prefix", func(iss string) func([]byte) []byte {
			return replace(`"issuer": "`+iss+`"`, `"issuer": "`+iss+`/mod/lt"`)
		}, lti.RegistrationCodeIssuerMismatch, "not a prefix"},
		{"issuer missing", func(string) func([]byte) []byte { return removeMember("issuer") },
			lti.RegistrationCodeConfigInvalid, "issuer"},
		{"authorization_endpoint missing", func(string) func([]byte) []byte { return removeMember("authorization_endpoint") },
			lti.RegistrationCodeConfigInvalid, "authorization_endpoint missing"},
		{"token_endpoint missing", func(string) func([]byte) []byte { return removeMember("token_endpoint") },
			lti.RegistrationCodeConfigInvalid, "token_endpoint missing"},
		{"jwks_uri missing", func(string) func([]byte) []byte { return removeMember("jwks_uri") },
			lti.RegistrationCodeConfigInvalid, "jwks_uri missing"},
		{"registration_endpoint missing", func(string) func([]byte) []byte { return removeMember("registration_endpoint") },
			lti.RegistrationCodeConfigInvalid, "registration_endpoint missing"},
		{"plain-http endpoint elsewhere", func(iss string) func([]byte) []byte {
			return replace(`"token_endpoint": "`+iss, `"token_endpoint": "http://moodle.example.org`)
		}, lti.RegistrationCodeInsecureIssuer, "token_endpoint"},
		{"no RS256", func(string) func([]byte) []byte {
			return replace(`"id_token_signing_alg_values_supported": [
        "RS256"`, `"id_token_signing_alg_values_supported": [
        "HS256"`)
		}, lti.RegistrationCodeConfigInvalid, "RS256"},
		{"not JSON", func(string) func([]byte) []byte {
			return func([]byte) []byte { return []byte("<html>Moodle is being upgraded</html>") }
		}, lti.RegistrationCodeConfigInvalid, "not JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newRegPlatform(t, false)
			p.config = tc.config(p.srv.URL)

			cfg, err := devPolicy.FetchPlatformConfiguration(context.Background(), p.srv.Client(), p.configURL())

			require.Nil(t, cfg)
			re := registrationErrorOf(t, err, tc.want)
			require.Contains(t, re.Detail, tc.detail)
		})
	}
}

func TestRegistrationConfigurationNotFound(t *testing.T) {
	t.Parallel()
	p := newRegPlatform(t, false)
	_, err := devPolicy.FetchPlatformConfiguration(context.Background(), p.srv.Client(), p.srv.URL+"/nope.php")
	re := registrationErrorOf(t, err, lti.RegistrationCodeConfigUnavailable)
	require.Equal(t, http.StatusNotFound, re.Status)
}

// TestRegistrationInsecureIssuer: plain http is refused unless the host is loopback. The test servers
// answer for moodle.example.com (httptest's client routes example.com names to the server), so the
// non-loopback cases exercise the real checks rather than failing on an address.
func TestRegistrationInsecureIssuer(t *testing.T) {
	t.Parallel()

	t.Run("http configuration URL on a non-loopback host is not fetched", func(t *testing.T) {
		t.Parallel()
		p := newRegPlatform(t, false)
		_, err := devPolicy.FetchPlatformConfiguration(context.Background(), p.srv.Client(),
			"http://moodle.example.com/mod/lti/openid-configuration.php")
		requireRegistrationError(t, err, lti.RegistrationCodeInsecureIssuer)
		require.Empty(t, p.recorded())
	})

	t.Run("https configuration naming an http issuer", func(t *testing.T) {
		t.Parallel()
		p := newRegPlatform(t, true)
		p.config = func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte(p.srv.URL), []byte("http://moodle.example.com"))
		}
		_, err := devPolicy.FetchPlatformConfiguration(context.Background(), p.srv.Client(),
			"https://moodle.example.com/mod/lti/openid-configuration.php")
		re := registrationErrorOf(t, err, lti.RegistrationCodeInsecureIssuer)
		require.Contains(t, re.Detail, "http://moodle.example.com")
		require.Len(t, p.recorded(), 1)
	})

	t.Run("https issuer on a real name is accepted", func(t *testing.T) {
		t.Parallel()
		p := newRegPlatform(t, true)
		p.config = func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte(p.srv.URL), []byte("https://moodle.example.com"))
		}
		cfg, err := devPolicy.FetchPlatformConfiguration(context.Background(), p.srv.Client(),
			"https://moodle.example.com/mod/lti/openid-configuration.php")
		require.NoError(t, err)
		require.Equal(t, "https://moodle.example.com", cfg.Issuer)
	})

	t.Run("http on localhost is the development platform", func(t *testing.T) {
		t.Parallel()
		p := newRegPlatform(t, false)
		local := strings.Replace(p.srv.URL, "127.0.0.1", "localhost", 1)
		p.config = func(b []byte) []byte { return bytes.ReplaceAll(b, []byte(p.srv.URL), []byte(local)) }
		cfg, err := devPolicy.FetchPlatformConfiguration(context.Background(), p.srv.Client(),
			local+"/mod/lti/openid-configuration.php")
		require.NoError(t, err)
		require.Equal(t, local, cfg.Issuer)
	})
}

// TestRegistrationPolicyLoopback: plain http to a loopback host (the development
// platform, the captured Moodle) is accepted only when the policy allows it, which only
// development does; in production every platform URL must be https, loopback or not.
func TestRegistrationPolicyLoopback(t *testing.T) {
	t.Parallel()
	production := lti.RegistrationPolicy{}
	development := lti.RegistrationPolicy{AllowInsecureLoopback: true}
	// toHTTP rewrites one endpoint of a TLS platform's configuration to plain http on
	// the same loopback address.
	toHTTP := func(member string) func(p *regPlatform) {
		return func(p *regPlatform) {
			p.config = func(b []byte) []byte {
				plain := strings.Replace(p.srv.URL, "https://", "http://", 1)
				return bytes.Replace(b, []byte(`"`+member+`": "`+p.srv.URL), []byte(`"`+member+`": "`+plain), 1)
			}
		}
	}
	tests := []struct {
		name   string
		policy lti.RegistrationPolicy
		tls    bool
		// host replaces 127.0.0.1 in the configuration URL and the configuration.
		host   string
		modify func(p *regPlatform)
		field  string // empty: accepted; else the InsecureURLError's Field
		detail string
	}{
		{name: "production refuses http on 127.0.0.1", policy: production, field: "openid_configuration URL", detail: "openid_configuration"},
		{name: "production refuses http on localhost", policy: production, host: "localhost", field: "openid_configuration URL", detail: "openid_configuration"},
		{name: "production accepts https on loopback", policy: production, tls: true},
		{name: "production refuses an http jwks_uri on loopback", policy: production, tls: true, modify: toHTTP("jwks_uri"), field: "key set URL", detail: "jwks_uri"},
		{name: "production refuses an http token_endpoint on loopback", policy: production, tls: true, modify: toHTTP("token_endpoint"), field: "access token URL", detail: "token_endpoint"},
		{name: "production refuses an http authorization_endpoint on loopback", policy: production, tls: true, modify: toHTTP("authorization_endpoint"), field: "authentication request URL", detail: "authorization_endpoint"},
		{name: "production refuses an http registration_endpoint on loopback", policy: production, tls: true, modify: toHTTP("registration_endpoint"), field: "registration URL", detail: "registration_endpoint"},
		{name: "development accepts http on 127.0.0.1", policy: development},
		{name: "development accepts http on localhost", policy: development, host: "localhost"},
		{name: "development accepts an http jwks_uri on loopback", policy: development, tls: true, modify: toHTTP("jwks_uri")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newRegPlatform(t, tc.tls)
			if tc.modify != nil {
				tc.modify(p)
			}
			configURL := p.configURL()
			if tc.host != "" {
				local := strings.Replace(p.srv.URL, "127.0.0.1", tc.host, 1)
				configURL = strings.Replace(configURL, p.srv.URL, local, 1)
				p.config = func(b []byte) []byte { return bytes.ReplaceAll(b, []byte(p.srv.URL), []byte(local)) }
			}
			cfg, err := tc.policy.FetchPlatformConfiguration(context.Background(), p.srv.Client(), configURL)
			if tc.field == "" {
				require.NoError(t, err)
				require.NotNil(t, cfg)
				return
			}
			require.Nil(t, cfg)
			re := registrationErrorOf(t, err, lti.RegistrationCodeInsecureIssuer)
			require.Contains(t, re.Detail, tc.detail)
			var ie *lti.InsecureURLError
			require.ErrorAs(t, err, &ie)
			require.Equal(t, tc.field, ie.Field)
			if tc.detail == "openid_configuration" {
				require.Empty(t, p.recorded(), "an http configuration URL is refused before it is fetched")
			}
		})
	}
}

// TestRegistrationTokenExpiry uses the captured token, issued 2026-11-26T17:39:15Z for an hour.
func TestRegistrationTokenExpiry(t *testing.T) {
	t.Parallel()
	token := regToken(t)
	issued := time.Date(2026, 11, 26, 17, 39, 15, 0, time.UTC)
	tests := []struct {
		name  string
		token string
		now   time.Time
		want  lti.RegistrationErrorCode
	}{
		{"just issued", token, issued.Add(5 * time.Second), ""},
		{"last second", token, issued.Add(time.Hour - time.Second), ""},
		{"expired", token, issued.Add(time.Hour), lti.RegistrationCodeTokenExpired},
		{"opaque token from another platform", "a1b2c3d4", issued.Add(48 * time.Hour), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := lti.CheckRegistrationToken(tc.token, tc.now)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			requireRegistrationError(t, err, tc.want)
			requireNoToken(t, err, token)
		})
	}
}

func TestRegistrationDefaults(t *testing.T) {
	t.Parallel()
	reg := lti.NewToolRegistration(lti.ToolRegistrationOptions{
		LaunchURL: "https://huddle.example.org/lti/launch",
		LoginURL:  "https://huddle.example.org/lti/login",
		JWKSURL:   "https://huddle.example.org/lti/jwks",
	})
	require.Equal(t, []string{"https://huddle.example.org/lti/launch"}, reg.RedirectURIs)
	require.Equal(t, "huddle.example.org", reg.ToolConfiguration.Domain)
	require.Equal(t, "https://huddle.example.org/lti/launch", reg.ToolConfiguration.Messages[1].TargetLinkURI)

	b, err := json.Marshal(reg)
	require.NoError(t, err)
	require.NotContains(t, string(b), "logo_uri", "logo_uri is optional and omitted when unset")
	require.NotContains(t, string(b), "custom_parameters")
}

// TestRegistrationThroughEgress wires registration to the client Huddle uses in production: the
// development platform on 127.0.0.1 is allowed, the User-Agent reaches Moodle, and an
// openid_configuration aimed at cloud metadata is refused before any connection.
func TestRegistrationThroughEgress(t *testing.T) {
	t.Parallel()
	const ua = "Huddle/test (+https://huddle.example.org)"
	client := egress.NewClient(egress.Options{UserAgent: ua, Timeout: 5 * time.Second})

	t.Run("development platform", func(t *testing.T) {
		t.Parallel()
		p := newRegPlatform(t, false)
		ctx := context.Background()
		cfg, err := devPolicy.FetchPlatformConfiguration(ctx, client, p.configURL())
		require.NoError(t, err)
		platformOnly := egress.RestrictHosts(client, mustRegHost(t, cfg.RegistrationEndpoint))

		res, err := lti.Register(ctx, platformOnly, cfg, regToken(t), lti.NewToolRegistration(regToolOptions()))

		require.NoError(t, err)
		require.Equal(t, "NN2vPfddM8H41eY", res.ClientID)
		for _, r := range p.recorded() {
			require.Equal(t, ua, r.header.Get("User-Agent"))
		}
	})

	t.Run("cloud metadata", func(t *testing.T) {
		t.Parallel()
		_, err := devPolicy.FetchPlatformConfiguration(context.Background(), client,
			"http://169.254.169.254/latest/meta-data/iam/security-credentials/")
		// Refused as insecure first (plain http off loopback); an https URL reaches egress.
		requireRegistrationError(t, err, lti.RegistrationCodeInsecureIssuer)

		_, err = devPolicy.FetchPlatformConfiguration(context.Background(), client,
			"https://169.254.169.254/latest/meta-data/")
		requireRegistrationError(t, err, lti.RegistrationCodeConfigUnavailable)
		var be *egress.BlockedError
		require.ErrorAs(t, err, &be)
		require.Equal(t, egress.ReasonMetadata, be.Reason)
	})

	t.Run("registration endpoint outside the platform's hosts", func(t *testing.T) {
		t.Parallel()
		p := newRegPlatform(t, false)
		ctx := context.Background()
		cfg, err := devPolicy.FetchPlatformConfiguration(ctx, client, p.configURL())
		require.NoError(t, err)
		token := regToken(t)

		_, err = lti.Register(ctx, egress.RestrictHosts(client, "moodle.example.org"), cfg, token, lti.NewToolRegistration(regToolOptions()))

		requireRegistrationError(t, err, lti.RegistrationCodeUnreachable)
		requireNoToken(t, err, token)
		require.Len(t, p.recorded(), 1, "the token must not be sent")
	})
}

func mustRegHost(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Host
}

// devPolicy is development's registration rule: the test platforms listen on plain
// http on loopback.
var devPolicy = lti.RegistrationPolicy{AllowInsecureLoopback: true}
