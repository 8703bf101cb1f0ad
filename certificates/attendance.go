package certificates

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/jackc/pgx/v5"
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

// FollowAttendance queues, in tx (the transaction that changed the attendance), a
// check of every certificate that requires attendance at the programme, for each
// learner in userIDs (nil: every learner of its course; a cancelled session changes
// everyone's percentage). A learner who checks in twice is checked once and certified
// once (follow.go).
func (s *Service) FollowAttendance(ctx context.Context, tx pgx.Tx, programmeID int64, userIDs []int64) error {
	if err := s.follow(ctx, tx, programmeID, []RequirementKind{AttendedSessions, AttendedPercent}, userIDs); err != nil {
		return fmt.Errorf("certificates: follow attendance at %d: %w", programmeID, err)
	}
	return nil
}
