package programme

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/guard"
)

// Draft is a session as an educator types it: dates and times as London shows them.
// The form and the CSV import both fill one.
type Draft struct {
	Title                string
	Date                 string // YYYY-MM-DD
	StartTime            string // HH:MM
	EndTime              string // HH:MM
	Location             string
	OnlineURL            string
	Teacher              string
	Outcomes             string
	Grades               []string
	FeedbackActivityID   int64
	ReflectionActivityID int64
	// Weeks makes a weekly series: this session and the same weekday and time in
	// each of the following Weeks-1 weeks (0 or 1: one session). Only on create.
	Weeks int
}

// Limits on what educators type, in characters.
const (
	maxTitle    = 200
	maxLocation = 200
	maxTeacher  = 200
	maxOutcomes = 5000
	maxURL      = 2000
	// MaxWeeks is the longest weekly series: a year.
	MaxWeeks = 52
	// maxLength is the longest session: a study day, not a rota.
	maxLength = 24 * time.Hour
)

// checked is a draft made ready to store.
type checked struct {
	title, location, onlineURL, teacher, outcomes string
	grades                                        []string
	start, end                                    time.Time
	feedback, reflection                          *int64
}

// check validates a draft against the programme's course, and runs the
// patient-identifier guard over every text field. Nothing is stored when it fails.
func (s *Service) check(ctx context.Context, a course.Activity, d Draft) (checked, error) {
	var c checked
	c.title = oneLine(d.Title)
	switch {
	case c.title == "":
		return c, invalid("title", "Give the session a title.")
	case utf8.RuneCountInString(c.title) > maxTitle:
		return c, invalid("title", fmt.Sprintf("Keep the title to %d characters.", maxTitle))
	}
	start, err := LocalTime(d.Date, d.StartTime)
	if err != nil {
		return c, renamed(err, "start")
	}
	end, err := LocalTime(d.Date, d.EndTime)
	if err != nil {
		return c, renamed(err, "end")
	}
	switch {
	case !end.After(start):
		return c, invalid("end", "The session must end after it starts.")
	case end.Sub(start) > maxLength:
		return c, invalid("end", "A session lasts at most a day.")
	}
	c.start, c.end = start, end

	c.location, c.teacher = oneLine(d.Location), oneLine(d.Teacher)
	c.outcomes = strings.TrimSpace(strings.ReplaceAll(d.Outcomes, "\r\n", "\n"))
	switch {
	case utf8.RuneCountInString(c.location) > maxLocation:
		return c, invalid("location", fmt.Sprintf("Keep the location to %d characters.", maxLocation))
	case utf8.RuneCountInString(c.teacher) > maxTeacher:
		return c, invalid("teacher", fmt.Sprintf("Keep the teacher's name to %d characters.", maxTeacher))
	case utf8.RuneCountInString(c.outcomes) > maxOutcomes:
		return c, invalid("outcomes", fmt.Sprintf("Keep the learning outcomes to %d characters.", maxOutcomes))
	}
	if c.onlineURL, err = onlineURL(d.OnlineURL); err != nil {
		return c, err
	}
	if c.grades, err = cleanGrades(d.Grades); err != nil {
		return c, err
	}
	if c.feedback, err = s.linked(ctx, a, d.FeedbackActivityID, "feedback_activity", ""); err != nil {
		return c, err
	}
	if c.reflection, err = s.linked(ctx, a, d.ReflectionActivityID, "reflection_activity", kindReflectionLog); err != nil {
		return c, err
	}
	if err := scan(c); err != nil {
		return c, err
	}
	return c, nil
}

// kindReflectionLog is reflection.KindReflectionLog, named here so that programme
// does not depend on the reflection package for one string.
const kindReflectionLog = "reflection_log"

// renamed moves a LocalTime error onto the form's field for that time.
func renamed(err error, timeField string) error {
	var ie *InvalidError
	if errors.As(err, &ie) && ie.Field == "time" {
		return invalid(timeField, ie.Message)
	}
	return err
}

// scan runs the guard. The teacher field names a member of staff by design, so a
// titled name there ("Dr Okafor", "Mr Patel") is expected and allowed; anything else
// the guard finds in it (an NHS number, a date of birth, an address) still refuses.
func scan(c checked) error {
	found := map[string][]guard.Finding{}
	for _, f := range []struct{ field, text string }{
		{"title", c.title}, {"location", c.location}, {"outcomes", c.outcomes}, {"online_url", c.onlineURL},
	} {
		if fs := guard.Scan(f.text); len(fs) > 0 {
			found[f.field] = fs
		}
	}
	var teacher []guard.Finding
	for _, f := range guard.Scan(c.teacher) {
		if f.Kind != guard.KindTitledName {
			teacher = append(teacher, f)
		}
	}
	if len(teacher) > 0 {
		found["teacher"] = teacher
	}
	if len(found) > 0 {
		return &GuardError{Findings: found}
	}
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// onlineURL accepts an https (or http) address: a Teams or Zoom link, never a
// javascript: or data: URL that a page or calendar would make clickable.
func onlineURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(raw) > maxURL {
		return "", invalid("online_url", "Enter the online link as a full web address starting with https://, or leave it empty.")
	}
	return u.String(), nil
}

// cleanGrades accepts the known grades in any case, in the list's order, once each.
func cleanGrades(in []string) ([]string, error) {
	out := []string{}
	for _, raw := range in {
		for _, g := range strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
			i := slices.IndexFunc(Grades, func(known string) bool { return strings.EqualFold(known, g) })
			if i < 0 {
				return nil, invalid("grades", fmt.Sprintf("%q is not a grade Huddle knows. Use %s, or leave it empty for everyone.",
					g, strings.Join(Grades, ", ")))
			}
			if !slices.Contains(out, Grades[i]) {
				out = append(out, Grades[i])
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Index(Grades, a) - slices.Index(Grades, b) })
	return out, nil
}

// linked checks that a linked activity belongs to the programme's course (and is of
// kind, when given); 0 is no link.
func (s *Service) linked(ctx context.Context, a course.Activity, id int64, field, kind string) (*int64, error) {
	if id == 0 {
		return nil, nil
	}
	var courseID int64
	var got *string
	err := s.db.QueryRow(ctx, `SELECT course_id, kind FROM activities WHERE id = $1`, id).Scan(&courseID, &got)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (courseID != a.CourseID || id == a.ID)) ||
		(err == nil && kind != "" && (got == nil || *got != kind)) {
		return nil, invalid(field, "Choose an activity of this course from the list.")
	}
	if err != nil {
		return nil, fmt.Errorf("programme: linked activity %d: %w", id, err)
	}
	return &id, nil
}

// Create adds a session, or a weekly series of them, to the programme a, and returns
// their ids in date order. A series keeps the same London wall-clock time each week,
// so a 09:00 session stays at 09:00 across the clock changes; a week whose time the
// clocks skip or repeat refuses the whole series, naming the date.
func (s *Service) Create(ctx context.Context, a course.Activity, d Draft) ([]int64, error) {
	if a.Kind != KindProgramme {
		return nil, ErrNotFound
	}
	weeks := d.Weeks
	if weeks == 0 {
		weeks = 1
	}
	if weeks < 1 || weeks > MaxWeeks {
		return nil, invalid("weeks", fmt.Sprintf("A weekly series has from 1 to %d sessions.", MaxWeeks))
	}
	c, err := s.check(ctx, a, d)
	if err != nil {
		return nil, err
	}
	first, _ := time.ParseInLocation(dateLayout, strings.TrimSpace(d.Date), London) // check parsed it
	occurrences := make([][2]time.Time, weeks)
	for i := range weeks {
		day := first.AddDate(0, 0, 7*i)
		start, err := atClock(day, c.start.In(London).Hour(), c.start.In(London).Minute())
		if err != nil {
			return nil, renamed(err, "start")
		}
		end, err := atClock(day, c.end.In(London).Hour(), c.end.In(London).Minute())
		if err != nil {
			return nil, renamed(err, "end")
		}
		occurrences[i] = [2]time.Time{start, end}
	}

	now := s.now()
	var ids []int64
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var series *int64
		for _, o := range occurrences {
			var id int64
			if err := tx.QueryRow(ctx, `
INSERT INTO programme_sessions (activity_id, uid, series_id, title, starts_at, ends_at, location, online_url,
    teacher, outcomes, grades, feedback_activity_id, reflection_activity_id, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
RETURNING id`, a.ID, newUID(), series, c.title, o[0], o[1], c.location, c.onlineURL, c.teacher, c.outcomes,
				c.grades, c.feedback, c.reflection, now).Scan(&id); err != nil {
				return err
			}
			if weeks > 1 && series == nil {
				series = &id
				if _, err := tx.Exec(ctx, `UPDATE programme_sessions SET series_id = id WHERE id = $1`, id); err != nil {
					return err
				}
			}
			ids = append(ids, id)
		}
		return s.syncLater(ctx, tx, ids...)
	})
	if err != nil {
		return nil, fmt.Errorf("programme: create sessions in %d: %w", a.ID, err)
	}
	return ids, nil
}

// Update changes a session: its text, its links, or its date and times (a
// reschedule). SEQUENCE goes up by one, so calendars replace their copy.
func (s *Service) Update(ctx context.Context, a course.Activity, sessionID int64, d Draft) error {
	c, err := s.check(ctx, a, d)
	if err != nil {
		return err
	}
	return s.change(ctx, a.ID, sessionID, "update", `
UPDATE programme_sessions SET title = $3, starts_at = $4, ends_at = $5, location = $6, online_url = $7,
    teacher = $8, outcomes = $9, grades = $10, feedback_activity_id = $11, reflection_activity_id = $12,
    sequence = sequence + 1, updated_at = $13,
    -- A session that moves is reminded of again, at its new time.
    reminder_sent_at = CASE WHEN starts_at = $4 THEN reminder_sent_at END
WHERE id = $1 AND activity_id = $2 AND cancelled_at IS NULL`,
		c.title, c.start, c.end, c.location, c.onlineURL, c.teacher, c.outcomes, c.grades, c.feedback, c.reflection, s.now())
}

// change runs one UPDATE of a session ($1 the session, $2 the programme) and queues
// its Moodle calendar event for syncing in the same transaction.
func (s *Service) change(ctx context.Context, activityID, sessionID int64, what, sql string, args ...any) error {
	changed := false
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var before time.Time
		err := tx.QueryRow(ctx, `SELECT starts_at FROM programme_sessions WHERE id = $1 AND activity_id = $2 FOR UPDATE`,
			sessionID, activityID).Scan(&before)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, sql, append([]any{sessionID, activityID}, args...)...)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		changed = true
		if err := s.noticeOfChange(ctx, tx, sessionID, before); err != nil {
			return err
		}
		if what == "cancel" {
			// A cancelled session no longer counts: anyone's attendance may change.
			if err := s.attendanceChanged(ctx, tx, activityID, nil); err != nil {
				return err
			}
		}
		return s.syncLater(ctx, tx, sessionID)
	})
	if err != nil {
		return fmt.Errorf("programme: %s session %d: %w", what, sessionID, err)
	}
	if !changed {
		return s.whyNot(ctx, activityID, sessionID)
	}
	return nil
}

// changeNotice is how close to a session a change also goes out as a Moodle message:
// calendar apps poll on their own schedule (Google's can take a day), so a change
// within a day might reach a subscribed calendar too late.
const changeNotice = 24 * time.Hour

// noticeOfChange tells a session's audience of a change, in tx, when the session
// started (before the change) or starts (after it) within the next day.
func (s *Service) noticeOfChange(ctx context.Context, tx pgx.Tx, sessionID int64, before time.Time) error {
	if s.notifier == nil {
		return nil
	}
	ses, err := scanSession(tx.QueryRow(ctx, `SELECT `+sessionColumns+` FROM programme_sessions WHERE id = $1`, sessionID))
	if err != nil {
		return err
	}
	now := s.now()
	soon := func(t time.Time) bool { return t.After(now) && t.Sub(now) <= changeNotice }
	if !soon(before) && !soon(ses.Start) {
		return nil
	}
	start := ses.StartLocal()
	subject := "Changed: " + ses.Title + ", " + start.Format("Mon 2 Jan 15:04")
	text := ses.Title + " is now at " + start.Format("15:04 on Monday 2 January") + " (UK time), until " +
		ses.EndLocal().Format("15:04") + "."
	if ses.Location != "" {
		text += " Where: " + ses.Location + "."
	}
	if ses.Cancelled() {
		subject = "Cancelled: " + ses.Title + ", " + start.Format("Mon 2 Jan 15:04")
		text = ses.Title + " at " + start.Format("15:04 on Monday 2 January") + " (UK time) is cancelled."
	}
	_, err = s.notifyAudience(ctx, tx, ses.ActivityID, ses.Grades, subject, text)
	return err
}

// Cancel marks a session cancelled. It stays in the programme and in every feed, as
// cancelled, so a calendar that already holds it removes or strikes it through.
func (s *Service) Cancel(ctx context.Context, a course.Activity, sessionID int64) error {
	return s.change(ctx, a.ID, sessionID, "cancel", `
UPDATE programme_sessions SET cancelled_at = $3, sequence = sequence + 1, updated_at = $3
WHERE id = $1 AND activity_id = $2 AND cancelled_at IS NULL`, s.now())
}

// whyNot tells a missing session from a cancelled one after an update changed nothing.
func (s *Service) whyNot(ctx context.Context, activityID, sessionID int64) error {
	var cancelled bool
	err := s.db.QueryRow(ctx, `SELECT cancelled_at IS NOT NULL FROM programme_sessions WHERE id = $1 AND activity_id = $2`,
		sessionID, activityID).Scan(&cancelled)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("programme: session %d: %w", sessionID, err)
	case cancelled:
		return ErrCancelled
	}
	return ErrNotFound
}
