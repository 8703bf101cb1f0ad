package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/internal/moodlecapture"
)

// A Moodle that answers site info with the captured Moodle 4.5 bodies: the good
// token gets 001, any other the invalid-token error of 042 (both HTTP 200).
func fakeMoodleWS(t *testing.T) *httptest.Server {
	t.Helper()
	read := func(name string) []byte { return moodlecapture.Read(t, "ws/"+name) }
	ok, bad := read("001-site-info.response.json"), read("042-error-bad-token.response.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		require.Empty(t, r.URL.Query().Get("wstoken"), "the token never goes in the URL")
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("wstoken") == "0e24a01229c61e09e5b5d53971cd07b9" {
			w.Write(ok)
			return
		}
		w.Write(bad)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSetMoodle(t *testing.T) {
	t.Parallel()
	url := dbtest.Migrated(t)
	// Development: the fake Moodle is plain http on 127.0.0.1, which production refuses.
	vars := map[string]string{"HUDDLE_DATABASE_URL": url, "HUDDLE_SECRET_KEY": goodKey, "HUDDLE_ENV": "development"}
	huddle := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), env{getenv: envOf(vars), stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}, args)
		return code, stdout.String(), stderr.String()
	}
	moodle := fakeMoodleWS(t)
	code, _, errOut := huddle("platform", "add", "--issuer", moodle.URL, "--client-id", "c", "--auth-url", moodle.URL+"/a",
		"--token-url", moodle.URL+"/t", "--jwks-url", moodle.URL+"/j", "--deployment-id", "1")
	require.Equal(t, 0, code, errOut)

	code, _, errOut = huddle("platform", "set-moodle", "1", "--url", moodle.URL, "--token", "wrong-token-123")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "nothing was saved")
	require.NotContains(t, errOut, "wrong-token-123")

	code, out, errOut := huddle("platform", "set-moodle", "1", "--url", moodle.URL, "--token", "0e24a01229c61e09e5b5d53971cd07b9")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "token saved (sealed)")
	require.Contains(t, out, "add these functions")

	pool := dbtest.Pool(t, url)
	var sealed []byte
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT token_sealed FROM moodle_connections WHERE platform_id = 1`).Scan(&sealed))
	require.NotContains(t, string(sealed), "0e24a01229c61e09e5b5d53971cd07b9", "the token is sealed at rest")
	var audited int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action = 'moodle.connection.update' AND platform_id = 1`).Scan(&audited))
	require.Equal(t, 1, audited, "the audit log records the change")

	code, _, _ = huddle("platform", "set-moodle", "9", "--url", moodle.URL, "--token", "x")
	require.Equal(t, 1, code)

	// In production the token must not travel in clear: a plain-http site is refused
	// before Moodle is called, even on loopback.
	vars["HUDDLE_ENV"] = "production"
	code, _, errOut = huddle("platform", "set-moodle", "1", "--url", moodle.URL, "--token", "0e24a01229c61e09e5b5d53971cd07b9")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "the Moodle site URL must use https")
	require.NotContains(t, errOut, "0e24a01229c61e09e5b5d53971cd07b9")
}
