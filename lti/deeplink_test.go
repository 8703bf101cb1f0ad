package lti

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// toolKey is the capture tool's key from the fixtures, so signatures can be checked
// against the tool JWKS Moodle downloaded.
func toolKey(t testing.TB) jwk.Key {
	t.Helper()
	key, err := jwk.ParseKey(readFixture(t, "keys/tool_private.pem"), jwk.WithPEM(true))
	require.NoError(t, err)
	require.NoError(t, key.Set(jwk.KeyIDKey, "capture-tool-key-1"))
	return key
}

// fixtureLaunch decodes a captured id_token payload into a Launch, as VerifyIDToken
// would have returned it.
func fixtureLaunch(t *testing.T, rel string) *Launch {
	t.Helper()
	var decoded struct {
		Payload Claims `json:"payload"`
	}
	require.NoError(t, json.Unmarshal(readFixture(t, rel), &decoded))
	return &Launch{Claims: decoded.Payload}
}

var moodlePlatform = Platform{Issuer: moodleIssuer, ClientID: moodleClientID, DeploymentIDs: []string{"1"}}

// decodeJWT verifies token with the tool JWKS, as Moodle does, and returns its header and
// claims as generic JSON.
func decodeJWT(t *testing.T, token string, now time.Time) (header, claims map[string]any) {
	t.Helper()
	set, err := jwk.Parse(readFixture(t, "keys/tool_jwks.json"))
	require.NoError(t, err)
	_, err = jwt.Parse([]byte(token),
		jwt.WithKeySet(set),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })),
		jwt.WithIssuer(moodleClientID),
		jwt.WithAudience(moodleIssuer),
	)
	require.NoError(t, err)

	msg, err := jws.ParseString(token)
	require.NoError(t, err)
	hb, err := json.Marshal(msg.Signatures()[0].ProtectedHeaders())
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(hb, &header))
	require.NoError(t, json.Unmarshal(msg.Payload(), &claims))
	return header, claims
}

func TestSignDeepLinkingResponseGolden(t *testing.T) {
	t.Parallel()
	req := fixtureLaunch(t, "lti/11-deep-linking-multi/345-id-token-LtiDeepLinkingRequest-decoded.json")
	req.DeepLinking.Data = "huddle-opaque-data-42"
	now := time.Unix(1795715742, 0)
	signer := NewDeepLinkingSigner(DeepLinkingConfig{
		Now:      func() time.Time { return now },
		NewNonce: func() (string, error) { return "fixed-nonce-for-golden", nil },
	})
	resp := DeepLinkingResponse{
		Items: []ContentItem{
			{
				Title:  "Reflection log: week 1",
				Text:   "Weekly reflection log",
				URL:    "http://127.0.0.1:9000/launch?item=reflection-log-week1",
				Custom: map[string]string{"activity_kind": "reflection_log", "item_id": "reflection-log-week1"},
				LineItem: &ContentLineItem{
					ScoreMaximum: 10, Label: "Reflection log week 1", ResourceID: "reflection-log-week1", Tag: "reflection",
				},
			},
			{
				Type:   ContentItemTypeResourceLink,
				Title:  "Case sharing: week 1",
				URL:    "http://127.0.0.1:9000/launch?item=case-sharing-week1",
				Custom: map[string]string{"activity_kind": "case_sharing"},
			},
		},
		Message: "Huddle added 2 activities",
		Log:     "huddle deep linking response",
	}

	out, err := signer.SignResponse(req, moodlePlatform, resp, toolKey(t))
	require.NoError(t, err)
	require.Equal(t, req.DeepLinking.DeepLinkReturnURL, out.ReturnURL)
	require.Equal(t, "JWT", DeepLinkingFormField)

	header, claims := decodeJWT(t, out.JWT, now)
	require.Equal(t, "capture-tool-key-1", header["kid"])
	require.Equal(t, "RS256", header["alg"])
	require.Equal(t, "huddle-opaque-data-42", claims[ClaimDeepLinkingData], "data is echoed")
	require.Equal(t, float64(now.Add(DefaultDeepLinkingLifetime).Unix()), claims["exp"])

	got, err := json.MarshalIndent(map[string]any{"header": header, "claims": claims}, "", "  ")
	require.NoError(t, err)
	got = append(got, '\n')
	golden := filepath.Join("testdata", "deep_linking_response.golden.json")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test ./lti -run Golden -update to create it")
	require.Equal(t, string(want), string(got))
}

// TestSignDeepLinkingResponseMatchesMoodleCapture checks that our response has the claim
// structure of the one Moodle 4.5 accepted in the capture (lti/03).
func TestSignDeepLinkingResponseMatchesMoodleCapture(t *testing.T) {
	t.Parallel()
	req := fixtureLaunch(t, "lti/03-deep-linking-educator1/086-id-token-LtiDeepLinkingRequest-decoded.json")
	now := time.Unix(1795714816, 0)
	signer := NewDeepLinkingSigner(DeepLinkingConfig{
		Now:      func() time.Time { return now },
		NewNonce: func() (string, error) { return "4c6b04ac61546f2be2c65b47", nil },
		Lifetime: 10 * time.Minute,
	})
	out, err := signer.SignResponse(req, moodlePlatform, DeepLinkingResponse{
		Items: []ContentItem{{
			Title:    "Peer discussion: week 1 (deep linked)",
			Text:     "Created through the capture tool's deep linking response",
			URL:      "http://127.0.0.1:9000/launch?item=peer-discussion-week1",
			Custom:   map[string]string{"activity_kind": "peer_discussion", "item_id": "peer-discussion-week1"},
			LineItem: &ContentLineItem{ScoreMaximum: 20, Label: "Peer discussion week 1", ResourceID: "peer-discussion-week1", Tag: "discussion"},
		}},
		Message: "Capture tool added 1 item",
		Log:     "capture-tool deep linking response",
	}, toolKey(t))
	require.NoError(t, err)
	oursHeader, ours := decodeJWT(t, out.JWT, now)

	captured := strings.TrimSpace(string(readFixture(t, "lti/03-deep-linking-educator1/088-deep-linking-response.jwt")))
	theirHeader, theirs := decodeJWT(t, captured, now)

	require.Equal(t, shapeOf(theirHeader), shapeOf(oursHeader))
	require.Equal(t, shapeOf(theirs), shapeOf(ours))
	// Given the same inputs, the claims are the same values too.
	require.Equal(t, theirs, ours)
}

// shapeOf describes a JSON value by its keys and types, not its values.
func shapeOf(v any) string {
	var b strings.Builder
	writeShape(&b, v)
	return b.String()
}

func writeShape(b *strings.Builder, v any) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("{")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(k + ":")
			writeShape(b, v[k])
		}
		b.WriteString("}")
	case []any:
		b.WriteString("[")
		if len(v) > 0 {
			writeShape(b, v[0])
		}
		b.WriteString("]")
	case string:
		b.WriteString("string")
	case float64:
		b.WriteString("number")
	case bool:
		b.WriteString("bool")
	case nil:
		b.WriteString("null")
	}
}

func TestSignDeepLinkingResponseEnforcesSettings(t *testing.T) {
	t.Parallel()
	key := toolKey(t)
	pub, err := key.PublicKey()
	require.NoError(t, err)
	noKid := toolKey(t)
	require.NoError(t, noKid.Remove(jwk.KeyIDKey))

	item := ContentItem{Title: "Peer discussion", URL: "http://127.0.0.1:9000/launch?item=a"}
	settings := func(mod func(*DeepLinkingSettings)) *Launch {
		l := &Launch{Claims: Claims{
			MessageType:  MessageDeepLinkingRequest,
			DeploymentID: "1",
			DeepLinking: &DeepLinkingSettings{
				DeepLinkReturnURL: "http://127.0.0.1:8000/mod/lti/contentitem_return.php?course=2&id=1",
				AcceptTypes:       []string{"ltiResourceLink"},
				AcceptMultiple:    true,
			},
		}}
		if mod != nil {
			mod(l.DeepLinking)
		}
		return l
	}

	tests := []struct {
		name    string
		req     *Launch
		items   []ContentItem
		key     jwk.Key
		wantErr error
		wantN   int
	}{
		{"one link", settings(nil), []ContentItem{item}, key, nil, 1},
		{"several links, multiple accepted", settings(nil), []ContentItem{item, item, item}, key, nil, 3},
		{"nothing chosen", settings(nil), nil, key, nil, 0},
		{"one link, multiple not accepted", settings(func(s *DeepLinkingSettings) { s.AcceptMultiple = false }), []ContentItem{item}, key, nil, 1},
		{"two links, multiple not accepted", settings(func(s *DeepLinkingSettings) { s.AcceptMultiple = false }), []ContentItem{item, item}, key, ErrMultipleNotAccepted, 0},
		{"links not accepted", settings(func(s *DeepLinkingSettings) { s.AcceptTypes = []string{"link", "file"} }), []ContentItem{item}, key, ErrContentTypeNotAccepted, 0},
		{"no accepted types", settings(func(s *DeepLinkingSettings) { s.AcceptTypes = nil }), []ContentItem{item}, key, ErrContentTypeNotAccepted, 0},
		{"other item type", settings(func(s *DeepLinkingSettings) { s.AcceptTypes = append(s.AcceptTypes, "html") }), []ContentItem{{Type: "html"}}, key, ErrInvalidDeepLinkingResponse, 0},
		{"not a deep linking request", &Launch{Claims: Claims{MessageType: MessageResourceLink, DeploymentID: "1"}}, []ContentItem{item}, key, ErrInvalidDeepLinkingResponse, 0},
		{"public key", settings(nil), []ContentItem{item}, pub, ErrInvalidDeepLinkingResponse, 0},
		{"key without kid", settings(nil), []ContentItem{item}, noKid, ErrInvalidDeepLinkingResponse, 0},
		{"no key", settings(nil), []ContentItem{item}, nil, ErrInvalidDeepLinkingResponse, 0},
	}
	now := time.Unix(1795714816, 0)
	signer := NewDeepLinkingSigner(DeepLinkingConfig{Now: func() time.Time { return now }})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := signer.SignResponse(tt.req, moodlePlatform, DeepLinkingResponse{Items: tt.items}, tt.key)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Nil(t, out)
				return
			}
			require.NoError(t, err)
			_, claims := decodeJWT(t, out.JWT, now)
			items, ok := claims[ClaimContentItems].([]any)
			require.True(t, ok, "content_items is always an array")
			require.Len(t, items, tt.wantN)
			for _, it := range items {
				require.Equal(t, ContentItemTypeResourceLink, it.(map[string]any)["type"])
			}
			_, hasData := claims[ClaimDeepLinkingData]
			require.False(t, hasData, "no data in the request, none in the response")
			require.Equal(t, moodleIssuer, claims["aud"], "aud is a single string, as Moodle sends and expects")
			require.Equal(t, "1", claims[ClaimDeploymentID])
		})
	}
}

func TestSignDeepLinkingResponseNonces(t *testing.T) {
	t.Parallel()
	req := fixtureLaunch(t, "lti/03-deep-linking-educator1/086-id-token-LtiDeepLinkingRequest-decoded.json")
	now := time.Unix(1795714816, 0)
	signer := NewDeepLinkingSigner(DeepLinkingConfig{Now: func() time.Time { return now }})
	seen := map[string]bool{}
	for range 5 {
		out, err := signer.SignResponse(req, moodlePlatform, DeepLinkingResponse{}, toolKey(t))
		require.NoError(t, err)
		_, claims := decodeJWT(t, out.JWT, now)
		nonce, _ := claims["nonce"].(string)
		require.Len(t, nonce, 32)
		require.False(t, seen[nonce])
		seen[nonce] = true
	}
}

func TestSignDeepLinkingResponseWithGeneratedKey(t *testing.T) {
	t.Parallel()
	key := privateJWK(t, 1, "huddle-tool-key-1")
	req := fixtureLaunch(t, "lti/03-deep-linking-educator1/086-id-token-LtiDeepLinkingRequest-decoded.json")
	out, err := NewDeepLinkingSigner(DeepLinkingConfig{}).SignResponse(req, moodlePlatform,
		DeepLinkingResponse{Items: []ContentItem{{Title: "x"}}, ErrorMessage: "partly failed", ErrorLog: "detail"}, key)
	require.NoError(t, err)
	pub, err := key.PublicKey()
	require.NoError(t, err)
	tok, err := jwt.Parse([]byte(out.JWT), jwt.WithKey(jwa.RS256, pub), jwt.WithAudience(moodleIssuer), jwt.WithIssuer(moodleClientID))
	require.NoError(t, err)
	msg, ok := tok.Get(ClaimDeepLinkingErrMsg)
	require.True(t, ok)
	require.Equal(t, "partly failed", msg)
	require.True(t, bytes.Count([]byte(out.JWT), []byte(".")) == 2)
}
