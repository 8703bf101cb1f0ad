package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzLTIForms posts arbitrary form bodies to the login and launch endpoints. Whatever
// arrives, Huddle answers with a client error or a redirect, never a server fault,
// and never echoes an id_token back.
func FuzzLTIForms(f *testing.F) {
	e := newLTIEnv(f)
	f.Add("/lti/login", "iss="+e.platform.Issuer+"&login_hint=4&target_link_uri=https%3A%2F%2Fhuddle.test%2Flti%2Flaunch&client_id=huddle-test-client")
	f.Add("/lti/launch", "id_token=eyJhbGciOiJub25lIn0.e30.&state=abc")
	f.Add("/lti/launch", "id_token=a.b.c&state=")
	f.Add("/lti/launch", "id_token=%%%&state=%zz")
	f.Add("/lti/login", "iss=&login_hint=&target_link_uri=javascript:alert(1)")
	f.Fuzz(func(t *testing.T, path, body string) {
		if path != "/lti/login" && path != "/lti/launch" {
			path = "/lti/launch"
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := e.srv.App().Test(req, 10000)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Less(t, resp.StatusCode, 500, "body %q", body)
	})
}
