package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
)

func TestKeysRotateIssuing(t *testing.T) {
	t.Parallel()
	url := dbtest.Migrated(t)
	vars := map[string]string{"HUDDLE_DATABASE_URL": url, "HUDDLE_SECRET_KEY": goodKey, "HUDDLE_BASE_URL": "https://huddle.example"}
	pool := dbtest.Pool(t, url)
	counts := func() (total, current, tool int) {
		t.Helper()
		require.NoError(t, pool.QueryRow(t.Context(), `
SELECT count(*), count(*) FILTER (WHERE retired_at IS NULL), (SELECT count(*) FROM tool_keys) FROM issuing_keys`).Scan(&total, &current, &tool))
		return total, current, tool
	}
	for round := 1; round <= 2; round++ {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), env{getenv: envOf(vars), stdout: &stdout, stderr: &stderr}, []string{"keys", "rotate", "--issuing"})
		require.Equal(t, 0, code, stderr.String())
		require.Contains(t, stdout.String(), "new certificate issuing key https://huddle.example/certificates/keys/")
		total, current, tool := counts()
		require.Equal(t, round+1, total, "every issuing key stays published") // the first run also makes the first key
		require.Equal(t, 1, current, "only the newest key signs")
		require.Zero(t, tool, "the LTI tool keys are not touched")
	}

	// A wrong HUDDLE_SECRET_KEY cannot add a key the others could not use.
	wrong := map[string]string{"HUDDLE_DATABASE_URL": url, "HUDDLE_SECRET_KEY": "c2Vjb25kLXNlY3JldC1rZXktdGhhdC1pcy1sb25nLWVub3VnaA==", "HUDDLE_BASE_URL": "https://huddle.example"}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), env{getenv: envOf(wrong), stdout: &stdout, stderr: &stderr}, []string{"keys", "rotate", "--issuing"})
	require.NotEqual(t, 0, code)
	total, _, _ := counts()
	require.Equal(t, 3, total)
}
