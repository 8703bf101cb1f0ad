package main

import (
	"bytes"
	"context"
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
