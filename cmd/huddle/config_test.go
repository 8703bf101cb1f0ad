package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const goodKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func validEnv() map[string]string {
	return map[string]string{
		"HUDDLE_BASE_URL":     "https://huddle.example.nhs.uk",
		"HUDDLE_DATABASE_URL": "postgres://huddle:pw@localhost:5432/huddle",
		"HUDDLE_SECRET_KEY":   goodKey,
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(envOf(validEnv()), needServe)
	require.NoError(t, err)
	require.Equal(t, ":8080", c.Addr)
	require.Equal(t, "json", c.LogFormat)
	require.Equal(t, ModeProduction, c.Mode)
	require.Equal(t, "https://huddle.example.nhs.uk", c.BaseURL.String())
	require.Len(t, c.SecretKey, 32)
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		set     map[string]string
		unset   string
		wantVar string
		wantMsg string
	}{
		{name: "addr without port", set: map[string]string{"HUDDLE_ADDR": "localhost"}, wantVar: "HUDDLE_ADDR", wantMsg: "host:port"},
		{name: "base url missing", unset: "HUDDLE_BASE_URL", wantVar: "HUDDLE_BASE_URL", wantMsg: "is not set"},
		{name: "base url relative", set: map[string]string{"HUDDLE_BASE_URL": "/huddle"}, wantVar: "HUDDLE_BASE_URL", wantMsg: "absolute"},
		{name: "base url with query", set: map[string]string{"HUDDLE_BASE_URL": "https://h.example/?a=1"}, wantVar: "HUDDLE_BASE_URL", wantMsg: "query"},
		{name: "base url http in production", set: map[string]string{"HUDDLE_BASE_URL": "http://huddle.example.nhs.uk"}, wantVar: "HUDDLE_BASE_URL", wantMsg: "https"},
		{name: "database url missing", unset: "HUDDLE_DATABASE_URL", wantVar: "HUDDLE_DATABASE_URL", wantMsg: "is not set"},
		{name: "database url wrong scheme", set: map[string]string{"HUDDLE_DATABASE_URL": "mysql://x"}, wantVar: "HUDDLE_DATABASE_URL", wantMsg: "postgres://"},
		{name: "secret key missing", unset: "HUDDLE_SECRET_KEY", wantVar: "HUDDLE_SECRET_KEY", wantMsg: "is not set"},
		{name: "secret key not base64", set: map[string]string{"HUDDLE_SECRET_KEY": "not base64 at all!"}, wantVar: "HUDDLE_SECRET_KEY", wantMsg: "base64"},
		{name: "secret key too short", set: map[string]string{"HUDDLE_SECRET_KEY": "c2hvcnQ="}, wantVar: "HUDDLE_SECRET_KEY", wantMsg: "at least 32"},
		{name: "log format", set: map[string]string{"HUDDLE_LOG_FORMAT": "xml"}, wantVar: "HUDDLE_LOG_FORMAT", wantMsg: "json or text"},
		{name: "mode", set: map[string]string{"HUDDLE_ENV": "staging"}, wantVar: "HUDDLE_ENV", wantMsg: "production or development"},
		{name: "registration token short", set: map[string]string{"HUDDLE_REGISTRATION_TOKEN": "abc"}, wantVar: "HUDDLE_REGISTRATION_TOKEN", wantMsg: "16"},
		{name: "dev platform address", set: map[string]string{"HUDDLE_ENV": "development", "HUDDLE_BASE_URL": "http://localhost:8080", "HUDDLE_DEV_PLATFORM_ADDR": "nowhere"}, wantVar: "HUDDLE_DEV_PLATFORM_ADDR", wantMsg: "host:port"},
		{name: "session idle", set: map[string]string{"HUDDLE_SESSION_IDLE": "10s"}, wantVar: "HUDDLE_SESSION_IDLE", wantMsg: "at least 1m"},
		{name: "leeway", set: map[string]string{"HUDDLE_LTI_LEEWAY": "5m"}, wantVar: "HUDDLE_LTI_LEEWAY", wantMsg: "60s"},
		{name: "framed idle", set: map[string]string{"HUDDLE_SESSION_FRAMED_IDLE": "5s"}, wantVar: "HUDDLE_SESSION_FRAMED_IDLE", wantMsg: "at least 1m"},
		{name: "absolute shorter than idle", set: map[string]string{"HUDDLE_SESSION_ABSOLUTE": "1h"}, wantVar: "HUDDLE_SESSION_ABSOLUTE", wantMsg: "no shorter"},
		{name: "token age", set: map[string]string{"HUDDLE_LTI_MAX_TOKEN_AGE": "2h"}, wantVar: "HUDDLE_LTI_MAX_TOKEN_AGE", wantMsg: "1m to 1h"},
		{name: "logins per minute", set: map[string]string{"HUDDLE_LOGINS_PER_MINUTE": "0"}, wantVar: "HUDDLE_LOGINS_PER_MINUTE", wantMsg: "at least 1"},
		{name: "trusted proxies", set: map[string]string{"HUDDLE_TRUSTED_PROXIES": "10.0.0.1, proxy.example"}, wantVar: "HUDDLE_TRUSTED_PROXIES", wantMsg: "proxy.example"},
		{name: "metrics address", set: map[string]string{"HUDDLE_METRICS_ADDR": "9090"}, wantVar: "HUDDLE_METRICS_ADDR", wantMsg: "host:port"},
		{name: "audit retention", set: map[string]string{"HUDDLE_AUDIT_RETENTION": "30d"}, wantVar: "HUDDLE_AUDIT_RETENTION", wantMsg: "hours"},
		{name: "metrics token", set: map[string]string{"HUDDLE_METRICS_TOKEN": "short"}, wantVar: "HUDDLE_METRICS_TOKEN", wantMsg: "16 characters"},
		{name: "shutdown timeout", set: map[string]string{"HUDDLE_SHUTDOWN_TIMEOUT": "soon"}, wantVar: "HUDDLE_SHUTDOWN_TIMEOUT", wantMsg: "duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := validEnv()
			for k, v := range tt.set {
				e[k] = v
			}
			delete(e, tt.unset)
			_, err := loadConfig(envOf(e), needServe)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tt.wantVar, ce.Var)
			require.Contains(t, ce.Problem, tt.wantMsg)
		})
	}
}

func TestConfigErrorNeverEchoesSecrets(t *testing.T) {
	t.Parallel()
	e := validEnv()
	e["HUDDLE_DATABASE_URL"] = "mysql://huddle:topsecretpw@db/huddle"
	_, err := loadConfig(envOf(e), needServe)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "topsecretpw")
}

func TestDevelopmentAllowsHTTPLocalhost(t *testing.T) {
	t.Parallel()
	e := validEnv()
	e["HUDDLE_ENV"] = "development"
	e["HUDDLE_BASE_URL"] = "http://localhost:8080/"
	c, err := loadConfig(envOf(e), needServe)
	require.NoError(t, err)
	require.Equal(t, "http://localhost:8080", c.BaseURL.String())
}

func TestDevPlatformNeverInProduction(t *testing.T) {
	t.Parallel()
	e := validEnv()
	e["HUDDLE_DEV_PLATFORM_ADDR"] = "127.0.0.1:9999"
	c, err := loadConfig(envOf(e), needServe)
	require.NoError(t, err)
	require.Empty(t, c.DevPlatformAddr)
}

func TestMigrateNeedsOnlyDatabaseSettings(t *testing.T) {
	t.Parallel()
	e := validEnv()
	delete(e, "HUDDLE_BASE_URL")
	_, err := loadConfig(envOf(e), needDB)
	require.NoError(t, err)
}

// A bad setting stops start-up with exit status 2 and one line naming the variable.
func TestServeExitsTwoOnBadConfig(t *testing.T) {
	t.Parallel()
	e := validEnv()
	e["HUDDLE_SECRET_KEY"] = "c2hvcnQ="
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), env{getenv: envOf(e), stdout: &stdout, stderr: &stderr}, []string{"serve"})
	require.Equal(t, 2, code)
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	require.Len(t, lines, 1)
	require.Contains(t, lines[0], "HUDDLE_SECRET_KEY")
}

func TestHelpForEveryCommand(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), env{getenv: envOf(nil), stdout: &stdout, stderr: &stderr}, []string{c.name, "--help"})
			require.Equal(t, 0, code, stderr.String())
			require.Contains(t, stdout.String(), "Usage: huddle "+c.name)
		})
	}
	var stdout bytes.Buffer
	run(context.Background(), env{getenv: envOf(nil), stdout: &stdout, stderr: &stdout}, []string{"serve", "--help"})
	for _, s := range settings {
		require.Contains(t, stdout.String(), s.name)
	}
}
