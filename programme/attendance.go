package programme

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/huddle-lti/huddle/course"
)

// Check-in errors a learner is told about.
var (
	// ErrWrongCode means no session of this programme has that code.
	ErrWrongCode = errors.New("programme: wrong check-in code")
	// ErrCheckInClosed means the code is right but its session has not started, has
	// ended (past its grace) or was cancelled.
	ErrCheckInClosed = errors.New("programme: check-in closed")
)

// codeAlphabet leaves out characters people misread on a projector (0 and O, 1, I and
// L, 2 and Z, 5 and S, 6 and G, 8 and B).
const (
	codeAlphabet = "ACDEFHJKMNPQRTUVWXY3479"
	codeLength   = 6
	// MaxGrace is the longest an educator may keep check-in open after the end.
	MaxGrace = 4 * time.Hour
)

func newCode() string {
	var b strings.Builder
	for range codeLength {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(codeAlphabet)))) // does not fail
		b.WriteByte(codeAlphabet[n.Int64()])
	}
	return b.String()
}

// normaliseCode accepts what people type: any case, with spaces or dashes.
func normaliseCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(code)))
}

// StartCheckIn gives a session a new check-in code (the old one stops working), open
// from the session's start until grace after its end.
func (s *Service) StartCheckIn(ctx context.Context, a course.Activity, sessionID int64, grace time.Duration) (string, error) {
	if grace < 0 || grace > MaxGrace || grace%time.Minute != 0 {
		return "", invalid("grace", "Keep check-in open for 0 to 240 minutes after the end.")
	}
	for range 5 {
		code := newCode()
		tag, err := s.db.Exec(ctx, `UPDATE programme_sessions SET checkin_code = $3, checkin_grace_minutes = $4
WHERE id = $1 AND activity_id = $2 AND cancelled_at IS NULL`, sessionID, a.ID, code, int(grace/time.Minute))
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			continue // the same code for another session of this programme: draw again
		}
		if err != nil {
			return "", fmt.Errorf("programme: start check-in for %d: %w", sessionID, err)
		}
		if tag.RowsAffected() == 0 {
			return "", s.whyNot(ctx, a.ID, sessionID)
		}
		return code, nil
	}
	return "", fmt.Errorf("programme: start check-in for %d: no free code", sessionID)
}

// CheckIn records userID at the session of programme a whose code they typed, while
// it is open. Checking in twice is the same as once. The caller limits how often a
// person may try (a code is six characters of 23).
func (s *Service) CheckIn(ctx context.Context, a course.Activity, userID int64, code string) (Session, error) {
	code = normaliseCode(code)
	if len(code) != codeLength {
		return Session{}, ErrWrongCode
	}
	ses, err := scanSession(s.db.QueryRow(ctx, `SELECT `+sessionColumns+` FROM programme_sessions
WHERE activity_id = $1 AND checkin_code = $2`, a.ID, code))
	if errors.Is(err, pgx.ErrNoRows) {
		return ses, ErrWrongCode
	}
	if err != nil {
		return ses, fmt.Errorf("programme: check in: %w", err)
	}
	now := s.now()
	if ses.Cancelled() || now.Before(ses.Start) || now.After(ses.End.Add(ses.CheckInGrace)) {
		return ses, ErrCheckInClosed
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO programme_attendance (session_id, user_id, how, marked_at) VALUES ($1, $2, 'code', $3)
ON CONFLICT (session_id, user_id) DO NOTHING`, ses.ID, userID, now)
		if err != nil || tag.RowsAffected() == 0 {
			return err // a second check-in changes nothing
		}
		return s.attendanceChanged(ctx, tx, a.ID, []int64{userID})
	})
	if err != nil {
		return ses, fmt.Errorf("programme: check in %d: %w", ses.ID, err)
	}
	return ses, nil
}

// Attendee is one learner of the course on a session's register.
type Attendee struct {
	UserID  int64
	Name    string
	Present bool
	How     string // "educator" or "code" when present
}

// learners is the course's learners, from the roster Huddle keeps (launches and NRPS).
const learners = `SELECT u.id, u.name FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.course_id = $1 AND 'learner' = ANY (m.roles)`

// Register is a session's register: every learner of the course, present or not.
func (s *Service) Register(ctx context.Context, a course.Activity, sessionID int64) ([]Attendee, error) {
	if _, err := s.Session(ctx, a.ID, sessionID); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT l.id, l.name, at.user_id IS NOT NULL, coalesce(at.how, '')
FROM (`+learners+`) l LEFT JOIN programme_attendance at ON at.user_id = l.id AND at.session_id = $2
ORDER BY l.name, l.id`, a.CourseID, sessionID)
	if err != nil {
		return nil, fmt.Errorf("programme: register of %d: %w", sessionID, err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Attendee])
	if err != nil {
		return nil, fmt.Errorf("programme: register of %d: %w", sessionID, err)
	}
	return list, nil
}

// MarkAttendance sets a session's register: the learners in present attended, every
// other learner did not (an educator's unticking overrules a check-in). Ids that are
// not learners of the course are ignored.
func (s *Service) MarkAttendance(ctx context.Context, a course.Activity, sessionID int64, present []int64) error {
	ses, err := s.Session(ctx, a.ID, sessionID)
	if err != nil {
		return err
	}
	if ses.Cancelled() {
		return ErrCancelled
	}
	if present == nil {
		present = []int64{} // nil is NULL to PostgreSQL, and NOT (x = ANY (NULL)) deletes nothing
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM programme_attendance WHERE session_id = $1 AND NOT (user_id = ANY ($2))
RETURNING user_id`, sessionID, present)
		if err != nil {
			return err
		}
		unmarked, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `INSERT INTO programme_attendance (session_id, user_id, how, marked_at)
SELECT $2, l.id, 'educator', $4 FROM (`+learners+`) l WHERE l.id = ANY ($3)
ON CONFLICT (session_id, user_id) DO NOTHING RETURNING user_id`, a.CourseID, sessionID, present, s.now())
		if err != nil {
			return err
		}
		marked, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if changed := append(unmarked, marked...); len(changed) > 0 {
			return s.attendanceChanged(ctx, tx, a.ID, changed)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("programme: mark attendance of %d: %w", sessionID, err)
	}
	return nil
}

// Attended is how many sessions of programme activityID userID attended, cancelled
// sessions not counted: what a certificate rule asks.
func (s *Service) Attended(ctx context.Context, activityID, userID int64) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM programme_attendance at
JOIN programme_sessions s ON s.id = at.session_id
WHERE s.activity_id = $1 AND at.user_id = $2 AND s.cancelled_at IS NULL`, activityID, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("programme: attended in %d by %d: %w", activityID, userID, err)
	}
	return n, nil
}

// AttendedOf is how many sessions of programme activityID userID attended, and how
// many sessions the programme has, cancelled sessions counted in neither: what a
// certificate's attendance requirement asks. Sessions still to come count, so "75% of
// sessions" means of the whole programme, not of those held so far.
func (s *Service) AttendedOf(ctx context.Context, activityID, userID int64) (attended, sessions int, err error) {
	err = s.db.QueryRow(ctx, `SELECT count(at.user_id), count(*) FROM programme_sessions s
LEFT JOIN programme_attendance at ON at.session_id = s.id AND at.user_id = $2
WHERE s.activity_id = $1 AND s.cancelled_at IS NULL`, activityID, userID).Scan(&attended, &sessions)
	if err != nil {
		return 0, 0, fmt.Errorf("programme: attendance in %d of %d: %w", activityID, userID, err)
	}
	return attended, sessions, nil
}

// AttendedSessions is the ids of the sessions of programme activityID userID attended.
func (s *Service) AttendedSessions(ctx context.Context, activityID, userID int64) (map[int64]bool, error) {
	rows, err := s.db.Query(ctx, `SELECT at.session_id FROM programme_attendance at
JOIN programme_sessions s ON s.id = at.session_id WHERE s.activity_id = $1 AND at.user_id = $2`, activityID, userID)
	if err != nil {
		return nil, fmt.Errorf("programme: sessions attended by %d: %w", userID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("programme: sessions attended by %d: %w", userID, err)
	}
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// AttendanceRow is one learner at one session that has started, for the summary and
// the CSV export.
type AttendanceRow struct {
	SessionID int64
	Title     string
	Start     time.Time
	UserID    int64
	Name      string
	Present   bool
	How       string
}

// Attendance is every learner at every session of the programme that has started and
// was not cancelled, by session then name.
func (s *Service) Attendance(ctx context.Context, a course.Activity) ([]AttendanceRow, error) {
	rows, err := s.db.Query(ctx, `SELECT s.id, s.title, s.starts_at, l.id, l.name, at.user_id IS NOT NULL, coalesce(at.how, '')
FROM programme_sessions s CROSS JOIN (`+learners+`) l
LEFT JOIN programme_attendance at ON at.session_id = s.id AND at.user_id = l.id
WHERE s.activity_id = $2 AND s.cancelled_at IS NULL AND s.starts_at <= $3
ORDER BY s.starts_at, s.id, l.name, l.id`, a.CourseID, a.ID, s.now())
	if err != nil {
		return nil, fmt.Errorf("programme: attendance in %d: %w", a.ID, err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[AttendanceRow])
	if err != nil {
		return nil, fmt.Errorf("programme: attendance in %d: %w", a.ID, err)
	}
	return list, nil
}
