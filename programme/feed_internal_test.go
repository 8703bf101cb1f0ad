package programme

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestETagKeepsItsFormat pins version's ETag to the bytes it hashed when it was
// built with fmt ("%d|%d|%s|%s"): calendars hold ETags across a deploy, and one that
// changed for an unchanged feed would make every calendar fetch every feed in full.
func TestETagKeepsItsFormat(t *testing.T) {
	newest := time.Date(2030, 3, 1, 9, 30, 15, 123456789, time.FixedZone("BST", 3600))
	for _, tc := range []struct {
		name  string
		sc    Scope
		state string
	}{
		{"every programme, every grade", Scope{UserID: 7}, "12.3.1900000000000000.1900000000000001"},
		{"one programme, one grade", Scope{UserID: 1 << 40, ProgrammeID: 99, Grade: "F1"}, "99.0.1.2"},
		{"no programmes", Scope{UserID: 3, Grade: "ST3"}, ""},
		{"a long state", Scope{UserID: 5}, fmt.Sprint(make([]int, 200))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := sha256.Sum256(fmt.Appendf(nil, "%d|%d|%s|%s", tc.sc.UserID, tc.sc.ProgrammeID, tc.sc.Grade, tc.state))
			v := version(tc.sc, tc.state, &newest)
			require.Equal(t, `"`+hex.EncodeToString(h[:12])+`"`, v.ETag)
			require.Equal(t, time.Date(2030, 3, 1, 8, 30, 15, 0, time.UTC), v.Modified)
		})
	}
	require.True(t, version(Scope{UserID: 1}, "", nil).Modified.IsZero())
}
