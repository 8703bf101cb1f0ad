package moodle

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels callers branch on with errors.Is. A Moodle exception (*Error) matches at most one of the first six;
// the rest describe failures that never reached, or could not be understood from, Moodle's web service layer.
var (
	// ErrInvalidToken: the token is unknown, expired, or its user can no longer use web services.
	ErrInvalidToken = errors.New("invalid web service token")
	// ErrAccessDenied: the token's user lacks a capability, cannot see the course, or failed require_login.
	ErrAccessDenied = errors.New("access denied")
	// ErrInvalidParameter: Moodle rejected a parameter, or Huddle refused to send one Moodle would mishandle.
	ErrInvalidParameter = errors.New("invalid parameter")
	// ErrFunctionNotInService: the function is missing from the token's external service or from this Moodle.
	ErrFunctionNotInService = errors.New("function not available to this token")
	// ErrNotFound: a course, user, course module or other record named in the call does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNoCompletionCriteria: the course has completion enabled but no criteria, so it has no completion status.
	ErrNoCompletionCriteria = errors.New("no completion criteria set")

	// ErrUnavailable: the site could not be reached or answered 5xx, after every attempt allowed.
	ErrUnavailable = errors.New("site unavailable")
	// ErrUnexpectedResponse: an answer that is not Moodle's JSON (an HTML page, XML, a 4xx) or not the expected shape.
	ErrUnexpectedResponse = errors.New("unexpected response")
	// ErrGradeNotSaved: core_grades_update_grades answered with a status other than GRADE_UPDATE_OK.
	ErrGradeNotSaved = errors.New("grade not saved")
	// ErrMessageNotSent: Moodle refused one message of a batch (msgid -1), reported per message.
	ErrMessageNotSent = errors.New("message not sent")
)

// Error is an exception Moodle reported inside an HTTP 200 answer, as {"exception","errorcode","message"}.
type Error struct {
	Function  string // the wsfunction called
	Exception string // PHP class, e.g. core\exception\required_capability_exception
	ErrorCode string // Moodle's stable code, e.g. nopermissions; Message is translated and may change
	Message   string
	DebugInfo string // only present when the site has debugging on

	kind error // the sentinel this exception matches, or nil
}

// newError classifies a Moodle exception. token is scrubbed from every text field: Moodle never echoes it
// today, but debuginfo includes request details on some versions and the error will be logged and shown.
func newError(function, exception, code, message, debugInfo, token string) *Error {
	scrub := func(s string) string {
		if token == "" {
			return s
		}
		return strings.ReplaceAll(s, token, "[token]")
	}
	e := &Error{
		Function:  function,
		Exception: scrub(exception),
		ErrorCode: scrub(code),
		Message:   scrub(message),
		DebugInfo: scrub(debugInfo),
	}
	e.kind = classify(e)
	return e
}

// classify maps an exception to a sentinel by errorcode, which unlike the message does not depend on the
// site's language. The codes are those seen in the Moodle 4.5 captures (ws/042-050 and the permission
// failures in 005, 010, 016, 024, 033) plus the siblings Moodle raises from the same code paths.
func classify(e *Error) error {
	switch e.ErrorCode {
	case "invalidtoken",
		// authenticate_user refuses tokens whose user is deleted, suspended, unconfirmed or has nologin auth.
		"wsaccessuserdeleted", "wsaccessusersuspended", "wsaccessuserunconfirmed", "wsaccessusernologin",
		"wsaccessuserexpired":
		return ErrInvalidToken
	case "nopermissions", "accessdenied", "requireloginerror", "coursehidden", "noguest",
		"sitepolicynotagreed", "usernotfullysetup", "nopermissiontoviewgrades", "notingroup":
		return ErrAccessDenied
	case "invalidparameter":
		return ErrInvalidParameter
	case "accessexception":
		// webservice_access_exception also covers an expired or IP-restricted token; only debuginfo (debugging
		// on) tells them apart, and without it the missing function is by far the commonest cause.
		if strings.Contains(e.DebugInfo, "token expired") {
			return ErrInvalidToken
		}
		return ErrFunctionNotInService
	case "invalidrecord":
		// An unknown wsfunction is a failed lookup in external_functions (044). The table name is a parameter
		// of the message, so it survives translation.
		if strings.Contains(e.Message, "external_functions") {
			return ErrFunctionNotInService
		}
		return ErrNotFound
	case "invalidcoursemodule", "invalidcourseid", "invaliduser", "invaliduserid", "invalidrecordunknown":
		return ErrNotFound
	case "nocriteriaset":
		return ErrNoCompletionCriteria
	}
	return nil
}

// Error reads as something a site administrator can act on: what failed, Moodle's words, and what to check.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s (errorcode %s)", e.Function, e.Message, e.ErrorCode)
	if hint := e.hint(); hint != "" {
		b.WriteString(": ")
		b.WriteString(hint)
	}
	return b.String()
}

// Is lets errors.Is(err, ErrAccessDenied) and friends see through the exception.
func (e *Error) Is(target error) bool {
	return e.kind != nil && e.kind == target
}

// capabilitiesFor names, per function, the capabilities of the capture site's web service role that the function
// relies on (fixtures README, "Web services"). Moodle's access-denied message names only the translated
// capability, so this tells an administrator where to look.
var capabilitiesFor = map[string]string{
	fnSiteInfo:       "none beyond webservice/rest:use",
	fnCoursesByField: "moodle/course:view, moodle/course:viewhiddencourses",
	fnEnrolledUsers: "moodle/course:viewparticipants, moodle/user:viewdetails, moodle/course:useremail, " +
		"moodle/site:accessallgroups, and moodle/role:review to filter by capability",
	fnGradeItems:                 "gradereport/user:view, moodle/grade:viewall, and mod/lti:view to see LTI grade items",
	fnUpdateGrades:               "moodle/grade:edit, moodle/grade:manage",
	fnCourseCompletionStatus:     "report/completion:view",
	fnActivitiesCompletionStatus: "report/progress:view",
	fnCreateCalendarEvents:       "moodle/calendar:manageentries (course and site events), moodle/calendar:managegroupentries, moodle/calendar:manageownentries",
	fnDeleteCalendarEvents:       "moodle/calendar:manageentries, moodle/calendar:managegroupentries, moodle/calendar:manageownentries",
	fnSendInstantMessages:        "moodle/site:sendmessage, and moodle/site:messageanyuser to message users who share no course with the web service user",
	fnLTIsByCourses:              "mod/lti:view",
}

func (e *Error) hint() string {
	switch e.kind {
	case ErrInvalidToken:
		return "check the web service token saved in Huddle for this site; it may have been deleted, regenerated or " +
			"expired, or its user suspended (Site administration > Server > Web services > Manage tokens)"
	case ErrAccessDenied:
		hint := "give the web service user's role the missing capability (Site administration > Users > Permissions > Define roles)"
		if caps, ok := capabilitiesFor[e.Function]; ok {
			hint += " (" + e.Function + " needs " + caps + ")"
		}
		return hint
	case ErrFunctionNotInService:
		if e.ErrorCode == "invalidrecord" {
			return "this Moodle does not know " + e.Function + "; check the site's Moodle version"
		}
		return "add " + e.Function + " to the external service of Huddle's token (Site administration > Server > " +
			"Web services > External services > Functions), and check the token has not expired or been restricted to other IP addresses"
	case ErrInvalidParameter:
		return "Moodle rejected a parameter of this call; this is a Huddle bug or an id that no longer exists, report it with the function name"
	case ErrNotFound:
		if e.ErrorCode == "invalidcoursemodule" {
			return "the course module does not exist; use the activity's course module id (the id in mod/lti/view.php?id=N), not the LTI instance id"
		}
		return "a course, user or activity Huddle refers to no longer exists in Moodle"
	case ErrNoCompletionCriteria:
		return "set completion criteria in the course (Course completion settings) before Huddle can read course completion"
	}
	return ""
}
