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

// TestResealUnderANewSecret is what huddle secret rotate does to every sealed value:
// open with the old secret, seal with the new one for the same purpose. Afterwards only
// the new secret opens it, the purpose still binds, and a second rotation from the old
// secret fails with ErrOpen instead of sealing twice.
func TestResealUnderANewSecret(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret := must(New(bytes.Repeat([]byte{7}, 32))), must(New(bytes.Repeat([]byte{8}, 32)))
	sealed, err := oldSecret.Seal("moodle-token", []byte("token"))
	require.NoError(t, err)

	plain, err := oldSecret.Open("moodle-token", sealed)
	require.NoError(t, err)
	resealed, err := newSecret.Seal("moodle-token", plain)
	require.NoError(t, err)

	tests := []struct {
		name    string
		sealer  *Sealer
		purpose string
		want    error
	}{
		{"new secret", newSecret, "moodle-token", nil},
		{"old secret", oldSecret, "moodle-token", ErrOpen},
		{"new secret, other purpose", newSecret, "tool-key", ErrOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.purpose, resealed)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "token", string(got))
		})
	}
}
