package devplatform_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/devplatform"
	"github.com/huddle-lti/huddle/lti"
)

// TestOnSecretReportsWhatThePlatformIssuesAndReceives drives a launch, a token grant
// and a Deep Linking return, and checks that OnSecret was told each secret in them:
// the end-to-end tests rely on it to know what must never be logged.
func TestOnSecretReportsWhatThePlatformIssuesAndReceives(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string][]string{}
	bn := setupWith(t, func(c *devplatform.Config) {
		c.OnSecret = func(kind, value string) {
			mu.Lock()
			defer mu.Unlock()
			seen[kind] = append(seen[kind], value)
		}
	})
	reported := func(kind string) []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen[kind]...)
	}

	got := bn.launch(t, bn.browser, "3", 0)
	require.Contains(t, reported("state"), got.State)
	require.Contains(t, reported("nonce"), got.Nonce)
	require.Equal(t, []string{got.IDToken}, reported("id_token"))
	u, err := url.Parse(bn.srv.URL)
	require.NoError(t, err)
	var sid string
	for _, ck := range bn.browser.c.Jar.Cookies(u) {
		sid = ck.Value // the platform sets one cookie, its session
	}
	require.Equal(t, []string{sid}, reported("session"))

	assertion := bn.assertion(t, nil)
	a := bn.postToken(t, tokenForm(assertion, lti.ScopeScore))
	require.Equal(t, http.StatusOK, a.Status, a.Body)
	require.Equal(t, []string{assertion}, reported("client_assertion"))
	access := reported("access_token")
	require.Len(t, access, 1)
	require.Contains(t, a.Body, access[0])

	req := huddleVerify(t, bn, got.IDToken)
	signer := lti.NewDeepLinkingSigner(lti.DeepLinkingConfig{Now: func() time.Time { return testNow }})
	ret, err := signer.SignResponse(req, bn.p.Registration(), lti.DeepLinkingResponse{
		Items: []lti.ContentItem{{Type: lti.ContentItemTypeResourceLink, Title: "Case board",
			URL: bn.tool.srv.URL + "/lti/launch"}},
	}, bn.tool.signingKey())
	require.NoError(t, err)
	result := bn.browser.post(ret.ReturnURL, url.Values{lti.DeepLinkingFormField: {ret.JWT}})
	require.Equal(t, http.StatusOK, result.Status, result.Body)
	require.Equal(t, []string{ret.JWT}, reported("deep_linking_response"))
}
