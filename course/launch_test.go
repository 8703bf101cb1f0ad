package course_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/lti"
)

func TestLaunchFrom(t *testing.T) {
	t.Parallel()
	full := func() *lti.Launch {
		return &lti.Launch{
			Platform: lti.Platform{ID: 7, Issuer: "https://moodle.trust.example"},
			Claims: lti.Claims{
				Subject: "4", Name: "Lena Learner", GivenName: "Lena", FamilyName: "Learner", Email: "learner1@example.com",
				MessageType: lti.MessageResourceLink, DeploymentID: "1",
				TargetLinkURI: "https://huddle.test/lti/launch",
				ResourceLink:  &lti.ResourceLink{ID: "12", Title: "Peer discussion"},
				Roles:         []string{membership + "Learner"},
				Context:       &lti.Context{ID: "2", Label: "FTP1", Title: "Foundation Teaching Programme"},
				Custom:        lti.CustomParameters{course.CustomKind: "case_board"},
				AGS: &lti.AGSEndpoint{
					Scope:     []string{"https://purl.imsglobal.org/spec/lti-ags/scope/score"},
					LineItems: "https://moodle.trust.example/mod/lti/services.php/2/lineitems?type_id=1",
					LineItem:  "https://moodle.trust.example/mod/lti/services.php/2/lineitems/5/lineitem?type_id=1",
				},
				NRPS: &lti.NRPSService{ContextMembershipsURL: "https://moodle.trust.example/mod/lti/services.php/CourseSection/2/bindings/1/memberships"},
			},
		}
	}
	tests := []struct {
		name   string
		launch func() *lti.Launch
		want   func(*course.Launch)
	}{
		{"Moodle resource link launch", full, func(*course.Launch) {}},
		{
			"given and family name when Moodle sends no name",
			func() *lti.Launch { l := full(); l.Name = ""; return l },
			func(w *course.Launch) { w.Name = "Lena Learner" },
		},
		{
			"only a given name",
			func() *lti.Launch { l := full(); l.Name, l.FamilyName = "", ""; return l },
			func(w *course.Launch) { w.Name = "Lena" },
		},
		{
			// LTI Core 5.4.1: context is optional; the deployment stands in for it.
			"no context",
			func() *lti.Launch { l := full(); l.Context = nil; return l },
			func(w *course.Launch) { w.ContextID, w.ContextTitle, w.ContextLabel = "deployment:1", "", "" },
		},
		{
			"deep linking request has no resource link",
			func() *lti.Launch {
				l := full()
				l.MessageType, l.ResourceLink = lti.MessageDeepLinkingRequest, nil
				l.Roles = []string{membership + "Instructor"}
				return l
			},
			func(w *course.Launch) {
				w.ResourceLinkID, w.ActivityTitle = "", ""
				w.Roles = []lti.Role{lti.RoleEducator}
			},
		},
		{
			"no services and no custom parameters",
			func() *lti.Launch { l := full(); l.AGS, l.NRPS, l.Custom = nil, nil, nil; return l },
			func(w *course.Launch) {
				w.AGSLineItems, w.AGSLineItem, w.AGSScopes, w.NRPSURL = "", "", nil, ""
				w.Custom = map[string]string{}
			},
		},
		{
			// JSON allows NUL in a signed claim; PostgreSQL text does not.
			"NUL characters dropped",
			func() *lti.Launch {
				l := full()
				l.Name, l.Context.Title, l.ResourceLink.Title = "Lena\x00 Learner", "Foundation\x00 Teaching Programme", "Peer\x00 discussion"
				l.Custom = lti.CustomParameters{"huddle\x00_kind": "case\x00_board"}
				return l
			},
			func(*course.Launch) {},
		},
		{
			"roles mapped, unknown ones dropped",
			func() *lti.Launch {
				l := full()
				l.Roles = []string{institution + "Administrator", membership + "Instructor", "urn:x:y"}
				return l
			},
			// An administrator's Instructor is Moodle's gift to every admin (MapRoles).
			func(w *course.Launch) { w.Roles = []lti.Role{lti.RoleAdmin} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := course.Launch{
				PlatformID: 7, DeploymentID: "1", Subject: "4", Name: "Lena Learner", Email: "learner1@example.com",
				ContextID: "2", ContextTitle: "Foundation Teaching Programme", ContextLabel: "FTP1",
				ResourceLinkID: "12", ActivityTitle: "Peer discussion", TargetLinkURI: "https://huddle.test/lti/launch",
				Custom:       map[string]string{course.CustomKind: "case_board"},
				Roles:        []lti.Role{lti.RoleLearner},
				AGSLineItems: "https://moodle.trust.example/mod/lti/services.php/2/lineitems?type_id=1",
				AGSLineItem:  "https://moodle.trust.example/mod/lti/services.php/2/lineitems/5/lineitem?type_id=1",
				AGSScopes:    []string{"https://purl.imsglobal.org/spec/lti-ags/scope/score"},
				NRPSURL:      "https://moodle.trust.example/mod/lti/services.php/CourseSection/2/bindings/1/memberships",
			}
			tt.want(&want)
			got := course.LaunchFrom(tt.launch())
			require.Equal(t, want, got)
		})
	}
}

func TestLaunchIsEducator(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		roles []lti.Role
		want  bool
	}{
		{nil, false},
		{[]lti.Role{lti.RoleLearner}, false},
		{[]lti.Role{lti.RoleAdmin, lti.RoleMentor}, false},
		{[]lti.Role{lti.RoleEducator}, true},
		{[]lti.Role{lti.RoleAdmin, lti.RoleEducator, lti.RoleLearner}, true},
	} {
		require.Equal(t, tt.want, course.Launch{Roles: tt.roles}.IsEducator(), "%v", tt.roles)
	}
}
