package reflection

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/huddle-lti/huddle/course"
	"github.com/huddle-lti/huddle/gradesync"
	"github.com/huddle-lti/huddle/guard"
	"github.com/huddle-lti/huddle/lti"
)

// Content is what the author writes: a title, an answer per prompt, and tags, and
// optionally the date and title of the event or session reflected on, which every
// template offers (appraisal portfolios ask for both). EventDate is a calendar date,
// 2006-01-02, or empty.
type Content struct {
	Title      string            `json:"title"`
	Answers    map[string]string `json:"answers"`
	Tags       []string          `json:"tags"`
	EventDate  string            `json:"event_date,omitempty"`
	EventTitle string            `json:"event_title,omitempty"`
}

// Ref is what a reflection refers to in Huddle: a case or a discussion thread.
type Ref struct {
	ThreadID   int64
	ActivityID int64
	Title      string
}

// check tidies content against the prompts and runs the patient-identifier guard over
// every field. complete also requires the required prompts (a submission, not a draft).
// now is the time of the save: the event reflected on has happened by then. The guard
// comes last, after every refusal that costs less.
func check(c *Content, prompts []Prompt, complete bool, now time.Time) error {
	c.Title = oneLine(c.Title, maxTitle+1)
	c.EventTitle = oneLine(c.EventTitle, maxTitle+1)
	if utf8.RuneCountInString(c.EventTitle) > maxTitle {
		return invalid("event_title", fmt.Sprintf("Keep the title of the event to %d characters.", maxTitle))
	}
	date, err := eventDate(c.EventDate, now)
	if err != nil {
		return err
	}
	c.EventDate = date
	c.Tags = cleanTags(c.Tags, maxTags)
	answers := map[string]string{}
	for _, p := range prompts {
		a := multiline(c.Answers[p.Key])
		if utf8.RuneCountInString(a) > maxAnswer {
			return invalid("answer_"+p.Key, fmt.Sprintf("Keep each answer to %d characters.", maxAnswer))
		}
		if complete && p.Required && a == "" {
			return invalid("answer_"+p.Key, "Answer \""+p.Label+"\".")
		}
		if a != "" {
			answers[p.Key] = a
		}
	}
	c.Answers = answers
	switch {
	case utf8.RuneCountInString(c.Title) > maxTitle:
		return invalid("title", fmt.Sprintf("Keep the title to %d characters.", maxTitle))
	case complete && c.Title == "":
		return invalid("title", "Give your reflection a title.")
	case len(c.Tags) > maxTags:
		return invalid("tags", fmt.Sprintf("Use at most %d tags.", maxTags))
	}
	found := map[string][]guard.Finding{}
	scan := func(field, text string) {
		if f := guard.Scan(text); len(f) > 0 {
			found[field] = f
		}
	}
	scan("title", c.Title)
	scan("event_title", c.EventTitle)
	scan("tags", strings.Join(c.Tags, ", "))
	for key, a := range c.Answers {
		scan("answer_"+key, a)
	}
	if len(found) > 0 {
		return &GuardError{Findings: found}
	}
	return nil
}

// eventDate reads the date of the event as a date field sends it (2006-01-02) or as
// people in the UK type it where the browser offers no date picker (14/3/2026), and
// returns it as 2006-01-02, or "" when none was given. The event has happened: a date
// after today in the UK is refused, and so is one too long ago to be meant.
func eventDate(raw string, now time.Time) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	var d time.Time
	var err error
	for _, layout := range []string{time.DateOnly, "2/1/2006", "2-1-2006", "2.1.2006"} {
		if d, err = time.Parse(layout, raw); err == nil {
			break
		}
	}
	if err != nil {
		return "", invalid("event_date", "Enter the date of the event as day, month and year, for example 14/03/2026.")
	}
	today := now.In(portfolioZone)
	if d.After(time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)) {
		return "", invalid("event_date", "The date of the event is in the future. Enter the day it happened.")
	}
	if d.Year() < earliestEventYear {
		return "", invalid("event_date", fmt.Sprintf("Check the year of the event: it must be %d or later.", earliestEventYear))
	}
	return d.Format(time.DateOnly), nil
}

// earliestEventYear bounds the date of an event: an earlier year is a typing slip.
const earliestEventYear = 1950

// logGuard records that the guard stopped a save: the fields and kinds, never text.
func (s *Service) logGuard(err error, activityID int64) {
	var ge *GuardError
	if !errors.As(err, &ge) {
		return
	}
	kinds := map[string][]string{}
	for field, fs := range ge.Findings {
		for _, f := range fs {
			kinds[field] = append(kinds[field], fmt.Sprintf("%s@%d-%d", f.Kind, f.Start, f.End))
		}
	}
	s.log.Info("guard stopped a reflection", "activity", activityID, "findings", kinds)
}

// Author is the person writing, with their standing in the activity's course.
type Author struct {
	UserID int64
	Member course.Member
}

// Form is where a save or submit comes from: the reflection it edits (zero for a new
// one) and the key of the opened form (FormKey), which autosave and submit both send.
// Every save of one form lands on one reflection, whichever reaches Huddle first, and
// once the form has been submitted its late autosaves are refused (ErrFormSubmitted).
type Form struct {
	ID  int64
	Key string
	// Send, on a submit, also shares the new version with SendTo (a supervisor, or
	// Everyone for the course's educators): "Submit and send for sign-off".
	Send   bool
	SendTo int64
}

// ErrFormSubmitted means a draft save came from a form that was already submitted:
// the page's autosave racing its own submit. Nothing is written.
var ErrFormSubmitted = errors.New("reflection: this form was already submitted")

// NewFormKey returns a fresh key for a reflection form (see Form).
func NewFormKey() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// checkFormKey accepts what NewFormKey makes, or nothing (a form from before keys).
func checkFormKey(k string) error {
	if k == "" {
		return nil
	}
	if len(k) < 16 || len(k) > 64 || strings.Trim(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return invalid("form_key", "This form is out of date. Reload the page and try again.")
	}
	return nil
}

func formKey(k string) *string {
	if k == "" {
		return nil
	}
	return &k
}

// SaveDraft keeps the author's work in progress, starting the reflection when id is
// zero, and returns its id. A draft need not be complete, but it must pass the guard:
// a draft with patient identifiers is never stored on the server.
func (s *Service) SaveDraft(ctx context.Context, a course.Activity, au Author, id int64, c Content, ref *Ref) (int64, error) {
	return s.SaveFormDraft(ctx, a, au, Form{ID: id}, c, ref)
}

// SaveFormDraft is SaveDraft from a form with a key: a draft of a form that started a
// reflection goes to that reflection, and one of a form already submitted is refused
// with ErrFormSubmitted, so a late autosave never starts a second reflection or
// writes a draft over the version just submitted.
func (s *Service) SaveFormDraft(ctx context.Context, a course.Activity, au Author, f Form, c Content, ref *Ref) (int64, error) {
	if err := checkFormKey(f.Key); err != nil {
		return 0, err
	}
	st, err := s.Settings(ctx, a)
	if err != nil {
		return 0, err
	}
	id := f.ID
	if id == 0 {
		if id, err = s.startedBy(ctx, au.UserID, a.ID, f.Key); err != nil {
			return 0, err
		}
	}
	prompts := st.Prompts()
	if id != 0 {
		if prompts, err = s.promptsOf(ctx, id, au.UserID, a.ID); err != nil {
			return 0, err
		}
	} else if err := mayStart(au); err != nil {
		return 0, err
	}
	if err := check(&c, prompts, false, s.now()); err != nil {
		s.logGuard(err, a.ID)
		return 0, err
	}
	resolved, err := s.resolveRef(ctx, au.UserID, ref)
	if err != nil {
		return 0, err
	}
	draft, _ := json.Marshal(c)
	now := s.now()
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if id == 0 {
			if id, err = s.start(ctx, tx, a, au, st, prompts, draft, now, f.Key); err != nil {
				return err
			}
		}
		submitted, err := lockForm(ctx, tx, id, au.UserID, a.ID, f.Key)
		if err != nil {
			return err
		}
		if submitted != 0 {
			return ErrFormSubmitted
		}
		if _, err := tx.Exec(ctx, `
UPDATE reflections SET draft = $3, draft_saved_at = $4, updated_at = $4
WHERE id = $1 AND author_id = $2`, id, au.UserID, draft, now); err != nil {
			return fmt.Errorf("reflection: save draft %d: %w", id, err)
		}
		return writeRef(ctx, tx, id, resolved)
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// startedBy finds the author's reflection in the activity that the form with this key
// started, or 0.
func (s *Service) startedBy(ctx context.Context, authorID, activityID int64, key string) (int64, error) {
	if key == "" {
		return 0, nil
	}
	var id int64
	err := s.db.QueryRow(ctx, `SELECT id FROM reflections WHERE author_id = $1 AND form_key = $2 AND activity_id = $3`,
		authorID, key, activityID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reflection: find form's reflection: %w", err)
	}
	return id, nil
}

// lockForm locks the author's reflection for the rest of the transaction, so a draft
// save and a submit of the same form take turns, and returns the version the form
// with this key submitted (0: none, or no key). The versions are read by a statement
// of their own once the lock is held: a statement that waited for the lock reads other
// tables as they were when it started, so it would miss the version the submit it
// waited for has just written.
func lockForm(ctx context.Context, tx pgx.Tx, id, authorID, activityID int64, key string) (int, error) {
	var locked int64
	err := tx.QueryRow(ctx, `SELECT id FROM reflections WHERE id = $1 AND author_id = $2 AND activity_id = $3 FOR UPDATE`,
		id, authorID, activityID).Scan(&locked)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("reflection: lock %d: %w", id, err)
	}
	var version int
	err = tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM reflection_versions WHERE reflection_id = $1 AND form_key = $2`,
		id, formKey(key)).Scan(&version)
	if err != nil {
		return 0, fmt.Errorf("reflection: versions of %d: %w", id, err)
	}
	return version, nil
}

// mayStart refuses to start a reflection for someone who is not a learner, educator or
// mentor of the course. SaveDraft and Submit ask before the guard reads what they wrote.
func mayStart(au Author) error {
	if !au.Member.Has(lti.RoleLearner) && !au.Member.Has(lti.RoleEducator) && !au.Member.Has(lti.RoleMentor) {
		return ErrNotAllowed
	}
	return nil
}

// start makes the row of a new reflection; the caller has asked mayStart. With a form
// key, a reflection the same form started meanwhile (its autosave and its submit
// racing) is the one returned: the unique index on the key makes them take turns.
func (s *Service) start(ctx context.Context, tx pgx.Tx, a course.Activity, au Author, st Settings, prompts []Prompt,
	draft []byte, now time.Time, key string) (int64, error) {
	promptJSON, _ := json.Marshal(prompts)
	var id int64
	err := tx.QueryRow(ctx, `
INSERT INTO reflections (author_id, activity_id, course_id, template, prompts, draft, draft_saved_at, created_at, updated_at, form_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)
ON CONFLICT (author_id, form_key) WHERE form_key IS NOT NULL DO UPDATE SET form_key = EXCLUDED.form_key
RETURNING id`,
		au.UserID, a.ID, a.CourseID, st.Template, promptJSON, draft, draftTime(draft, now), now, formKey(key)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("reflection: start: %w", err)
	}
	return id, nil
}

func draftTime(draft []byte, now time.Time) *time.Time {
	if draft == nil {
		return nil
	}
	return &now
}

// Threads finds discussion threads a person can see, so a reflection can refer to
// one (discussion provides it; app wires it).
type Threads interface {
	// ThreadsFor lists threads in boards of the person's courses, newest first.
	ThreadsFor(ctx context.Context, userID int64, limit int) ([]Ref, error)
	// ThreadFor returns one, or an error when the person cannot see it.
	ThreadFor(ctx context.Context, userID, threadID int64) (Ref, error)
}

// RefChoices are the threads the person may refer to.
func (s *Service) RefChoices(ctx context.Context, userID int64) ([]Ref, error) {
	if s.threads == nil {
		return nil, nil
	}
	return s.threads.ThreadsFor(ctx, userID, 50)
}

// resolveRef checks a reference before anything is written, against what the author
// can see: nil keeps the stored reference, a zero thread clears it.
func (s *Service) resolveRef(ctx context.Context, userID int64, ref *Ref) (*Ref, error) {
	if ref == nil || ref.ThreadID == 0 {
		return ref, nil
	}
	if s.threads == nil {
		return nil, invalid("ref", "References to discussions are not available.")
	}
	found, err := s.threads.ThreadFor(ctx, userID, ref.ThreadID)
	if err != nil {
		return nil, invalid("ref", "Choose a case or discussion you can see.")
	}
	return &found, nil
}

// writeRef stores a resolved reference (nil leaves the stored one alone).
func writeRef(ctx context.Context, tx pgx.Tx, id int64, r *Ref) error {
	if r == nil {
		return nil
	}
	var err error
	if r.ThreadID == 0 {
		_, err = tx.Exec(ctx, `UPDATE reflections SET ref_kind = '', ref_id = NULL, ref_activity_id = NULL, ref_title = '' WHERE id = $1`, id)
	} else {
		_, err = tx.Exec(ctx, `UPDATE reflections SET ref_kind = 'thread', ref_id = $2, ref_activity_id = $3, ref_title = $4 WHERE id = $1`,
			id, r.ThreadID, r.ActivityID, r.Title)
	}
	if err != nil {
		return fmt.Errorf("reflection: set reference of %d: %w", id, err)
	}
	return nil
}

// PromptsOf returns the prompts the author's own reflection in an activity answers,
// and ErrNotFound for anyone else's.
func (s *Service) PromptsOf(ctx context.Context, authorID, activityID, id int64) ([]Prompt, error) {
	return s.promptsOf(ctx, id, authorID, activityID)
}

// promptsOf returns the prompts of the author's own reflection in an activity.
func (s *Service) promptsOf(ctx context.Context, id, authorID, activityID int64) ([]Prompt, error) {
	var raw []byte
	err := s.db.QueryRow(ctx, `SELECT prompts FROM reflections WHERE id = $1 AND author_id = $2 AND activity_id = $3`,
		id, authorID, activityID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reflection: prompts of %d: %w", id, err)
	}
	var p []Prompt
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("reflection: prompts of %d: %w", id, err)
	}
	return p, nil
}

// Submit saves the content as the reflection's next version (starting the reflection
// when id is zero) and clears the draft. Any sign-off stays with the version it was
// given to, so the new version shows as not yet signed off.
func (s *Service) Submit(ctx context.Context, a course.Activity, au Author, id int64, c Content, ref *Ref) (int64, int, error) {
	return s.SubmitForm(ctx, a, au, Form{ID: id}, c, ref)
}

// SubmitForm is Submit from a form with a key, and optionally sends the new version
// to a supervisor (Form.Send) in the same transaction: both happen or neither. A
// form submitted twice (a double tap, a resent request) makes one version.
func (s *Service) SubmitForm(ctx context.Context, a course.Activity, au Author, f Form, c Content, ref *Ref) (int64, int, error) {
	if err := checkFormKey(f.Key); err != nil {
		return f.ID, 0, err
	}
	st, err := s.Settings(ctx, a)
	if err != nil {
		return 0, 0, err
	}
	asked, id := f.ID, f.ID
	if id == 0 {
		if id, err = s.startedBy(ctx, au.UserID, a.ID, f.Key); err != nil {
			return 0, 0, err
		}
	}
	prompts := st.Prompts()
	if id != 0 {
		if prompts, err = s.promptsOf(ctx, id, au.UserID, a.ID); err != nil {
			return 0, 0, err
		}
	} else if err := mayStart(au); err != nil {
		return 0, 0, err
	}
	if err := check(&c, prompts, true, s.now()); err != nil {
		s.logGuard(err, a.ID)
		return 0, 0, err
	}
	resolved, err := s.resolveRef(ctx, au.UserID, ref)
	if err != nil {
		return asked, 0, err
	}
	if f.Send {
		if err := s.mayShareWith(ctx, a.CourseID, au.UserID, f.SendTo); err != nil {
			return asked, 0, err
		}
	}
	now := s.now()
	answers, _ := json.Marshal(c.Answers)
	var version int
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if id == 0 {
			if id, err = s.start(ctx, tx, a, au, st, prompts, nil, now, f.Key); err != nil {
				return err
			}
		}
		done, err := lockForm(ctx, tx, id, au.UserID, a.ID, f.Key)
		if err != nil {
			return err
		}
		if done != 0 {
			// This form was submitted already: that version is the answer.
			version = done
		} else {
			if version, err = s.addVersion(ctx, tx, st, au.UserID, id, c, answers, resolved, f.Key, now); err != nil {
				return err
			}
		}
		if f.Send {
			return s.shareTx(ctx, tx, au.UserID, id, f.SendTo)
		}
		return nil
	})
	if err != nil {
		return asked, 0, err // a reflection started in the failed transaction does not exist
	}
	return id, version, nil
}

// addVersion writes the next version of a reflection the caller has locked.
func (s *Service) addVersion(ctx context.Context, tx pgx.Tx, st Settings, authorID, id int64, c Content, answers []byte,
	ref *Ref, key string, now time.Time) (int, error) {
	if err := writeRef(ctx, tx, id, ref); err != nil {
		return 0, err
	}
	var version int
	err := tx.QueryRow(ctx, `
UPDATE reflections SET current_version = current_version + 1, draft = NULL, draft_saved_at = NULL, updated_at = $3
WHERE id = $1 AND author_id = $2 RETURNING current_version`, id, authorID, now).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("reflection: submit %d: %w", id, err)
	}
	if _, err := tx.Exec(ctx, `
INSERT INTO reflection_versions (reflection_id, version, title, answers, tags, written_at, form_key, event_date, event_title)
VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, '')::date, $9)`,
		id, version, c.Title, answers, c.Tags, now, formKey(key), c.EventDate, c.EventTitle); err != nil {
		return 0, fmt.Errorf("reflection: submit %d: %w", id, err)
	}
	if err := s.follow(ctx, tx, st.ActivityID, authorID); err != nil {
		return 0, err
	}
	if st.CompleteOn == CompleteOnSubmit {
		return version, s.complete(ctx, tx, st, authorID, "Reflection submitted")
	}
	return version, nil
}

// follow tells the follower, if any, of a submission or sign-off in tx.
func (s *Service) follow(ctx context.Context, tx pgx.Tx, logID, authorID int64) error {
	if s.follower == nil {
		return nil
	}
	if err := s.follower(ctx, tx, logID, authorID); err != nil {
		return fmt.Errorf("reflection: follow log %d: %w", logID, err)
	}
	return nil
}

// complete sends the author's full score for the activity through grade sync.
func (s *Service) complete(ctx context.Context, tx pgx.Tx, st Settings, userID int64, comment string) error {
	if s.grader == nil {
		return nil
	}
	err := s.grader.Record(ctx, tx, gradesync.Score{ActivityID: st.ActivityID, UserID: userID,
		Given: st.MaxScore, Maximum: st.MaxScore, ActivityProgress: gradesync.ActivityCompleted,
		GradingProgress: gradesync.GradingFully, Comment: comment, At: s.now()})
	if errors.Is(err, gradesync.ErrNotLearner) {
		return nil
	}
	return err
}

// Everyone is the share that reaches the course's educators.
const Everyone int64 = 0

// Share shows a reflection's submitted versions to the course's educators (with =
// Everyone) or to one supervisor: an educator or mentor of the course (assigned to the
// author or not) whose membership the platform confirmed within
// SupervisionLapsesAfter. The share reaches them only while that stays true.
func (s *Service) Share(ctx context.Context, authorID, id, with int64) error {
	var courseID int64
	var version int
	err := s.db.QueryRow(ctx, `SELECT course_id, current_version FROM reflections WHERE id = $1 AND author_id = $2`,
		id, authorID).Scan(&courseID, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("reflection: share %d: %w", id, err)
	}
	if version == 0 {
		return invalid("share", "Submit your reflection before sharing it: only submitted versions are shared.")
	}
	if err := s.mayShareWith(ctx, courseID, authorID, with); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		return s.shareTx(ctx, tx, authorID, id, with)
	})
}

// mayShareWith refuses a share with anyone but the course's educators (Everyone) or
// someone who may supervise in the course now, other than the author.
func (s *Service) mayShareWith(ctx context.Context, courseID, authorID, with int64) error {
	if with == Everyone {
		return nil
	}
	if with == authorID {
		return invalid("share", "Choose someone other than yourself.")
	}
	ok, err := s.canSupervise(ctx, courseID, with)
	if err != nil {
		return err
	}
	if !ok {
		return invalid("share", "Choose one of your supervisors or one of the course's educators.")
	}
	return nil
}

// shareTx records a share the caller has checked (mayShareWith) and tells a
// supervisor it is new.
func (s *Service) shareTx(ctx context.Context, tx pgx.Tx, authorID, id, with int64) error {
	tag, err := tx.Exec(ctx, `INSERT INTO reflection_shares (reflection_id, shared_with, shared_at) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING`, id, with, s.now())
	if err != nil {
		return fmt.Errorf("reflection: share %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 || with == Everyone {
		return nil
	}
	var activityID int64
	if err := tx.QueryRow(ctx, `SELECT activity_id FROM reflections WHERE id = $1`, id).Scan(&activityID); err != nil {
		return fmt.Errorf("reflection: share %d: %w", id, err)
	}
	// The notice names the learner, never the reflection: its title is theirs to
	// show in Huddle, not in a message that may be read on a ward.
	return s.notifyAbout(ctx, tx, with, authorID, activityID, "A reflection was shared with you in Huddle",
		"%s shared a reflection with you in Huddle. Open \"Shared with me\" from a Huddle activity in Moodle to read it.")
}

// Notifier tells a person something through Moodle's messaging (notify, wired by app);
// the message names the activity it is about and links to it.
type Notifier interface {
	Notify(ctx context.Context, tx pgx.Tx, userID, activityID int64, subject, text string) error
}

// notifyAbout sends to userID a notice about activityID whose text names the person
// about (%s).
func (s *Service) notifyAbout(ctx context.Context, tx pgx.Tx, userID, about, activityID int64, subject, text string) error {
	if s.notifier == nil {
		return nil
	}
	var name string
	if err := tx.QueryRow(ctx, `SELECT name FROM users WHERE id = $1`, about).Scan(&name); err != nil {
		return fmt.Errorf("reflection: notice: %w", err)
	}
	if name == "" {
		name = "Someone"
	}
	if err := s.notifier.Notify(ctx, tx, userID, activityID, subject, fmt.Sprintf(text, name)); err != nil {
		return fmt.Errorf("reflection: notice: %w", err)
	}
	return nil
}

// canSupervise reports whether who may supervise in the course now. Being assigned as
// the learner's supervisor is not enough on its own: an assignment outlives the role
// it was made for.
func (s *Service) canSupervise(ctx context.Context, courseID, who int64) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM memberships m WHERE m.course_id = $1 AND m.user_id = $2 AND `+supervises("m", "$3")+`)`,
		courseID, who, s.confirmedSince()).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("reflection: supervisor check: %w", err)
	}
	return ok, nil
}

// Unshare withdraws a share.
func (s *Service) Unshare(ctx context.Context, authorID, id, with int64) error {
	tag, err := s.db.Exec(ctx, `
DELETE FROM reflection_shares sh USING reflections r
WHERE sh.reflection_id = r.id AND r.id = $1 AND r.author_id = $2 AND sh.shared_with = $3`, id, authorID, with)
	if err != nil {
		return fmt.Errorf("reflection: unshare %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// Comment adds a comment on the current version by the author or by someone it is
// shared with. Comments pass the guard too.
func (s *Service) Comment(ctx context.Context, userID, id int64, body string) error {
	r, err := s.Get(ctx, userID, id)
	if err != nil {
		return err
	}
	if r.Current == nil {
		return ErrNotFound
	}
	body = multiline(body)
	switch {
	case body == "":
		return invalid("comment", "Write a comment first.")
	case utf8.RuneCountInString(body) > maxComment:
		return invalid("comment", fmt.Sprintf("Keep comments to %d characters.", maxComment))
	}
	if f := guard.Scan(body); len(f) > 0 {
		return &GuardError{Findings: map[string][]guard.Finding{"comment": f}}
	}
	// The access rule again, in the statement that writes: a roster read between Get
	// and here may have ended the share.
	tag, err := s.db.Exec(ctx, `
INSERT INTO reflection_comments (reflection_id, version, author_id, body, created_at)
SELECT r.id, $2, $3, $4, $5 FROM reflections r
WHERE r.id = $1 AND (r.author_id = $3 OR `+sharedByName("$3", "$6")+` OR `+sharedWithEducators("$3", "$6")+`)`,
		id, r.Current.Number, userID, body, s.now(), s.confirmedSince())
	if err != nil {
		return fmt.Errorf("reflection: comment on %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// SignOff records a supervisor's (or educator's) sign-off of one exact version. It
// must be the current version: a reader cannot sign what they have not been shown.
func (s *Service) SignOff(ctx context.Context, userID, id int64, version int, comment string) error {
	r, err := s.Get(ctx, userID, id)
	if err != nil {
		return err
	}
	if r.Access == AccessAuthor {
		return ErrOwnReflection
	}
	if r.Current == nil || r.Current.Number != version {
		return invalid("version", "The reflection has a newer version than the one you read. Read it, then sign it off.")
	}
	comment = multiline(comment)
	if utf8.RuneCountInString(comment) > maxComment {
		return invalid("comment", fmt.Sprintf("Keep comments to %d characters.", maxComment))
	}
	if f := guard.Scan(comment); len(f) > 0 {
		return &GuardError{Findings: map[string][]guard.Finding{"comment": f}}
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// The access rule again, in the statement that signs: a roster read between Get
		// and here may have ended the share, and a sign-off by someone who is no longer
		// a supervisor of the course must not be written.
		tag, err := tx.Exec(ctx, `
INSERT INTO reflection_signoffs (reflection_id, version, supervisor_id, supervisor, comment, signed_at, supervisor_role)
SELECT r.id, $2, u.id, u.name, $4, $5, `+roleIn("r.course_id", "u.id")+` FROM reflections r, users u
WHERE r.id = $1 AND u.id = $3 AND r.author_id <> $3
  AND (`+sharedByName("$3", "$6")+` OR `+sharedWithEducators("$3", "$6")+`)
ON CONFLICT (reflection_id, version) DO NOTHING`, id, version, userID, comment, s.now(), s.confirmedSince())
		if err != nil {
			return fmt.Errorf("reflection: sign off %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			var signed bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM reflection_signoffs WHERE reflection_id = $1 AND version = $2)`,
				id, version).Scan(&signed); err != nil {
				return fmt.Errorf("reflection: sign off %d: %w", id, err)
			}
			if signed {
				return invalid("version", "This version is already signed off.")
			}
			return ErrNotFound
		}
		st, err := s.settings(ctx, tx, r.ActivityID)
		if err != nil {
			return err
		}
		if err := s.follow(ctx, tx, r.ActivityID, r.AuthorID); err != nil {
			return err
		}
		if err := s.notifyAbout(ctx, tx, r.AuthorID, userID, r.ActivityID, "Your reflection was signed off",
			"%s signed off one of your reflections in Huddle. Open your reflection log from Moodle to see it."); err != nil {
			return err
		}
		if st.CompleteOn == CompleteOnSignOff {
			return s.complete(ctx, tx, st, r.AuthorID, "Reflection signed off")
		}
		return nil
	})
}
