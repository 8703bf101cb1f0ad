package lti

import (
	"context"
	"testing"
)

// BenchmarkVerifyIDToken measures the id_token checks of every launch (RS256
// verification, claims decoding) with the platform's key set already cached. Run with
// -benchmem for allocations per launch.
func BenchmarkVerifyIDToken(b *testing.B) {
	tp := setup(b)
	raw := sign(b, tp.key, resourceLinkClaims(testNow))
	ctx := context.Background()
	if _, err := tp.verifier.VerifyIDToken(ctx, raw, tp.platform); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.verifier.VerifyIDToken(ctx, raw, tp.platform); err != nil {
			b.Fatal(err)
		}
	}
}
