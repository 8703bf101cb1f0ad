package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
)

func TestPlatformCommands(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"HUDDLE_DATABASE_URL": dbtest.Migrated(t), "HUDDLE_SECRET_KEY": goodKey}
	huddle := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), env{getenv: envOf(vars), stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}, args)
		return code, stdout.String(), stderr.String()
	}
	add := []string{"platform", "add", "--issuer", "https://moodle.trust.example", "--client-id", "abc123",
		"--auth-url", "https://moodle.trust.example/mod/lti/auth.php", "--token-url", "https://moodle.trust.example/mod/lti/token.php",
		"--jwks-url", "https://moodle.trust.example/mod/lti/certs.php", "--deployment-id", "1", "--deployment-id", "7"}

	code, out, errOut := huddle(add...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "added platform 1: https://moodle.trust.example")

	code, _, errOut = huddle(add...)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "already registered")

	code, _, errOut = huddle("platform", "add", "--issuer", "moodle", "--client-id", "x")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "missing --auth-url, --token-url, --jwks-url, --deployment-id")

	code, _, errOut = huddle("platform", "add", "--issuer", "not a url", "--client-id", "x", "--auth-url", "https://a/", "--token-url", "https://a/", "--jwks-url", "https://a/", "--deployment-id", "1")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "issuer")

	code, out, _ = huddle("platform", "list")
	require.Equal(t, 0, code)
	require.Contains(t, out, "https://moodle.trust.example")
	require.Contains(t, out, "1,7")

	code, out, _ = huddle("platform", "show", "1")
	require.Equal(t, 0, code)
	require.Contains(t, out, "jwks url:      https://moodle.trust.example/mod/lti/certs.php")

	code, _, errOut = huddle("platform", "show", "42")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no platform with id 42")

	code, _, errOut = huddle("platform", "show", "one")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "not a number")

	code, out, _ = huddle("platform", "remove", "1")
	require.Equal(t, 0, code)
	require.Contains(t, out, "removed platform 1")
	code, out, _ = huddle("platform", "list")
	require.Equal(t, 0, code)
	require.Contains(t, out, "no platforms registered")

	code, _, errOut = huddle("platform", "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "unknown subcommand")
}

// TestPlatformAddRefusesPlainHTTP: a platform's issuer, key set, authentication and
// token URLs must be https; plain http only to a loopback host, and only in development
// (HUDDLE_ENV=development), where the development platform runs.
func TestPlatformAddRefusesPlainHTTP(t *testing.T) {
	t.Parallel()
	db := dbtest.Migrated(t)
	huddle := func(mode string, args ...string) (int, string, string) {
		vars := map[string]string{"HUDDLE_DATABASE_URL": db, "HUDDLE_SECRET_KEY": goodKey, "HUDDLE_ENV": mode}
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), env{getenv: envOf(vars), stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}, args)
		return code, stdout.String(), stderr.String()
	}
	const (
		issuer = "https://moodle.trust.example"
		refuse = " must use https (http is allowed only for localhost in development)"
	)
	// add registers a platform whose flag is set to u, the other URLs being https.
	clients := 0
	add := func(mode, flag, u string) (int, string, string) {
		clients++
		urls := map[string]string{
			"--issuer":    issuer,
			"--auth-url":  issuer + "/mod/lti/auth.php",
			"--token-url": issuer + "/mod/lti/token.php",
			"--jwks-url":  issuer + "/mod/lti/certs.php",
		}
		urls[flag] = u
		args := []string{"platform", "add", "--client-id", fmt.Sprintf("client-%d", clients), "--deployment-id", "1"}
		for f, v := range urls {
			args = append(args, f, v)
		}
		return huddle(mode, args...)
	}

	tests := []struct {
		url                   string
		inDevelopment, inProd bool
	}{
		{"https://moodle.example/mod/lti/certs.php", true, true},
		{"HTTPS://moodle.example/mod/lti/certs.php", true, true},
		{"http://moodle.example/mod/lti/certs.php", false, false},
		{"HTTP://moodle.example/mod/lti/certs.php", false, false},
		{"http://localhost:8080/mod/lti/certs.php", true, false},
		{"HTTP://LOCALHOST:8080/mod/lti/certs.php", true, false},
		{"http://127.0.0.1/mod/lti/certs.php", true, false},
		{"http://[::1]:8000/mod/lti/certs.php", true, false},
		{"http://localhost.evil.example/mod/lti/certs.php", false, false},
		{"http://localhost@evil.example/mod/lti/certs.php", false, false},
	}
	for _, tc := range tests {
		for _, m := range []struct {
			mode string
			ok   bool
		}{{"development", tc.inDevelopment}, {"production", tc.inProd}} {
			code, out, errOut := add(m.mode, "--jwks-url", tc.url)
			if m.ok {
				require.Equal(t, 0, code, "%s in %s: %s", tc.url, m.mode, errOut)
				require.Contains(t, out, "added platform")
				continue
			}
			require.Equal(t, 2, code, "%s in %s must be refused: %s", tc.url, m.mode, out)
			require.Contains(t, errOut, "the key set URL"+refuse, tc.url)
		}
	}

	// Each URL flag is checked and named in the refusal.
	for flag, field := range map[string]string{
		"--issuer":    "the issuer",
		"--auth-url":  "the authentication request URL",
		"--token-url": "the access token URL",
		"--jwks-url":  "the key set URL",
	} {
		code, _, errOut := add("production", flag, "http://moodle.example/mod/lti/x.php")
		require.Equal(t, 2, code, flag)
		require.Contains(t, errOut, field+refuse, flag)

		code, _, errOut = add("production", flag, "http://localhost:8000/mod/lti/x.php")
		require.Equal(t, 2, code, flag)
		require.Contains(t, errOut, field+refuse, flag)

		code, _, errOut = add("development", flag, "http://localhost:8000/mod/lti/x.php")
		require.Equal(t, 0, code, "%s: %s", flag, errOut)
	}
}

func TestKeysRotate(t *testing.T) {
	t.Parallel()
	url := dbtest.Migrated(t)
	vars := map[string]string{"HUDDLE_DATABASE_URL": url, "HUDDLE_SECRET_KEY": goodKey}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), env{getenv: envOf(vars), stdout: &stdout, stderr: &stderr}, []string{"keys", "rotate", "--grace", "1h"})
	require.Equal(t, 0, code, stderr.String())
	require.Contains(t, stdout.String(), "new signing key")

	pool := dbtest.Pool(t, url)
	var total, current int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*), count(*) FILTER (WHERE retired_at IS NULL) FROM tool_keys`).Scan(&total, &current))
	require.Equal(t, 1, total, "rotating with no key yet creates the first one")
	require.Equal(t, 1, current)

	code = run(context.Background(), env{getenv: envOf(vars), stdout: &stdout, stderr: &stderr}, []string{"keys", "rotate"})
	require.Equal(t, 0, code, stderr.String())
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*), count(*) FILTER (WHERE retired_at IS NULL) FROM tool_keys`).Scan(&total, &current))
	require.Equal(t, 2, total, "the old key stays published")
	require.Equal(t, 1, current, "only the newest key signs")
}
