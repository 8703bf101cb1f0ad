package lti

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMapRoles(t *testing.T) {
	t.Parallel()
	const (
		membership  = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
		institution = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
		system      = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
	)
	tests := []struct {
		name  string
		roles []string
		want  []Role
	}{
		{"no roles", nil, nil},
		{"empty roles", []string{}, nil},
		{"Moodle student", []string{membership + "Learner"}, []Role{RoleLearner}},
		{"Moodle teacher", []string{membership + "Instructor"}, []Role{RoleEducator}},
		{"member", []string{membership + "Member"}, []Role{RoleLearner}},
		{"content developer", []string{membership + "ContentDeveloper"}, []Role{RoleEducator}},
		{"teaching assistant sub-role", []string{"http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"}, []Role{RoleEducator}},
		{"learner sub-role", []string{"http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#NonCreditLearner"}, []Role{RoleLearner}},
		{"short forms", []string{"Instructor", "TeachingAssistant"}, []Role{RoleEducator}},
		{"short learner", []string{"Learner"}, []Role{RoleLearner}},
		{"mentor", []string{membership + "Mentor"}, []Role{RoleMentor}},
		{"short mentor", []string{"Mentor"}, []Role{RoleMentor}},
		{"institution administrator", []string{institution + "Administrator"}, []Role{RoleAdmin}},
		{"system administrator", []string{system + "Administrator"}, []Role{RoleAdmin}},
		{"system sysadmin", []string{system + "SysAdmin"}, []Role{RoleAdmin}},
		{
			"Moodle site admin who teaches the course",
			[]string{institution + "Administrator", system + "Administrator", membership + "Instructor"},
			[]Role{RoleAdmin, RoleEducator},
		},
		{"learner and mentor", []string{membership + "Mentor", membership + "Learner"}, []Role{RoleMentor, RoleLearner}},
		{"duplicates collapse", []string{membership + "Learner", "Learner", membership + "Member"}, []Role{RoleLearner}},
		{"institution instructor is not a course educator", []string{institution + "Instructor"}, nil},
		{"context administrator is not a Huddle admin", []string{membership + "Administrator"}, nil},
		{"unknown roles ignored", []string{"urn:example:role", "http://example.com/roles#Instructor", ""}, nil},
		{"look-alike prefix", []string{"http://purl.imsglobal.org/vocab/lis/v2/membershipX#Instructor"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, MapRoles(tt.roles))
			c := Claims{Roles: tt.roles}
			require.Equal(t, tt.want, c.HuddleRoles())
		})
	}
}

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
	require.Equal(t, []Role{RoleEducator}, c.HuddleRoles())
}

func TestAGSEndpointHasScope(t *testing.T) {
	t.Parallel()
	var nilAGS *AGSEndpoint
	require.False(t, nilAGS.HasScope("https://purl.imsglobal.org/spec/lti-ags/scope/score"))
	a := &AGSEndpoint{Scope: []string{"https://purl.imsglobal.org/spec/lti-ags/scope/score"}}
	require.True(t, a.HasScope("https://purl.imsglobal.org/spec/lti-ags/scope/score"))
	require.False(t, a.HasScope("https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"))
}
