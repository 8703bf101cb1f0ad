// Package moodle is Huddle's client for a Moodle site's REST web services: site check, courses, enrolments,
// grades, completion, calendar events and messages. One Client serves one site, bounds its concurrency and
// retries only what is safe to retry; the token travels in POST bodies, never in URLs.
package moodle

import (
	"bytes"
	"errors"
	"time"
)

// UnixTime is a Moodle timestamp in seconds since the epoch; Moodle sends 0 or null for "never".
type UnixTime int64

// Time returns t in UTC, or the zero time when Moodle had none.
func (t UnixTime) Time() time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(int64(t), 0).UTC()
}

// Flag is a Moodle yes/no. Functions declare these as PARAM_INT (0/1) or PARAM_BOOL (true/false) seemingly at
// random (a course's "visible" is 1, its "showcompletionconditions" true), so both are accepted.
type Flag bool

// UnmarshalJSON accepts 0, 1, true, false, "0", "1" and null (false).
func (f *Flag) UnmarshalJSON(b []byte) error {
	switch string(bytes.Trim(b, `"`)) {
	case "1", "true":
		*f = true
	case "0", "false", "null", "":
		*f = false
	default:
		// The value itself is left out: this text can reach logs, and the body is outside input.
		return errors.New("moodle: not a yes/no value")
	}
	return nil
}

// TextFormat is Moodle's FORMAT_* constant for a piece of text.
type TextFormat int

const (
	FormatMoodle   TextFormat = 0 // Moodle's auto-format; the default when a format is omitted
	FormatHTML     TextFormat = 1
	FormatPlain    TextFormat = 2
	FormatMarkdown TextFormat = 4
)

// Web service functions this package calls; SiteInfo.MissingFunctions checks a token's service against them.
const (
	fnSiteInfo                   = "core_webservice_get_site_info"
	fnCoursesByField             = "core_course_get_courses_by_field"
	fnEnrolledUsers              = "core_enrol_get_enrolled_users"
	fnGradeItems                 = "gradereport_user_get_grade_items"
	fnUpdateGrades               = "core_grades_update_grades"
	fnCourseCompletionStatus     = "core_completion_get_course_completion_status"
	fnActivitiesCompletionStatus = "core_completion_get_activities_completion_status"
	fnCreateCalendarEvents       = "core_calendar_create_calendar_events"
	fnDeleteCalendarEvents       = "core_calendar_delete_calendar_events"
	fnSendInstantMessages        = "core_message_send_instant_messages"
	fnLTIsByCourses              = "mod_lti_get_ltis_by_courses"
)

var functionsUsed = []string{
	fnSiteInfo, fnCoursesByField, fnEnrolledUsers, fnGradeItems, fnUpdateGrades, fnCourseCompletionStatus,
	fnActivitiesCompletionStatus, fnCreateCalendarEvents, fnDeleteCalendarEvents, fnSendInstantMessages,
	fnLTIsByCourses, fnGetCalendarEvents,
}
