package course

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPositional(t *testing.T) {
	t.Parallel()
	st := positional(`SELECT 1 FROM users WHERE platform_id = @platform_id AND (@name = '' OR name = @name) AND custom = @custom::jsonb`)
	require.Equal(t, `SELECT 1 FROM users WHERE platform_id = $1 AND ($2 = '' OR name = $2) AND custom = $3::jsonb`, st.sql)
	require.Equal(t, []string{"platform_id", "name", "custom"}, st.names)
	require.Equal(t, []any{int64(7), "Lena", "x"}, st.args(map[string]any{"platform_id": int64(7), "name": "Lena", "custom": "x", "other": 1}))

	// A parameter launchArgs does not give is a mistake caught at start-up.
	require.Panics(t, func() { positional(`SELECT @platform_idd`) })
}
