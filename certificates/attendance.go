package certificates

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Attendance requirements (issue 16): at least a number of sessions, or a percentage
// of the sessions, of a teaching programme in the same course. The percentage is of
// every session the programme has, those still to come included and cancelled ones
// left out, so a certificate for "75% of the programme" is not earned by coming to the
// first session; a cancellation can complete it.

// MaxAttendedSessions is the most sessions a requirement may ask for: a year of weekly
// series, several times over.
const MaxAttendedSessions = 500

func (s *Service) checkAttendanceRequirement(ctx context.Context, tx pgx.Tx, self, courseID int64, r Requirement) error {
	if r.Activity == self {
		return &InvalidError{Message: "a certificate cannot require its own completion: it could never be earned"}
	}
	switch {
	case r.Kind == AttendedSessions && (r.Count < 1 || r.Count > MaxAttendedSessions):
		return &InvalidError{Message: fmt.Sprintf("ask for between 1 and %d sessions attended", MaxAttendedSessions)}
	case r.Kind == AttendedPercent && (r.Count < 1 || r.Count > 100):
		return &InvalidError{Message: "ask for a percentage of sessions attended between 1 and 100"}
	}
	var kind *string
	err := tx.QueryRow(ctx, `SELECT kind FROM activities WHERE id = $1 AND course_id = $2`, r.Activity, courseID).Scan(&kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return &InvalidError{Message: "choose a teaching programme of this course for each attendance requirement"}
	}
	if err != nil {
		return err
	}
	if kind == nil || !slices.Contains(s.kinds.Programmes, *kind) {
		return &InvalidError{Message: "the chosen activity is not a teaching programme: " + r.Label()}
	}
	return nil
}

// attendanceCheck says whether the learner meets an attendance requirement, and if not
// why, with figures rounded for people.
func (s *Service) attendanceCheck(ctx context.Context, r Requirement, userID int64) (met bool, why string, err error) {
	if s.attendance == nil {
		return false, "Teaching programmes are not available.", nil
	}
	attended, sessions, err := s.attendance.AttendedOf(ctx, r.Activity, userID)
	if err != nil {
		return false, "", err
	}
	if r.Kind == AttendedSessions {
		return attended >= r.Count, fmt.Sprintf("%d of %d sessions attended so far.", attended, r.Count), nil
	}
	if sessions == 0 {
		return false, "The teaching programme has no sessions yet.", nil
	}
	// Whole numbers, so 3 of 4 meets 75% exactly, with no rounding on the way.
	met = attended*100 >= r.Count*sessions
	// Rounded down, so a learner short of the mark never reads "75% attended; 75%
	// needed".
	pct := int(math.Floor(100 * float64(attended) / float64(sessions)))
	return met, fmt.Sprintf("%d of the programme's %d sessions attended (%d%%); %d%% needed.",
		attended, sessions, pct, r.Count), nil
}

// selectAttendanceChecks is each learner without a live certificate of each
// certificate whose requirements include attendance at programme $1, limited to the
// learners in $2 unless it is NULL.
const selectAttendanceChecks = `
SELECT d.activity_id, m.user_id
FROM certificate_definitions d
JOIN activities a ON a.id = d.activity_id
JOIN memberships m ON m.course_id = a.course_id AND 'learner' = ANY (m.roles)
WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(d.requirements) r
              WHERE r->>'kind' IN ('attended_sessions', 'attended_percent') AND r->>'activity' = $1::bigint::text)
  AND ($2::bigint[] IS NULL OR m.user_id = ANY ($2))
  AND NOT EXISTS (SELECT 1 FROM certificates c
                  WHERE c.activity_id = d.activity_id AND c.user_id = m.user_id AND c.revoked_at IS NULL)
ORDER BY d.activity_id, m.user_id`

// FollowAttendance queues, in tx (the transaction that changed the attendance), a
// check of every certificate that requires attendance at the programme, for each
// learner in userIDs (nil: every learner of its course). Checks are unique per
// learner and certificate while waiting, and issuing is idempotent, so a learner who
// checks in twice is checked once and certified once. Moodle is asked about course
// completion only for learners who meet everything else.
func (s *Service) FollowAttendance(ctx context.Context, tx pgx.Tx, programmeID int64, userIDs []int64) error {
	if s.queue == nil {
		return nil
	}
	var users any
	if userIDs != nil {
		users = userIDs
	}
	rows, err := tx.Query(ctx, selectAttendanceChecks, programmeID, users)
	if err != nil {
		return fmt.Errorf("certificates: follow attendance at %d: %w", programmeID, err)
	}
	pairs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ A, U int64 }])
	if err != nil {
		return fmt.Errorf("certificates: follow attendance at %d: %w", programmeID, err)
	}
	if len(pairs) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(pairs))
	for i, p := range pairs {
		params[i] = river.InsertManyParams{Args: CheckArgs{ActivityID: p.A, UserID: p.U, Moodle: true}}
	}
	if _, err := s.queue.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("certificates: follow attendance at %d: %w", programmeID, err)
	}
	return nil
}
