package moodle

import (
	"context"
	"fmt"
)

// LTI is an External tool activity as mod_lti_get_ltis_by_courses returns it. Its secrets (password,
// resourcekey, servicesalt) are returned to privileged users too, and are deliberately not decoded.
type LTI struct {
	ID             int64  `json:"id"` // the mod_lti instance id
	CourseModuleID int64  `json:"coursemodule"`
	CourseID       int64  `json:"course"`
	Name           string `json:"name"`
	Section        int64  `json:"section"`
	Visible        Flag   `json:"visible"`
	// TypeID and ToolURL are only sent when the web service user has moodle/course:manageactivities.
	TypeID  int64  `json:"typeid"`
	ToolURL string `json:"toolurl"`
}

// LTIsByCourses lists the External tool activities of the given courses that the web service user can see.
// Moodle leaves out activities silently when the user lacks mod/lti:view (ws/007 is such an empty answer).
func (c *Client) LTIsByCourses(ctx context.Context, courseIDs ...int64) ([]LTI, error) {
	// No course ids means "every course the user can see" to Moodle: far too much on a trust's site.
	if len(courseIDs) == 0 {
		return nil, fmt.Errorf("moodle: ltis by courses: %w: no course ids", ErrInvalidParameter)
	}
	var resp struct {
		LTIs []LTI `json:"ltis"`
	}
	if err := c.call(ctx, fnLTIsByCourses, map[string]any{"courseids": courseIDs}, true, &resp); err != nil {
		return nil, fmt.Errorf("moodle: ltis by courses %v: %w", courseIDs, err)
	}
	return resp.LTIs, nil
}

// CourseModuleOfLTI returns the course module id of an LTI instance: the id core_grades_update_grades needs
// as activityid, which the LTI launch does not carry (it sends the resource link id, equal to the instance id).
func (c *Client) CourseModuleOfLTI(ctx context.Context, courseID, instanceID int64) (int64, error) {
	ltis, err := c.LTIsByCourses(ctx, courseID)
	if err != nil {
		return 0, err
	}
	for _, l := range ltis {
		if l.ID == instanceID && l.CourseID == courseID {
			return l.CourseModuleID, nil
		}
	}
	return 0, fmt.Errorf("moodle: course module of lti %d in course %d: %w: Moodle did not list it; if the activity "+
		"exists, give the web service user's role mod/lti:view", instanceID, courseID, ErrNotFound)
}
