package programme

import (
	"context"
	"errors"
	"fmt"
	"html"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/moodle"
)

// Settings are a programme's choices about Moodle's calendar.
type Settings struct {
	// MoodleEvents puts the sessions in the Moodle course's calendar, where everyone
	// in the course sees them.
	MoodleEvents bool
	// MoodleEventsForGrades puts sessions meant for some grades there too.
	MoodleEventsForGrades bool
	// ReminderBefore is how long before each session its learners are reminded
	// through Moodle; 0 for no reminders.
	ReminderBefore time.Duration
}

// Settings returns a programme's settings (the defaults until saved).
func (s *Service) Settings(ctx context.Context, activityID int64) (Settings, error) {
	var st Settings
	var minutes int
	err := s.db.QueryRow(ctx, `SELECT moodle_events, moodle_events_for_grades, reminder_minutes FROM programme_settings WHERE activity_id = $1`,
		activityID).Scan(&st.MoodleEvents, &st.MoodleEventsForGrades, &minutes)
	st.ReminderBefore = time.Duration(minutes) * time.Minute
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return st, fmt.Errorf("programme: settings of %d: %w", activityID, err)
	}
	return st, nil
}

// SaveSettings saves a programme's settings and brings Moodle's calendar into line
// with them (events added or removed by the queue).
func (s *Service) SaveSettings(ctx context.Context, a course.Activity, st Settings) error {
	if a.Kind != KindProgramme {
		return ErrNotFound
	}
	if st.ReminderBefore < 0 || st.ReminderBefore > MaxReminderBefore || st.ReminderBefore%time.Minute != 0 {
		return invalid("reminder", "Choose when reminders go out: up to a week before.")
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO programme_settings (activity_id, moodle_events, moodle_events_for_grades, reminder_minutes)
VALUES ($1, $2, $3, $4) ON CONFLICT (activity_id) DO UPDATE SET moodle_events = $2, moodle_events_for_grades = $3, reminder_minutes = $4`,
			a.ID, st.MoodleEvents, st.MoodleEventsForGrades, int(st.ReminderBefore/time.Minute)); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id FROM programme_sessions WHERE activity_id = $1`, a.ID)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		return s.syncLater(ctx, tx, ids...)
	})
	if err != nil {
		return fmt.Errorf("programme: save settings of %d: %w", a.ID, err)
	}
	return nil
}

// Queue inserts jobs in the caller's transaction (River's client).
type Queue interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// SyncEventArgs asks for one session's Moodle calendar event to be brought into line
// with the session: created, replaced or deleted.
type SyncEventArgs struct {
	SessionID int64 `json:"session_id"`
}

// Kind names the job.
func (SyncEventArgs) Kind() string { return "programme_moodle_event" }

// Jobs are not unique: River's uniqueness must include running jobs, and a change
// made while a job runs needs a job after it. Extra jobs cost a read each: a job finds
// the event already in line and does nothing.

// syncLater queues the sessions' calendar events for syncing, in tx, when the
// programme has a queue at all.
func (s *Service) syncLater(ctx context.Context, tx pgx.Tx, sessionIDs ...int64) error {
	if s.queue == nil || len(sessionIDs) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(sessionIDs))
	for i, id := range sessionIDs {
		params[i] = river.InsertManyParams{Args: SyncEventArgs{SessionID: id}}
	}
	_, err := s.queue.InsertManyTx(ctx, tx, params)
	return err
}

// Calendar is what syncing needs of a Moodle site (moodle.Client).
type Calendar interface {
	CreateCalendarEvents(ctx context.Context, events []moodle.NewEvent) ([]moodle.Event, error)
	DeleteCalendarEvents(ctx context.Context, events []moodle.EventDeletion) error
	CourseEvents(ctx context.Context, courseID int64, from, to time.Time) ([]moodle.Event, error)
}

// Calendars finds a platform's Moodle site; moodle.ErrNoConnection when it has none.
type Calendars interface {
	CalendarFor(ctx context.Context, platformID int64) (Calendar, error)
}

// SyncEvent brings one session's event in Moodle's course calendar into line with the
// session: an event while the session is on and the programme puts its sessions there,
// none otherwise. Moodle 4.5 has no update, so a changed session's event is deleted and
// another created. Each step is written down before the next, and a create is noted
// before it is sent, so that after any failure (Moodle down, a 500, a timeout, a lost
// answer, a revoked token) the next attempt finishes the job with exactly one event.
// Two attempts for one session never run at once (an advisory lock).
func (s *Service) SyncEvent(ctx context.Context, cals Calendars, sessionID int64) error {
	conn, err := s.db.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("programme: sync event %d: %w", sessionID, err)
	}
	defer conn.Release()
	// Released with the connection's session; the lock key's first half names Huddle's
	// programme events, the second the session.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, lockSpace, int32(sessionID)); err != nil {
		return fmt.Errorf("programme: lock event %d: %w", sessionID, err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, lockSpace, int32(sessionID))
	}()

	var st struct {
		platformID           int64
		contextID            string
		moodleEvents, grades bool
		eventID, eventSeq    *int64
		creatingName         *string
		creatingStart        *time.Time
		creatingSeq          *int64
	}
	ses, err := scanSession(conn.QueryRow(ctx, `SELECT `+sessionColumns+` FROM programme_sessions WHERE id = $1`, sessionID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // the programme was removed with its sessions
	}
	if err != nil {
		return fmt.Errorf("programme: sync event %d: %w", sessionID, err)
	}
	err = conn.QueryRow(ctx, `SELECT c.platform_id, c.context_id,
    coalesce(ps.moodle_events, false), coalesce(ps.moodle_events_for_grades, false),
    me.event_id, me.event_sequence, me.creating_name, me.creating_start, me.creating_sequence
FROM activities a
JOIN courses c ON c.id = a.course_id
LEFT JOIN programme_settings ps ON ps.activity_id = a.id
LEFT JOIN programme_moodle_events me ON me.session_id = $2
WHERE a.id = $1`, ses.ActivityID, sessionID).Scan(&st.platformID, &st.contextID, &st.moodleEvents, &st.grades,
		&st.eventID, &st.eventSeq, &st.creatingName, &st.creatingStart, &st.creatingSeq)
	if err != nil {
		return fmt.Errorf("programme: sync event %d: %w", sessionID, err)
	}
	want := st.moodleEvents && !ses.Cancelled() && (len(ses.Grades) == 0 || st.grades)
	if !want && st.eventID == nil && st.creatingName == nil {
		return nil
	}
	// LTI's context id is Moodle's course id.
	courseID, err := strconv.ParseInt(st.contextID, 10, 64)
	if err != nil || courseID <= 0 {
		return river.JobCancel(fmt.Errorf("programme: sync event %d: course context %q is not a Moodle course id", sessionID, st.contextID))
	}
	cal, err := cals.CalendarFor(ctx, st.platformID)
	if errors.Is(err, moodle.ErrNoConnection) {
		return nil // no web services connection: nothing Huddle can put in Moodle's calendar
	}
	if err != nil {
		return fmt.Errorf("programme: sync event %d: %w", sessionID, err)
	}
	save := func(sql string, args ...any) error {
		args = append([]any{sessionID, s.now()}, args...)
		if _, err := conn.Exec(ctx, `INSERT INTO programme_moodle_events (session_id, updated_at) VALUES ($1, $2)
ON CONFLICT (session_id) DO NOTHING`, sessionID, s.now()); err != nil {
			return fmt.Errorf("programme: sync event %d: %w", sessionID, err)
		}
		if _, err := conn.Exec(ctx, `UPDATE programme_moodle_events SET updated_at = $2, `+sql+` WHERE session_id = $1`, args...); err != nil {
			return fmt.Errorf("programme: sync event %d: %w", sessionID, err)
		}
		return nil
	}

	// 1. A create whose answer was lost: find what it made and adopt it.
	if st.creatingName != nil {
		day := st.creatingStart.Truncate(time.Second)
		found, err := cal.CourseEvents(ctx, courseID, day, day)
		if err != nil {
			return fmt.Errorf("programme: sync event %d: look for a lost create: %w", sessionID, err)
		}
		var adopted *int64
		for _, e := range found {
			if e.Name == *st.creatingName && e.TimeStart.Time().Equal(day) && !s.eventTaken(ctx, conn, e.ID) {
				id := e.ID
				adopted = &id
				break
			}
		}
		if adopted != nil {
			if err := save(`event_id = $3, event_sequence = $4, creating_name = NULL, creating_start = NULL, creating_sequence = NULL`,
				*adopted, *st.creatingSeq); err != nil {
				return err
			}
			st.eventID, st.eventSeq = adopted, st.creatingSeq
		} else if err := save(`creating_name = NULL, creating_start = NULL, creating_sequence = NULL`); err != nil {
			return err
		}
	}

	// 2. An event that no longer matches the session (or should not be there): delete.
	if st.eventID != nil && (!want || *st.eventSeq != int64(ses.Sequence)) {
		err := cal.DeleteCalendarEvents(ctx, []moodle.EventDeletion{{EventID: *st.eventID}})
		// Deleted already (by a lost answer, or in Moodle by hand): the same outcome.
		if err != nil && !errors.Is(err, moodle.ErrNotFound) {
			return fmt.Errorf("programme: sync event %d: delete %d: %w", sessionID, *st.eventID, err)
		}
		if err := save(`event_id = NULL, event_sequence = NULL`); err != nil {
			return err
		}
		st.eventID = nil
	}

	// 3. No event while there should be one: note the create, send it, store its id.
	if want && st.eventID == nil {
		ev := moodleEvent(ses, courseID)
		start := ev.Start.Truncate(time.Second)
		if err := save(`creating_name = $3, creating_start = $4, creating_sequence = $5`, ev.Name, start, ses.Sequence); err != nil {
			return err
		}
		created, err := cal.CreateCalendarEvents(ctx, []moodle.NewEvent{ev})
		var me *moodle.Error
		if errors.As(err, &me) || errors.Is(err, moodle.ErrInvalidParameter) || errors.Is(err, moodle.ErrInvalidToken) {
			// Moodle answered and refused: nothing was created, so there is nothing to find.
			if cerr := save(`creating_name = NULL, creating_start = NULL, creating_sequence = NULL`); cerr != nil {
				return cerr
			}
		}
		if errors.Is(err, moodle.ErrInvalidParameter) {
			return river.JobCancel(fmt.Errorf("programme: sync event %d: %w", sessionID, err))
		}
		if err != nil {
			return fmt.Errorf("programme: sync event %d: create: %w", sessionID, err)
		}
		if len(created) != 1 {
			return fmt.Errorf("programme: sync event %d: Moodle returned %d events for one", sessionID, len(created))
		}
		if err := save(`event_id = $3, event_sequence = $4, creating_name = NULL, creating_start = NULL, creating_sequence = NULL`,
			created[0].ID, ses.Sequence); err != nil {
			return err
		}
	}
	return nil
}

// lockSpace is the first key of the advisory locks on programme events.
const lockSpace = 1601

func (s *Service) eventTaken(ctx context.Context, q querier, eventID int64) bool {
	var taken bool
	_ = q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM programme_moodle_events WHERE event_id = $1)`, eventID).Scan(&taken)
	return taken
}

// moodleEvent is the course event a session becomes.
func moodleEvent(ses Session, courseID int64) moodle.NewEvent {
	var d strings.Builder
	if ses.Location != "" {
		d.WriteString("<p>" + html.EscapeString(ses.Location) + "</p>")
	}
	if ses.Teacher != "" {
		d.WriteString("<p>With " + html.EscapeString(ses.Teacher) + "</p>")
	}
	if len(ses.Grades) > 0 {
		d.WriteString("<p>For " + html.EscapeString(strings.Join(ses.Grades, ", ")) + "</p>")
	}
	if ses.Outcomes != "" {
		d.WriteString("<p>" + strings.ReplaceAll(html.EscapeString(ses.Outcomes), "\n", "<br>") + "</p>")
	}
	return moodle.NewEvent{Name: ses.Title, Description: d.String(), Type: moodle.EventCourse, CourseID: courseID,
		Start: ses.Start, Duration: ses.End.Sub(ses.Start)}
}

// SyncEventWorker works SyncEventArgs jobs.
type SyncEventWorker struct {
	river.WorkerDefaults[SyncEventArgs]
	Service   *Service
	Calendars Calendars
}

// Work syncs one session's event.
func (w *SyncEventWorker) Work(ctx context.Context, job *river.Job[SyncEventArgs]) error {
	return w.Service.SyncEvent(ctx, w.Calendars, job.Args.SessionID)
}

// Timeout leaves room for three Moodle calls of 30 seconds each.
func (w *SyncEventWorker) Timeout(*river.Job[SyncEventArgs]) time.Duration { return 2 * time.Minute }
