package programme

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/gradesync"
)

// Attendance as a grade (issue 16): when an educator turns it on, each learner's
// attendance goes to the programme activity's own gradebook column through grade sync,
// as a percentage: sessions attended out of sessions held so far.
//
// A session counts as held once anyone's attendance has been recorded at it (a register
// saved with someone present, or a check-in), and never when it was cancelled. A
// session nobody has been recorded at counts for no one: a register not taken yet (or a
// session still to come) never lowers anyone's grade, and grades change only when
// attendance does, never because time passed, so no clock-driven rescoring is needed.
// For the same reason adding a session changes no grade until attendance is recorded
// at it.
//
// Any change to a programme's attendance can change every learner's grade (the first
// check-in at a session makes it held for everyone), so a change queues one rescore of
// the whole programme; the rescore sends only the scores that changed.

// AttendanceMaximum is the score an attendance grade is out of: a percentage.
const AttendanceMaximum = 100

// Grader records scores in the caller's transaction (gradesync).
type Grader interface {
	Record(ctx context.Context, tx pgx.Tx, sc gradesync.Score) error
}

// AttendanceFollower is told, in the transaction that changed it, whose attendance at
// a programme changed (nil: anyone's, as when a session is cancelled); certificates
// that require attendance queue their checks with it.
type AttendanceFollower func(ctx context.Context, tx pgx.Tx, programmeID int64, userIDs []int64) error

// AttendanceGrade reports whether the programme sends attendance to Moodle's gradebook.
func (s *Service) AttendanceGrade(ctx context.Context, activityID int64) (bool, error) {
	var on bool
	err := s.db.QueryRow(ctx, `SELECT attendance_grade FROM programme_settings WHERE activity_id = $1`, activityID).Scan(&on)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("programme: attendance grade of %d: %w", activityID, err)
	}
	return on, nil
}

// SetAttendanceGrade turns the attendance grade on or off. Turning it on sends every
// learner's attendance afresh; turning it off sends nothing more (grades already in
// Moodle stay there, as Moodle keeps them).
func (s *Service) SetAttendanceGrade(ctx context.Context, a course.Activity, on bool) error {
	if a.Kind != KindProgramme {
		return ErrNotFound
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO programme_settings (activity_id, attendance_grade) VALUES ($1, $2)
ON CONFLICT (activity_id) DO UPDATE SET attendance_grade = $2`, a.ID, on); err != nil {
			return err
		}
		if !on {
			return nil
		}
		// Forget what was sent, so the rescore sends everyone's score again: Moodle's
		// column may have been reset while the grade was off.
		if _, err := tx.Exec(ctx, `DELETE FROM programme_attendance_scores WHERE activity_id = $1`, a.ID); err != nil {
			return err
		}
		return s.rescoreLater(ctx, tx, a.ID)
	})
	if err != nil {
		return fmt.Errorf("programme: set attendance grade of %d: %w", a.ID, err)
	}
	return nil
}

// attendanceChanged is called in every transaction that changes a programme's
// attendance: users' attendance changed (nil: anyone's). It queues the programme's
// rescore when the grade is on, and tells the follower (certificates).
func (s *Service) attendanceChanged(ctx context.Context, tx pgx.Tx, activityID int64, users []int64) error {
	if err := s.rescoreLater(ctx, tx, activityID); err != nil {
		return err
	}
	if s.follower != nil {
		return s.follower(ctx, tx, activityID, users)
	}
	return nil
}

// rescoreLater counts a change and queues a rescore, when the grade is on. The UPDATE
// takes the settings row's lock, which the rescore's last step takes too (see
// RescoreAttendance).
func (s *Service) rescoreLater(ctx context.Context, tx pgx.Tx, activityID int64) error {
	var on bool
	err := tx.QueryRow(ctx, `UPDATE programme_settings SET attendance_changes = attendance_changes + 1
WHERE activity_id = $1 AND attendance_grade RETURNING true`, activityID).Scan(&on)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil // off (or never set): nothing is sent
	case err != nil:
		return err
	case s.queue == nil:
		return nil
	}
	_, err = s.queue.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: AttendanceGradeArgs{ActivityID: activityID}}})
	return err
}

// AttendanceGradeArgs asks for a programme's attendance grades to be worked out again
// and the changed ones sent.
type AttendanceGradeArgs struct {
	ActivityID int64 `json:"activity_id"`
}

// Kind names the job.
func (AttendanceGradeArgs) Kind() string { return "programme_attendance_grade" }

// InsertOpts keeps one waiting rescore per programme, however many learners check in
// at once. River's uniqueness must include running jobs, so a change made while a
// rescore runs adds no job: the running one sees it (RescoreAttendance).
func (AttendanceGradeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStatePending,
			rivertype.JobStateRetryable, rivertype.JobStateRunning}}}
}

// FinishJob ends the running job in the caller's transaction (river.JobCompleteTx);
// nil outside River.
type FinishJob func(ctx context.Context, tx pgx.Tx) error

// RescoreAttendance works out every learner's attendance grade in the programme and
// records, through grade sync, those that changed since they were last sent. It ends
// (finish) only in a transaction holding the settings row's lock that finds no change
// counted since the scores it worked out: a change counted before that lock is
// rescored in another round, and one counted after it waits for the lock, by when this
// job is completed and the change's own job is not a duplicate.
func (s *Service) RescoreAttendance(ctx context.Context, activityID int64, finish FinishJob) error {
	for range 10 {
		var on bool
		var changes, scored int64
		done := false
		err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			err := tx.QueryRow(ctx, `SELECT attendance_grade, attendance_changes, attendance_scored FROM programme_settings
WHERE activity_id = $1 FOR UPDATE`, activityID).Scan(&on, &changes, &scored)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if !on || changes == scored {
				done = true
				if finish != nil {
					return finish(ctx, tx)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("programme: rescore attendance of %d: %w", activityID, err)
		}
		if done {
			return nil
		}
		if err := s.rescoreOnce(ctx, activityID, changes); err != nil {
			return fmt.Errorf("programme: rescore attendance of %d: %w", activityID, err)
		}
	}
	return fmt.Errorf("programme: rescore attendance of %d: attendance kept changing; trying again", activityID)
}

// attendanceTotals is every learner of the programme's course with the sessions they
// attended of those held, and what was last sent for them (-1 when nothing was).
const attendanceTotals = `
WITH held AS (
    SELECT s.id FROM programme_sessions s
    WHERE s.activity_id = $1 AND s.cancelled_at IS NULL
      AND EXISTS (SELECT 1 FROM programme_attendance at WHERE at.session_id = s.id)
)
SELECT u.id,
       (SELECT count(*) FROM programme_attendance at WHERE at.user_id = u.id AND at.session_id IN (SELECT id FROM held)),
       (SELECT count(*) FROM held),
       coalesce(ps.attended, -1), coalesce(ps.held, -1)
FROM activities a
JOIN memberships m ON m.course_id = a.course_id AND 'learner' = ANY (m.roles)
JOIN users u ON u.id = m.user_id
LEFT JOIN programme_attendance_scores ps ON ps.activity_id = a.id AND ps.user_id = u.id
WHERE a.id = $1
ORDER BY u.id`

// rescoreOnce records the changed scores, and that changes up to version are scored,
// in one transaction.
func (s *Service) rescoreOnce(ctx context.Context, activityID, version int64) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, attendanceTotals, activityID)
		if err != nil {
			return err
		}
		type total struct {
			user                   int64
			attended, held         int
			sentAttended, sentHeld int
		}
		totals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (total, error) {
			var t total
			err := r.Scan(&t.user, &t.attended, &t.held, &t.sentAttended, &t.sentHeld)
			return t, err
		})
		if err != nil {
			return err
		}
		for _, t := range totals {
			if t.attended == t.sentAttended && t.held == t.sentHeld {
				continue
			}
			if t.held == 0 && t.sentHeld < 0 {
				continue // nothing held, nothing sent: no grade yet
			}
			if s.grader != nil {
				err := s.grader.Record(ctx, tx, AttendanceScore(activityID, t.user, t.attended, t.held, s.now()))
				if err != nil && !errors.Is(err, gradesync.ErrNotLearner) {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO programme_attendance_scores (activity_id, user_id, attended, held)
VALUES ($1, $2, $3, $4) ON CONFLICT (activity_id, user_id) DO UPDATE SET attended = $3, held = $4`,
				activityID, t.user, t.attended, t.held); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE programme_settings SET attendance_scored = greatest(attendance_scored, $2)
WHERE activity_id = $1`, activityID, version)
		return err
	})
}

// AttendanceScore is a learner's attendance grade: the percentage of sessions held so
// far that they attended. With none held (every register emptied since a grade was
// sent) the grade is withdrawn: a score that is not FullyGraded leaves Moodle's
// gradebook cell empty (AGS 2.0, gradingProgress).
func AttendanceScore(activityID, userID int64, attended, held int, at time.Time) gradesync.Score {
	sc := gradesync.Score{ActivityID: activityID, UserID: userID, Maximum: AttendanceMaximum,
		ActivityProgress: gradesync.ActivityInProgress, GradingProgress: gradesync.GradingFully, At: at}
	if held == 0 {
		sc.GradingProgress = gradesync.GradingPending
		sc.Comment = "No attendance recorded yet."
		return sc
	}
	sc.Given = AttendanceMaximum * float64(attended) / float64(held)
	sc.Comment = fmt.Sprintf("Attended %d of %d sessions held so far (%s).", attended, held, Percent(attended, held))
	return sc
}

// Percent is attended out of held as people read it: a whole percentage, rounded half
// up ("67%" for 2 of 3), "0%" when nothing was held.
func Percent(attended, held int) string {
	if held <= 0 {
		return "0%"
	}
	return fmt.Sprintf("%d%%", int(math.Floor(100*float64(attended)/float64(held)+0.5)))
}

// AttendanceGradeWorker works rescore jobs.
type AttendanceGradeWorker struct {
	river.WorkerDefaults[AttendanceGradeArgs]
	Service *Service
}

// Work rescores the programme, completing the job in the transaction that finds
// nothing left to rescore.
func (w *AttendanceGradeWorker) Work(ctx context.Context, job *river.Job[AttendanceGradeArgs]) error {
	return w.Service.RescoreAttendance(ctx, job.Args.ActivityID, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
			return fmt.Errorf("complete job %d: %w", job.ID, err)
		}
		return nil
	})
}
