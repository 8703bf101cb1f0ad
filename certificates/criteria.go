package certificates

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// A course with no completion criteria says so (issue 15). Moodle has no web service
// that lists a course's completion criteria; core_completion_get_course_completion_status
// answers nocriteriaset (ws/023) when there are none, but only for a learner it tracks in
// that course (it refuses a user who is not enrolled first). So Huddle keeps Moodle's
// last answer for each certificate activity, learned whenever Moodle is asked: when an
// educator saves settings with a course completion requirement (CheckCourseCriteria,
// asking about a learner of the course), at every check of a learner, and each night.
// The educator's page says there are none as soon as one of these has heard it.

const noCriteriaWhy = "The Moodle course has no completion criteria, so it can never be complete. " +
	"Set completion criteria in Moodle (Course completion), then save this certificate's settings again."

// CourseCriteria is what Moodle last said about the certificate's course: known is
// false until Moodle has been asked.
func (s *Service) CourseCriteria(ctx context.Context, activityID int64) (known, has bool, err error) {
	err = s.db.QueryRow(ctx, `SELECT has_criteria FROM certificate_course_criteria WHERE activity_id = $1`, activityID).Scan(&has)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("certificates: course criteria of %d: %w", activityID, err)
	}
	return true, has, nil
}

// rememberCriteria keeps what Moodle's answer to a completion question says about the
// course's criteria: none (ErrNoCompletionCriteria), some (an answer), or nothing (any
// other error). Remembering is best effort: a failure costs only a later question.
func (s *Service) rememberCriteria(ctx context.Context, activityID int64, answer error) {
	var has bool
	switch {
	case answer == nil:
		has = true
	case errors.Is(answer, ErrNoCompletionCriteria):
		has = false
	default:
		return
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO certificate_course_criteria (activity_id, has_criteria, checked_at) VALUES ($1, $2, $3)
ON CONFLICT (activity_id) DO UPDATE SET has_criteria = $2, checked_at = $3`, activityID, has, s.now()); err != nil {
		s.log.Warn("course criteria not remembered", "activity", activityID, "err", err)
	}
}

// criteriaAsks is how many learners CheckCourseCriteria asks about at most: Moodle
// answers about criteria only for a learner it tracks, and Huddle's roster may hold
// someone Moodle has since unenrolled.
const criteriaAsks = 3

// CheckCourseCriteria asks Moodle now whether the certificate's course has completion
// criteria, about a learner of the course, and keeps the answer. known is false when
// Moodle could not say: no connection, no learner Huddle knows of yet, or Moodle
// unavailable (the error says which; the answer is then learned at the next check).
func (s *Service) CheckCourseCriteria(ctx context.Context, activityID int64) (known, has bool, err error) {
	if s.completion == nil {
		return false, false, nil
	}
	rows, err := s.db.Query(ctx, `
SELECT c.platform_id, c.context_id, u.subject
FROM activities a
JOIN courses c ON c.id = a.course_id
JOIN memberships m ON m.course_id = a.course_id AND 'learner' = ANY (m.roles)
JOIN users u ON u.id = m.user_id
WHERE a.id = $1
ORDER BY m.user_id
LIMIT $2`, activityID, criteriaAsks)
	if err != nil {
		return false, false, fmt.Errorf("certificates: check course criteria of %d: %w", activityID, err)
	}
	type asked struct {
		Platform         int64
		Context, Subject string
	}
	learners, err := pgx.CollectRows(rows, pgx.RowToStructByPos[asked])
	if err != nil {
		return false, false, fmt.Errorf("certificates: check course criteria of %d: %w", activityID, err)
	}
	var last error
	for _, l := range learners {
		course, err1 := strconv.ParseInt(l.Context, 10, 64)
		user, err2 := strconv.ParseInt(l.Subject, 10, 64)
		if err1 != nil || err2 != nil {
			return false, false, nil // not a Moodle course, or not Moodle's user ids: nothing to ask
		}
		_, err := s.completion.Completed(ctx, l.Platform, course, user)
		s.rememberCriteria(ctx, activityID, err)
		switch {
		case err == nil:
			return true, true, nil
		case errors.Is(err, ErrNoCompletionCriteria):
			return true, false, nil
		case ctx.Err() != nil:
			return false, false, fmt.Errorf("certificates: check course criteria of %d: %w", activityID, err)
		}
		last = err
	}
	if last != nil {
		return false, false, fmt.Errorf("certificates: check course criteria of %d: %w", activityID, last)
	}
	return false, false, nil
}

// CheckAllCourseCriteria asks again for every certificate with a course completion
// requirement whose course Moodle last said had none, or was never asked about, so an
// educator who sets criteria in Moodle sees the note go by the next day. Failures are
// logged and skipped: the nightly sweep must not stop over one course.
func (s *Service) CheckAllCourseCriteria(ctx context.Context) error {
	rows, err := s.db.Query(ctx, `
SELECT d.activity_id FROM certificate_definitions d
LEFT JOIN certificate_course_criteria cc ON cc.activity_id = d.activity_id
WHERE d.requirements @> '[{"kind": "moodle_course_completion"}]' AND coalesce(cc.has_criteria, false) = false
ORDER BY d.activity_id`)
	if err != nil {
		return fmt.Errorf("certificates: courses to check for criteria: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("certificates: courses to check for criteria: %w", err)
	}
	for _, id := range ids {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if _, _, err := s.CheckCourseCriteria(actx, id); err != nil {
			s.log.Warn("course criteria not checked", "activity", id, "err", err)
		}
		cancel()
	}
	return nil
}
