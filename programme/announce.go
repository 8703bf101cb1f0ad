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
	ID int64
	// ActivityID and ActivityTitle are the programme it was sent from.
	ActivityID    int64
	ActivityTitle string
	Subject       string
	Body          string
	Grade         string
	CreatedAt     time.Time
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
	ids, err := audienceOf(ctx, tx, activityID, grades)
	if err != nil {
		return 0, err
	}
	return len(ids), s.notify(ctx, tx, ids, activityID, subject, text)
}

func audienceOf(ctx context.Context, tx pgx.Tx, activityID int64, grades []string) ([]int64, error) {
	if grades == nil {
		grades = []string{}
	}
	rows, err := tx.Query(ctx, audience, activityID, grades)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

func (s *Service) notify(ctx context.Context, tx pgx.Tx, ids []int64, activityID int64, subject, text string) error {
	for _, id := range ids {
		if err := s.notifier.Notify(ctx, tx, id, activityID, subject, text); err != nil {
			return err
		}
	}
	return nil
}

// Announced is what Announce did: the announcement's id, and how many learners it
// went to.
type Announced struct {
	ID         int64
	Recipients int
}

// Announce stores an announcement and sends it to the programme's learners (only
// those following grade, and those following none, when grade is set), after the
// patient-identifier guard. Those learners, and only they, also see it at the top of
// every Huddle page of the course until they mark it read (UnreadInCourse).
func (s *Service) Announce(ctx context.Context, a course.Activity, subject, body, grade string) (Announced, error) {
	var none Announced
	if a.Kind != KindProgramme {
		return none, ErrNotFound
	}
	subject = oneLine(subject)
	body = strings.TrimSpace(strings.ReplaceAll(body, "\r\n", "\n"))
	switch {
	case subject == "":
		return none, invalid("subject", "Give the announcement a subject.")
	case utf8.RuneCountInString(subject) > maxAnnouncementSubject:
		return none, invalid("subject", fmt.Sprintf("Keep the subject to %d characters.", maxAnnouncementSubject))
	case body == "":
		return none, invalid("body", "Write the announcement.")
	case utf8.RuneCountInString(body) > maxAnnouncementBody:
		return none, invalid("body", fmt.Sprintf("Keep the announcement to %d characters: it goes out as a Moodle message.", maxAnnouncementBody))
	}
	var grades []string
	if grade != "" {
		g, err := cleanGrades([]string{grade})
		if err != nil || len(g) != 1 {
			return none, invalid("grade", "Choose a grade from the list, or everyone.")
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
		return none, &GuardError{Findings: found}
	}
	if s.notifier == nil {
		return none, fmt.Errorf("programme: announce in %d: no notifier", a.ID)
	}
	var done Announced
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO programme_announcements (activity_id, subject, body, grade, created_at)
VALUES ($1, $2, $3, $4, $5) RETURNING id`, a.ID, subject, body, grade, s.now()).Scan(&done.ID); err != nil {
			return err
		}
		ids, err := audienceOf(ctx, tx, a.ID, grades)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, insertRecipients, done.ID, ids, a.CourseID); err != nil {
			return err
		}
		done.Recipients = len(ids)
		return s.notify(ctx, tx, ids, a.ID, subject, body)
	})
	if err != nil {
		return none, fmt.Errorf("programme: announce in %d: %w", a.ID, err)
	}
	return done, nil
}

// insertRecipients fixes an announcement's audience ($2) in its course ($3).
const insertRecipients = `INSERT INTO programme_announcement_recipients (announcement_id, user_id, course_id)
SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u`

// MaxUnreadShown is how many unread announcements a page shows at once, newest
// first; marking one read brings the next.
const MaxUnreadShown = 5

// unreadInCourse is one range of the partial index programme_announcement_recipients_unread.
const unreadInCourse = `SELECT an.id, an.activity_id, a.title, an.subject, an.body, an.grade, an.created_at
FROM programme_announcement_recipients r
JOIN programme_announcements an ON an.id = r.announcement_id
JOIN activities a ON a.id = an.activity_id
WHERE r.user_id = $1 AND r.course_id = $2 AND r.read_at IS NULL
ORDER BY r.announcement_id DESC
LIMIT $3`

// HotStatements are the SQL every page of a course runs, for each web connection to
// prepare and plan as it opens (app.PoolConfig.Warm).
func HotStatements() []string { return []string{unreadInCourse} }

// UnreadInCourse is the announcements sent to userID in courseID, from any programme
// of the course, that they have not marked read, newest first. Every page of the
// course runs it, so it is one query on a partial index.
func (s *Service) UnreadInCourse(ctx context.Context, courseID, userID int64) ([]Announcement, error) {
	rows, err := s.db.Query(ctx, unreadInCourse, userID, courseID, MaxUnreadShown)
	if err != nil {
		return nil, fmt.Errorf("programme: unread announcements of %d in %d: %w", userID, courseID, err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Announcement])
	if err != nil {
		return nil, fmt.Errorf("programme: unread announcements of %d in %d: %w", userID, courseID, err)
	}
	return list, nil
}

// MarkRead marks an announcement sent to userID in courseID read. An id that was not
// sent to them there changes nothing.
func (s *Service) MarkRead(ctx context.Context, courseID, announcementID, userID int64) error {
	_, err := s.db.Exec(ctx, `UPDATE programme_announcement_recipients SET read_at = $4
WHERE announcement_id = $1 AND user_id = $2 AND course_id = $3 AND read_at IS NULL`,
		announcementID, userID, courseID, s.now())
	if err != nil {
		return fmt.Errorf("programme: mark announcement %d read: %w", announcementID, err)
	}
	return nil
}
