package main

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/app"
)

// The connection budget and PgBouncer settings reach app.PoolConfig as set; a
// PgBouncer without the direct URL is refused before anything connects.
func TestLoadConfigConnectionBudget(t *testing.T) {
	t.Parallel()
	const direct = "postgres://huddle:pw@db:5432/huddle"
	tests := []struct {
		name string
		set  map[string]string
		want app.PoolConfig
	}{
		{name: "defaults", want: app.PoolConfig{MaxConns: 8, BackgroundConns: 5, AcquireWait: 3 * time.Second}},
		{name: "budget set", set: map[string]string{"HUDDLE_DB_MAX_CONNS": "12", "HUDDLE_DB_BACKGROUND_CONNS": "3", "HUDDLE_DB_ACQUIRE_WAIT": "750ms"},
			want: app.PoolConfig{MaxConns: 12, BackgroundConns: 3, AcquireWait: 750 * time.Millisecond}},
		{name: "direct url means pgbouncer", set: map[string]string{"HUDDLE_DATABASE_DIRECT_URL": direct},
			want: app.PoolConfig{DirectURL: direct, MaxConns: 8, BackgroundConns: 5, AcquireWait: 3 * time.Second, Pooled: true}},
		{name: "direct url without pgbouncer", set: map[string]string{"HUDDLE_DATABASE_DIRECT_URL": direct, "HUDDLE_DB_PGBOUNCER": "off"},
			want: app.PoolConfig{DirectURL: direct, MaxConns: 8, BackgroundConns: 5, AcquireWait: 3 * time.Second}},
		{name: "pgbouncer with prepared statements", set: map[string]string{"HUDDLE_DATABASE_DIRECT_URL": direct, "HUDDLE_DB_PGBOUNCER": "prepared"},
			want: app.PoolConfig{DirectURL: direct, MaxConns: 8, BackgroundConns: 5, AcquireWait: 3 * time.Second, Pooled: true, PreparedStatements: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := validEnv()
			for k, v := range tc.set {
				env[k] = v
			}
			c, err := loadConfig(envOf(env), needServe)
			require.NoError(t, err)
			tc.want.URL = env["HUDDLE_DATABASE_URL"]
			require.Equal(t, tc.want, c.poolConfig())
		})
	}
}

func TestLoadConfigConnectionBudgetErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		set              map[string]string
		wantVar, wantMsg string
	}{
		{"pgbouncer without direct url", map[string]string{"HUDDLE_DB_PGBOUNCER": "on"}, "HUDDLE_DATABASE_DIRECT_URL", "is not set"},
		{"prepared without direct url", map[string]string{"HUDDLE_DB_PGBOUNCER": "prepared"}, "HUDDLE_DATABASE_DIRECT_URL", "is not set"},
		{"pgbouncer mode", map[string]string{"HUDDLE_DB_PGBOUNCER": "session"}, "HUDDLE_DB_PGBOUNCER", "auto, on, prepared or off"},
		{"direct url scheme", map[string]string{"HUDDLE_DATABASE_DIRECT_URL": "mysql://x"}, "HUDDLE_DATABASE_DIRECT_URL", "postgres://"},
		{"max conns", map[string]string{"HUDDLE_DB_MAX_CONNS": "1"}, "HUDDLE_DB_MAX_CONNS", "from 2"},
		{"max conns not a number", map[string]string{"HUDDLE_DB_MAX_CONNS": "lots"}, "HUDDLE_DB_MAX_CONNS", "whole number"},
		{"background conns", map[string]string{"HUDDLE_DB_BACKGROUND_CONNS": "2"}, "HUDDLE_DB_BACKGROUND_CONNS", "from 3"},
		{"acquire wait", map[string]string{"HUDDLE_DB_ACQUIRE_WAIT": "1m"}, "HUDDLE_DB_ACQUIRE_WAIT", "10ms to 30s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := validEnv()
			for k, v := range tc.set {
				env[k] = v
			}
			_, err := loadConfig(envOf(env), needServe)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "got %v", err)
			require.Equal(t, tc.wantVar, ce.Var)
			require.Contains(t, ce.Problem, tc.wantMsg)
			require.NotContains(t, err.Error(), "pw@", "never echo a URL")
		})
	}
}
