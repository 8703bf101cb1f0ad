package certificates

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/seal"
)

// TestHeaderFieldsHuddleNeverWritesAreRefused signs a certificate's own payload with
// Huddle's own issuing key under headers Huddle never writes: the signature is then
// genuine, so only the header check (not the signature, not the record) can refuse
// them. Verify checks the header inside jws.Verify's key provider, field by field;
// this pins that every such field, known to jws or not, is still "invalid" for that
// reason, and that the same signing with Huddle's exact header verifies (the test can
// tell a refused header from a broken signing).
func TestHeaderFieldsHuddleNeverWritesAreRefused(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, keys, svc := newInternalService(t)
	c, _, err := svc.Issue(ctx, Award{LearnerName: "Priya Shah", Email: "priya.shah@nhs.example",
		CourseTitle: "Acute Medicine Teaching", Definition: Definition{Title: "Recognising and managing sepsis",
			CPDHours: 6.5, Organisation: "Example NHS Foundation Trust", SignatoryName: "Dr Ada Lovelace",
			SignatoryRole: "Director of Medical Education"}})
	require.NoError(t, err)
	key, _, _, err := keys.signingKey(ctx, pool)
	require.NoError(t, err)

	parts := strings.Split(c.JWS, ".")
	headerJSON, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	var header map[string]any
	require.NoError(t, json.Unmarshal(headerJSON, &header))
	resign := func(extra map[string]any) string {
		h := map[string]any{}
		for k, v := range header {
			h[k] = v
		}
		for k, v := range extra {
			h[k] = v
		}
		raw, err := json.Marshal(h)
		require.NoError(t, err)
		input := base64.RawURLEncoding.EncodeToString(raw) + "." + parts[1]
		signer, err := jws.NewSigner(jwa.RS256)
		require.NoError(t, err)
		sig, err := signer.Sign([]byte(input), key)
		require.NoError(t, err)
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}

	// Control: Huddle's header signed again is Huddle's token (RS256 is deterministic).
	same := resign(nil)
	require.Equal(t, c.JWS, same)
	v, err := svc.Verify(ctx, same)
	require.NoError(t, err)
	require.Equal(t, StatusValid, v.Status, v.Reason)

	for name, extra := range map[string]map[string]any{
		"cty":       {"cty": "vc"},
		"empty cty": {"cty": ""},
		"crit":      {"crit": []string{"exp"}},
		"b64":       {"b64": true},
		"jku":       {"jku": "https://evil.test/keys"},
		"jwk":       {"jwk": map[string]any{"kty": "oct", "k": "AAAA"}},
		"x5u":       {"x5u": "https://evil.test/cert"},
		"x5t":       {"x5t": "AAAA"},
		"x5t#S256":  {"x5t#S256": "AAAA"},
		"private":   {"huddle": "yes"},
	} {
		t.Run(name, func(t *testing.T) {
			v, err := svc.Verify(ctx, resign(extra))
			require.NoError(t, err)
			require.Equal(t, StatusInvalid, v.Status)
			require.Contains(t, v.Reason, "never writes")
		})
	}
}

// TestRecordByCodeDigestIsTheTokens: the public page's record read has PostgreSQL
// hash the token rather than send it; the record cache must hold the same SHA-256 as
// Verify computes over the token, or a verification after a page view would read
// PostgreSQL again for nothing (and a wrong digest could never match).
func TestRecordByCodeDigestIsTheTokens(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, _, svc := newInternalService(t)
	c, _, err := svc.Issue(ctx, Award{LearnerName: "Priya Shah", Email: "priya.shah@nhs.example",
		CourseTitle: "Acute Medicine Teaching", Definition: Definition{Title: "Recognising and managing sepsis",
			CPDHours: 6.5, Organisation: "Example NHS Foundation Trust"}})
	require.NoError(t, err)

	v, err := svc.VerifyCode(ctx, c.Code)
	require.NoError(t, err)
	require.Equal(t, StatusValid, v.Status)
	require.Empty(t, v.Certificate.JWS, "the page's record holds no token")
	require.Nil(t, v.Certificate.Credential)
	r, ok := svc.verified.record(c.ID, svc.now())
	require.True(t, ok)
	require.Equal(t, sha256.Sum256([]byte(c.JWS)), r.token)
	require.Equal(t, c.LearnerName, r.cert.LearnerName)
	require.Equal(t, c.Code, r.cert.Code)
}

// TestDamagedTokenSaysSo: a token shaped like a JWS whose parts do not decode is
// "invalid" as damaged, not as a signature that does not match (the header is read
// inside jws.Verify, so Verify tells the two apart by whether it got that far).
func TestDamagedTokenSaysSo(t *testing.T) {
	t.Parallel()
	svc := NewService(nil, nil, nil, Options{})
	for _, token := range []string{"a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.A"} {
		v, err := svc.Verify(t.Context(), token)
		require.NoError(t, err)
		require.Equal(t, StatusInvalid, v.Status)
		require.Contains(t, v.Reason, "damaged", token)
	}
}

// newInternalService is a Service on a fresh database with a small issuing key, for
// the tests that need the package's unexported parts.
func newInternalService(t *testing.T) (*pgxpool.Pool, *IssuingKeys, *Service) {
	t.Helper()
	pool := dbtest.New(t)
	sealer, err := seal.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	base, _ := url.Parse("https://huddle.test")
	now := func() time.Time { return time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC) }
	keys := NewIssuingKeys(pool, sealer, base, now, 1024)
	require.NoError(t, keys.Ensure(t.Context()))
	return pool, keys, NewService(pool, keys, base, Options{Now: now})
}

// TestRecordReadsTogetherEachGetTheirOwn: record reads that go to PostgreSQL in one
// batch (records.go), by id and by code mixed, each get their own record, their own
// answer to "is this the token?", the credential only where asked for, and by code
// the token's digest; an unknown id or code is not found. Many reads at once, more
// than one batch holds, several times over.
func TestRecordReadsTogetherEachGetTheirOwn(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, _, svc := newInternalService(t)
	var certs []*Certificate
	for _, name := range []string{"Priya Shah", "Tom Okafor", "Ada Lovelace"} {
		c, _, err := svc.Issue(ctx, Award{LearnerName: name, Email: strings.ReplaceAll(strings.ToLower(name), " ", ".") + "@nhs.example",
			CourseTitle: "Acute Medicine Teaching", Definition: Definition{Title: "Recognising and managing sepsis",
				CPDHours: 6.5, Organisation: "Example NHS Foundation Trust"}})
		require.NoError(t, err)
		certs = append(certs, c)
	}
	type read struct {
		id             string
		digest         [sha256.Size]byte
		withCredential bool
		want           *Certificate // nil: not found
		same           bool
	}
	var reads []read
	for _, c := range certs {
		reads = append(reads,
			read{c.ID, sha256.Sum256([]byte(c.JWS)), true, c, true},
			read{c.ID, sha256.Sum256([]byte(c.JWS)), false, c, true},
			read{c.ID, sha256.Sum256([]byte(c.JWS + "x")), true, c, false})
	}
	reads = append(reads, read{id: "00000000-0000-4000-8000-000000000000"}, read{id: "not a uuid"})

	errs := make(chan error, 100*(len(reads)+len(certs)+1))
	var wg sync.WaitGroup
	for range 100 {
		for _, r := range reads {
			wg.Go(func() {
				got, same, err := svc.recordOf(ctx, r.id, r.digest, r.withCredential)
				switch {
				case r.want == nil:
					if !errors.Is(err, ErrNotFound) {
						errs <- fmt.Errorf("%s: %v, want not found", r.id, err)
					}
				case err != nil:
					errs <- fmt.Errorf("%s: %w", r.id, err)
				case got.ID != r.want.ID || got.LearnerName != r.want.LearnerName || got.Code != r.want.Code || same != r.same:
					errs <- fmt.Errorf("%s: %s %s %s same=%v, want %s %s %s same=%v", r.id, got.ID, got.LearnerName, got.Code, same,
						r.want.ID, r.want.LearnerName, r.want.Code, r.same)
				case r.withCredential != (got.Credential != nil):
					errs <- fmt.Errorf("%s: credential %q with credential asked %v", r.id, got.Credential, r.withCredential)
				}
			})
		}
	}
	for range 100 {
		for _, c := range certs {
			wg.Go(func() {
				got, digest, err := svc.recordByCode(ctx, c.Code)
				switch {
				case err != nil:
					errs <- fmt.Errorf("code %s: %w", c.Code, err)
				case got.ID != c.ID || got.LearnerName != c.LearnerName || digest != sha256.Sum256([]byte(c.JWS)):
					errs <- fmt.Errorf("code %s: %s %s %x, want %s %s", c.Code, got.ID, got.LearnerName, digest, c.ID, c.LearnerName)
				case got.Credential != nil:
					errs <- fmt.Errorf("code %s: a credential the page does not show", c.Code)
				}
			})
		}
		wg.Go(func() {
			if _, _, err := svc.recordByCode(ctx, "ZZZZZZZZZZ"); !errors.Is(err, ErrNotFound) {
				errs <- fmt.Errorf("unknown code: %v, want not found", err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
