package token

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewIsRandomAndHashIsStable(t *testing.T) {
	t.Parallel()
	a, err := New()
	require.NoError(t, err)
	b, err := New()
	require.NoError(t, err)
	require.NotEqual(t, a, b)
	require.Len(t, a, 43) // 32 bytes, unpadded base64
	require.Equal(t, Hash(a), Hash(a))
	require.NotEqual(t, Hash(a), Hash(b))
	require.Len(t, Hash(a), 32)
}
