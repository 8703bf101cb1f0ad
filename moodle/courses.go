package moodle

import (
	"context"
	"fmt"
)

// CourseField is a field core_course_get_courses_by_field can search on.
type CourseField string

const (
	CourseByID         CourseField = "id"
	CourseByIDs        CourseField = "ids" // comma-separated ids
	CourseByShortName  CourseField = "shortname"
	CourseByIDNumber   CourseField = "idnumber"
	CourseByCategoryID CourseField = "category"
)

// Course is a course as core_course_get_courses_by_field returns it.
type Course struct {
	ID               int64      `json:"id"`
	FullName         string     `json:"fullname"`
	DisplayName      string     `json:"displayname"`
	ShortName        string     `json:"shortname"`
	IDNumber         string     `json:"idnumber"` // only sent when the user may update the course
	CategoryID       int64      `json:"categoryid"`
	CategoryName     string     `json:"categoryname"`
	Summary          string     `json:"summary"`
	SummaryFormat    TextFormat `json:"summaryformat"`
	Format           string     `json:"format"` // course format plugin, e.g. "topics"
	StartDate        UnixTime   `json:"startdate"`
	EndDate          UnixTime   `json:"enddate"`
	Visible          Flag       `json:"visible"`
	EnableCompletion Flag       `json:"enablecompletion"`
}

// CoursesByField finds courses whose field equals value. No match is an empty slice, not an error.
func (c *Client) CoursesByField(ctx context.Context, field CourseField, value string) ([]Course, error) {
	switch field {
	case CourseByID, CourseByIDs, CourseByShortName, CourseByIDNumber, CourseByCategoryID:
	default:
		return nil, fmt.Errorf("moodle: courses by field: %w: unknown field %q", ErrInvalidParameter, field)
	}
	// With an empty value Moodle quietly answers no courses (ws/047), which would read as "course deleted".
	if value == "" {
		return nil, fmt.Errorf("moodle: courses by %s: %w: empty value", field, ErrInvalidParameter)
	}
	var resp struct {
		Courses []Course `json:"courses"`
	}
	params := map[string]any{"field": string(field), "value": value}
	if err := c.call(ctx, fnCoursesByField, params, true, &resp); err != nil {
		return nil, fmt.Errorf("moodle: courses by %s %q: %w", field, value, err)
	}
	return resp.Courses, nil
}

// EnrolledUser is a participant of a course as core_enrol_get_enrolled_users returns it.
type EnrolledUser struct {
	ID               int64    `json:"id"`
	Username         string   `json:"username"`
	FirstName        string   `json:"firstname"`
	LastName         string   `json:"lastname"`
	FullName         string   `json:"fullname"`
	Email            string   `json:"email"`
	IDNumber         string   `json:"idnumber"`
	Department       string   `json:"department"`
	FirstAccess      UnixTime `json:"firstaccess"`
	LastAccess       UnixTime `json:"lastaccess"`
	LastCourseAccess UnixTime `json:"lastcourseaccess"`
	Roles            []Role   `json:"roles"`
	Groups           []Group  `json:"groups"`
}

// Role is a role a user holds in the course.
type Role struct {
	ID        int64  `json:"roleid"`
	Name      string `json:"name"` // the site's custom name; often empty, then use ShortName
	ShortName string `json:"shortname"`
}

// Group is a course group a user belongs to.
type Group struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// EnrolledUsersOptions narrows core_enrol_get_enrolled_users. The zero value asks for everyone.
type EnrolledUsersOptions struct {
	// WithCapability keeps users holding it, e.g. "mod/assign:submit" for students. Moodle then also checks
	// moodle/role:review for the web service user (ws/005).
	WithCapability string
	GroupID        int64
	OnlyActive     bool // leave out suspended enrolments
	LimitFrom      int
	LimitNumber    int // 0 means no limit
}

func (o EnrolledUsersOptions) params() []map[string]any {
	var opts []map[string]any
	add := func(name string, value any) {
		opts = append(opts, map[string]any{"name": name, "value": value})
	}
	if o.WithCapability != "" {
		add("withcapability", o.WithCapability)
	}
	if o.GroupID != 0 {
		add("groupid", o.GroupID)
	}
	if o.OnlyActive {
		add("onlyactive", true)
	}
	if o.LimitFrom != 0 {
		add("limitfrom", o.LimitFrom)
	}
	if o.LimitNumber != 0 {
		add("limitnumber", o.LimitNumber)
	}
	return opts
}

// EnrolledUsers lists the participants of a course.
func (c *Client) EnrolledUsers(ctx context.Context, courseID int64, opts EnrolledUsersOptions) ([]EnrolledUser, error) {
	if courseID <= 0 {
		return nil, fmt.Errorf("moodle: enrolled users of course %d: %w: course id must be positive", courseID, ErrInvalidParameter)
	}
	var users []EnrolledUser
	params := map[string]any{"courseid": courseID, "options": opts.params()}
	if err := c.call(ctx, fnEnrolledUsers, params, true, &users); err != nil {
		return nil, fmt.Errorf("moodle: enrolled users of course %d: %w", courseID, err)
	}
	return users, nil
}
