package guard

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Moderators read labels, not codes: every kind has words of its own.
func TestEveryKindHasALabelInWords(t *testing.T) {
	t.Parallel()
	seen := map[string]Kind{}
	for _, k := range kindOrder {
		l := k.Label()
		require.NotEqual(t, Kind("").Label(), l, "%s has no label of its own", k)
		require.NotContains(t, l, "_", "%s", k)
		require.NotContains(t, seen, l, "%s and %s share a label", k, seen[l])
		seen[l] = k
	}
}
