package web

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestURLSessionGoesBeforeTheFragment(t *testing.T) {
	t.Parallel()
	tests := []struct{ path, want string }{
		{"/activities/1", "/activities/1?hs=s%2F1"},
		{"/activities/1/threads/2?posted=1#post-3", "/activities/1/threads/2?posted=1&hs=s%2F1#post-3"},
		{"/activities/1/threads/2#reply", "/activities/1/threads/2?hs=s%2F1#reply"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, withSession(tc.path, "s/1", true))
		require.Equal(t, tc.path, withSession(tc.path, "s/1", false))
	}
}
