package lti

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClaimsDecodeLeniently(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want Claims
	}{
		{
			"custom values that are not strings",
			`{"https://purl.imsglobal.org/spec/lti/claim/custom":{"a":"x","n":3,"b":true,"o":{"k":1}}}`,
			Claims{Custom: CustomParameters{"a": "x", "n": "3", "b": "true", "o": `{"k":1}`}},
		},
		{
			"launch presentation sizes as numbers and strings",
			`{"https://purl.imsglobal.org/spec/lti/claim/launch_presentation":{"document_target":"iframe","height":400.6,"width":"800"}}`,
			Claims{LaunchPresentation: &LaunchPresentation{DocumentTarget: "iframe", Height: 401, Width: 800}},
		},
		{
			"launch presentation sizes that are nonsense",
			`{"https://purl.imsglobal.org/spec/lti/claim/launch_presentation":{"height":"tall","width":-5}}`,
			Claims{LaunchPresentation: &LaunchPresentation{}},
		},
		{
			"empty roles stay distinct from absent",
			`{"https://purl.imsglobal.org/spec/lti/claim/roles":[]}`,
			Claims{Roles: []string{}},
		},
		{
			"unknown claims ignored",
			`{"https://purl.imsglobal.org/spec/lti/claim/ext":{"lms":"moodle-2"},"https://example.com/x":1}`,
			Claims{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got Claims
			require.NoError(t, json.Unmarshal([]byte(tt.json), &got))
			require.Equal(t, tt.want, got)
		})
	}
}

func TestClaimsDecodeMoodleDeepLinkingRequest(t *testing.T) {
	t.Parallel()
	var decoded struct {
		Payload Claims `json:"payload"`
	}
	require.NoError(t, json.Unmarshal(readFixture(t, "lti/03-deep-linking-educator1/086-id-token-LtiDeepLinkingRequest-decoded.json"), &decoded))
	c := decoded.Payload

	require.Equal(t, MessageDeepLinkingRequest, c.MessageType)
	require.NotNil(t, c.AGS)
	require.Empty(t, c.AGS.LineItem, "a deep linking request has no line item of its own")
	require.Len(t, c.AGS.Scope, 4)
	require.Equal(t, &DeepLinkingSettings{
		DeepLinkReturnURL:                 "http://127.0.0.1:8000/mod/lti/contentitem_return.php?course=2&id=1&sesskey=Bvy6iFS7zy",
		AcceptTypes:                       []string{"ltiResourceLink"},
		AcceptPresentationDocumentTargets: []string{"frame", "iframe", "window"},
		AcceptMultiple:                    true,
		Title:                             "Capture Tool (dynamic registration)",
	}, c.DeepLinking)
	require.True(t, c.DeepLinking.AcceptsType(ContentItemTypeResourceLink))
	require.False(t, c.DeepLinking.AcceptsType("file"))
	require.Equal(t, &LaunchPresentation{Locale: "en"}, c.LaunchPresentation)
	require.Equal(t, []string{"http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"}, c.Roles)
}

func TestAGSEndpointHasScope(t *testing.T) {
	t.Parallel()
	var nilAGS *AGSEndpoint
	require.False(t, nilAGS.HasScope("https://purl.imsglobal.org/spec/lti-ags/scope/score"))
	a := &AGSEndpoint{Scope: []string{"https://purl.imsglobal.org/spec/lti-ags/scope/score"}}
	require.True(t, a.HasScope("https://purl.imsglobal.org/spec/lti-ags/scope/score"))
	require.False(t, a.HasScope("https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"))
}
