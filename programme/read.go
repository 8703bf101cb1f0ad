package programme

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

const sessionColumns = `id, activity_id, uid, coalesce(series_id, 0), title, starts_at, ends_at, location, online_url,
    teacher, outcomes, grades, coalesce(feedback_activity_id, 0), coalesce(reflection_activity_id, 0), cancelled_at,
    sequence, updated_at, coalesce(checkin_code, ''), checkin_grace_minutes`

func scanSession(row pgx.Row) (Session, error) {
	var s Session
	var grace int
	err := row.Scan(&s.ID, &s.ActivityID, &s.UID, &s.SeriesID, &s.Title, &s.Start, &s.End, &s.Location, &s.OnlineURL,
		&s.Teacher, &s.Outcomes, &s.Grades, &s.FeedbackActivityID, &s.ReflectionActivityID, &s.CancelledAt,
		&s.Sequence, &s.UpdatedAt, &s.CheckInCode, &grace)
	s.CheckInGrace = time.Duration(grace) * time.Minute
	return s, err
}

// Sessions lists a programme's sessions, cancelled ones too, by start.
func (s *Service) Sessions(ctx context.Context, activityID int64) ([]Session, error) {
	rows, err := s.db.Query(ctx, `SELECT `+sessionColumns+` FROM programme_sessions
WHERE activity_id = $1 ORDER BY starts_at, id`, activityID)
	if err != nil {
		return nil, fmt.Errorf("programme: sessions of %d: %w", activityID, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Session, error) { return scanSession(r) })
	if err != nil {
		return nil, fmt.Errorf("programme: sessions of %d: %w", activityID, err)
	}
	return list, nil
}

// Session returns one session of a programme.
func (s *Service) Session(ctx context.Context, activityID, sessionID int64) (Session, error) {
	ses, err := scanSession(s.db.QueryRow(ctx, `SELECT `+sessionColumns+` FROM programme_sessions
WHERE id = $1 AND activity_id = $2`, sessionID, activityID))
	if errors.Is(err, pgx.ErrNoRows) {
		return ses, ErrNotFound
	}
	if err != nil {
		return ses, fmt.Errorf("programme: session %d: %w", sessionID, err)
	}
	return ses, nil
}

// Week is the sessions of one Monday-to-Sunday week, London time.
type Week struct {
	Monday   time.Time
	Sessions []Session
}

// Overview is what a programme's page shows: the next session not yet over, the
// weeks from this one on, and the weeks before.
type Overview struct {
	Next  *Session
	Weeks []Week
	Past  []Week
}

// Overview groups sessions by week around now, keeping only those for grade ("" for all).
func (s *Service) Overview(ctx context.Context, activityID int64, grade string) (Overview, error) {
	list, err := s.Sessions(ctx, activityID)
	if err != nil {
		return Overview{}, err
	}
	return overview(list, s.now(), grade), nil
}

func overview(list []Session, now time.Time, grade string) Overview {
	var o Overview
	thisWeek := WeekOf(now)
	for i := range list {
		ses := list[i]
		if !ses.For(grade) {
			continue
		}
		if o.Next == nil && !ses.Cancelled() && ses.End.After(now) {
			o.Next = &list[i]
		}
		monday := WeekOf(ses.Start)
		weeks := &o.Weeks
		if monday.Before(thisWeek) {
			weeks = &o.Past
		}
		if n := len(*weeks); n > 0 && (*weeks)[n-1].Monday.Equal(monday) {
			(*weeks)[n-1].Sessions = append((*weeks)[n-1].Sessions, ses)
		} else {
			*weeks = append(*weeks, Week{Monday: monday, Sessions: []Session{ses}})
		}
	}
	// The most recent past week first: that is the one people look back for.
	for i, j := 0, len(o.Past)-1; i < j; i, j = i+1, j-1 {
		o.Past[i], o.Past[j] = o.Past[j], o.Past[i]
	}
	return o
}

// Linkable is an activity of the same course a session may link to.
type Linkable struct {
	ID    int64
	Title string
	Kind  string
}

// LinkChoices lists the course's other set-up activities, for the session form.
func (s *Service) LinkChoices(ctx context.Context, courseID, programmeID int64) ([]Linkable, error) {
	rows, err := s.db.Query(ctx, `SELECT id, title, kind FROM activities
WHERE course_id = $1 AND id <> $2 AND kind IS NOT NULL AND kind <> $3 ORDER BY title, id`, courseID, programmeID, KindProgramme)
	if err != nil {
		return nil, fmt.Errorf("programme: link choices in %d: %w", courseID, err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Linkable])
	if err != nil {
		return nil, fmt.Errorf("programme: link choices in %d: %w", courseID, err)
	}
	return list, nil
}
