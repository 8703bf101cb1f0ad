package certificates_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/certificates"
)

// BenchmarkVerify is one verification as POST /api/v1/verify does it (header checks,
// RS256 with a 3072-bit key as production uses, the record read from PostgreSQL),
// without HTTP or the rate limiter, at concurrency 32 as issue 15's target is set.
func BenchmarkVerify(b *testing.B) {
	bb := setupBench(b)
	c, _, err := bb.svc.Issue(bb.ctx, bb.award(bb.learner))
	require.NoError(b, err)
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			v, err := bb.svc.Verify(bb.ctx, c.JWS)
			if err != nil || v.Status != certificates.StatusValid {
				b.Fatalf("verify: %v %v", err, v)
			}
		}
	})
}
