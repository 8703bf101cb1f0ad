package moodle

import (
	"context"
	"fmt"
	"math"
)

// GradeItem is one gradebook column with one user's grade in it, as gradereport_user_get_grade_items returns it.
type GradeItem struct {
	ID             int64  `json:"id"`
	Name           string `json:"itemname"`
	Type           string `json:"itemtype"`   // "mod", "manual", "category" or "course"
	Module         string `json:"itemmodule"` // "lti" for External tool activities
	Instance       int64  `json:"iteminstance"`
	Number         int64  `json:"itemnumber"`
	IDNumber       string `json:"idnumber"`
	CourseModuleID int64  `json:"cmid"` // only for activity items
	Locked         bool   `json:"locked"`

	GradeRaw          *float64   `json:"graderaw"` // nil when the user has no grade
	GradeFormatted    string     `json:"gradeformatted"`
	GradeMin          float64    `json:"grademin"`
	GradeMax          float64    `json:"grademax"`
	DateGraded        UnixTime   `json:"gradedategraded"`
	GradeIsHidden     bool       `json:"gradeishidden"`
	GradeIsLocked     bool       `json:"gradeislocked"`
	GradeIsOverridden bool       `json:"gradeisoverridden"`
	Feedback          string     `json:"feedback"`
	FeedbackFormat    TextFormat `json:"feedbackformat"`
}

// UserGrades is one user's gradebook in one course.
type UserGrades struct {
	CourseID     int64       `json:"courseid"`
	UserID       int64       `json:"userid"`
	UserFullName string      `json:"userfullname"`
	UserIDNumber string      `json:"useridnumber"`
	Items        []GradeItem `json:"gradeitems"`
}

// ActivityItem returns the grade item Huddle writes for an activity: the one of its course module with item
// number 0. It is missing when the web service user lacks mod/lti:view, which hides LTI items (ws/017 vs 019).
func (g UserGrades) ActivityItem(courseModuleID int64) (GradeItem, bool) {
	for _, item := range g.Items {
		if item.Type == "mod" && item.CourseModuleID == courseModuleID && item.Number == 0 {
			return item, true
		}
	}
	return GradeItem{}, false
}

// GradeItems reads one user's gradebook in a course.
func (c *Client) GradeItems(ctx context.Context, courseID, userID int64) (UserGrades, error) {
	// Moodle reads userid 0 as "every user", a different and much larger call.
	if courseID <= 0 || userID <= 0 {
		return UserGrades{}, fmt.Errorf("moodle: grade items of user %d in course %d: %w: ids must be positive",
			userID, courseID, ErrInvalidParameter)
	}
	var resp struct {
		UserGrades []UserGrades `json:"usergrades"`
	}
	params := map[string]any{"courseid": courseID, "userid": userID}
	if err := c.call(ctx, fnGradeItems, params, true, &resp); err != nil {
		return UserGrades{}, fmt.Errorf("moodle: grade items of user %d in course %d: %w", userID, courseID, err)
	}
	for _, g := range resp.UserGrades {
		if g.UserID == userID {
			return g, nil
		}
	}
	return UserGrades{}, fmt.Errorf("moodle: grade items of user %d in course %d: %w: no gradebook for this user",
		userID, courseID, ErrNotFound)
}

// StudentGrade is a raw grade for one user, in the grade item's own range (0 to its grademax).
type StudentGrade struct {
	StudentID int64
	Grade     float64
}

// Status codes of grade_update() (lib/gradelib.php), returned by core_grades_update_grades.
const (
	gradeUpdateOK          = 0
	gradeUpdateFailed      = 1
	gradeUpdateMultiFailed = 2
	gradeUpdateItemLocked  = 3
)

// UpdateGrades writes raw grades into an LTI activity's grade item.
//
// activityid is the course module id (not the LTI instance id, which Moodle answers with invalidcoursemodule,
// ws/010) and the item number is always 0: Moodle accepts itemnumber 1 and silently creates a second grade item
// that then becomes a second line item and removes "lineitem" from later launches (ws/014), so callers cannot
// choose it. Feedback is not offered because Moodle accepts str_feedback and discards it. Moodle caps grades
// above the item's maximum in the final grade (ws/020, 021).
func (c *Client) UpdateGrades(ctx context.Context, courseID, courseModuleID int64, grades []StudentGrade) error {
	if err := validateGrades(courseID, courseModuleID, grades); err != nil {
		return fmt.Errorf("moodle: update grades for course module %d: %w", courseModuleID, err)
	}
	entries := make([]map[string]any, len(grades))
	for i, g := range grades {
		entries[i] = map[string]any{"studentid": g.StudentID, "grade": g.Grade}
	}
	params := map[string]any{
		"source":     "mod_lti",
		"component":  "mod_lti",
		"courseid":   courseID,
		"activityid": courseModuleID,
		"itemnumber": 0,
		"grades":     entries,
	}
	var status int
	if err := c.call(ctx, fnUpdateGrades, params, true, &status); err != nil {
		return fmt.Errorf("moodle: update grades for course module %d: %w", courseModuleID, err)
	}
	switch status {
	case gradeUpdateOK:
		return nil
	case gradeUpdateItemLocked:
		return fmt.Errorf("moodle: update grades for course module %d: %w: the grade item is locked in the gradebook",
			courseModuleID, ErrGradeNotSaved)
	case gradeUpdateFailed, gradeUpdateMultiFailed:
		return fmt.Errorf("moodle: update grades for course module %d: %w: Moodle reported the update failed (status %d)",
			courseModuleID, ErrGradeNotSaved, status)
	}
	return fmt.Errorf("moodle: update grades for course module %d: %w: unknown status %d",
		courseModuleID, ErrGradeNotSaved, status)
}

func validateGrades(courseID, courseModuleID int64, grades []StudentGrade) error {
	if courseID <= 0 || courseModuleID <= 0 {
		return fmt.Errorf("%w: course %d and course module %d must be positive", ErrInvalidParameter, courseID, courseModuleID)
	}
	if len(grades) == 0 {
		return fmt.Errorf("%w: no grades", ErrInvalidParameter)
	}
	for _, g := range grades {
		if g.StudentID <= 0 {
			return fmt.Errorf("%w: student id %d must be positive", ErrInvalidParameter, g.StudentID)
		}
		// An empty grade is rejected by Moodle (ws/016); NaN or infinity would be one after encoding.
		if math.IsNaN(g.Grade) || math.IsInf(g.Grade, 0) {
			return fmt.Errorf("%w: grade for student %d is not a number", ErrInvalidParameter, g.StudentID)
		}
	}
	return nil
}
