package gradesync

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/moodle"
)

// MoodleClients hands out a platform's Moodle web services client; *moodle.Connections
// is one. It answers moodle.ErrNoConnection when none is saved.
type MoodleClients interface {
	ClientFor(ctx context.Context, platformID int64) (*moodle.Client, error)
}

// WSPusher delivers scores through Moodle's web services (core_grades_update_grades),
// the path for activities where Moodle did not grant the AGS score scope. In Moodle
// the LTI context id is the course id, the resource link id is the mod_lti instance id
// and the LTI sub is the user id, so a launch names everything but the course module,
// which is looked up once and kept in grade_sync_activities.moodle_cmid.
//
// Moodle writes a web service grade for anyone, teachers included, and drops feedback
// text; the caller records scores for learners only, and the comment is not sent.
type WSPusher struct {
	DB      *pgxpool.Pool
	Clients MoodleClients
}

// moodleActivity is where an activity lives in Moodle.
type moodleActivity struct {
	courseID       int64
	instanceID     int64
	courseModuleID int64 // 0 until looked up
}

const selectMoodleActivity = `
SELECT c.context_id, a.resource_link_id, g.moodle_cmid
FROM activities a
JOIN courses c ON c.id = a.course_id
LEFT JOIN grade_sync_activities g ON g.activity_id = a.id
WHERE a.id = $1`

// storeCourseModule keeps the course module id once looked up; a concurrent lookup
// found the same one.
const storeCourseModule = `
INSERT INTO grade_sync_activities (activity_id, moodle_cmid)
VALUES ($1, $2)
ON CONFLICT (activity_id) DO UPDATE SET moodle_cmid = EXCLUDED.moodle_cmid
WHERE grade_sync_activities.moodle_cmid IS NULL`

const forgetCourseModule = `
UPDATE grade_sync_activities SET moodle_cmid = NULL
WHERE activity_id = $1 AND moodle_cmid = $2`

func (p *WSPusher) activity(ctx context.Context, activityID int64) (moodleActivity, error) {
	var contextID, resourceLinkID string
	var cmid *int64
	err := p.DB.QueryRow(ctx, selectMoodleActivity, activityID).Scan(&contextID, &resourceLinkID, &cmid)
	if errors.Is(err, pgx.ErrNoRows) {
		return moodleActivity{}, &RejectedError{Err: err, Reason: "This activity no longer exists in Huddle."}
	}
	if err != nil {
		return moodleActivity{}, fmt.Errorf("gradesync: moodle activity %d: %w", activityID, err)
	}
	var a moodleActivity
	if a.courseID, err = moodleID(contextID); err != nil {
		return a, &RejectedError{Err: err, Reason: "This course's LTI context id is not a Moodle course id, " +
			"so Huddle cannot send its grades through Moodle web services."}
	}
	if a.instanceID, err = moodleID(resourceLinkID); err != nil {
		return a, &RejectedError{Err: err, Reason: "This activity's LTI resource link id is not a Moodle activity id, " +
			"so Huddle cannot send its grades through Moodle web services."}
	}
	if cmid != nil {
		a.courseModuleID = *cmid
	}
	return a, nil
}

// moodleID parses an id Moodle sent as an LTI claim: a positive integer in a string.
func moodleID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("gradesync: %q is not a Moodle id", s)
	}
	return id, nil
}

// Push implements Pusher. It returns no line item URL: web services have none.
func (p *WSPusher) Push(ctx context.Context, d Delivery) (string, error) {
	userID, err := moodleID(d.UserSubject)
	if err != nil {
		return "", &RejectedError{Err: err, Reason: "This person's LTI user id is not a Moodle user id, " +
			"so Huddle cannot send their grade through Moodle web services."}
	}
	a, err := p.activity(ctx, d.ActivityID)
	if err != nil {
		return "", err
	}
	client, err := p.Clients.ClientFor(ctx, d.Platform.ID)
	if err != nil {
		return "", wsError(err)
	}
	if a.courseModuleID == 0 {
		if a.courseModuleID, err = p.lookUpCourseModule(ctx, client, d.ActivityID, a); err != nil {
			return "", err
		}
	}

	// Moodle keeps the raw grade on the item's own scale, which a teacher may change at
	// any time, so the maximum is read for every push rather than remembered.
	gradebook, err := client.GradeItems(ctx, a.courseID, userID)
	if err != nil {
		return "", wsError(err)
	}
	item, ok := gradebook.ActivityItem(a.courseModuleID)
	if !ok {
		// ws/017: LTI grade items are hidden from a web service user without mod/lti:view.
		return "", errors.New("Moodle did not show Huddle this activity's gradebook column. Ask the Moodle administrator " +
			"to give the web service user's role mod/lti:view, and check the activity still has a grade in Moodle.")
	}
	if !(item.GradeMax > 0) {
		return "", &RejectedError{Reason: "This activity's grade in Moodle has no maximum, so Huddle's score cannot be " +
			"put on its scale. Give the activity a point grade in Moodle."}
	}

	grade := []moodle.StudentGrade{{StudentID: userID, Grade: rescale(d.Score, item.GradeMax)}}
	if err := client.UpdateGrades(ctx, a.courseID, a.courseModuleID, grade); err != nil {
		if errors.Is(err, moodle.ErrNotFound) {
			// The course module may have been deleted (or the stored id is stale): forget
			// it, so a later score looks it up again instead of failing the same way.
			if _, uerr := p.DB.Exec(ctx, forgetCourseModule, d.ActivityID, a.courseModuleID); uerr != nil {
				return "", fmt.Errorf("gradesync: forget course module: %w", uerr)
			}
		}
		return "", wsError(err)
	}
	return "", nil
}

// lookUpCourseModule finds the course module id core_grades_update_grades needs and
// stores it, so it is asked for once per activity.
func (p *WSPusher) lookUpCourseModule(ctx context.Context, client *moodle.Client, activityID int64, a moodleActivity) (int64, error) {
	cmid, err := client.CourseModuleOfLTI(ctx, a.courseID, a.instanceID)
	if errors.Is(err, moodle.ErrNotFound) {
		// ws/007: Moodle lists nothing, without an error, to a user lacking mod/lti:view.
		return 0, fmt.Errorf("Moodle did not list this activity to Huddle's web service user. Ask the Moodle administrator "+
			"to give its role mod/lti:view; if the activity was deleted from Moodle, its grades cannot be sent: %w", err)
	}
	if err != nil {
		return 0, wsError(err)
	}
	if _, err := p.DB.Exec(ctx, storeCourseModule, activityID, cmid); err != nil {
		return 0, fmt.Errorf("gradesync: store course module: %w", err)
	}
	return cmid, nil
}

// rescale puts a score on a grade item's scale (0 to grademax), as Moodle's own AGS
// service does, rounded to the five decimals Moodle stores. Moodle caps a grade above
// grademax in the final grade (ws/020, 021), so extra credit is sent as it is.
func rescale(s Score, gradeMax float64) float64 {
	return math.Round(s.Given*gradeMax/s.Maximum*1e5) / 1e5
}

// wsError turns a web services failure into what the sync worker needs: a refusal
// retrying cannot fix, or an error retried with backoff. The ones a Moodle or Huddle
// administrator can fix within the day say what to fix first, for the educator's page.
func wsError(err error) error {
	switch {
	case errors.Is(err, moodle.ErrNoConnection):
		return fmt.Errorf("Moodle has not allowed Huddle to send grades through LTI for this activity, and no Moodle web "+
			"services connection is saved. Ask the Moodle administrator to switch on \"IMS LTI Assignment and Grade Services\" "+
			"for Huddle, or the Huddle administrator to save a web services token: %w", err)
	case errors.Is(err, moodle.ErrInvalidToken):
		return fmt.Errorf("Moodle refused Huddle's web service token. Ask the Moodle administrator for a new token "+
			"(Site administration > Server > Web services > Manage tokens) and save it in Huddle: %w", err)
	case errors.Is(err, moodle.ErrAccessDenied):
		return fmt.Errorf("Moodle's web service user lacks a permission Huddle needs to write grades. Ask the Moodle administrator "+
			"to give its role moodle/grade:edit, moodle/grade:manage, moodle/grade:viewall, gradereport/user:view and mod/lti:view: %w", err)
	case errors.Is(err, moodle.ErrFunctionNotInService):
		return fmt.Errorf("Huddle's external service in Moodle lacks a function it needs. Ask the Moodle administrator to add "+
			"core_grades_update_grades, gradereport_user_get_grade_items and mod_lti_get_ltis_by_courses to it: %w", err)
	case errors.Is(err, moodle.ErrInvalidParameter):
		return &RejectedError{Err: err, Reason: "Moodle rejected the grade Huddle sent as invalid. Please report this to Huddle's support."}
	case errors.Is(err, moodle.ErrNotFound):
		return &RejectedError{Err: err, Reason: "Moodle does not know this person or this activity any more: " +
			"they may have been removed from the course, or the activity deleted."}
	case errors.Is(err, moodle.ErrGradeNotSaved):
		return fmt.Errorf("Moodle did not save the grade; if the activity's grade is locked in the gradebook, unlock it: %w", err)
	}
	// Unreachable or answering 5xx (moodle.ErrUnavailable), or an answer Huddle did not understand: retried.
	return fmt.Errorf("gradesync: moodle web services: %w", err)
}

// FallbackPusher sends a score through AGS when Moodle granted the score scope for the
// activity, and through web services otherwise.
type FallbackPusher struct {
	AGS Pusher
	WS  Pusher // nil when no site uses web services: AGS then explains what is missing
}

// Push implements Pusher: AGS where Moodle grants it, unless the educator chose web
// services for the activity.
func (p *FallbackPusher) Push(ctx context.Context, d Delivery) (string, error) {
	if (slices.Contains(d.Scopes, lti.ScopeScore) && d.GradePath != PathMoodleWS) || p.WS == nil {
		return p.AGS.Push(ctx, d)
	}
	return p.WS.Push(ctx, d)
}
