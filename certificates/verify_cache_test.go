package certificates

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The verification caches are bounded in size (no instance grows without end) and
// the records in time (RecordTTL), and a dropped record takes its code with it.
func TestVerifiedCacheIsBoundedInSizeAndTime(t *testing.T) {
	t.Parallel()
	c := newVerifiedCache()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	for i := range verifiedCacheSize + 100 {
		c.put(sha256.Sum256(fmt.Appendf(nil, "token %d", i)), verifiedToken{id: fmt.Sprint(i)})
	}
	require.Len(t, c.entries, verifiedCacheSize)

	for i := range recordCacheSize + 100 {
		cert := &Certificate{ID: fmt.Sprintf("id-%d", i), Code: fmt.Sprintf("CODE%d", i), UserID: int64(i % 7),
			JWS: "a.b.c", Credential: []byte(`{}`)}
		c.putRecord(cert, sha256.Sum256([]byte(cert.JWS)), now)
	}
	require.Len(t, c.records, recordCacheSize)
	require.Len(t, c.codes, recordCacheSize, "a code goes with its record")
	for code, id := range c.codes {
		r, ok := c.records[id]
		require.True(t, ok, code)
		require.Equal(t, code, r.cert.Code)
		require.Empty(t, r.cert.JWS, "the token is not kept twice")
		require.Nil(t, r.cert.Credential)
	}

	last := fmt.Sprintf("id-%d", recordCacheSize+99)
	_, ok := c.record(last, now.Add(RecordTTL-time.Nanosecond))
	require.True(t, ok, "fresh just inside RecordTTL")
	_, ok = c.recordByCode(fmt.Sprintf("CODE%d", recordCacheSize+99), now.Add(time.Second))
	require.True(t, ok)
	_, ok = c.record(last, now.Add(RecordTTL))
	require.False(t, ok, "stale at RecordTTL")
	_, ok = c.record(last, now.Add(-time.Second))
	require.False(t, ok, "stale if the clock went back")

	c.forget(last)
	_, ok = c.record(last, now)
	require.False(t, ok)
	_, ok = c.codes[fmt.Sprintf("CODE%d", recordCacheSize+99)]
	require.False(t, ok)

	c.forgetUser(3)
	for _, r := range c.records {
		require.NotEqual(t, int64(3), r.cert.UserID, "an erased person's records are dropped")
	}
	require.Len(t, c.codes, len(c.records))
}
