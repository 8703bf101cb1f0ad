package programme

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/huddle-lti/huddle/course"
)

// MaxReminderBefore is the earliest a reminder may go out: a week before.
const MaxReminderBefore = 7 * 24 * time.Hour

// Notifier sends a Moodle message in the caller's transaction (notify), naming and
// linking the activity.
type Notifier interface {
	Notify(ctx context.Context, tx pgx.Tx, userID, activityID int64, subject, text string) error
}

// SetReminders turns a learner's reminders for programme a on or off.
func (s *Service) SetReminders(ctx context.Context, a course.Activity, userID int64, on bool) error {
	sql := `INSERT INTO programme_reminder_optouts (activity_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`
	if on {
		sql = `DELETE FROM programme_reminder_optouts WHERE activity_id = $1 AND user_id = $2`
	}
	if _, err := s.db.Exec(ctx, sql, a.ID, userID); err != nil {
		return fmt.Errorf("programme: reminders of %d in %d: %w", userID, a.ID, err)
	}
	return nil
}

// RemindersOn reports whether userID gets programme activityID's reminders.
func (s *Service) RemindersOn(ctx context.Context, activityID, userID int64) (bool, error) {
	var off bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM programme_reminder_optouts WHERE activity_id = $1 AND user_id = $2)`,
		activityID, userID).Scan(&off)
	if err != nil {
		return false, fmt.Errorf("programme: reminders of %d in %d: %w", userID, activityID, err)
	}
	return !off, nil
}

// reminderBatch is how many sessions one transaction reminds.
const reminderBatch = 20

// SendReminders reminds the learners of every session whose reminder is due (its
// programme's ReminderBefore before it starts, and it has not started), once per
// session: the notices and the session's mark are written in one transaction, and
// sessions another instance is reminding are skipped. Learners who turned reminders
// off, and learners whose calendar link asks for another grade, are left out. It
// returns how many notices it stored.
func (s *Service) SendReminders(ctx context.Context, n Notifier) (int, error) {
	total := 0
	for {
		sent, sessions := 0, 0
		err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			now := s.now()
			rows, err := tx.Query(ctx, `SELECT `+sessionColumns+`
FROM programme_sessions WHERE id IN (
    SELECT s.id FROM programme_sessions s JOIN programme_settings ps ON ps.activity_id = s.activity_id
    WHERE ps.reminder_minutes > 0 AND s.cancelled_at IS NULL AND s.reminder_sent_at IS NULL
      AND s.starts_at > $1 AND s.starts_at <= $1 + make_interval(mins => ps.reminder_minutes)
    ORDER BY s.starts_at LIMIT $2 FOR UPDATE OF s SKIP LOCKED)`, now, reminderBatch)
			if err != nil {
				return err
			}
			due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Session, error) { return scanSession(r) })
			if err != nil {
				return err
			}
			sessions = len(due)
			for _, ses := range due {
				rows, err := tx.Query(ctx, `SELECT u.id FROM activities a
JOIN memberships m ON m.course_id = a.course_id AND 'learner' = ANY (m.roles)
JOIN users u ON u.id = m.user_id
LEFT JOIN programme_feeds f ON f.user_id = u.id
WHERE a.id = $1
  AND NOT EXISTS (SELECT 1 FROM programme_reminder_optouts o WHERE o.activity_id = a.id AND o.user_id = u.id)
  AND (cardinality($2::text[]) = 0 OR coalesce(f.grade, '') = '' OR f.grade = ANY ($2::text[]))
ORDER BY u.id`, ses.ActivityID, ses.Grades)
				if err != nil {
					return err
				}
				learners, err := pgx.CollectRows(rows, pgx.RowTo[int64])
				if err != nil {
					return err
				}
				subject, text := reminderText(ses)
				for _, id := range learners {
					if err := n.Notify(ctx, tx, id, ses.ActivityID, subject, text); err != nil {
						return err
					}
					sent++
				}
				if _, err := tx.Exec(ctx, `UPDATE programme_sessions SET reminder_sent_at = $2 WHERE id = $1`, ses.ID, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("programme: send reminders: %w", err)
		}
		total += sent
		if sessions < reminderBatch {
			return total, nil
		}
	}
}

// reminderText is a reminder's subject and text: the session's fields, which passed
// the guard when the educator typed them.
func reminderText(ses Session) (string, string) {
	start := ses.StartLocal()
	subject := "Teaching: " + ses.Title + ", " + start.Format("Mon 2 Jan 15:04")
	text := ses.Title + " starts at " + start.Format("15:04 on Monday 2 January") + " (UK time), until " +
		ses.EndLocal().Format("15:04") + "."
	if ses.Location != "" {
		text += " Where: " + ses.Location + "."
	}
	if ses.OnlineURL != "" {
		text += " Join online: " + ses.OnlineURL
	}
	text += "\nTo stop these reminders, open the programme and turn them off."
	return subject, text
}

// RemindArgs asks for due reminders to be sent.
type RemindArgs struct{}

// Kind names the job.
func (RemindArgs) Kind() string { return "programme_reminders" }

// InsertOpts: one at a time is plenty; each sends every reminder due.
func (RemindArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: 5 * time.Minute}}
}

// RemindPeriodicJob checks for due reminders every five minutes, on whichever
// instance River's leader picks.
func RemindPeriodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(5*time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return RemindArgs{}, nil },
		&river.PeriodicJobOpts{ID: "programme_reminders", RunOnStart: true})
}

// RemindWorker works RemindArgs jobs.
type RemindWorker struct {
	river.WorkerDefaults[RemindArgs]
	Service  *Service
	Notifier Notifier
}

// Work sends the reminders due.
func (w *RemindWorker) Work(ctx context.Context, _ *river.Job[RemindArgs]) error {
	_, err := w.Service.SendReminders(ctx, w.Notifier)
	return err
}
