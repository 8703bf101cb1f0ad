package course

import (
	"strings"

	"github.com/huddle-lti/huddle/lti"
)

// Role vocabularies of LTI Core Appendix A.2.
const (
	membershipPrefix  = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
	membershipSubRole = "http://purl.imsglobal.org/vocab/lis/v2/membership/"
	institutionPrefix = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
	systemPrefix      = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
)

// MapRoles maps the LTI roles a platform sent (a launch's roles claim, an NRPS
// member's roles) to Huddle roles, in a fixed order and without duplicates: what a
// membership of this package records. Context roles may come as full URIs
// (membership#Instructor, what Moodle's launches send), as sub-roles
// (membership/Instructor#TeachingAssistant) or in the deprecated short form
// ("Instructor", what Moodle's NRPS sends), which LTI Core A.2.3.1 still allows for
// context roles. Unknown roles are ignored, as LTI Core 5.3.7 asks.
//
// An administrator (system or institution) is never an educator through the same
// claim: Moodle's lti_get_ims_role gives every site administrator Instructor in every
// course, enrolled or not, so that role says nothing about teaching this course, and
// taking it made a site administrator who opened an activity once the first
// supervisor offered to learners (issue 17). Administrators reach Huddle's
// administration; one who teaches the course uses a teacher account.
func MapRoles(uris []string) []lti.Role {
	has := map[lti.Role]bool{}
	for _, u := range uris {
		if r, ok := mapRole(strings.TrimSpace(u)); ok {
			has[r] = true
		}
	}
	if has[lti.RoleAdmin] {
		delete(has, lti.RoleEducator)
	}
	var out []lti.Role
	for _, r := range []lti.Role{lti.RoleAdmin, lti.RoleEducator, lti.RoleMentor, lti.RoleLearner} {
		if has[r] {
			out = append(out, r)
		}
	}
	return out
}

func mapRole(u string) (lti.Role, bool) {
	switch {
	case strings.HasPrefix(u, systemPrefix):
		// SysAdmin is the system vocabulary's "system administrator".
		switch strings.TrimPrefix(u, systemPrefix) {
		case "Administrator", "SysAdmin":
			return lti.RoleAdmin, true
		}
		return "", false
	case strings.HasPrefix(u, institutionPrefix):
		if strings.TrimPrefix(u, institutionPrefix) == "Administrator" {
			return lti.RoleAdmin, true
		}
		return "", false
	case strings.HasPrefix(u, membershipPrefix):
		return contextRole(strings.TrimPrefix(u, membershipPrefix))
	case strings.HasPrefix(u, membershipSubRole):
		// A sub-role "membership/<Principal>#<Sub>" (A.2.3.1) counts as its principal
		// role: membership/Instructor#TeachingAssistant is an educator.
		principal, _, ok := strings.Cut(strings.TrimPrefix(u, membershipSubRole), "#")
		if !ok {
			return "", false
		}
		return contextRole(principal)
	case !strings.Contains(u, "/") && !strings.Contains(u, ":"):
		return contextRole(u)
	}
	return "", false
}

// contextRole maps a context (membership) role name. A context Administrator is not
// a Huddle admin: only the institution's or the system's administrators are.
func contextRole(name string) (lti.Role, bool) {
	switch name {
	case "Learner", "Member":
		return lti.RoleLearner, true
	case "Instructor", "TeachingAssistant", "ContentDeveloper":
		return lti.RoleEducator, true
	case "Mentor":
		return lti.RoleMentor, true
	}
	return "", false
}
