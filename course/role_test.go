package course_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/internal/moodlecapture"
	"github.com/huddle-lti/huddle/lti"
)

const (
	membership  = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
	institution = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
	system      = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
)

func TestMapRoles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		roles []string
		want  []lti.Role
	}{
		{"no roles", nil, nil},
		{"empty roles", []string{}, nil},
		{"Moodle student", []string{membership + "Learner"}, []lti.Role{lti.RoleLearner}},
		{"Moodle teacher", []string{membership + "Instructor"}, []lti.Role{lti.RoleEducator}},
		{"member", []string{membership + "Member"}, []lti.Role{lti.RoleLearner}},
		{"content developer", []string{membership + "ContentDeveloper"}, []lti.Role{lti.RoleEducator}},
		{"teaching assistant", []string{membership + "TeachingAssistant"}, []lti.Role{lti.RoleEducator}},
		{"teaching assistant sub-role", []string{"http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"}, []lti.Role{lti.RoleEducator}},
		{"learner sub-role", []string{"http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#NonCreditLearner"}, []lti.Role{lti.RoleLearner}},
		{"sub-role without a name", []string{"http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor"}, nil},
		{"Moodle NRPS short teacher", []string{"Instructor"}, []lti.Role{lti.RoleEducator}},
		{"Moodle NRPS short student", []string{"Learner"}, []lti.Role{lti.RoleLearner}},
		{"short forms", []string{"Instructor", "TeachingAssistant"}, []lti.Role{lti.RoleEducator}},
		{"short content developer", []string{"ContentDeveloper"}, []lti.Role{lti.RoleEducator}},
		{"short member", []string{"Member"}, []lti.Role{lti.RoleLearner}},
		{"mentor", []string{membership + "Mentor"}, []lti.Role{lti.RoleMentor}},
		{"short mentor", []string{"Mentor"}, []lti.Role{lti.RoleMentor}},
		{"spaces around a role", []string{"  " + membership + "Instructor\t"}, []lti.Role{lti.RoleEducator}},
		{"institution administrator", []string{institution + "Administrator"}, []lti.Role{lti.RoleAdmin}},
		{"system administrator", []string{system + "Administrator"}, []lti.Role{lti.RoleAdmin}},
		{"system sysadmin", []string{system + "SysAdmin"}, []lti.Role{lti.RoleAdmin}},
		{
			// What Moodle 4.5 sends a site admin in any course, enrolled or not
			// (devplatform's seeded admin): the Instructor role comes with being admin.
			"Moodle site admin is not a course educator",
			[]string{institution + "Administrator", membership + "Instructor", system + "Administrator"},
			[]lti.Role{lti.RoleAdmin},
		},
		{"institution admin with a teaching sub-role", []string{institution + "Administrator", "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"}, []lti.Role{lti.RoleAdmin}},
		{"system admin with the short Instructor", []string{system + "SysAdmin", "Instructor"}, []lti.Role{lti.RoleAdmin}},
		{
			"every role, in a fixed order",
			[]string{"Learner", "Mentor", "Instructor", system + "SysAdmin"},
			[]lti.Role{lti.RoleAdmin, lti.RoleMentor, lti.RoleLearner},
		},
		{"every context role, in a fixed order", []string{"Learner", "Mentor", "Instructor"}, []lti.Role{lti.RoleEducator, lti.RoleMentor, lti.RoleLearner}},
		{"learner and mentor", []string{membership + "Mentor", membership + "Learner"}, []lti.Role{lti.RoleMentor, lti.RoleLearner}},
		{"duplicates collapse", []string{membership + "Learner", "Learner", membership + "Member"}, []lti.Role{lti.RoleLearner}},
		{"institution instructor is not a course educator", []string{institution + "Instructor"}, nil},
		{"institution learner is not a course learner", []string{institution + "Student"}, nil},
		{"context administrator is not a Huddle admin", []string{membership + "Administrator"}, nil},
		{"short administrator is not a Huddle admin", []string{"Administrator"}, nil},
		{"system user is nothing", []string{system + "User"}, nil},
		{"unknown roles ignored", []string{"Observer", "urn:example:role", "http://example.com/roles#Instructor", ""}, nil},
		{"look-alike prefix", []string{"http://purl.imsglobal.org/vocab/lis/v2/membershipX#Instructor"}, nil},
		{"case matters", []string{"instructor", membership + "learner"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, course.MapRoles(tt.roles))
		})
	}
}

// The roles real Moodle 4.5 sent: full URIs in launches, short names in NRPS.
func TestMapRolesOfMoodleCaptures(t *testing.T) {
	t.Parallel()
	t.Run("launches", func(t *testing.T) {
		t.Parallel()
		want := map[string][]lti.Role{ // by sub
			"3": {lti.RoleEducator}, // educator1, a Moodle teacher
			"4": {lti.RoleLearner},  // learner1
			"5": {lti.RoleLearner},  // learner2
		}
		for _, name := range moodlecapture.Glob(t, "lti/*/*-id-token-*.jwt") {
			parts := strings.Split(strings.TrimSpace(string(moodlecapture.Read(t, name))), ".")
			require.Len(t, parts, 3, name)
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			require.NoError(t, err, name)
			var c lti.Claims
			require.NoError(t, json.Unmarshal(payload, &c), name)
			require.Contains(t, want, c.Subject, name)
			require.Equal(t, want[c.Subject], course.MapRoles(c.Roles), name)
		}
	})
	t.Run("NRPS", func(t *testing.T) {
		t.Parallel()
		var roster struct {
			Members []lti.Member `json:"members"`
		}
		require.NoError(t, json.Unmarshal(moodlecapture.Read(t, "lti/02-launch-learner1-cm2/073-nrps-get-memberships-response-body.json"), &roster))
		got := map[string][]lti.Role{}
		for _, m := range roster.Members {
			got[m.UserID] = course.MapRoles(m.Roles)
		}
		require.Equal(t, map[string][]lti.Role{
			"3": {lti.RoleEducator}, "4": {lti.RoleLearner}, "5": {lti.RoleLearner},
		}, got)
	})
}
