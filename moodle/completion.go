package moodle

import (
	"context"
	"fmt"
)

// CourseCompletion is a user's progress against a course's completion criteria.
type CourseCompletion struct {
	Completed   bool                  `json:"completed"`
	Aggregation int                   `json:"aggregation"` // 1: all criteria needed, 2: any one
	Criteria    []CompletionCriterion `json:"completions"`
}

// CompletionCriterion is one criterion and whether the user meets it.
type CompletionCriterion struct {
	Type          int              `json:"type"` // COMPLETION_CRITERIA_TYPE_*; 4 is activity completion
	Title         string           `json:"title"`
	Status        string           `json:"status"` // translated, e.g. "Yes"
	Complete      bool             `json:"complete"`
	TimeCompleted UnixTime         `json:"timecompleted"`
	Details       CriterionDetails `json:"details"`
}

// CriterionDetails describes a criterion in the site's language; Criteria may hold an HTML link.
type CriterionDetails struct {
	Type        string `json:"type"`
	Criteria    string `json:"criteria"`
	Requirement string `json:"requirement"`
	Status      string `json:"status"`
}

// CourseCompletionStatus reads a user's course completion. A course without criteria answers
// ErrNoCompletionCriteria (ws/023), which is a course setting, not a failure.
func (c *Client) CourseCompletionStatus(ctx context.Context, courseID, userID int64) (CourseCompletion, error) {
	if courseID <= 0 || userID <= 0 {
		return CourseCompletion{}, fmt.Errorf("moodle: course completion of user %d in course %d: %w: ids must be positive",
			userID, courseID, ErrInvalidParameter)
	}
	var resp struct {
		Status CourseCompletion `json:"completionstatus"`
	}
	params := map[string]any{"courseid": courseID, "userid": userID}
	if err := c.call(ctx, fnCourseCompletionStatus, params, true, &resp); err != nil {
		return CourseCompletion{}, fmt.Errorf("moodle: course completion of user %d in course %d: %w", userID, courseID, err)
	}
	return resp.Status, nil
}

// CompletionState is Moodle's COMPLETION_* state of an activity for a user.
type CompletionState int

const (
	CompletionIncomplete   CompletionState = 0
	CompletionComplete     CompletionState = 1
	CompletionCompletePass CompletionState = 2
	CompletionCompleteFail CompletionState = 3
)

// ActivityCompletion is a user's completion of one activity.
type ActivityCompletion struct {
	CourseModuleID    int64            `json:"cmid"`
	ModName           string           `json:"modname"` // "lti" for External tool activities
	Instance          int64            `json:"instance"`
	State             CompletionState  `json:"state"`
	TimeCompleted     UnixTime         `json:"timecompleted"`
	Tracking          int              `json:"tracking"` // 0 none, 1 manual, 2 automatic
	OverrideBy        int64            `json:"overrideby"`
	HasCompletion     bool             `json:"hascompletion"`
	IsAutomatic       bool             `json:"isautomatic"`
	IsOverallComplete bool             `json:"isoverallcomplete"`
	Rules             []CompletionRule `json:"details"`
}

// CompletionRule is one automatic completion condition, e.g. "completionusegrade", and its state.
type CompletionRule struct {
	Name  string    `json:"rulename"`
	Value RuleValue `json:"rulevalue"`
}

// RuleValue is a completion condition's state and its description in the site's language.
type RuleValue struct {
	Status      CompletionState `json:"status"`
	Description string          `json:"description"`
}

// ActivitiesCompletionStatus reads a user's completion of every activity with completion in a course. The web
// service user needs report/progress:view, or Moodle answers nopermissions (ws/024).
func (c *Client) ActivitiesCompletionStatus(ctx context.Context, courseID, userID int64) ([]ActivityCompletion, error) {
	if courseID <= 0 || userID <= 0 {
		return nil, fmt.Errorf("moodle: activities completion of user %d in course %d: %w: ids must be positive",
			userID, courseID, ErrInvalidParameter)
	}
	var resp struct {
		Statuses []ActivityCompletion `json:"statuses"`
	}
	params := map[string]any{"courseid": courseID, "userid": userID}
	if err := c.call(ctx, fnActivitiesCompletionStatus, params, true, &resp); err != nil {
		return nil, fmt.Errorf("moodle: activities completion of user %d in course %d: %w", userID, courseID, err)
	}
	return resp.Statuses, nil
}
