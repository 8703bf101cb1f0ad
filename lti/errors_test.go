package lti

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var allCodes = []Code{
	CodeBadState, CodeBadNonce,
	CodeTokenTooLarge, CodeMalformedToken, CodeBadAlgorithm, CodeUnknownKey, CodeKeysUnavailable,
	CodeBadSignature, CodeBadIssuer, CodeBadAudience, CodeBadAZP, CodeTokenExpired,
	CodeTokenNotYetValid, CodeTokenTooOld, CodeUnknownDeployment, CodeBadVersion, CodeUnsupportedMessageType,
	CodeMissingClaim, CodeInvalidClaim, CodePlatformNotConfigured,
}

func TestEveryCodeHasAMessage(t *testing.T) {
	t.Parallel()
	seen := map[Code]bool{}
	for _, c := range allCodes {
		require.False(t, seen[c], "duplicate code %s", c)
		seen[c] = true
		msg := messages[c]
		require.NotEmpty(t, msg, "code %s has no message", c)
		// A message says what happened and what to do next, in two sentences or more.
		require.GreaterOrEqual(t, strings.Count(msg, ". "), 1, "code %s: %q", c, msg)
		require.True(t, strings.HasSuffix(msg, "."), "code %s: %q", c, msg)
		require.Equal(t, strings.ToLower(string(c)), string(c))
	}
	require.Len(t, messages, len(allCodes), "every message belongs to a listed code")
}

func TestLaunchErrorAs(t *testing.T) {
	t.Parallel()
	cause := errors.New("jws: could not verify")
	err := fmt.Errorf("web: launch: %w", launchError(CodeBadSignature, "RS256 signature does not verify", cause))

	var lerr *LaunchError
	require.True(t, errors.As(err, &lerr))
	require.Equal(t, CodeBadSignature, lerr.Code)
	require.Equal(t, messages[CodeBadSignature], lerr.Message)
	require.ErrorIs(t, err, cause)
	require.Equal(t, "web: launch: lti: launch rejected: bad_signature: RS256 signature does not verify: jws: could not verify", err.Error())
}

// TestLaunchErrorKeepsPersonalDataOut rejects real Moodle tokens for several reasons and
// checks that nothing from the token reaches the error.
func TestLaunchErrorKeepsPersonalDataOut(t *testing.T) {
	t.Parallel()
	jwks := newJWKSServer(t, readFixture(t, "platform/moodle-jwks.json"))
	raw := strings.TrimSpace(string(readFixture(t, "lti/02-launch-learner1-cm2/026-id-token-LtiResourceLinkRequest.jwt")))
	keys := NewKeySet(KeySetConfig{Client: jwks.Client(), Now: func() time.Time { return time.Unix(1795714800, 0) }})
	good := Platform{Issuer: moodleIssuer, ClientID: moodleClientID, JWKSURL: jwks.URL, DeploymentIDs: []string{"1"}}

	tests := []struct {
		name string
		now  int64
		p    func(Platform) Platform
		raw  string
		code Code
	}{
		{"expired", 1795714852 + 60, func(p Platform) Platform { return p }, raw, CodeTokenExpired},
		{"other deployment", 1795714800, func(p Platform) Platform { p.DeploymentIDs = []string{"7"}; return p }, raw, CodeUnknownDeployment},
		{"other client", 1795714800, func(p Platform) Platform { p.ClientID = "other"; return p }, raw, CodeBadAudience},
		{"tampered", 1795714800, func(p Platform) Platform { return p }, raw[:len(raw)-4] + "AAAA", CodeBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := NewVerifier(VerifierConfig{Keys: keys, Now: func() time.Time { return time.Unix(tt.now, 0) }})
			_, err := v.VerifyIDToken(context.Background(), tt.raw, tt.p(good))
			lerr := launchErrorOf(t, err, tt.code)
			for _, s := range []string{lerr.Error(), lerr.Message, fmt.Sprintf("%+v", lerr)} {
				for _, secret := range []string{"learner1", "Lena", "LEARNER1", "e39b906b4b8da1e33b304b9de280ca6d", raw[:30], raw[len(raw)-30:]} {
					require.NotContains(t, s, secret)
				}
			}
		})
	}
}
