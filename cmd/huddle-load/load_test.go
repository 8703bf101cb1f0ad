package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// TestLoadFlags checks the flag combinations refused before anything is registered,
// so no database is needed.
func TestLoadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"live with rate", []string{"--live", "10", "--rate", "5"}, "--live measures live updates, not launches; drop --rate"},
		{"live with launch flags", []string{"--live", "10", "--concurrency", "4", "--duration", "5s"}, "drop --concurrency, --duration"},
		{"live of zero", []string{"--live", "0"}, "--live must be at least 1"},
		{"no posts", []string{"--live", "10", "--posts", "0"}, "--posts must be between 1 and 29"},
		{"more posts than a learner may make", []string{"--live", "10", "--posts", "30"}, "--posts must be between 1 and 29"},
		{"no wait", []string{"--live", "10", "--wait", "0s"}, "--post-interval and --wait must be positive"},
		{"posts without live", []string{"--posts", "5"}, "--posts only apply with --live"},
		{"live flags without live", []string{"--post-interval", "1s", "--wait", "3s"}, "--post-interval, --wait only apply with --live"},
		{"remote target", []string{"--live", "10", "--target", "http://10.0.0.5:8080"}, "not a loopback address"},
		{"stray argument", []string{"--live", "10", "5000"}, `unexpected argument "5000"`},
		{"launches without duration or count", []string{"--duration", "0s"}, "--duration or --launches positive"},
		{"unknown flag", []string{"--bogus"}, "flag provided but not defined: -bogus"},
		{"mix without people", []string{"--educators", "0.1", "--first", "0.9"}, "--educators, --first need --users"},
		{"share above one", []string{"--users", "100", "--first", "1.5"}, "--educators and --first between 0 and 1"},
		{"more courses per person than courses", []string{"--users", "100", "--courses", "2", "--courses-per-user", "3"}, "--courses-per-user between 1 and --courses"},
		{"live with the mix", []string{"--live", "10", "--users", "100"}, "drop --users"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), env{getenv: envOf(nil), stdout: &stdout, stderr: &stderr}, tc.args)
			require.Equal(t, 2, code, stderr.String())
			require.Contains(t, stderr.String(), tc.want)
		})
	}
}

func TestLoadDatabaseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, url, want string
	}{
		{"unset", "", "HUDDLE_DATABASE_URL: is not set"},
		{"not postgres", "mysql://huddle:s3cret@localhost/huddle", "HUDDLE_DATABASE_URL: must be a postgres:// or postgresql:// URL"},
		{"rejected by pgx", "postgres://huddle:s3cret@localhost/huddle?sslmode=sometimes", "HUDDLE_DATABASE_URL: is not a valid PostgreSQL connection URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), env{getenv: envOf(map[string]string{"HUDDLE_DATABASE_URL": tc.url}), stdout: &stdout, stderr: &stderr},
				[]string{"--live", "10"})
			require.Equal(t, 2, code, stderr.String())
			require.Contains(t, stderr.String(), tc.want)
			require.NotContains(t, stderr.String(), "s3cret")
		})
	}
}

func TestLoadHelp(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), env{getenv: envOf(nil), stdout: &stdout, stderr: &stderr}, []string{"--help"})
	require.Equal(t, 0, code, stderr.String())
	require.Contains(t, stdout.String(), "Usage: huddle-load [flags]")
	require.Contains(t, stdout.String(), "-live int")
	require.Contains(t, stdout.String(), "HUDDLE_DATABASE_URL")
	require.Empty(t, stderr.String())
}
