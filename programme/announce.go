package programme

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/guard"
)

// Announcement is an educator's message to a programme's learners.
type Announcement struct {
	ID        int64
	Subject   string
	Body      string
	Grade     string
	CreatedAt time.Time
}

const (
	maxAnnouncementSubject = 150
	maxAnnouncementBody    = 900 // notify keeps a message to 1,000 characters
)

// audience is the learners of a programme's course, those whose calendar link follows
// another grade left out when grades (a session's, an announcement's) are given.
const audience = `SELECT u.id FROM activities a
JOIN memberships m ON m.course_id = a.course_id AND 'learner' = ANY (m.roles)
JOIN users u ON u.id = m.user_id
LEFT JOIN programme_feeds f ON f.user_id = u.id
WHERE a.id = $1 AND (cardinality($2::text[]) = 0 OR coalesce(f.grade, '') = '' OR f.grade = ANY ($2::text[]))
ORDER BY u.id`

func (s *Service) notifyAudience(ctx context.Context, tx pgx.Tx, activityID int64, grades []string, subject, text string) (int, error) {
	if grades == nil {
		grades = []string{}
	}
	rows, err := tx.Query(ctx, audience, activityID, grades)
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := s.notifier.Notify(ctx, tx, id, activityID, subject, text); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// Announce stores an announcement and sends it to the programme's learners (only
// those following grade, and those following none, when grade is set), after the
// patient-identifier guard. It returns how many learners it was sent to.
func (s *Service) Announce(ctx context.Context, a course.Activity, subject, body, grade string) (int, error) {
	if a.Kind != KindProgramme {
		return 0, ErrNotFound
	}
	subject = oneLine(subject)
	body = strings.TrimSpace(strings.ReplaceAll(body, "\r\n", "\n"))
	switch {
	case subject == "":
		return 0, invalid("subject", "Give the announcement a subject.")
	case utf8.RuneCountInString(subject) > maxAnnouncementSubject:
		return 0, invalid("subject", fmt.Sprintf("Keep the subject to %d characters.", maxAnnouncementSubject))
	case body == "":
		return 0, invalid("body", "Write the announcement.")
	case utf8.RuneCountInString(body) > maxAnnouncementBody:
		return 0, invalid("body", fmt.Sprintf("Keep the announcement to %d characters: it goes out as a Moodle message.", maxAnnouncementBody))
	}
	var grades []string
	if grade != "" {
		g, err := cleanGrades([]string{grade})
		if err != nil || len(g) != 1 {
			return 0, invalid("grade", "Choose a grade from the list, or everyone.")
		}
		grades, grade = g, g[0]
	}
	found := map[string][]guard.Finding{}
	if f := guard.Scan(subject); len(f) > 0 {
		found["subject"] = f
	}
	if f := guard.Scan(body); len(f) > 0 {
		found["body"] = f
	}
	if len(found) > 0 {
		return 0, &GuardError{Findings: found}
	}
	if s.notifier == nil {
		return 0, fmt.Errorf("programme: announce in %d: no notifier", a.ID)
	}
	var sent int
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO programme_announcements (activity_id, subject, body, grade, created_at)
VALUES ($1, $2, $3, $4, $5)`, a.ID, subject, body, grade, s.now()); err != nil {
			return err
		}
		var err error
		sent, err = s.notifyAudience(ctx, tx, a.ID, grades, subject, body)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("programme: announce in %d: %w", a.ID, err)
	}
	return sent, nil
}

// Unread is the announcements of a programme userID has not dismissed, newest first.
func (s *Service) Unread(ctx context.Context, activityID, userID int64) ([]Announcement, error) {
	rows, err := s.db.Query(ctx, `SELECT an.id, an.subject, an.body, an.grade, an.created_at FROM programme_announcements an
WHERE an.activity_id = $1
  AND NOT EXISTS (SELECT 1 FROM programme_announcement_reads r WHERE r.announcement_id = an.id AND r.user_id = $2)
ORDER BY an.created_at DESC, an.id DESC LIMIT 10`, activityID, userID)
	if err != nil {
		return nil, fmt.Errorf("programme: unread announcements of %d: %w", userID, err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Announcement])
	if err != nil {
		return nil, fmt.Errorf("programme: unread announcements of %d: %w", userID, err)
	}
	return list, nil
}

// MarkRead dismisses an announcement of programme activityID for userID.
func (s *Service) MarkRead(ctx context.Context, activityID, announcementID, userID int64) error {
	_, err := s.db.Exec(ctx, `INSERT INTO programme_announcement_reads (announcement_id, user_id)
SELECT id, $3 FROM programme_announcements WHERE id = $2 AND activity_id = $1 ON CONFLICT DO NOTHING`,
		activityID, announcementID, userID)
	if err != nil {
		return fmt.Errorf("programme: mark announcement %d read: %w", announcementID, err)
	}
	return nil
}
