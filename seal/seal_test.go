package seal

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSealRoundTripAndTamper(t *testing.T) {
	t.Parallel()
	s, err := New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	sealed, err := s.Seal("tool-key", []byte("private"))
	require.NoError(t, err)
	require.NotContains(t, string(sealed), "private")

	plain, err := s.Open("tool-key", sealed)
	require.NoError(t, err)
	require.Equal(t, "private", string(plain))

	tests := []struct {
		name    string
		sealer  *Sealer
		purpose string
		data    []byte
	}{
		{"other purpose", s, "moodle-token", sealed},
		{"flipped bit", s, "tool-key", append(append([]byte{}, sealed[:len(sealed)-1]...), sealed[len(sealed)-1]^1)},
		{"truncated", s, "tool-key", sealed[:5]},
		{"other secret", must(New(bytes.Repeat([]byte{8}, 32))), "tool-key", sealed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.sealer.Open(tt.purpose, tt.data)
			require.ErrorIs(t, err, ErrOpen)
		})
	}
	_, err = New([]byte("short"))
	require.Error(t, err)
}

func must(s *Sealer, err error) *Sealer {
	if err != nil {
		panic(err)
	}
	return s
}

func TestDeriveGivesEachPurposeItsOwnKey(t *testing.T) {
	t.Parallel()
	secret := bytes.Repeat([]byte{7}, 32)
	a := Derive(secret, "ratelimit")
	require.Len(t, a, 32)
	require.Equal(t, a, Derive(secret, "ratelimit"), "the same on every instance")
	require.NotEqual(t, a, Derive(secret, "other"))
	require.NotEqual(t, a, Derive(bytes.Repeat([]byte{8}, 32), "ratelimit"))
	require.NotContains(t, string(a), string(secret[:8]))
}
